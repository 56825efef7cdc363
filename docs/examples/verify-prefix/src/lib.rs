//! `verify+`: a stowage prefix that keeps a SHA-256 checksum beside every
//! object and checks it on every get.
//!
//! `verify+file:///srv/backup` stores each object `NAME` in
//! `file:///srv/backup` unchanged, plus a small checksum object (the
//! "sidecar", see `sidecar.rs`). A get whose content does not match its
//! checksum fails with "validation failed" and leaves the destination
//! alone. This is the worked example of `docs/writing-a-backend.md`.
//!
//! The crate has three parts:
//!
//! * this file: the plugin's registration (descriptor, `open`, export);
//! * `backend.rs`: the backend, i.e. the `Backend` trait implemented by
//!   forwarding to the inner backend;
//! * `sidecar.rs`: naming, writing and checking the checksum objects.

mod backend;
mod sidecar;

use stowage_backend_api::location::redact;
use stowage_backend_api::{
    Backend, BackendError, Descriptor, Host, OpenRequest, Plugin, Result, export_plugin,
};

use crate::backend::Verify;

/// The plugin: a descriptor and a factory of backends. A unit type is
/// enough; all state lives in the backends it opens.
pub struct VerifyPlugin;

impl Plugin for VerifyPlugin {
    /// What `stowage plugins` shows. Must be plain data, the same on every
    /// call: the host may cache it.
    fn descriptor() -> Descriptor {
        Descriptor::new(
            "verify",
            env!("CARGO_PKG_VERSION"),
            "a SHA-256 checksum beside every object, checked on get",
        )
        .prefix(
            "verify",
            "verify+URL: stores each object and its checksum in URL; get fails when they disagree",
        )
    }

    /// Called for every `verify+...` URL. For a prefix, `request.url` is the
    /// URL without `verify+`, which we open through the host: it may be any
    /// scheme, or more prefixes (`verify+wrap+file:///x`).
    fn open(request: OpenRequest<'_>, host: &Host) -> Result<Box<dyn Backend>> {
        if !request.as_prefix {
            // Cannot happen (the descriptor declares no scheme), but a
            // clear error costs nothing.
            return Err(BackendError::invalid_input(format!(
                "verify: {} is a prefix (verify+URL), not a scheme",
                request.handler
            )));
        }
        // URLs can carry passwords: only ever log them redacted.
        log::debug!("verify: opening {}", redact(request.url));
        let inner = host.open_backend(request.url)?;
        Ok(Box::new(Verify::new(inner)))
    }
}

// The symbol the host looks for. Exactly once per plugin crate.
export_plugin!(VerifyPlugin);
