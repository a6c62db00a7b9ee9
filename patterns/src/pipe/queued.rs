//! What a queue holds: a message, or a run of messages still in their wire
//! form, which an engine hands over as its session scanned them
//! (`monocoque_zmtp::WireRun`) and whoever takes them decodes.
//!
//! A run counts as the messages it holds wherever a queue counts (HWM,
//! length, reads told to the writer); a reader that takes one message at a
//! time gets the run's next message decoded ([`Queued::pop_message`]), and
//! a receive lane takes the run whole, for the application's thread to
//! decode (`context/receive_lane.rs`).

use monocoque_zmtp::{Msg, WireRun};

/// One entry of a [`Queue`](super::Queue).
#[derive(Debug)]
pub(crate) enum Queued {
    /// A message.
    Msg(Msg),
    /// Whole messages in their wire form; never empty while queued. Boxed
    /// (once a run): an entry stays a message's 32 bytes, and a receive
    /// lane's slot 48 (`context/lane_properties.rs`).
    Wire(Box<WireRun>),
}

impl Queued {
    /// Its first message, and what is left of it (`None`: nothing).
    pub(crate) fn pop_message(self) -> (Option<Msg>, Option<Queued>) {
        match self {
            Queued::Msg(msg) => (Some(msg), None),
            Queued::Wire(mut run) => {
                let msg = run.next_message();
                let rest = (!run.is_empty()).then_some(Queued::Wire(run));
                (msg, rest)
            }
        }
    }

    /// The same, its receive-pool loans replaced by copies.
    pub(crate) fn detached(self) -> Queued {
        match self {
            Queued::Msg(msg) => Queued::Msg(super::detach_from_pool(msg)),
            Queued::Wire(run) if monocoque_runtime::in_recv_pool(run.wire()) => {
                Queued::Wire(Box::new(run.detached()))
            }
            wire => wire,
        }
    }

    /// Its messages, each decoded into frames of their own.
    pub(crate) fn into_messages(self) -> impl Iterator<Item = Msg> {
        let mut rest = Some(self);
        std::iter::from_fn(move || {
            let (msg, left) = rest.take()?.pop_message();
            rest = left;
            msg
        })
    }
}

impl From<Msg> for Queued {
    fn from(msg: Msg) -> Self {
        Queued::Msg(msg)
    }
}
