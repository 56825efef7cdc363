//! Repairing a space: damaged content objects stored again from live files
//! that still hold exactly the content the manifest records.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::SpaceResult;
use crate::fsat::{open_existing, Walk};
use crate::handle::Space;
use crate::inner::StoreInner;
use crate::read::Problem;
use crate::upload::{snapshot, Snapshot};

/// What [`Space::repair`] found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RepairReport {
    /// Problems fixed: the object was stored again from a live file.
    pub repaired: Vec<Problem>,
    /// Problems left: no live file holds the recorded content any more.
    pub unrepaired: Vec<Problem>,
}

/// A snapshot of the live file at `path` (absolute, plain), reached as a
/// backup reaches its sources: through directory descriptors from `/`,
/// never through a symlink. `None` when it is gone or not a regular file.
fn live_snapshot(store: &StoreInner, path: &Path) -> SpaceResult<Option<Snapshot>> {
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Ok(None);
    };
    match open_existing(parent, Walk::Backup)? {
        Some(dir) => snapshot(store, &dir, name),
        None => Ok(None),
    }
}

impl Space {
    /// Verifies every object (as [`Space::verify`]) and stores each
    /// damaged or missing one again from a live file that still matches
    /// the manifest: the origin of a file entry (or the file's place in a
    /// backed-up tree) is read once, without following symlinks, and used
    /// only when its size and SHA-256 are the recorded ones. Entries whose
    /// live files changed stay damaged, listed in
    /// [`RepairReport::unrepaired`].
    ///
    /// # Errors
    /// The handle is closed; the backend cannot list or store.
    pub fn repair(&self) -> SpaceResult<RepairReport> {
        let problems = self.verify()?;
        let entries: BTreeMap<String, _> = self.entries().into_iter().collect();
        let _ops = self.read_guard();
        let mut by_object: BTreeMap<String, Vec<Problem>> = BTreeMap::new();
        for p in problems {
            by_object.entry(p.object.clone()).or_default().push(p);
        }
        let mut report = RepairReport::default();
        for (object, users) in by_object {
            let fixed = users.iter().any(|p| {
                let Some(entry) = entries.get(&p.name) else {
                    return false;
                };
                let node = std::iter::once(&entry.root)
                    .chain(&entry.tree)
                    .find(|n| n.path.0 == p.path);
                let (Some(origin), Some(node)) = (&entry.origin, node) else {
                    return false;
                };
                let Some((sha256, size)) = node.data.content() else {
                    return false;
                };
                let live: PathBuf = if p.path.as_os_str().is_empty() {
                    origin.0.clone()
                } else {
                    origin.0.join(&p.path)
                };
                match live_snapshot(&self.store, &live) {
                    Ok(Some(snap)) if snap.sha256 == sha256 && snap.size == size => {
                        let stored = self.store.blobs.ensure(
                            &self.store.backend,
                            self.store.temp_dir(),
                            sha256,
                            size,
                            snap.content(),
                            true,
                        );
                        match stored {
                            Ok(()) => {
                                log::info!("repaired {object} from {}", live.display());
                                true
                            }
                            Err(e) => {
                                log::warn!("storing {object} from {}: {e}", live.display());
                                false
                            }
                        }
                    }
                    Ok(_) => {
                        log::info!("{} no longer holds {object}", live.display());
                        false
                    }
                    Err(e) => {
                        log::info!("{object}: {e}");
                        false
                    }
                }
            });
            if fixed {
                report.repaired.extend(users);
            } else {
                report.unrepaired.extend(users);
            }
        }
        Ok(report)
    }
}
