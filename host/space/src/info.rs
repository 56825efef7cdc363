//! What a listing says about one space.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::manifest::Manifest;

/// What [`BackupStore::spaces`] says about one space.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpaceInfo {
    /// The space name.
    pub name: String,
    /// Whether it survives `close`.
    pub persistent: bool,
    /// Its manifest generation.
    pub generation: u64,
    /// Named backups in it.
    pub entries: usize,
    /// Distinct content objects it refers to.
    pub objects: usize,
    /// Total size of its files and values, in bytes.
    pub size: u64,
    /// Creation time (Unix seconds).
    pub created: u64,
    /// Time of the last change (Unix seconds).
    pub modified: u64,
}

impl SpaceInfo {
    pub(crate) fn of(m: &Manifest) -> Self {
        let mut objects = BTreeSet::new();
        let mut size = 0;
        for entry in m.entries.values() {
            for node in std::iter::once(&entry.root).chain(&entry.tree) {
                if let Some((sha, len)) = node.data.content() {
                    size += len;
                    if len > 0 {
                        objects.insert(sha);
                    }
                }
            }
        }
        Self {
            name: m.space.clone(),
            persistent: m.persistent,
            generation: m.generation,
            entries: m.entries.len(),
            objects: objects.len(),
            size,
            created: m.created,
            modified: m.modified,
        }
    }
}
