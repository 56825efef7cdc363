//! `--owner` and `--mode`: the one parser of the ownership and permission
//! arguments of the peer operations, used by the plugin's library API and
//! by every caller of the extension.

use std::fmt;
use std::str::FromStr;

use abi_stable::std_types::ROption;
use nix::unistd::{Group, Uid, User};

use crate::abi;

/// The largest mode accepted: permission bits plus setuid, setgid, sticky.
pub const MAX_MODE: u32 = 0o7777;

/// A rejected `--owner` or `--mode` argument: which one, the text, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {value:?}: {reason}")]
pub struct InvalidSpec {
    /// What was parsed: `ownership`, `user`, `group` or `mode`.
    pub what: &'static str,
    /// The rejected text.
    pub value: String,
    /// What is wrong with it.
    pub reason: String,
}

fn invalid(what: &'static str, value: &str, reason: impl Into<String>) -> InvalidSpec {
    InvalidSpec {
        what,
        value: value.to_string(),
        reason: reason.into(),
    }
}

/// Owner and group to give staged files and written indicators. `None` leaves
/// that part as the creating process makes it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Ownership {
    /// The owner's user id.
    pub uid: Option<u32>,
    /// The group id.
    pub gid: Option<u32>,
}

impl Ownership {
    /// Ownership with these parts.
    pub fn new(uid: Option<u32>, gid: Option<u32>) -> Self {
        Ownership { uid, gid }
    }

    /// Parses the command-line forms, resolving names through the system
    /// user and group databases (NSS: `/etc/passwd`, `/etc/group`, ...), the
    /// way `chown(1)` reads its argument:
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
    /// can be mixed (`backup:100`). `4294967295` is refused: it is the
    /// "leave unchanged" value of `chown(2)`.
    pub fn parse(spec: &str) -> Result<Self, InvalidSpec> {
        let bad = |reason: &str| invalid("ownership", spec, reason);
        if spec.is_empty() {
            return Err(bad("expected USER, USER:GROUP, UID:GID or :GROUP"));
        }
        match spec.split_once(':') {
            None => Ok(Ownership::new(Some(resolve_user(spec)?.0), None)),
            Some(("", "")) => Err(bad("neither a user nor a group is given")),
            Some(("", group)) => Ok(Ownership::new(None, Some(resolve_group(group)?))),
            Some((user, "")) => {
                let (uid, login_gid) = resolve_user(user)?;
                let gid = match login_gid {
                    Some(gid) => gid,
                    None => login_group_of(user, uid)?,
                };
                Ok(Ownership::new(Some(uid), Some(gid)))
            }
            Some((user, group)) => Ok(Ownership::new(
                Some(resolve_user(user)?.0),
                Some(resolve_group(group)?),
            )),
        }
    }

    /// Whether neither owner nor group is to be changed.
    pub fn is_empty(&self) -> bool {
        self.uid.is_none() && self.gid.is_none()
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
    type Err = InvalidSpec;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ownership::parse(s)
    }
}

impl From<Ownership> for abi::Ownership {
    fn from(o: Ownership) -> Self {
        abi::Ownership {
            uid: ROption::from(o.uid),
            gid: ROption::from(o.gid),
        }
    }
}

impl From<abi::Ownership> for Ownership {
    fn from(o: abi::Ownership) -> Self {
        Ownership::new(o.uid.into_option(), o.gid.into_option())
    }
}

/// `Some(id)` if `part` is a numeric id.
fn numeric_id(what: &'static str, part: &str) -> Result<Option<u32>, InvalidSpec> {
    if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    match part.parse::<u32>() {
        Ok(id) if id != u32::MAX => Ok(Some(id)),
        _ => Err(invalid(what, part, "numeric id out of range")),
    }
}

/// Turns a user or group database answer into the entry or an error that
/// names `value`.
fn found<T>(
    what: &'static str,
    value: &str,
    answer: nix::Result<Option<T>>,
    missing: &str,
) -> Result<T, InvalidSpec> {
    match answer {
        Ok(Some(entry)) => Ok(entry),
        Ok(None) => Err(invalid(what, value, missing)),
        Err(errno) => Err(invalid(
            what,
            value,
            format!("{what} database look-up failed: {errno}"),
        )),
    }
}

/// The uid of `user` and, when it was looked up, its login group.
fn resolve_user(user: &str) -> Result<(u32, Option<u32>), InvalidSpec> {
    if let Some(uid) = numeric_id("user", user)? {
        return Ok((uid, None));
    }
    let u = found(
        "user",
        user,
        User::from_name(user),
        "no such user in the system user database",
    )?;
    Ok((u.uid.as_raw(), Some(u.gid.as_raw())))
}

fn resolve_group(group: &str) -> Result<u32, InvalidSpec> {
    if let Some(gid) = numeric_id("group", group)? {
        return Ok(gid);
    }
    let g = found(
        "group",
        group,
        Group::from_name(group),
        "no such group in the system group database",
    )?;
    Ok(g.gid.as_raw())
}

/// The login group of a user given by numeric id (`UID:` form).
fn login_group_of(user: &str, uid: u32) -> Result<u32, InvalidSpec> {
    let u = found(
        "user",
        user,
        User::from_uid(Uid::from_raw(uid)),
        "no such user id in the system user database to take a login group from",
    )?;
    Ok(u.gid.as_raw())
}

/// Parses an octal mode as written for `chmod`: `0640`, `640`, `4755`.
/// Only the digits 0–7 are accepted (no sign such as `+640`, no `0o`
/// prefix, no symbolic modes); the value must not exceed `07777`.
pub fn parse_mode(s: &str) -> Result<u32, InvalidSpec> {
    let bad = |reason: &str| invalid("mode", s, reason);
    if s.is_empty() {
        return Err(bad("expected an octal number such as 0640"));
    }
    if !s.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return Err(bad("not an octal number (digits 0-7 only)"));
    }
    match u32::from_str_radix(s, 8) {
        Ok(mode) if mode <= MAX_MODE => Ok(mode),
        _ => Err(bad("greater than 07777")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            "0999",
            "+640",
            "-1",
            "rw-r--r--",
            " 640",
            "0x1a4",
            "99999999999999999999",
        ] {
            let err = parse_mode(bad).unwrap_err();
            assert_eq!(err.what, "mode");
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
    }

    #[test]
    fn numeric_ownership_is_taken_as_is() {
        let parsed = |s: &str| Ownership::parse(s).unwrap();
        assert_eq!(parsed("1234:5678"), Ownership::new(Some(1234), Some(5678)));
        assert_eq!(parsed("4000000"), Ownership::new(Some(4_000_000), None));
        assert_eq!(parsed(":77"), Ownership::new(None, Some(77)));
        assert!(Ownership::parse("4294967295").is_err());
        assert!(Ownership::parse("99999999999").is_err());
    }

    #[test]
    fn names_through_the_system_databases() {
        // root (uid 0, group root 0) exists on every Unix system.
        for (spec, uid, gid) in [
            ("root", Some(0), None),
            ("root:root", Some(0), Some(0)),
            // USER: and UID: take the login group, as chown(1) does.
            ("root:", Some(0), Some(0)),
            ("0:", Some(0), Some(0)),
            (":root", None, Some(0)),
            ("root:12", Some(0), Some(12)),
        ] {
            assert_eq!(
                spec.parse::<Ownership>().unwrap(),
                Ownership::new(uid, gid),
                "{spec}"
            );
        }
    }

    #[test]
    fn bad_ownership_names_the_bad_part() {
        for (spec, named) in [
            ("", ""),
            (":", ":"),
            ("no-such-user-stowage", "no-such-user-stowage"),
            ("root:no-such-group-stowage", "no-such-group-stowage"),
            (":no-such-group-stowage", "no-such-group-stowage"),
            ("root:root:root", "root:root"),
        ] {
            let err = Ownership::parse(spec).unwrap_err();
            assert!(err.to_string().contains(&format!("{named:?}")), "{err}");
        }
    }

    #[test]
    fn display_and_abi_round_trip() {
        assert_eq!(Ownership::new(Some(1), Some(2)).to_string(), "uid 1, gid 2");
        assert_eq!(Ownership::new(None, Some(2)).to_string(), "gid 2");
        assert_eq!(Ownership::default().to_string(), "unchanged");
        let o = Ownership::new(Some(7), None);
        assert_eq!(Ownership::from(abi::Ownership::from(o)), o);
    }
}
