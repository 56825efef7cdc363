//! Content-addressed objects: `obj-<sha256 hex>` holds bytes whose SHA-256
//! is that hex, so equal content is stored once per store, whichever space
//! refers to it. Empty content needs no object.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::check::ObjectChecker;
use crate::error::{SpaceError, SpaceResult};
use crate::hash::{is_sha256_hex, sha256_file, EMPTY_SHA256};
use crate::sync::locked;
use crate::temp::{write_temp, TempPath};
use crate::umask::with_private_umask;
use stowage::Backend;

/// Prefix of content objects.
pub const BLOB_PREFIX: &str = "obj-";

/// The object name of content with this checksum.
pub fn blob_name(sha256: &str) -> String {
    format!("{BLOB_PREFIX}{sha256}")
}

/// The checksum named by a content object, `None` for other objects.
pub fn parse_blob_name(object: &str) -> Option<&str> {
    object
        .strip_prefix(BLOB_PREFIX)
        .filter(|hex| is_sha256_hex(hex))
}

/// Fetches a whole object into memory, through a temporary file in
/// `temp_dir`.
pub fn fetch_bytes(backend: &Backend, temp_dir: &Path, object: &str) -> SpaceResult<Vec<u8>> {
    let temp = TempPath::in_dir(temp_dir, "fetch");
    backend.get(object, temp.path())?;
    fs::read(temp.path()).map_err(|e| SpaceError::local(temp.path(), e))
}

/// Why stored content cannot be used.
#[derive(Debug)]
pub enum Fault {
    /// The object does not exist.
    Missing,
    /// It has another size.
    Size(u64),
    /// Its bytes hash to something else.
    Checksum,
    /// Fetching it failed otherwise.
    Other(SpaceError),
}

impl Fault {
    /// The fault in words, for `verify` and logs.
    pub fn describe(&self, size: u64) -> String {
        match self {
            Fault::Missing => "missing".to_string(),
            Fault::Size(found) => format!("size {found}, expected {size}"),
            Fault::Checksum => "checksum mismatch".to_string(),
            Fault::Other(e) => e.to_string(),
        }
    }

    /// The fault as words for [`SpaceError::Damaged`], or the error itself.
    pub fn into_error(self, name: &str, space: &str, sha256: &str, size: u64) -> SpaceError {
        let problem = match self {
            Fault::Missing => "is missing".to_string(),
            Fault::Size(found) => format!("has {found} bytes, expected {size}"),
            Fault::Checksum => "fails its SHA-256 check".to_string(),
            Fault::Other(e) => return e,
        };
        SpaceError::Damaged {
            name: name.to_string(),
            space: space.to_string(),
            object: blob_name(sha256),
            problem,
        }
    }
}

/// Fetches content `sha256` (of `size` bytes) to `dest`, which must not
/// exist, and checks it. On a fault, `dest` is removed.
pub fn fetch_verified(
    backend: &Backend,
    sha256: &str,
    size: u64,
    dest: &Path,
) -> Result<(), Fault> {
    let result = fetch_checked(backend, sha256, size, dest);
    if result.is_err() {
        let _ = fs::remove_file(dest);
    }
    result
}

fn fetch_checked(backend: &Backend, sha256: &str, size: u64, dest: &Path) -> Result<(), Fault> {
    if size == 0 && sha256 == EMPTY_SHA256 {
        File::create(dest).map_err(|e| Fault::Other(SpaceError::local(dest, e)))?;
        return Ok(());
    }
    match backend.get(&blob_name(sha256), dest) {
        Ok(_) => {}
        Err(e) if e.code() == stowage_backend_api::ErrorCode::NOT_FOUND => {
            return Err(Fault::Missing)
        }
        Err(e) => return Err(Fault::Other(e.into())),
    }
    let (actual, len) = sha256_file(dest).map_err(|e| Fault::Other(SpaceError::local(dest, e)))?;
    if len != size {
        Err(Fault::Size(len))
    } else if actual != sha256 {
        Err(Fault::Checksum)
    } else {
        Ok(())
    }
}

/// Objects up to this size already in the store are fetched and checked
/// (SHA-256) before a backup reuses them; bigger ones are checked by size,
/// unless [`StoreOptions::verify_existing`](crate::StoreOptions) asks for
/// all of them.
pub const VERIFY_SMALLER_THAN: u64 = 64 * 1024;

/// Content to store: bytes in memory, or a private local file.
#[derive(Clone, Copy)]
pub enum Content<'a> {
    /// In memory.
    Bytes(&'a [u8]),
    /// A file nobody else can change (a private temporary copy).
    File(&'a Path),
    /// A file nobody could write while it was hashed, unless `unchanged`
    /// says otherwise after it was stored.
    Leased {
        /// Where the backend reads it.
        path: &'a Path,
        /// Whether it still holds what was hashed.
        unchanged: &'a dyn Unchanged,
    },
}

/// Tells whether content read from a file is still what was hashed.
pub trait Unchanged {
    /// False when the file may have changed since it was hashed.
    fn unchanged(&self) -> bool;
}

/// What this process knows about the store's content objects, and who is
/// uploading which.
///
/// Invariant: a checksum is in `good` only when its object is complete in
/// the backend with the right content (uploaded, or checked, by this
/// handle). Objects are removed only by garbage collection, which runs only
/// when no other handle uses the store, so `good` stays true while the
/// store is open.
#[derive(Debug)]
pub struct BlobCache {
    verify_existing: bool,
    checker: ObjectChecker,
    /// Sizes from the store's listing (not checked).
    known: Mutex<HashMap<String, u64>>,
    good: Mutex<HashSet<String>>,
    uploading: Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

impl BlobCache {
    /// A cache that checks reused objects' content with `checker`,
    /// whatever their size when `verify_existing` is set.
    pub fn new(verify_existing: bool, checker: ObjectChecker) -> Self {
        Self {
            verify_existing,
            checker,
            known: Mutex::default(),
            good: Mutex::default(),
            uploading: Mutex::default(),
        }
    }

    /// How stored objects are checked.
    pub fn checker(&self) -> &ObjectChecker {
        &self.checker
    }

    /// Records the content objects of a fresh listing.
    pub fn learn(&self, listing: &[(String, u64)]) {
        let mut known = locked(&self.known);
        for (name, size) in listing {
            if let Some(sha) = parse_blob_name(name) {
                known.insert(sha.to_string(), *size);
            }
        }
    }

    /// Forgets objects that were deleted.
    pub fn forget(&self, sha256: &str) {
        locked(&self.known).remove(sha256);
        locked(&self.good).remove(sha256);
    }

    /// Makes sure content `sha256` of `size` bytes is stored and sound:
    /// an object of that name already in the store is reused when its
    /// size matches and (for small objects, or all with `verify_existing`)
    /// its content checks out; otherwise `content` is stored (again).
    /// `force` stores it whatever the store holds (a repair).
    pub fn ensure(
        &self,
        backend: &Backend,
        temp_dir: &Path,
        sha256: &str,
        size: u64,
        content: Content<'_>,
        force: bool,
    ) -> SpaceResult<()> {
        self.one_at_a_time(sha256, || {
            let reuse = !force
                && (locked(&self.good).contains(sha256)
                    || self.sound_in_store(backend, temp_dir, sha256, size));
            if reuse {
                return Ok(());
            }
            // Missing or damaged: store it (again).
            let temp;
            let local = match content {
                Content::File(path) | Content::Leased { path, .. } => path,
                Content::Bytes(bytes) => {
                    temp = write_temp(temp_dir, bytes)?;
                    temp.path()
                }
            };
            let name = blob_name(sha256);
            let stored = with_private_umask(|| backend.put(local, &name));
            if let Content::Leased { path, unchanged } = content {
                if !unchanged.unchanged() {
                    // What was stored may not be what was hashed: it must not
                    // stay under this name. The object was missing or damaged
                    // before (else it was reused, not stored).
                    self.forget(sha256);
                    match backend.delete(&name) {
                        Ok(()) => {}
                        Err(e) if e.code() == stowage_backend_api::ErrorCode::NOT_FOUND => {}
                        Err(e) => return Err(e.into()),
                    }
                    return Err(SpaceError::SourceChanged {
                        path: path.to_path_buf(),
                    });
                }
            }
            stored?;
            locked(&self.known).insert(sha256.to_string(), size);
            locked(&self.good).insert(sha256.to_string());
            Ok(())
        })
    }

    fn one_at_a_time(&self, sha256: &str, f: impl FnOnce() -> SpaceResult<()>) -> SpaceResult<()> {
        if sha256 == EMPTY_SHA256 {
            return Ok(());
        }
        let slot = locked(&self.uploading)
            .entry(sha256.to_string())
            .or_default()
            .clone();
        let result = {
            let _one_uploader = locked(&slot);
            f()
        };
        let mut uploading = locked(&self.uploading);
        // The map and we hold it: nobody waits.
        if Arc::strong_count(&slot) == 2 {
            uploading.remove(sha256);
        }
        result
    }

    /// Whether the store's object for `sha256` can be reused: its listed
    /// size matches, and its content when it is small or every object is
    /// checked. A damaged one is logged (and then replaced by the caller).
    fn sound_in_store(&self, backend: &Backend, temp_dir: &Path, sha256: &str, size: u64) -> bool {
        let listed = locked(&self.known).get(sha256).copied();
        match listed {
            None => return false,
            Some(found) if found != size => {
                log::warn!(
                    "{} has {found} bytes, expected {size}: storing it again",
                    blob_name(sha256)
                );
                return false;
            }
            Some(_) => {}
        }
        if size >= VERIFY_SMALLER_THAN && !self.verify_existing {
            locked(&self.good).insert(sha256.to_string());
            return true;
        }
        match self.checker.check(backend, temp_dir, sha256, size) {
            Ok(()) => {
                locked(&self.good).insert(sha256.to_string());
                true
            }
            Err(fault) => {
                log::warn!(
                    "{} is damaged ({}): storing it again",
                    blob_name(sha256),
                    fault.describe(size)
                );
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::sha256_hex;

    #[test]
    fn hashes() {
        assert_eq!(sha256_hex(b""), EMPTY_SHA256);
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            parse_blob_name(&blob_name(EMPTY_SHA256)),
            Some(EMPTY_SHA256)
        );
        assert_eq!(parse_blob_name("obj-xyz"), None);
        assert!(!is_sha256_hex(&EMPTY_SHA256.to_uppercase()));
    }
}
