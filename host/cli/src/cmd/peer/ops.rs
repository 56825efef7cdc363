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

use crate::context::Context;
use crate::output::{display_name, exit_status};
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

/// `url` with the plugin parameter `allow_hardlinks=yes` added: the
/// extension's `stage` has no such argument (its ABI is frozen), the
/// backend's configuration has.
fn with_hardlinks_allowed(url: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}allow_hardlinks=yes")
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
    allow_hardlinks: bool,
    report: &mut Report,
) {
    let url = if allow_hardlinks {
        with_hardlinks_allowed(url)
    } else {
        url.to_string()
    };
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
    }
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
    use stowage::ErrorCode;

    #[test]
    fn unknown_error_codes_exit_50() {
        assert_eq!(exit_status(ErrorCode(4242)), 50);
    }
}
