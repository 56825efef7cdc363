//! Backups, stores and locks attacked or mistreated for real: damaged
//! objects, newer formats, swapped sources, other users' locks, the umask,
//! and the order in which manifests become durable.

mod spaces_support;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use spaces_support::*;
use stowage_space::{BackupStore, Data, StoreOptions};
use stowage_tests::file_store;

fn manifests(store: &Path) -> Vec<String> {
    objects(store)
        .into_iter()
        .filter(|o| o.starts_with("space-"))
        .collect()
}

/// The object holding entry `name`'s content.
fn object_of(url: &str, space: &str, name: &str) -> String {
    let store = open_store(url).unwrap();
    let s = store.open_space_read_only(space).unwrap();
    let (_, entry) = s.entries().into_iter().find(|(n, _)| n == name).unwrap();
    let Data::File { sha256, .. } = &entry.root.data else {
        panic!("not a file")
    };
    format!("obj-{sha256}")
}

/// Overwrites `path` in place with junk of the same size.
fn scramble(path: &Path) {
    let len = fs::metadata(path).unwrap().len() as usize;
    fs::write(path, bytes(999, len)).unwrap();
}

/// Item 7: an object overwritten with same-size junk is not trusted by
/// the next backup of that content: it is checked and stored again, so
/// `verify` passes afterwards. Big objects are checked with
/// `verify_existing`; `repair` fixes what live files still hold.
#[test]
fn a_damaged_object_is_stored_again_not_reused() {
    let cache = tempfile::tempdir().unwrap();
    let scene = file_store();
    let small = scene.local_file("small", bytes(1, 5000));
    let (dir, store_dir, url) = (scene.work, scene.store, scene.url);
    let s = small.to_str().unwrap();
    assert_eq!(space_cli(cache.path(), &["backup", &url, "a", s]).0, 0);
    scramble(&store_dir.join(object_of(&url, "a", s)));

    let (code, _, err) = space_cli(cache.path(), &["backup", &url, "b", s]);
    assert_eq!(code, 0, "{err}");
    for sp in ["a", "b"] {
        let (code, out, err) = space_cli(cache.path(), &["verify", &url, sp]);
        assert_eq!(code, 0, "space {sp} after the second backup: {out}{err}");
    }

    // Big: checked by size only, unless asked.
    let big = dir.path().join("big");
    fs::write(&big, bytes(2, 300_000)).unwrap();
    let store = open_store(&url).unwrap();
    let one = store.space("c", true).unwrap();
    one.backup_path(&big, None).unwrap();
    one.close().unwrap();
    drop(store);
    let object = store_dir.join(object_of(&url, "c", big.to_str().unwrap()));
    scramble(&object);
    let options = StoreOptions {
        verify_existing: true,
        ..options(&url)
    };
    let store = BackupStore::open_with(&registry(), &url, &options).unwrap();
    let two = store.space("d", true).unwrap();
    two.backup_path(&big, None).unwrap();
    assert!(two.verify().unwrap().is_empty());
    two.close().unwrap();
    drop(store);

    // Repair: damaged again, the live file still matches.
    scramble(&object);
    let store = open_store(&url).unwrap();
    let c = store.open_space("c").unwrap();
    assert_eq!(c.verify().unwrap().len(), 1);
    let report = c.repair().unwrap();
    assert_eq!((report.repaired.len(), report.unrepaired.len()), (1, 0));
    assert!(c.verify().unwrap().is_empty());
    // A live file that changed cannot repair anything.
    scramble(&object);
    fs::write(&big, bytes(3, 300_000)).unwrap();
    let report = c.repair().unwrap();
    assert_eq!((report.repaired.len(), report.unrepaired.len()), (0, 1));
    c.close().unwrap();
}

/// Item 7 on a backend without a stream reader (the `wrap+` fixture
/// offers no extensions): the check of a reused object falls back to a
/// `get`, and finds the damage just the same, in a backup and in
/// `verify`.
#[test]
fn a_damaged_object_is_found_through_get_as_well() {
    let plugins = stowage_tests::plugin_dir_with(&["file", "wrap"]);
    let registry = stowage_tests::registry_of(plugins.path());
    let scene = file_store();
    let url = format!("wrap+{}", scene.url);
    let small = scene.local_file("small", bytes(4, 5000));
    let open = || BackupStore::open_with(&registry, &url, &options(&url)).unwrap();

    let store = open();
    let a = store.space("a", true).unwrap();
    a.backup_path(&small, None).unwrap();
    let Data::File { sha256, .. } = &a.entries()[0].1.root.data else {
        panic!("not a file")
    };
    // The prefix stores `obj-…` as `w.obj-…` in the directory.
    let object = scene.store.join(format!("w.obj-{sha256}"));
    a.close().unwrap();
    drop(store);
    scramble(&object);

    let store = open();
    let b = store.space("b", true).unwrap();
    b.backup_path(&small, None).unwrap();
    assert!(
        b.verify().unwrap().is_empty(),
        "the damaged object was reused"
    );
    b.close().unwrap();
    drop(store);

    scramble(&object);
    let store = open();
    let a = store.open_space("a").unwrap();
    let problems = a.verify().unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].problem, "checksum mismatch");
    a.close().unwrap();
}

/// Item 6: a generation written by a newer stowage is neither used nor
/// deleted: writing the space is refused (exit 50) naming the version.
#[test]
fn a_newer_manifest_format_is_never_deleted() {
    let cache = tempfile::tempdir().unwrap();
    let scene = file_store();
    let f = scene.local_file("f", b"x");
    let (dir, store_dir, url) = (scene.work, scene.store, scene.url);
    let f = f.to_str().unwrap();
    assert_eq!(space_cli(cache.path(), &["backup", &url, "s", f]).0, 0);
    let current = manifests(&store_dir).pop().unwrap();
    let text = fs::read_to_string(store_dir.join(&current)).unwrap();
    let generation: u64 = current.split('.').nth(2).unwrap().parse().unwrap();
    let newer = text.replacen(r#""version":"#, r#""version":99,"old":"#, 1);
    let sha = {
        fs::write(dir.path().join("newer"), &newer).unwrap();
        let out = Command::new("sha256sum")
            .arg(dir.path().join("newer"))
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()[..64].to_string()
    };
    let newer_name = format!("space-s.manifest.{}.{sha}", generation + 1);
    fs::write(store_dir.join(&newer_name), &newer).unwrap();

    let (code, _, err) = space_cli(cache.path(), &["backup", &url, "s", "--name", "n2", f]);
    assert_eq!(code, 50, "{err}");
    assert!(err.contains("99"), "the version is named: {err}");
    assert!(
        store_dir.join(&newer_name).exists(),
        "the newer manifest was deleted"
    );
    space_cli(cache.path(), &["gc", &url]);
    assert!(
        store_dir.join(&newer_name).exists(),
        "gc deleted the newer manifest"
    );
}

/// Item 5: the generation a session started from stays until the store's
/// close (the backend's durability barrier) has made the new one durable;
/// the next writer removes it.
#[test]
fn the_previous_manifest_outlives_the_new_ones_until_the_close() {
    let scene = file_store();
    let f = scene.local_file("f", b"content");
    let (_dir, store_dir, url) = (scene.work, scene.store, scene.url);
    {
        let store = open_store(&url).unwrap();
        let s = store.space("s", true).unwrap();
        s.backup_value(b"v", "v").unwrap();
        s.close().unwrap();
        store.close().unwrap();
    }
    let base = manifests(&store_dir);
    assert_eq!(base.len(), 1, "{base:?}");
    let store = open_store(&url).unwrap();
    let s = store.open_space("s").unwrap();
    s.backup_path(&f, None).unwrap();
    s.delete("v").unwrap();
    s.backup_value(b"w", "w").unwrap();
    let now = manifests(&store_dir);
    assert!(
        now.contains(&base[0]),
        "the durable base was deleted: {now:?}"
    );
    assert_eq!(
        now.len(),
        2,
        "intermediate generations are removed: {now:?}"
    );
    s.close().unwrap();
    // Garbage collection at close keeps what the base refers to ("v").
    assert!(manifests(&store_dir).contains(&base[0]));
    assert!(s.verify().is_err(), "closed");
    store.close().unwrap();
    drop(s);
    drop(store);
    let store = open_store(&url).unwrap();
    let s = store.open_space("s").unwrap();
    assert_eq!(manifests(&store_dir).len(), 1);
    assert!(!manifests(&store_dir).contains(&base[0]));
    assert!(s.verify().unwrap().is_empty());
    s.close().unwrap();
}

/// Backs `file` up into a fresh space of the store at `url`, up to `max`
/// times within 60 s, checking every object of each stored backup
/// (`verify`: its content hashes to its name). Returns the tries and how
/// many were stored.
fn back_up_under_attack(url: &str, file: &Path, max: usize) -> (usize, usize) {
    let started = Instant::now();
    let mut tries = 0;
    let mut stored = 0;
    while tries < max && started.elapsed() < Duration::from_secs(60) {
        tries += 1;
        // A fresh handle each time, and the content removed at its close
        // (garbage collection), so every try uploads.
        let store = open_store(url).unwrap();
        let s = store.space("attacked", true).unwrap();
        if s.backup_path(file, Some("f")).is_ok() {
            stored += 1;
            let problems = s.verify().unwrap();
            assert!(problems.is_empty(), "backup {tries}: {problems:?}");
            s.delete("f").unwrap();
        }
        s.close().unwrap();
        store.close().unwrap();
    }
    (tries, stored)
}

/// Item 8: a backup reads each source once: while the attacker swaps the
/// file's directory back and forth between two versions, whatever is
/// stored under a checksum has that checksum.
#[test]
fn a_swapped_source_never_stores_other_content_under_a_hash() {
    if !can_attack() {
        return;
    }
    let top = shared_tempdir();
    let url = file_url(&top.path().join("store"));
    let work = top.path().join("w");
    nobody_dir(&work);
    let (uid, gid) = nobody();
    for (d, seed) in [("cur", 1), ("alt", 2)] {
        nobody_dir(&work.join(d));
        let f = work.join(d).join("f");
        fs::write(&f, bytes(seed, 256 * 1024)).unwrap();
        std::os::unix::fs::chown(&f, Some(uid), Some(gid)).unwrap();
    }
    let script = format!(
        r#"
import os, time
w = {work:?}
end = time.time() + 60
swaps = 0
while time.time() < end and not os.path.exists(os.path.join(w, "stop")):
    try:
        os.rename(os.path.join(w, "cur"), os.path.join(w, "tmp"))
        os.rename(os.path.join(w, "alt"), os.path.join(w, "cur"))
        os.rename(os.path.join(w, "tmp"), os.path.join(w, "alt"))
        swaps += 1
    except OSError:
        pass
print(swaps)
"#,
        work = work.display().to_string()
    );
    let attacker = start_attacker(&script);
    let (tries, stored) = back_up_under_attack(&url, &work.join("cur/f"), 300);
    let swaps = finish_attacker(attacker, &work.join("stop"));
    assert!(swaps > 100, "the attacker swapped only {swaps} times");
    assert!(
        stored >= 100,
        "only {stored} of {tries} backups were stored"
    );
}

/// Item 8, for files stored straight from their descriptor (bigger than
/// what is copied to memory): while the owner rewrites the file in place,
/// through `write` and through a shared writable mapping (which leaves its
/// times alone), every object a backup stored holds what its name says.
#[test]
fn a_file_rewritten_during_backup_never_stores_other_content_under_a_hash() {
    if !can_attack() {
        return;
    }
    const LEN: usize = 3 << 20;
    let top = shared_tempdir();
    let url = file_url(&top.path().join("store"));
    let work = top.path().join("w");
    nobody_dir(&work);
    let (uid, gid) = nobody();
    let f = work.join("f");
    fs::write(&f, bytes(1, LEN)).unwrap();
    std::os::unix::fs::chown(&f, Some(uid), Some(gid)).unwrap();
    let script = format!(
        r#"
import mmap, os, random, time
w = {work:?}
f = os.path.join(w, "f")
end = time.time() + 60
writes = 0
while time.time() < end and not os.path.exists(os.path.join(w, "stop")):
    fill = bytes([writes % 251]) * (1 << 20)
    fd = os.open(f, os.O_RDWR)
    try:
        if writes % 2:
            m = mmap.mmap(fd, {len})
            os.close(fd)
            fd = -1
            for i in range(0, {len}, 1 << 20):
                m[i:i + (1 << 20)] = fill
            m.close()
        else:
            for i in range(0, {len}, 1 << 20):
                os.pwrite(fd, fill, i)
    finally:
        if fd >= 0:
            os.close(fd)
    writes += 1
    # Quiet spells, so that some backups meet an unchanging file.
    time.sleep(random.uniform(0, 0.3))
print(writes)
"#,
        work = work.display().to_string(),
        len = LEN
    );
    let attacker = start_attacker(&script);
    let (tries, stored) = back_up_under_attack(&url, &f, 200);
    let writes = finish_attacker(attacker, &work.join("stop"));
    assert!(
        writes > 20,
        "the attacker rewrote the file only {writes} times"
    );
    assert!(stored >= 5, "only {stored} of {tries} backups were stored");
}

/// Item 15: a lock directory another user owns is refused, naming it.
#[test]
fn a_lock_directory_of_another_user_is_refused() {
    let Some((top, cache)) = attack_dirs() else {
        return;
    };
    let locks = top.path().join("locks");
    nobody_dir(&locks);
    let f = top.path().join("f");
    fs::write(&f, b"x").unwrap();
    let url = file_url(&top.path().join("store"));
    let out = run(cli(cache.path()).env("STOWAGE_LOCK_DIR", &locks).args([
        "space",
        "backup",
        &url,
        "s",
        f.to_str().unwrap(),
    ]));
    let (code, _, err) = outcome(&out);
    assert_eq!(code, 23, "{err}");
    assert!(err.contains(&locks.display().to_string()), "{err}");
}

/// Item 15: another user cannot hold root's space locks: lock files are
/// 0600, so `nobody` cannot open (and `flock`) them to block a backup.
#[test]
fn another_user_cannot_hold_a_space_lock() {
    if !can_attack() || !stowage_tests::require_tool("flock") {
        return;
    }
    let top = shared_tempdir();
    let cache = tempfile::tempdir().unwrap();
    let locks = top.path().join("locks");
    fs::create_dir(&locks).unwrap();
    fs::set_permissions(&locks, fs::Permissions::from_mode(0o755)).unwrap();
    let url = file_url(&top.path().join("store"));
    let backup = |name: &str| {
        let f = top.path().join(name);
        fs::write(&f, name).unwrap();
        outcome(&run(cli(cache.path())
            .env("STOWAGE_LOCK_DIR", &locks)
            .args(["space", "backup", &url, "s", f.to_str().unwrap()])))
    };
    assert_eq!(backup("one").0, 0);
    let mut holders = Vec::new();
    for entry in fs::read_dir(&locks).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "lock") {
            assert_eq!(
                fs::metadata(&path).unwrap().mode() & 0o777,
                0o600,
                "{}",
                path.display()
            );
            holders.push(
                as_nobody("flock")
                    .args(["-x", "-n"])
                    .arg(&path)
                    .args(["sleep", "300"])
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap(),
            );
        }
    }
    assert!(!holders.is_empty());
    std::thread::sleep(Duration::from_millis(500));
    let (code, _, err) = backup("two");
    for mut h in holders {
        let _ = h.kill();
        let _ = h.wait();
    }
    assert_eq!(code, 0, "nobody blocked root's backup: {err}");
}

/// Item 16: objects and the store directory are private (0600/0700)
/// whatever the umask and the source's mode.
#[test]
fn objects_are_private_whatever_the_umask() {
    let cache = tempfile::tempdir().unwrap();
    let scene = file_store();
    let f = scene.local_file("f", b"world-readable source");
    let (_dir, store_dir, url) = (scene.work, scene.store, scene.url);
    fs::set_permissions(&f, fs::Permissions::from_mode(0o644)).unwrap();
    let out = run(Command::new("sh")
        .arg("-c")
        .arg(r#"umask 022; exec "$@""#)
        .arg("sh")
        .arg(stowage_bin())
        .args(cli(cache.path()).get_args())
        .envs(
            cli(cache.path())
                .get_envs()
                .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_owned()))),
        )
        .args(["space", "backup", &url, "s", f.to_str().unwrap()]));
    let (code, _, err) = outcome(&out);
    assert_eq!(code, 0, "{err}");
    assert_eq!(fs::metadata(&store_dir).unwrap().mode() & 0o777, 0o700);
    let names = objects(&store_dir);
    assert!(names.iter().any(|n| n.starts_with("obj-")), "{names:?}");
    for name in names {
        let mode = fs::metadata(store_dir.join(&name)).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o600, "{name}");
    }
}
