//! A receive lane's messages carry their sender's properties only where
//! they change.
//!
//! Every received message has its sender's properties (libzmq's
//! `zmq_msg_gets`), an `Arc` shared by all of that peer's messages. Cloned
//! into the lane for each message and dropped by the handle for each, it
//! cost a reference-count update on each thread per message, on a count
//! both threads write (a cache line that moves between their CPUs). Here
//! the pump ([`PropertiesStamp`]) marks a message [`Properties::Same`] when
//! its sender's properties are the ones of the message before it in the
//! lane, and the handle ([`PropertiesTrack`]) keeps the last ones it saw;
//! both go through the lane's messages in the same order, every one of
//! them (a skipped message, such as a dropped pipe's, is still tracked).
//!
//! ```text
//!  pump:   m1 New(A)   m2 Same   m3 New(B)   m4 Same      (A, B: Arcs)
//!  handle: m1 → A      m2 → A    m3 → B      m4 → B
//! ```

use std::sync::Arc;

#[cfg(test)]
use monocoque_zmtp::Msg;

use crate::pipe::Queued;
use crate::PeerProperties;

/// A message's sender's properties as the receive lane carries them.
pub(super) enum Properties {
    /// The same as the message before it in the lane (or none, for the
    /// lane's first message).
    Same,
    /// New ones, from this message on.
    New(Option<Arc<PeerProperties>>),
}

/// A message in the receive lane, or a run of them in their wire form
/// (`pipe/queued.rs`), with the sender's properties.
pub(super) type LaneItem = (Queued, Properties);

/// The pump's side: the properties it put in the lane last.
#[derive(Default)]
pub(super) struct PropertiesStamp {
    last: Option<Arc<PeerProperties>>,
}

/// Whether `a` and `b` are the same properties (the same `Arc`, or none).
fn same(a: Option<&Arc<PeerProperties>>, b: Option<&Arc<PeerProperties>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        (None, None) => true,
        _ => false,
    }
}

impl PropertiesStamp {
    /// How `properties` go into the lane with the next message: `Same`
    /// without touching the `Arc` when they are the last ones.
    pub(super) fn stamp(&mut self, properties: Option<&Arc<PeerProperties>>) -> Properties {
        if same(properties, self.last.as_ref()) {
            return Properties::Same;
        }
        self.last = properties.cloned();
        Properties::New(self.last.clone())
    }

    /// The message just stamped did not go into the lane (it was full or
    /// closed): what the handle tracks is not `last`, so the next message
    /// says its properties in full: `last` becomes properties no message
    /// has (a new `Arc`, made only here, off the per-message path).
    #[cold]
    #[inline(never)]
    pub(super) fn lost(&mut self) {
        self.last = Some(Arc::new(PeerProperties::default()));
    }
}

/// The handle's side: the properties of the lane's message taken last.
#[derive(Default)]
pub(super) struct PropertiesTrack {
    last: Option<Arc<PeerProperties>>,
}

impl PropertiesTrack {
    /// The next item taken from the lane, with its sender's properties.
    pub(super) fn resolve(
        &mut self,
        (item, properties): LaneItem,
    ) -> (Queued, Option<Arc<PeerProperties>>) {
        if let Properties::New(p) = properties {
            self.last = p;
        }
        (item, self.last.clone())
    }

    /// The properties of the item taken last.
    pub(super) fn last(&self) -> &Option<Arc<PeerProperties>> {
        &self.last
    }

    /// The next item taken from the lane, its sender's properties put in
    /// `slot` (untouched when they are there already: no reference-count
    /// update for a stream from one peer).
    #[inline]
    pub(super) fn resolve_into(
        &mut self,
        (item, properties): LaneItem,
        slot: &mut Option<Arc<PeerProperties>>,
    ) -> Queued {
        if let Properties::New(p) = properties {
            self.last = p;
        }
        self.fill(slot);
        item
    }

    /// Puts the properties of the item taken last in `slot`, unless they
    /// are there already.
    #[inline]
    pub(super) fn fill(&self, slot: &mut Option<Arc<PeerProperties>>) {
        if !same(slot.as_ref(), self.last.as_ref()) {
            slot.clone_from(&self.last);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(id: &'static [u8]) -> Option<Arc<PeerProperties>> {
        Some(Arc::new(PeerProperties::inproc(
            monocoque_zmtp::SocketType::Push,
            bytes::Bytes::from_static(id),
        )))
    }

    #[test]
    fn each_message_resolves_to_its_own_senders_properties() {
        let (a, b) = (peer(b"a"), peer(b"b"));
        let senders = [a.clone(), a.clone(), None, b.clone(), b.clone(), a.clone()];
        let mut stamp = PropertiesStamp::default();
        let items: Vec<LaneItem> = senders
            .iter()
            .map(|p| (Queued::Msg(Msg::from("m")), stamp.stamp(p.as_ref())))
            .collect();
        let news = items
            .iter()
            .filter(|(_, p)| matches!(p, Properties::New(_)))
            .count();
        assert_eq!(news, 4, "a, none, b, a: each change once");
        // Taken in order, half through each path, with one slot kept across.
        let mut track = PropertiesTrack::default();
        let mut slot = None;
        for (i, item) in items.into_iter().enumerate() {
            let got = if i % 2 == 0 {
                track.resolve(item).1
            } else {
                track.resolve_into(item, &mut slot);
                slot.clone()
            };
            assert!(same(got.as_ref(), senders[i].as_ref()), "message {i}");
        }
    }

    #[test]
    fn after_a_lost_stamp_the_next_message_says_its_properties() {
        let a = peer(b"a");
        let mut stamp = PropertiesStamp::default();
        assert!(matches!(stamp.stamp(a.as_ref()), Properties::New(_)));
        stamp.lost();
        assert!(matches!(stamp.stamp(a.as_ref()), Properties::New(_)));
        assert!(matches!(stamp.stamp(a.as_ref()), Properties::Same));
    }

    /// receive_lane.rs sizes the lane at 512 slots of 56 bytes (48 until an
    /// entry could be a run in wire form: a message's 32 bytes have no
    /// spare value left to tell a boxed run by).
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_lane_item_is_56_bytes_at_most() {
        assert!(std::mem::size_of::<LaneItem>() <= 56);
    }

    #[test]
    fn a_first_message_without_properties_is_same_as_none() {
        let mut stamp = PropertiesStamp::default();
        assert!(matches!(stamp.stamp(None), Properties::Same));
        let mut track = PropertiesTrack::default();
        let mut slot = peer(b"old");
        track.resolve_into((Queued::Msg(Msg::from("m")), Properties::Same), &mut slot);
        assert!(slot.is_none(), "the slot follows the lane, not its past");
    }
}
