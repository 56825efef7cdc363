//! What a store and its spaces share: the backend, the store lock, the
//! content cache and the set of open spaces.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use crate::error::{SpaceError, SpaceResult};
use crate::lock::{holder, lock_path, FileLock};
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
    pub temp_dir: PathBuf,
    pub blobs: BlobCache,
    /// Held shared for the store's life; exclusive only during gc.
    pub store_lock: FileLock,
    /// Space operations hold it shared; gc exclusively.
    pub ops: RwLock<()>,
    /// Spaces open through this store, by name.
    pub open: Mutex<HashMap<String, bool>>,
    pub workers: usize,
}

impl StoreInner {
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
