//! Sending and receiving a frame at a time: `zmq_send`, `zmq_send_const`,
//! `zmq_recv`, `zmq_msg_send`, `zmq_msg_recv` (and the deprecated
//! `zmq_sendmsg`, `zmq_recvmsg`).
//!
//! Frames sent with ZMQ_SNDMORE wait in the handle until the last one, then
//! the whole message goes in one send, so a message is never half queued. A
//! received message is handed out frame by frame, ZMQ_RCVMORE saying whether
//! more follow.
//!
//! ROUTER and STREAM answer for the routing id at the first frame, as
//! libzmq does: EHOSTUNREACH for an unknown peer and EAGAIN for a full one
//! (ROUTER_MANDATORY, and always on STREAM); a routing id sent alone, with
//! no frame after it, is taken and dropped. STREAM's second frame ends the
//! message whatever its flags, as in libzmq.
//!
//! One difference from libzmq shows only under ZMQ_DONTWAIT: libzmq refuses
//! a multipart message at its first frame when the socket cannot take it, and
//! so does this layer (it asks the socket first), but a socket that fills up
//! between the first frame and the last refuses the last one with EAGAIN; the
//! frames before it are kept, so sending the last frame again completes the
//! message.

use std::ffi::{c_int, c_void};

use bytes::Bytes;
use monocoque_patterns::{poll, Error, Events, PollItem};
use monocoque_zmtp::{Msg, SocketType};

use crate::boundary::{guarded, Errno};
use crate::errno::errno_of;
use crate::message::{open_msg, ZmqMsg, ZmqMsgT};
use crate::socket::{socket, SocketHandle};

/// ZMQ_DONTWAIT.
pub(crate) const DONTWAIT: c_int = 1;
/// ZMQ_SNDMORE.
pub(crate) const SNDMORE: c_int = 2;

/// A frame that could not be sent, given back with the errno: a failed
/// `zmq_msg_send` leaves the message as it was.
pub(crate) struct NotSent {
    pub(crate) errno: Errno,
    pub(crate) frame: Bytes,
}

/// Sends one frame; the message leaves with its last frame.
pub(crate) fn send_frame(
    h: &mut SocketHandle,
    frame: Bytes,
    mut flags: c_int,
) -> Result<(), NotSent> {
    let dontwait = flags & DONTWAIT != 0;
    let kind = h.socket.socket_type();
    if routes_by_first_frame(kind) {
        if h.outgoing.is_empty() {
            return routing_id_frame(h, frame, flags);
        }
        if kind == SocketType::Stream {
            // STREAM's second frame is the data and ends the message,
            // whatever its flags say (libzmq ignores ZMQ_SNDMORE on it).
            flags &= !SNDMORE;
        }
    }
    if flags & SNDMORE != 0 {
        if h.outgoing.is_empty() {
            if let Some(errno) = first_frame_refused(h, kind, dontwait) {
                return Err(NotSent { errno, frame });
            }
        }
        h.outgoing.push(frame);
        return Ok(());
    }
    let msg = if h.outgoing.is_empty() {
        Msg::from(frame)
    } else {
        let mut frames = std::mem::take(&mut h.outgoing);
        frames.push(frame);
        Msg::from(frames)
    };
    send_message(h, msg, dontwait)
}

/// A whole message: into the send lane when it may go there, else the
/// socket is asked.
#[inline(always)]
fn send_message(h: &mut SocketHandle, mut msg: Msg, dontwait: bool) -> Result<(), NotSent> {
    // The stream's path: nothing to keep, nothing can fail (a publisher's
    // ZMQ_DONTWAIT too: its sends never wait).
    if !dontwait || h.socket.sends_never_wait() {
        match h.socket.offer_to_lane(msg) {
            Ok(()) => return Ok(()),
            Err(back) => msg = back,
        }
    }
    send_asking(h, msg, dontwait)
}

/// The common send, inlined into `zmq_msg_send`: a whole single-frame
/// message into the send lane, the frame built where it is used. Passed
/// down to [`send_frame`] built, a fresh frame was read back from the
/// stack before its stores had landed (a store-forwarding stall, most of
/// `send_frame`'s samples at 64 B: docs/BENCHMARKS.md, attempt 10). Any
/// other send takes [`send_frame`]'s way, with the same outcome.
#[inline(always)]
pub(crate) fn send_whole_frame(
    h: &mut SocketHandle,
    frame: Bytes,
    flags: c_int,
) -> Result<(), NotSent> {
    let whole = flags & SNDMORE == 0
        && h.outgoing.is_empty()
        && !routes_by_first_frame(h.socket.socket_type());
    if !whole {
        return send_frame(h, frame, flags);
    }
    send_message(h, Msg::from(frame), flags & DONTWAIT != 0)
}

/// Whether a message's first frame is the routing id of the peer it goes
/// to (ROUTER, STREAM): a frame alone is never a whole message there.
#[inline(always)]
fn routes_by_first_frame(kind: SocketType) -> bool {
    matches!(kind, SocketType::Router | SocketType::Stream)
}

/// The common send of a small frame: whole, blocking (or never waiting),
/// into the send lane's encoded ring (`BlockingSocket::offer_single_frame`:
/// copied as it goes on the wire, no message made). `false` with nothing
/// done when it cannot go so.
#[inline(always)]
fn send_encoded(h: &mut SocketHandle, body: &[u8], flags: c_int) -> bool {
    flags & (SNDMORE | DONTWAIT) == 0 && h.outgoing.is_empty() && h.socket.offer_single_frame(body)
}

/// A whole small ZMQ_DONTWAIT frame decided on the handle's credit
/// (`BlockingSocket::try_send_single_frame`): into the encoded ring, or
/// EAGAIN, with no message made; `None` with nothing done otherwise.
#[inline(always)]
fn send_encoded_on_credit(
    h: &mut SocketHandle,
    body: &[u8],
    flags: c_int,
) -> Option<Result<(), Errno>> {
    if flags & (SNDMORE | DONTWAIT) != DONTWAIT
        || !h.outgoing.is_empty()
        || routes_by_first_frame(h.socket.socket_type())
    {
        return None;
    }
    h.socket
        .try_send_single_frame(body)
        .map(|sent| sent.map_err(|e| errno_of(&e)))
}

/// A whole message the send lane did not take: asks the socket.
fn send_asking(h: &mut SocketHandle, msg: Msg, dontwait: bool) -> Result<(), NotSent> {
    // Asking the socket may fail: keep the frames to give back (a round
    // trip to the context's thread costs far more than these clones).
    let mut kept = msg.frames().to_vec();
    let sent = if dontwait {
        h.socket.try_send(msg)
    } else {
        h.socket.send_asking(msg)
    };
    sent.map_err(|e| {
        let errno = errno_of(&e);
        let frame = kept.pop().unwrap_or_default();
        if errno == libc::EAGAIN {
            // Sending the last frame again completes the message.
            h.outgoing = kept;
        }
        NotSent { errno, frame }
    })
}

/// Whether the first frame of a multipart message is refused, and with
/// what errno: libzmq's first frame waits for a pipe with room (up to
/// SNDTIMEO; with ZMQ_DONTWAIT not at all) and fails with EAGAIN, where
/// the frames are kept here until the last. Only for the types whose send
/// waits for room alone (DEALER, PUSH, PAIR): REQ's and REP's turn is
/// answered at the last frame, and an XPUB under XPUB_NODROP waits there.
fn first_frame_refused(h: &SocketHandle, kind: SocketType, dontwait: bool) -> Option<Errno> {
    if dontwait {
        // What the last ZMQ_DONTWAIT send's answer left, while it holds
        // (libzmq's first frame looks at its pipes without asking either).
        match h.socket.known_room() {
            Some(true) => return None,
            Some(false) => return Some(libc::EAGAIN),
            None => {}
        }
        return match h.socket.events() {
            Ok(events) if events.contains(Events::POLLOUT) => None,
            Ok(_) => Some(libc::EAGAIN),
            Err(e) => Some(errno_of(&e)),
        };
    }
    let waits_for_room = matches!(
        kind,
        SocketType::Dealer | SocketType::Push | SocketType::Pair
    );
    if !waits_for_room || h.socket.has_room_now() {
        return None;
    }
    let sndtimeo = match h.socket.options() {
        Ok(o) => o.sndtimeo(),
        Err(e) => return Some(errno_of(&e)),
    };
    let mut item = [PollItem::socket(&h.socket, Events::POLLOUT)];
    match poll(&mut item, sndtimeo) {
        Ok(0) => Some(libc::EAGAIN),
        Ok(_) => None,
        Err(e) => Some(errno_of(&e)),
    }
}

/// ROUTER's and STREAM's first frame, the peer's routing id: answered for
/// now, as libzmq does (`BlockingSocket::check_route`). A blocking send to a
/// full peer is taken here and waits at the last frame.
fn routing_id_frame(h: &mut SocketHandle, frame: Bytes, flags: c_int) -> Result<(), NotSent> {
    if flags & SNDMORE == 0 && h.socket.socket_type() == SocketType::Router {
        // A routing id alone is no message: libzmq takes and drops it.
        return Ok(());
    }
    // A ROUTER without ROUTER_MANDATORY takes any id (and drops what it
    // cannot route): no round trip to ask. STREAM is always mandatory.
    let asks = h.router_mandatory || h.socket.socket_type() == SocketType::Stream;
    if flags & SNDMORE != 0 && asks {
        match h.socket.check_route(&frame) {
            Err(Error::WouldBlock(_)) if flags & DONTWAIT == 0 => {}
            Err(e) => {
                return Err(NotSent {
                    errno: errno_of(&e),
                    frame,
                })
            }
            Ok(()) => {}
        }
    }
    h.outgoing.push(frame);
    Ok(())
}

/// The next frame: the rest of the message being received, or a new one.
/// Returns it with whether more frames follow (ZMQ_RCVMORE).
pub(crate) fn recv_frame(h: &mut SocketHandle, flags: c_int) -> Result<(Bytes, bool), Errno> {
    if h.incoming.is_empty() {
        // A message the handle holds: its sender's properties go straight
        // into the handle's (untouched when they are the same peer's).
        let msg = match h.socket.take_held(&mut h.properties) {
            Some(msg) => msg,
            None => {
                let (msg, properties) = if flags & DONTWAIT != 0 {
                    h.socket
                        .try_recv_with_properties()
                        .map_err(|e| errno_of(&e))?
                } else {
                    h.socket.recv_with_properties().map_err(|e| errno_of(&e))?
                };
                h.properties = properties;
                msg
            }
        };
        // Most messages have one frame: no trip through `incoming`.
        match msg.into_single() {
            Ok(frame) => return Ok((frame, false)),
            Err(msg) => h.incoming.extend(msg),
        }
    }
    let frame = h.incoming.pop_front().unwrap_or_default();
    Ok((frame, !h.incoming.is_empty()))
}

/// A frame's length as libzmq returns it (an int).
fn length(n: usize) -> Result<c_int, Errno> {
    c_int::try_from(n).map_err(|_| libc::EMSGSIZE)
}

/// `zmq_send`: copies `len` bytes from `buf` into a frame and sends it.
#[no_mangle]
pub unsafe extern "C" fn zmq_send(
    s: *mut c_void,
    buf: *const c_void,
    len: usize,
    flags: c_int,
) -> c_int {
    guarded(-1, || {
        if buf.is_null() && len != 0 {
            return Err(libc::EFAULT);
        }
        // SAFETY: the caller passes a socket from zmq_socket.
        let h = unsafe { socket(s) }?;
        let n = length(len)?;
        let body: &[u8] = if len == 0 {
            &[]
        } else {
            // SAFETY: the caller gives `len` readable bytes at `buf`.
            unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), len) }
        };
        if send_encoded(h, body, flags) {
            return Ok(n);
        }
        if let Some(sent) = send_encoded_on_credit(h, body, flags) {
            return sent.map(|()| n);
        }
        let frame = if len == 0 {
            Bytes::new()
        } else {
            // SAFETY: the caller gives `len` readable bytes at `buf`.
            Bytes::copy_from_slice(body)
        };
        send_whole_frame(h, frame, flags).map_err(|e| e.errno)?;
        Ok(n)
    })
}

/// A buffer the caller promises never to change or free.
struct ConstBuffer {
    data: *const u8,
    len: usize,
}

// SAFETY: zmq_send_const's contract: the bytes are constant and live for
// the rest of the program, so any thread may read them.
unsafe impl Send for ConstBuffer {}

impl AsRef<[u8]> for ConstBuffer {
    fn as_ref(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: see the Send impl: constant, readable, never freed.
        unsafe { std::slice::from_raw_parts(self.data, self.len) }
    }
}

/// `zmq_send_const`: sends `len` bytes at `buf` without copying them; they
/// must stay unchanged for the life of the program.
#[no_mangle]
pub unsafe extern "C" fn zmq_send_const(
    s: *mut c_void,
    buf: *const c_void,
    len: usize,
    flags: c_int,
) -> c_int {
    guarded(-1, || {
        if buf.is_null() && len != 0 {
            return Err(libc::EFAULT);
        }
        // SAFETY: the caller passes a socket from zmq_socket.
        let h = unsafe { socket(s) }?;
        let n = length(len)?;
        let frame = Bytes::from_owner(ConstBuffer {
            data: buf.cast(),
            len,
        });
        send_whole_frame(h, frame, flags).map_err(|e| e.errno)?;
        Ok(n)
    })
}

/// `zmq_recv`: the next frame into `buf`, truncated to `len`; returns the
/// frame's full length.
#[no_mangle]
pub unsafe extern "C" fn zmq_recv(
    s: *mut c_void,
    buf: *mut c_void,
    len: usize,
    flags: c_int,
) -> c_int {
    guarded(-1, || {
        if buf.is_null() && len != 0 {
            return Err(libc::EFAULT);
        }
        // SAFETY: the caller passes a socket from zmq_socket.
        let h = unsafe { socket(s) }?;
        let (frame, _more) = recv_frame(h, flags)?;
        let n = frame.len().min(len);
        if n > 0 {
            // SAFETY: the caller gives `len` writable bytes at `buf`; `n` is
            // at most that, and the frame is our own memory.
            unsafe { std::ptr::copy_nonoverlapping(frame.as_ptr(), buf.cast::<u8>(), n) };
        }
        length(frame.len())
    })
}

/// `zmq_msg_send`: sends the frame in `msg`, which is left empty (and
/// unchanged if the send fails).
#[no_mangle]
pub unsafe extern "C" fn zmq_msg_send(msg: *mut ZmqMsgT, s: *mut c_void, flags: c_int) -> c_int {
    guarded(-1, || {
        // SAFETY: the caller passes a socket and a zmq_msg_t.
        let (h, m) = unsafe { (socket(s)?, open_msg(msg)?) };
        let n = length(m.len())?;
        if send_encoded(h, m.bytes(), flags) {
            m.clear_sent();
            return Ok(n);
        }
        match send_encoded_on_credit(h, m.bytes(), flags) {
            Some(Ok(())) => {
                m.clear_sent();
                return Ok(n);
            }
            Some(Err(errno)) => {
                m.refused(flags & SNDMORE != 0);
                return Err(errno);
            }
            None => {}
        }
        let sharing = m.sharing();
        if let Err(e) = send_whole_frame(h, m.take(), flags) {
            m.put_back(e.frame, sharing, flags & SNDMORE != 0);
            return Err(e.errno);
        }
        Ok(n)
    })
}

/// `zmq_msg_recv`: the next frame into `msg` (whatever it held is released).
#[no_mangle]
pub unsafe extern "C" fn zmq_msg_recv(msg: *mut ZmqMsgT, s: *mut c_void, flags: c_int) -> c_int {
    guarded(-1, || {
        // SAFETY: the caller passes a socket and a zmq_msg_t.
        let (h, m) = unsafe { (socket(s)?, open_msg(msg)?) };
        // A single frame still in its wire form: copied straight into the
        // message (`BlockingSocket::take_single_held`), after a wait for
        // one if none is held (`wait_held`).
        if h.incoming.is_empty() {
            if let Some(n) = take_single_in_place(h, m) {
                return n;
            }
            if flags & DONTWAIT == 0 && h.socket.wait_held().map_err(|e| errno_of(&e))? {
                if let Some(n) = take_single_in_place(h, m) {
                    return n;
                }
            }
        }
        let (frame, more) = recv_frame(h, flags)?;
        let n = length(frame.len())?;
        m.set_received(frame, more, h.properties.as_ref());
        Ok(n)
    })
}

/// The next message copied into `m` when it is a single frame the socket
/// holds in its wire form; `None`, taking nothing, otherwise.
#[inline]
fn take_single_in_place(h: &mut SocketHandle, m: &mut ZmqMsg) -> Option<Result<c_int, Errno>> {
    h.socket
        .take_single_held(&mut h.properties, |body, properties| {
            m.set_received_copy(body, properties.as_ref());
            length(body.len())
        })
}

/// `zmq_sendmsg` (deprecated): `zmq_msg_send` with the arguments turned.
#[no_mangle]
pub unsafe extern "C" fn zmq_sendmsg(s: *mut c_void, msg: *mut ZmqMsgT, flags: c_int) -> c_int {
    // SAFETY: the same contract as zmq_msg_send.
    unsafe { zmq_msg_send(msg, s, flags) }
}

/// `zmq_recvmsg` (deprecated): `zmq_msg_recv` with the arguments turned.
#[no_mangle]
pub unsafe extern "C" fn zmq_recvmsg(s: *mut c_void, msg: *mut ZmqMsgT, flags: c_int) -> c_int {
    // SAFETY: the same contract as zmq_msg_recv.
    unsafe { zmq_msg_recv(msg, s, flags) }
}
