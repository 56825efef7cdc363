//! Collect and stage indicators on a real filesystem.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;

use common::*;
use stowage_local_peer::{
    check_collect_indicator, write_stage_indicator, ErrorKind, Ownership, PeerError,
    DEFAULT_COLLECT_INDICATOR, DEFAULT_STAGE_INDICATOR,
};

#[test]
fn check_true_only_for_a_regular_file() {
    let d = dirs();
    let c = &d.collect;
    assert!(!check_collect_indicator(c, DEFAULT_COLLECT_INDICATOR).unwrap());
    write_file(&c.join(DEFAULT_COLLECT_INDICATOR), b"", 0o644);
    assert!(check_collect_indicator(c, DEFAULT_COLLECT_INDICATOR).unwrap());
    // Any content, any mode: presence of a regular file is what counts.
    write_file(&c.join("custom"), b"not empty", 0o000);
    assert!(check_collect_indicator(c, "custom").unwrap());
    // A directory of that name is not an indicator (Cedar said True).
    fs::create_dir(c.join("dir.collect")).unwrap();
    assert!(!check_collect_indicator(c, "dir.collect").unwrap());
    // Neither is a symlink, even to a regular file.
    link(DEFAULT_COLLECT_INDICATOR, &c.join("link.collect"));
    assert!(!check_collect_indicator(c, "link.collect").unwrap());
    // Nor a FIFO.
    mkfifo(&c.join("fifo.collect"));
    assert!(!check_collect_indicator(c, "fifo.collect").unwrap());
}

#[test]
fn check_missing_collect_dir_is_false() {
    let d = dirs();
    let missing = d._root.path().join("missing");
    assert!(!check_collect_indicator(&missing, DEFAULT_COLLECT_INDICATOR).unwrap());
    // A collect "directory" that is a file: also false, not an error.
    let file = d._root.path().join("file");
    write_file(&file, b"", 0o644);
    assert!(!check_collect_indicator(&file, DEFAULT_COLLECT_INDICATOR).unwrap());
}

#[test]
fn check_and_write_refuse_names_outside_the_collect_dir() {
    let d = dirs();
    // Cedar answered True for these (they exist outside the collect dir).
    write_file(&d._root.path().join("outside"), b"", 0o644);
    for bad in [
        "",
        "/",
        ".",
        "..",
        "a/b",
        "../outside",
        "/etc/passwd",
        "x\0y",
    ] {
        let e = check_collect_indicator(&d.collect, bad).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad:?}");
        let e = write_stage_indicator(&d.collect, bad, None, None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad:?}");
        assert!(e.to_string().starts_with("invalid indicator name"), "{e}");
    }
    assert_eq!(names(&d.collect), Vec::<String>::new());
    assert_eq!(fs::read(d._root.path().join("outside")).unwrap(), b"");
}

#[test]
fn write_creates_an_empty_indicator() {
    let d = dirs();
    write_stage_indicator(&d.collect, DEFAULT_STAGE_INDICATOR, None, None).unwrap();
    let path = d.collect.join(DEFAULT_STAGE_INDICATOR);
    let meta = fs::symlink_metadata(&path).unwrap();
    assert!(meta.is_file());
    assert_eq!(meta.len(), 0);
    // 0666 less the umask of this process.
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let umask = status
        .lines()
        .find_map(|l| l.strip_prefix("Umask:"))
        .map(|v| u32::from_str_radix(v.trim(), 8).unwrap())
        .unwrap_or(0o022);
    assert_eq!(mode_of(&path), 0o666 & !umask);
    // No temporary file is left.
    assert_eq!(names(&d.collect), [DEFAULT_STAGE_INDICATOR]);
}

#[test]
fn write_replaces_an_existing_indicator_and_symlink() {
    let d = dirs();
    let path = d.collect.join("cback.stage");
    write_file(&path, b"old non-empty content", 0o600);
    let old_ino = fs::metadata(&path).unwrap().ino();
    write_stage_indicator(&d.collect, "cback.stage", None, Some(0o640)).unwrap();
    let meta = fs::symlink_metadata(&path).unwrap();
    assert_eq!(meta.len(), 0);
    assert_eq!(mode_of(&path), 0o640);
    // Replaced, not truncated in place.
    assert_ne!(meta.ino(), old_ino);

    // A symlink at the name is replaced, its target untouched.
    let outside = d._root.path().join("outside.txt");
    write_file(&outside, b"keep", 0o644);
    link(&outside, &d.collect.join("linked.stage"));
    write_stage_indicator(&d.collect, "linked.stage", None, None).unwrap();
    assert!(fs::symlink_metadata(d.collect.join("linked.stage"))
        .unwrap()
        .is_file());
    assert_eq!(fs::read(&outside).unwrap(), b"keep");
}

#[test]
fn write_onto_a_directory_fails_and_leaves_it() {
    let d = dirs();
    fs::create_dir(d.collect.join("cback.stage")).unwrap();
    fs::write(d.collect.join("cback.stage/x"), b"x").unwrap();
    let e = write_stage_indicator(&d.collect, "cback.stage", None, None).unwrap_err();
    assert_eq!(e.os_error(), Some(libc::EISDIR));
    assert!(e.to_string().contains("cback.stage"), "{e}");
    assert_eq!(fs::read(d.collect.join("cback.stage/x")).unwrap(), b"x");
    assert_eq!(names(&d.collect), ["cback.stage"]);
}

#[test]
fn write_needs_the_collect_dir() {
    let d = dirs();
    let missing = d._root.path().join("missing");
    let e = write_stage_indicator(&missing, "cback.stage", None, None).unwrap_err();
    assert!(matches!(e, PeerError::DirectoryNotFound { .. }), "{e:?}");
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(
        e.to_string(),
        format!("collect directory {missing:?} does not exist")
    );
    assert!(!missing.exists());
    let e = write_stage_indicator(&d.collect, "cback.stage", None, Some(0o17777)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}

#[test]
fn write_with_ownership_as_root() {
    if !require_root("write_with_ownership_as_root") {
        return;
    }
    let d = dirs();
    let owner = Ownership::new(Some(2001), Some(2002));
    write_stage_indicator(&d.collect, "cback.stage", Some(owner), Some(0o600)).unwrap();
    let path = d.collect.join("cback.stage");
    assert_eq!(owner_of(&path), (2001, 2002));
    assert_eq!(mode_of(&path), 0o600);
    let owner = Ownership::parse("nobody").unwrap();
    write_stage_indicator(&d.collect, "cback.stage", Some(owner), None).unwrap();
    assert_eq!(owner_of(&path).0, owner.uid.unwrap());
    assert_eq!(owner_of(&path).1, 0);
}
