//! `ipc://*`: a bind to a path the socket makes up, as libzmq does (a fresh
//! directory under the temporary directory, holding the socket file), read
//! back with `last_endpoint`; the directory goes when the endpoint closes.

use std::io;
use std::path::{Path, PathBuf};

/// Prefix of the directories made for `ipc://*`, so that only those are
/// removed with their endpoint.
const DIR_PREFIX: &str = "monocoque-ipc-";

/// A fresh, private directory (mode 0700) and the socket path inside it.
pub(crate) fn generated_path() -> io::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let base = std::env::temp_dir();
    for _ in 0..16 {
        let name = format!("{DIR_PREFIX}{}-{:016x}", std::process::id(), random());
        let dir = base.join(name);
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir.join("socket")),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "no fresh directory for ipc://* after 16 tries",
    ))
}

/// A random number: std's hasher keys are drawn from the OS per instance.
fn random() -> u64 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(std::time::Instant::now())
}

/// Removes the directory `generated_path` made for `socket`, if it made
/// one (best effort: the socket file is removed, and reported, apart).
pub(crate) fn remove_generated_dir(socket: &Path) {
    let Some(dir) = socket.parent() else { return };
    let ours = dir.parent() == Some(std::env::temp_dir().as_path())
        && dir
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(DIR_PREFIX));
    if ours {
        let _ = std::fs::remove_dir(dir);
    }
}
