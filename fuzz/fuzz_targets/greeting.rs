//! Greeting parser: arbitrary bytes fed one split at a time.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use monocoque_zmtp::greeting::{GreetingParser, GreetingStep, PeerGreeting};
use monocoque_zmtp::InputBuffer;

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, rest)) = data.split_first() else { return };
    let step = (ctl as usize % 64) + 1;
    let mut parser = GreetingParser::new();
    let mut input = InputBuffer::new();
    for chunk in rest.chunks(step) {
        input.push(Bytes::copy_from_slice(chunk));
        loop {
            match parser.parse(&mut input) {
                GreetingStep::NeedMore => break,
                GreetingStep::SendRevision | GreetingStep::SendRest { .. } => {}
                GreetingStep::Done(PeerGreeting::V3(g)) => {
                    let _ = g.protocol_version();
                    let _ = g.mechanism_lossy();
                    assert_eq!(parser.received(), 64);
                    return;
                }
                GreetingStep::Done(PeerGreeting::Legacy { .. }) => {
                    assert_eq!(parser.received(), 12);
                    return;
                }
                GreetingStep::Done(PeerGreeting::Unversioned) => {
                    assert_eq!(parser.received(), 0);
                    return;
                }
            }
        }
    }
});
