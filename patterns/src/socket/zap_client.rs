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
use monocoque_zmtp::{AuthDecision, Metadata, Msg, SocketType};

use super::Socket;
use crate::admission::{internal_refusal, ZapRequest, ZAP_ENDPOINT};
use crate::SocketOption;

/// The request id: one request per DEALER, so a constant, as libzmq's.
const REQUEST_ID: &[u8] = b"1";

/// Asks the handler about `request`'s client.
pub(crate) fn ask(request: ZapRequest) -> Pin<Box<dyn Future<Output = AuthDecision>>> {
    Box::pin(async move {
        match exchange(&request).await {
            Ok(decision) => decision,
            Err(why) => {
                if let Some(suppressed) = crate::log_limit::ZAP_MALFORMED.admit() {
                    tracing::warn!(suppressed, reason = %why, "ZAP request failed; client refused");
                }
                internal_refusal()
            }
        }
    })
}

async fn exchange(request: &ZapRequest) -> Result<AuthDecision, String> {
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
    let reply = dealer
        .recv()
        .await
        .map_err(|e| format!("waiting for the handler: {e}"))?;
    parse_reply(&reply).ok_or_else(|| {
        format!(
            "malformed reply of {} frames (RFC 27: empty, 1.0, id, status, text, user id, metadata)",
            reply.len()
        )
    })
}

/// The decision of a reply: status 200 admits (with its user id, if not
/// empty, and the properties of its metadata frame, which every message
/// from the client then carries, as in libzmq); 300, 400 and 500 refuse
/// with the code, which the client gets in ERROR as libzmq sends it. `None`
/// for a reply that is not RFC 27's (a metadata frame that is not a ZMTP
/// property list included: libzmq fails the handshake), or not to our
/// request.
fn parse_reply(msg: &Msg) -> Option<AuthDecision> {
    let f = msg.frames();
    if f.len() != 7 || !f[0].is_empty() || &f[1][..] != b"1.0" || &f[2][..] != REQUEST_ID {
        return None;
    }
    let decision = match &f[3][..] {
        b"200" => AuthDecision::Accept {
            user_id: (!f[5].is_empty()).then(|| f[5].clone()),
            properties: Metadata::parse(&f[6]).ok()?,
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
    Some(decision)
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
            parse_reply(&reply(&[b"", b"1.0", b"1", b"200", b"OK", b"alice", b""])),
            Some(AuthDecision::accept(Some(Bytes::from_static(b"alice"))))
        );
        assert_eq!(
            parse_reply(&reply(&[b"", b"1.0", b"1", b"200", b"OK", b"", b""])),
            Some(AuthDecision::accept(None))
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
            Some(AuthDecision::Accept {
                user_id: Some(Bytes::from_static(b"anonymous")),
                properties,
            })
        );
        assert_eq!(
            parse_reply(&reply(&[b"", b"1.0", b"1", b"200", b"OK", b"", b"\x09cut"])),
            None,
            "a metadata frame that is no property list"
        );
        assert_eq!(
            parse_reply(&reply(&[b"", b"1.0", b"1", b"400", b"no", b"", b""])),
            Some(AuthDecision::Deny {
                reason: "400".into()
            })
        );
        for bad in [
            reply(&[b"", b"1.0", b"1", b"400", b"no", b""]),
            reply(&[b"", b"2.0", b"1", b"400", b"no", b"", b""]),
            reply(&[b"", b"1.0", b"2", b"200", b"", b"", b""]),
            reply(&[b"", b"1.0", b"1", b"201", b"", b"", b""]),
            reply(&[b"x", b"1.0", b"1", b"200", b"", b"", b""]),
        ] {
            assert_eq!(parse_reply(&bad), None, "{bad:?}");
        }
    }
}
