//! The probe cache: a file's verdict is kept until the file changes, so the
//! usual start-up costs no child process.
//!
//! Keyed by path, size, mtime and ctime (ns), inode and the host version,
//! all taken with `fstat` on the descriptor that is then loaded: a changed,
//! replaced, re-installed, chmod-ed or re-linked file (ctime moves with
//! any of these, and cannot be set back by a user), or a new host, is
//! probed again. The cache
//! is an optimisation only: a corrupt or unwritable one is ignored with a
//! warning, one in another stowage version's format is replaced quietly.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::verdict::Verdict;

/// Version 2: the key gained the ctime. Version 3: accepted verdicts carry
/// the plugin's handlers (older entries are probed again).
const FORMAT: u32 = 3;

/// What identifies one version of a file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileKey {
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
    inode: u64,
    device: u64,
    host: String,
}

impl FileKey {
    /// The key of the file `m` describes (from `fstat` on the descriptor
    /// that is loaded, not from the path).
    pub fn of(m: &std::fs::Metadata) -> Self {
        let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
        Self {
            size: m.size(),
            mtime_ns: ns(m.mtime(), m.mtime_nsec()),
            ctime_ns: ns(m.ctime(), m.ctime_nsec()),
            inode: m.ino(),
            device: m.dev(),
            host: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    key: FileKey,
    verdict: Verdict,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Stored {
    format: u32,
    entries: BTreeMap<PathBuf, Entry>,
}

/// Why a cache file's entries cannot be used.
#[derive(Debug)]
enum Unusable {
    /// Written by a stowage version with another format.
    OtherFormat(u32),
    /// Not a cache file at all.
    Corrupt(serde_json::Error),
}

/// The cache file and its entries.
#[derive(Debug)]
pub struct ProbeCache {
    file: PathBuf,
    stored: Stored,
    changed: bool,
}

/// `$XDG_CACHE_HOME/stowage/plugin-probes.json`, else under `~/.cache`.
pub fn default_cache_file() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("stowage").join("plugin-probes.json"))
}

impl ProbeCache {
    /// Reads `file`; a missing file is an empty cache, a corrupt one is
    /// ignored with a warning.
    pub fn open(file: PathBuf) -> Self {
        let stored = match std::fs::read(&file) {
            Ok(bytes) => match Self::parse(&bytes) {
                Ok(stored) => stored,
                // Not corrupt, only useless here: replaced quietly (two
                // versions sharing one cache take turns rewriting it).
                Err(Unusable::OtherFormat(format)) => {
                    log::debug!(
                        "the plugin probe cache {} has format {format}, this stowage writes {FORMAT}: probing again",
                        file.display()
                    );
                    Stored::default()
                }
                Err(Unusable::Corrupt(e)) => {
                    log::warn!(
                        "ignoring the corrupt plugin probe cache {}: {e}",
                        file.display()
                    );
                    Stored::default()
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Stored::default(),
            Err(e) => {
                log::warn!("cannot read the plugin probe cache {}: {e}", file.display());
                Stored::default()
            }
        };
        Self {
            file,
            stored,
            changed: false,
        }
    }

    /// The entries in `bytes`, or why they cannot be used.
    fn parse(bytes: &[u8]) -> Result<Stored, Unusable> {
        #[derive(Deserialize)]
        struct Format {
            format: u32,
        }
        let format = serde_json::from_slice::<Format>(bytes)
            .map_err(Unusable::Corrupt)?
            .format;
        if format != FORMAT {
            return Err(Unusable::OtherFormat(format));
        }
        serde_json::from_slice(bytes).map_err(Unusable::Corrupt)
    }

    /// The cached verdict for `path` if its key still matches.
    pub fn get(&self, path: &Path, key: &FileKey) -> Option<&Verdict> {
        self.stored
            .entries
            .get(path)
            .filter(|e| &e.key == key)
            .map(|e| &e.verdict)
    }

    /// Records a verdict.
    pub fn put(&mut self, path: &Path, key: FileKey, verdict: Verdict) {
        self.stored
            .entries
            .insert(path.to_path_buf(), Entry { key, verdict });
        self.changed = true;
    }

    /// Writes the cache if it changed (temporary file + rename, so a
    /// concurrent reader never sees half of it). Failures are warnings.
    pub fn save(&mut self) {
        if !self.changed {
            return;
        }
        self.stored.format = FORMAT;
        // Entries for files that are gone would only grow the cache.
        self.stored.entries.retain(|path, _| path.exists());
        let result = (|| -> std::io::Result<()> {
            let dir = self.file.parent().unwrap_or(Path::new("."));
            std::fs::create_dir_all(dir)?;
            let temp = dir.join(format!(
                ".plugin-probes.{}.{:08x}.tmp",
                std::process::id(),
                rand::random::<u32>()
            ));
            let json = serde_json::to_vec_pretty(&self.stored)?;
            std::fs::write(&temp, json)?;
            std::fs::rename(&temp, &self.file).inspect_err(|_| {
                let _ = std::fs::remove_file(&temp);
            })
        })();
        match result {
            Ok(()) => self.changed = false,
            Err(e) => log::warn!(
                "cannot write the plugin probe cache {}: {e}",
                self.file.display()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_survive_until_the_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let plugin = dir.path().join("libp.so");
        std::fs::write(&plugin, b"one").unwrap();
        let cache_file = dir.path().join("c/probes.json");
        let mut cache = ProbeCache::open(cache_file.clone());
        let key = FileKey::of(&std::fs::metadata(&plugin).unwrap());
        let verdict = Verdict::Rejected {
            reason: "junk".into(),
        };
        cache.put(&plugin, key.clone(), verdict.clone());
        cache.save();

        let cache = ProbeCache::open(cache_file.clone());
        assert_eq!(cache.get(&plugin, &key), Some(&verdict));
        std::fs::write(&plugin, b"longer now").unwrap();
        let new_key = FileKey::of(&std::fs::metadata(&plugin).unwrap());
        assert_eq!(cache.get(&plugin, &new_key), None);
        // A chmod alone moves the ctime: probed again.
        let same = FileKey::of(&std::fs::metadata(&plugin).unwrap());
        std::thread::sleep(std::time::Duration::from_millis(20));
        let mode = std::fs::metadata(&plugin).unwrap().permissions();
        std::fs::set_permissions(&plugin, mode).unwrap();
        assert_ne!(FileKey::of(&std::fs::metadata(&plugin).unwrap()), same);
    }

    #[test]
    fn corrupt_cache_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("probes.json");
        std::fs::write(&file, b"{not json").unwrap();
        let mut cache = ProbeCache::open(file.clone());
        let key = FileKey::of(&std::fs::metadata(&file).unwrap());
        assert_eq!(cache.get(&file, &key), None);
        cache.put(&file, key, Verdict::Rejected { reason: "x".into() });
        cache.save();
        assert!(ProbeCache::open(file).stored.entries.len() == 1);
    }

    #[test]
    fn another_format_is_not_called_corrupt() {
        // Format 1's entries had no ctime: they do not parse as today's.
        let old = br#"{"format": 1, "entries": {"/p/libx.so": {"key": {"size": 1}}}}"#;
        assert!(matches!(
            ProbeCache::parse(old),
            Err(Unusable::OtherFormat(1))
        ));
        assert!(matches!(
            ProbeCache::parse(b"{\"entries\": {}}"),
            Err(Unusable::Corrupt(_))
        ));
        let current = serde_json::to_vec(&Stored {
            format: FORMAT,
            entries: BTreeMap::new(),
        })
        .unwrap();
        assert!(ProbeCache::parse(&current).is_ok());
    }
}
