//! `stowage peer ...`: Cedar Backup's peer operations through the
//! `stowage.peer/1` extension, through its safe client
//! ([`stowage_peer_ext::Peer`]). `--owner` and `--mode` are parsed by the
//! extension crate, the one parser the plugin uses too.

use std::ffi::OsStr;
use std::path::Path;

use serde_json::json;
use stowage::Error;
use stowage_backend_api::BackendError;
use stowage_peer_ext::{parse_mode, Ownership, Peer};

use crate::commands::{fail, Context};
use crate::output::{display_name, error_json, exit_status, line, print_json, report_error};

/// What a peer command works with: ownership, mode, the backend and its
/// peer extension.
type PeerSession = (Ownership, Option<u32>, stowage::Backend, Peer);

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

/// `url` with the plugin parameter `allow_hardlinks=yes` added: the
/// extension's `stage` has no such argument (its ABI is frozen), the
/// backend's configuration has.
fn with_hardlinks_allowed(url: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}allow_hardlinks=yes")
}

impl Context {
    /// Opens `url` and fetches its peer extension.
    fn peer(&self, url: &str) -> Result<(stowage::Backend, Peer), Error> {
        let backend = self.registry.open(url)?.with_retry(self.policy);
        let ext = Peer::lookup(|id| backend.extension_as(id))
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
            .map(Ownership::parse)
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
        allow_hardlinks: bool,
    ) -> u8 {
        let url = if allow_hardlinks {
            with_hardlinks_allowed(url)
        } else {
            url.to_string()
        };
        let (owner, mode, backend, ext) = match self.peer_with(&url, owner, mode) {
            Ok(x) => x,
            Err(e) => return fail(&e, self.json),
        };
        let report = match ext.stage(target, owner, mode) {
            Ok(r) => r,
            Err(e) => return fail(&from_backend("stage", &backend.url(), e), self.json),
        };
        let name = |n: &OsStr| n.to_string_lossy().into_owned();
        let error = report
            .error
            .clone()
            .map(|e| from_backend("stage", &backend.url(), e));
        if self.json {
            let mut doc = json!({
                "copied": report.copied,
                "bytes": report.bytes,
                "staged": report.staged.iter().map(|s| json!({"name": name(&s.name), "bytes": s.bytes})).collect::<Vec<_>>(),
                "skipped": report.skipped.iter().map(|s| json!({"name": name(&s.name), "reason": s.reason})).collect::<Vec<_>>(),
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
        match ext.check_collect_indicator(indicator) {
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
        match ext.write_stage_indicator(indicator, owner, mode) {
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
    fn unknown_error_codes_exit_50() {
        assert_eq!(exit_status(ErrorCode(4242)), 50);
    }
}
