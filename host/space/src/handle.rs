//! `Space`: one named backup space, its in-memory manifest and how changes
//! are published.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::error::{SpaceError, SpaceResult};
use crate::fsat::lexically_normal;
use crate::gc::collect_quietly;
use crate::generation::{next_generation, Published};
use crate::info::SpaceInfo;
use crate::inner::{in_use, StoreInner};
use crate::lock::{lock_path, FileLock};
use crate::manifest::{check_entry_name, Entry, Manifest};
use crate::sync::locked;
use crate::validate_space_name;

/// How a space is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Create(bool),
    Existing,
    ReadOnly,
}

pub(crate) struct State {
    pub manifest: Manifest,
    pub(super) origins: HashMap<PathBuf, String>,
    pending_names: HashSet<String>,
    pending_paths: HashSet<PathBuf>,
    pub(super) seq: u64,
    pub closed: bool,
}

/// One backup space, open for writing or reading.
///
/// `Send + Sync`: share it between threads (`&Space` or `Arc<Space>`).
/// Every change is published as a new manifest generation before the call
/// returns; concurrent changes are published together.
///
/// Close it with [`Space::close`] to see errors. Dropping an open space
/// closes it the same way (a space that is not persistent is removed) and
/// only logs errors.
pub struct Space {
    pub(crate) store: Arc<StoreInner>,
    pub(crate) name: String,
    persistent: bool,
    pub(crate) writable: bool,
    pub(crate) state: Mutex<State>,
    pub(crate) publish: Mutex<Published>,
    lock: Mutex<Option<FileLock>>,
    /// Something was removed or a failed backup left objects behind.
    pub(crate) garbage: AtomicBool,
}

impl std::fmt::Debug for Space {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Space")
            .field("store", &self.store.url)
            .field("name", &self.name)
            .field("persistent", &self.persistent)
            .field("writable", &self.writable)
            .finish()
    }
}

/// `path` made absolute without resolving symlinks: `.` components and a
/// trailing `/` dropped, `..` removing the component before it. Origins
/// and destinations are plain paths (restores never go through symlinks,
/// so this is where the kernel would go too).
pub(crate) fn absolute(path: &Path) -> SpaceResult<PathBuf> {
    let abs = std::path::absolute(path).map_err(|e| SpaceError::local(path, e))?;
    Ok(lexically_normal(&abs))
}

/// Unregisters a space from its store's open set unless disarmed.
struct OpenGuard<'a> {
    store: &'a StoreInner,
    name: &'a str,
}

impl Drop for OpenGuard<'_> {
    fn drop(&mut self) {
        locked(&self.store.open).remove(self.name);
    }
}

impl Space {
    pub(crate) fn open(store: Arc<StoreInner>, name: &str, mode: Mode) -> SpaceResult<Self> {
        validate_space_name(name)?;
        let writer = mode != Mode::ReadOnly;
        {
            let mut open = locked(&store.open);
            if open.contains_key(name) {
                return Err(SpaceError::InUse {
                    space: name.to_string(),
                    holder: Some("another handle of this store, in this process".into()),
                });
            }
            open.insert(name.to_string(), writer);
        }
        let guard = OpenGuard {
            store: &store,
            name,
        };
        let path = lock_path(&store.url, Some(name));
        let lock = FileLock::try_lock(&path, writer)?.ok_or_else(|| in_use(&store.url, name))?;
        if writer {
            lock.record_holder();
            // Leftovers of crashed writers go first, when nobody else is in.
            collect_quietly(&store, Some(name));
        }
        let listing = store.backend.list()?;
        store.blobs.learn(&listing);
        let loaded = store.load(name, &listing)?;
        let (manifest, published) = match (loaded, mode) {
            (None, Mode::Create(persistent)) => {
                let manifest = Manifest::new(name, persistent);
                let published = Published::new(1, None, Vec::new());
                (manifest, published)
            }
            (None, _) => {
                return Err(SpaceError::NoSuchSpace {
                    space: name.to_string(),
                })
            }
            (Some(l), Mode::Create(p)) if l.manifest.persistent != p => {
                return Err(SpaceError::PersistenceMismatch {
                    space: name.to_string(),
                    existing: l.manifest.persistent,
                })
            }
            (Some(l), _) => {
                let next = next_generation(name, l.highest)?;
                if writer {
                    // Durable (its session closed the store): kept until
                    // the store's close makes our changes durable too.
                    store.pin(&l.name);
                }
                (l.manifest, Published::new(next, Some(l.name), l.stale))
            }
        };
        let origins = manifest
            .entries
            .iter()
            .filter_map(|(n, e)| e.origin.as_ref().map(|o| (o.0.clone(), n.clone())))
            .collect();
        std::mem::forget(guard);
        let space = Space {
            persistent: manifest.persistent,
            state: Mutex::new(State {
                manifest,
                origins,
                pending_names: HashSet::new(),
                pending_paths: HashSet::new(),
                seq: 0,
                closed: false,
            }),
            store,
            name: name.to_string(),
            writable: writer,
            publish: Mutex::new(published),
            lock: Mutex::new(Some(lock)),
            garbage: AtomicBool::new(false),
        };
        if writer {
            let fresh = locked(&space.publish).current.is_none();
            if fresh {
                // A new space exists once its first (empty) manifest does.
                let seq = {
                    let mut st = locked(&space.state);
                    st.seq += 1;
                    st.seq
                };
                space.commit(seq)?;
            } else {
                space.remove_stale();
            }
            log::info!(
                "opened backup space {name:?} on {} for writing",
                space.store.url
            );
        } else {
            log::info!(
                "opened backup space {name:?} on {} for reading",
                space.store.url
            );
        }
        Ok(space)
    }

    /// The space name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the space survives [`Space::close`].
    pub fn is_persistent(&self) -> bool {
        self.persistent
    }

    /// Whether this handle may change the space.
    pub fn is_writable(&self) -> bool {
        self.writable
    }

    /// Counts, size and dates, as [`BackupStore::spaces`](crate::BackupStore::spaces) shows them.
    pub fn info(&self) -> SpaceInfo {
        SpaceInfo::of(&locked(&self.state).manifest)
    }

    /// A snapshot of every entry, by name.
    pub fn entries(&self) -> Vec<(String, Entry)> {
        let st = locked(&self.state);
        st.manifest
            .entries
            .iter()
            .map(|(n, e)| (n.clone(), e.clone()))
            .collect()
    }

    /// Whether an entry of that name exists.
    pub fn exists(&self, name: &str) -> bool {
        locked(&self.state).manifest.entries.contains_key(name)
    }

    /// The name of the entry backed up from `path`, if any.
    pub fn name_for_path(&self, path: impl AsRef<Path>) -> Option<String> {
        let abs = absolute(path.as_ref()).ok()?;
        locked(&self.state).origins.get(&abs).cloned()
    }

    pub(crate) fn entry(&self, name: &str) -> SpaceResult<Entry> {
        let st = locked(&self.state);
        if st.closed {
            return Err(self.closed());
        }
        st.manifest
            .entries
            .get(name)
            .cloned()
            .ok_or_else(|| SpaceError::NoSuchName {
                name: name.to_string(),
                space: self.name.clone(),
            })
    }

    pub(crate) fn closed(&self) -> SpaceError {
        SpaceError::NotWritable {
            space: self.name.clone(),
            what: "the handle is closed",
        }
    }

    pub(super) fn check_writable(&self, st: &State) -> SpaceResult<()> {
        if st.closed {
            Err(self.closed())
        } else if !self.writable {
            Err(SpaceError::NotWritable {
                space: self.name.clone(),
                what: "opened read-only",
            })
        } else {
            Ok(())
        }
    }

    /// Claims `name` (and `path`) for a backup in progress.
    pub(super) fn reserve(&self, name: &str, path: Option<&Path>) -> SpaceResult<Reservation<'_>> {
        check_entry_name(name).map_err(SpaceError::InvalidInput)?;
        let mut st = locked(&self.state);
        self.check_writable(&st)?;
        if st.manifest.entries.contains_key(name) || st.pending_names.contains(name) {
            return Err(SpaceError::NameExists {
                name: name.to_string(),
                space: self.name.clone(),
            });
        }
        if let Some(path) = path {
            let holder = st.origins.get(path).cloned().or_else(|| {
                st.pending_paths
                    .contains(path)
                    .then(|| "a backup in progress".to_string())
            });
            if let Some(holder) = holder {
                return Err(SpaceError::PathExists {
                    path: path.to_path_buf(),
                    name: holder,
                    space: self.name.clone(),
                });
            }
            st.pending_paths.insert(path.to_path_buf());
        }
        st.pending_names.insert(name.to_string());
        Ok(Reservation {
            space: self,
            name: name.to_string(),
            path: path.map(Path::to_path_buf),
        })
    }

    /// Records `entry` and publishes it; undone if publishing fails.
    pub(super) fn insert(&self, name: &str, entry: Entry) -> SpaceResult<()> {
        let origin = entry.origin.as_ref().map(|o| o.0.clone());
        let seq = {
            let mut st = locked(&self.state);
            st.manifest.entries.insert(name.to_string(), entry);
            if let Some(o) = &origin {
                st.origins.insert(o.clone(), name.to_string());
            }
            st.seq += 1;
            st.seq
        };
        if let Err(e) = self.commit(seq) {
            let mut st = locked(&self.state);
            st.manifest.entries.remove(name);
            if let Some(o) = &origin {
                st.origins.remove(o);
            }
            self.garbage.store(true, Ordering::Relaxed);
            return Err(e);
        }
        Ok(())
    }

    /// Closes the handle: a space that is not persistent is removed; a
    /// persistent one stays as published. Idempotent.
    ///
    /// # Errors
    /// Removing a non-persistent space failed (it stays, closed).
    pub fn close(&self) -> SpaceResult<()> {
        self.finish(self.writable && !self.persistent)
    }

    /// Closes the handle and keeps the space whatever its persistence
    /// (for tools that look into a space left by a crashed program).
    ///
    /// # Errors
    /// None today; kept fallible for backends that commit at close.
    pub fn close_keep(&self) -> SpaceResult<()> {
        self.finish(false)
    }

    /// Removes the space and closes the handle.
    ///
    /// # Errors
    /// The handle is read-only; the backend fails.
    pub fn discard(&self) -> SpaceResult<()> {
        self.check_writable(&locked(&self.state))?;
        self.finish(true)
    }

    fn finish(&self, remove: bool) -> SpaceResult<()> {
        {
            let mut st = locked(&self.state);
            if st.closed {
                return Ok(());
            }
            st.closed = true;
        }
        let result = if remove { self.remove_all() } else { Ok(()) };
        let garbage = remove || self.garbage.load(Ordering::Relaxed);
        locked(&self.lock).take();
        locked(&self.store.open).remove(&self.name);
        if self.writable && garbage {
            collect_quietly(&self.store, None);
        }
        result
    }
}

impl Drop for Space {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            log::warn!("closing backup space {:?}: {e}", self.name);
        }
    }
}

/// A name (and path) claimed by a backup in progress; released on drop.
pub(super) struct Reservation<'a> {
    space: &'a Space,
    name: String,
    path: Option<PathBuf>,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        let mut st = locked(&self.space.state);
        st.pending_names.remove(&self.name);
        if let Some(p) = &self.path {
            st.pending_paths.remove(p);
        }
    }
}
