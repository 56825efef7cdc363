//! The manifest's schema: what a space holds, as JSON.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{FORMAT, VERSION};
use crate::time::now_unix;

/// One space's manifest: what it holds and where each entry came from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// The format version ([`VERSION`]).
    pub version: u32,
    /// The space name; checked against the object name on load.
    pub space: String,
    /// Increases by one with every published change.
    pub generation: u64,
    /// Whether the space survives `close`.
    pub persistent: bool,
    /// When the space was created (Unix seconds).
    pub created: u64,
    /// When this generation was written (Unix seconds).
    pub modified: u64,
    /// The entries by name.
    pub entries: BTreeMap<String, Entry>,
    /// HMAC-SHA256, under the store key, of this manifest serialised
    /// without this field (version 2 on). See [`crate::key_file_in`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

/// One named backup: a file, a directory tree, a symlink or a value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The absolute path it was backed up from; `None` for values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<RawPath>,
    /// When it was backed up (Unix seconds).
    pub created: u64,
    /// The object itself (for a tree: the top directory).
    pub root: Node,
    /// For a directory: everything below it, parents before children.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tree: Vec<Node>,
    /// Owner and permissions of the directories above the origin, one per
    /// component of its parent, top first (`/a/b/c`: `/a`, `/a/b`), so that
    /// a restore recreates missing ones as they were (version 2 on; empty
    /// in older manifests).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parents: Vec<Meta>,
}

/// One filesystem object (or a value) with its metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// Path relative to the entry's top (empty for the top itself).
    #[serde(default, skip_serializing_if = "RawPath::is_empty")]
    pub path: RawPath,
    /// Kind and content.
    #[serde(flatten)]
    pub data: Data,
    /// Ownership, permissions, modification time (not for values).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
}

/// What a node is and where its content lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Data {
    /// A regular file; its content is the object `obj-<sha256>` (none
    /// when empty).
    File {
        /// Size in bytes.
        size: u64,
        /// SHA-256 of the content, lower-case hex.
        sha256: String,
    },
    /// A directory.
    Dir,
    /// A symbolic link, stored as a link (never followed).
    Symlink {
        /// The link's target, as written.
        target: RawPath,
    },
    /// Bytes given by the program.
    Value {
        /// Size in bytes.
        size: u64,
        /// SHA-256 of the bytes, lower-case hex.
        sha256: String,
    },
}

impl Data {
    /// The content object's checksum and size, for files and values.
    pub fn content(&self) -> Option<(&str, u64)> {
        match self {
            Data::File { size, sha256 } | Data::Value { size, sha256 } => {
                Some((sha256.as_str(), *size))
            }
            Data::Dir | Data::Symlink { .. } => None,
        }
    }

    /// "file", "dir", "symlink" or "value".
    pub fn kind(&self) -> &'static str {
        match self {
            Data::File { .. } => "file",
            Data::Dir => "dir",
            Data::Symlink { .. } => "symlink",
            Data::Value { .. } => "value",
        }
    }
}

/// The inode metadata restored with an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// Permission bits including setuid, setgid and sticky (`st_mode & 07777`).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    /// Nanoseconds of the modification time.
    #[serde(default)]
    pub mtime_nsec: u32,
}

/// A path that survives JSON: a string when it is UTF-8, an array of
/// bytes otherwise.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RawPath(pub PathBuf);

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum RawRepr {
    Text(String),
    Bytes(Vec<u8>),
}

impl Serialize for RawPath {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.to_str() {
            Some(text) => RawRepr::Text(text.to_string()),
            None => RawRepr::Bytes(self.0.as_os_str().as_bytes().to_vec()),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for RawPath {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(RawPath(match RawRepr::deserialize(d)? {
            RawRepr::Text(t) => PathBuf::from(t),
            RawRepr::Bytes(b) => PathBuf::from(OsStr::from_bytes(&b)),
        }))
    }
}

impl RawPath {
    /// Whether the path is empty (the top of an entry).
    pub fn is_empty(&self) -> bool {
        self.0.as_os_str().is_empty()
    }
}

impl Manifest {
    /// An empty manifest for a new space.
    pub(crate) fn new(space: &str, persistent: bool) -> Self {
        let now = now_unix();
        Self {
            format: FORMAT.to_string(),
            version: VERSION,
            space: space.to_string(),
            generation: 0,
            persistent,
            created: now,
            modified: now,
            entries: BTreeMap::new(),
            mac: None,
        }
    }
}

impl Node {
    pub(crate) fn is_empty_path(&self) -> bool {
        self.path.is_empty()
    }
}

/// A one-byte file node at `path`, for unit tests.
#[cfg(test)]
pub(crate) fn test_file(path: &str) -> Node {
    Node {
        path: RawPath(path.into()),
        data: Data::File {
            size: 1,
            sha256: crate::hash::sha256_hex(b"a"),
        },
        meta: Some(Meta {
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: 1,
            mtime_nsec: 0,
        }),
    }
}
