//! Ownership (`chown`) and permission (`chmod`) arguments: parsing of the
//! command-line forms and the up-front privilege check (reference §12.6).

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use nix::unistd::{getegid, geteuid, getgroups, Gid, Group, Uid, User};
use serde::Serialize;

use crate::error::PeerError;

/// The largest mode accepted: permission bits plus setuid, setgid, sticky.
pub const MAX_MODE: u32 = 0o7777;

/// Owner and group to give staged files and written indicators. `None` leaves
/// that part as the creating process makes it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Ownership {
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

impl Ownership {
    pub fn new(uid: Option<u32>, gid: Option<u32>) -> Self {
        Ownership { uid, gid }
    }

    /// Parses the command-line forms, resolving names through the system
    /// user and group databases (NSS: `/etc/passwd`, `/etc/group`, ...):
    ///
    /// | form          | uid                | gid                          |
    /// |---------------|--------------------|------------------------------|
    /// | `USER:GROUP`  | user's             | group's                      |
    /// | `UID:GID`     | as given           | as given                     |
    /// | `USER`        | user's             | unchanged                    |
    /// | `USER:`       | user's             | user's login group (as chown)|
    /// | `:GROUP`      | unchanged          | group's                      |
    ///
    /// A part made only of ASCII digits is a numeric id and is taken as is,
    /// without a database look-up (it need not exist there); names and ids
    /// can be mixed (`backup:100`).
    pub fn parse(spec: &str) -> Result<Self, PeerError> {
        let invalid = |reason: &str| PeerError::invalid("ownership", spec, reason);
        if spec.is_empty() {
            return Err(invalid("expected USER, USER:GROUP, UID:GID or :GROUP"));
        }
        match spec.split_once(':') {
            None => Ok(Ownership {
                uid: Some(resolve_user(spec)?.0),
                gid: None,
            }),
            Some(("", "")) => Err(invalid("neither a user nor a group is given")),
            Some(("", group)) => Ok(Ownership {
                uid: None,
                gid: Some(resolve_group(group)?),
            }),
            Some((user, "")) => {
                let (uid, login_gid) = resolve_user(user)?;
                let gid = match login_gid {
                    Some(gid) => gid,
                    None => login_group_of(user, uid)?,
                };
                Ok(Ownership {
                    uid: Some(uid),
                    gid: Some(gid),
                })
            }
            Some((user, group)) => Ok(Ownership {
                uid: Some(resolve_user(user)?.0),
                gid: Some(resolve_group(group)?),
            }),
        }
    }

    /// Whether neither owner nor group is to be changed.
    pub fn is_empty(&self) -> bool {
        self.uid.is_none() && self.gid.is_none()
    }

    /// Fails with [`PeerError::OwnershipNotPermitted`] (kind
    /// `PermissionDenied`) if the current process cannot apply this
    /// ownership: a non-root process may only keep its own uid and choose its
    /// effective group or one of its supplementary groups. `path` is the
    /// directory the files would be written in, for the message.
    ///
    /// The check is on the effective uid only: a non-root process holding
    /// `CAP_CHOWN` is refused too.
    pub fn ensure_permitted(&self, path: &Path) -> Result<(), PeerError> {
        let euid = geteuid();
        if euid.is_root() {
            return Ok(());
        }
        let uid_ok = self.uid.is_none_or(|uid| uid == euid.as_raw());
        let gid_ok = self.gid.is_none_or(|gid| {
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
                ownership: *self,
                euid: euid.as_raw(),
            })
        }
    }
}

impl fmt::Display for Ownership {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.uid, self.gid) {
            (Some(u), Some(g)) => write!(f, "uid {u}, gid {g}"),
            (Some(u), None) => write!(f, "uid {u}"),
            (None, Some(g)) => write!(f, "gid {g}"),
            (None, None) => f.write_str("unchanged"),
        }
    }
}

impl FromStr for Ownership {
    type Err = PeerError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ownership::parse(s)
    }
}

/// `Some(id)` if `part` is a numeric id. `u32::MAX` is refused: it is the
/// "leave unchanged" value of `chown(2)`.
fn numeric_id(what: &str, part: &str) -> Result<Option<u32>, PeerError> {
    if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    match part.parse::<u32>() {
        Ok(id) if id != u32::MAX => Ok(Some(id)),
        _ => Err(PeerError::invalid(what, part, "numeric id out of range")),
    }
}

/// The uid of `user` and, when it was looked up, its login group.
fn resolve_user(user: &str) -> Result<(u32, Option<u32>), PeerError> {
    if let Some(uid) = numeric_id("user", user)? {
        return Ok((uid, None));
    }
    match User::from_name(user) {
        Ok(Some(u)) => Ok((u.uid.as_raw(), Some(u.gid.as_raw()))),
        Ok(None) => Err(PeerError::invalid(
            "user",
            user,
            "no such user in the system user database",
        )),
        Err(errno) => Err(PeerError::invalid(
            "user",
            user,
            format!("user database look-up failed: {errno}"),
        )),
    }
}

fn resolve_group(group: &str) -> Result<u32, PeerError> {
    if let Some(gid) = numeric_id("group", group)? {
        return Ok(gid);
    }
    match Group::from_name(group) {
        Ok(Some(g)) => Ok(g.gid.as_raw()),
        Ok(None) => Err(PeerError::invalid(
            "group",
            group,
            "no such group in the system group database",
        )),
        Err(errno) => Err(PeerError::invalid(
            "group",
            group,
            format!("group database look-up failed: {errno}"),
        )),
    }
}

/// The login group of a user given by numeric id (`UID:` form).
fn login_group_of(user: &str, uid: u32) -> Result<u32, PeerError> {
    match User::from_uid(Uid::from_raw(uid)) {
        Ok(Some(u)) => Ok(u.gid.as_raw()),
        Ok(None) => Err(PeerError::invalid(
            "user",
            user,
            "no such user id in the system user database to take a login group from",
        )),
        Err(errno) => Err(PeerError::invalid(
            "user",
            user,
            format!("user database look-up failed: {errno}"),
        )),
    }
}

/// Parses an octal mode as written for `chmod`: `0640`, `640`, `4755`.
/// Only the digits 0–7 are accepted (no sign, no `0o` prefix, no symbolic
/// modes); the value must not exceed `07777`.
pub fn parse_mode(s: &str) -> Result<u32, PeerError> {
    let invalid = |reason: &str| PeerError::invalid("mode", s, reason);
    if s.is_empty() {
        return Err(invalid("expected an octal number such as 0640"));
    }
    if !s.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return Err(invalid("not an octal number (digits 0-7 only)"));
    }
    match u32::from_str_radix(s, 8) {
        Ok(mode) if mode <= MAX_MODE => Ok(mode),
        _ => Err(invalid("greater than 07777")),
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
    use crate::error::ErrorKind;

    #[test]
    fn modes() {
        assert_eq!(parse_mode("0640").unwrap(), 0o640);
        assert_eq!(parse_mode("640").unwrap(), 0o640);
        assert_eq!(parse_mode("0").unwrap(), 0);
        assert_eq!(parse_mode("7777").unwrap(), 0o7777);
        assert_eq!(parse_mode("00004755").unwrap(), 0o4755);
        for bad in [
            "",
            "10000",
            "17777",
            "0o640",
            "648",
            "+640",
            "-1",
            "rw-r--r--",
            " 640",
            "0x1a4",
            "99999999999999999999",
        ] {
            let err = parse_mode(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad}");
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
        assert!(check_mode(0o7777).is_ok());
        assert!(check_mode(0o10000).is_err());
    }

    #[test]
    fn numeric_ownership_is_taken_as_is() {
        assert_eq!(
            Ownership::parse("1234:5678").unwrap(),
            Ownership::new(Some(1234), Some(5678))
        );
        assert_eq!(
            Ownership::parse("4000000").unwrap(),
            Ownership::new(Some(4_000_000), None)
        );
        assert_eq!(
            Ownership::parse(":77").unwrap(),
            Ownership::new(None, Some(77))
        );
        assert!(Ownership::parse("4294967295").is_err());
        assert!(Ownership::parse("99999999999").is_err());
    }

    #[test]
    fn names_through_the_system_databases() {
        // root (uid 0, group root 0) exists on every Unix system.
        assert_eq!(
            Ownership::parse("root").unwrap(),
            Ownership::new(Some(0), None)
        );
        assert_eq!(
            Ownership::parse("root:root").unwrap(),
            Ownership::new(Some(0), Some(0))
        );
        assert_eq!(
            Ownership::parse("root:").unwrap(),
            Ownership::new(Some(0), Some(0))
        );
        assert_eq!(
            Ownership::parse("0:").unwrap(),
            Ownership::new(Some(0), Some(0))
        );
        assert_eq!(
            Ownership::parse(":root").unwrap(),
            Ownership::new(None, Some(0))
        );
        assert_eq!(
            Ownership::parse("root:12").unwrap(),
            Ownership::new(Some(0), Some(12))
        );
        assert_eq!(
            "root:root".parse::<Ownership>().unwrap(),
            Ownership::new(Some(0), Some(0))
        );
    }

    #[test]
    fn bad_ownership() {
        for (spec, named) in [
            ("", ""),
            (":", ":"),
            ("no-such-user-stowage", "no-such-user-stowage"),
            ("root:no-such-group-stowage", "no-such-group-stowage"),
            (":no-such-group-stowage", "no-such-group-stowage"),
            ("root:root:root", "root:root"),
        ] {
            let err = Ownership::parse(spec).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{spec}");
            assert!(err.to_string().contains(&format!("{named:?}")), "{err}");
        }
    }

    #[test]
    fn display() {
        assert_eq!(Ownership::new(Some(1), Some(2)).to_string(), "uid 1, gid 2");
        assert_eq!(Ownership::new(None, Some(2)).to_string(), "gid 2");
        assert_eq!(Ownership::default().to_string(), "unchanged");
    }

    #[test]
    fn own_ids_are_always_permitted() {
        let mine = Ownership::new(Some(geteuid().as_raw()), Some(getegid().as_raw()));
        assert!(mine.ensure_permitted(Path::new("/tmp")).is_ok());
        assert!(Ownership::default()
            .ensure_permitted(Path::new("/tmp"))
            .is_ok());
    }
}
