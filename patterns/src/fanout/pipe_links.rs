//! The socket's end of its links to IO cores, for every socket type but the
//! publishers (whose end is [`Fanout`](super::Fanout)): PUSH, PULL, DEALER,
//! ROUTER, REQ, REP, PAIR, SUB and XSUB.
//!
//! To the socket, a peer on an IO core is an ordinary pipe: the load
//! balancer, the fair queue, routing ids, HWMs and departures work on it
//! unchanged. Its far end is not an engine but the core's owner task
//! (`pipe_owner_task.rs`), which moves the pipe's messages over the rings
//! within the peer's windows (`window.rs`). The socket itself only hands
//! accepted connections out, reads the figures, and says when it closes.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::os::fd::OwnedFd;
use std::rc::Rc;
use std::time::Duration;

use monocoque_runtime::spsc;

use super::link::{adopt_round_robin, Control};
use super::IoCoreStatistics;
use crate::host::StreamKind;
use crate::options::Options;
use crate::pipe::Signals;

/// One IO core's link, as the socket and that core's owner task share it
/// (both on the socket's thread).
#[derive(Debug)]
pub(crate) struct PipeLink {
    /// Adopt, sent by the socket (a full ring keeps the connection here).
    pub(crate) control: RefCell<spsc::Sender<Control>>,
    /// Everything else for the control ring (the socket's Close, the owner
    /// task's Credit and Release), which must not be lost to a full ring:
    /// the owner task sends them as the ring has room.
    pub(crate) outbox: RefCell<VecDeque<Control>>,
    /// The owner task's signals: the remote pipes' edges, and its wake-up
    /// when the socket queues something in `outbox`.
    pub(crate) signals: Rc<Signals>,
    /// Peers connected through this core now.
    pub(crate) connections: Cell<usize>,
    /// Messages handed to this core for its peers.
    pub(crate) handed: Cell<u64>,
    /// The socket closed: a peer that joins now is released at once, and
    /// the peers it let go of still get what it queued to them.
    pub(crate) closed: Cell<bool>,
}

impl PipeLink {
    pub(crate) fn new(control: spsc::Sender<Control>) -> PipeLink {
        PipeLink {
            control: RefCell::new(control),
            outbox: RefCell::new(VecDeque::new()),
            signals: Rc::new(Signals::default()),
            connections: Cell::new(0),
            handed: Cell::new(0),
            closed: Cell::new(false),
        }
    }
}

/// A spread socket's links, one per IO core.
#[derive(Debug)]
pub(crate) struct PipeLinks {
    links: Vec<Rc<PipeLink>>,
    /// The core the next accepted connection goes to.
    next: usize,
}

impl PipeLinks {
    pub(crate) fn new(links: Vec<Rc<PipeLink>>) -> PipeLinks {
        PipeLinks { links, next: 0 }
    }

    /// Hands an accepted connection to the next IO core (round-robin), or
    /// gives it back if every core's control ring is full.
    pub(crate) fn adopt(
        &mut self,
        fd: OwnedFd,
        stream: StreamKind,
        endpoint: &str,
        options: &Options,
    ) -> Result<(), OwnedFd> {
        let links = &self.links;
        adopt_round_robin(
            links.len(),
            &mut self.next,
            fd,
            stream,
            endpoint,
            options,
            |core, c| links[core].control.borrow_mut().try_send(c),
        )
    }

    /// Figures per IO core (nothing is ever dropped on these links: a full
    /// ring or window makes the socket's own pipe wait, as a full pipe does).
    pub(crate) fn statistics(&self) -> Vec<IoCoreStatistics> {
        self.links
            .iter()
            .map(|l| IoCoreStatistics {
                connections: l.connections.get(),
                handed: l.handed.get(),
                dropped: 0,
            })
            .collect()
    }

    /// The socket closed: each core's connections finish within `linger`
    /// once their owner task has passed on what the socket queued to them.
    pub(crate) fn close(self, linger: Option<Duration>) {
        for link in self.links {
            link.closed.set(true);
            link.outbox
                .borrow_mut()
                .push_back(Control::Close { linger });
            link.signals.wake_send();
        }
    }
}
