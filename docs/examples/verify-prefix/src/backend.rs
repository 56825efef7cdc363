//! The `verify+` backend: every operation forwarded to the inner backend,
//! with a sidecar written on put, checked on get and removed on delete.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::sync::{PoisonError, RwLock};

use stowage_backend_api::{Backend, BackendError, BackendHandle, ErrorCode, Result};
use tempfile::{NamedTempFile, TempPath};

use crate::sidecar::{
    check_name, digest_file, is_sidecar, parse_sidecar, sidecar_name, sidecar_text,
};

/// One open `verify+URL` backend.
pub struct Verify {
    /// The backend of the inner URL, opened through the host. It has no
    /// retry layer: the host retries our operations as a whole.
    inner: BackendHandle,
    /// An object and its sidecar are two inner objects, written one after
    /// the other. The host may call us from several threads at once, so
    /// put and delete hold this lock exclusively and get shares it: a get
    /// never sees the new content with the old checksum. (It orders this
    /// backend's calls only; see the README for two processes at once.)
    lock: RwLock<()>,
}

impl Verify {
    pub fn new(inner: BackendHandle) -> Self {
        Self {
            inner,
            lock: RwLock::new(()),
        }
    }
}

/// A new empty file in the directory of `local`, removed when dropped
/// unless persisted. Being in the same directory (so on the same
/// filesystem), it can be renamed over `local` atomically.
fn temp_beside(local: &Path) -> Result<TempPath> {
    let dir = match local.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let file = tempfile::Builder::new()
        .prefix(".verify-partial-")
        .tempfile_in(dir)
        .map_err(|e| BackendError::from_io(&e, format!("creating a file in {}", dir.display())))?;
    Ok(file.into_temp_path())
}

/// A temporary local file holding `text`.
fn temp_with(text: &str) -> Result<TempPath> {
    let writing = |e: std::io::Error| BackendError::from_io(&e, "writing a temporary file");
    let mut file = NamedTempFile::new().map_err(writing)?;
    file.write_all(text.as_bytes()).map_err(writing)?;
    Ok(file.into_temp_path())
}

impl Backend for Verify {
    fn put(&self, local: &Path, name: &str) -> Result<()> {
        check_name(name)?;
        // Hash before taking the lock: reading a big file takes a while.
        let digest = digest_file(local)?;
        let sidecar = temp_with(&sidecar_text(&digest, name))?;
        let _exclusive = self.lock.write().unwrap_or_else(PoisonError::into_inner);
        // Sidecar first: a new object appears (in list, to get) only once
        // its checksum is there. If we fail in between, what is left is an
        // unused sidecar, or an old object with the new checksum, which get
        // reports as corrupt: never a wrong answer. The inner backend makes
        // each of the two puts atomic; errors keep the inner code and
        // retryable flag, and the host retries the whole put.
        self.inner
            .put(&sidecar, &sidecar_name(name))
            .map_err(|e| e.context("verify: storing the checksum"))?;
        self.inner.put(local, name)
    }

    fn get(&self, name: &str, local: &Path) -> Result<()> {
        check_name(name)?;
        // Fetch into temporary files; `local` is only replaced at the end,
        // by a rename, and only if the content is right.
        let data = temp_beside(local)?;
        let sidecar = temp_beside(local)?;
        {
            let _shared = self.lock.read().unwrap_or_else(PoisonError::into_inner);
            // A missing object: the inner "not found" goes back as it is.
            self.inner.get(name, &data)?;
            self.inner
                .get(&sidecar_name(name), &sidecar)
                .map_err(|e| match e.code() {
                    ErrorCode::NOT_FOUND => BackendError::new(
                        ErrorCode::VALIDATION_FAILED,
                        format!("verify: {name:?} has no checksum, so it cannot be verified"),
                    ),
                    _ => e.context("verify: fetching the checksum"),
                })?;
        }
        let text = fs::read(&sidecar)
            .map_err(|e| BackendError::from_io(&e, format!("reading {}", sidecar.display())))?;
        let expected = parse_sidecar(&text, name)?;
        let actual = digest_file(&data)?;
        if actual != expected {
            // Returning drops `data` and `sidecar`: both files are removed
            // and `local` was never touched.
            return Err(BackendError::new(
                ErrorCode::VALIDATION_FAILED,
                format!(
                    "verify: {name:?} is corrupt: its SHA-256 is {actual}, its checksum says {expected}"
                ),
            ));
        }
        data.persist(local).map_err(|e| {
            BackendError::from_io(&e.error, format!("renaming to {}", local.display()))
        })
    }

    fn list(&self) -> Result<Vec<(String, u64)>> {
        // The objects are stored unchanged, so their inner names and sizes
        // are ours; only the sidecars are hidden.
        let mut entries = self.inner.list()?;
        entries.retain(|(name, _)| !is_sidecar(name));
        Ok(entries)
    }

    fn delete(&self, name: &str) -> Result<()> {
        check_name(name)?;
        let _exclusive = self.lock.write().unwrap_or_else(PoisonError::into_inner);
        // The object first: once it is gone, it is gone for list and get
        // whatever happens to its sidecar.
        let deleted = self.inner.delete(name);
        if matches!(&deleted, Err(e) if e.code() != ErrorCode::NOT_FOUND) {
            return deleted;
        }
        // Also when the object was missing: a put that failed half-way may
        // have left a sidecar.
        match self.inner.delete(&sidecar_name(name)) {
            Err(e) if e.code() != ErrorCode::NOT_FOUND => {
                Err(e.context("verify: deleting the checksum"))
            }
            _ => deleted,
        }
    }

    // Optional operations. Names are stored unchanged, so these forward
    // as they are. When the inner backend answers "unsupported", that
    // answer goes back unchanged, and the host falls back (query_list →
    // query each, query → list) once, at the outermost level.

    fn query(&self, name: &str) -> Result<Option<u64>> {
        check_name(name)?;
        self.inner.query(name)
    }

    fn query_list(&self, names: &[&str]) -> Result<Vec<Option<u64>>> {
        for name in names {
            check_name(name)?;
        }
        self.inner.query_list(names)
    }

    fn retry_cleanup(&self) -> Result<()> {
        // The host calls this between two attempts: let the inner backend
        // reconnect, respawn its helper, whatever it needs.
        self.inner.retry_cleanup()
    }

    fn close(&self) -> Result<()> {
        // Closing is the inner backend's durability barrier: forward it, and
        // its errors.
        self.inner.close()
    }

    // Not implemented, so the defaults answer "unsupported" and the host
    // falls back: delete_list → our `delete` for each name (which removes
    // the sidecars too), move_in → our `put`, then removing the local file.
    // Forwarding them would bypass the sidecars.
}
