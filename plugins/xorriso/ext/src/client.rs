//! [`Xorriso`]: the caller's safe handle on a backend's `stowage.xorriso/1`.

use stowage_backend_api::{BackendError, ExtensionRef};

use crate::abi::{self, CompactReport, XorrisoObject};
use crate::info::MediumInfo;

/// The ISO operations of an open `xorriso` backend.
pub struct Xorriso {
    ext: ExtensionRef<XorrisoObject>,
}

impl Xorriso {
    /// Looks the extension up through `find`, which is given the id and
    /// fetches it from the backend, typically
    /// `Xorriso::lookup(|id| backend.extension_as(id))` with a
    /// `stowage::Backend`. `Ok(None)` when the backend does not offer it.
    ///
    /// # Errors
    /// Whatever `find` reports, e.g. a layout mismatch.
    pub fn lookup<E>(
        find: impl FnOnce(&'static str) -> Result<Option<ExtensionRef<XorrisoObject>>, E>,
    ) -> Result<Option<Self>, E> {
        Ok(find(abi::ID)?.map(|ext| Xorriso { ext }))
    }

    /// Sessions, space and volume id of the medium.
    ///
    /// # Errors
    /// The medium cannot be read, or the backend is gone.
    pub fn info(&self) -> Result<MediumInfo, BackendError> {
        self.ext.info().into_result().map(MediumInfo::from)
    }

    /// Rewrites an image file without hidden (deleted or replaced) data.
    ///
    /// # Errors
    /// Devices answer unsupported; the rewrite can fail like any write.
    pub fn compact(&self) -> Result<CompactReport, BackendError> {
        self.ext.compact().into_result()
    }
}
