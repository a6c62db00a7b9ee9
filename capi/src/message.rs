//! `zmq_msg_t` and the `zmq_msg_*` family.
//!
//! A `zmq_msg_t` is 64 bytes the caller owns (on its stack, usually), as
//! libzmq's ABI fixes. [`ZmqMsg`] is what those bytes hold here: one frame,
//! its MORE flag, and for a received frame the sending peer's properties
//! (for `zmq_msg_gets`). A frame is either still being written by the caller
//! (`zmq_msg_init_size`: a boxed slice) or shared (`Bytes`: received,
//! copied, or handed over with `zmq_msg_init_data`). As in libzmq, writing
//! into a frame that `zmq_msg_copy` shared changes every copy; a copy of a
//! message of up to 33 bytes of its own is made by value, as libzmq's.
//!
//! ```text
//!   (garbage) ──init/init_size/init_data──▶ open ──close──▶ (garbage)
//!                                            │ send: emptied, still open
//!                                            │ recv/move/copy: replaced
//! ```

use std::ffi::{c_char, c_int, c_void, CString};
use std::sync::Arc;

use bytes::Bytes;
use monocoque_patterns::PeerProperties;
use monocoque_zmtp::frame_buffer_pool;

use crate::boundary::{c_str, guarded, Errno};
use crate::spare_buffer;

/// Marks an open message; anything else is refused with EFAULT.
const MSG_TAG: u32 = 0x6d73_675f;

/// ZMQ_MORE for `zmq_msg_get`.
const MORE: c_int = 1;
/// ZMQ_SRCFD (deprecated) for `zmq_msg_get`.
const SRCFD: c_int = 2;
/// ZMQ_SHARED for `zmq_msg_get`.
const SHARED: c_int = 3;

/// The longest message libzmq copies by value (its "very small
/// messages", held inside the `zmq_msg_t` on 64-bit platforms).
const MAX_BY_VALUE: usize = 33;

/// The frame's bytes.
enum Body {
    /// Made with `zmq_msg_init_size`: the caller writes into it. A boxed
    /// slice becomes a `Bytes` without a copy or an allocation (a
    /// `BytesMut`'s `freeze` did more work, and stalled on store
    /// forwarding), and it is two words, which move in two registers: a
    /// `Vec`'s three were read back with a load wider than the stores
    /// that wrote them, another stall (docs/BENCHMARKS.md, attempt 8).
    Owned(Box<[u8]>),
    /// Received, shared with copies, or the caller's own buffer.
    Shared(Bytes),
}

impl Body {
    /// No bytes: a new, sent or closed message's. An empty boxed slice, not
    /// an empty `Bytes`, whose every drop is a call through its vtable: a
    /// sender's `zmq_msg_close` after each `zmq_msg_send` dropped two
    /// (docs/BENCHMARKS.md, attempt 17).
    fn empty() -> Body {
        Body::Owned(Box::default())
    }
}

/// What the 64 bytes of a `zmq_msg_t` hold. `repr(C)` keeps the tag first,
/// where `open_msg` reads it before it knows a `ZmqMsg` is there.
#[repr(C)]
pub(crate) struct ZmqMsg {
    tag: u32,
    more: bool,
    /// ZMQ_SHARED, as libzmq keeps it: set by a copy (on both messages,
    /// and kept after the other is closed) and on a constant message
    /// (`zmq_msg_init_data` with no free function); a received, new or
    /// by-value copied message is not shared.
    shared: bool,
    /// Made by `zmq_msg_init_data` (or copied from one): always copied by
    /// reference, whatever its size, as libzmq's.
    by_reference: bool,
    body: Body,
    properties: Option<Arc<PeerProperties>>,
    /// Values `zmq_msg_gets` returned: they live as long as the message.
    /// Boxed: a `Vec` inline would not fit the 64 bytes of a `zmq_msg_t`.
    #[allow(clippy::box_collection)]
    strings: Option<Box<Vec<CString>>>,
}

/// A message's ZMQ_SHARED and whether a copy of it is by reference, kept
/// across a failed send ([`ZmqMsg::sharing`]).
#[derive(Clone, Copy)]
pub(crate) struct Sharing {
    shared: bool,
    by_reference: bool,
}

impl Sharing {
    /// A new message's: not shared, copied by value when small.
    const NEW: Sharing = Sharing {
        shared: false,
        by_reference: false,
    };
}

/// The C type: 64 bytes aligned as a pointer.
#[repr(C, align(8))]
pub struct ZmqMsgT {
    _bytes: [u8; 64],
}

const _: () = assert!(std::mem::size_of::<ZmqMsg>() <= std::mem::size_of::<ZmqMsgT>());
const _: () = assert!(std::mem::align_of::<ZmqMsg>() <= std::mem::align_of::<ZmqMsgT>());

impl ZmqMsg {
    fn with(body: Body) -> ZmqMsg {
        ZmqMsg {
            tag: MSG_TAG,
            more: false,
            shared: false,
            by_reference: false,
            body,
            properties: None,
            strings: None,
        }
    }

    /// Whether the message owns nothing to release: an empty buffer of its
    /// own (`Body::empty`), no properties, no strings.
    #[inline]
    fn holds_nothing(&self) -> bool {
        matches!(&self.body, Body::Owned(b) if b.is_empty())
            && self.properties.is_none()
            && self.strings.is_none()
    }

    pub(crate) fn len(&self) -> usize {
        match &self.body {
            Body::Owned(b) => b.len(),
            Body::Shared(b) => b.len(),
        }
    }

    /// The frame's bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        match &self.body {
            Body::Owned(b) => b,
            Body::Shared(b) => b,
        }
    }

    /// The frame, to send or share (an owned one is frozen: no copy).
    fn share(&mut self) -> Bytes {
        if let Body::Owned(b) = &mut self.body {
            self.body = Body::Shared(Bytes::from(std::mem::take(b)));
        }
        match &self.body {
            Body::Shared(b) => b.clone(),
            Body::Owned(_) => unreachable!("frozen above"),
        }
    }

    /// Takes the frame out, leaving the message empty (after a send). No
    /// clone: a clone of a fresh frame allocates its shared counter, which
    /// the stream of `zmq_msg_send`s would pay per message.
    ///
    /// Field by field, not a whole new `ZmqMsg`: moving the 64 bytes
    /// through the stack stalled on store forwarding (8 % of
    /// `remote_thr`'s samples at 64 B, docs/BENCHMARKS.md).
    pub(crate) fn take(&mut self) -> Bytes {
        self.more = false;
        // Emptied as libzmq empties a sent message: a new one, not shared.
        self.set_sharing(Sharing::NEW);
        self.properties = None;
        self.strings = None;
        match &mut self.body {
            // Leaves an empty boxed slice: `Body::empty`.
            Body::Owned(b) => Bytes::from(std::mem::take(b)),
            Body::Shared(b) => {
                let frame = std::mem::take(b);
                self.body = Body::empty();
                frame
            }
        }
    }

    /// Empties the message after a send that copied its bytes, as
    /// [`take`](Self::take) leaves it; a buffer of its own becomes the
    /// thread's spare (`spare_buffer.rs`), any other body goes as
    /// `replace_body` lets it, for the next `zmq_msg_init_size` of its size.
    #[inline]
    pub(crate) fn clear_sent(&mut self) {
        // Before the sharing is reset: a caller's own buffer is not pooled.
        if matches!(self.body, Body::Owned(_)) && !self.by_reference {
            let sent = std::mem::replace(&mut self.body, Body::empty());
            if let Body::Owned(buffer) = sent {
                spare_buffer::keep(buffer);
            }
        } else {
            self.replace_body(Body::empty());
        }
        self.more = false;
        self.set_sharing(Sharing::NEW);
        self.properties = None;
        self.strings = None;
    }

    /// What [`take`](Self::take) forgets and a failed send puts back:
    /// ZMQ_SHARED and how a copy is made.
    pub(crate) fn sharing(&self) -> Sharing {
        Sharing {
            shared: self.shared,
            by_reference: self.by_reference,
        }
    }

    /// Sets ZMQ_SHARED and how a copy is made.
    #[inline]
    fn set_sharing(&mut self, sharing: Sharing) {
        self.shared = sharing.shared;
        self.by_reference = sharing.by_reference;
    }

    /// A send refused before it took the body (EAGAIN on a spent credit):
    /// the message as libzmq leaves it, ZMQ_MORE what the send's flags
    /// said and its properties dropped (its send reset them before trying),
    /// the body as it was.
    pub(crate) fn refused(&mut self, more: bool) {
        self.more = more;
        self.properties = None;
        self.strings = None;
    }

    /// Puts back the frame a failed send took, with the message's
    /// [`sharing`](Self::sharing) from before: the message is as it was,
    /// but for ZMQ_MORE, which says whether the send had ZMQ_SNDMORE (libzmq
    /// sets it before it tries).
    pub(crate) fn put_back(&mut self, frame: Bytes, sharing: Sharing, more: bool) {
        self.body = Body::Shared(frame);
        self.more = more;
        self.set_sharing(sharing);
    }

    /// Replaces the body with `body`, the old one handed to the frame
    /// buffer pool when it may serve a later `zmq_msg_init_size` of its
    /// size on any thread (a caller's own buffer, `zmq_msg_init_data`'s, is
    /// released as it was given). Anything else is dropped in place: a
    /// body the pool does not keep is not moved out first (that move cost 3 %
    /// at 1 KiB before 1 KiB buffers were kept).
    /// Inlined with [`set_received`](Self::set_received) into
    /// `zmq_msg_recv`, so that the received frame goes from registers into
    /// the message: passed down built, it was read back from the stack
    /// before its stores had landed, a store-forwarding stall
    /// (docs/BENCHMARKS.md, attempt 10).
    #[inline(always)]
    fn replace_body(&mut self, body: Body) {
        // (Empty: a sent message being closed; nothing to keep.)
        if self.by_reference || !frame_buffer_pool::may_keep(self.len()) {
            self.body = body;
            return;
        }
        give_to_pool(std::mem::replace(&mut self.body, body));
    }

    /// Replaces the content with a received frame.
    #[inline(always)]
    pub(crate) fn set_received(
        &mut self,
        frame: Bytes,
        more: bool,
        properties: Option<&Arc<PeerProperties>>,
    ) {
        // Field by field (see `take`).
        self.replace_body(Body::Shared(frame));
        self.more = more;
        self.set_sharing(Sharing::NEW);
        self.strings = None;
        self.keep_properties(properties);
    }
}

impl ZmqMsg {
    /// The sender's properties of a received frame: the same peer's are
    /// kept rather than replaced (two reference-count updates fewer a
    /// message).
    #[inline]
    fn keep_properties(&mut self, properties: Option<&Arc<PeerProperties>>) {
        let same = match (&self.properties, properties) {
            (Some(old), Some(new)) => Arc::ptr_eq(old, new),
            (None, None) => true,
            _ => false,
        };
        if !same {
            self.properties = properties.cloned();
        }
    }

    /// A received single frame copied in, `zmq_msg_recv`'s fast path: into
    /// the buffer the message holds when it is the frame's size and its
    /// own (a `zmq_msg_recv` loop receiving one size of message allocates
    /// nothing), else into a pooled or new one. Otherwise as
    /// [`set_received`](Self::set_received).
    #[inline]
    pub(crate) fn set_received_copy(
        &mut self,
        frame: &[u8],
        properties: Option<&Arc<PeerProperties>>,
    ) {
        match &mut self.body {
            Body::Owned(b) if b.len() == frame.len() && !self.by_reference => {
                b.copy_from_slice(frame);
            }
            _ => {
                let mut buffer = frame_buffer_pool::take(frame.len())
                    .unwrap_or_else(|| vec![0; frame.len()].into_boxed_slice());
                buffer.copy_from_slice(frame);
                self.replace_body(Body::Owned(buffer));
            }
        }
        self.more = false;
        self.set_sharing(Sharing::NEW);
        self.strings = None;
        self.keep_properties(properties);
    }
}

/// Hands a replaced body to the frame buffer pool (`ZmqMsg::replace_body`).
#[inline(never)]
fn give_to_pool(body: Body) {
    match body {
        Body::Owned(b) => frame_buffer_pool::give_box(b),
        Body::Shared(b) => frame_buffer_pool::give(b),
    }
}

/// Writes a fresh message into `msg`.
///
/// # Safety
/// `msg` points to 64 writable bytes (a `zmq_msg_t`).
unsafe fn init(msg: *mut ZmqMsgT, body: Body, sharing: Sharing) -> Result<c_int, Errno> {
    if msg.is_null() {
        return Err(libc::EFAULT);
    }
    let m = msg.cast::<ZmqMsg>();
    // SAFETY: 64 writable bytes aligned for a pointer, per the contract; the
    // asserts above say a ZmqMsg fits. Whatever was there is not dropped:
    // an uninitialised zmq_msg_t holds nothing of ours. Written field by
    // field, each in place: a whole `ZmqMsg` built on the stack and copied
    // over stalled on store forwarding (9 % of `remote_thr`'s samples at
    // 64 B, docs/BENCHMARKS.md).
    unsafe {
        std::ptr::addr_of_mut!((*m).tag).write(MSG_TAG);
        std::ptr::addr_of_mut!((*m).more).write(false);
        std::ptr::addr_of_mut!((*m).shared).write(sharing.shared);
        std::ptr::addr_of_mut!((*m).by_reference).write(sharing.by_reference);
        std::ptr::addr_of_mut!((*m).body).write(body);
        std::ptr::addr_of_mut!((*m).properties).write(None);
        std::ptr::addr_of_mut!((*m).strings).write(None);
    }
    Ok(0)
}

/// The open message in `msg`, or EFAULT.
///
/// # Safety
/// `msg` is NULL or points to a `zmq_msg_t` the caller owns; it is open
/// (initialised and not closed) or holds bytes that are not our tag.
pub(crate) unsafe fn open_msg<'a>(msg: *mut ZmqMsgT) -> Result<&'a mut ZmqMsg, Errno> {
    if msg.is_null() {
        return Err(libc::EFAULT);
    }
    // SAFETY: the first four bytes are read as a plain integer (any value
    // is valid); only our tag there means a ZmqMsg was written by `init`.
    let tag = unsafe { msg.cast::<u32>().read() };
    if tag != MSG_TAG {
        return Err(libc::EFAULT);
    }
    // SAFETY: the tag says `init` wrote a ZmqMsg here and `close` has not
    // run; the caller owns the memory and passes no other reference.
    Ok(unsafe { &mut *msg.cast::<ZmqMsg>() })
}

/// `zmq_msg_init`: an empty message.
#[no_mangle]
pub unsafe extern "C" fn zmq_msg_init(msg: *mut ZmqMsgT) -> c_int {
    // SAFETY: the caller passes a zmq_msg_t.
    guarded(-1, || unsafe { init(msg, Body::empty(), Sharing::NEW) })
}

/// `zmq_msg_init_size`: a message of `size` bytes for the caller to fill.
#[no_mangle]
pub unsafe extern "C" fn zmq_msg_init_size(msg: *mut ZmqMsgT, size: usize) -> c_int {
    guarded(-1, || {
        if size > isize::MAX as usize {
            return Err(libc::ENOMEM);
        }
        // A pooled or spare buffer holds an earlier frame's bytes, perhaps
        // another socket's: cleared, as a new one is (a caller that sends a buffer
        // it filled in part sends zeroes, never someone else's data).
        let buffer = match spare_buffer::take(size).or_else(|| frame_buffer_pool::take(size)) {
            Some(mut buffer) => {
                buffer.fill(0);
                buffer
            }
            None => zeroed_buffer(size),
        };
        // SAFETY: the caller passes a zmq_msg_t.
        unsafe { init(msg, Body::Owned(buffer), Sharing::NEW) }
    })
}

/// `size` zero bytes for the caller to fill (libzmq gives them
/// uninitialised; zeroed, no Rust code ever reads memory never written).
/// calloc'd at every size: its clearing is cheaper than a separate
/// `memset` at 64 B to 1 KiB (+5 to +7 % at libzmq's `remote_thr`,
/// docs/BENCHMARKS.md, attempt 8), and glibc's per-thread cache it skips
/// has nothing to give here anyway, the buffers being freed on the
/// context's thread once sent.
fn zeroed_buffer(size: usize) -> Box<[u8]> {
    vec![0; size].into_boxed_slice()
}

/// The caller's buffer in a `zmq_msg_init_data` message: its free function
/// runs when the last copy of the frame is gone (on whichever thread that
/// is, as in libzmq).
struct ForeignBuffer {
    data: *mut c_void,
    size: usize,
    free: Option<unsafe extern "C" fn(*mut c_void, *mut c_void)>,
    hint: *mut c_void,
}

// SAFETY: the buffer is the caller's to hand over (zmq_msg_init_data's
// contract: it is not touched again until the free function runs), and the
// free function may be called from any thread, as with libzmq.
unsafe impl Send for ForeignBuffer {}

impl AsRef<[u8]> for ForeignBuffer {
    fn as_ref(&self) -> &[u8] {
        if self.size == 0 {
            return &[];
        }
        // SAFETY: the caller gave `size` readable bytes at `data`, alive
        // until the free function runs (in drop, after the last use).
        unsafe { std::slice::from_raw_parts(self.data.cast::<u8>(), self.size) }
    }
}

impl Drop for ForeignBuffer {
    fn drop(&mut self) {
        if let Some(free) = self.free {
            // SAFETY: the caller's function, called once with the values it
            // gave, as zmq_msg_init_data promises.
            unsafe { free(self.data, self.hint) };
        }
    }
}

/// `zmq_msg_init_data`: a message over the caller's buffer, never copied;
/// `ffn(data, hint)` runs when no copy is left (none if `ffn` is NULL).
#[no_mangle]
pub unsafe extern "C" fn zmq_msg_init_data(
    msg: *mut ZmqMsgT,
    data: *mut c_void,
    size: usize,
    ffn: Option<unsafe extern "C" fn(*mut c_void, *mut c_void)>,
    hint: *mut c_void,
) -> c_int {
    guarded(-1, || {
        if data.is_null() && size != 0 {
            return Err(libc::EINVAL);
        }
        let frame = Bytes::from_owner(ForeignBuffer {
            data,
            size,
            free: ffn,
            hint,
        });
        let sharing = Sharing {
            // No free function: a constant message, which libzmq counts
            // shared.
            shared: ffn.is_none(),
            by_reference: true,
        };
        // SAFETY: the caller passes a zmq_msg_t.
        unsafe { init(msg, Body::Shared(frame), sharing) }
    })
}

/// `zmq_msg_close`: releases the frame (the last copy frees it).
#[no_mangle]
pub unsafe extern "C" fn zmq_msg_close(msg: *mut ZmqMsgT) -> c_int {
    guarded(-1, || {
        // SAFETY: the caller passes a zmq_msg_t.
        let m = unsafe { open_msg(msg) }?;
        if m.holds_nothing() {
            // A sent or new empty message (a sender's loop closes one
            // after every `zmq_msg_send`): nothing to release, no drop.
            m.tag = 0;
            return Ok(0);
        }
        m.replace_body(Body::empty());
        m.tag = 0;
        // SAFETY: `m` was open (tag checked); it is dropped once, and the tag
        // cleared above makes a second close EFAULT instead of a double drop.
        unsafe { std::ptr::drop_in_place(m as *mut ZmqMsg) };
        Ok(0)
    })
}

/// `zmq_msg_data`: the frame's bytes.
#[no_mangle]
pub unsafe extern "C" fn zmq_msg_data(msg: *mut ZmqMsgT) -> *mut c_void {
    guarded(std::ptr::null_mut(), || {
        // SAFETY: the caller passes a zmq_msg_t.
        let m = unsafe { open_msg(msg) }?;
        Ok(match &mut m.body {
            Body::Owned(b) => b.as_mut_ptr().cast(),
            Body::Shared(b) => b.as_ptr().cast_mut().cast(),
        })
    })
}

/// `zmq_msg_size`: the frame's length.
#[no_mangle]
pub unsafe extern "C" fn zmq_msg_size(msg: *const ZmqMsgT) -> usize {
    // SAFETY: the caller passes a zmq_msg_t; only read.
    guarded(0, || Ok(unsafe { open_msg(msg.cast_mut()) }?.len()))
}

/// `zmq_msg_more`: whether more frames of the message follow this one.
#[no_mangle]
pub unsafe extern "C" fn zmq_msg_more(msg: *const ZmqMsgT) -> c_int {
    // SAFETY: the caller passes a zmq_msg_t; only read.
    guarded(0, || Ok(unsafe { open_msg(msg.cast_mut()) }?.more as c_int))
}

/// `zmq_msg_copy`: `dest` (open) becomes a copy of `src` sharing its bytes.
#[no_mangle]
pub unsafe extern "C" fn zmq_msg_copy(dest: *mut ZmqMsgT, src: *mut ZmqMsgT) -> c_int {
    guarded(-1, || {
        if std::ptr::eq(dest, src) {
            // SAFETY: the caller passes a zmq_msg_t.
            unsafe { open_msg(src) }?;
            return Ok(0);
        }
        // SAFETY: the caller passes two distinct zmq_msg_t.
        let s = unsafe { open_msg(src) }?;
        // As libzmq's: a message of up to 33 bytes of its own is copied by
        // value (two independent messages, neither shared); others share
        // the frame, and both are shared from then on.
        let by_value = !s.by_reference && s.len() <= MAX_BY_VALUE;
        let frame = if by_value {
            Bytes::copy_from_slice(s.bytes())
        } else {
            s.shared = true;
            s.share()
        };
        let (more, properties) = (s.more, s.properties.clone());
        let sharing = Sharing {
            shared: s.shared && !by_value,
            by_reference: s.by_reference,
        };
        // SAFETY: as above.
        let d = unsafe { open_msg(dest) }?;
        d.set_received(frame, more, properties.as_ref());
        d.set_sharing(sharing);
        Ok(0)
    })
}

/// `zmq_msg_move`: `dest` (open) takes `src`'s content; `src` becomes empty.
#[no_mangle]
pub unsafe extern "C" fn zmq_msg_move(dest: *mut ZmqMsgT, src: *mut ZmqMsgT) -> c_int {
    guarded(-1, || {
        if std::ptr::eq(dest, src) {
            // SAFETY: the caller passes a zmq_msg_t.
            unsafe { open_msg(src) }?;
            return Ok(0);
        }
        // SAFETY: the caller passes two distinct zmq_msg_t.
        let s = unsafe { open_msg(src) }?;
        let moved = std::mem::replace(s, ZmqMsg::with(Body::empty()));
        // SAFETY: as above.
        let d = unsafe { open_msg(dest) }?;
        *d = moved;
        Ok(0)
    })
}

/// `zmq_msg_get`: ZMQ_MORE, ZMQ_SHARED, ZMQ_SRCFD (the descriptor of the
/// tcp or ipc connection a received message came from; -1 otherwise).
#[no_mangle]
pub unsafe extern "C" fn zmq_msg_get(msg: *const ZmqMsgT, property: c_int) -> c_int {
    guarded(-1, || {
        // SAFETY: the caller passes a zmq_msg_t.
        let m = unsafe { open_msg(msg.cast_mut()) }?;
        match property {
            MORE => Ok(m.more as c_int),
            SHARED => Ok(m.shared as c_int),
            SRCFD => Ok(m
                .properties
                .as_ref()
                .and_then(|p| p.source_fd())
                .unwrap_or(-1)),
            _ => Err(libc::EINVAL),
        }
    })
}

/// `zmq_msg_set`: no property can be set (libzmq: EINVAL for all).
#[no_mangle]
pub unsafe extern "C" fn zmq_msg_set(msg: *mut ZmqMsgT, _property: c_int, _value: c_int) -> c_int {
    guarded(-1, || {
        // SAFETY: the caller passes a zmq_msg_t.
        unsafe { open_msg(msg) }?;
        Err(libc::EINVAL)
    })
}

/// `zmq_msg_gets`: a property of the peer the frame came from
/// ("Socket-Type", "Routing-Id", "User-Id", "Peer-Address", or one it sent
/// in its handshake); EINVAL when it has none by that name.
#[no_mangle]
pub unsafe extern "C" fn zmq_msg_gets(
    msg: *const ZmqMsgT,
    property: *const c_char,
) -> *const c_char {
    guarded(std::ptr::null(), || {
        // SAFETY: the caller passes a zmq_msg_t and a C string.
        let (m, name) = unsafe { (open_msg(msg.cast_mut())?, c_str(property)?) };
        let value = m
            .properties
            .as_ref()
            .and_then(|p| p.get(name))
            .ok_or(libc::EINVAL)?;
        // A value holding a NUL cannot be a C string; it ends at the NUL.
        let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
        let s = CString::new(&value[..end]).map_err(|_| libc::EINVAL)?;
        let strings = m.strings.get_or_insert_with(Default::default);
        strings.push(s);
        Ok(strings.last().expect("pushed").as_ptr())
    })
}
