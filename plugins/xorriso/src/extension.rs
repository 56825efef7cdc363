//! `stowage.xorriso/1`: `info` and `compact` across the ABI.
//!
//! The extension object holds a weak reference to the backend: it never keeps a closed or
//! dropped backend (and its lock on the medium) alive.

use std::sync::{Arc, Weak};

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RResult, RString};
use stowage_backend_api::ext::xorriso::{self, XorrisoV1, XorrisoV1_TO};
use stowage_backend_api::extension::guarded;
use stowage_backend_api::{BackendError, Extension};

use crate::backend::XorrisoBackend;
use crate::plugin::to_abi;

struct XorrisoOps {
    backend: Weak<XorrisoBackend>,
}

/// The extension for `backend`.
pub(crate) fn xorriso_extension(backend: Weak<XorrisoBackend>) -> Extension {
    let object: xorriso::XorrisoObject =
        XorrisoV1_TO::from_value(XorrisoOps { backend }, TD_Opaque);
    Extension::new(object)
}

impl XorrisoOps {
    fn backend(&self) -> Result<Arc<XorrisoBackend>, BackendError> {
        self.backend.upgrade().ok_or_else(|| {
            BackendError::generic("the xorriso backend behind this extension is gone")
        })
    }
}

impl XorrisoV1 for XorrisoOps {
    fn info(&self) -> RResult<xorriso::IsoInfo, BackendError> {
        guarded("info", || {
            let b = self.backend()?;
            let i = b.info().map_err(to_abi)?;
            Ok(xorriso::IsoInfo {
                medium: RString::from(b.config().target.display()),
                sessions: i.sessions,
                used_bytes: i.used_bytes,
                free_bytes: i.free_bytes,
                volume_id: RString::from(i.volume_id.unwrap_or_default()),
                pending_changes: i.pending_changes as u64,
            })
        })
    }

    fn compact(&self) -> RResult<xorriso::CompactReport, BackendError> {
        guarded("compact", || {
            let s = self.backend()?.compact().map_err(to_abi)?;
            Ok(xorriso::CompactReport {
                bytes_before: s.old_bytes,
                bytes_after: s.new_bytes,
            })
        })
    }
}
