//! The ZAP client (RFC 27): asks the handler bound at
//! `inproc://zeromq.zap.01` whether a client may connect, as libzmq does.
//!
//! One DEALER per socket, created at its first request, carries every
//! request of that socket's connections; replies are matched by request id.
//! A task owns the DEALER: it sends what `ask` queued and routes each reply
//! to the future waiting for it. Dropping the client cancels the task and
//! refuses every request still waiting (status 500), so no handshake waits
//! on a handler that can no longer answer (the handshake timeout bounds
//! the wait on one that never does).
//!
//! ```text
//! request: "" | "1.0" | id | domain | address | identity | mechanism | credentials...
//! reply:   "" | "1.0" | id | status code | status text | user id | metadata
//! ```

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Poll, Waker};

use bytes::Bytes;
use monocoque_runtime::{spawn, JoinHandle};
use monocoque_zmtp::{AuthDecision, Msg, SocketType};

use super::Socket;
use crate::admission::{ZapRequest, ZAP_ENDPOINT};

/// A decision on its way, and who waits for it.
#[derive(Default)]
struct Slot {
    decision: Option<AuthDecision>,
    waker: Option<Waker>,
}

impl Slot {
    fn fill(&mut self, decision: AuthDecision) {
        self.decision = Some(decision);
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }
}

/// What `ask` and the task share.
#[derive(Default)]
struct Exchange {
    outbox: VecDeque<Msg>,
    waiting: HashMap<u64, Rc<RefCell<Slot>>>,
    task: Option<Waker>,
}

/// One socket's ZAP client.
pub(crate) struct ZapClient {
    exchange: Rc<RefCell<Exchange>>,
    next_id: Cell<u64>,
    _task: JoinHandle<()>,
}

impl ZapClient {
    /// A client connected to the ZAP handler's endpoint on this thread.
    pub(crate) fn new() -> crate::Result<ZapClient> {
        let dealer = Socket::new(SocketType::Dealer)?;
        dealer.set_option(crate::SocketOption::Linger(Some(std::time::Duration::ZERO)))?;
        dealer.connect(&format!("inproc://{ZAP_ENDPOINT}"))?;
        let exchange = Rc::new(RefCell::new(Exchange::default()));
        let task = spawn(serve(dealer, exchange.clone()));
        Ok(ZapClient {
            exchange,
            next_id: Cell::new(1),
            _task: task,
        })
    }

    /// Sends `request` and returns the decision to come.
    pub(crate) fn ask(&self, request: &ZapRequest) -> Pin<Box<dyn Future<Output = AuthDecision>>> {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        let credentials = request.credentials.as_credentials();
        let mut frames = vec![
            Bytes::new(),
            Bytes::from_static(b"1.0"),
            Bytes::from(id.to_string()),
            request.domain.clone(),
            Bytes::from(request.address.clone()),
            request.identity.clone(),
            Bytes::from_static(credentials.mechanism().as_bytes()),
        ];
        frames.extend(credentials.zap_frames());
        let slot = Rc::new(RefCell::new(Slot::default()));
        {
            let mut ex = self.exchange.borrow_mut();
            ex.outbox.push_back(Msg::from(frames));
            ex.waiting.insert(id, slot.clone());
            if let Some(w) = ex.task.take() {
                w.wake();
            }
        }
        Box::pin(poll_fn(move |cx| {
            let mut slot = slot.borrow_mut();
            match slot.decision.take() {
                Some(d) => Poll::Ready(d),
                None => {
                    slot.waker = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        }))
    }
}

impl Drop for ZapClient {
    fn drop(&mut self) {
        for (_, slot) in self.exchange.borrow_mut().waiting.drain() {
            slot.borrow_mut().fill(internal_error());
        }
    }
}

fn internal_error() -> AuthDecision {
    AuthDecision::Deny {
        reason: "500".into(),
    }
}

/// Sends what is queued, routes what comes back.
async fn serve(dealer: Socket, exchange: Rc<RefCell<Exchange>>) {
    poll_fn(|cx| {
        exchange.borrow_mut().task = Some(cx.waker().clone());
        loop {
            if exchange.borrow().outbox.is_empty() {
                break;
            }
            match dealer.poll_send_ready(cx) {
                Poll::Ready(Ok(())) => {
                    let msg = exchange.borrow_mut().outbox.pop_front();
                    if let Some(msg) = msg {
                        if dealer.try_send(msg).is_err() {
                            break;
                        }
                    }
                }
                Poll::Ready(Err(_)) | Poll::Pending => break,
            }
        }
        while let Poll::Ready(reply) = dealer.poll_recv(cx) {
            match reply {
                Ok(msg) => route(&exchange, &msg),
                Err(_) => return Poll::Ready(()),
            }
        }
        Poll::Pending
    })
    .await
}

/// Hands one reply to the request it answers; a malformed one is logged
/// and dropped (the handshake then times out, as in libzmq).
fn route(exchange: &Rc<RefCell<Exchange>>, msg: &Msg) {
    let Some((id, decision)) = parse_reply(msg) else {
        if let Some(suppressed) = crate::log_limit::ZAP_MALFORMED.admit() {
            tracing::warn!(
                suppressed,
                frames = msg.len(),
                "malformed ZAP reply dropped (RFC 27: empty, 1.0, id, status, text, user id, metadata)"
            );
        }
        return;
    };
    let slot = exchange.borrow_mut().waiting.remove(&id);
    if let Some(slot) = slot {
        slot.borrow_mut().fill(decision);
    }
}

/// The request id and decision of a reply: status 200 admits (with its user
/// id, if not empty); 300, 400 and 500 refuse with the code, which the
/// client gets in ERROR as libzmq sends it.
fn parse_reply(msg: &Msg) -> Option<(u64, AuthDecision)> {
    let f = msg.frames();
    if f.len() != 7 || !f[0].is_empty() || &f[1][..] != b"1.0" {
        return None;
    }
    let id: u64 = std::str::from_utf8(&f[2]).ok()?.parse().ok()?;
    let decision = match &f[3][..] {
        b"200" => AuthDecision::Accept {
            user_id: (!f[5].is_empty()).then(|| f[5].clone()),
        },
        code @ (b"300" | b"400" | b"500") => {
            tracing::info!(
                status = %String::from_utf8_lossy(code),
                text = %String::from_utf8_lossy(&f[4]),
                "ZAP handler refused a client"
            );
            AuthDecision::Deny {
                reason: String::from_utf8_lossy(code).into_owned(),
            }
        }
        _ => return None,
    };
    Some((id, decision))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(frames: &[&[u8]]) -> Msg {
        Msg::from(
            frames
                .iter()
                .map(|f| Bytes::copy_from_slice(f))
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn replies_are_read_as_rfc_27_says() {
        assert_eq!(
            parse_reply(&reply(&[b"", b"1.0", b"7", b"200", b"OK", b"alice", b""])),
            Some((
                7,
                AuthDecision::Accept {
                    user_id: Some(Bytes::from_static(b"alice"))
                }
            ))
        );
        assert_eq!(
            parse_reply(&reply(&[b"", b"1.0", b"8", b"200", b"OK", b"", b""])),
            Some((8, AuthDecision::Accept { user_id: None }))
        );
        assert_eq!(
            parse_reply(&reply(&[b"", b"1.0", b"9", b"400", b"no", b"", b""])),
            Some((
                9,
                AuthDecision::Deny {
                    reason: "400".into()
                }
            ))
        );
        for bad in [
            reply(&[b"", b"1.0", b"9", b"400", b"no", b""]),
            reply(&[b"", b"2.0", b"9", b"400", b"no", b"", b""]),
            reply(&[b"", b"1.0", b"x", b"200", b"", b"", b""]),
            reply(&[b"", b"1.0", b"9", b"201", b"", b"", b""]),
            reply(&[b"x", b"1.0", b"9", b"200", b"", b"", b""]),
        ] {
            assert_eq!(parse_reply(&bad), None, "{bad:?}");
        }
    }
}
