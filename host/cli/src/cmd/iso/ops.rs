//! `stowage iso ...`: what only an ISO store can do, through the
//! `stowage.xorriso/1` extension, through its safe client
//! ([`stowage_xorriso_ext::Xorriso`]).

use serde_json::json;
use stowage::Error;
use stowage_backend_api::BackendError;
use stowage_xorriso_ext::Xorriso;

use crate::context::Context;
use crate::report::Report;

fn backend_error(op: &'static str, url: String, source: BackendError) -> Error {
    Error::Backend {
        op,
        name: None,
        url,
        attempts: 1,
        source,
    }
}

/// Opens `url` and fetches its xorriso extension.
fn open(ctx: &Context, url: &str) -> Result<(stowage::Backend, Xorriso), Error> {
    let backend = ctx.registry.open(url)?.with_retry(ctx.policy);
    let ext = Xorriso::lookup(|id| backend.extension_as(id))
        .map_err(|e| Error::InvalidInput(format!("{}: {e}", backend.url())))?
        .ok_or_else(|| {
            backend_error(
                "iso",
                backend.url(),
                BackendError::unsupported(
                    "the stowage.xorriso/1 extension (use an xorriso:// URL)",
                ),
            )
        })?;
    Ok((backend, ext))
}

/// Sessions, space and volume id of the medium.
pub fn info(ctx: &Context, url: &str, report: &mut Report) {
    let (backend, ext) = match open(ctx, url) {
        Ok(x) => x,
        Err(e) => return report.failed(&e),
    };
    let info = match ext.info() {
        Ok(i) => i,
        Err(e) => return report.failed(&backend_error("info", backend.url(), e)),
    };
    report.set_data(json!({
        "medium": info.medium,
        "sessions": info.sessions,
        "used_bytes": info.used_bytes,
        "free_bytes": info.free_bytes,
        "volume_id": info.volume_id,
        "pending_changes": info.pending_changes,
    }));
    report.text(&format!("medium:          {}", info.medium));
    report.text(&format!("volume id:       {}", info.volume_id));
    report.text(&format!("sessions:        {}", info.sessions));
    report.text(&format!("used bytes:      {}", info.used_bytes));
    report.text(&format!("free bytes:      {}", info.free_bytes));
    report.text(&format!("pending changes: {}", info.pending_changes));
    report.close(&backend);
}

/// Rewrites an image file without its hidden data.
pub fn compact(ctx: &Context, url: &str, report: &mut Report) {
    let (backend, ext) = match open(ctx, url) {
        Ok(x) => x,
        Err(e) => return report.failed(&e),
    };
    let sizes = match ext.compact() {
        Ok(r) => r,
        Err(e) => return report.failed(&backend_error("compact", backend.url(), e)),
    };
    report.set_data(json!({
        "bytes_before": sizes.bytes_before,
        "bytes_after": sizes.bytes_after,
    }));
    report.text(&format!(
        "compacted: {} -> {} bytes",
        sizes.bytes_before, sizes.bytes_after
    ));
    report.close(&backend);
}
