//! `stowage peer ...`: Cedar Backup's peer operations through the
//! `stowage.peer/1` extension, through its safe client
//! ([`stowage_peer_ext::Peer`]). `--owner` and `--mode` are parsed by the
//! extension crate, the one parser the plugin uses too.

use std::ffi::OsStr;
use std::path::Path;

use serde_json::json;
use stowage::Error;
use stowage::ErrorCode;
use stowage_backend_api::BackendError;
use stowage_peer_ext::{parse_mode, Ownership, Peer, StageOutcome};

use crate::context::Context;
use crate::document;
use crate::output::{display_name, error_object, exit_status, report_error};
use crate::report::Report;

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

/// The `stowage peer stage` flags that are plugin parameters: the
/// extension's `stage` has no such arguments (its ABI is frozen), the
/// backend's configuration has.
#[derive(Debug, Clone, Copy, Default)]
pub struct StageFlags {
    /// `--allow-hardlinks`: `allow_hardlinks=yes`.
    pub allow_hardlinks: bool,
    /// `--skip-changed`: `changed=skip`.
    pub skip_changed: bool,
}

/// `url` with the plugin parameter `param` (`key=value`) added, unless the
/// URL already has exactly that parameter.
fn with_param(url: &str, param: &str) -> String {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    if query.split('&').any(|p| p == param) {
        return url.to_string();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{param}")
}

/// Opens `url` and fetches its peer extension.
fn open(ctx: &Context, url: &str) -> Result<(stowage::Backend, Peer), Error> {
    let backend = ctx.registry.open(url)?.with_retry(ctx.policy);
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

/// Parses `--owner` and `--mode` (before anything is opened), then opens
/// the peer.
fn open_with(
    ctx: &Context,
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
    let (backend, ext) = open(ctx, url)?;
    Ok((owner, mode, backend, ext))
}

/// Copies the peer's collected files into `target`.
pub fn stage(
    ctx: &Context,
    url: &str,
    target: &Path,
    owner: Option<&str>,
    mode: Option<&str>,
    flags: StageFlags,
    report: &mut Report,
) {
    let mut url = url.to_string();
    if flags.allow_hardlinks {
        url = with_param(&url, "allow_hardlinks=yes");
    }
    if flags.skip_changed {
        url = with_param(&url, "changed=skip");
    }
    let (owner, mode, backend, ext) = match open_with(ctx, &url, owner, mode) {
        Ok(x) => x,
        Err(e) => return report.failed(&e),
    };
    let staged = match ext.stage(target, owner, mode) {
        Ok(r) => r,
        Err(e) => return report.failed(&from_backend("stage", &backend.url(), e)),
    };
    let name = |n: &OsStr| n.to_string_lossy().into_owned();
    report.set_data(json!({
        "copied": staged.copied,
        "bytes": staged.bytes,
        "staged": staged.staged.iter().map(|s| json!({"name": name(&s.name), "bytes": s.bytes})).collect::<Vec<_>>(),
        "skipped": staged.skipped.iter().map(|s| json!({"name": name(&s.name), "reason": s.reason})).collect::<Vec<_>>(),
        "failed": staged.failed.iter().map(|f| json!({"name": name(&f.name), "code": exit_status(f.error.code()), "message": f.error.message()})).collect::<Vec<_>>(),
    }));
    for s in staged.staged.iter() {
        report.text(&format!(
            "staged  {}  ({} bytes)",
            display_name(&name(&s.name)),
            s.bytes
        ));
    }
    for s in staged.skipped.iter() {
        report.text(&format!(
            "skipped {}  ({})",
            display_name(&name(&s.name)),
            s.reason
        ));
    }
    for f in staged.failed.iter() {
        report.text(&format!(
            "failed  {}  ({})",
            display_name(&name(&f.name)),
            f.error
        ));
    }
    report.text(&format!(
        "{} files, {} bytes staged",
        staged.copied, staged.bytes
    ));
    if let Some(e) = staged.error.clone() {
        report.failed(&from_backend("stage", &backend.url(), e));
    } else {
        skipped_changed(&staged, report);
    }
}

/// A stage that succeeded except for files left out because they kept
/// changing (`--skip-changed`) is a partial result, reported as the CLI
/// reports failed items: the status of their error (a changed file is
/// "validation failed", 56), and an `"items failed"` error naming them.
fn skipped_changed(staged: &StageOutcome, report: &mut Report) {
    let changed: Vec<String> = staged
        .skipped
        .iter()
        .filter(|s| s.is_changed())
        .map(|s| format!("{:?}", s.name.to_string_lossy()))
        .collect();
    if changed.is_empty() {
        return;
    }
    let status = exit_status(ErrorCode::VALIDATION_FAILED);
    let total = staged.staged.len() + changed.len();
    let message = format!(
        "{} of {total} files not staged, skipped because they kept changing while being staged: {}",
        changed.len(),
        changed.join(", ")
    );
    report_error(&message);
    report.set_status(status);
    document::set_error(error_object(status, "items failed", &message));
}

/// Whether the collect indicator is there; returns `false` when it is
/// not (the caller's exit 1).
pub fn collected(ctx: &Context, url: &str, indicator: &str, report: &mut Report) -> bool {
    let (backend, ext) = match open(ctx, url) {
        Ok(x) => x,
        Err(e) => {
            report.failed(&e);
            return true;
        }
    };
    match ext.check_collect_indicator(indicator) {
        Ok(present) => {
            report.set_data(json!({ "indicator": indicator, "present": present }));
            report.text(if present {
                "collected"
            } else {
                "not collected"
            });
            present
        }
        Err(e) => {
            report.failed(&from_backend("collected", &backend.url(), e));
            true
        }
    }
}

/// Writes the stage indicator.
pub fn mark_staged(
    ctx: &Context,
    url: &str,
    indicator: &str,
    owner: Option<&str>,
    mode: Option<&str>,
    report: &mut Report,
) {
    let (owner, mode, backend, ext) = match open_with(ctx, url, owner, mode) {
        Ok(x) => x,
        Err(e) => return report.failed(&e),
    };
    match ext.write_stage_indicator(indicator, owner, mode) {
        Ok(()) => {
            report.set_data(json!({ "indicator": indicator, "written": true }));
            report.text(&format!("wrote {indicator}"));
        }
        Err(e) => report.failed(&from_backend("mark-staged", &backend.url(), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_error_codes_exit_50() {
        assert_eq!(exit_status(ErrorCode(4242)), 50);
    }

    #[test]
    fn plugin_parameters_are_added_once() {
        assert_eq!(
            with_param("local-peer://p/c", "changed=skip"),
            "local-peer://p/c?changed=skip"
        );
        assert_eq!(
            with_param("local-peer://p/c?allow_hardlinks=yes", "changed=skip"),
            "local-peer://p/c?allow_hardlinks=yes&changed=skip"
        );
        assert_eq!(
            with_param("local-peer://p/c?changed=skip", "changed=skip"),
            "local-peer://p/c?changed=skip"
        );
        // A contradicting parameter is left for the plugin to refuse.
        assert_eq!(
            with_param("local-peer://p/c?changed=fail", "changed=skip"),
            "local-peer://p/c?changed=fail&changed=skip"
        );
    }
}
