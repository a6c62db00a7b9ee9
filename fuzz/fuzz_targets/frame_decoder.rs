//! Frame decoder: arbitrary bytes, split at arbitrary points, under a size limit.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use monocoque_zmtp::command::Command;
use monocoque_zmtp::frame_decoder::{FrameDecoder, FrameLimit};
use monocoque_zmtp::InputBuffer;

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, rest)) = data.split_first() else { return };
    let limit = match ctl & 3 {
        0 => FrameLimit::Message(None),
        1 => FrameLimit::Message(Some(300)),
        _ => FrameLimit::Handshake(1024),
    };
    let step = (ctl as usize >> 2) + 1;
    let mut dec = FrameDecoder::new(limit);
    let mut input = InputBuffer::new();
    for chunk in rest.chunks(step) {
        input.push(Bytes::copy_from_slice(chunk));
        loop {
            match dec.decode(&mut input) {
                Ok(Some(frame)) => {
                    if frame.command {
                        let _ = Command::parse(&frame.body);
                    }
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
});
