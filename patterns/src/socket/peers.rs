//! A socket's pipes, and which of them can be read from and written to now:
//! the part of a socket every type shares.
//!
//! A pipe whose peer is gone stays "dying" until what it sent has been
//! read; [`Peers::refresh_readable`] removes it after its last message and
//! says so, so that the socket type can forget the peer too.

use rustc_hash::{FxHashMap, FxHashSet};

use monocoque_zmtp::Msg;

use super::message_run::MessageRun;
use super::SendRoom;
use crate::pipe::{HeldCredit, Pipe, Queue, Run};
use crate::strategy::{FairQueue, LoadBalancer};
use crate::PeerId;

/// The pipes, the fair queue over the readable ones and the load balancer
/// over those with room.
#[derive(Default)]
pub(crate) struct Peers {
    pipes: FxHashMap<PeerId, Pipe>,
    /// Pipes whose peer is gone but which still hold messages to read.
    dying: FxHashSet<PeerId>,
    fq: FairQueue,
    lb: LoadBalancer,
    /// Who sent the message received last (for its properties).
    last_from: Option<PeerId>,
    /// The message received last was popped from `last_from`'s pipe (not
    /// a ROUTER's notice about it): only such a message has a credit.
    last_popped: bool,
    /// The properties of the last pipe removed as its last message was
    /// taken, which may be the message being received.
    departed: Option<(PeerId, std::sync::Arc<crate::PeerProperties>)>,
}

impl Peers {
    pub(crate) fn get(&self, peer: PeerId) -> Option<&Pipe> {
        self.pipes.get(&peer)
    }

    pub(crate) fn get_mut(&mut self, peer: PeerId) -> Option<&mut Pipe> {
        self.pipes.get_mut(&peer)
    }

    pub(crate) fn contains(&self, peer: PeerId) -> bool {
        self.pipes.contains_key(&peer)
    }

    /// Whether `peer` is here and not on its way out.
    pub(crate) fn is_live(&self, peer: PeerId) -> bool {
        self.pipes.contains_key(&peer) && !self.dying.contains(&peer)
    }

    /// Every pipe, dying ones included.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Pipe> {
        self.pipes.values()
    }

    /// The pipes whose peer is still there.
    pub(crate) fn live(&self) -> impl Iterator<Item = &Pipe> {
        self.pipes
            .values()
            .filter(|p| !self.dying.contains(&p.peer))
    }

    /// Pipes whose peer is there (not dying) and connected.
    pub(crate) fn connected_count(&self) -> usize {
        self.live().filter(|p| p.connected).count()
    }

    /// Every pipe, dying ones (still holding messages) included.
    pub(crate) fn pipe_count(&self) -> usize {
        self.pipes.len()
    }

    /// Pipes that are not dying (PAIR takes one).
    pub(crate) fn live_count(&self) -> usize {
        self.pipes.len() - self.dying.len()
    }

    pub(crate) fn peer_ids(&self) -> Vec<PeerId> {
        self.pipes.keys().copied().collect()
    }

    /// Adds a pipe; `balanced` puts it in the load balancer too (sending to
    /// it is allowed now).
    pub(crate) fn insert(&mut self, pipe: Pipe, balanced: bool) {
        let peer = pipe.peer;
        let readable = !pipe.inbound.borrow().is_empty();
        let full = pipe.outbound.borrow().is_full();
        self.pipes.insert(peer, pipe);
        self.fq.attach(peer);
        self.fq.set_readable(peer, readable);
        if balanced {
            self.lb.attach(peer);
            self.lb.set_full(peer, full);
        }
    }

    /// Sending to `peer` is allowed from now on.
    pub(crate) fn balance(&mut self, peer: PeerId) {
        self.lb.attach(peer);
    }

    /// Sending to `peer` stops (it disconnected, under IMMEDIATE).
    pub(crate) fn unbalance(&mut self, peer: PeerId) {
        self.lb.detach(peer);
    }

    /// The peer is gone: no more sending to it; what it sent is still read.
    /// Returns whether the pipe was removed at once (nothing left to read).
    pub(crate) fn mark_dying(&mut self, peer: PeerId) -> bool {
        if !self.pipes.contains_key(&peer) {
            return false;
        }
        self.lb.detach(peer);
        self.dying.insert(peer);
        self.refresh_readable(peer)
    }

    /// Removes `peer`'s pipe from everything.
    pub(crate) fn remove(&mut self, peer: PeerId) -> Option<Pipe> {
        self.dying.remove(&peer);
        self.lb.detach(peer);
        self.fq.detach(peer);
        self.pipes.remove(&peer)
    }

    /// Re-reads a pipe's inbound state: readable, or finished. A dying pipe
    /// with nothing left is removed; returns whether that happened.
    pub(crate) fn refresh_readable(&mut self, peer: PeerId) -> bool {
        let Some(p) = self.pipes.get(&peer) else {
            return false;
        };
        let (empty, writer_gone) = {
            let q = p.inbound.borrow();
            (q.is_empty(), q.writer_gone())
        };
        if empty && writer_gone && self.dying.contains(&peer) {
            if let Some(pipe) = self.remove(peer) {
                // Its last message may be the one being received.
                self.departed = pipe.properties.map(|p| (peer, p));
            }
            true
        } else {
            self.fq.set_readable(peer, !empty);
            false
        }
    }

    /// Re-reads whether `peer`'s outbound queue has room.
    pub(crate) fn refresh_writable(&mut self, peer: PeerId) {
        if let Some(p) = self.pipes.get(&peer) {
            if !self.dying.contains(&peer) {
                let full = p.outbound.borrow().is_full();
                self.lb.set_full(peer, full);
            }
        }
    }

    /// The properties of the peer the last popped message came from.
    pub(crate) fn last_properties(&self) -> Option<std::sync::Arc<crate::PeerProperties>> {
        let peer = self.last_from?;
        match self.pipes.get(&peer) {
            Some(p) => p.properties.clone(),
            None => self
                .departed
                .as_ref()
                .filter(|(gone, _)| *gone == peer)
                .map(|(_, p)| p.clone()),
        }
    }

    /// Keeps the message popped last counted against its pipe's RCVHWM
    /// until the credit is dropped (`None` if its pipe is gone: nothing
    /// to count against).
    pub(crate) fn hold_last(&self) -> Option<HeldCredit> {
        if !self.last_popped {
            return None;
        }
        let pipe = self.pipes.get(&self.last_from?)?;
        Some(HeldCredit::hold(pipe.inbound.clone()))
    }

    /// A message not popped from a pipe (a ROUTER's notification) is about
    /// `peer`: its properties are the last message's.
    pub(crate) fn set_last_from(&mut self, peer: PeerId) {
        self.last_from = Some(peer);
        self.last_popped = false;
    }

    /// Forgets the last message's sender (a receive is starting).
    pub(crate) fn forget_last(&mut self) {
        self.last_from = None;
        self.last_popped = false;
    }

    /// The next peer with something to read, in fair turn.
    pub(crate) fn next_readable(&mut self) -> Option<PeerId> {
        self.fq.next_peer()
    }

    /// The next peer with room, in turn.
    pub(crate) fn next_writable(&mut self) -> Option<PeerId> {
        self.lb.next_peer()
    }

    /// Whether some peer can take a message now (load-balanced types).
    pub(crate) fn has_writable(&self) -> bool {
        self.lb.with_room() > 0
    }

    /// Takes the next message from `peer`'s inbound queue. The second value
    /// says whether that emptied a dying pipe, which is now removed.
    pub(crate) fn pop_from(&mut self, peer: PeerId) -> (Option<Msg>, bool) {
        let Some(p) = self.pipes.get(&peer) else {
            return (None, false);
        };
        let (msg, more) = {
            let mut q = p.inbound.borrow_mut();
            let msg = q.pop();
            (msg, !q.is_empty())
        };
        if msg.is_some() {
            // A name, not the properties: nothing counted per message.
            self.last_from = Some(peer);
            self.last_popped = true;
        }
        // A queue with more to read stays readable, and a pipe with more to
        // read is not finished: nothing to refresh (the common case of a
        // busy peer, saved on every message).
        if more {
            return (msg, false);
        }
        (msg, self.refresh_readable(peer))
    }

    /// Takes up to `max` messages from `peer`'s inbound queue into `sink`
    /// at once, with the sender's properties, each still counted against
    /// the pipe's RCVHWM until the credit gives it back (`None`: nothing
    /// was queued). The second value says whether that emptied a dying
    /// pipe, which is now removed.
    pub(crate) fn take_run_from(
        &mut self,
        peer: PeerId,
        max: usize,
        mut sink: impl FnMut(&mut Run<'_>, &Option<std::sync::Arc<crate::PeerProperties>>),
    ) -> (Option<HeldCredit>, bool) {
        let Some(p) = self.pipes.get(&peer) else {
            return (None, false);
        };
        let properties = &p.properties;
        let credit = Queue::take_held(&p.inbound, max, |run| sink(run, properties)).map(|(c, _)| c);
        if credit.is_none() {
            return (None, self.refresh_readable(peer));
        }
        self.last_from = Some(peer);
        self.last_popped = false;
        if !p.inbound.borrow().is_empty() {
            return (credit, false);
        }
        (credit, self.refresh_readable(peer))
    }

    /// Queues `msg` to `peer`, keeping the load balancer's view of room true.
    pub(crate) fn push_to(&mut self, peer: PeerId, msg: Msg) {
        if let Some(p) = self.pipes.get(&peer) {
            let mut q = p.outbound.borrow_mut();
            q.push(msg);
            if q.is_full() {
                drop(q);
                self.lb.set_full(peer, true);
            }
        }
    }

    /// Whether exactly one peer can take a message now: the load balancer
    /// then picks that one for every message until its queue fills, and
    /// nothing else changes that during a synchronous run of sends.
    pub(crate) fn one_writable(&self) -> bool {
        self.lb.with_room() == 1
    }

    /// Queues `msg` (if any) to `peer`, then the messages `next` gives while the
    /// queue has room, under one borrow of it: what as many
    /// [`push_to`](Self::push_to)s would do when `peer` is the only peer
    /// with room ([`one_writable`](Self::one_writable)), without a turn of
    /// the load balancer and a lookup of the pipe per message. What `next`
    /// can move without a look goes in runs
    /// ([`MessageRun::move_into`]), the rest one by one. An empty
    /// message from `next` ends the run and is handed back (a send refuses
    /// it). Returns how many went (a message to an unknown peer is dropped
    /// and counted, as `push_to` does) and how the run ended.
    pub(crate) fn push_run_to(
        &mut self,
        peer: PeerId,
        msg: Option<Msg>,
        next: &mut impl MessageRun,
    ) -> (usize, RunEnd) {
        let Some(p) = self.pipes.get(&peer) else {
            return (usize::from(msg.is_some()), RunEnd::Full);
        };
        let mut q = p.outbound.borrow_mut();
        let pressure = monocoque_runtime::recv_pool_pressure();
        let mut msg = msg;
        let mut went = 0;
        loop {
            if let Some(msg) = msg.take() {
                q.push_under(msg, pressure);
                went += 1;
            }
            loop {
                if q.is_full() {
                    drop(q);
                    self.lb.set_full(peer, true);
                    return (went, RunEnd::Full);
                }
                let room = q.room();
                let moved = next.move_into(&mut q, room, pressure);
                if moved == 0 {
                    break;
                }
                went += moved;
            }
            msg = match next.next_message() {
                None => return (went, RunEnd::Dry),
                Some(m) if m.is_empty() => return (went, RunEnd::Refused(m)),
                Some(m) => Some(m),
            };
        }
    }

    /// How many messages the load balancer places now without waiting:
    /// each goes to some peer with room until none has any, so the rooms
    /// add up. Summed over a few of those peers, so that it costs the same
    /// with thousands: a lower bound (`whole` false) where there are more.
    pub(crate) fn balanced_room(&self) -> SendRoom {
        const SAMPLE: usize = 8;
        let mut room = 0usize;
        self.lb.some_with_room(SAMPLE, |peer| {
            room = room.saturating_add(self.room(peer));
        });
        SendRoom {
            room,
            whole: self.lb.with_room() <= SAMPLE,
        }
    }

    /// How many more messages `peer`'s outbound queue takes (0 if the peer
    /// is unknown).
    pub(crate) fn room(&self, peer: PeerId) -> usize {
        self.pipes
            .get(&peer)
            .map_or(0, |p| p.outbound.borrow().room())
    }

    /// Whether `peer`'s outbound queue is at SNDHWM (or the peer is unknown).
    pub(crate) fn is_full(&self, peer: PeerId) -> bool {
        self.pipes
            .get(&peer)
            .is_none_or(|p| p.outbound.borrow().is_full())
    }

    /// Messages queued (inbound, outbound), summed over pipes.
    pub(crate) fn queued(&self) -> (usize, usize) {
        self.pipes.values().fold((0, 0), |(i, o), p| {
            (i + p.inbound.borrow().len(), o + p.outbound.borrow().len())
        })
    }
}

/// How a [`Peers::push_run_to`] ended.
#[derive(Debug)]
pub(crate) enum RunEnd {
    /// `next` gave nothing more.
    Dry,
    /// The peer's queue is at SNDHWM (or the peer was unknown): the next
    /// message is for the load balancer to place, or to wait.
    Full,
    /// `next` gave an empty message, which no send takes.
    Refused(Msg),
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::rc::Rc;

    use bytes::Bytes;
    use monocoque_runtime::PoolPressure;

    use super::*;
    use crate::pipe::{PipeShape, Signals};

    /// Numbered messages, handed over one by one or (`bulk`) in runs.
    struct Numbers {
        left: VecDeque<Msg>,
        bulk: bool,
    }

    impl Numbers {
        fn new(range: std::ops::Range<u8>, bulk: bool) -> Numbers {
            Numbers {
                left: range.map(|i| Msg::from(vec![i])).collect(),
                bulk,
            }
        }
    }

    impl MessageRun for Numbers {
        fn next_message(&mut self) -> Option<Msg> {
            self.left.pop_front()
        }

        fn move_into(&mut self, queue: &mut Queue, max: usize, pressure: PoolPressure) -> usize {
            if !self.bulk {
                return 0;
            }
            let n = max.min(self.left.len());
            for msg in self.left.drain(..n) {
                queue.push_under(msg, pressure);
            }
            n
        }
    }

    /// One peer whose outbound queue takes `sndhwm` messages.
    fn one_peer(sndhwm: usize) -> (Peers, PeerId) {
        let signals = Rc::new(Signals::default());
        let shape = PipeShape {
            sndhwm,
            rcvhwm: 0,
            conflate_in: false,
            conflate_out: false,
        };
        let peer = PeerId(7);
        let mut peers = Peers::default();
        peers.insert(Pipe::new(peer, shape, &signals, "inproc://run"), true);
        (peers, peer)
    }

    /// Message 0, then what `run` gives, pushed to one peer whose queue
    /// takes `sndhwm`: how many went, how the run ended, and what the
    /// queue holds.
    fn push_run(sndhwm: usize, run: &mut Numbers) -> (usize, RunEnd, Vec<u8>) {
        let (mut peers, peer) = one_peer(sndhwm);
        let (went, end) = peers.push_run_to(peer, Some(Msg::from(vec![0u8])), run);
        (went, end, queued(&peers, peer))
    }

    fn queued(peers: &Peers, peer: PeerId) -> Vec<u8> {
        let mut q = peers.get(peer).unwrap().outbound.borrow_mut();
        std::iter::from_fn(|| q.pop()).map(|m| m[0][0]).collect()
    }

    #[test]
    fn a_run_fills_the_peers_queue_to_sndhwm_in_order_one_by_one_or_in_bulk() {
        for bulk in [false, true] {
            let mut run = Numbers::new(1..10, bulk);
            let (went, end, queue) = push_run(5, &mut run);
            assert_eq!(went, 5, "bulk {bulk}");
            assert!(matches!(end, RunEnd::Full), "bulk {bulk}: {end:?}");
            assert_eq!(queue, [0, 1, 2, 3, 4], "bulk {bulk}");
            assert_eq!(run.left.len(), 5, "the rest left to the caller");
            assert_eq!(run.left[0][0][0], 5);
        }
    }

    #[test]
    fn a_run_shorter_than_the_room_runs_dry_and_an_empty_message_is_handed_back() {
        for bulk in [false, true] {
            let mut run = Numbers::new(1..4, bulk);
            let (went, end, queue) = push_run(100, &mut run);
            assert_eq!(went, 4);
            assert!(matches!(end, RunEnd::Dry), "bulk {bulk}: {end:?}");
            assert_eq!(queue, [0, 1, 2, 3]);
        }
        // A source that hands over one by one may give an empty message:
        // it ends the run, handed back.
        let mut run = Numbers::new(1..3, false);
        run.left.push_back(Msg::from(Vec::<Bytes>::new()));
        run.left.push_back(Msg::from(vec![9u8]));
        let (went, end, _) = push_run(100, &mut run);
        assert_eq!(went, 3);
        assert!(matches!(end, RunEnd::Refused(m) if m.is_empty()));
        assert_eq!(run.left.len(), 1, "what follows stays with the caller");
    }
}
