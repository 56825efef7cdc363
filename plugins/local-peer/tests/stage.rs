//! Staging on a real filesystem.

mod common;

use std::ffi::OsStr;
use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use common::*;
use stowage_local_peer::{
    stage, EntryName, ErrorKind, Ownership, PeerConfig, PeerError, SkipReason, SkippedEntry,
    StageReport, StagedFile, DEFAULT_INDICATORS,
};

const RAW_NAME: &[u8] = b"raw\xff.bin";

/// Fresh [`Dirs`] whose collect directory [`populate`] filled, and the
/// directory outside it that its symlinks point into.
fn populated_dirs() -> (Dirs, PathBuf) {
    let d = dirs();
    let outside = d._root.path().join("outside");
    populate(&d, &outside);
    (d, outside)
}

/// The collect directory of the reference tests: regular files (spaces,
/// unicode, a backslash, a non-UTF-8 name, mode 0, setuid), an indicator, a
/// subdirectory, symlinks to a file, to a directory and dangling, a FIFO.
/// The target holds a file to be replaced, an unrelated file, and a symlink
/// at a staged name pointing to a file outside.
fn populate(d: &Dirs, outside: &Path) {
    let c = &d.collect;
    write_file(&c.join("plain.txt"), b"hello\n", 0o644);
    write_file(&c.join("with space.txt"), b"spaced", 0o640);
    write_file(&c.join("ünïcödé ✓.dat"), b"unicode!", 0o600);
    write_file(&c.join("back\\slash.txt"), b"backslash", 0o644);
    write_file(&c.join(OsStr::from_bytes(RAW_NAME)), b"\xff\xfe", 0o644);
    // Mode 0: only root can read it (a non-root owner cannot either).
    if is_root() {
        write_file(&c.join("secret"), b"top secret", 0o000);
    }
    write_file(&c.join("setuid"), b"#!/bin/sh\n", 0o4755);
    write_file(&c.join("existing.txt"), b"new content", 0o644);
    write_file(
        &c.join("victim_link"),
        b"staged, not written through",
        0o644,
    );
    write_file(&c.join("cback.collect"), b"", 0o644);
    fs::create_dir(c.join("subdir")).unwrap();
    write_file(&c.join("subdir/inner.txt"), b"inner", 0o644);
    link("plain.txt", &c.join("link_to_file"));
    link("subdir", &c.join("link_to_dir"));
    link("/nonexistent/stowage", &c.join("dangling"));
    mkfifo(&c.join("fifo"));

    let t = &d.target;
    write_file(
        &t.join("existing.txt"),
        b"old content that is longer",
        0o600,
    );
    write_file(&t.join("unrelated.txt"), b"leave me", 0o644);
    fs::create_dir_all(outside).unwrap();
    write_file(&outside.join("other.txt"), b"must stay", 0o644);
    link(outside.join("other.txt"), &t.join("victim_link"));
}

fn staged(name: &str, bytes: u64) -> StagedFile {
    StagedFile {
        name: EntryName::from(name),
        bytes,
    }
}

fn skipped(name: &str, reason: SkipReason) -> SkippedEntry {
    SkippedEntry {
        name: EntryName::from(name),
        reason,
    }
}

fn expected_report(d: &Dirs) -> StageReport {
    let mut staged = vec![
        staged("back\\slash.txt", 9),
        staged("existing.txt", 11),
        staged("plain.txt", 6),
        StagedFile {
            name: EntryName::new(OsStr::from_bytes(RAW_NAME)),
            bytes: 2,
        },
        staged("secret", 10),
        staged("setuid", 10),
        staged("victim_link", 27),
        staged("with space.txt", 6),
        staged("ünïcödé ✓.dat", 8),
    ];
    if !is_root() {
        staged.retain(|s| s.name != "secret");
    }
    StageReport {
        collect_dir: d.collect.clone(),
        target_dir: d.target.clone(),
        copied: staged.len(),
        bytes: staged.iter().map(|s| s.bytes).sum(),
        staged,
        skipped: vec![
            skipped("cback.collect", SkipReason::Indicator),
            skipped("dangling", SkipReason::Symlink),
            skipped("fifo", SkipReason::NotRegular),
            skipped("link_to_dir", SkipReason::Symlink),
            skipped("link_to_file", SkipReason::Symlink),
            skipped("subdir", SkipReason::Directory),
        ],
        failed: vec![],
    }
}

fn check_contents(d: &Dirs, outside: &Path) {
    let t = &d.target;
    assert_eq!(fs::read(t.join("plain.txt")).unwrap(), b"hello\n");
    assert_eq!(fs::read(t.join("with space.txt")).unwrap(), b"spaced");
    assert_eq!(fs::read(t.join("ünïcödé ✓.dat")).unwrap(), b"unicode!");
    assert_eq!(fs::read(t.join("back\\slash.txt")).unwrap(), b"backslash");
    assert_eq!(
        fs::read(t.join(OsStr::from_bytes(RAW_NAME))).unwrap(),
        b"\xff\xfe"
    );
    if is_root() {
        assert_eq!(fs::read(t.join("secret")).unwrap(), b"top secret");
    }
    assert_eq!(fs::read(t.join("existing.txt")).unwrap(), b"new content");
    assert_eq!(fs::read(t.join("unrelated.txt")).unwrap(), b"leave me");
    // The symlink at a staged name was replaced by a regular file; the file
    // it pointed to is untouched.
    assert!(fs::symlink_metadata(t.join("victim_link"))
        .unwrap()
        .file_type()
        .is_file());
    assert_eq!(
        fs::read(t.join("victim_link")).unwrap(),
        b"staged, not written through"
    );
    assert_eq!(fs::read(outside.join("other.txt")).unwrap(), b"must stay");
    // Nothing skipped was copied, and no temporary file is left.
    let mut expected: Vec<String> = [
        "back\\slash.txt",
        "existing.txt",
        "plain.txt",
        "secret",
        "setuid",
        "unrelated.txt",
        "victim_link",
        "with space.txt",
        "ünïcödé ✓.dat",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    expected.push(String::from_utf8_lossy(RAW_NAME).into_owned());
    if !is_root() {
        expected.retain(|n| n != "secret");
    }
    expected.sort();
    assert_eq!(names(t), expected);
    // mtime preserved (Cedar set it to now).
    for name in ["plain.txt", "existing.txt", "ünïcödé ✓.dat", "setuid"] {
        assert_eq!(
            fs::metadata(t.join(name)).unwrap().modified().unwrap(),
            old_mtime(),
            "{name}"
        );
    }
}

#[test]
fn stages_regular_files_and_reports_the_rest() {
    let (d, outside) = populated_dirs();
    let report = stage(&d.collect, &d.target, None, None, DEFAULT_INDICATORS).unwrap();
    assert_eq!(report, expected_report(&d));
    check_contents(&d, &outside);
    // Source modes are kept, including mode 0 (root can read it) and setuid.
    let t = &d.target;
    assert_eq!(mode_of(&t.join("plain.txt")), 0o644);
    assert_eq!(mode_of(&t.join("with space.txt")), 0o640);
    assert_eq!(mode_of(&t.join("ünïcödé ✓.dat")), 0o600);
    assert_eq!(mode_of(&t.join("existing.txt")), 0o644);
    if is_root() {
        assert_eq!(mode_of(&t.join("secret")), 0o000);
    }
    assert_eq!(mode_of(&t.join("setuid")), 0o4755);
    // The collect directory is unchanged.
    assert_eq!(fs::read(d.collect.join("plain.txt")).unwrap(), b"hello\n");
    assert!(fs::symlink_metadata(d.collect.join("link_to_file"))
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn report_is_deterministic_and_serialises() {
    let (d, _outside) = populated_dirs();
    let first = stage(&d.collect, &d.target, None, None, DEFAULT_INDICATORS).unwrap();
    // Staging again replaces everything and reports the same.
    let second = stage(&d.collect, &d.target, None, None, DEFAULT_INDICATORS).unwrap();
    assert_eq!(first, second);
    let json: serde_json::Value = serde_json::to_value(&first).unwrap();
    assert_eq!(json["copied"], if is_root() { 9 } else { 8 });
    assert_eq!(json["bytes"], if is_root() { 89 } else { 79 });
    assert_eq!(json["collect_dir"], d.collect.to_str().unwrap());
    assert_eq!(json["staged"][0]["name"], "back\\slash.txt");
    assert_eq!(json["staged"][3]["name"], "raw\u{fffd}.bin");
    assert_eq!(
        json["staged"][3]["name_bytes"],
        serde_json::json!([114, 97, 119, 255, 46, 98, 105, 110])
    );
    assert!(json["staged"][0].get("name_bytes").is_none());
    assert_eq!(
        json["skipped"][0],
        serde_json::json!({"name": "cback.collect", "reason": "indicator"})
    );
    assert_eq!(json["failed"], serde_json::json!([]));
}

#[test]
fn ownership_then_source_mode_as_root() {
    if !require_root("ownership_then_source_mode_as_root") {
        return;
    }
    let (d, outside) = populated_dirs();
    // Numeric ids need not exist in the databases.
    let owner = Ownership::new(Some(12345), Some(54321));
    let report = stage(&d.collect, &d.target, Some(owner), None, DEFAULT_INDICATORS).unwrap();
    assert_eq!(report, expected_report(&d));
    check_contents(&d, &outside);
    let t = &d.target;
    for s in &report.staged {
        assert_eq!(
            owner_of(&t.join(s.name.as_os_str())),
            (12345, 54321),
            "{}",
            s.name
        );
    }
    // chown clears setuid; the mode is applied after it, so it is kept.
    assert_eq!(mode_of(&t.join("setuid")), 0o4755);
    assert_eq!(mode_of(&t.join("secret")), 0o000);
    assert_eq!(mode_of(&t.join("with space.txt")), 0o640);
    // Untouched: the unrelated file and the symlink's old target.
    assert_eq!(owner_of(&t.join("unrelated.txt")), (0, 0));
    assert_eq!(owner_of(&outside.join("other.txt")), (0, 0));
}

#[test]
fn ownership_group_only_and_explicit_mode() {
    if !require_root("ownership_group_only_and_explicit_mode") {
        return;
    }
    let d = dirs();
    write_file(&d.collect.join("a"), b"a", 0o644);
    write_file(&d.collect.join("b"), b"bb", 0o4755);
    let owner = Ownership::parse(":4242").unwrap();
    let report = stage(&d.collect, &d.target, Some(owner), Some(0o640), &[]).unwrap();
    assert_eq!(report.copied, 2);
    assert_eq!(report.bytes, 3);
    for name in ["a", "b"] {
        assert_eq!(owner_of(&d.target.join(name)), (0, 4242));
        assert_eq!(mode_of(&d.target.join(name)), 0o640);
    }
}

#[test]
fn explicit_mode_without_ownership() {
    let d = dirs();
    write_file(&d.collect.join("a"), b"a", 0o644);
    write_file(&d.collect.join("b"), b"b", 0o4400);
    let report = stage(&d.collect, &d.target, None, Some(0o600), DEFAULT_INDICATORS).unwrap();
    assert_eq!(report.copied, 2);
    assert_eq!(mode_of(&d.target.join("a")), 0o600);
    assert_eq!(mode_of(&d.target.join("b")), 0o600);
}

#[test]
fn custom_indicators_are_skipped_and_defaults_then_copied() {
    let d = dirs();
    write_file(&d.collect.join("ready.flag"), b"", 0o644);
    write_file(&d.collect.join("cback.collect"), b"", 0o644);
    write_file(&d.collect.join("data"), b"data", 0o644);
    let report = stage(&d.collect, &d.target, None, None, &["ready.flag"]).unwrap();
    assert_eq!(
        report.staged,
        vec![staged("cback.collect", 0), staged("data", 4)]
    );
    assert_eq!(
        report.skipped,
        vec![skipped("ready.flag", SkipReason::Indicator)]
    );
    // An indicator is skipped by name even when it is a directory.
    let d = dirs();
    fs::create_dir(d.collect.join("cback.stage")).unwrap();
    write_file(&d.collect.join("data"), b"data", 0o644);
    // Temporary files (a put in progress, a leftover) are not data either.
    write_file(&d.collect.join(".stowage-partial-0123-x"), b"half", 0o644);
    let report = stage(&d.collect, &d.target, None, None, DEFAULT_INDICATORS).unwrap();
    assert_eq!(
        report.skipped,
        vec![
            skipped(".stowage-partial-0123-x", SkipReason::Temporary),
            skipped("cback.stage", SkipReason::Indicator),
        ]
    );
    assert_eq!(names(&d.target), ["data"]);
}

#[test]
fn symlinked_collect_and_target_directories_are_fine() {
    let d = dirs();
    write_file(&d.collect.join("f"), b"x", 0o644);
    let root = d._root.path();
    link(&d.collect, &root.join("collect-link"));
    link(&d.target, &root.join("target-link"));
    let report = stage(
        &root.join("collect-link"),
        &root.join("target-link"),
        None,
        None,
        DEFAULT_INDICATORS,
    )
    .unwrap();
    assert_eq!(report.staged, vec![staged("f", 1)]);
    assert_eq!(fs::read(d.target.join("f")).unwrap(), b"x");
}

#[test]
fn per_file_failure_is_reported_and_the_rest_staged() {
    let d = dirs();
    write_file(&d.collect.join("a"), b"a", 0o644);
    write_file(&d.collect.join("b"), b"b", 0o644);
    write_file(&d.collect.join("c"), b"c", 0o644);
    // A directory at the target name cannot be replaced by a file.
    fs::create_dir(d.target.join("b")).unwrap();
    fs::write(d.target.join("b/keep"), b"keep").unwrap();
    let err = stage(&d.collect, &d.target, None, None, DEFAULT_INDICATORS).unwrap_err();
    let PeerError::StageFailed { report } = &err else {
        panic!("expected StageFailed, got {err:?}");
    };
    assert_eq!(report.staged, vec![staged("a", 1), staged("c", 1)]);
    assert_eq!(report.copied, 2);
    assert_eq!(report.failed.len(), 1);
    let f = &report.failed[0];
    assert_eq!(f.name, "b");
    // EISDIR is invalid input in the project's one errno classification
    // (`BackendError::from_io`).
    assert_eq!(f.kind, ErrorKind::InvalidInput);
    assert_eq!(f.os_error, Some(libc::EISDIR));
    assert!(f.message.contains("/target/b"), "{}", f.message);
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(err.os_error(), Some(libc::EISDIR));
    assert!(!err.retryable());
    let msg = err.to_string();
    assert!(msg.contains("1 of 3 file(s) failed, 2 staged"), "{msg}");
    // The directory is untouched; no temporary file is left behind.
    assert_eq!(fs::read(d.target.join("b/keep")).unwrap(), b"keep");
    assert_eq!(names(&d.target), ["a", "b", "c"]);
}

#[test]
fn empty_collect_dir_is_nothing_to_stage() {
    let d = dirs();
    let err = stage(&d.collect, &d.target, None, None, DEFAULT_INDICATORS).unwrap_err();
    assert!(matches!(err, PeerError::NothingToStage { .. }), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Generic);
    assert!(err.to_string().starts_with("nothing to stage"), "{err}");
    let report = err.report().unwrap();
    assert_eq!(report.copied, 0);
    assert!(report.staged.is_empty() && report.skipped.is_empty() && report.failed.is_empty());
}

#[test]
fn only_skipped_entries_is_nothing_to_stage() {
    let d = dirs();
    write_file(&d.collect.join("cback.collect"), b"", 0o644);
    fs::create_dir(d.collect.join("sub")).unwrap();
    link("sub", &d.collect.join("l"));
    let err = stage(&d.collect, &d.target, None, None, DEFAULT_INDICATORS).unwrap_err();
    let PeerError::NothingToStage { report } = &err else {
        panic!("expected NothingToStage, got {err:?}");
    };
    assert_eq!(
        report.skipped,
        vec![
            skipped("cback.collect", SkipReason::Indicator),
            skipped("l", SkipReason::Symlink),
            skipped("sub", SkipReason::Directory),
        ]
    );
    assert!(err.to_string().contains("3 entries skipped"), "{err}");
    assert_eq!(names(&d.target), Vec::<String>::new());
}

#[test]
fn directory_checks_in_cedar_order() {
    let d = dirs();
    let root = d._root.path();
    let missing = root.join("missing");
    let file = root.join("file");
    write_file(&file, b"", 0o644);
    let st = |c: &Path, t: &Path| stage(c, t, None, None, DEFAULT_INDICATORS).unwrap_err();

    // 1. Relative target first, even with a missing collect directory.
    let e = st(&missing, Path::new("relative/target"));
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert_eq!(
        e.to_string(),
        "target directory \"relative/target\" must be an absolute path"
    );
    let e = st(Path::new("relative"), &d.target);
    assert_eq!(
        e.to_string(),
        "collect directory \"relative\" must be an absolute path"
    );
    // 2. Collect directory before target directory.
    let e = st(&missing, &missing);
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(
        e.to_string(),
        format!("collect directory {missing:?} does not exist")
    );
    let e = st(&file, &d.target);
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert_eq!(
        e.to_string(),
        format!("collect directory {file:?} is not a directory")
    );
    let e = st(&file.join("below"), &d.target);
    assert_eq!(e.kind(), ErrorKind::NotFound);
    // 3. Target directory.
    let e = st(&d.collect, &missing);
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(
        e.to_string(),
        format!("target directory {missing:?} does not exist")
    );
    let e = st(&d.collect, &file);
    assert_eq!(
        e.to_string(),
        format!("target directory {file:?} is not a directory")
    );
    // A dangling symlink as collect directory does not exist.
    link(&missing, &root.join("dangling"));
    assert_eq!(
        st(&root.join("dangling"), &d.target).kind(),
        ErrorKind::NotFound
    );
}

#[test]
fn argument_checks() {
    let d = dirs();
    write_file(&d.collect.join("f"), b"x", 0o644);
    let e = stage(&d.collect, &d.collect, None, None, DEFAULT_INDICATORS).unwrap_err();
    assert!(matches!(e, PeerError::SameDirectory { .. }), "{e:?}");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    link(&d.collect, &d._root.path().join("alias"));
    let e = stage(&d.collect, &d._root.path().join("alias"), None, None, &[]).unwrap_err();
    assert!(matches!(e, PeerError::SameDirectory { .. }), "{e:?}");
    let e = stage(&d.collect, &d.target, None, Some(0o10000), &[]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("0o10000"), "{e}");
    for bad in ["", "a/b", "..", "/etc/passwd"] {
        let e = stage(&d.collect, &d.target, None, None, &[bad]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad}");
    }
    // Nothing was written by any of these.
    assert_eq!(names(&d.target), Vec::<String>::new());
}

#[test]
fn peer_config_methods_use_default_indicators() {
    let d = dirs();
    write_file(&d.collect.join("cback.collect"), b"", 0o644);
    write_file(&d.collect.join("data"), b"1234", 0o644);
    let url = format!("local-peer://Peer{}", d.collect.display());
    let peer = PeerConfig::from_url(&url).unwrap();
    assert!(peer.check_collect_indicator(None).unwrap());
    let report = peer.stage(&d.target, None, None).unwrap();
    assert_eq!(report.staged, vec![staged("data", 4)]);
    peer.write_stage_indicator(None, None, None).unwrap();
    assert!(d.collect.join("cback.stage").is_file());
    // The stage indicator is skipped on a second stage too.
    let report = peer.stage(&d.target, None, None).unwrap();
    assert_eq!(report.skipped.len(), 2);
}

/// Unmounts on drop, so a failing test does not leave the mount behind.
struct Mount(std::path::PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let c = std::ffi::CString::new(self.0.as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    }
}

/// Mounts a 64 KiB tmpfs on `dir`; `None` (with a loud note) if this
/// environment does not allow it.
fn small_tmpfs(dir: &Path) -> Option<Mount> {
    let c = |s: &[u8]| std::ffi::CString::new(s).unwrap();
    let (src, target, fstype, opts) = (
        c(b"tmpfs"),
        c(dir.as_os_str().as_bytes()),
        c(b"tmpfs"),
        c(b"size=64k,mode=0755"),
    );
    // SAFETY: valid NUL-terminated strings.
    let rc = unsafe {
        libc::mount(
            src.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            0,
            opts.as_ptr().cast(),
        )
    };
    if rc != 0 {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED disk-full test: cannot mount a tmpfs: {}",
            std::io::Error::last_os_error()
        );
        return None;
    }
    Some(Mount(dir.to_path_buf()))
}

#[test]
fn disk_full_is_a_per_file_no_space_failure() {
    if !require_root("disk_full_is_a_per_file_no_space_failure") {
        return;
    }
    let d = dirs();
    let Some(_mount) = small_tmpfs(&d.target) else {
        return;
    };
    write_file(&d.collect.join("a"), &[b'a'; 1000], 0o644);
    write_file(&d.collect.join("b"), &vec![b'b'; 200_000], 0o644);
    write_file(&d.collect.join("c"), &[b'c'; 1000], 0o644);
    let err = stage(&d.collect, &d.target, None, None, DEFAULT_INDICATORS).unwrap_err();
    let report = err.report().expect("a failed stage carries its report");
    assert_eq!(report.staged, vec![staged("a", 1000), staged("c", 1000)]);
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert_eq!(report.failed[0].name, "b");
    assert_eq!(report.failed[0].kind, ErrorKind::NoSpace);
    assert_eq!(report.failed[0].os_error, Some(libc::ENOSPC));
    assert_eq!(err.kind(), ErrorKind::NoSpace);
    // No partial "b" and no temporary file left.
    assert_eq!(names(&d.target), ["a", "c"]);
}
