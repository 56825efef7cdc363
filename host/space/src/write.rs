//! The writing side of a space: backups, deletes, cleanup.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use serde::Serialize;

use crate::error::{SpaceError, SpaceResult};
use crate::handle::{absolute, Space};
use crate::hash::sha256_hex;
use crate::manifest::{Data, Entry, Node, RawPath};
use crate::object::Content;
use crate::sync::locked;
use crate::time::now_unix;
use crate::upload::store_all;
use crate::walk::{scan, Skipped};

/// What `backup_path` stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BackupReport {
    /// The entry name.
    pub name: String,
    /// The absolute path it came from.
    pub origin: PathBuf,
    /// Regular files.
    pub files: u64,
    /// Directories.
    pub dirs: u64,
    /// Symbolic links.
    pub symlinks: u64,
    /// Bytes of file content.
    pub bytes: u64,
    /// Special files inside the tree that were not backed up.
    pub skipped: Vec<Skipped>,
}

impl Space {
    /// Backs up a file, a symlink (as a link) or a directory tree under
    /// `name` (default: the absolute path). Mode, owner and modification
    /// time are recorded; special files inside a tree are skipped and
    /// reported.
    ///
    /// # Errors
    /// [`SpaceError::NameExists`] / [`SpaceError::PathExists`] for
    /// duplicates; `path` is missing or special; backend errors. On error
    /// nothing is recorded.
    pub fn backup_path(
        &self,
        path: impl AsRef<Path>,
        name: Option<&str>,
    ) -> SpaceResult<BackupReport> {
        self.backup_path_reporting(path, name, &|_, _| {})
    }

    /// [`Space::backup_path`], telling `progress(done, total)` how many
    /// bytes of file content are stored so far (called from worker
    /// threads).
    ///
    /// # Errors
    /// As [`Space::backup_path`].
    pub fn backup_path_reporting(
        &self,
        path: impl AsRef<Path>,
        name: Option<&str>,
        progress: &(dyn Fn(u64, u64) + Sync),
    ) -> SpaceResult<BackupReport> {
        let origin = absolute(path.as_ref())?;
        let name = match name {
            Some(n) => n.to_string(),
            None => origin
                .to_str()
                .ok_or_else(|| {
                    SpaceError::InvalidInput(format!(
                        "{}: not UTF-8; give the backup a name",
                        origin.display()
                    ))
                })?
                .to_string(),
        };
        let _reserved = self.reserve(&name, Some(&origin))?;
        let _ops = self
            .store
            .ops
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut scan = scan(&origin)?;
        if let Err(e) = store_all(&self.store, &scan.base, &mut scan.nodes, progress) {
            self.garbage.store(true, Ordering::Relaxed);
            return Err(e);
        }
        let mut report = BackupReport {
            name: name.clone(),
            origin: origin.clone(),
            skipped: scan.skipped,
            ..BackupReport::default()
        };
        let mut nodes: Vec<Node> = Vec::with_capacity(scan.nodes.len());
        for s in scan.nodes {
            match &s.node.data {
                Data::File { size, .. } => {
                    report.files += 1;
                    report.bytes += size;
                }
                Data::Dir => report.dirs += 1,
                Data::Symlink { .. } => report.symlinks += 1,
                Data::Value { .. } => {}
            }
            nodes.push(s.node);
        }
        let mut nodes = nodes.into_iter();
        let Some(root) = nodes.next() else {
            return Err(SpaceError::InvalidInput(format!(
                "{}: nothing to back up",
                origin.display()
            )));
        };
        let entry = Entry {
            parents: scan.parents,
            origin: Some(RawPath(origin)),
            created: now_unix(),
            root,
            tree: nodes.collect(),
        };
        self.insert(&name, entry)?;
        Ok(report)
    }

    /// Stores `value` under `name` (FirstAidKit's `backupValue`; encode
    /// structured data yourself, e.g. with serde_json).
    ///
    /// # Errors
    /// [`SpaceError::NameExists`]; backend errors.
    pub fn backup_value(&self, value: &[u8], name: &str) -> SpaceResult<()> {
        let _reserved = self.reserve(name, None)?;
        let _ops = self
            .store
            .ops
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let sha256 = sha256_hex(value);
        let size = value.len() as u64;
        if size > 0 {
            self.store.blobs.ensure(
                &self.store.backend,
                self.store.temp_dir(),
                &sha256,
                size,
                Content::Bytes(value),
                false,
            )?;
        }
        let entry = Entry {
            origin: None,
            created: now_unix(),
            root: Node {
                path: RawPath::default(),
                data: Data::Value { size, sha256 },
                meta: None,
            },
            tree: Vec::new(),
            parents: Vec::new(),
        };
        self.insert(name, entry)
    }

    /// Removes entry `name` (its content goes with the next garbage
    /// collection).
    ///
    /// # Errors
    /// [`SpaceError::NoSuchName`]; backend errors (then nothing changed).
    pub fn delete(&self, name: &str) -> SpaceResult<()> {
        let (seq, entry) = {
            let mut st = locked(&self.state);
            self.check_writable(&st)?;
            let entry = st
                .manifest
                .entries
                .remove(name)
                .ok_or_else(|| SpaceError::NoSuchName {
                    name: name.to_string(),
                    space: self.name.clone(),
                })?;
            if let Some(o) = &entry.origin {
                st.origins.remove(&o.0);
            }
            st.seq += 1;
            (st.seq, entry)
        };
        self.garbage.store(true, Ordering::Relaxed);
        if let Err(e) = self.commit(seq) {
            let mut st = locked(&self.state);
            if let Some(o) = &entry.origin {
                st.origins.insert(o.0.clone(), name.to_string());
            }
            st.manifest.entries.insert(name.to_string(), entry);
            return Err(e);
        }
        Ok(())
    }

    /// Removes every entry; the space itself stays (empty).
    ///
    /// # Errors
    /// Backend errors (then nothing changed).
    pub fn cleanup(&self) -> SpaceResult<()> {
        let (seq, old) = {
            let mut st = locked(&self.state);
            self.check_writable(&st)?;
            st.origins.clear();
            let old = std::mem::take(&mut st.manifest.entries);
            st.seq += 1;
            (st.seq, old)
        };
        self.garbage.store(true, Ordering::Relaxed);
        if let Err(e) = self.commit(seq) {
            let mut st = locked(&self.state);
            for (name, entry) in old {
                if let Some(o) = &entry.origin {
                    st.origins.insert(o.0.clone(), name.clone());
                }
                st.manifest.entries.insert(name, entry);
            }
            return Err(e);
        }
        Ok(())
    }
}
