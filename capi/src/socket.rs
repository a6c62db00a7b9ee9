//! Sockets: `zmq_socket`, `zmq_close`, `zmq_bind`, `zmq_connect`,
//! `zmq_unbind`, `zmq_disconnect`.
//!
//! What `void *socket` points to is a [`SocketHandle`]: the blocking API's
//! socket, and the frames of the message being sent or received one
//! `zmq_send`/`zmq_recv` at a time (libzmq moves frames, Monocoque moves
//! whole messages).

use std::collections::VecDeque;
use std::ffi::{c_char, c_int, c_void};
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use monocoque_patterns::{BlockingSocket, ListeningFd, PeerProperties, SocketOption};
use monocoque_zmtp::SocketType;

use crate::boundary::{c_str, guarded, Errno};
use crate::context::{context, ContextShared};
use crate::errno::{errno_of, EMTHREAD};
use crate::monitor::MonitorThread;

/// Marks a live socket; anything else is ENOTSOCK.
const SOCKET_TAG: u32 = 0xbaddecaf;

/// One `void *socket`.
pub(crate) struct SocketHandle {
    tag: u32,
    pub(crate) socket: BlockingSocket,
    pub(crate) context: Arc<ContextShared>,
    /// Frames sent with ZMQ_SNDMORE, waiting for the last one.
    pub(crate) outgoing: Vec<Bytes>,
    /// The rest of the message being received (ZMQ_RCVMORE while non-empty).
    pub(crate) incoming: VecDeque<Bytes>,
    /// The peer that sent the message being received.
    pub(crate) properties: Option<Arc<PeerProperties>>,
    /// PLAIN_USERNAME and PLAIN_PASSWORD as set so far (libzmq takes them
    /// one at a time; the socket takes the pair).
    pub(crate) plain: (Bytes, Bytes),
    /// The thread of `zmq_socket_monitor`, if one runs.
    pub(crate) monitor: Option<MonitorThread>,
    /// CURVE_PUBLICKEY, CURVE_SECRETKEY and CURVE_SERVERKEY as last set
    /// (zeros before), for `zmq_getsockopt`: the socket holds them in the
    /// form its handshake needs, which for a secret key is not readable back.
    pub(crate) curve_keys: [[u8; 32]; 3],
    /// ZMQ_AFFINITY: the I/O threads (bit i: thread i) a tcp or ipc endpoint
    /// may use; 0 is any. Thread 0 is the context's thread, threads 1 to
    /// IO_THREADS - 1 its IO cores: a socket's first tcp or ipc bind or
    /// connect spreads its connections over the IO cores the mask names
    /// (none: they stay on the context's thread); any other endpoint runs on
    /// the context's thread, which a mask naming no existing thread refuses
    /// (EMTHREAD), as libzmq's.
    pub(crate) affinity: u64,
    /// ROUTER_MANDATORY as last set: without it a ROUTER takes any routing
    /// id, so its first frame needs no question to the socket.
    pub(crate) router_mandatory: bool,
    /// ZMQ_USE_FD as set (-1: none), and whether a bind took it over.
    pub(crate) use_fd: (c_int, bool),
    /// Its connections are spread over the context's IO cores
    /// (ZMQ_IO_THREADS over 1).
    pub(crate) spread: bool,
}

impl Drop for SocketHandle {
    fn drop(&mut self) {
        self.tag = 0;
        self.context.socket_closed();
    }
}

/// libzmq's socket type numbers (the stable API's twelve).
///
/// `from_zmq_number` answers for the eleven ZMTP types only (it reads
/// ZMTP 2.0 greetings, where STREAM never appears), so STREAM is named here.
fn socket_type(kind: c_int) -> Option<SocketType> {
    if kind == SocketType::Stream.zmq_number() as c_int {
        return Some(SocketType::Stream);
    }
    u8::try_from(kind)
        .ok()
        .and_then(SocketType::from_zmq_number)
}

/// libzmq's number for a socket type (ZMQ_TYPE).
pub(crate) fn socket_type_number(kind: SocketType) -> c_int {
    kind.zmq_number() as c_int
}

/// The socket behind `s`, or ENOTSOCK.
///
/// # Safety
/// `s` is NULL or a pointer `zmq_socket` returned that `zmq_close` has not
/// freed, used by one thread at a time (libzmq's rule).
pub(crate) unsafe fn socket<'a>(s: *mut c_void) -> Result<&'a mut SocketHandle, Errno> {
    // SAFETY: per the contract, a non-NULL `s` is a live SocketHandle that
    // no other thread uses now; the tag catches a wrong pointer.
    let handle = unsafe { s.cast::<SocketHandle>().as_mut() }.ok_or(libc::ENOTSOCK)?;
    if handle.tag != SOCKET_TAG {
        return Err(libc::ENOTSOCK);
    }
    Ok(handle)
}

/// `zmq_socket`: a socket of `kind` in `ctx`; NULL with errno EINVAL (an
/// unknown type), EMFILE (MAX_SOCKETS), ETERM (the context is terminating).
#[no_mangle]
pub extern "C" fn zmq_socket(ctx: *mut c_void, kind: c_int) -> *mut c_void {
    guarded(std::ptr::null_mut(), || {
        // SAFETY: the caller passes a context from zmq_ctx_new.
        let shared = unsafe { context(ctx) }?.shared.clone();
        let kind = socket_type(kind).ok_or(libc::EINVAL)?;
        let defaults = shared.open_socket()?;
        let opened = shared.context.socket(kind).and_then(|s| {
            if defaults.linger_zero {
                s.set_option(SocketOption::Linger(Some(Duration::ZERO)))?;
            }
            if defaults.ipv6 {
                s.set_option(SocketOption::Ipv6(true))?;
            }
            Ok(s)
        });
        let socket = match opened {
            Ok(s) => s,
            Err(e) => {
                shared.socket_closed();
                return Err(errno_of(&e));
            }
        };
        let handle = Box::new(SocketHandle {
            tag: SOCKET_TAG,
            socket,
            context: shared,
            outgoing: Vec::new(),
            incoming: VecDeque::new(),
            properties: None,
            plain: (Bytes::new(), Bytes::new()),
            monitor: None,
            curve_keys: [[0; 32]; 3],
            affinity: 0,
            router_mandatory: false,
            use_fd: (-1, false),
            spread: false,
        });
        Ok(Box::into_raw(handle).cast())
    })
}

/// `zmq_close`: closes the socket; what it queued still leaves within
/// LINGER (zmq_ctx_term waits for that).
#[no_mangle]
pub extern "C" fn zmq_close(s: *mut c_void) -> c_int {
    guarded(-1, || {
        // SAFETY: the caller passes a socket from zmq_socket.
        unsafe { socket(s) }?;
        // SAFETY: checked live above; it came from Box::into_raw in
        // zmq_socket, and the caller gives it up with this call.
        drop(unsafe { Box::from_raw(s.cast::<SocketHandle>()) });
        Ok(0)
    })
}

/// Runs one endpoint call; `needs_io_thread` for a bind or connect, which
/// libzmq gives one of the I/O threads ZMQ_AFFINITY allows (EMTHREAD when
/// it allows none that exists).
fn with_endpoint(
    s: *mut c_void,
    endpoint: *const c_char,
    needs_io_thread: bool,
    call: impl FnOnce(&BlockingSocket, &str) -> monocoque_patterns::Result<()>,
) -> c_int {
    guarded(-1, || {
        // SAFETY: the caller passes a socket from zmq_socket and a C string.
        let (h, ep) = unsafe { (socket(s)?, c_str(endpoint)?) };
        if needs_io_thread
            && !ep.starts_with("inproc://")
            && !affinity_allows_a_thread(h.affinity, h.context.io_threads())
        {
            return Err(EMTHREAD);
        }
        call(&h.socket, ep).map_err(|e| errno_of(&e))?;
        Ok(0)
    })
}

/// Whether ZMQ_AFFINITY `mask` names one of the context's `io_threads`
/// I/O threads (bit i: thread i), or any (0) when there is one.
fn affinity_allows_a_thread(mask: u64, io_threads: usize) -> bool {
    let existing = match io_threads {
        0 => 0,
        n if n >= 64 => u64::MAX,
        n => (1u64 << n) - 1,
    };
    existing != 0 && (mask == 0 || mask & existing != 0)
}

/// Whether ZMQ_AFFINITY `mask` lets IO core `core` (I/O thread `core` + 1)
/// serve the socket's connections.
fn affinity_names_core(mask: u64, core: usize) -> bool {
    mask == 0 || (core < 63 && mask & (1u64 << (core + 1)) != 0)
}

/// `zmq_bind`. With ZMQ_USE_FD set, the first tcp or ipc bind takes over
/// that listening socket (and closes it with the endpoint, as libzmq).
#[no_mangle]
pub extern "C" fn zmq_bind(s: *mut c_void, endpoint: *const c_char) -> c_int {
    // The descriptor lent to this bind, if it is the one that takes it.
    let mut lent: Option<ListeningFd> = None;
    let rc = bind_lending(s, endpoint, &mut lent);
    if let Some(listening) = lent.filter(|_| rc != 0) {
        give_back(s, &listening);
    }
    rc
}

/// A failed bind leaves ZMQ_USE_FD's descriptor to the application, open,
/// as libzmq's does (it is only a number there until a listener takes it),
/// unless the bind got as far as taking it.
fn give_back(s: *mut c_void, listening: &ListeningFd) {
    let Some(fd) = listening.reclaim() else {
        return;
    };
    // Not closed: the application's again.
    let _ = fd.into_raw_fd();
    let _ = guarded(-1, || {
        // SAFETY: the caller passes a socket from zmq_socket.
        let h = unsafe { socket(s)? };
        h.use_fd.1 = false;
        h.socket
            .set_option(SocketOption::UseFd(None))
            .map_err(|e| errno_of(&e))?;
        Ok(0)
    });
}

/// `zmq_bind`'s steps: lend ZMQ_USE_FD's descriptor (recorded in `lent`),
/// spread the socket over IO cores, bind.
fn bind_lending(s: *mut c_void, endpoint: *const c_char, lent: &mut Option<ListeningFd>) -> c_int {
    let adopt = guarded(-1, || {
        // SAFETY: the caller passes a socket from zmq_socket and a C string.
        let (h, ep) = unsafe { (socket(s)?, c_str(endpoint)?) };
        let (fd, taken) = h.use_fd;
        if fd < 0 || taken || !(ep.starts_with("tcp://") || ep.starts_with("ipc://")) {
            return Ok(0);
        }
        // SAFETY: ZMQ_USE_FD's contract: the application hands this
        // listening socket to the library at the bind, which closes it
        // with the endpoint; `taken` makes sure it is taken once.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        let listening = ListeningFd::new(owned);
        *lent = Some(listening.clone());
        h.use_fd.1 = true;
        h.socket
            .set_option(SocketOption::UseFd(Some(listening)))
            .map_err(|e| errno_of(&e))?;
        Ok(0)
    });
    if adopt != 0 {
        return adopt;
    }
    let spread = spread_first(s, endpoint);
    if spread != 0 {
        return spread;
    }
    with_endpoint(s, endpoint, true, |s, ep| s.bind(ep))
}

/// `spread_over_io_cores` at the C boundary: 0, or -1 with errno set.
fn spread_first(s: *mut c_void, endpoint: *const c_char) -> c_int {
    guarded(-1, || {
        // SAFETY: the caller passes a socket from zmq_socket and a C string.
        let (h, ep) = unsafe { (socket(s)?, c_str(endpoint)?) };
        spread_over_io_cores(h, ep)?;
        Ok(0)
    })
}

/// With ZMQ_IO_THREADS over 1, a socket's first tcp or ipc bind or connect
/// spreads its connections over the context's IO cores that ZMQ_AFFINITY
/// names: those it accepts and those it makes (a publisher's ring to each core sized by SNDHWM as set then;
/// other types' pipes, STREAM's raw ones included, cross within windows of
/// their HWMs); a mask naming none of them leaves them on the context's
/// thread.
fn spread_over_io_cores(h: &mut SocketHandle, ep: &str) -> Result<(), Errno> {
    let network = ep.starts_with("tcp://") || ep.starts_with("ipc://");
    if h.spread || !network {
        return Ok(());
    }
    let mask = h.affinity;
    let cores = h.context.io_threads().saturating_sub(1);
    if !(0..cores).any(|core| affinity_names_core(mask, core)) {
        // None named: no IO core is started for this socket.
        return Ok(());
    }
    let picked = h
        .context
        .io_cores()?
        .and_then(|cores| cores.select(|core| affinity_names_core(mask, core)));
    if let Some(cores) = picked {
        h.socket
            .spread_connections(&cores)
            .map_err(|e| errno_of(&e))?;
        h.spread = true;
    }
    Ok(())
}

/// `zmq_connect`: spreads the socket over IO cores (as `zmq_bind`), then
/// connects.
#[no_mangle]
pub extern "C" fn zmq_connect(s: *mut c_void, endpoint: *const c_char) -> c_int {
    let spread = spread_first(s, endpoint);
    if spread != 0 {
        return spread;
    }
    with_endpoint(s, endpoint, true, |s, ep| s.connect(ep))
}

/// `zmq_unbind`.
#[no_mangle]
pub extern "C" fn zmq_unbind(s: *mut c_void, endpoint: *const c_char) -> c_int {
    with_endpoint(s, endpoint, false, |s, ep| s.unbind(ep))
}

/// `zmq_disconnect`.
#[no_mangle]
pub extern "C" fn zmq_disconnect(s: *mut c_void, endpoint: *const c_char) -> c_int {
    with_endpoint(s, endpoint, false, |s, ep| s.disconnect(ep))
}

/// `zmq_socket_monitor`: the socket's events in `events` (a mask of
/// ZMQ_EVENT_*) go to a PAIR bound at `endpoint` (see `monitor.rs`). A NULL
/// endpoint stops monitoring; a new call replaces the monitor before it;
/// either sends MONITOR_STOPPED to the one stopped.
#[no_mangle]
pub unsafe extern "C" fn zmq_socket_monitor(
    s: *mut c_void,
    endpoint: *const c_char,
    events: c_int,
) -> c_int {
    guarded(-1, || {
        // SAFETY: the caller passes a socket from zmq_socket.
        let h = unsafe { socket(s) }?;
        if let Some(previous) = h.monitor.take() {
            previous.stop();
        }
        if endpoint.is_null() {
            return Ok(0);
        }
        // SAFETY: the caller passes a C string.
        let endpoint = unsafe { c_str(endpoint) }?;
        h.monitor = Some(MonitorThread::start(
            &h.context.context,
            &h.socket,
            endpoint,
            events,
        )?);
        Ok(0)
    })
}
