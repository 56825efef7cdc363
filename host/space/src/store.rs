//! `BackupStore`: one backend URL holding any number of spaces.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use crate::check::ObjectChecker;
use crate::error::{SpaceError, SpaceResult};
use crate::gc::{collect, GcReport};
use crate::handle::{Mode, Space};
use crate::info::SpaceInfo;
use crate::inner::{StoreInner, STORE_WAIT};
use crate::key::{default_key_file, StoreKey};
use crate::lock::{lock_path, FileLock};
use crate::manifest::ManifestName;
use crate::object::BlobCache;
use crate::sync::locked;
use crate::umask::with_private_umask;
use crate::validate_space_name;
use stowage::{Backend, Registry};

/// How a store is opened. `StoreOptions::default()` is what
/// [`BackupStore::open`] uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreOptions {
    /// The file holding the store key that authenticates manifests
    /// (created, 0600, when absent). `None`: [`default_key_file`] of the
    /// store URL. The CLI's `--key-file`.
    pub key_file: Option<PathBuf>,
    /// Before reusing any content object already in the store (dedup),
    /// fetch it and check its SHA-256, storing it again when it is
    /// damaged. Without it, only objects up to
    /// [`VERIFY_SMALLER_THAN`](crate::VERIFY_SMALLER_THAN) bytes are
    /// checked that way, bigger ones by size. The CLI's
    /// `--verify-existing`.
    pub verify_existing: bool,
    /// Read manifests written by stowage versions whose manifests were not
    /// authenticated (format version 1). Their entries are restored
    /// without setuid, setgid or sticky bits and owned by the restoring
    /// user; the next change rewrites them authenticated. The CLI's
    /// `--trust-unauthenticated`.
    pub trust_unauthenticated: bool,
    /// Files stored at once by a backup (objects in flight on the one
    /// backend handle). `None`: twice the processors, 2 to 8. The CLI's
    /// `space backup --jobs`.
    pub workers: Option<usize>,
}

/// A backup store: every space kept in one backend.
///
/// Content objects are shared between the store's spaces (equal content is
/// stored once). `Send + Sync`; spaces opened from it keep it alive.
pub struct BackupStore {
    inner: Arc<StoreInner>,
}

impl std::fmt::Debug for BackupStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackupStore")
            .field("url", &self.inner.url)
            .finish()
    }
}

impl BackupStore {
    /// Opens the backend at `url` (default retry policy) as a store.
    ///
    /// # Errors
    /// The URL cannot be opened; a garbage collection holds the store for
    /// over a minute ([`SpaceError::StoreBusy`]).
    pub fn open(registry: &Registry, url: &str) -> SpaceResult<Self> {
        Self::open_with(registry, url, &StoreOptions::default())
    }

    /// Opens the backend at `url` as a store, with `options`.
    ///
    /// # Errors
    /// As [`BackupStore::open`]; the key file cannot be read or created
    /// ([`SpaceError::KeyFile`]).
    pub fn open_with(registry: &Registry, url: &str, options: &StoreOptions) -> SpaceResult<Self> {
        let backend = with_private_umask(|| registry.open(url))?;
        Self::with_backend_options(backend, options)
    }

    /// A store over an already open backend.
    ///
    /// # Errors
    /// As [`BackupStore::open`].
    pub fn with_backend(backend: Backend) -> SpaceResult<Self> {
        Self::with_backend_options(backend, &StoreOptions::default())
    }

    /// A store over an already open backend, with `options`.
    ///
    /// # Errors
    /// As [`BackupStore::open_with`].
    pub fn with_backend_options(backend: Backend, options: &StoreOptions) -> SpaceResult<Self> {
        let url = backend.url();
        let key_file = match &options.key_file {
            Some(path) => path.clone(),
            None => default_key_file(&url)?,
        };
        let key = StoreKey::load_or_create(&key_file)?;
        let staging = tempfile::Builder::new()
            .prefix(".stowage-space-")
            .tempdir()
            .map_err(|e| SpaceError::local(std::env::temp_dir(), e))?;
        let path = lock_path(&url, None);
        let busy = |detail: String| SpaceError::StoreBusy {
            url: url.clone(),
            detail,
        };
        let store_lock = FileLock::lock_within(&path, false, STORE_WAIT)?
            .ok_or_else(|| busy("a garbage collection holds it".to_string()))?;
        let workers = options.workers.map_or_else(
            || {
                let twice_cpus = std::thread::available_parallelism().map_or(2, |n| n.get() * 2);
                twice_cpus.clamp(2, 8)
            },
            |n| n.max(1),
        );
        let checker = ObjectChecker::of(&backend);
        Ok(Self {
            inner: Arc::new(StoreInner {
                backend,
                url,
                staging,
                key,
                trust_unauthenticated: options.trust_unauthenticated,
                blobs: BlobCache::new(options.verify_existing, checker),
                store_lock,
                ops: RwLock::new(()),
                pinned: Mutex::new(HashSet::new()),
                open: Mutex::new(HashMap::new()),
                workers,
            }),
        })
    }

    /// The URL, credentials removed.
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// The file holding the key that authenticates this store's manifests.
    /// Copy it (keeping it private) to restore on another machine.
    pub fn key_file(&self) -> &Path {
        self.inner.key.path()
    }

    /// The backend.
    pub fn backend(&self) -> &Backend {
        &self.inner.backend
    }

    /// Opens space `name` for writing, creating it when absent
    /// (FirstAidKit's `getBackup(id, persistent)`).
    ///
    /// # Errors
    /// An invalid name; the space is open elsewhere ([`SpaceError::InUse`]);
    /// it exists with the other persistence setting
    /// ([`SpaceError::PersistenceMismatch`]); its manifest is unreadable.
    pub fn space(&self, name: &str, persistent: bool) -> SpaceResult<Space> {
        Space::open(self.inner.clone(), name, Mode::Create(persistent))
    }

    /// Opens an existing space for writing, with its stored persistence
    /// (for revert, or tools that should not create spaces).
    ///
    /// # Errors
    /// As [`BackupStore::space`], and [`SpaceError::NoSuchSpace`].
    pub fn open_space(&self, name: &str) -> SpaceResult<Space> {
        Space::open(self.inner.clone(), name, Mode::Existing)
    }

    /// Opens an existing space for reading: restores, verify, listing.
    /// Readers share a space; a writer excludes them. Closing a read-only
    /// handle never removes the space.
    ///
    /// # Errors
    /// As [`BackupStore::open_space`].
    pub fn open_space_read_only(&self, name: &str) -> SpaceResult<Space> {
        Space::open(self.inner.clone(), name, Mode::ReadOnly)
    }

    /// Every space in the store, sorted by name.
    ///
    /// # Errors
    /// The backend fails, or a space's manifests are all unusable.
    pub fn spaces(&self) -> SpaceResult<Vec<SpaceInfo>> {
        // A writer may replace a manifest between our listing and our read.
        let mut attempts = 0;
        'again: loop {
            attempts += 1;
            let listing = self.inner.backend.list()?;
            let names: BTreeSet<String> = listing
                .iter()
                .filter_map(|(n, _)| ManifestName::parse(n).map(|m| m.space))
                .collect();
            let mut out = Vec::with_capacity(names.len());
            for name in names {
                match self.inner.load(&name, &listing) {
                    Ok(Some(loaded)) => out.push(SpaceInfo::of(&loaded.manifest)),
                    Ok(None) => {}
                    Err(SpaceError::BadManifest { .. }) if attempts < 3 => continue 'again,
                    Err(e) => return Err(e),
                }
            }
            return Ok(out);
        }
    }

    /// Removes space `name` and everything in it (its content objects go
    /// with the next garbage collection, at once when the store is ours
    /// alone).
    ///
    /// # Errors
    /// As [`BackupStore::open_space`].
    pub fn drop_space(&self, name: &str) -> SpaceResult<()> {
        validate_space_name(name)?;
        self.open_space(name)?.discard()
    }

    /// Removes content objects that no space refers to and old manifest
    /// generations.
    ///
    /// # Errors
    /// [`SpaceError::StoreBusy`] when a space is open (here or in another
    /// process); backend errors.
    pub fn gc(&self) -> SpaceResult<GcReport> {
        let inner = &self.inner;
        match inner.exclusively(None, |listing| collect(inner, listing))? {
            Some((report, _)) => Ok(report),
            None => Err(SpaceError::StoreBusy {
                url: inner.url.clone(),
                detail: "garbage collection needs it alone, but it is open elsewhere \
                         (spaces of this handle, or other handles or processes)"
                    .to_string(),
            }),
        }
    }

    /// Ends the backend session (its durability barrier). Spaces should be
    /// closed first; one still open keeps working until it is closed, but
    /// its later writes are not covered by this barrier.
    ///
    /// # Errors
    /// The backend's close fails.
    pub fn close(&self) -> SpaceResult<()> {
        if !locked(&self.inner.open).is_empty() {
            log::warn!("closing store {} with spaces still open", self.inner.url);
        }
        Ok(self.inner.backend.close()?)
    }
}
