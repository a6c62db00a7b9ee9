//! ZMTP commands: one file per command, each with its grammar in its doc comment.
//!
//! ```text
//! command      = command-size command-body
//! command-body = command-name command-data
//! command-name = OCTET 1*255command-name-char   ; length-prefixed, no separator
//! ```
//!
//! (RFC 37's prose mentions a NUL separator; its ABNF and libzmq use the length
//! prefix shown here.) Names are compared byte for byte, as libzmq does.

mod cancel;
mod error;
mod hello;
mod initiate;
mod ping;
mod pong;
mod ready;
mod subscribe;
mod welcome;

pub use cancel::Cancel;
pub use error::ErrorCommand;
pub use hello::Hello;
pub use initiate::Initiate;
pub use ping::Ping;
pub use pong::Pong;
pub use ready::Ready;
pub use subscribe::Subscribe;
pub use welcome::Welcome;

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::transmit_queue::TransmitQueue;

/// A decoded command.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// READY (NULL and PLAIN handshakes).
    Ready(Ready),
    /// ERROR (any handshake; fatal).
    Error(ErrorCommand),
    /// SUBSCRIBE (ZMTP 3.1).
    Subscribe(Subscribe),
    /// CANCEL (ZMTP 3.1).
    Cancel(Cancel),
    /// PING (ZMTP 3.1 heartbeat).
    Ping(Ping),
    /// PONG (ZMTP 3.1 heartbeat reply).
    Pong(Pong),
    /// HELLO (PLAIN client to server).
    Hello(Hello),
    /// WELCOME (PLAIN server to client).
    Welcome(Welcome),
    /// INITIATE (PLAIN client to server).
    Initiate(Initiate),
    /// A command this implementation does not know. libzmq ignores these once the
    /// handshake is done; during the handshake they are an error.
    Unknown {
        /// The command's name.
        name: Bytes,
        /// The command's data.
        data: Bytes,
    },
}

impl Command {
    /// Parses a command frame body.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use monocoque_zmtp::command::{Command, Subscribe};
    /// let body = Bytes::from_static(b"\x09SUBSCRIBEtopic");
    /// assert_eq!(Command::parse(&body).unwrap(), Command::Subscribe(Subscribe { topic: Bytes::from_static(b"topic") }));
    /// ```
    pub fn parse(body: &Bytes) -> Result<Command> {
        let (name, data) = split_name(body)?;
        Ok(match &name[..] {
            Ready::NAME => Command::Ready(Ready::parse(data)?),
            ErrorCommand::NAME => Command::Error(ErrorCommand::parse(data)?),
            Subscribe::NAME => Command::Subscribe(Subscribe::parse(data)),
            Cancel::NAME => Command::Cancel(Cancel::parse(data)),
            Ping::NAME => Command::Ping(Ping::parse(data)?),
            Pong::NAME => Command::Pong(Pong::parse(data)),
            Hello::NAME => Command::Hello(Hello::parse(data)?),
            Welcome::NAME => Command::Welcome(Welcome::parse(data)?),
            Initiate::NAME => Command::Initiate(Initiate::parse(data)?),
            _ => Command::Unknown { name, data },
        })
    }

    /// The command's name as sent.
    pub fn name(&self) -> &[u8] {
        match self {
            Command::Ready(_) => Ready::NAME,
            Command::Error(_) => ErrorCommand::NAME,
            Command::Subscribe(_) => Subscribe::NAME,
            Command::Cancel(_) => Cancel::NAME,
            Command::Ping(_) => Ping::NAME,
            Command::Pong(_) => Pong::NAME,
            Command::Hello(_) => Hello::NAME,
            Command::Welcome(_) => Welcome::NAME,
            Command::Initiate(_) => Initiate::NAME,
            Command::Unknown { name, .. } => name,
        }
    }

    /// Appends the command as one command frame.
    pub fn encode(&self, out: &mut TransmitQueue) {
        match self {
            Command::Ready(c) => c.encode(out),
            Command::Error(c) => c.encode(out),
            Command::Subscribe(c) => c.encode(out),
            Command::Cancel(c) => c.encode(out),
            Command::Ping(c) => c.encode(out),
            Command::Pong(c) => c.encode(out),
            Command::Hello(c) => c.encode(out),
            Command::Welcome(c) => c.encode(out),
            Command::Initiate(c) => c.encode(out),
            Command::Unknown { name, data } => {
                out.push_frame_parts(true, &[&[name.len() as u8], name, data])
            }
        }
    }

    /// The command name lossily decoded, for error messages.
    pub fn name_lossy(&self) -> String {
        String::from_utf8_lossy(self.name()).into_owned()
    }
}

/// Splits a command body into its name and data (both zero-copy slices).
pub fn split_name(body: &Bytes) -> Result<(Bytes, Bytes)> {
    let Some(&name_len) = body.first() else {
        return Err(Error::MalformedCommandFrame(
            "an empty command frame has no name",
        ));
    };
    let name_len = name_len as usize;
    if body.len() < 1 + name_len {
        return Err(Error::MalformedCommandFrame(
            "the command name runs past the end of the frame",
        ));
    }
    Ok((body.slice(1..1 + name_len), body.slice(1 + name_len..)))
}

/// Writes a command frame: name length, name, then the data parts.
/// A command's body (length-prefixed name, then data) as one buffer, for a
/// mechanism that boxes commands after the handshake.
pub(crate) fn command_body(name: &[u8], data: &[&[u8]]) -> Vec<u8> {
    let len = 1 + name.len() + data.iter().map(|d| d.len()).sum::<usize>();
    let mut body = Vec::with_capacity(len);
    body.push(name.len() as u8);
    body.extend_from_slice(name);
    for d in data {
        body.extend_from_slice(d);
    }
    body
}

pub(crate) fn encode_command(out: &mut TransmitQueue, name: &[u8], data: &[&[u8]]) {
    match data {
        [] => out.push_frame_parts(true, &[&[name.len() as u8], name]),
        [a] => out.push_frame_parts(true, &[&[name.len() as u8], name, a]),
        [a, b] => out.push_frame_parts(true, &[&[name.len() as u8], name, a, b]),
        _ => {
            let mut parts: Vec<&[u8]> = Vec::with_capacity(data.len() + 2);
            let len = [name.len() as u8];
            parts.push(&len);
            parts.push(name);
            parts.extend_from_slice(data);
            out.push_frame_parts(true, &parts);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_name_refuses_short_frames() {
        assert!(split_name(&Bytes::new()).is_err());
        assert!(split_name(&Bytes::from_static(b"\x05READ")).is_err());
        let (n, d) = split_name(&Bytes::from_static(b"\x04PINGxy")).unwrap();
        assert_eq!((&n[..], &d[..]), (&b"PING"[..], &b"xy"[..]));
    }

    #[test]
    fn unknown_commands_are_kept_whole() {
        let c = Command::parse(&Bytes::from_static(b"\x04JOINgroup")).unwrap();
        assert_eq!(c.name(), b"JOIN");
        let mut q = TransmitQueue::new();
        c.encode(&mut q);
        assert_eq!(&q.take_all()[..], b"\x04\x0a\x04JOINgroup");
    }
}
