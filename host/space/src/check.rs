//! Checking a stored content object without keeping it: its bytes are
//! hashed as they arrive and then dropped.
//!
//! A backup checks every small object it reuses and `space verify` checks
//! them all, so this runs once per object of a store. Through the
//! backend's `stowage.stream/1` reader (which the file, S3 and SFTP
//! plugins offer) that costs an open and a read; a `get` instead makes a
//! temporary file, renames it into place, reads it back and removes it,
//! which for small objects costs several times the hashing. The `get` is
//! the fallback for backends without a reader, and for a reader that
//! fails other than by "not found": a stream is never retried, a `get`
//! is, so a passing network fault does not make a sound object look
//! damaged.

use std::io::Read;
use std::path::Path;

use stowage::Backend;
use stowage_backend_api::ErrorCode;
use stowage_stream_ext::Stream;

use crate::hash::{sha256_copy, EMPTY_SHA256};
use crate::object::{blob_name, fetch_verified, Fault};
use crate::temp::TempPath;

/// Reads stored objects for checking.
///
/// Invariant: `stream` is the backend's own stream extension, looked up
/// once when the store was opened (`None`: the backend offers none).
pub struct ObjectChecker {
    stream: Option<Stream>,
}

impl std::fmt::Debug for ObjectChecker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectChecker")
            .field("streamed", &self.stream.is_some())
            .finish()
    }
}

impl ObjectChecker {
    /// A checker for `backend`: through its stream reader when it offers
    /// one (a stream extension this host cannot use is logged and left
    /// aside).
    pub fn of(backend: &Backend) -> Self {
        let stream = Stream::lookup(|id| backend.extension_as(id)).unwrap_or_else(|e| {
            log::warn!(
                "{}: unusable {}: {e}; objects are checked through get",
                backend.url(),
                stowage_stream_ext::ID
            );
            None
        });
        Self { stream }
    }

    /// Whether the object for content `sha256` holds exactly `size` bytes
    /// with that SHA-256. `temp_dir`: a private directory for the `get`
    /// fallback's temporary file.
    pub fn check(
        &self,
        backend: &Backend,
        temp_dir: &Path,
        sha256: &str,
        size: u64,
    ) -> Result<(), Fault> {
        if size == 0 && sha256 == EMPTY_SHA256 {
            return Ok(());
        }
        if let Some(stream) = &self.stream {
            match streamed(stream, sha256, size) {
                Streamed::Checked(result) => return result,
                Streamed::Retry(why) => log::debug!(
                    "checking {} through its stream failed ({why}); fetching it instead",
                    blob_name(sha256)
                ),
            }
        }
        let temp = TempPath::in_dir(temp_dir, "check");
        fetch_verified(backend, sha256, size, temp.path())
    }
}

/// What reading through the stream told.
enum Streamed {
    /// A verdict on the object.
    Checked(Result<(), Fault>),
    /// No verdict (the reader is unsupported or failed); try a `get`.
    Retry(String),
}

fn streamed(stream: &Stream, sha256: &str, size: u64) -> Streamed {
    let reader = match stream.reader(&blob_name(sha256)) {
        Ok(reader) => reader,
        Err(e) if e.code() == ErrorCode::NOT_FOUND => {
            return Streamed::Checked(Err(Fault::Missing))
        }
        Err(e) => return Streamed::Retry(e.to_string()),
    };
    let announced = reader.size();
    // One byte past the expected size is enough to see a longer object;
    // a reader that never ends is not read forever.
    match sha256_copy(reader.take(size.saturating_add(1)), size, |_| Ok(())) {
        Ok((_, len)) if len < size => Streamed::Checked(Err(Fault::Size(len))),
        Ok((_, len)) if len > size => {
            Streamed::Checked(Err(Fault::Size(announced.unwrap_or(len).max(len))))
        }
        Ok((actual, _)) if actual != sha256 => Streamed::Checked(Err(Fault::Checksum)),
        Ok(_) => Streamed::Checked(Ok(())),
        Err(e) => Streamed::Retry(e.to_string()),
    }
}
