//! Backup spaces on real plugins: round trips on file:// and local-peer://,
//! metadata, FirstAidKit's semantics and the defects stowage fixes in them,
//! integrity, persistence and revert, dedup and gc.

mod spaces_support;

use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::Path;

use spaces_support::*;
use stowage_space::{BackupStore, Data, SpaceError};
use stowage_tests::file_store;

/// A tree with a file, an empty file, a symlink, a dangling symlink, a
/// subdirectory with odd permissions and a setuid file.
fn make_tree(root: &Path) {
    fs::create_dir_all(root.join("sub/deeper")).unwrap();
    fs::write(root.join("a.txt"), b"alpha\n").unwrap();
    fs::write(root.join("empty"), b"").unwrap();
    fs::write(root.join("sub/b.bin"), bytes(7, 100_000)).unwrap();
    fs::write(root.join("sub/deeper/c"), b"gamma").unwrap();
    symlink("a.txt", root.join("link")).unwrap();
    symlink("/nonexistent/target", root.join("dangling")).unwrap();
    fs::set_permissions(root.join("sub/b.bin"), fs::Permissions::from_mode(0o4750)).unwrap();
    fs::set_permissions(root.join("sub/deeper"), fs::Permissions::from_mode(0o711)).unwrap();
    if is_root() {
        std::os::unix::fs::lchown(root.join("a.txt"), Some(1234), Some(5678)).unwrap();
        std::os::unix::fs::lchown(root.join("link"), Some(4321), Some(8765)).unwrap();
        std::os::unix::fs::lchown(root.join("sub"), Some(1), Some(2)).unwrap();
    }
    // Fixed times, directories last so their mtimes stay put.
    let times = [
        "a.txt",
        "empty",
        "sub/b.bin",
        "sub/deeper/c",
        "sub/deeper",
        "sub",
        "",
    ];
    for (i, rel) in times.iter().enumerate() {
        let p = if rel.is_empty() {
            root.to_path_buf()
        } else {
            root.join(rel)
        };
        let t =
            std::time::UNIX_EPOCH + std::time::Duration::new(1_000_000_000 + i as u64, 123_456_789);
        fs::File::open(&p).unwrap().set_modified(t).unwrap();
    }
}

fn round_trip(url: &str, store_dir: &Path, work: &Path) {
    let src = work.join("src");
    make_tree(&src);
    fs::write(work.join("single"), b"single file").unwrap();
    let before = snapshot(&src);

    let store = open_store(url).unwrap();
    let space = store.space("roundtrip", false).unwrap();
    let report = space.backup_path(&src, None).unwrap();
    assert_eq!(
        (report.files, report.dirs, report.symlinks),
        (4, 3, 2),
        "{report:?}"
    );
    space.backup_path(work.join("single"), Some("one")).unwrap();
    space
        .backup_path(src.join("link"), Some("just-link"))
        .unwrap();
    space.backup_value(b"\x00\x01value", "v").unwrap();
    space.backup_value(b"", "empty-value").unwrap();
    assert!(objects(store_dir).iter().any(|o| o.starts_with("obj-")));

    // Restore to another path: identical, metadata included.
    space
        .restore_name(src.to_str().unwrap(), Some(&work.join("copy")))
        .unwrap();
    assert_eq!(snapshot(&work.join("copy")), before);

    // Restore to the original location after damage.
    fs::write(src.join("a.txt"), b"broken").unwrap();
    fs::remove_file(src.join("sub/deeper/c")).unwrap();
    fs::remove_file(src.join("link")).unwrap();
    fs::write(src.join("extra"), b"not in the backup").unwrap();
    space.restore_path(&src, None).unwrap();
    let after: Vec<_> = snapshot(&src)
        .into_iter()
        .filter(|(p, _)| p != Path::new("extra"))
        .collect();
    // The root's mtime moved with "extra"; everything else is as before.
    assert_eq!(after[1..], before[1..]);
    assert_eq!(fs::read(src.join("extra")).unwrap(), b"not in the backup");

    // restorePath with a name restores that object to the path (a
    // FirstAidKit defect: custom names could not be restored).
    space
        .restore_path(work.join("elsewhere"), Some("one"))
        .unwrap();
    assert_eq!(fs::read(work.join("elsewhere")).unwrap(), b"single file");
    fs::write(work.join("single"), b"changed").unwrap();
    space.restore_name("one", None).unwrap();
    assert_eq!(fs::read(work.join("single")).unwrap(), b"single file");

    // A symlink backed up on its own stays a link.
    space
        .restore_name("just-link", Some(&work.join("l2")))
        .unwrap();
    assert_eq!(fs::read_link(work.join("l2")).unwrap(), Path::new("a.txt"));
    if is_root() {
        assert_eq!(fs::symlink_metadata(work.join("l2")).unwrap().uid(), 4321);
    }

    assert_eq!(space.restore_value("v").unwrap(), b"\x00\x01value");
    assert_eq!(space.restore_value("empty-value").unwrap(), b"");
    assert!(space.verify().unwrap().is_empty());

    // Not persistent: gone after close, content collected.
    space.close().unwrap();
    assert!(store.spaces().unwrap().is_empty());
    assert_eq!(objects(store_dir), Vec::<String>::new());
    store.close().unwrap();
}

#[test]
fn round_trip_on_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    round_trip(&file_url(&store), &store, dir.path());
}

#[test]
fn round_trip_on_local_peer() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("collect");
    round_trip(&peer_url(&store), &store, dir.path());
}

#[test]
fn firstaidkit_semantics_with_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    let store = open_store(&file_url(&store_dir)).unwrap();
    fs::write(dir.path().join("f"), b"x").unwrap();
    let s = store.space("fak", false).unwrap();
    s.backup_path(dir.path().join("f"), None).unwrap();
    let dup = s
        .backup_path(dir.path().join("f"), Some("other"))
        .unwrap_err();
    assert!(matches!(dup, SpaceError::PathExists { .. }), "{dup}");
    let f = dir.path().join("f");
    let dup = s.backup_value(b"1", f.to_str().unwrap()).unwrap_err();
    assert!(dup.to_string().starts_with("Named backup"), "{dup}");
    s.backup_value(b"1", "val").unwrap();
    assert!(matches!(
        s.restore_value(f.to_str().unwrap()).unwrap_err(),
        SpaceError::WrongKind { .. }
    ));
    assert!(matches!(
        s.restore_name("val", None).unwrap_err(),
        SpaceError::WrongKind { .. }
    ));
    assert!(matches!(
        s.restore_name("nope", None).unwrap_err(),
        SpaceError::NoSuchName { .. }
    ));
    assert!(matches!(
        s.restore_path("/no/such", None).unwrap_err(),
        SpaceError::NoSuchPath { .. }
    ));
    assert_eq!(s.name_for_path(&f).as_deref(), f.to_str());
    s.delete("val").unwrap();
    assert!(!s.exists("val"));
    // A second writer handle on the same space is refused.
    assert!(matches!(
        store.space("fak", false).unwrap_err(),
        SpaceError::InUse { .. }
    ));
    s.close_keep().unwrap();
    // Persistence cannot change on reopen (defect 10).
    let e = store.space("fak", true).unwrap_err();
    assert!(matches!(e, SpaceError::PersistenceMismatch { .. }), "{e}");
    // Ids are validated (defect 7).
    for bad in ["../escape", "", "a/b", "..", "x\0y"] {
        assert!(matches!(
            store.space(bad, false).unwrap_err(),
            SpaceError::InvalidSpaceName { .. }
        ));
    }
    assert!(matches!(
        store.open_space("absent").unwrap_err(),
        SpaceError::NoSuchSpace { .. }
    ));
    // Special files are refused at the top, skipped inside trees.
    let fifo = dir.path().join("fifo");
    nix_mkfifo(&fifo);
    let s = store.open_space("fak").unwrap();
    assert!(matches!(
        s.backup_path(&fifo, None).unwrap_err(),
        SpaceError::InvalidInput(_)
    ));
    fs::create_dir(dir.path().join("t")).unwrap();
    nix_mkfifo(&dir.path().join("t/p"));
    let r = s.backup_path(dir.path().join("t"), None).unwrap();
    assert_eq!(r.skipped.len(), 1);
    // cleanup empties the space; it stays.
    s.cleanup().unwrap();
    assert!(s.entries().is_empty());
    s.discard().unwrap();
    assert!(store.spaces().unwrap().is_empty());
}

fn nix_mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid C string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

/// Flips one byte of the stored object of entry `name`.
fn corrupt(store_dir: &Path, store: &BackupStore, space: &str, name: &str) -> String {
    let s = store.open_space_read_only(space).unwrap();
    let (_, entry) = s.entries().into_iter().find(|(n, _)| n == name).unwrap();
    let Data::File { sha256, .. } = &entry.root.data else {
        panic!("not a file")
    };
    let object = format!("obj-{sha256}");
    let path = store_dir.join(&object);
    let mut b = fs::read(&path).unwrap();
    b[3] ^= 0x20;
    fs::write(&path, b).unwrap();
    s.close().unwrap();
    object
}

#[test]
fn corrupted_or_missing_objects_are_refused_and_live_files_kept() {
    let scene = file_store();
    let live = scene.local_file("config", b"good version");
    let (dir, store_dir, url) = (scene.work, scene.store, scene.url);
    let store = open_store(&url).unwrap();
    let s = store.space("integrity", true).unwrap();
    s.backup_path(&live, Some("cfg")).unwrap();
    fs::create_dir(dir.path().join("tree")).unwrap();
    fs::write(dir.path().join("tree/one"), b"one").unwrap();
    fs::write(dir.path().join("tree/two"), b"two two").unwrap();
    s.backup_path(dir.path().join("tree"), Some("tree"))
        .unwrap();
    s.close().unwrap();

    let object = corrupt(&store_dir, &store, "integrity", "cfg");
    fs::write(&live, b"current live version").unwrap();
    let s = store.open_space_read_only("integrity").unwrap();
    let e = s.restore_name("cfg", None).unwrap_err();
    assert!(matches!(e, SpaceError::Damaged { .. }), "{e}");
    assert!(e.to_string().contains("SHA-256"), "{e}");
    assert_eq!(fs::read(&live).unwrap(), b"current live version");
    let problems = s.verify().unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].object, object);
    s.close().unwrap();

    // verify through the CLI: exit 56, JSON names the object.
    let cache = dir.path().join("cache");
    let o = run(cli(&cache).args(["--json", "space", "verify", &url, "integrity"]));
    let (code, stdout, stderr) = outcome(&o);
    assert_eq!(code, 56, "{stdout}{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["code"], 56);
    assert_eq!(v["error"]["code"], 56);
    assert_eq!(v["data"]["problems"][0]["object"], object.as_str());
    let o = run(cli(&cache).args(["space", "restore", &url, "integrity", "cfg"]));
    assert_eq!(outcome(&o).0, 56, "{:?}", outcome(&o));
    assert_eq!(fs::read(&live).unwrap(), b"current live version");

    // A missing object in a tree: nothing of the tree is touched.
    let s = store.open_space_read_only("integrity").unwrap();
    let (_, tree) = s.entries().into_iter().find(|(n, _)| n == "tree").unwrap();
    let two = tree
        .tree
        .iter()
        .find(|n| n.path.0 == Path::new("two"))
        .unwrap();
    let (sha, _) = two.data.content().unwrap();
    fs::remove_file(store_dir.join(format!("obj-{sha}"))).unwrap();
    fs::write(dir.path().join("tree/one"), b"live one").unwrap();
    fs::write(dir.path().join("tree/two"), b"live two").unwrap();
    let e = s.restore_name("tree", None).unwrap_err();
    assert!(e.to_string().contains("is missing"), "{e}");
    assert_eq!(fs::read(dir.path().join("tree/one")).unwrap(), b"live one");
    assert_eq!(fs::read(dir.path().join("tree/two")).unwrap(), b"live two");
    assert_eq!(fs::read_dir(dir.path().join("tree")).unwrap().count(), 2);
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        4,
        "no staging left"
    );
    let o = run(cli(&cache).args(["space", "verify", &url, "integrity"]));
    assert_eq!(outcome(&o).0, 56);
    assert!(outcome(&o).2.contains("missing"));
}

#[test]
fn persistent_space_survives_processes_and_reverts() {
    let scene = file_store();
    let (dir, store_dir, url) = (scene.work, scene.store, scene.url);
    let cache = dir.path().join("cache");
    let etc = dir.path().join("etc");
    make_tree(&etc);
    let boot = dir.path().join("grub.cfg");
    fs::write(&boot, b"menuentry").unwrap();
    let before_etc = snapshot(&etc);

    // Process 1 (the CLI): back up; a value too.
    let o = run(cli(&cache)
        .args(["space", "backup", &url, "fix-grub"])
        .arg(&etc)
        .arg(&boot));
    assert_eq!(outcome(&o).0, 0, "{:?}", outcome(&o));
    let mut child = cli(&cache)
        .args(["space", "backup-value", &url, "fix-grub", "mbr"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&[0xAA; 446]).unwrap();
    assert!(child.wait().unwrap().success());

    // The "fix" breaks things.
    fs::write(etc.join("a.txt"), b"oops").unwrap();
    fs::remove_dir_all(etc.join("sub")).unwrap();
    fs::write(&boot, b"broken").unwrap();

    // Process 2: list and revert.
    let o = run(cli(&cache).args(["--json", "space", "list", &url]));
    let v: serde_json::Value = serde_json::from_str(&outcome(&o).1).unwrap();
    assert_eq!(v["items"][0]["name"], "fix-grub");
    assert_eq!(v["items"][0]["persistent"], true);
    assert_eq!(v["items"][0]["entries"], 3);
    let o = run(cli(&cache).args(["space", "revert", &url, "fix-grub"]));
    assert_eq!(outcome(&o).0, 0, "{:?}", outcome(&o));
    assert_eq!(snapshot(&etc)[1..], before_etc[1..]);
    assert_eq!(fs::read(&boot).unwrap(), b"menuentry");
    // Revert again: same result.
    let o = run(cli(&cache).args(["space", "revert", &url, "fix-grub"]));
    assert_eq!(outcome(&o).0, 0);
    let o = run(cli(&cache).args(["space", "restore-value", &url, "fix-grub", "mbr"]));
    assert_eq!(o.stdout, vec![0xAA; 446]);

    // The library sees the same space after its own close.
    let store = open_store(&url).unwrap();
    let s = store.open_space("fix-grub").unwrap();
    assert!(s.is_persistent());
    let items = s.revert().unwrap();
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|i| i.result.is_ok()));
    s.close().unwrap();
    assert_eq!(store.spaces().unwrap().len(), 1);
    // The store is open while any of its handles lives.
    drop(s);
    drop(store);

    // rm, drop and gc through the CLI.
    let o = run(cli(&cache).args(["space", "rm", &url, "fix-grub", "mbr"]));
    assert_eq!(outcome(&o).0, 0, "{:?}", outcome(&o));
    let o = run(cli(&cache).args(["space", "rm", &url, "fix-grub", "mbr"]));
    assert_eq!(outcome(&o).0, 52);
    let o = run(cli(&cache).args(["space", "drop", &url, "fix-grub"]));
    assert_eq!(outcome(&o).0, 0, "{:?}", outcome(&o));
    let o = run(cli(&cache).args(["--json", "space", "gc", &url]));
    assert_eq!(outcome(&o).0, 0, "{:?}", outcome(&o));
    assert_eq!(objects(&store_dir), Vec::<String>::new());
    let o = run(cli(&cache).args(["space", "show", &url, "fix-grub"]));
    assert_eq!(outcome(&o).0, 52);
    let o = run(cli(&cache).args(["space", "show", &url, "../x"]));
    assert_eq!(outcome(&o).0, 23);
}

#[test]
fn equal_content_is_stored_once_across_spaces() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    let src = dir.path().join("src");
    fs::create_dir(&src).unwrap();
    for i in 0..20 {
        fs::write(src.join(format!("f{i}")), bytes(i, 10_000)).unwrap();
    }
    fs::write(src.join("dup"), bytes(3, 10_000)).unwrap();
    let store = open_store(&file_url(&store_dir)).unwrap();
    let a = store.space("a", true).unwrap();
    let b = store.space("b", true).unwrap();
    a.backup_path(&src, None).unwrap();
    b.backup_path(&src, None).unwrap();
    b.backup_value(&bytes(5, 10_000), "same-as-f5").unwrap();
    let blobs = objects(&store_dir)
        .into_iter()
        .filter(|o| o.starts_with("obj-"))
        .count();
    assert_eq!(blobs, 20);
    let info = store.spaces().unwrap();
    assert_eq!(info[0].objects, 20);
    assert_eq!(info[1].size, 22 * 10_000);
    // Dropping one space keeps what the other uses.
    b.close().unwrap();
    a.discard().unwrap();
    let blobs = objects(&store_dir)
        .into_iter()
        .filter(|o| o.starts_with("obj-"))
        .count();
    assert_eq!(blobs, 20);
    store.drop_space("b").unwrap();
    let report = store.gc().unwrap();
    assert_eq!(report.objects_kept, 0);
    assert_eq!(objects(&store_dir), Vec::<String>::new());
}
