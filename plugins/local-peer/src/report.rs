//! The per-entry result of a stage (Cedar returned only a count): what was staged,
//! skipped and why, and what failed.
//!
//! Names are kept as raw OS bytes ([`EntryName`]). In JSON a name is written
//! as `"name"` (lossily decoded UTF-8) and, only when it is not valid UTF-8,
//! also as `"name_bytes"` (the raw bytes as an array of numbers), so no
//! information is lost.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use stowage_fs_common::ErrorKind;

/// A directory entry name as raw OS bytes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntryName(OsString);

impl EntryName {
    /// A name from its OS bytes.
    pub fn new(name: impl Into<OsString>) -> Self {
        EntryName(name.into())
    }

    /// The name as an OS string.
    pub fn as_os_str(&self) -> &OsStr {
        &self.0
    }

    /// The name's raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The name as UTF-8, invalid sequences replaced by U+FFFD.
    pub fn to_string_lossy(&self) -> String {
        self.0.to_string_lossy().into_owned()
    }
}

impl fmt::Display for EntryName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_string_lossy())
    }
}

impl AsRef<OsStr> for EntryName {
    fn as_ref(&self) -> &OsStr {
        &self.0
    }
}

impl AsRef<Path> for EntryName {
    fn as_ref(&self) -> &Path {
        Path::new(&self.0)
    }
}

impl From<&str> for EntryName {
    fn from(s: &str) -> Self {
        EntryName(s.into())
    }
}

impl PartialEq<&str> for EntryName {
    fn eq(&self, other: &&str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

/// Serialized as a map so that it can be `#[serde(flatten)]`ed: `name`, plus
/// `name_bytes` for a name that is not valid UTF-8.
impl Serialize for EntryName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0.to_str() {
            Some(s) => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("name", s)?;
                map.end()
            }
            None => {
                let mut map = serializer.serialize_map(Some(2))?;
                map.serialize_entry("name", &self.0.to_string_lossy())?;
                map.serialize_entry("name_bytes", self.0.as_bytes())?;
                map.end()
            }
        }
    }
}

pub(crate) fn serialize_path<S: Serializer>(path: &Path, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&path.to_string_lossy())
}

fn serialize_kind<S: Serializer>(kind: &ErrorKind, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(kind.as_str())
}

/// Why an entry of the collect directory was not staged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// A symbolic link (to a file, to a directory, or dangling).
    Symlink,
    /// A subdirectory (the copy is flat, not recursive).
    Directory,
    /// An indicator file (`cback.collect`, `cback.stage`, ...): coordination,
    /// not data. Matched by name, whatever its type.
    Indicator,
    /// A FIFO, socket or device node.
    NotRegular,
    /// A stowage temporary file (`.stowage-partial-*`): a write in progress
    /// or the leftover of an interrupted one, never data.
    Temporary,
    /// A regular file that changed while it was copied, twice in a row,
    /// left out because the peer skips such files (`changed=skip`). Unlike
    /// the other reasons this is data that is missing from the stage: no
    /// copy of it (torn or not) and no temporary file is left in the target
    /// directory, and a file of that name already there is untouched.
    Changed,
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SkipReason::Symlink => "symbolic link",
            SkipReason::Directory => "directory",
            SkipReason::Indicator => "indicator file",
            SkipReason::NotRegular => "not a regular file",
            SkipReason::Temporary => "temporary file",
            SkipReason::Changed => stowage_peer_ext::REASON_CHANGED,
        })
    }
}

/// A file copied into the target directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StagedFile {
    /// The name concerned.
    #[serde(flatten)]
    pub name: EntryName,
    /// Bytes copied.
    pub bytes: u64,
}

/// An entry left alone on purpose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedEntry {
    /// The name concerned.
    #[serde(flatten)]
    pub name: EntryName,
    /// Why it was refused.
    pub reason: SkipReason,
}

/// A regular file that could not be staged. Nothing of it is visible under
/// its name in the target directory (a file of that name that was there
/// before is untouched).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailedEntry {
    /// The name concerned.
    #[serde(flatten)]
    pub name: EntryName,
    /// The error class.
    #[serde(serialize_with = "serialize_kind")]
    pub kind: ErrorKind,
    /// The OS error number, if the failure came from a system call.
    pub os_error: Option<i32>,
    /// The full error message (names the paths involved).
    pub message: String,
}

/// The result of [`crate::stage()`]. Every entry of the collect directory
/// appears in exactly one of `staged`, `skipped` and `failed`; each list is in
/// byte order of the names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StageReport {
    /// The collect directory.
    #[serde(serialize_with = "serialize_path")]
    pub collect_dir: PathBuf,
    /// The target directory.
    #[serde(serialize_with = "serialize_path")]
    pub target_dir: PathBuf,
    /// Number of files copied (`staged.len()`); Cedar's return value.
    pub copied: usize,
    /// Total bytes copied.
    pub bytes: u64,
    /// Each file copied, in name order.
    pub staged: Vec<StagedFile>,
    /// Each entry left alone, in name order.
    pub skipped: Vec<SkippedEntry>,
    /// Each file that failed, in name order.
    pub failed: Vec<FailedEntry>,
}

impl StageReport {
    pub(crate) fn new(collect_dir: &Path, target_dir: &Path) -> Self {
        StageReport {
            collect_dir: collect_dir.to_path_buf(),
            target_dir: target_dir.to_path_buf(),
            copied: 0,
            bytes: 0,
            staged: Vec::new(),
            skipped: Vec::new(),
            failed: Vec::new(),
        }
    }

    pub(crate) fn push_staged(&mut self, name: EntryName, bytes: u64) {
        self.copied += 1;
        self.bytes += bytes;
        self.staged.push(StagedFile { name, bytes });
    }

    /// `", N of them changed while being staged"`, or nothing.
    pub(crate) fn changed_note(&self) -> String {
        match self.skipped_changed().count() {
            0 => String::new(),
            n => format!(", {n} of them {}", stowage_peer_ext::REASON_CHANGED),
        }
    }

    /// The files left out because they kept changing while they were
    /// staged ([`SkipReason::Changed`], with `changed=skip`): a stage that
    /// returned `Ok` is complete except for these.
    pub fn skipped_changed(&self) -> impl Iterator<Item = &EntryName> {
        self.skipped
            .iter()
            .filter(|s| s.reason == SkipReason::Changed)
            .map(|s| &s.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStringExt;

    #[test]
    fn json_names_keep_raw_bytes_only_when_needed() {
        let ok = StagedFile {
            name: EntryName::from("a b.txt"),
            bytes: 3,
        };
        assert_eq!(
            serde_json::to_string(&ok).unwrap(),
            r#"{"name":"a b.txt","bytes":3}"#
        );
        let raw = SkippedEntry {
            name: EntryName::new(OsString::from_vec(vec![b'x', 0xff])),
            reason: SkipReason::NotRegular,
        };
        assert_eq!(
            serde_json::to_string(&raw).unwrap(),
            r#"{"name":"x�","name_bytes":[120,255],"reason":"not_regular"}"#
        );
        let changed = SkippedEntry {
            name: EntryName::from("live.db"),
            reason: SkipReason::Changed,
        };
        assert_eq!(
            serde_json::to_string(&changed).unwrap(),
            r#"{"name":"live.db","reason":"changed"}"#
        );
    }
}
