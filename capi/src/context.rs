//! Contexts: `zmq_ctx_new`, `zmq_ctx_term`, `zmq_ctx_shutdown`,
//! `zmq_ctx_set`, `zmq_ctx_get` (and the older `zmq_init`, `zmq_term`,
//! `zmq_ctx_destroy`).
//!
//! ```text
//!   new ──▶ open ──shutdown──▶ shut down ──term──▶ (waits for every zmq_close,
//!             └──────────────────term───────────▶   then for LINGER) gone
//! ```
//!
//! A context is one [`monocoque_patterns::Context`] (one runtime thread),
//! plus what libzmq's context adds: the count of open sockets (term waits for
//! it to reach zero; MAX_SOCKETS bounds it), the defaults new sockets take
//! (BLOCKY, IPV6), and ZMQ_IO_THREADS: with 2 or more, the context starts
//! IO_THREADS - 1 [`IoCores`] at the first tcp or ipc bind of a socket,
//! which spreads the connections it accepts over them (the socket's rules,
//! a publisher's matching among them, stay on the context's thread);
//! connects, and STREAM's connections, run on the context's thread. With
//! 0, tcp and ipc are refused (EMTHREAD) as libzmq refuses them without an
//! I/O thread.

use std::ffi::{c_int, c_void};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use monocoque_patterns::{Context, IoCores};
use monocoque_runtime::RuntimeBuilder;

use crate::boundary::{guarded, Errno};
use crate::errno::{errno_of, ETERM};
use crate::thread_options::{is_thread_option, ThreadOptions};

/// ZMQ_IO_THREADS: the context's thread and, from 2 on, IO cores that run
/// the connections its sockets accept.
const IO_THREADS: c_int = 1;
/// ZMQ_IO_THREADS_DFLT.
const IO_THREADS_DEFAULT: usize = 1;
/// The most IO_THREADS a context takes: each is an OS thread.
const IO_THREADS_MAX: usize = 64;
/// ZMQ_MAX_SOCKETS.
const MAX_SOCKETS: c_int = 2;
/// ZMQ_SOCKET_LIMIT: the largest MAX_SOCKETS accepted.
const SOCKET_LIMIT: c_int = 3;
/// ZMQ_MAX_MSGSZ: the largest message size.
const MAX_MSGSZ: c_int = 5;
/// ZMQ_MSG_T_SIZE: `sizeof (zmq_msg_t)`.
const MSG_T_SIZE: c_int = 6;
/// ZMQ_BLOCKY: whether sockets linger by default (1) or not (0).
const BLOCKY: c_int = 70;
/// ZMQ_IPV6: the IPV6 option new sockets start with.
const IPV6: c_int = 42;

/// libzmq's default MAX_SOCKETS.
const MAX_SOCKETS_DEFAULT: usize = 1023;
/// The largest MAX_SOCKETS a context takes (libzmq: what the system's
/// descriptor limit allows; a socket here holds no descriptor of its own
/// until it connects or binds).
const SOCKET_LIMIT_VALUE: usize = 65_535;

/// The checks every handle carries, so that a stale or foreign pointer is
/// refused (EFAULT) rather than used, as libzmq's tag check does.
const CONTEXT_TAG: u32 = 0xabad_cafe;

/// What a context's sockets share with it.
pub(crate) struct ContextShared {
    pub(crate) context: Context,
    state: Mutex<ContextState>,
    /// Signalled when a socket closes (term waits on it).
    closed: Condvar,
}

struct ContextState {
    /// The thread options applied to the context's thread.
    threads: ThreadOptions,
    sockets: usize,
    max_sockets: usize,
    blocky: bool,
    ipv6: bool,
    terminating: bool,
    /// ZMQ_IO_THREADS as last set (what zmq_ctx_get reads).
    io_threads: usize,
    /// The IO_THREADS in force: taken at the first socket, as libzmq starts
    /// its I/O threads then; later sets change only what zmq_ctx_get reads.
    io_threads_in_use: Option<usize>,
    /// The IO cores (IO_THREADS - 1), started at the first tcp or ipc bind
    /// that spreads over them.
    io_cores: Option<IoCores>,
}

/// The defaults a new socket takes from its context.
pub(crate) struct SocketDefaults {
    /// BLOCKY off: LINGER 0 instead of -1.
    pub(crate) linger_zero: bool,
    pub(crate) ipv6: bool,
}

impl ContextShared {
    fn state(&self) -> MutexGuard<'_, ContextState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts a socket in (MAX_SOCKETS: EMFILE; after term began: ETERM).
    pub(crate) fn open_socket(&self) -> Result<SocketDefaults, Errno> {
        let mut s = self.state();
        if s.terminating {
            return Err(ETERM);
        }
        if s.sockets >= s.max_sockets {
            return Err(libc::EMFILE);
        }
        s.sockets += 1;
        let io_threads = s.io_threads;
        s.io_threads_in_use.get_or_insert(io_threads);
        Ok(SocketDefaults {
            linger_zero: !s.blocky,
            ipv6: s.ipv6,
        })
    }

    /// ZMQ_IO_THREADS: 0 leaves the context inproc only.
    pub(crate) fn io_threads(&self) -> usize {
        let s = self.state();
        s.io_threads_in_use.unwrap_or(s.io_threads)
    }

    /// The context's IO cores, started on first use; `None` when
    /// IO_THREADS is 0 or 1 (the context's own thread does all the I/O).
    pub(crate) fn io_cores(&self) -> Result<Option<IoCores>, Errno> {
        let mut s = self.state();
        let io_threads = s.io_threads_in_use.unwrap_or(s.io_threads);
        if io_threads <= 1 {
            return Ok(None);
        }
        if s.io_cores.is_none() {
            // Receiving as the context's own thread does (a socket's
            // connections move there from it).
            let builder = RuntimeBuilder::default()
                .recv_buffers(
                    monocoque_patterns::CONTEXT_RECV_BUFFERS,
                    monocoque_patterns::CONTEXT_RECV_BUFFER_SIZE,
                )
                .recv_buffers_lent(monocoque_patterns::CONTEXT_RECV_BUFFERS_LENT);
            let builders = vec![builder; io_threads - 1];
            s.io_cores = Some(IoCores::start(builders).map_err(|e| errno_of(&e))?);
        }
        Ok(s.io_cores.clone())
    }

    /// Counts a socket out (zmq_close, or a socket that failed to open).
    pub(crate) fn socket_closed(&self) {
        let mut s = self.state();
        s.sockets = s.sockets.saturating_sub(1);
        drop(s);
        self.closed.notify_all();
    }
}

/// What `void *context` points to.
pub(crate) struct ContextHandle {
    tag: u32,
    pub(crate) shared: Arc<ContextShared>,
}

/// The context behind `ctx`, or EFAULT.
///
/// # Safety
/// `ctx` is NULL or a pointer `zmq_ctx_new` returned that `zmq_ctx_term`
/// has not freed yet.
pub(crate) unsafe fn context<'a>(ctx: *mut c_void) -> Result<&'a ContextHandle, Errno> {
    // SAFETY: per the contract above, a non-NULL `ctx` is a live
    // ContextHandle (the tag catches the common misuse of a wrong pointer).
    let handle = unsafe { ctx.cast::<ContextHandle>().as_ref() }.ok_or(libc::EFAULT)?;
    if handle.tag != CONTEXT_TAG {
        return Err(libc::EFAULT);
    }
    Ok(handle)
}

/// `zmq_ctx_new`: a context with its runtime thread; NULL (errno set) if
/// the thread cannot start.
#[no_mangle]
pub extern "C" fn zmq_ctx_new() -> *mut c_void {
    guarded(std::ptr::null_mut(), || {
        let context = Context::new().map_err(|e| errno_of(&e))?;
        let shared = Arc::new(ContextShared {
            context,
            state: Mutex::new(ContextState {
                threads: ThreadOptions::default(),
                sockets: 0,
                max_sockets: MAX_SOCKETS_DEFAULT,
                blocky: true,
                ipv6: false,
                terminating: false,
                io_threads: IO_THREADS_DEFAULT,
                io_threads_in_use: None,
                io_cores: None,
            }),
            closed: Condvar::new(),
        });
        let handle = Box::new(ContextHandle {
            tag: CONTEXT_TAG,
            shared,
        });
        Ok(Box::into_raw(handle).cast())
    })
}

/// `zmq_init` (deprecated): `zmq_ctx_new` with ZMQ_IO_THREADS set to
/// `io_threads` (0 or more, at most 64).
#[no_mangle]
pub extern "C" fn zmq_init(io_threads: c_int) -> *mut c_void {
    if !(0..=IO_THREADS_MAX as c_int).contains(&io_threads) {
        crate::errno::set_errno(libc::EINVAL);
        return std::ptr::null_mut();
    }
    let ctx = zmq_ctx_new();
    if !ctx.is_null() {
        // A fresh context takes any count in range.
        zmq_ctx_set(ctx, IO_THREADS, io_threads);
    }
    ctx
}

/// `zmq_ctx_shutdown`: every blocking call on the context's sockets returns
/// ETERM, and so does every later call but `zmq_close`.
#[no_mangle]
pub extern "C" fn zmq_ctx_shutdown(ctx: *mut c_void) -> c_int {
    guarded(-1, || {
        // SAFETY: the caller passes a context from zmq_ctx_new.
        let handle = unsafe { context(ctx) }?;
        handle
            .shared
            .context
            .shutdown()
            .or_else(|e| match errno_of(&e) {
                // Already shut down: nothing more to do.
                ETERM => Ok(()),
                e => Err(e),
            })?;
        Ok(0)
    })
}

/// `zmq_ctx_term`: shuts the context down, waits until every socket is
/// closed, then until what they queued has left (LINGER), and frees it;
/// its threads (the context's, the IO cores) have ended when it returns.
#[no_mangle]
pub extern "C" fn zmq_ctx_term(ctx: *mut c_void) -> c_int {
    guarded(-1, || {
        // SAFETY: the caller passes a context from zmq_ctx_new, and gives it
        // up with this call.
        let handle = unsafe { context(ctx) }?;
        let shared = handle.shared.clone();
        shared.state().terminating = true;
        let _ = shared.context.shutdown();
        let mut state = shared.state();
        while state.sockets > 0 {
            state = shared.closed.wait(state).unwrap_or_else(|p| p.into_inner());
        }
        drop(state);
        // SAFETY: `ctx` came from Box::into_raw in zmq_ctx_new and no
        // socket refers to the handle (they hold the shared part only).
        let mut handle = unsafe { Box::from_raw(ctx.cast::<ContextHandle>()) };
        handle.tag = 0;
        drop(handle);
        let io_cores = shared.state().io_cores.take();
        // The last reference: dropping it joins the context's thread, which
        // ends once every socket has lingered.
        drop(shared);
        // As libzmq's term joins its I/O threads: none outlives the call.
        if let Some(cores) = io_cores {
            cores.join();
        }
        Ok(0)
    })
}

/// `zmq_term` (deprecated): `zmq_ctx_term`.
#[no_mangle]
pub extern "C" fn zmq_term(ctx: *mut c_void) -> c_int {
    zmq_ctx_term(ctx)
}

/// `zmq_ctx_destroy` (deprecated): `zmq_ctx_term`.
#[no_mangle]
pub extern "C" fn zmq_ctx_destroy(ctx: *mut c_void) -> c_int {
    zmq_ctx_term(ctx)
}

/// `zmq_ctx_set`: MAX_SOCKETS, BLOCKY, IPV6, and the thread options
/// (`thread_options.rs`: applied to the context's thread at once), and
/// IO_THREADS (0 to 64): read at the first socket, as libzmq starts its
/// I/O threads then; a later set is taken (zmq_ctx_get reads it back) and
/// changes nothing, as in libzmq.
#[no_mangle]
pub extern "C" fn zmq_ctx_set(ctx: *mut c_void, option: c_int, value: c_int) -> c_int {
    guarded(-1, || {
        // SAFETY: the caller passes a context from zmq_ctx_new.
        let handle = unsafe { context(ctx) }?;
        if is_thread_option(option) {
            let next = handle.shared.state().threads.with(option, value)?;
            handle
                .shared
                .context
                .apply_thread_settings(next.settings())
                .map_err(|e| errno_of(&e))?;
            handle.shared.state().threads = next;
            return Ok(0);
        }
        let mut s = handle.shared.state();
        match option {
            MAX_SOCKETS if value >= 1 && value as usize <= SOCKET_LIMIT_VALUE => {
                s.max_sockets = value as usize
            }
            BLOCKY if value >= 0 => s.blocky = value != 0,
            IPV6 if value >= 0 => s.ipv6 = value != 0,
            IO_THREADS if (0..=IO_THREADS_MAX as c_int).contains(&value) => {
                s.io_threads = value as usize
            }
            _ => return Err(libc::EINVAL),
        }
        Ok(0)
    })
}

/// `zmq_ctx_get`: the values `zmq_ctx_set` takes, and SOCKET_LIMIT,
/// MAX_MSGSZ, MSG_T_SIZE.
#[no_mangle]
pub extern "C" fn zmq_ctx_get(ctx: *mut c_void, option: c_int) -> c_int {
    guarded(-1, || {
        // SAFETY: the caller passes a context from zmq_ctx_new.
        let handle = unsafe { context(ctx) }?;
        let s = handle.shared.state();
        Ok(match option {
            IO_THREADS => s.io_threads as c_int,
            MAX_SOCKETS => s.max_sockets as c_int,
            SOCKET_LIMIT => SOCKET_LIMIT_VALUE as c_int,
            MAX_MSGSZ => c_int::MAX,
            MSG_T_SIZE => std::mem::size_of::<crate::message::ZmqMsgT>() as c_int,
            BLOCKY => s.blocky as c_int,
            IPV6 => s.ipv6 as c_int,
            thread if is_thread_option(thread) => s.threads.get(thread)?,
            _ => return Err(libc::EINVAL),
        })
    })
}
