//! ZMQ_IPC_FILTER_UID, _GID and _PID: the processes a bound ipc endpoint
//! takes connections from. With no filter set every peer is taken; with
//! some, the peer's credentials (SO_PEERCRED, as the kernel recorded them
//! at its connect) must match one: its user, its group, its process, or
//! a group whose member list names its user. Any other connection is
//! closed as it is accepted, before a byte is read, as libzmq's are.

use std::collections::BTreeSet;
use std::io;

use monocoque_runtime::net::PeerCredentials;

/// The filters of one socket's ipc endpoints.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct IpcFilters {
    uids: BTreeSet<u32>,
    gids: BTreeSet<u32>,
    pids: BTreeSet<u32>,
}

/// Which of the three lists an option changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IpcFilterKind {
    Uid,
    Gid,
    Pid,
}

impl IpcFilters {
    /// Adds `id` to the `kind` list, or clears that list (`None`).
    pub(crate) fn set(&mut self, kind: IpcFilterKind, id: Option<u32>) {
        let list = match kind {
            IpcFilterKind::Uid => &mut self.uids,
            IpcFilterKind::Gid => &mut self.gids,
            IpcFilterKind::Pid => &mut self.pids,
        };
        match id {
            Some(id) => {
                list.insert(id);
            }
            None => list.clear(),
        }
    }

    /// Whether a peer whose credentials `credentials` reads is let in.
    /// Nothing is read when no filter is set; a peer whose credentials
    /// cannot be read is refused when some are.
    pub(crate) fn admits(&self, credentials: impl FnOnce() -> io::Result<PeerCredentials>) -> bool {
        if self.uids.is_empty() && self.gids.is_empty() && self.pids.is_empty() {
            return true;
        }
        let Ok(peer) = credentials() else {
            return false;
        };
        self.uids.contains(&peer.uid)
            || self.gids.contains(&peer.gid)
            || self.pids.contains(&peer.pid)
            // The slow check last: it asks the system's user database.
            || peer.user_in_any_group(self.gids.iter().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEER: PeerCredentials = PeerCredentials {
        pid: 4242,
        uid: 1000,
        gid: 100,
    };

    fn filters(set: &[(IpcFilterKind, Option<u32>)]) -> IpcFilters {
        let mut f = IpcFilters::default();
        for &(kind, id) in set {
            f.set(kind, id);
        }
        f
    }

    #[test]
    fn no_filter_takes_everyone_without_asking() {
        let f = IpcFilters::default();
        assert!(f.admits(|| panic!("credentials read with no filter set")));
    }

    #[test]
    fn any_one_matching_list_lets_the_peer_in() {
        use IpcFilterKind::*;
        assert!(filters(&[(Uid, Some(1000))]).admits(|| Ok(PEER)));
        assert!(filters(&[(Gid, Some(100))]).admits(|| Ok(PEER)));
        assert!(filters(&[(Pid, Some(4242))]).admits(|| Ok(PEER)));
        assert!(filters(&[(Uid, Some(1)), (Pid, Some(4242))]).admits(|| Ok(PEER)));
        assert!(!filters(&[(Uid, Some(1001))]).admits(|| Ok(PEER)));
        assert!(!filters(&[(Pid, Some(4243))]).admits(|| Ok(PEER)));
        // An id no user or group has: the member lists do not name it.
        assert!(!filters(&[(Gid, Some(u32::MAX - 7))]).admits(|| Ok(PEER)));
    }

    #[test]
    fn none_clears_its_own_list_only() {
        use IpcFilterKind::*;
        let f = filters(&[(Uid, Some(1)), (Pid, Some(4242)), (Uid, None)]);
        assert!(f.admits(|| Ok(PEER)));
        let f = filters(&[(Uid, Some(1)), (Pid, Some(4242)), (Pid, None)]);
        assert!(!f.admits(|| Ok(PEER)));
        let f = filters(&[(Uid, Some(1)), (Uid, None)]);
        assert_eq!(f, IpcFilters::default());
    }

    #[test]
    fn unreadable_credentials_are_refused_when_filtering() {
        let f = filters(&[(IpcFilterKind::Uid, Some(1000))]);
        assert!(!f.admits(|| Err(io::Error::from(io::ErrorKind::InvalidInput))));
    }
}
