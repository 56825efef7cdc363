//! The backup scan attacked for real: a user who owns a directory inside a
//! tree that root backs up swaps one of its subdirectories for a symlink to
//! root's private directory, over and over, while the backups run. And the
//! rule for the directories above a source: a symlink among them is
//! refused, as a restore to it would refuse it, while a directory the user
//! may only search is gone through, as a path lookup would.

mod spaces_support;

use std::collections::BTreeMap;
use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{lchown, symlink, PermissionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

use spaces_support::*;

/// In every file of root's private directory: found in a stored object,
/// it means the backup read that directory.
const MARKER: &str = "ROOT-ONLY-SECRET";

/// Opens and reads of a directory and of anything in it, seen through
/// inotify: whether anyone (here: only root's stowage can) listed the
/// directory or opened or read a file in it.
struct Watch {
    fd: libc::c_int,
}

impl Watch {
    fn new(dir: &Path) -> Self {
        // SAFETY: no pointers.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        assert!(
            fd >= 0,
            "inotify_init1: {}",
            std::io::Error::last_os_error()
        );
        let path = CString::new(dir.as_os_str().as_bytes()).unwrap();
        // SAFETY: a NUL-terminated path that outlives the call.
        let wd =
            unsafe { libc::inotify_add_watch(fd, path.as_ptr(), libc::IN_OPEN | libc::IN_ACCESS) };
        assert!(
            wd >= 0,
            "inotify_add_watch: {}",
            std::io::Error::last_os_error()
        );
        Self { fd }
    }

    /// What was opened or read since the last call: names in the
    /// directory, `.` for the directory itself.
    fn events(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            // SAFETY: reads into a buffer of that length that we own.
            let n = unsafe { libc::read(self.fd, buf.as_mut_ptr().cast(), buf.len()) };
            let Ok(n) = usize::try_from(n) else {
                let e = std::io::Error::last_os_error();
                assert_eq!(e.raw_os_error(), Some(libc::EAGAIN), "reading inotify: {e}");
                return out;
            };
            let mut at = 0;
            // struct inotify_event: wd, mask, cookie, len (4 bytes each),
            // then `len` bytes of NUL-padded name.
            while at + 16 <= n {
                let field = |i: usize| {
                    u32::from_ne_bytes(buf[at + 4 * i..at + 4 * i + 4].try_into().unwrap())
                };
                let (mask, len) = (field(1), field(3) as usize);
                let name = &buf[at + 16..at + 16 + len];
                let name = String::from_utf8_lossy(name)
                    .trim_end_matches('\0')
                    .to_string();
                let what = if mask & libc::IN_ACCESS != 0 {
                    "read"
                } else {
                    "opened"
                };
                out.push(format!(
                    "{what} {}",
                    if name.is_empty() { "." } else { &name }
                ));
                at += 16 + len;
            }
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        // SAFETY: our descriptor, closed once.
        unsafe { libc::close(self.fd) };
    }
}

/// What the store at `url` (a file:// store in `store_dir`) holds from
/// root's private directory: for each space `s<round>` whose entry names a
/// file of that directory or holds its content, the round and what leaked;
/// and objects nothing refers to that hold its content.
fn leaks(url: &str, store_dir: &Path) -> (BTreeMap<u32, Vec<String>>, Vec<String>) {
    let holds_secret = |object: &str| {
        fs::read(store_dir.join(object)).is_ok_and(|b| String::from_utf8_lossy(&b).contains(MARKER))
    };
    let store = open_store(url).unwrap();
    let mut by_round: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    for info in store.spaces().unwrap() {
        let round: u32 = info.name.trim_start_matches('s').parse().unwrap();
        let space = store.open_space_read_only(&info.name).unwrap();
        for (_, entry) in space.entries() {
            for node in std::iter::once(&entry.root).chain(&entry.tree) {
                let path = node.path.0.display().to_string();
                if path.contains("secret.txt") {
                    by_round
                        .entry(round)
                        .or_default()
                        .push(format!("{path}: a name from root's directory"));
                }
                if let stowage_space::Data::File { sha256, .. } = &node.data {
                    if holds_secret(&format!("obj-{sha256}")) {
                        by_round
                            .entry(round)
                            .or_default()
                            .push(format!("{path}: content from root's directory"));
                    }
                }
            }
        }
        space.close().unwrap();
    }
    let orphans = objects(store_dir)
        .into_iter()
        .filter(|o| o.starts_with("obj-") && holds_secret(o))
        .collect();
    (by_round, orphans)
}

/// nobody owns `pub` inside root's tree; `pub/sub` holds two harmless
/// files. root's private directory (0700) holds a file of the same name
/// and one of its own, both secret. The attacker exchanges `pub/sub` with
/// a symlink to root's directory (`renameat2(RENAME_EXCHANGE)`, so `sub`
/// is always there, as one or the other) in a tight loop, while root runs
/// `stowage space backup` of the tree, each into a fresh space, up to 300
/// times within 60 s. No manifest may hold a name or content from root's
/// directory, no object its content, and the backups must never even list
/// that directory or open a file in it: a symlink met where the scan
/// listed a directory is recorded as a symlink or refused, never followed.
#[test]
fn a_directory_swapped_for_a_symlink_is_never_followed_by_the_scan() {
    let Some((top, cache)) = attack_dirs() else {
        return;
    };
    let (uid, gid) = nobody();
    let tree = top.path().join("tree");
    fs::create_dir(&tree).unwrap();
    fs::set_permissions(&tree, fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(tree.join("root.conf"), b"root's own file in the tree\n").unwrap();
    let public = tree.join("pub");
    nobody_dir(&public);
    let sub = public.join("sub");
    nobody_dir(&sub);
    for (name, text) in [("a.txt", "harmless a\n"), ("b.txt", "harmless b\n")] {
        fs::write(sub.join(name), text).unwrap();
        std::os::unix::fs::chown(sub.join(name), Some(uid), Some(gid)).unwrap();
    }
    let vault = top.path().join("vault");
    fs::create_dir(&vault).unwrap();
    fs::set_permissions(&vault, fs::Permissions::from_mode(0o700)).unwrap();
    for name in ["a.txt", "secret.txt"] {
        let f = vault.join(name);
        fs::write(&f, format!("{MARKER} in {name}\n")).unwrap();
        fs::set_permissions(&f, fs::Permissions::from_mode(0o600)).unwrap();
    }
    let link = public.join("lnk");
    symlink(&vault, &link).unwrap();
    lchown(&link, Some(uid), Some(gid)).unwrap();
    let store_dir = top.path().join("store");
    // No syncfs at each close: many rounds count, durability does not.
    let url = format!("{}?fsync=none", file_url(&store_dir));

    let script = format!(
        r#"
import ctypes, os, time
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, RENAME_EXCHANGE = -100, 2
a = os.fsencode({sub:?})
b = os.fsencode({link:?})
stop = {stop:?}
end = time.time() + 120
swaps = 0
while time.time() < end and not os.path.exists(stop):
    for _ in range(100):
        if libc.renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) == 0:
            swaps += 1
print(swaps)
"#,
        sub = sub.display().to_string(),
        link = link.display().to_string(),
        stop = public.join("stop").display().to_string(),
    );
    let watch = Watch::new(&vault);
    let attacker = start_attacker(&script);
    let started = Instant::now();
    let (mut rounds, mut stored) = (0u32, 0u32);
    let mut failures: BTreeMap<i32, (u32, String)> = BTreeMap::new();
    let mut first_read: Option<(u32, Vec<String>)> = None;
    while rounds < 300 && started.elapsed() < Duration::from_secs(60) {
        rounds += 1;
        let space = format!("s{rounds}");
        let (code, _, err) = space_cli(
            cache.path(),
            &["backup", &url, &space, tree.to_str().unwrap()],
        );
        if code == 0 {
            stored += 1;
        } else {
            let seen = failures.entry(code).or_insert((0, err));
            seen.0 += 1;
        }
        let events = watch.events();
        if first_read.is_none() && !events.is_empty() {
            first_read = Some((rounds, events));
        }
    }
    let swaps = finish_attacker(attacker, &public.join("stop"));
    let (leaked, orphans) = leaks(&url, &store_dir);
    eprintln!(
        "{rounds} backups in {:.1} s, {stored} stored, failures {failures:?}; \
         {swaps} swaps",
        started.elapsed().as_secs_f64()
    );
    assert!(
        leaked.is_empty(),
        "backups recorded root's private directory; first in round {:?} of {rounds}: {leaked:?}",
        leaked.keys().next()
    );
    assert!(
        orphans.is_empty(),
        "objects hold root's secret: {orphans:?}"
    );
    assert!(
        first_read.is_none(),
        "a backup listed or read root's private directory (first in round {:?})",
        first_read
    );
    assert!(swaps > 1000, "the attacker swapped only {swaps} times");
    assert!(rounds >= 20, "only {rounds} backups ran");
    // A backup that meets a symlink where it listed a directory refuses to
    // go through it (exit 23); one whose entry keeps changing type under
    // the scan gives up on it (exit 50). Both name it; the others are
    // stored.
    assert!(
        stored >= rounds / 10,
        "only {stored} of {rounds} backups were stored"
    );
    let named = [sub.display().to_string(), link.display().to_string()];
    for (code, (_, err)) in &failures {
        assert!([23, 50].contains(code), "exit {code}: {err}");
        assert!(named.iter().any(|n| err.contains(n.as_str())), "{err}");
    }
}

/// A source whose parents go through a symlink is refused, naming the
/// symlink (exit 23), as a restore to it would be; the path it leads to is
/// backed up as usual. A symlink given as the source itself is recorded as
/// a link; a source below a file, or missing, is not found (exit 52).
#[test]
fn a_symlink_among_the_parents_of_a_source_is_refused_by_name() {
    let cache = tempfile::tempdir().unwrap();
    let scene = stowage_tests::file_store();
    let real = scene.local_dir("real/dir");
    fs::write(real.join("f"), b"content").unwrap();
    let link = scene.path("link");
    symlink(scene.path("real"), &link).unwrap();
    let url = scene.url.clone();
    let backup =
        |path: &Path| space_cli(cache.path(), &["backup", &url, "s", path.to_str().unwrap()]);

    for through in [link.join("dir/f"), link.join("dir")] {
        let (code, _, err) = backup(&through);
        assert_eq!(code, 23, "{}: {err}", through.display());
        assert!(
            err.contains(&format!("{}: is a symbolic link", link.display())),
            "the error names the symlink: {err}"
        );
    }
    let (code, out, err) = backup(&real.join("f"));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1 files"), "{out}");
    let (code, out, err) = backup(&link);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1 symlinks"), "{out}");
    for missing in [real.join("f/x"), scene.path("none"), scene.path("none/x")] {
        let (code, _, err) = backup(&missing);
        assert_eq!(code, 52, "{}: {err}", missing.display());
        assert!(err.contains(&missing.display().to_string()), "{err}");
    }
}

/// The backup's walk from `/` needs only search permission on the
/// directories above a source, as resolving its path would: `nobody` backs
/// up (and restores elsewhere) a file below a root directory of mode 0711.
#[test]
fn a_user_backs_up_below_a_directory_they_may_only_search() {
    let Some((top, _cache)) = attack_dirs() else {
        return;
    };
    let home = top.path().join("home");
    nobody_dir(&home);
    for d in ["cache", "config", "locks"] {
        nobody_dir(&home.join(d));
    }
    let hidden = top.path().join("hidden");
    fs::create_dir(&hidden).unwrap();
    fs::set_permissions(&hidden, fs::Permissions::from_mode(0o711)).unwrap();
    let f = hidden.join("f");
    fs::write(&f, b"readable by all, listed by none").unwrap();
    fs::set_permissions(&f, fs::Permissions::from_mode(0o644)).unwrap();
    let url = file_url(&home.join("store"));
    let as_user = |args: &[&str]| {
        outcome(&run(as_nobody(stowage_bin().to_str().unwrap())
            .arg("--plugin-dir")
            .arg(built())
            .env("HOME", &home)
            .env("XDG_CACHE_HOME", home.join("cache"))
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("STOWAGE_LOCK_DIR", home.join("locks"))
            .env_remove("RUST_LOG")
            .env_remove("STOWAGE_PLUGIN_PATH")
            .arg("space")
            .args(args)))
    };
    let (code, out, err) = as_user(&["backup", &url, "s", f.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let back = home.join("back");
    let (code, out, err) = as_user(&[
        "restore",
        &url,
        "s",
        f.to_str().unwrap(),
        "--to",
        back.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(fs::read(&back).unwrap(), fs::read(&f).unwrap());
}
