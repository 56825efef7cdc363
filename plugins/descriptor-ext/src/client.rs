//! [`Descriptor`]: the caller's safe handle on `stowage.descriptor/1`.

use std::os::fd::{AsRawFd, BorrowedFd};

use abi_stable::std_types::RStr;
use stowage_backend_api::{BackendError, ExtensionRef};

use crate::abi::{self, DescriptorObject};

/// The descriptor puts of an open backend.
pub struct Descriptor {
    ext: ExtensionRef<DescriptorObject>,
}

impl Descriptor {
    /// Looks the extension up through `find`, which is given the id and
    /// fetches it from the backend, typically
    /// `Descriptor::lookup(|id| backend.extension_as(id))`. `Ok(None)`
    /// when the backend does not offer it.
    ///
    /// # Errors
    /// Whatever `find` reports, e.g. a layout mismatch.
    pub fn lookup<E>(
        find: impl FnOnce(&'static str) -> Result<Option<ExtensionRef<DescriptorObject>>, E>,
    ) -> Result<Option<Self>, E> {
        Ok(find(abi::ID)?.map(|ext| Descriptor { ext }))
    }

    /// Stores what `source` holds from its current position to its end
    /// as `name` (validated by the caller, as for `put`); returns the
    /// bytes stored. `source` stays open; its position moves.
    ///
    /// # Errors
    /// As `put`: reading the source, permissions, space.
    pub fn put_from(&self, name: &str, source: BorrowedFd<'_>) -> Result<u64, BackendError> {
        self.ext
            .put_from(RStr::from_str(name), source.as_raw_fd())
            .into_result()
    }
}
