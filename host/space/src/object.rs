//! Content-addressed objects: `obj-<sha256 hex>` holds bytes whose SHA-256
//! is that hex, so equal content is stored once per store, whichever space
//! refers to it. Empty content needs no object.

use std::collections::HashMap;
use std::fs::{self, File};
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::error::{SpaceError, SpaceResult};
use crate::hash::{is_sha256_hex, sha256_file, EMPTY_SHA256};
use crate::sync::locked;
use crate::temp::TempPath;
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

/// What this process knows about the store's content objects, and who is
/// uploading which.
///
/// Invariant: a checksum is in `known` only when its object is complete in
/// the backend with that size. Objects are removed only by garbage
/// collection, which runs only when no other handle uses the store, so
/// `known` stays true while the store is open.
#[derive(Debug, Default)]
pub struct BlobCache {
    known: Mutex<HashMap<String, u64>>,
    uploading: Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

impl BlobCache {
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
    }

    /// Makes sure content `sha256` of `size` bytes is stored, uploading
    /// `local` if it is not. After an upload, `unchanged` must confirm that
    /// `local` still holds the content that was hashed; if not, the upload
    /// is removed and `Ok(false)` returned (the caller hashes again).
    pub fn ensure(
        &self,
        backend: &Backend,
        sha256: &str,
        size: u64,
        local: &Path,
        unchanged: impl FnOnce() -> SpaceResult<bool>,
    ) -> SpaceResult<bool> {
        if size == 0 && sha256 == EMPTY_SHA256 {
            return Ok(true);
        }
        let slot = locked(&self.uploading)
            .entry(sha256.to_string())
            .or_default()
            .clone();
        let result = {
            let _one_uploader = locked(&slot);
            self.upload(backend, sha256, size, local, unchanged)
        };
        let mut uploading = locked(&self.uploading);
        // The map and we hold it: nobody waits.
        if Arc::strong_count(&slot) == 2 {
            uploading.remove(sha256);
        }
        result
    }

    fn upload(
        &self,
        backend: &Backend,
        sha256: &str,
        size: u64,
        local: &Path,
        unchanged: impl FnOnce() -> SpaceResult<bool>,
    ) -> SpaceResult<bool> {
        // A shorter object is a torn upload from a crash: replace it.
        if locked(&self.known).get(sha256) == Some(&size) {
            return Ok(true);
        }
        let name = blob_name(sha256);
        backend.put(local, &name)?;
        if !unchanged()? {
            if let Err(e) = backend.delete(&name) {
                log::warn!("could not remove {name} after its source changed: {e}");
            }
            return Ok(false);
        }
        locked(&self.known).insert(sha256.to_string(), size);
        Ok(true)
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
