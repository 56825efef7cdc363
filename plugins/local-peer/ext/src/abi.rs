//! The types that cross the ABI under `stowage.peer/1`, frozen: Cedar Backup's
//! peer operations on a collect directory. Callers use [`crate::Peer`] instead.

use abi_stable::std_types::{RBox, ROption, RResult, RSlice, RStr, RString, RVec};
use abi_stable::{sabi_trait, StableAbi};

use stowage_backend_api::BackendError;

/// The id of this extension.
pub const ID: &str = "stowage.peer/1";

/// Who should own staged files; each part is optional.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ownership {
    /// Owner user id.
    pub uid: ROption<u32>,
    /// Owner group id.
    pub gid: ROption<u32>,
}

/// One file copied into the target directory.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct StagedFile {
    /// The file name, raw OS bytes.
    pub name: RVec<u8>,
    /// Bytes copied.
    pub bytes: u64,
}

/// One entry of the collect directory that was not copied on purpose.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct SkippedEntry {
    /// The entry name, raw OS bytes.
    pub name: RVec<u8>,
    /// Why: `symlink`, `directory`, `indicator`, `not-regular`, `temporary`.
    pub reason: RString,
}

/// One file that should have been copied and was not.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct FailedEntry {
    /// The file name, raw OS bytes.
    pub name: RVec<u8>,
    /// What went wrong.
    pub error: BackendError,
}

/// The outcome of a stage: what was copied, skipped and failed.
///
/// Invariant: `copied == staged.len()` and `bytes` is the sum of the staged
/// sizes. `error` is set when the stage as a whole failed (nothing to stage,
/// or some file failed): the lists still say exactly what happened.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct StageReport {
    /// Files copied.
    pub copied: u64,
    /// Bytes copied.
    pub bytes: u64,
    /// Each file copied.
    pub staged: RVec<StagedFile>,
    /// Each entry skipped, with the reason.
    pub skipped: RVec<SkippedEntry>,
    /// Each file that failed.
    pub failed: RVec<FailedEntry>,
    /// The overall failure, if any.
    pub error: ROption<BackendError>,
}

/// The peer operations of a `local-peer` backend.
#[sabi_trait]
pub trait PeerV1: Send + Sync {
    /// Copies every regular file of the collect directory (not recursive,
    /// indicators excluded) into the absolute, existing `target_dir`,
    /// applying `owner`, then `mode`. `Err` only when nothing was attempted
    /// (bad directories, a forbidden ownership); otherwise the report.
    fn stage(
        &self,
        target_dir: RSlice<'_, u8>,
        owner: Ownership,
        mode: ROption<u32>,
    ) -> RResult<StageReport, BackendError>;

    /// Whether the collect indicator `name` exists as a regular file.
    fn check_collect_indicator(&self, name: RStr<'_>) -> RResult<bool, BackendError>;

    /// Creates (or replaces) the stage indicator `name`.
    #[sabi(last_prefix_field)]
    fn write_stage_indicator(
        &self,
        name: RStr<'_>,
        owner: Ownership,
        mode: ROption<u32>,
    ) -> RResult<(), BackendError>;
}

/// The object travelling under [`ID`].
pub type PeerObject = PeerV1_TO<'static, RBox<()>>;
