//! How libzmq's monitor classifies a failed handshake: a kind (its event)
//! and a code (the event's value), for applications ported from libzmq that
//! switch on ZMQ_EVENT_HANDSHAKE_FAILED_* and ZMQ_PROTOCOL_ERROR_*.

use monocoque_zmtp::Error as Zmtp;
use monocoque_zmtp::ZapReplyProblem;

use crate::close_reason::CloseReason;

/// ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL.
pub const EVENT_HANDSHAKE_FAILED_NO_DETAIL: u16 = 0x0800;
/// ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL.
pub const EVENT_HANDSHAKE_FAILED_PROTOCOL: u16 = 0x2000;
/// ZMQ_EVENT_HANDSHAKE_FAILED_AUTH.
pub const EVENT_HANDSHAKE_FAILED_AUTH: u16 = 0x4000;

/// libzmq's ZMQ_PROTOCOL_ERROR_* codes.
pub mod protocol_error {
    /// ZMTP_UNSPECIFIED.
    pub const ZMTP_UNSPECIFIED: u32 = 0x1000_0000;
    /// ZMTP_UNEXPECTED_COMMAND.
    pub const ZMTP_UNEXPECTED_COMMAND: u32 = 0x1000_0001;
    /// ZMTP_INVALID_SEQUENCE (a CURVE nonce out of order).
    pub const ZMTP_INVALID_SEQUENCE: u32 = 0x1000_0002;
    /// ZMTP_KEY_EXCHANGE.
    pub const ZMTP_KEY_EXCHANGE: u32 = 0x1000_0003;
    /// ZMTP_MALFORMED_COMMAND_UNSPECIFIED.
    pub const ZMTP_MALFORMED_COMMAND_UNSPECIFIED: u32 = 0x1000_0011;
    /// ZMTP_MALFORMED_COMMAND_MESSAGE.
    pub const ZMTP_MALFORMED_COMMAND_MESSAGE: u32 = 0x1000_0012;
    /// ZMTP_MALFORMED_COMMAND_HELLO.
    pub const ZMTP_MALFORMED_COMMAND_HELLO: u32 = 0x1000_0013;
    /// ZMTP_MALFORMED_COMMAND_INITIATE.
    pub const ZMTP_MALFORMED_COMMAND_INITIATE: u32 = 0x1000_0014;
    /// ZMTP_MALFORMED_COMMAND_ERROR.
    pub const ZMTP_MALFORMED_COMMAND_ERROR: u32 = 0x1000_0015;
    /// ZMTP_MALFORMED_COMMAND_READY.
    pub const ZMTP_MALFORMED_COMMAND_READY: u32 = 0x1000_0016;
    /// ZMTP_MALFORMED_COMMAND_WELCOME.
    pub const ZMTP_MALFORMED_COMMAND_WELCOME: u32 = 0x1000_0017;
    /// ZMTP_INVALID_METADATA.
    pub const ZMTP_INVALID_METADATA: u32 = 0x1000_0018;
    /// ZMTP_CRYPTOGRAPHIC (a box that does not open).
    pub const ZMTP_CRYPTOGRAPHIC: u32 = 0x1100_0001;
    /// ZMTP_MECHANISM_MISMATCH.
    pub const ZMTP_MECHANISM_MISMATCH: u32 = 0x1100_0002;
    /// ZAP_MALFORMED_REPLY.
    pub const ZAP_MALFORMED_REPLY: u32 = 0x2000_0001;
    /// ZAP_BAD_REQUEST_ID.
    pub const ZAP_BAD_REQUEST_ID: u32 = 0x2000_0002;
    /// ZAP_BAD_VERSION.
    pub const ZAP_BAD_VERSION: u32 = 0x2000_0003;
    /// ZAP_INVALID_STATUS_CODE.
    pub const ZAP_INVALID_STATUS_CODE: u32 = 0x2000_0004;
    /// ZAP_INVALID_METADATA.
    pub const ZAP_INVALID_METADATA: u32 = 0x2000_0005;
}

/// A failed handshake as libzmq's monitor reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeFailure {
    /// ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL: the connection ended or timed
    /// out, or the peer is not a ZMTP 3 peer.
    NoDetail,
    /// ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL with a ZMQ_PROTOCOL_ERROR_* code.
    Protocol(u32),
    /// ZMQ_EVENT_HANDSHAKE_FAILED_AUTH with the ZAP status code (300, 400,
    /// 500).
    Auth(u32),
}

impl HandshakeFailure {
    /// libzmq's event number and value, as zmq_socket_monitor sends them.
    pub fn zmq_event(self) -> (u16, u32) {
        match self {
            HandshakeFailure::NoDetail => (EVENT_HANDSHAKE_FAILED_NO_DETAIL, 0),
            HandshakeFailure::Protocol(code) => (EVENT_HANDSHAKE_FAILED_PROTOCOL, code),
            HandshakeFailure::Auth(status) => (EVENT_HANDSHAKE_FAILED_AUTH, status),
        }
    }
}

/// A status code at the start of a refusal's text, as libzmq reads ERROR.
fn status(text: &str) -> Option<u32> {
    match text.get(..3)? {
        code @ ("300" | "400" | "500") => code.parse().ok(),
        _ => None,
    }
}

impl CloseReason {
    /// How libzmq's monitor would classify this as a failed handshake.
    ///
    /// ```
    /// use monocoque_patterns::{CloseReason, HandshakeFailure};
    /// let r = CloseReason::Protocol(monocoque_zmtp::Error::PeerError { reason: "400".into() });
    /// assert_eq!(r.handshake_failure(), HandshakeFailure::Auth(400));
    /// assert_eq!(CloseReason::PeerClosed.handshake_failure(), HandshakeFailure::NoDetail);
    /// ```
    pub fn handshake_failure(&self) -> HandshakeFailure {
        use protocol_error::*;
        let e = match self {
            CloseReason::Protocol(e) | CloseReason::Configuration(e) => e,
            _ => return HandshakeFailure::NoDetail,
        };
        let code = match e {
            Zmtp::PeerError { reason } | Zmtp::AuthenticationDenied { reason } => {
                return match status(reason) {
                    Some(s) => HandshakeFailure::Auth(s),
                    None if matches!(e, Zmtp::AuthenticationDenied { .. }) => {
                        HandshakeFailure::Auth(400)
                    }
                    None => HandshakeFailure::Protocol(ZMTP_UNSPECIFIED),
                };
            }
            Zmtp::HandshakeTimeout(_)
            | Zmtp::NotZmtp { .. }
            | Zmtp::MalformedLegacyFrame { .. }
            | Zmtp::UnknownSocketTypeNumber(_)
            | Zmtp::LegacyPeerRefused { .. } => return HandshakeFailure::NoDetail,
            Zmtp::UnexpectedCommand { .. } | Zmtp::MessageDuringHandshake { .. } => {
                ZMTP_UNEXPECTED_COMMAND
            }
            Zmtp::ZapReply(problem) => match problem {
                ZapReplyProblem::Malformed => ZAP_MALFORMED_REPLY,
                ZapReplyProblem::BadRequestId => ZAP_BAD_REQUEST_ID,
                ZapReplyProblem::BadVersion => ZAP_BAD_VERSION,
                ZapReplyProblem::InvalidStatusCode => ZAP_INVALID_STATUS_CODE,
                ZapReplyProblem::InvalidMetadata => ZAP_INVALID_METADATA,
            },
            Zmtp::CurveNonceReused { .. } => ZMTP_INVALID_SEQUENCE,
            Zmtp::CurveKeyExchange(_) => ZMTP_KEY_EXCHANGE,
            Zmtp::CurveBoxRejected { .. } => ZMTP_CRYPTOGRAPHIC,
            Zmtp::MechanismMismatch { .. } => ZMTP_MECHANISM_MISMATCH,
            Zmtp::MalformedCommand { command, .. } => match *command {
                "MESSAGE" => ZMTP_MALFORMED_COMMAND_MESSAGE,
                "HELLO" => ZMTP_MALFORMED_COMMAND_HELLO,
                "INITIATE" => ZMTP_MALFORMED_COMMAND_INITIATE,
                "ERROR" => ZMTP_MALFORMED_COMMAND_ERROR,
                "READY" => ZMTP_MALFORMED_COMMAND_READY,
                "WELCOME" => ZMTP_MALFORMED_COMMAND_WELCOME,
                _ => ZMTP_MALFORMED_COMMAND_UNSPECIFIED,
            },
            Zmtp::MalformedCommandFrame(_) | Zmtp::CommandWithMore => {
                ZMTP_MALFORMED_COMMAND_UNSPECIFIED
            }
            Zmtp::MalformedMetadata(_)
            | Zmtp::MissingSocketType
            | Zmtp::UnknownSocketType(_)
            | Zmtp::IncompatibleSocketType { .. }
            | Zmtp::IdentityTooLong(_) => ZMTP_INVALID_METADATA,
            _ => ZMTP_UNSPECIFIED,
        };
        HandshakeFailure::Protocol(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_map_to_libzmqs_events_and_codes() {
        let p = |e| CloseReason::Protocol(e).handshake_failure();
        assert_eq!(
            p(Zmtp::CurveBoxRejected { command: "HELLO" }).zmq_event(),
            (0x2000, 0x1100_0001)
        );
        assert_eq!(
            p(Zmtp::CurveNonceReused { nonce: 1, last: 2 }),
            HandshakeFailure::Protocol(protocol_error::ZMTP_INVALID_SEQUENCE)
        );
        assert_eq!(
            p(Zmtp::AuthenticationDenied {
                reason: "500 down".into()
            }),
            HandshakeFailure::Auth(500)
        );
        assert_eq!(
            p(Zmtp::AuthenticationDenied {
                reason: "no".into()
            }),
            HandshakeFailure::Auth(400)
        );
        assert_eq!(
            p(Zmtp::MalformedCommand {
                command: "WELCOME",
                reason: "short"
            }),
            HandshakeFailure::Protocol(protocol_error::ZMTP_MALFORMED_COMMAND_WELCOME)
        );
        assert_eq!(
            p(Zmtp::HandshakeTimeout(std::time::Duration::from_secs(1))).zmq_event(),
            (0x0800, 0)
        );
        assert_eq!(
            p(Zmtp::MechanismMismatch {
                ours: "NULL",
                theirs: "PLAIN".into()
            }),
            HandshakeFailure::Protocol(protocol_error::ZMTP_MECHANISM_MISMATCH)
        );
    }
}
