//! The ZAP client (RFC 27): asks the handler bound at
//! `inproc://zeromq.zap.01` whether a client may connect, as libzmq does.
//!
//! Each request has a DEALER of its own, connected to the handler for this
//! one question, as each libzmq session connects its own: a handler that is
//! closed and bound again serves the next handshake, and a request whose
//! connection went away (the future dropped) closes its DEALER and leaves
//! nothing behind. The handshake timeout bounds the wait on a handler that
//! never answers.
//!
//! ```text
//! request: "" | "1.0" | "1" | domain | address | identity | mechanism | credentials...
//! reply:   "" | "1.0" | "1" | status code | status text | user id | metadata
//! ```

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use monocoque_zmtp::{AuthDecision, Metadata, Msg, SocketType, ZapReplyProblem};

use super::Socket;
use crate::admission::{internal_refusal, ZapRequest, ZAP_ENDPOINT};
use crate::SocketOption;

/// The request id: one request per DEALER, so a constant, as libzmq's.
const REQUEST_ID: &[u8] = b"1";

/// Asks the handler about `request`'s client.
pub(crate) fn ask(request: ZapRequest) -> Pin<Box<dyn Future<Output = AuthDecision>>> {
    Box::pin(async move {
        match exchange(&request).await {
            Ok(reply) => match parse_reply(&reply) {
                Ok(decision) => decision,
                Err(problem) => {
                    if let Some(suppressed) = crate::log_limit::ZAP_MALFORMED.admit() {
                        tracing::warn!(suppressed, %problem, frames = reply.len(), "ZAP handler's reply is malformed; client refused");
                    }
                    AuthDecision::HandlerFailed(problem)
                }
            },
            Err(why) => {
                if let Some(suppressed) = crate::log_limit::ZAP_MALFORMED.admit() {
                    tracing::warn!(suppressed, reason = %why, "ZAP request failed; client refused");
                }
                internal_refusal()
            }
        }
    })
}

/// Sends the request and waits for the handler's reply.
async fn exchange(request: &ZapRequest) -> Result<Msg, String> {
    let dealer = Socket::new(SocketType::Dealer).map_err(|e| e.to_string())?;
    dealer
        .set_option(SocketOption::Linger(Some(Duration::ZERO)))
        .map_err(|e| e.to_string())?;
    dealer
        .connect(&format!("inproc://{ZAP_ENDPOINT}"))
        .map_err(|e| e.to_string())?;
    let credentials = request.credentials.as_credentials();
    let mut frames = vec![
        Bytes::new(),
        Bytes::from_static(b"1.0"),
        Bytes::from_static(REQUEST_ID),
        request.domain.clone(),
        Bytes::from(request.address.clone()),
        request.identity.clone(),
        Bytes::from_static(credentials.mechanism().as_bytes()),
    ];
    frames.extend(credentials.zap_frames());
    dealer
        .send(Msg::from(frames))
        .await
        .map_err(|e| format!("sending to the handler: {e}"))?;
    dealer
        .recv()
        .await
        .map_err(|e| format!("waiting for the handler: {e}"))
}

/// The decision of a reply: status 200 admits (with its user id, if not
/// empty, and the properties of its metadata frame, which every message
/// from the client then carries, as in libzmq); 300, 400 and 500 refuse
/// with the code, which the client gets in ERROR as libzmq sends it. A
/// reply that is not RFC 27's is the problem libzmq reports for it
/// (ZMQ_PROTOCOL_ERROR_ZAP_*), checked in libzmq's order.
fn parse_reply(msg: &Msg) -> Result<AuthDecision, ZapReplyProblem> {
    let f = msg.frames();
    if f.len() != 7 || !f[0].is_empty() {
        return Err(ZapReplyProblem::Malformed);
    }
    if &f[1][..] != b"1.0" {
        return Err(ZapReplyProblem::BadVersion);
    }
    if &f[2][..] != REQUEST_ID {
        return Err(ZapReplyProblem::BadRequestId);
    }
    match &f[3][..] {
        b"200" => Ok(AuthDecision::Accept {
            user_id: (!f[5].is_empty()).then(|| f[5].clone()),
            properties: Metadata::parse(&f[6]).map_err(|_| ZapReplyProblem::InvalidMetadata)?,
        }),
        code @ (b"300" | b"400" | b"500") => {
            tracing::info!(
                status = %String::from_utf8_lossy(code),
                text = %String::from_utf8_lossy(&f[4]),
                "ZAP handler refused a client"
            );
            Ok(AuthDecision::Deny {
                reason: String::from_utf8_lossy(code).into_owned(),
            })
        }
        _ => Err(ZapReplyProblem::InvalidStatusCode),
    }
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
        use ZapReplyProblem as P;
        assert_eq!(
            parse_reply(&reply(&[b"", b"1.0", b"1", b"200", b"OK", b"alice", b""])),
            Ok(AuthDecision::accept(Some(Bytes::from_static(b"alice"))))
        );
        assert_eq!(
            parse_reply(&reply(&[b"", b"1.0", b"1", b"200", b"OK", b"", b""])),
            Ok(AuthDecision::accept(None))
        );
        let mut properties = Metadata::new();
        properties.push("Hello", "World");
        assert_eq!(
            parse_reply(&reply(&[
                b"",
                b"1.0",
                b"1",
                b"200",
                b"OK",
                b"anonymous",
                b"\x05Hello\x00\x00\x00\x05World"
            ])),
            Ok(AuthDecision::Accept {
                user_id: Some(Bytes::from_static(b"anonymous")),
                properties,
            })
        );
        assert_eq!(
            parse_reply(&reply(&[b"", b"1.0", b"1", b"400", b"no", b"", b""])),
            Ok(AuthDecision::Deny {
                reason: "400".into()
            })
        );
        // Each broken reply is the problem libzmq names for it.
        for (bad, problem) in [
            (
                reply(&[b"", b"1.0", b"1", b"400", b"no", b""]),
                P::Malformed,
            ),
            (
                reply(&[b"x", b"1.0", b"1", b"200", b"", b"", b""]),
                P::Malformed,
            ),
            (
                reply(&[b"", b"2.0", b"1", b"400", b"no", b"", b""]),
                P::BadVersion,
            ),
            (
                reply(&[b"", b"1.0", b"2", b"200", b"", b"", b""]),
                P::BadRequestId,
            ),
            (
                reply(&[b"", b"1.0", b"1", b"201", b"", b"", b""]),
                P::InvalidStatusCode,
            ),
            (
                reply(&[b"", b"1.0", b"1", b"200", b"OK", b"", b"\x09cut"]),
                P::InvalidMetadata,
            ),
        ] {
            assert_eq!(parse_reply(&bad), Err(problem), "{bad:?}");
        }
    }
}
