//! [`MediumInfo`]: the state of the medium in plain Rust.

use crate::abi::IsoInfo;

/// The state of the medium. Serializable, so that it can cross a process
/// boundary as it is (an isolated plugin's answer).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MediumInfo {
    /// The medium: an image path or a device.
    pub medium: String,
    /// ISO sessions on the medium.
    pub sessions: u32,
    /// Bytes in use (all sessions, hidden data included).
    pub used_bytes: u64,
    /// Bytes still writable (for an image file: what its filesystem has).
    pub free_bytes: u64,
    /// The volume id.
    pub volume_id: String,
    /// Changes not committed yet.
    pub pending_changes: u64,
}

impl From<IsoInfo> for MediumInfo {
    fn from(i: IsoInfo) -> Self {
        MediumInfo {
            medium: i.medium.into(),
            sessions: i.sessions,
            used_bytes: i.used_bytes,
            free_bytes: i.free_bytes,
            volume_id: i.volume_id.into(),
            pending_changes: i.pending_changes,
        }
    }
}

impl From<MediumInfo> for IsoInfo {
    fn from(i: MediumInfo) -> Self {
        IsoInfo {
            medium: i.medium.into(),
            sessions: i.sessions,
            used_bytes: i.used_bytes,
            free_bytes: i.free_bytes,
            volume_id: i.volume_id.into(),
            pending_changes: i.pending_changes,
        }
    }
}
