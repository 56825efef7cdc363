//! `stowage.xorriso/1`: `info` and `compact` offered across the ABI (and
//! `stowage.location/1`), through
//! the extension crate's safe [`XorrisoService`].
//!
//! The extension object holds a weak reference to the backend: it never keeps a closed or
//! dropped backend (and its lock on the medium) alive.

use std::sync::{Arc, Weak};

use stowage_backend_api::{BackendError, Extension};
use stowage_xorriso_ext::{CompactReport, MediumInfo, XorrisoService};

use crate::backend::XorrisoBackend;
use crate::error::to_abi;

struct XorrisoOps {
    backend: Weak<XorrisoBackend>,
}

/// The extension for `backend`.
pub(crate) fn xorriso_extension(backend: Weak<XorrisoBackend>) -> Extension {
    stowage_xorriso_ext::serve(XorrisoOps { backend })
}

impl XorrisoOps {
    fn backend(&self) -> Result<Arc<XorrisoBackend>, BackendError> {
        self.backend.upgrade().ok_or_else(|| {
            BackendError::generic("the xorriso backend behind this extension is gone")
        })
    }
}

/// `stowage.location/1` for `backend`, with the same weak reference.
pub(crate) fn location_extension(backend: Weak<XorrisoBackend>) -> Extension {
    stowage_location_ext::serve(XorrisoOps { backend })
}

impl stowage_location_ext::LocationService for XorrisoOps {
    fn exists(&self) -> Result<bool, BackendError> {
        self.backend()?.location_exists().map_err(to_abi)
    }
}

impl XorrisoService for XorrisoOps {
    fn info(&self) -> Result<MediumInfo, BackendError> {
        let b = self.backend()?;
        let i = b.info().map_err(to_abi)?;
        Ok(MediumInfo {
            medium: b.config().target.display(),
            sessions: i.sessions,
            used_bytes: i.used_bytes,
            free_bytes: i.free_bytes,
            volume_id: i.volume_id.unwrap_or_default(),
            pending_changes: i.pending_changes as u64,
        })
    }

    fn compact(&self) -> Result<CompactReport, BackendError> {
        let s = self.backend()?.compact().map_err(to_abi)?;
        Ok(CompactReport {
            bytes_before: s.old_bytes,
            bytes_after: s.new_bytes,
        })
    }
}
