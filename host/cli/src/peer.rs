//! `stowage peer ...`: Cedar Backup's peer operations through the
//! `stowage.peer/1` extension.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use abi_stable::std_types::{ROption, RSlice, RStr};
use serde_json::json;
use stowage::Error;
use stowage_backend_api::ext::peer::{self, PeerObject};
use stowage_backend_api::{BackendError, ExtensionRef};

use crate::commands::{fail, Context};
use crate::output::{display_name, error_json, exit_status, line, print_json, report_error};

/// Parses `USER:GROUP`, `UID:GID`, `USER` or `:GROUP`; names resolve
/// through the system's user and group databases.
pub fn parse_owner(spec: &str) -> Result<peer::Ownership, String> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let uid = match user {
        "" => None,
        u if u.bytes().all(|b| b.is_ascii_digit()) => Some(
            u.parse::<u32>()
                .map_err(|e| format!("bad uid {u:?}: {e}"))?,
        ),
        u => Some(
            nix::unistd::User::from_name(u)
                .map_err(|e| format!("looking up user {u:?}: {e}"))?
                .ok_or_else(|| format!("no such user: {u:?}"))?
                .uid
                .as_raw(),
        ),
    };
    let gid = match group {
        None | Some("") => None,
        Some(g) if g.bytes().all(|b| b.is_ascii_digit()) => Some(
            g.parse::<u32>()
                .map_err(|e| format!("bad gid {g:?}: {e}"))?,
        ),
        Some(g) => Some(
            nix::unistd::Group::from_name(g)
                .map_err(|e| format!("looking up group {g:?}: {e}"))?
                .ok_or_else(|| format!("no such group: {g:?}"))?
                .gid
                .as_raw(),
        ),
    };
    if uid.is_none() && gid.is_none() {
        return Err(format!("{spec:?} names neither a user nor a group"));
    }
    Ok(peer::Ownership {
        uid: uid.into(),
        gid: gid.into(),
    })
}

/// Parses an octal mode such as `0640` or `640`.
pub fn parse_mode(text: &str) -> Result<u32, String> {
    let mode =
        u32::from_str_radix(text, 8).map_err(|_| format!("{text:?} is not an octal mode"))?;
    if mode > 0o7777 {
        return Err(format!("{text:?} is larger than 07777"));
    }
    Ok(mode)
}

/// What a peer command works with: ownership, mode, the backend and its
/// peer extension.
type PeerSession = (
    peer::Ownership,
    Option<u32>,
    stowage::Backend,
    ExtensionRef<PeerObject>,
);

fn invalid(message: String) -> Error {
    Error::InvalidInput(message)
}

fn from_backend(op: &'static str, url: &str, e: BackendError) -> Error {
    Error::Backend {
        op,
        name: None,
        url: url.to_string(),
        attempts: 1,
        source: e,
    }
}

impl Context {
    /// Opens `url` and fetches its peer extension.
    fn peer(&self, url: &str) -> Result<(stowage::Backend, ExtensionRef<PeerObject>), Error> {
        let backend = self.registry.open(url)?.with_retry(self.policy);
        let ext = backend
            .extension_as::<PeerObject>(peer::ID)
            .map_err(|e| invalid(format!("{}: {e}", backend.url())))?
            .ok_or_else(|| Error::Backend {
                op: "peer",
                name: None,
                url: backend.url(),
                attempts: 1,
                source: BackendError::unsupported(
                    "the stowage.peer/1 extension (use a local-peer:// URL)",
                ),
            })?;
        Ok((backend, ext))
    }

    /// Parses `--owner` and `--mode` (before anything is opened), then
    /// opens the peer.
    fn peer_with(
        &self,
        url: &str,
        owner: Option<&str>,
        mode: Option<&str>,
    ) -> Result<PeerSession, Error> {
        let owner = owner
            .map(parse_owner)
            .transpose()
            .map_err(|m| invalid(format!("--owner: {m}")))?
            .unwrap_or_default();
        let mode = mode
            .map(parse_mode)
            .transpose()
            .map_err(|m| invalid(format!("--mode: {m}")))?;
        let (backend, ext) = self.peer(url)?;
        Ok((owner, mode, backend, ext))
    }

    pub fn peer_stage(
        &self,
        url: &str,
        target: &Path,
        owner: Option<&str>,
        mode: Option<&str>,
    ) -> u8 {
        let (owner, mode, backend, ext) = match self.peer_with(url, owner, mode) {
            Ok(x) => x,
            Err(e) => return fail(&e, self.json),
        };
        let target_bytes = target.as_os_str().as_bytes();
        let report = match ext
            .stage(RSlice::from_slice(target_bytes), owner, ROption::from(mode))
            .into_result()
        {
            Ok(r) => r,
            Err(e) => return fail(&from_backend("stage", &backend.url(), e), self.json),
        };
        let name = |n: &[u8]| OsStr::from_bytes(n).to_string_lossy().into_owned();
        let error = report
            .error
            .clone()
            .into_option()
            .map(|e| from_backend("stage", &backend.url(), e));
        if self.json {
            let mut doc = json!({
                "copied": report.copied,
                "bytes": report.bytes,
                "staged": report.staged.iter().map(|s| json!({"name": name(&s.name), "bytes": s.bytes})).collect::<Vec<_>>(),
                "skipped": report.skipped.iter().map(|s| json!({"name": name(&s.name), "reason": s.reason.as_str()})).collect::<Vec<_>>(),
                "failed": report.failed.iter().map(|f| json!({"name": name(&f.name), "code": exit_status(f.error.code()), "message": f.error.message()})).collect::<Vec<_>>(),
            });
            if let Some(e) = &error {
                doc["error"] = error_json(e);
            }
            print_json(&doc);
        } else {
            for s in report.staged.iter() {
                line(&format!(
                    "staged  {}  ({} bytes)",
                    display_name(&name(&s.name)),
                    s.bytes
                ));
            }
            for s in report.skipped.iter() {
                line(&format!(
                    "skipped {}  ({})",
                    display_name(&name(&s.name)),
                    s.reason
                ));
            }
            for f in report.failed.iter() {
                line(&format!(
                    "failed  {}  ({})",
                    display_name(&name(&f.name)),
                    f.error
                ));
            }
            line(&format!(
                "{} files, {} bytes staged",
                report.copied, report.bytes
            ));
        }
        match error {
            Some(e) => {
                report_error(&e);
                exit_status(e.code())
            }
            None => 0,
        }
    }

    /// Exit 0 when the collect indicator is there, 1 when not.
    pub fn peer_collected(&self, url: &str, indicator: &str) -> u8 {
        let (backend, ext) = match self.peer(url) {
            Ok(x) => x,
            Err(e) => return fail(&e, self.json),
        };
        match ext
            .check_collect_indicator(RStr::from_str(indicator))
            .into_result()
        {
            Ok(present) => {
                if self.json {
                    print_json(&json!({ "indicator": indicator, "present": present }));
                } else {
                    line(if present {
                        "collected"
                    } else {
                        "not collected"
                    });
                }
                u8::from(!present)
            }
            Err(e) => fail(&from_backend("collected", &backend.url(), e), self.json),
        }
    }

    pub fn peer_mark_staged(
        &self,
        url: &str,
        indicator: &str,
        owner: Option<&str>,
        mode: Option<&str>,
    ) -> u8 {
        let (owner, mode, backend, ext) = match self.peer_with(url, owner, mode) {
            Ok(x) => x,
            Err(e) => return fail(&e, self.json),
        };
        match ext
            .write_stage_indicator(RStr::from_str(indicator), owner, ROption::from(mode))
            .into_result()
        {
            Ok(()) => {
                if self.json {
                    print_json(&json!({ "indicator": indicator, "written": true }));
                } else {
                    line(&format!("wrote {indicator}"));
                }
                0
            }
            Err(e) => fail(&from_backend("mark-staged", &backend.url(), e), self.json),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stowage::ErrorCode;

    #[test]
    fn owners_and_modes() {
        let o = parse_owner("0:0").unwrap();
        assert_eq!((o.uid, o.gid), (ROption::RSome(0), ROption::RSome(0)));
        let o = parse_owner("root").unwrap();
        assert_eq!((o.uid, o.gid), (ROption::RSome(0), ROption::RNone));
        let o = parse_owner(":root").unwrap();
        assert_eq!(o.gid, ROption::RSome(0));
        assert!(parse_owner("no-such-user-xyz:root").is_err());
        assert!(parse_owner(":").is_err());
        assert_eq!(parse_mode("0640"), Ok(0o640));
        assert_eq!(parse_mode("755"), Ok(0o755));
        assert!(parse_mode("0999").is_err());
        assert!(parse_mode("17777").is_err());
    }

    #[test]
    fn unknown_error_codes_exit_50() {
        assert_eq!(exit_status(ErrorCode(4242)), 50);
    }
}
