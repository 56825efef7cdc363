//! Shared by the `spaces*` tests: the file and local-peer plugins (built
//! by the `stowage_tests` support crate) in one directory, a registry over
//! them, the CLI, stores with a test key, and tree snapshots.

#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use stowage::{Registry, SearchPath};
use stowage_space::{key_file_in, BackupStore, StoreOptions};
pub use stowage_tests::{file_url, stowage_bin};

/// A directory holding only the file and local-peer plugins, made once
/// per test process. It is fixed (`target/spaces-plugins`), so nothing
/// is left behind in /tmp; each copy is renamed into place, so a test
/// process still running keeps its mapped copy.
pub fn built() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = stowage_tests::target_dir().join("spaces-plugins");
        fs::create_dir_all(&dir).expect("creating target/spaces-plugins");
        for (name, so) in [
            ("file", "libstowage_file.so"),
            ("local-peer", "libstowage_local_peer.so"),
        ] {
            let temp = format!(".{so}.{}", std::process::id());
            let copied = stowage_tests::copy_plugin_as(&dir, name, &temp);
            fs::rename(&copied, dir.join(so)).expect("renaming a plugin copy into place");
        }
        dir
    })
    .clone()
}

/// A registry with the file and local-peer plugins.
pub fn registry() -> Registry {
    let registry = Registry::load(&SearchPath::new(vec![built()]));
    assert!(
        registry.rejected().is_empty(),
        "plugins rejected: {:?}",
        registry
            .rejected()
            .iter()
            .map(|r| &r.reason)
            .collect::<Vec<_>>()
    );
    registry
}

/// The configuration directory the tests' CLI runs and library stores
/// share (`XDG_CONFIG_HOME`), so both find the same store keys, and no
/// test writes into the user's own configuration.
pub fn config_home() -> PathBuf {
    stowage_tests::target_dir().join("spaces-config")
}

/// The store options of the tests: the key the CLI would use for `url`.
pub fn options(url: &str) -> StoreOptions {
    StoreOptions {
        key_file: Some(key_file_in(&config_home(), url)),
        ..StoreOptions::default()
    }
}

/// Opens the store at `url` with the tests' key.
pub fn open_store(url: &str) -> Result<BackupStore, stowage_space::SpaceError> {
    BackupStore::open_with(&registry(), url, &options(url))
}

/// A `stowage` command with the test plugins, a private probe cache and
/// the tests' configuration directory.
pub fn cli(cache: &Path) -> Command {
    let mut cmd = Command::new(stowage_bin());
    cmd.arg("--plugin-dir")
        .arg(built())
        .env("XDG_CACHE_HOME", cache)
        .env("XDG_CONFIG_HOME", config_home())
        .env_remove("RUST_LOG")
        .env_remove("STOWAGE_PLUGIN_PATH");
    cmd
}

/// Runs `cmd`, returns its output.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("stowage runs")
}

/// Exit status, stdout, stderr as text (for assertions).
pub fn outcome(o: &Output) -> (i32, String, String) {
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// `local-peer://` URL with `dir` as the collect directory.
pub fn peer_url(dir: &Path) -> String {
    format!("local-peer://peer1{}", dir.display())
}

/// Deterministic pseudo-random bytes.
pub fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// The names of the objects in a file:// store directory (no temporaries).
pub fn objects(store: &Path) -> Vec<String> {
    stowage_tests::files::dir_names(store)
        .into_iter()
        .filter(|n| !n.starts_with(".stowage-partial-"))
        .collect()
}

/// What a comparison of two trees looks at, per path.
#[derive(Debug, PartialEq, Eq)]
pub struct Seen {
    pub kind: &'static str,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: (i64, i64),
    pub content: Vec<u8>,
}

/// Everything under `root` (root itself as ""), without following links.
pub fn snapshot(root: &Path) -> Vec<(PathBuf, Seen)> {
    let mut out = Vec::new();
    walk(root, Path::new(""), &mut out);
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn walk(root: &Path, rel: &Path, out: &mut Vec<(PathBuf, Seen)>) {
    let path = if rel.as_os_str().is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    };
    let m = fs::symlink_metadata(&path).expect("stat");
    let (kind, content) = if m.file_type().is_symlink() {
        (
            "symlink",
            fs::read_link(&path)
                .expect("readlink")
                .into_os_string()
                .into_encoded_bytes(),
        )
    } else if m.is_dir() {
        ("dir", Vec::new())
    } else {
        ("file", fs::read(&path).expect("read"))
    };
    out.push((
        rel.to_path_buf(),
        Seen {
            kind,
            mode: if kind == "symlink" {
                0
            } else {
                m.mode() & 0o7777
            },
            uid: m.uid(),
            gid: m.gid(),
            // Directory mtimes are compared too: they are restored last.
            mtime: (m.mtime(), m.mtime_nsec()),
            content,
        },
    ));
    if kind == "dir" {
        let mut names: Vec<_> = fs::read_dir(&path)
            .expect("readdir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        names.sort();
        for n in names {
            walk(root, &rel.join(n), out);
        }
    }
}

/// Whether this process may give files away (root).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}
