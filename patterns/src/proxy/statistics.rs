//! What a steerable proxy reports for STATISTICS.

use bytes::Bytes;
use monocoque_zmtp::Msg;

/// Traffic through one side of a proxy, counted in messages (a multipart
/// message is one), as libzmq 4.3.4's zmq_proxy_steerable counts and its
/// test_proxy checks (4.3.5 counts each part).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SideStatistics {
    /// Messages received on this side.
    pub messages_in: u64,
    /// Bytes received on this side (frame bodies).
    pub bytes_in: u64,
    /// Messages sent on this side.
    pub messages_out: u64,
    /// Bytes sent on this side.
    pub bytes_out: u64,
}

/// Both sides of a proxy.
///
/// ```
/// use monocoque_patterns::ProxyStatistics;
/// let mut s = ProxyStatistics::default();
/// s.frontend.messages_in = 2;
/// let reply = s.to_msg();
/// assert_eq!(reply.len(), 8);
/// assert_eq!(ProxyStatistics::from_msg(&reply), Some(s));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProxyStatistics {
    /// The frontend socket's traffic.
    pub frontend: SideStatistics,
    /// The backend socket's traffic.
    pub backend: SideStatistics,
}

impl ProxyStatistics {
    /// The STATISTICS reply: eight frames of one `u64` each, in the host's
    /// byte order as libzmq writes them: frontend messages in, bytes in,
    /// messages out, bytes out, then the same for the backend.
    pub fn to_msg(&self) -> Msg {
        let values = [
            self.frontend.messages_in,
            self.frontend.bytes_in,
            self.frontend.messages_out,
            self.frontend.bytes_out,
            self.backend.messages_in,
            self.backend.bytes_in,
            self.backend.messages_out,
            self.backend.bytes_out,
        ];
        Msg::from(
            values
                .iter()
                .map(|v| Bytes::copy_from_slice(&v.to_ne_bytes()))
                .collect::<Vec<_>>(),
        )
    }

    /// Reads a STATISTICS reply (`None` if it is not eight 8-byte frames).
    pub fn from_msg(msg: &Msg) -> Option<ProxyStatistics> {
        if msg.len() != 8 {
            return None;
        }
        let mut v = [0u64; 8];
        for (slot, frame) in v.iter_mut().zip(msg.frames()) {
            *slot = u64::from_ne_bytes(frame[..].try_into().ok()?);
        }
        let side = |a: &[u64]| SideStatistics {
            messages_in: a[0],
            bytes_in: a[1],
            messages_out: a[2],
            bytes_out: a[3],
        };
        Some(ProxyStatistics {
            frontend: side(&v[..4]),
            backend: side(&v[4..]),
        })
    }
}
