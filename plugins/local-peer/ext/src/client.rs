//! [`Peer`]: the caller's safe handle on a backend's `stowage.peer/1`.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use abi_stable::std_types::{ROption, RSlice, RStr};
use stowage_backend_api::{BackendError, ExtensionRef};

use crate::abi::{self, PeerObject};
use crate::owner::Ownership;

use crate::outcome::StageOutcome;

/// The peer operations of an open `local-peer` backend.
pub struct Peer {
    ext: ExtensionRef<PeerObject>,
}

impl Peer {
    /// Looks the extension up through `find`, which is given the id and
    /// fetches it from the backend, typically
    /// `Peer::lookup(|id| backend.extension_as(id))` with a
    /// `stowage::Backend`. `Ok(None)` when the backend does not offer it.
    ///
    /// # Errors
    /// Whatever `find` reports, e.g. a layout mismatch.
    pub fn lookup<E>(
        find: impl FnOnce(&'static str) -> Result<Option<ExtensionRef<PeerObject>>, E>,
    ) -> Result<Option<Self>, E> {
        Ok(find(abi::ID)?.map(|ext| Peer { ext }))
    }

    /// Copies every regular file of the collect directory (not recursive,
    /// indicators excluded) into the absolute, existing `target_dir`,
    /// applying `owner`, then `mode`.
    ///
    /// # Errors
    /// Only when nothing was attempted (bad directories, a forbidden
    /// ownership); a stage that failed part-way is an outcome whose `error`
    /// is set.
    pub fn stage(
        &self,
        target_dir: &Path,
        owner: Ownership,
        mode: Option<u32>,
    ) -> Result<StageOutcome, BackendError> {
        self.ext
            .stage(
                RSlice::from_slice(target_dir.as_os_str().as_bytes()),
                owner.into(),
                ROption::from(mode),
            )
            .into_result()
            .map(StageOutcome::from)
    }

    /// Whether the collect indicator `name` exists as a regular file.
    ///
    /// # Errors
    /// The name is invalid or the collect directory cannot be read.
    pub fn check_collect_indicator(&self, name: &str) -> Result<bool, BackendError> {
        self.ext
            .check_collect_indicator(RStr::from_str(name))
            .into_result()
    }

    /// Creates (or replaces) the stage indicator `name`.
    ///
    /// # Errors
    /// The name, ownership or mode is refused, or writing failed.
    pub fn write_stage_indicator(
        &self,
        name: &str,
        owner: Ownership,
        mode: Option<u32>,
    ) -> Result<(), BackendError> {
        self.ext
            .write_stage_indicator(RStr::from_str(name), owner.into(), ROption::from(mode))
            .into_result()
    }
}
