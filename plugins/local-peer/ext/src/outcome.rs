//! The result of a stage in plain Rust, and its conversions to and from
//! the ABI's [`abi::StageReport`].

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use abi_stable::std_types::ROption;
use stowage_backend_api::BackendError;

use crate::abi;

/// One file copied into the target directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StagedFile {
    /// The file name.
    pub name: OsString,
    /// Bytes copied.
    pub bytes: u64,
}

/// The `reason` of a [`SkippedEntry`] for a regular file that changed while
/// it was being staged (twice in a row) and was left out because the peer
/// is configured to skip such files (`changed=skip`): it is not in the
/// target directory, and the stage is incomplete by that file. Carried in
/// the existing free-text `reason` of `stowage.peer/1`'s skipped list, so
/// the extension's layout did not change.
pub const REASON_CHANGED: &str = "changed while being staged";

/// One entry of the collect directory that was not copied on purpose.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedEntry {
    /// The entry name.
    pub name: OsString,
    /// Why, as the plugin words it (`symbolic link`, `directory`,
    /// `indicator file`, `not a regular file`, `temporary file`, or
    /// [`REASON_CHANGED`]).
    pub reason: String,
}

impl SkippedEntry {
    /// Whether this entry is a file left out because it kept changing
    /// (see [`REASON_CHANGED`]), unlike the others, which are not data.
    pub fn is_changed(&self) -> bool {
        self.reason == REASON_CHANGED
    }
}

/// One file that should have been copied and was not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailedEntry {
    /// The file name.
    pub name: OsString,
    /// What went wrong.
    pub error: BackendError,
}

/// What a stage did: what was copied, skipped and failed.
///
/// Invariant: `copied == staged.len()` and `bytes` is the sum of the staged
/// sizes. `error` is set when the stage as a whole failed (nothing to stage,
/// or some file failed): the lists still say exactly what happened.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StageOutcome {
    /// Files copied.
    pub copied: u64,
    /// Bytes copied.
    pub bytes: u64,
    /// Each file copied.
    pub staged: Vec<StagedFile>,
    /// Each entry skipped, with the reason.
    pub skipped: Vec<SkippedEntry>,
    /// Each file that failed.
    pub failed: Vec<FailedEntry>,
    /// The overall failure, if any.
    pub error: Option<BackendError>,
}

fn name_bytes(name: &OsString) -> abi_stable::std_types::RVec<u8> {
    name.as_bytes().into()
}

fn name_of(bytes: &[u8]) -> OsString {
    OsString::from_vec(bytes.to_vec())
}

impl From<StageOutcome> for abi::StageReport {
    fn from(o: StageOutcome) -> Self {
        abi::StageReport {
            copied: o.copied,
            bytes: o.bytes,
            staged: o
                .staged
                .iter()
                .map(|s| abi::StagedFile {
                    name: name_bytes(&s.name),
                    bytes: s.bytes,
                })
                .collect(),
            skipped: o
                .skipped
                .iter()
                .map(|s| abi::SkippedEntry {
                    name: name_bytes(&s.name),
                    reason: s.reason.as_str().into(),
                })
                .collect(),
            failed: o
                .failed
                .into_iter()
                .map(|f| abi::FailedEntry {
                    name: name_bytes(&f.name),
                    error: f.error,
                })
                .collect(),
            error: ROption::from(o.error),
        }
    }
}

impl From<abi::StageReport> for StageOutcome {
    fn from(r: abi::StageReport) -> Self {
        StageOutcome {
            copied: r.copied,
            bytes: r.bytes,
            staged: r
                .staged
                .iter()
                .map(|s| StagedFile {
                    name: name_of(&s.name),
                    bytes: s.bytes,
                })
                .collect(),
            skipped: r
                .skipped
                .iter()
                .map(|s| SkippedEntry {
                    name: name_of(&s.name),
                    reason: s.reason.to_string(),
                })
                .collect(),
            failed: r
                .failed
                .into_iter()
                .map(|f| FailedEntry {
                    name: name_of(&f.name),
                    error: f.error,
                })
                .collect(),
            error: r.error.into_option(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_the_abi_form() {
        let outcome = StageOutcome {
            copied: 1,
            bytes: 3,
            staged: vec![StagedFile {
                name: name_of(b"a\xff"),
                bytes: 3,
            }],
            skipped: vec![SkippedEntry {
                name: "l".into(),
                reason: "symlink".into(),
            }],
            failed: vec![FailedEntry {
                name: "f".into(),
                error: BackendError::generic("changed while it was copied"),
            }],
            error: Some(BackendError::generic("1 of 2 files failed")),
        };
        let back = StageOutcome::from(abi::StageReport::from(outcome.clone()));
        assert_eq!(back, outcome);
    }
}
