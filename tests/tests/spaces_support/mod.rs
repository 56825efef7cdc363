//! Shared by the `spaces*` tests: builds the CLI and the file and
//! local-peer plugins once, loads them, runs the CLI, makes test data.

#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use stowage::{Registry, SearchPath};

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// `target/debug` (honouring CARGO_TARGET_DIR).
pub fn debug_dir() -> PathBuf {
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) if !d.is_empty() => workspace().join(d),
        _ => workspace().join("target"),
    };
    target.join("debug")
}

/// Builds `stowage`, the file and the local-peer plugins, once per test
/// process; returns the directory holding them.
pub fn built() -> PathBuf {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let result = BUILT.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let out = Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "-p",
                "stowage-cli",
                "-p",
                "stowage-file",
                "-p",
                "stowage-local-peer",
            ])
            .current_dir(workspace())
            .env_remove("RUST_LOG")
            .output()
            .map_err(|e| format!("running cargo: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "cargo build failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        // Only the two plugins, whatever else sits in target/debug. Copied
        // under a temporary name and renamed: a test process still running
        // keeps its mapped copy.
        let dir = debug_dir().join("spaces-plugins");
        fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        for so in ["libstowage_file.so", "libstowage_local_peer.so"] {
            let temp = dir.join(format!(".{so}.{}", std::process::id()));
            fs::copy(debug_dir().join(so), &temp).map_err(|e| format!("{so}: {e}"))?;
            fs::rename(&temp, dir.join(so)).map_err(|e| format!("{so}: {e}"))?;
        }
        Ok(dir)
    });
    match result {
        Ok(dir) => dir.clone(),
        Err(e) => panic!("{e}"),
    }
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

/// The `stowage` binary.
pub fn stowage_bin() -> PathBuf {
    built();
    debug_dir().join("stowage")
}

/// A `stowage` command with the test plugins and a private probe cache.
pub fn cli(cache: &Path) -> Command {
    let mut cmd = Command::new(stowage_bin());
    cmd.arg("--plugin-dir")
        .arg(built())
        .env("XDG_CACHE_HOME", cache)
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

/// `file://` URL of `dir`.
pub fn file_url(dir: &Path) -> String {
    format!("file://{}", dir.display())
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
    let mut names: Vec<String> = fs::read_dir(store)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with(".stowage-partial-"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
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
