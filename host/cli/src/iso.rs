//! `stowage iso ...`: what only an ISO store can do, through the
//! `stowage.xorriso/1` extension, through its safe client
//! ([`stowage_xorriso_ext::Xorriso`]).

use serde_json::json;
use stowage::Error;
use stowage_backend_api::BackendError;
use stowage_xorriso_ext::Xorriso;

use crate::commands::{fail, Context};
use crate::output::{line, print_json};

fn backend_error(op: &'static str, url: String, source: BackendError) -> Error {
    Error::Backend {
        op,
        name: None,
        url,
        attempts: 1,
        source,
    }
}

impl Context {
    fn iso(&self, url: &str) -> Result<(stowage::Backend, Xorriso), Error> {
        let backend = self.registry.open(url)?.with_retry(self.policy);
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
    pub fn iso_info(&self, url: &str) -> u8 {
        let (backend, ext) = match self.iso(url) {
            Ok(x) => x,
            Err(e) => return fail(&e, self.json),
        };
        let info = match ext.info() {
            Ok(i) => i,
            Err(e) => return fail(&backend_error("info", backend.url(), e), self.json),
        };
        if self.json {
            print_json(&json!({
                "medium": info.medium,
                "sessions": info.sessions,
                "used_bytes": info.used_bytes,
                "free_bytes": info.free_bytes,
                "volume_id": info.volume_id,
                "pending_changes": info.pending_changes,
            }));
        } else {
            line(&format!("medium:          {}", info.medium));
            line(&format!("volume id:       {}", info.volume_id));
            line(&format!("sessions:        {}", info.sessions));
            line(&format!("used bytes:      {}", info.used_bytes));
            line(&format!("free bytes:      {}", info.free_bytes));
            line(&format!("pending changes: {}", info.pending_changes));
        }
        match backend.close() {
            Ok(()) => 0,
            Err(e) => fail(&e, self.json),
        }
    }

    /// Rewrites an image file without its hidden data.
    pub fn iso_compact(&self, url: &str) -> u8 {
        let (backend, ext) = match self.iso(url) {
            Ok(x) => x,
            Err(e) => return fail(&e, self.json),
        };
        let report = match ext.compact() {
            Ok(r) => r,
            Err(e) => return fail(&backend_error("compact", backend.url(), e), self.json),
        };
        if self.json {
            print_json(&json!({
                "bytes_before": report.bytes_before,
                "bytes_after": report.bytes_after,
            }));
        } else {
            line(&format!(
                "compacted: {} -> {} bytes",
                report.bytes_before, report.bytes_after
            ));
        }
        match backend.close() {
            Ok(()) => 0,
            Err(e) => fail(&e, self.json),
        }
    }
}
