//! Where a run of sends comes from: the messages a send lane hands its
//! socket in one go ([`Socket::offer_each`](super::Socket::offer_each)).

use monocoque_runtime::PoolPressure;
use monocoque_zmtp::Msg;

use crate::pipe::Queue;

/// The messages of a run of sends, oldest first.
pub(crate) trait MessageRun {
    /// The next message, if any, for the socket to look at and place.
    fn next_message(&mut self) -> Option<Msg>;

    /// Moves up to `max` of the next messages straight into `queue` (the
    /// only peer's, with room for them), where this source knows each is
    /// one a send takes (not empty), with no look at any of them on the
    /// way. Returns how many; 0 when none can go this way now (the caller
    /// then asks [`next_message`](Self::next_message)).
    fn move_into(&mut self, queue: &mut Queue, max: usize, pressure: PoolPressure) -> usize;
}
