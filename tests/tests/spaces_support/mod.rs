//! Shared by the `spaces*` tests: the file and local-peer plugins (built
//! by the `stowage_tests` support crate) in one directory, a registry over
//! them, the CLI, stores with a test key, and tree snapshots.

#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use stowage::{Registry, SearchPath};
use stowage_space::{key_file_in, BackupStore, StoreOptions};
#[allow(unused_imports)] // each test file uses its own part
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

/// Runs `stowage space ARGS...` (see [`cli`]): exit status, stdout, stderr.
pub fn space_cli(cache: &Path, args: &[&str]) -> (i32, String, String) {
    outcome(&run(cli(cache).arg("space").args(args)))
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

/// The uid and gid of `nobody`, the attacker of the security tests.
pub fn nobody() -> (u32, u32) {
    // SAFETY: getpwnam with a NUL-terminated name; the result is read at
    // once, before any other call could reuse its buffer.
    let pw = unsafe { libc::getpwnam(c"nobody".as_ptr()) };
    assert!(!pw.is_null(), "no user nobody");
    // SAFETY: checked non-null just above.
    unsafe { ((*pw).pw_uid, (*pw).pw_gid) }
}

/// A command run as `nobody` (no supplementary groups): the attacker.
pub fn as_nobody(program: &str) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args([
        "--reuid=nobody",
        "--regid=nogroup",
        "--clear-groups",
        program,
    ]);
    cmd
}

/// Whether the attack tests can run: they need root (to be attacked as
/// root, and to become `nobody`), `setpriv` and `python3` (the attacker's
/// fast loops). Says `SKIPPED` loudly otherwise, and fails under
/// `STOWAGE_REQUIRE_TOOLS`.
pub fn can_attack() -> bool {
    if !is_root() {
        if std::env::var_os("STOWAGE_REQUIRE_TOOLS").is_some() {
            panic!("the attack tests need root, and STOWAGE_REQUIRE_TOOLS is set");
        }
        eprintln!("\n*** SKIPPED: the attack tests need root ***\n");
        return false;
    }
    stowage_tests::require_tool("setpriv") && stowage_tests::require_tool("python3")
}

/// A `python3` that `nobody` can run (not a shim under root's home).
pub fn python() -> PathBuf {
    ["/usr/bin/python3", "/usr/local/bin/python3"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .or_else(|| stowage_tests::find_in_path("python3"))
        .expect("python3")
}

/// Starts `script` in `python3` as `nobody`; its standard output (the
/// attacker's count of what it did) is read by [`finish_attacker`].
pub fn start_attacker(script: &str) -> std::process::Child {
    as_nobody(python().to_str().expect("UTF-8 python path"))
        .args(["-c", script])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("starting the attacker")
}

/// Waits for the attacker (told to stop through `stop`, a file it polls)
/// and returns the number it printed: how often it struck.
pub fn finish_attacker(child: std::process::Child, stop: &Path) -> u64 {
    fs::write(stop, b"").expect("writing the stop file");
    let out = child.wait_with_output().expect("attacker");
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("attacker printed {text:?}"))
}

/// A temporary directory that `nobody` can enter (0755; its parent /tmp
/// is world-searchable).
pub fn shared_tempdir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("stowage-attack-")
        .tempdir()
        .expect("tempdir");
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod 755");
    dir
}

/// The directories of an attack test that drives the CLI: a
/// [`shared_tempdir`] and a private probe cache; `None` (after a loud skip)
/// when the attacks cannot run here (see [`can_attack`]).
pub fn attack_dirs() -> Option<(tempfile::TempDir, tempfile::TempDir)> {
    if !can_attack() {
        return None;
    }
    let top = shared_tempdir();
    let cache = tempfile::tempdir().unwrap();
    Some((top, cache))
}

/// Creates directory `path` owned by `nobody`, mode 0755.
pub fn nobody_dir(path: &Path) {
    let (uid, gid) = nobody();
    fs::create_dir_all(path).expect("mkdir");
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("chown to nobody");
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).expect("chmod 755");
}
