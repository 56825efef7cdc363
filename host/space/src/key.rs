//! The store key: manifests are authenticated with HMAC-SHA256 under a
//! secret kept on the machine that makes the backups, never in the store.
//!
//! Whoever can write the store can forge objects and manifests; without
//! the key they cannot make a manifest this host accepts, so they cannot
//! make a restore write what they choose where they choose.
//!
//! The key of a store lives in
//! `$XDG_CONFIG_HOME/stowage/keys/<hash of the store URL>.key` (else
//! `~/.config/...`), created 0600 in a 0700 directory on first use, or in
//! a file the caller names ([`StoreOptions::key_file`](crate::StoreOptions)).
//! It holds 64 hex digits (256 random bits) and a newline.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::{SpaceError, SpaceResult};
use crate::hash::{hex, sha256_hex};

type HmacSha256 = Hmac<Sha256>;

/// Length of a key, in bytes.
const KEY_BYTES: usize = 32;

/// The key file of the store at `url` under the configuration directory
/// `config_home` (what `$XDG_CONFIG_HOME` names):
/// `<config_home>/stowage/keys/<first 40 hex digits of SHA-256(url)>.key`.
/// `url` is the store URL with credentials removed, as
/// [`BackupStore::url`](crate::BackupStore::url) shows it.
pub fn key_file_in(config_home: &Path, url: &str) -> PathBuf {
    let hash = sha256_hex(url.as_bytes());
    config_home
        .join("stowage")
        .join("keys")
        .join(format!("{}.key", &hash[..40]))
}

/// The default key file of the store at `url`: [`key_file_in`] the
/// user's configuration directory (`$XDG_CONFIG_HOME` when it is an
/// absolute path, else `$HOME/.config`).
///
/// # Errors
/// Neither variable gives an absolute path.
pub fn default_key_file(url: &str) -> SpaceResult<PathBuf> {
    let absolute = |v: std::ffi::OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .and_then(absolute)
        .or_else(|| {
            std::env::var_os("HOME")
                .and_then(absolute)
                .map(|h| h.join(".config"))
        })
        .ok_or_else(|| SpaceError::KeyFile {
            path: PathBuf::from("$XDG_CONFIG_HOME"),
            detail: "neither XDG_CONFIG_HOME nor HOME is an absolute path; \
                     name a key file explicitly"
                .to_string(),
        })?;
    Ok(key_file_in(&config, url))
}

/// A store's secret key.
pub(crate) struct StoreKey {
    key: [u8; KEY_BYTES],
    path: PathBuf,
}

impl std::fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreKey")
            .field("path", &self.path)
            .finish()
    }
}

fn key_error(path: &Path, detail: impl Into<String>) -> SpaceError {
    SpaceError::KeyFile {
        path: path.to_path_buf(),
        detail: detail.into(),
    }
}

impl StoreKey {
    /// Reads the key at `path`, creating it (0600, 256 random bits; its
    /// directory 0700) when it does not exist. The file must be a regular
    /// file of the current user, unreadable by anyone else.
    pub fn load_or_create(path: &Path) -> SpaceResult<Self> {
        match Self::read(path) {
            Err(SpaceError::KeyFile { detail, .. }) if detail == NOT_FOUND => {
                Self::create(path)?;
                Self::read(path)
            }
            other => other,
        }
    }

    /// Where the key lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read(path: &Path) -> SpaceResult<Self> {
        let mut file = match OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(key_error(path, NOT_FOUND))
            }
            Err(e) => return Err(key_error(path, e.to_string())),
        };
        let meta = file
            .metadata()
            .map_err(|e| key_error(path, e.to_string()))?;
        let me = rustix::process::geteuid().as_raw();
        if !meta.is_file() {
            return Err(key_error(path, "not a regular file"));
        }
        if meta.uid() != me {
            return Err(key_error(
                path,
                format!("owned by uid {}, not by this user ({me})", meta.uid()),
            ));
        }
        if meta.mode() & 0o077 != 0 {
            return Err(key_error(
                path,
                format!(
                    "mode {:04o}: a key must not be accessible to group or others (chmod 600)",
                    meta.mode() & 0o7777
                ),
            ));
        }
        let mut text = String::new();
        Read::take(&mut file, 200)
            .read_to_string(&mut text)
            .map_err(|e| key_error(path, e.to_string()))?;
        let digits = text.trim();
        let mut key = [0u8; KEY_BYTES];
        if digits.len() != KEY_BYTES * 2 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(key_error(path, "not a key (64 hex digits expected)"));
        }
        for (i, byte) in key.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&digits[2 * i..2 * i + 2], 16)
                .map_err(|_| key_error(path, "not a key (64 hex digits expected)"))?;
        }
        Ok(Self {
            key,
            path: path.to_path_buf(),
        })
    }

    /// Writes a fresh key to a private temporary file beside `path` and
    /// links it into place, so that two processes creating the key at
    /// once agree on one.
    fn create(path: &Path) -> SpaceResult<()> {
        let dir = path
            .parent()
            .ok_or_else(|| key_error(path, "has no directory"))?;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| key_error(dir, e.to_string()))?;
        let temp = dir.join(format!(".new-key-{:016x}", rand::random::<u64>()));
        let written = (|| -> std::io::Result<()> {
            let mut f: File = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(&temp)?;
            let key: [u8; KEY_BYTES] = rand::random();
            f.write_all(format!("{}\n", hex(&key)).as_bytes())?;
            f.sync_all()?;
            match fs::hard_link(&temp, path) {
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
                other => other,
            }
        })();
        let _ = fs::remove_file(&temp);
        written.map_err(|e| key_error(path, format!("cannot create the key: {e}")))?;
        log::info!("created a new store key in {}", path.display());
        Ok(())
    }

    /// HMAC-SHA256 of `bytes`, lower-case hex.
    pub fn mac(&self, bytes: &[u8]) -> String {
        hex(&self.hmac(bytes).finalize().into_bytes())
    }

    /// Whether `mac_hex` is the HMAC of `bytes` (compared in constant time).
    pub fn verify(&self, bytes: &[u8], mac_hex: &str) -> bool {
        let Some(expected) = unhex(mac_hex) else {
            return false;
        };
        self.hmac(bytes).verify_slice(&expected).is_ok()
    }

    fn hmac(&self, bytes: &[u8]) -> HmacSha256 {
        // HMAC takes keys of any length: this cannot fail.
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
        mac.update(bytes);
        mac
    }
}

const NOT_FOUND: &str = "does not exist";

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_created_private_and_authenticate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/k.key");
        let key = StoreKey::load_or_create(&path).unwrap();
        let again = StoreKey::load_or_create(&path).unwrap();
        assert_eq!(key.key, again.key);
        let m = fs::metadata(&path).unwrap();
        assert_eq!(m.mode() & 0o777, 0o600);
        assert_eq!(
            fs::metadata(path.parent().unwrap()).unwrap().mode() & 0o777,
            0o700
        );
        let mac = key.mac(b"manifest");
        assert!(key.verify(b"manifest", &mac));
        assert!(!key.verify(b"manifesT", &mac));
        assert!(!key.verify(b"manifest", "zz"));
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = StoreKey::load_or_create(&path).unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");
    }
}
