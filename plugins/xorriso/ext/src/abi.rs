//! The types that cross the ABI under `stowage.xorriso/1`, frozen: what only an ISO
//! 9660 store can tell or do. Callers use [`crate::Xorriso`] instead.

use abi_stable::std_types::{RBox, RResult, RString};
use abi_stable::{sabi_trait, StableAbi};

use stowage_backend_api::BackendError;

/// The id of this extension.
pub const ID: &str = "stowage.xorriso/1";

/// The state of the medium.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct IsoInfo {
    /// The medium: an image path or a device.
    pub medium: RString,
    /// ISO sessions on the medium.
    pub sessions: u32,
    /// Bytes in use (all sessions, hidden data included).
    pub used_bytes: u64,
    /// Bytes still writable (for an image file: what its filesystem has).
    pub free_bytes: u64,
    /// The volume id.
    pub volume_id: RString,
    /// Changes not committed yet.
    pub pending_changes: u64,
}

/// What a compaction did.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct CompactReport {
    /// Image size before.
    pub bytes_before: u64,
    /// Image size after.
    pub bytes_after: u64,
}

/// The xorriso operations.
#[sabi_trait]
pub trait XorrisoV1: Send + Sync {
    /// Sessions, space and volume id.
    fn info(&self) -> RResult<IsoInfo, BackendError>;

    /// Rewrites an image file without hidden (deleted or replaced) data.
    /// Devices answer unsupported.
    #[sabi(last_prefix_field)]
    fn compact(&self) -> RResult<CompactReport, BackendError>;
}

/// The object travelling under [`ID`].
pub type XorrisoObject = XorrisoV1_TO<'static, RBox<()>>;
