//! The reading side of a space: restores, revert and verify.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{SpaceError, SpaceResult};
use crate::handle::{absolute, Space};
use crate::manifest::Data;
use crate::object::{blob_name, fetch_verified, Fault};
use crate::restore::{Restore, RestoreReport};
use crate::sync::locked;
use crate::temp::TempPath;

/// One entry of a [`Space::revert`].
#[derive(Debug)]
pub struct RevertItem {
    /// The entry name.
    pub name: String,
    /// Where it was restored to.
    pub origin: PathBuf,
    /// What happened.
    pub result: SpaceResult<RestoreReport>,
}

/// One damaged object found by [`Space::verify`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The entry.
    pub name: String,
    /// The path inside a tree entry (empty for the entry itself).
    pub path: PathBuf,
    /// The backend object.
    pub object: String,
    /// "missing", "size N, expected M", "checksum mismatch", or an error.
    pub problem: String,
}

impl Space {
    pub(crate) fn read_guard(&self) -> std::sync::RwLockReadGuard<'_, ()> {
        self.store
            .ops
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Restores entry `name` to where it came from, or to `to`. Every
    /// object is fetched and checked before anything live is replaced;
    /// live objects are replaced by rename, never removed first; files in
    /// a live directory that the backup does not have are left alone.
    ///
    /// # Errors
    /// [`SpaceError::NoSuchName`]; [`SpaceError::WrongKind`] for values;
    /// [`SpaceError::Damaged`] (nothing live touched); conflicts (a
    /// directory where a file was) as invalid input; local I/O errors.
    pub fn restore_name(&self, name: &str, to: Option<&Path>) -> SpaceResult<RestoreReport> {
        let entry = self.entry(name)?;
        let dest = match (to, &entry.origin) {
            (Some(to), _) => absolute(to)?,
            (None, Some(origin)) => origin.0.clone(),
            (None, None) => {
                return Err(SpaceError::WrongKind {
                    name: name.to_string(),
                    space: self.name.clone(),
                    expected: "filesystem object",
                })
            }
        };
        if matches!(entry.root.data, Data::Value { .. }) {
            return Err(SpaceError::WrongKind {
                name: name.to_string(),
                space: self.name.clone(),
                expected: "filesystem object",
            });
        }
        // Missing parents of the origin come back as they were backed up.
        let parents = match &entry.origin {
            Some(origin) if origin.0 == dest => entry.parents.as_slice(),
            _ => &[],
        };
        let _ops = self.read_guard();
        Restore {
            store: &self.store,
            space: &self.name,
            name,
            entry: &entry,
            dest: &dest,
            parents,
        }
        .run()
    }

    /// Restores what was backed up from `path` to `path`; with `name`,
    /// restores entry `name` to `path` instead.
    ///
    /// # Errors
    /// [`SpaceError::NoSuchPath`], and as [`Space::restore_name`].
    pub fn restore_path(
        &self,
        path: impl AsRef<Path>,
        name: Option<&str>,
    ) -> SpaceResult<RestoreReport> {
        let abs = absolute(path.as_ref())?;
        match name {
            Some(name) => self.restore_name(name, Some(&abs)),
            None => {
                let found = self.name_for_path(&abs);
                let name = found.ok_or_else(|| SpaceError::NoSuchPath {
                    path: abs.clone(),
                    space: self.name.clone(),
                })?;
                self.restore_name(&name, None)
            }
        }
    }

    /// The bytes stored by [`Space::backup_value`], checked.
    ///
    /// # Errors
    /// [`SpaceError::NoSuchName`]; [`SpaceError::WrongKind`] for
    /// filesystem entries; [`SpaceError::Damaged`].
    pub fn restore_value(&self, name: &str) -> SpaceResult<Vec<u8>> {
        let entry = self.entry(name)?;
        let Data::Value { size, sha256 } = &entry.root.data else {
            return Err(SpaceError::WrongKind {
                name: name.to_string(),
                space: self.name.clone(),
                expected: "value object",
            });
        };
        let _ops = self.read_guard();
        let temp = TempPath::in_dir(self.store.temp_dir(), "value");
        fetch_verified(&self.store.backend, sha256, *size, temp.path())
            .map_err(|f| f.into_error(name, &self.name, sha256, *size))?;
        fs::read(temp.path()).map_err(|e| SpaceError::local(temp.path(), e))
    }

    /// Restores every filesystem entry to where it came from (parents
    /// before children), going on after failures: FirstAidKit's revert.
    /// Values are not touched. Running it again gives the same result.
    pub fn revert(&self) -> SpaceResult<Vec<RevertItem>> {
        let mut todo: Vec<(PathBuf, String)> = self
            .entries()
            .into_iter()
            .filter_map(|(n, e)| e.origin.map(|o| (o.0, n)))
            .collect();
        if locked(&self.state).closed {
            return Err(self.closed());
        }
        todo.sort();
        Ok(todo
            .into_iter()
            .map(|(origin, name)| {
                let result = self.restore_name(&name, None);
                RevertItem {
                    name,
                    origin,
                    result,
                }
            })
            .collect())
    }

    /// Fetches every object the space refers to and checks its size and
    /// SHA-256. Returns the problems (none: the space is sound).
    ///
    /// # Errors
    /// The handle is closed; the backend cannot list.
    pub fn verify(&self) -> SpaceResult<Vec<Problem>> {
        if locked(&self.state).closed {
            return Err(self.closed());
        }
        let _ops = self.read_guard();
        let listing: HashMap<String, u64> = self.store.backend.list()?.into_iter().collect();
        // Each object once, with everyone who refers to it.
        let mut objects: BTreeMap<(String, u64), Vec<(String, PathBuf)>> = BTreeMap::new();
        for (name, entry) in self.entries() {
            for node in std::iter::once(&entry.root).chain(&entry.tree) {
                if let Some((sha, size)) = node.data.content() {
                    objects
                        .entry((sha.to_string(), size))
                        .or_default()
                        .push((name.clone(), node.path.0.clone()));
                }
            }
        }
        let mut problems = Vec::new();
        for ((sha, size), users) in objects {
            let object = blob_name(&sha);
            let fault = if size == 0 {
                None
            } else {
                match listing.get(&object) {
                    None => Some(Fault::Missing),
                    Some(&found) if found != size => Some(Fault::Size(found)),
                    Some(_) => self
                        .store
                        .blobs
                        .checker()
                        .check(&self.store.backend, self.store.temp_dir(), &sha, size)
                        .err(),
                }
            };
            let Some(fault) = fault else { continue };
            let problem = fault.describe(size);
            for (name, path) in users {
                problems.push(Problem {
                    name,
                    path,
                    object: object.clone(),
                    problem: problem.clone(),
                });
            }
        }
        Ok(problems)
    }
}
