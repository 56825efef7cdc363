//! A flat directory of objects implementing the backend contract.

use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use stowage_backend_api::{Backend, BackendError, Progress, Result};

use crate::atomic::{copy_atomically, file_name_bytes, CopyError};
use crate::durability::{fsync_dir, fsync_path, syncfs_path, Durability};
use crate::temp::{is_generated_temp_name, is_temp_name, TEMP_PREFIX};

/// Objects are the regular files directly inside `dir`.
///
/// Invariants: a file appears under an object name only when complete;
/// temporary files (named [`TEMP_PREFIX`]...) are never listed; the
/// directory is created on the first write, not at open, so a store can be
/// described before it exists.
#[derive(Debug)]
pub struct LocalStore {
    dir: PathBuf,
    durability: Durability,
    progress: Option<Arc<Progress>>,
    /// Something was written since the last barrier (shared with the
    /// store's stream writers).
    dirty: Arc<AtomicBool>,
}

impl LocalStore {
    /// A store over `dir` with the given policy. Does not touch the disk.
    pub fn new(dir: PathBuf, durability: Durability) -> Self {
        Self {
            dir,
            durability,
            progress: None,
            dirty: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The same store, reporting transfer progress to the host (see
    /// `stowage_backend_api::Host::progress`).
    pub fn with_progress(mut self, progress: Option<Progress>) -> Self {
        self.progress = progress.map(Arc::new);
        self
    }

    fn copy(&self, from: &Path, to: &Path, sync: bool) -> std::result::Result<u64, CopyError> {
        match &self.progress {
            Some(p) => copy_atomically(from, to, sync, Some(&|done, total| p.report(done, total))),
            None => copy_atomically(from, to, sync, None),
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The durability policy.
    pub fn durability(&self) -> Durability {
        self.durability
    }

    fn object_path(&self, name: &str) -> Result<PathBuf> {
        // The host validated the name; the reserved prefix is ours to guard.
        Self::check_name(name)?;
        Ok(self.dir.join(name))
    }

    /// Makes one completed write durable according to the policy.
    fn written(&self, path: &Path) -> Result<()> {
        record_write(&self.dir, self.durability, &self.dirty, path)
    }

    /// The parts of the store a stream writer or reader needs after the
    /// backend call that made it returned.
    pub(crate) fn stream_parts(&self) -> (PathBuf, Durability, Arc<AtomicBool>) {
        (self.dir.clone(), self.durability, Arc::clone(&self.dirty))
    }

    /// Where transfers are reported, if anywhere.
    pub(crate) fn progress(&self) -> Option<Arc<Progress>> {
        self.progress.clone()
    }

    fn ensure_dir(&self) -> Result<()> {
        ensure_dir(&self.dir)
    }

    /// Refuses the names reserved for temporary files.
    pub(crate) fn check_name(name: &str) -> Result<()> {
        if is_temp_name(name.as_bytes()) {
            return Err(BackendError::invalid_input(format!(
                "{name:?}: names starting with {TEMP_PREFIX:?} are reserved for temporary files"
            )));
        }
        Ok(())
    }

    fn local_error(e: &io::Error, what: &str, path: &Path) -> BackendError {
        BackendError::from_io(e, format!("{what} {}", path.display()))
    }
}

/// The store's directory `dir`, made on demand by the first write.
pub(crate) fn ensure_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir)
        .map_err(|e| BackendError::from_io(&e, format!("creating directory {}", dir.display())))
}

/// Makes one completed write (a rename or an unlink in `dir`) durable
/// according to `durability`: the directory synced now (`each`), or the
/// barrier at close marked pending (`close`).
pub(crate) fn record_write(
    dir: &Path,
    durability: Durability,
    dirty: &AtomicBool,
    path: &Path,
) -> Result<()> {
    match durability {
        Durability::Each => fsync_dir(dir).map_err(|e| {
            BackendError::from_io(
                &e,
                format!(
                    "syncing directory {} after {}",
                    dir.display(),
                    path.display()
                ),
            )
        }),
        Durability::Close => {
            dirty.store(true, Ordering::Release);
            Ok(())
        }
        Durability::None => Ok(()),
    }
}

/// A temporary file untouched for this long belongs to a put that died
/// (`kill -9`, a crash): a live copy keeps its mtime moving.
pub const STALE_TEMPORARY_AGE: Duration = Duration::from_secs(3600);

impl LocalStore {
    /// Removes temporary files left by puts that died, so a killed run
    /// does not leave hidden garbage behind for ever. Only files this
    /// program made are candidates: a name of exactly the generated shape
    /// ([`is_generated_temp_name`]), a regular file (not followed if a
    /// symlink), owned by the effective user, untouched for longer than
    /// [`STALE_TEMPORARY_AGE`]. Best effort: errors are logged, never
    /// returned.
    fn sweep_stale_temporaries(&self) {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        let now = SystemTime::now();
        let me = rustix::process::geteuid().as_raw();
        for entry in entries.flatten() {
            if !is_generated_temp_name(entry.file_name().as_bytes()) {
                continue;
            }
            // DirEntry::metadata does not follow symlinks.
            let stale = entry
                .metadata()
                .ok()
                .filter(|m| m.is_file() && m.uid() == me)
                .and_then(|m| m.modified().ok())
                .and_then(|t| now.duration_since(t).ok())
                .is_some_and(|age| age > STALE_TEMPORARY_AGE);
            if stale {
                match fs::remove_file(entry.path()) {
                    Ok(()) => log::info!(
                        "removed {}, left by an interrupted put",
                        entry.path().display()
                    ),
                    Err(e) => log::debug!("cannot remove {}: {e}", entry.path().display()),
                }
            }
        }
    }
}

impl Backend for LocalStore {
    fn put(&self, local: &Path, name: &str) -> Result<()> {
        let target = self.object_path(name)?;
        // Open errors on the source must not be reported as a missing store.
        fs::metadata(local).map_err(|e| Self::local_error(&e, "reading local file", local))?;
        self.ensure_dir()?;
        self.copy(local, &target, self.durability == Durability::Each)
            .map_err(|e| match e {
                CopyError::Source(e) => Self::local_error(&e, "reading local file", local),
                CopyError::Target(e) => Self::local_error(&e, "storing", &target),
            })?;
        self.written(&target)
    }

    fn get(&self, name: &str, local: &Path) -> Result<()> {
        let source = self.object_path(name)?;
        match fs::metadata(&source) {
            Ok(m) if m.is_file() => {}
            Ok(_) => {
                return Err(BackendError::not_found(format!(
                    "{}: not a regular file",
                    source.display()
                )))
            }
            Err(e) => return Err(Self::local_error(&e, "reading", &source)),
        }
        if file_name_bytes(local).is_empty() {
            return Err(BackendError::invalid_input(format!(
                "{}: the destination needs a file name",
                local.display()
            )));
        }
        self.copy(&source, local, false)
            .map(|_| ())
            .map_err(|e| match e {
                CopyError::Source(e) => Self::local_error(&e, "reading", &source),
                CopyError::Target(e) => Self::local_error(&e, "writing", local),
            })
    }

    fn list(&self) -> Result<Vec<(String, u64)>> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Self::local_error(&e, "listing", &self.dir)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Self::local_error(&e, "listing", &self.dir))?;
            let raw = entry.file_name();
            if is_temp_name(raw.as_bytes()) {
                continue;
            }
            let Some(name) = raw.to_str() else {
                log::warn!(
                    "skipping {:?} in {}: not a UTF-8 name, so not a stowage object",
                    raw,
                    self.dir.display()
                );
                continue;
            };
            // A file removed between readdir and stat is simply not listed.
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_file() {
                out.push((name.to_string(), meta.size()));
            }
        }
        Ok(out)
    }

    fn delete(&self, name: &str) -> Result<()> {
        let path = self.object_path(name)?;
        fs::remove_file(&path).map_err(|e| Self::local_error(&e, "deleting", &path))?;
        self.written(&path)
    }

    fn delete_list(&self, names: &[&str]) -> Result<()> {
        for name in names {
            match self.delete(name) {
                Err(e) if e.code() == stowage_backend_api::ErrorCode::NOT_FOUND => {}
                other => other?,
            }
        }
        Ok(())
    }

    fn query(&self, name: &str) -> Result<Option<u64>> {
        let path = self.object_path(name)?;
        match fs::metadata(&path) {
            Ok(m) if m.is_file() => Ok(Some(m.size())),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Self::local_error(&e, "querying", &path)),
        }
    }

    fn query_list(&self, names: &[&str]) -> Result<Vec<Option<u64>>> {
        names.iter().map(|n| self.query(n)).collect()
    }

    fn move_in(&self, local: &Path, name: &str) -> Result<()> {
        let target = self.object_path(name)?;
        let meta = fs::symlink_metadata(local)
            .map_err(|e| Self::local_error(&e, "reading local file", local))?;
        self.ensure_dir()?;
        // Renaming a symlink would store the link, not the data.
        if meta.is_file() {
            if self.durability == Durability::Each {
                fsync_path(local).map_err(|e| Self::local_error(&e, "syncing", local))?;
            }
            match fs::rename(local, &target) {
                Ok(()) => return self.written(&target),
                Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {}
                Err(e) => return Err(Self::local_error(&e, "moving into", &target)),
            }
        }
        self.put(local, name)?;
        fs::remove_file(local)
            .map_err(|e| Self::local_error(&e, "removing the local file after storing it:", local))
    }

    fn extension(&self, id: &str) -> Option<stowage_backend_api::Extension> {
        self.store_extension(id)
    }

    fn close(&self) -> Result<()> {
        self.sweep_stale_temporaries();
        if self.durability == Durability::Close && self.dirty.swap(false, Ordering::AcqRel) {
            syncfs_path(&self.dir).map_err(|e| {
                // Keep the barrier pending so a retried close syncs again.
                self.dirty.store(true, Ordering::Release);
                Self::local_error(&e, "syncing the filesystem of", &self.dir)
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn age(path: &Path) {
        let old = SystemTime::now() - STALE_TEMPORARY_AGE - Duration::from_secs(60);
        fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(old)
            .unwrap();
    }

    /// Only stale files of exactly the generated shape, owned by us, go; a
    /// user's similarly named file, a live temporary file and another
    /// user's file of the generated shape stay.
    #[test]
    fn close_sweeps_only_our_stale_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().to_path_buf(), Durability::None);
        let stale = dir.path().join(crate::temp::temp_name(b"dead-put"));
        let live = dir.path().join(crate::temp::temp_name(b"live-put"));
        let users = dir.path().join(format!("{TEMP_PREFIX}notes"));
        let foreign = dir.path().join(crate::temp::temp_name(b"someone-else"));
        for (path, data) in [
            (&stale, &b"half"[..]),
            (&live, b"in progress"),
            (&users, b"keep me"),
            (&foreign, b"not ours"),
        ] {
            fs::write(path, data).unwrap();
        }
        age(&stale);
        age(&users);
        age(&foreign);
        let running_as_root = rustix::process::geteuid().is_root();
        if running_as_root {
            // 65534: nobody.
            std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)).unwrap();
        }
        store.close().unwrap();
        assert!(!stale.exists());
        assert!(live.exists());
        assert_eq!(fs::read(&users).unwrap(), b"keep me");
        assert_eq!(foreign.exists(), running_as_root);
    }

    /// Objects get 0666 less the umask, never the source's mode, and a
    /// get likewise; reading a local file that cannot be read names it.
    #[test]
    fn new_files_follow_the_umask_and_errors_name_the_local_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().join("store"), Durability::None);
        let src = dir.path().join("src");
        fs::write(&src, b"x").unwrap();
        fs::set_permissions(&src, fs::Permissions::from_mode(0o777)).unwrap();
        store.put(&src, "obj").unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode(&dir.path().join("store/obj")) & 0o111, 0);
        let back = dir.path().join("back");
        store.get("obj", &back).unwrap();
        assert_eq!(mode(&back) & 0o111, 0);
        let missing = dir.path().join("missing");
        let e = store.put(&missing, "obj2").unwrap_err();
        assert!(
            e.message().contains(&missing.display().to_string()),
            "{}",
            e.message()
        );
    }
}
