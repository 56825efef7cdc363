//! Content-addressed objects: `obj-<sha256 hex>` holds bytes whose SHA-256
//! is that hex, so equal content is stored once per store, whichever space
//! refers to it. Empty content needs no object.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use sha2::{Digest, Sha256};

use super::error::{SpaceError, SpaceResult};
use stowage::Backend;

/// Prefix of content objects.
pub const BLOB_PREFIX: &str = "obj-";

/// SHA-256 of no bytes.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

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

/// Whether `s` is 64 lower-case hex digits.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

/// SHA-256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// SHA-256 and length of what `reader` yields.
pub fn sha256_reader(mut reader: impl Read) -> io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((hex(&hasher.finalize()), total))
}

/// SHA-256 and length of the file at `path` (a symlink is not followed).
pub fn sha256_file(path: &Path) -> io::Result<(String, u64)> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    sha256_reader(file)
}

/// A fresh hidden path beside `target` (same directory, so a rename onto
/// `target` is atomic). Nothing is created.
pub fn temp_path_beside(target: &Path, tag: &str) -> PathBuf {
    let dir = target.parent().unwrap_or(Path::new("."));
    let base = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut keep: String = base.chars().take(100).collect();
    keep.retain(|c| c != '/');
    dir.join(format!(
        ".stowage-{tag}-{:016x}-{keep}",
        rand::random::<u64>()
    ))
}

/// A path that is removed (if it exists) when dropped, unless kept.
#[derive(Debug)]
pub struct TempPath {
    path: PathBuf,
    armed: bool,
}

impl TempPath {
    /// Claims `path` (which should not exist yet).
    pub fn new(path: PathBuf) -> Self {
        Self { path, armed: true }
    }

    /// A fresh name in `dir`.
    pub fn in_dir(dir: &Path, tag: &str) -> Self {
        Self::new(temp_path_beside(&dir.join("x"), tag))
    }

    /// The path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Renames it onto `target` and forgets it.
    pub fn rename_onto(mut self, target: &Path) -> io::Result<()> {
        fs::rename(&self.path, target)?;
        self.armed = false;
        Ok(())
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Writes `bytes` to a new private file in `dir`.
pub fn write_temp(dir: &Path, bytes: &[u8]) -> SpaceResult<TempPath> {
    let temp = TempPath::in_dir(dir, "value");
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(temp.path())
        .map_err(|e| SpaceError::local(temp.path(), e))?;
    f.write_all(bytes)
        .map_err(|e| SpaceError::local(temp.path(), e))?;
    Ok(temp)
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

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
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
