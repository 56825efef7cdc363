//! Failure paths of an unprivileged user: run as root, the test re-executes
//! this test binary as `nobody` (uid/gid 65534) to run `nonroot_child`.

mod common;

use std::fs;
use std::io::Write;
use std::os::unix::fs::{chown, MetadataExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use common::*;
use stowage_local_peer::{
    stage, write_stage_indicator, EntryName, ErrorKind, Ownership, PeerError, SkipReason,
    SkippedEntry, StagedFile, DEFAULT_INDICATORS,
};

const CHILD_ENV: &str = "STOWAGE_LP_NONROOT_DIR";
const NOBODY: u32 = 65534;

#[test]
fn nonroot_failures_are_per_file_and_up_front() {
    if !require_root("nonroot_failures_are_per_file_and_up_front") {
        return;
    }
    let d = dirs();
    write_file(&d.collect.join("readable.txt"), b"ok", 0o644);
    write_file(&d.collect.join("secret"), b"root only", 0o600);
    write_file(&d.collect.join("cback.collect"), b"", 0o644);
    let refused = d._root.path().join("refused");
    fs::create_dir(&refused).unwrap();
    for dir in [&d.target, &refused] {
        chown(dir, Some(NOBODY), Some(NOBODY)).unwrap();
    }

    let exe = std::env::current_exe().unwrap();
    let out = Command::new(&exe)
        .args([
            "nonroot_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, d._root.path())
        .uid(NOBODY)
        .gid(NOBODY)
        .output();
    let out = match out {
        Ok(out) => out,
        Err(e) if std::env::var_os("STOWAGE_REQUIRE_TOOLS").is_none() => {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED nonroot test: cannot run {exe:?} as nobody: {e}"
            );
            return;
        }
        Err(e) => panic!("cannot run {exe:?} as nobody: {e}"),
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("test result: ok. 1 passed"),
        "child as nobody failed: {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );

    // Seen from root: only the readable file arrived, owned by nobody.
    assert_eq!(names(&d.target), ["readable.txt"]);
    let m = fs::metadata(d.target.join("readable.txt")).unwrap();
    assert_eq!((m.uid(), m.gid()), (NOBODY, NOBODY));
    assert_eq!(names(&refused), Vec::<String>::new());
    assert!(!d.collect.join("cback.stage").exists());
}

#[test]
#[ignore = "helper: run as nobody by nonroot_failures_are_per_file_and_up_front"]
fn nonroot_child() {
    let Some(root) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    assert!(
        !nix::unistd::geteuid().is_root(),
        "the child must not be root"
    );
    let root = Path::new(&root);
    let collect = root.join("collect");
    let target = root.join("target");
    let refused = root.join("refused");

    // An unreadable source is a per-file failure; the rest is staged.
    let err = stage(&collect, &target, None, None, DEFAULT_INDICATORS).unwrap_err();
    let PeerError::StageFailed { report } = &err else {
        panic!("expected StageFailed, got {err:?}");
    };
    assert_eq!(
        report.staged,
        vec![StagedFile {
            name: EntryName::from("readable.txt"),
            bytes: 2
        }]
    );
    assert_eq!(
        report.skipped,
        vec![SkippedEntry {
            name: EntryName::from("cback.collect"),
            reason: SkipReason::Indicator
        }]
    );
    assert_eq!(report.failed.len(), 1);
    let f = &report.failed[0];
    assert_eq!(f.name, "secret");
    assert_eq!(f.kind, ErrorKind::PermissionDenied);
    assert_eq!(f.os_error, Some(libc::EACCES));
    assert!(f.message.contains("collect/secret"), "{}", f.message);
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);

    // Ownership only root may set is refused before anything is copied.
    for owner in [
        Ownership::new(Some(0), None),
        Ownership::new(None, Some(0)),
        Ownership::new(Some(NOBODY), Some(0)),
    ] {
        let e = stage(&collect, &refused, Some(owner), None, DEFAULT_INDICATORS).unwrap_err();
        assert!(
            matches!(e, PeerError::OwnershipNotPermitted { .. }),
            "{owner}: {e:?}"
        );
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);
        assert!(e.to_string().contains("refused"), "{e}");
        assert!(fs::read_dir(&refused).unwrap().next().is_none());
        // Same for the stage indicator: refused up front (not EACCES from
        // the root-owned collect directory).
        let e = write_stage_indicator(&collect, "cback.stage", Some(owner), None).unwrap_err();
        assert!(
            matches!(e, PeerError::OwnershipNotPermitted { .. }),
            "{owner}: {e:?}"
        );
    }
    // Its own ids are fine.
    let mine = Ownership::new(Some(NOBODY), Some(NOBODY));
    let e = stage(&collect, &target, Some(mine), None, DEFAULT_INDICATORS).unwrap_err();
    assert_eq!(e.report().unwrap().copied, 1);
    // Without ownership, writing into the root-owned collect dir is EACCES.
    let e = write_stage_indicator(&collect, "cback.stage", None, None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied);
    assert_eq!(e.os_error(), Some(libc::EACCES));
}
