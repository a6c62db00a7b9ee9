//! What an IO core's engines see of the relay that owns them: a lifecycle,
//! the greeting, where to report, and the admission it can decide (the ZAP
//! handler lives on the socket's thread, out of reach). Connects running
//! here reach the relay through it too (`connect_port.rs`).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use monocoque_zmtp::Msg;

use crate::admission::{decide_locally, internal_refusal, AdmissionPolicy, ZapRequest};
use crate::engine::{EngineEvent, EngineOwner, Verdict};
use crate::lifecycle::Lifecycle;
use crate::monitor::MonitorEvent;
use crate::pipe::Signals;
use crate::PeerId;

/// What the relay's engines see of it: a lifecycle, the greeting, and
/// where to report. Reports queue here until the relay loop applies them.
pub(super) struct RelayPort {
    pub(super) signals: Rc<Signals>,
    pub(super) lifecycle: Lifecycle,
    /// XPUB_WELCOME_MSG, as the last adopted connection's options say.
    pub(super) welcome: RefCell<Option<Msg>>,
    pub(super) reports: RefCell<VecDeque<EngineEvent>>,
    /// Monitor events of the connects running here (`connect_port.rs`).
    pub(super) monitor_events: RefCell<VecDeque<MonitorEvent>>,
    /// Connects whose reconnect loop ended (given up, or stopped).
    pub(super) finished_connects: RefCell<Vec<PeerId>>,
    pub(super) next_peer: Cell<u64>,
}

impl RelayPort {
    /// A fresh id for a connection here (connects' ids have
    /// [`CONNECT_ID_BIT`](super::link::CONNECT_ID_BIT) set and never meet these).
    pub(super) fn allocate_peer(&self) -> PeerId {
        let peer = self.next_peer.get();
        self.next_peer.set(peer + 1);
        PeerId(peer)
    }

    /// The connect `id`'s loop ended: the relay finishes its pipe.
    pub(super) fn connect_finished(&self, id: PeerId) {
        self.finished_connects.borrow_mut().push(id);
        self.signals.wake_recv();
    }
}

impl EngineOwner for RelayPort {
    fn lifecycle(&self) -> &Lifecycle {
        &self.lifecycle
    }

    fn greeting(&self) -> Vec<Msg> {
        self.welcome.borrow().iter().cloned().collect()
    }

    fn report(&self, event: EngineEvent) {
        self.reports.borrow_mut().push_back(event);
        self.signals.wake_recv();
    }

    fn admit(&self, request: ZapRequest, policy: &AdmissionPolicy) -> Verdict {
        if let Some(decision) = decide_locally(policy, &request) {
            return Verdict::Now(decision);
        }
        // The ZAP handler lives on the socket's thread, out of reach from an
        // IO core: refuse rather than admit unasked.
        if let Some(suppressed) = crate::log_limit::ZAP_UNREACHABLE.admit() {
            tracing::warn!(
                suppressed,
                "a client on an IO core needs the ZAP handler, which IO cores cannot reach; \
                 refused (use CURVE_AUTHENTICATOR on a socket that spreads its connections)"
            );
        }
        Verdict::Now(internal_refusal())
    }
}
