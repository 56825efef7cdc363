//! Backup spaces: FirstAidKit's backup system on any stowage backend.
//!
//! A program about to change files backs them up into a named *space*,
//! and restores them if its change goes wrong; a *persistent* space
//! outlives the program so that a later run can [`Space::revert`]
//! everything.
//!
//! ```no_run
//! use stowage_space::BackupStore;
//! use stowage::{Registry, SearchPath};
//!
//! # fn main() -> Result<(), stowage_space::SpaceError> {
//! let registry = Registry::load(&SearchPath::resolve(Vec::new()));
//! let store = BackupStore::open(&registry, "file:///var/lib/fix/backups")?;
//! let space = store.space("grub", true)?;
//! space.backup_path("/boot/grub/grub.cfg", None)?;
//! space.backup_value(&[0u8; 446], "mbr-sda")?;
//! // ... the change fails ...
//! space.restore_path("/boot/grub/grub.cfg", None)?;
//! space.close()?; // persistent: stays for `revert` in a later run
//! # Ok(())
//! # }
//! ```
//!
//! # Storage
//!
//! Everything lives as flat objects in the store's backend, so any
//! backend works (only put, get, list and delete are used):
//!
//! - `obj-<sha256>`: content (a file's bytes or a value), named by its
//!   SHA-256, stored once per store however many spaces or entries refer
//!   to it. Empty content has no object.
//! - `space-<name>.manifest.<generation>.<sha256>`: a space's manifest
//!   ([`Manifest`], JSON), named by its own SHA-256. Each change writes
//!   generation N+1 completely, then deletes N. Readers use the highest
//!   generation whose bytes match the checksum in its name, so a torn
//!   manifest is never used and an interrupted change leaves the previous
//!   generation current.
//!
//! # Guarantees
//!
//! - Restores verify every object's size and SHA-256 before anything live
//!   is touched; live files are replaced by rename from a complete copy
//!   beside them, never removed first.
//! - A [`Space`] is `Send + Sync`; concurrent changes are serialised on the
//!   in-memory manifest and published together.
//! - One writer per space across processes of this host (an `flock` in
//!   [`lock_dir`]); readers share. A second writer gets
//!   [`SpaceError::InUse`]. Locks do not reach other machines.
//! - After `kill -9` the space opens at its last published manifest;
//!   objects nothing refers to are collected when a writer opens a space
//!   with the store to itself, or by [`BackupStore::gc`].
//! - Manifests are authenticated (HMAC-SHA256) with a key kept on the
//!   backing-up machine ([`default_key_file`], [`StoreOptions::key_file`]):
//!   whoever can write the store cannot make a restore write what they
//!   choose. A manifest that fails is refused ([`SpaceError::Unauthenticated`]).
//! - Restores walk the destination through directory descriptors and never
//!   follow a symlink in a parent ([`SpaceError::UnsafePath`]); metadata is
//!   applied through the new file's descriptor, which is synced before it
//!   is renamed over the live file.
//! - Backups reach, list and open their sources through directory
//!   descriptors and never follow a symlink: one above a source is refused
//!   ([`SpaceError::UnsafePath`]), one inside a tree is recorded as a link.
//!   They read each file once and store the copy they hashed; objects a
//!   backup reuses are checked first; [`Space::repair`] heals damaged ones
//!   from live files.

#![deny(missing_docs)]

mod check;
mod error;
mod fsat;
mod fsmeta;
mod gc;
mod generation;
mod handle;
mod hash;
mod info;
mod inner;
mod key;
mod lease;
mod lock;
mod manifest;
mod object;
mod publish;
mod read;
mod repair;
mod restore;
mod store;
mod sync;
mod temp;
mod time;
mod umask;
mod upload;
mod walk;
mod write;

pub use error::{SpaceError, SpaceResult};
pub use gc::GcReport;
pub use handle::Space;
pub use info::SpaceInfo;
pub use key::{default_key_file, key_file_in};
pub use lock::{lock_dir, LOCK_DIR_ENV};
pub use manifest::{Data, Entry, Manifest, Meta, Node, RawPath, FORMAT, VERSION};
pub use object::{blob_name, BLOB_PREFIX, VERIFY_SMALLER_THAN};
pub use read::{Problem, RevertItem};
pub use repair::RepairReport;
pub use restore::RestoreReport;
pub use store::{BackupStore, StoreOptions};
pub use time::iso8601;
pub use walk::Skipped;
pub use write::BackupReport;

/// The longest space name, in bytes.
pub const MAX_SPACE_NAME: usize = 100;

/// Checks a space name: 1 to 100 bytes of ASCII letters, digits, `_`, `-`
/// and `.`, not starting with `.` or `-` (so no `..`, `/`, NUL or option
/// lookalikes). Space names become part of object names.
///
/// # Errors
/// [`SpaceError::InvalidSpaceName`] naming the rule.
pub fn validate_space_name(name: &str) -> SpaceResult<()> {
    let reason = if name.is_empty() {
        "space names cannot be empty"
    } else if name.len() > MAX_SPACE_NAME {
        "space names are limited to 100 bytes"
    } else if name.starts_with('.') || name.starts_with('-') {
        "space names cannot start with '.' or '-'"
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        "space names may only contain ASCII letters, digits, '_', '-' and '.'"
    } else {
        return Ok(());
    };
    let shown: String = name.chars().take(120).collect();
    Err(SpaceError::InvalidSpaceName {
        name: shown,
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn space_names() {
        for good in ["grub", "a", "x.y-z_1", &"a".repeat(100)] {
            assert!(validate_space_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            ".",
            "..",
            "../escape",
            "a/b",
            "a\0b",
            "-rf",
            ".hidden",
            "é",
            "a b",
            &"a".repeat(101),
        ] {
            assert!(validate_space_name(bad).is_err(), "{bad:?}");
        }
    }
}
