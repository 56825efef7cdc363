//! [`Location`]: the caller's safe handle on `stowage.location/1`.

use stowage_backend_api::{BackendError, ExtensionRef};

use crate::abi::{self, LocationObject};

/// What an open backend can tell about its location.
pub struct Location {
    ext: ExtensionRef<LocationObject>,
}

impl Location {
    /// Looks the extension up through `find`, which is given the id and
    /// fetches it from the backend, typically
    /// `Location::lookup(|id| backend.extension_as(id))` with a
    /// `stowage::Backend`. `Ok(None)` when the backend does not offer it.
    ///
    /// # Errors
    /// Whatever `find` reports, e.g. a layout mismatch.
    pub fn lookup<E>(
        find: impl FnOnce(&'static str) -> Result<Option<ExtensionRef<LocationObject>>, E>,
    ) -> Result<Option<Self>, E> {
        Ok(find(abi::ID)?.map(|ext| Location { ext }))
    }

    /// Whether the location exists now.
    ///
    /// # Errors
    /// The backend could not tell (permission denied on a parent, a dead
    /// connection).
    pub fn exists(&self) -> Result<bool, BackendError> {
        self.ext.exists().into_result()
    }
}
