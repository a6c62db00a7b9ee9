//! `box`: libzmq clients talking through a broker box, which is what a
//! gateway user buys. Monocoque's box is the appliance binary
//! (`monocoque run`); libzmq's is `zmq_proxy` in a process of its own. The
//! clients are the same libzmq sockets for both, so only the box differs.
//!
//! ```text
//!   clients' core (first of --cores)            box's core (second of --cores)
//!   REQ ─────────────────────────────▶ ROUTER ── queue ── DEALER ◀───── REP worker
//!   XPUB publisher ──────────────────▶ XSUB ── forwarder ── XPUB ◀───── SUB
//! ```
//!
//! The REQ and the SUB run on the measuring thread, the REP worker and the
//! publisher on threads of their own; all four sockets share one libzmq
//! context (one IO thread), all on the clients' core.
//!
//! Each measurement gets a box of its own, started for it and stopped after
//! it (a queue for the round trips, a forwarder for the stream), so one
//! service's threads never share the box's core with another's. The
//! appliance runs one service pinned to the box's core with `--profile`'s
//! profile; the whole process is pinned there too, as the proxy process is
//! (its IO thread inherits the pin).

mod appliance;
mod clients;
pub mod proxy;

use crate::cli::{Impl, Role};
use crate::delivery::Delivery;
use crate::placement::{Peer, Setup};
use crate::record::{Figures, Latency, Record};

/// The service a measurement goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// ROUTER (clients) to DEALER (workers).
    Queue,
    /// XSUB (publishers) to XPUB (subscribers).
    Forwarder,
}

impl Service {
    /// The appliance config's spelling.
    pub fn name(self) -> &'static str {
        match self {
            Service::Queue => "queue",
            Service::Forwarder => "forwarder",
        }
    }
}

/// A box serving one service: where its clients connect.
pub struct Running {
    /// Where requests (queue) or publishers (forwarder) connect.
    pub frontend: String,
    /// Where workers (queue) or subscribers (forwarder) connect.
    pub backend: String,
    process: Peer,
    imp: Impl,
}

impl Running {
    /// Stops the box; an error if it had died during the measurement.
    fn stop(self) -> Result<(), String> {
        match self.imp {
            // zmq_proxy's peer ends when released, and says how it went.
            Impl::Libzmq => self.process.finish(),
            // The appliance serves until signalled; nothing of it is measured
            // after this point, so it is killed rather than drained.
            _ => self.process.kill(),
        }
    }
}

/// Starts `s.imp`'s box for `service` on `s.peer_core`.
fn start(s: &Setup, service: Service) -> Result<Running, String> {
    match s.imp {
        Impl::Monocoque => appliance::start(s, service),
        Impl::Libzmq => {
            let role = match service {
                Service::Queue => Role::Queue,
                Service::Forwarder => Role::Forwarder,
            };
            let (process, line) = s.spawn_binding_peer(role)?;
            let (frontend, backend) = line
                .split_once(' ')
                .ok_or_else(|| format!("the proxy printed {line:?}, not two endpoints"))?;
            Ok(Running {
                frontend: frontend.to_string(),
                backend: backend.to_string(),
                process,
                imp: Impl::Libzmq,
            })
        }
        imp => Err(format!(
            "{} has no box (box compares the appliance and zmq_proxy)",
            imp.name()
        )),
    }
}

/// What one box measured: round trips through its queue, the stream
/// through its forwarder.
pub struct Through {
    pub round_trips: Latency,
    pub stream: Delivery,
}

impl Figures for Through {
    fn fill(&self, r: &mut Record) {
        self.round_trips.fill(r);
        self.stream.fill(r);
    }
}

/// One run of `s.imp`'s box: a queue for the round trips, then a forwarder
/// for the stream.
pub fn measure(s: &Setup) -> Result<Through, String> {
    let queue = start(s, Service::Queue)?;
    let round_trips = clients::round_trips(s, &queue.frontend, &queue.backend)?;
    queue.stop()?;
    let forwarder = start(s, Service::Forwarder)?;
    let stream = clients::stream(s, &forwarder.frontend, &forwarder.backend)?;
    forwarder.stop()?;
    Ok(Through {
        round_trips,
        stream,
    })
}
