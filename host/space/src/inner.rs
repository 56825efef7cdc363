//! What a store and its spaces share: the backend, the store lock, the
//! content cache and the set of open spaces.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use crate::error::{SpaceError, SpaceResult};
use crate::key::StoreKey;
use crate::lock::{holder, lock_path, FileLock};
use crate::manifest::{load_current, load_named, Loaded, Manifest, ManifestName, Trust};
use crate::object::BlobCache;
use crate::sync::locked;
use stowage::Backend;

/// How long opening a store waits for a garbage collection to finish.
pub(crate) const STORE_WAIT: Duration = Duration::from_secs(60);

/// Shared by a store and its spaces.
pub(crate) struct StoreInner {
    pub backend: Backend,
    /// The URL, credentials removed; also the lock key.
    pub url: String,
    /// A private directory (0700, removed with the store) for every
    /// temporary file: what is handed to the backend, and what it fetches.
    pub staging: tempfile::TempDir,
    /// Authenticates manifests.
    pub key: StoreKey,
    /// Whether version 1 (unauthenticated) manifests are read.
    pub trust_unauthenticated: bool,
    pub blobs: BlobCache,
    /// Held shared for the store's life; exclusive only during gc.
    pub store_lock: FileLock,
    /// Space operations hold it shared; gc exclusively.
    pub ops: RwLock<()>,
    /// Manifest objects that must outlive this handle's changes until the
    /// store's close (see `publish.rs`).
    pub pinned: Mutex<HashSet<String>>,
    /// Spaces open through this store, by name.
    pub open: Mutex<HashMap<String, bool>>,
    pub workers: usize,
}

impl StoreInner {
    /// Where temporary files go.
    pub fn temp_dir(&self) -> &Path {
        self.staging.path()
    }

    fn trust(&self) -> Trust<'_> {
        Trust {
            key: &self.key,
            accept_unauthenticated: self.trust_unauthenticated,
        }
    }

    /// The current manifest of `space` in `listing`, authenticated.
    pub fn load(&self, space: &str, listing: &[(String, u64)]) -> SpaceResult<Option<Loaded>> {
        load_current(
            &self.backend,
            self.temp_dir(),
            &self.trust(),
            space,
            listing,
        )
    }

    /// The manifest object `name`, authenticated.
    pub fn load_named(&self, name: &ManifestName) -> SpaceResult<Manifest> {
        load_named(&self.backend, self.temp_dir(), &self.trust(), name)
    }

    /// Keeps manifest `name` (and what it refers to) until the store closes.
    pub fn pin(&self, name: &ManifestName) {
        locked(&self.pinned).insert(name.object());
    }

    /// Lets manifest `name` go (its space is being removed).
    pub fn unpin(&self, name: &ManifestName) {
        locked(&self.pinned).remove(&name.object());
    }

    /// Whether manifest `name` is kept until the store closes.
    pub fn is_pinned(&self, name: &ManifestName) -> bool {
        locked(&self.pinned).contains(&name.object())
    }

    /// Runs `f` on a fresh listing with the store to ourselves: no other
    /// process holds it, no space of this handle is open other than
    /// `except`, no operation in flight. `Ok(None)` when that is not so.
    pub fn exclusively<T>(
        &self,
        except: Option<&str>,
        f: impl FnOnce(&[(String, u64)]) -> SpaceResult<T>,
    ) -> SpaceResult<Option<T>> {
        let others_open = || {
            locked(&self.open)
                .keys()
                .any(|name| Some(name.as_str()) != except)
        };
        // Checked first so that a hopeless attempt does not make other
        // threads' operations wait for the write lock.
        if others_open() {
            return Ok(None);
        }
        let _no_ops = self
            .ops
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if others_open() {
            return Ok(None);
        }
        let lock_err = |e: std::io::Error| SpaceError::StoreBusy {
            url: self.url.clone(),
            detail: format!("store lock: {e}"),
        };
        if !self.store_lock.try_upgrade(STORE_WAIT).map_err(lock_err)? {
            return Ok(None);
        }
        let result = self
            .backend
            .list()
            .map_err(SpaceError::from)
            .and_then(|l| f(&l));
        self.store_lock
            .relock_shared(STORE_WAIT)
            .map_err(lock_err)?;
        result.map(Some)
    }
}

/// The `InUse` error for a space whose lock is held elsewhere.
pub(crate) fn in_use(url: &str, space: &str) -> SpaceError {
    SpaceError::InUse {
        space: space.to_string(),
        holder: holder(&lock_path(url, Some(space))),
    }
}
