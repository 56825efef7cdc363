//! The up-front privilege check of ownership (`chown`) and permission
//! (`chmod`) arguments. Parsing them is the extension crate's
//! ([`stowage_peer_ext::Ownership::parse`], [`stowage_peer_ext::parse_mode`]),
//! shared with every caller.

use std::path::Path;

use nix::unistd::{getegid, geteuid, getgroups, Gid};
pub use stowage_peer_ext::{parse_mode, Ownership, MAX_MODE};

use crate::error::PeerError;

/// Fails with [`PeerError::OwnershipNotPermitted`] (kind
/// `PermissionDenied`) if the current process cannot apply `ownership`: a
/// non-root process may only keep its own uid and choose its effective group
/// or one of its supplementary groups. `path` is the directory the files
/// would be written in, for the message.
///
/// The check is on the effective uid only: a non-root process holding
/// `CAP_CHOWN` is refused too.
pub(crate) fn ensure_permitted(ownership: &Ownership, path: &Path) -> Result<(), PeerError> {
    let euid = geteuid();
    if euid.is_root() {
        return Ok(());
    }
    let uid_ok = ownership.uid.is_none_or(|uid| uid == euid.as_raw());
    let gid_ok = ownership.gid.is_none_or(|gid| {
        gid == getegid().as_raw()
            || getgroups()
                .map(|groups| groups.contains(&Gid::from_raw(gid)))
                .unwrap_or(false)
    });
    if uid_ok && gid_ok {
        Ok(())
    } else {
        Err(PeerError::OwnershipNotPermitted {
            path: path.to_path_buf(),
            ownership: *ownership,
            euid: euid.as_raw(),
        })
    }
}

/// Checks a numeric mode given by a caller of the library.
pub(crate) fn check_mode(mode: u32) -> Result<(), PeerError> {
    if mode > MAX_MODE {
        Err(PeerError::invalid(
            "mode",
            format!("{mode:#o}"),
            "greater than 07777",
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_and_own_ids() {
        assert!(check_mode(0o7777).is_ok());
        assert!(check_mode(0o10000).is_err());
        let mine = Ownership::new(Some(geteuid().as_raw()), Some(getegid().as_raw()));
        assert!(ensure_permitted(&mine, Path::new("/tmp")).is_ok());
        assert!(ensure_permitted(&Ownership::default(), Path::new("/tmp")).is_ok());
    }
}
