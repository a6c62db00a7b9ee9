//! Who is at the other end of a Unix domain socket: the process, user and
//! group the kernel recorded when it connected (SO_PEERCRED), and whether
//! that user is a member of a group. What `ipc://` endpoints filter their
//! peers by (libzmq's ZMQ_IPC_FILTER_UID, _GID and _PID).

use std::ffi::CStr;
use std::io;
use std::os::fd::RawFd;

/// The credentials of a Unix domain socket's peer, as of its `connect`.
///
/// ```no_run
/// # async fn demo(stream: monocoque_runtime::net::UnixStream) -> std::io::Result<()> {
/// let peer = stream.peer_credentials()?;
/// if peer.uid == 0 || peer.user_in_group(27) {
///     // a root process, or one whose user is in group 27
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerCredentials {
    /// The connecting process.
    pub pid: u32,
    /// Its effective user.
    pub uid: u32,
    /// Its effective group.
    pub gid: u32,
}

/// Largest buffer the user and group lookups grow to: a group listing
/// more members than this holds is treated as not listing the user.
const LOOKUP_BUFFER_MAX: usize = 1 << 20;

impl PeerCredentials {
    /// SO_PEERCRED of the connected Unix socket `fd`.
    pub(crate) fn of(fd: RawFd) -> io::Result<PeerCredentials> {
        let mut cred = libc::ucred {
            pid: 0,
            uid: 0,
            gid: 0,
        };
        let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
        // SAFETY: `cred` is a live ucred and `len` its size; the kernel
        // writes at most `len` bytes into it and validates the descriptor.
        let rc = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_PEERCRED,
                (&mut cred as *mut libc::ucred).cast(),
                &mut len,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(PeerCredentials {
            pid: cred.pid as u32,
            uid: cred.uid,
            gid: cred.gid,
        })
    }

    /// Whether the group database lists the peer's user by name among the
    /// members of group `gid` (its supplementary groups, as libzmq checks
    /// them: `getpwuid`, then `getgrgid`'s member list). A user or group
    /// the databases do not know is not a member.
    ///
    /// The lookups go through the C library's name service, which may read
    /// files or ask a directory server: they block the calling thread.
    pub fn user_in_group(&self, gid: u32) -> bool {
        self.user_in_any_group([gid])
    }

    /// Whether the group database lists the peer's user among the members
    /// of any of `gids` (the user looked up once; see
    /// [`user_in_group`](Self::user_in_group)).
    pub fn user_in_any_group(&self, gids: impl IntoIterator<Item = u32>) -> bool {
        let mut gids = gids.into_iter().peekable();
        if gids.peek().is_none() {
            return false;
        }
        let Some(user) = user_name(self.uid) else {
            return false;
        };
        gids.any(|gid| group_lists(gid, &user))
    }
}

/// Runs a `get*_r` lookup with a buffer that grows while the C library says
/// it is too small (ERANGE); `None` if the entry does not exist, the lookup
/// failed, or the buffer would pass [`LOOKUP_BUFFER_MAX`].
fn with_lookup_buffer<T>(mut lookup: impl FnMut(&mut [u8]) -> Result<Option<T>, i32>) -> Option<T> {
    let mut buffer = vec![0u8; 1024];
    loop {
        match lookup(&mut buffer) {
            Ok(found) => return found,
            Err(libc::ERANGE) if buffer.len() < LOOKUP_BUFFER_MAX => {
                let grown = buffer.len() * 2;
                buffer.resize(grown, 0);
            }
            Err(_) => return None,
        }
    }
}

/// The login name of user `uid`.
fn user_name(uid: u32) -> Option<Vec<u8>> {
    with_lookup_buffer(|buffer| {
        // SAFETY: an all-zero passwd is a valid value (null pointers, zero
        // ids); getpwuid_r fills it.
        let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: `entry`, `buffer` (with its length) and `found` are live
        // for the call; getpwuid_r writes the strings into `buffer` only.
        let rc = unsafe {
            libc::getpwuid_r(
                uid,
                &mut entry,
                buffer.as_mut_ptr().cast(),
                buffer.len(),
                &mut found,
            )
        };
        if rc != 0 {
            return Err(rc);
        }
        if found.is_null() || entry.pw_name.is_null() {
            return Ok(None);
        }
        // SAFETY: on success pw_name points at a NUL-terminated string in
        // `buffer`, which is still borrowed here.
        let name = unsafe { CStr::from_ptr(entry.pw_name) };
        Ok(Some(name.to_bytes().to_vec()))
    })
}

/// Whether group `gid`'s member list names `user`.
fn group_lists(gid: u32, user: &[u8]) -> bool {
    with_lookup_buffer(|buffer| {
        // SAFETY: an all-zero group is a valid value (null pointers, zero
        // id); getgrgid_r fills it.
        let mut entry: libc::group = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::group = std::ptr::null_mut();
        // SAFETY: `entry`, `buffer` (with its length) and `found` are live
        // for the call; getgrgid_r writes the strings and the member array
        // into `buffer` only.
        let rc = unsafe {
            libc::getgrgid_r(
                gid,
                &mut entry,
                buffer.as_mut_ptr().cast(),
                buffer.len(),
                &mut found,
            )
        };
        if rc != 0 {
            return Err(rc);
        }
        if found.is_null() || entry.gr_mem.is_null() {
            return Ok(Some(false));
        }
        let mut member = entry.gr_mem;
        // SAFETY: on success gr_mem is a null-terminated array of pointers
        // to NUL-terminated strings, all inside `buffer`, still borrowed.
        unsafe {
            while !(*member).is_null() {
                if CStr::from_ptr(*member).to_bytes() == user {
                    return Ok(Some(true));
                }
                member = member.add(1);
            }
        }
        Ok(Some(false))
    })
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn a_socket_pair_reports_this_process() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let cred = PeerCredentials::of(a.as_raw_fd()).unwrap();
        assert_eq!(cred.pid, std::process::id());
        // SAFETY: getuid/getgid take nothing and cannot fail.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        assert_eq!((cred.uid, cred.gid), (uid, gid));
    }

    #[test]
    fn a_descriptor_that_is_not_a_unix_socket_is_an_error() {
        let file = std::fs::File::open("/dev/null").unwrap();
        assert!(PeerCredentials::of(file.as_raw_fd()).is_err());
    }

    #[test]
    fn membership_follows_the_group_database() {
        // SAFETY: getuid takes nothing and cannot fail.
        let uid = unsafe { libc::getuid() };
        let cred = PeerCredentials {
            pid: 1,
            uid,
            gid: 0,
        };
        let user = user_name(uid).expect("this process's user has a name");
        // Every group /etc/group lists (the C library's "files" source)
        // answers as its member list says.
        let groups = std::fs::read_to_string("/etc/group").unwrap_or_default();
        for line in groups.lines() {
            let fields: Vec<&str> = line.split(':').collect();
            let [_, _, gid, members] = fields[..] else {
                continue;
            };
            let Ok(gid) = gid.parse::<u32>() else {
                continue;
            };
            let listed = members.split(',').any(|m| m.as_bytes() == user);
            assert_eq!(cred.user_in_group(gid), listed, "group {gid}: {line}");
        }
        // A group nobody has lists nobody; a user nobody is has no groups.
        assert!(!cred.user_in_group(u32::MAX - 7));
        let stranger = PeerCredentials {
            uid: u32::MAX - 7,
            ..cred
        };
        assert!(user_name(stranger.uid).is_none());
        assert!(!stranger.user_in_group(0));
    }
}
