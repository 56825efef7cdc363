//! Staging while files change under it: never a torn copy, never a copy
//! more widely readable than asked for, never blocked by squatted
//! temporary names. Each race runs in a loop bounded in tries and time.

mod common;

use std::fs::{self, File, FileTimes};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;
use stowage_local_peer::{
    stage, stage_with_options, write_stage_indicator, ErrorKind, PeerError, SkipReason,
    StageOptions, DEFAULT_INDICATORS,
};

const SIZE: usize = 4 << 20;

/// The mtime the writer gives version `k`: far in the past, one second
/// per version, so a stamp names the version it belongs to.
fn stamp(k: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_000_000 + k)
}

/// Rewrites `path` in place, over and over until `stop`: version `k` sets
/// every byte to `k % 251`, then stamps the file with [`stamp`]`(k)`.
fn rewrite_until(path: &Path, stop: Arc<AtomicBool>) -> thread::JoinHandle<u64> {
    let file = File::options().write(true).open(path).unwrap();
    thread::spawn(move || {
        let mut version = 0u64;
        while !stop.load(Ordering::Relaxed) {
            version += 1;
            let buf = vec![(version % 251) as u8; SIZE];
            file.write_all_at(&buf, 0).unwrap();
            file.set_times(FileTimes::new().set_modified(stamp(version)))
                .unwrap();
        }
        version
    })
}

/// A file that keeps changing is staged only as a copy whose content is
/// the version its modification time names, or reported as changed: never
/// a mix of versions stamped with an old version's time (what a copy
/// taken by path, then stamped with the mtime read before it, produced).
#[test]
fn a_file_changing_while_staged_is_never_staged_torn() {
    let d = dirs();
    let path = d.collect.join("live.db");
    fs::write(&path, vec![0u8; SIZE]).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = rewrite_until(&path, Arc::clone(&stop));
    let started = Instant::now();
    let (mut staged, mut refused) = (0, 0);
    for _ in 0..300 {
        if started.elapsed() > Duration::from_secs(20) {
            break;
        }
        match stage(&d.collect, &d.target, None, None, DEFAULT_INDICATORS) {
            Ok(_) => {
                if check_holds_the_version_it_is_stamped_with(&d.target.join("live.db")) {
                    staged += 1;
                }
            }
            Err(PeerError::StageFailed { report }) => {
                refused += 1;
                assert_eq!(report.failed[0].kind, ErrorKind::ValidationFailed);
                assert!(report.failed[0].message.contains("changed"), "{report:?}");
            }
            Err(e) => panic!("{e}"),
        }
    }
    stop.store(true, Ordering::Relaxed);
    let versions = writer.join().unwrap();
    assert!(versions > 10, "the writer barely ran ({versions} versions)");
    eprintln!("changing file: {staged} stages checked whole, {refused} refused as changed");
    // Once the file is quiet it stages normally.
    stage(&d.collect, &d.target, None, None, DEFAULT_INDICATORS).unwrap();
}

/// Asserts that the copy at `copy_path` holds exactly the version its
/// modification time names; returns `false` (nothing checked) when its
/// stamp is that of a write in flight (the source itself was between
/// versions then, so there is nothing to compare with).
fn check_holds_the_version_it_is_stamped_with(copy_path: &Path) -> bool {
    let modified = fs::metadata(copy_path).unwrap().modified().unwrap();
    let copy = fs::read(copy_path).unwrap();
    assert_eq!(copy.len(), SIZE);
    let Ok(age) = modified.duration_since(stamp(0)) else {
        return false;
    };
    if age.as_secs() > 1_000_000 {
        return false;
    }
    let byte = (age.as_secs() % 251) as u8;
    let torn = copy.iter().position(|&b| b != byte);
    assert_eq!(
        torn,
        None,
        "the copy stamped as version {} holds other data from byte {torn:?}",
        age.as_secs()
    );
    true
}

/// The stowage temporary files in `dir`.
fn temporaries(dir: &Path) -> Vec<String> {
    names(dir)
        .into_iter()
        .filter(|n| n.starts_with(".stowage-partial"))
        .collect()
}

/// With `changed=skip` (`StageOptions::skip_changed`), a file rewritten in
/// a loop while stages run is either staged whole (the version its mtime
/// names) or left out and named as skipped (reason `changed`): never a
/// torn copy, never a temporary file left behind, and the other file of
/// the collect directory is staged every time, so the stage succeeds.
#[test]
fn a_file_changing_while_staged_is_skipped_under_skip_changed() {
    let d = dirs();
    let path = d.collect.join("live.db");
    fs::write(&path, vec![0u8; SIZE]).unwrap();
    write_file(&d.collect.join("quiet.txt"), b"steady", 0o644);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = rewrite_until(&path, Arc::clone(&stop));
    let options = StageOptions {
        skip_changed: true,
        ..StageOptions::default()
    };
    let stage_skipping = || {
        stage_with_options(
            &d.collect,
            &d.target,
            None,
            None,
            DEFAULT_INDICATORS,
            options,
        )
    };
    let started = Instant::now();
    let (mut rounds, mut staged, mut skipped) = (0, 0, 0);
    // At least 20 rounds and one skip, within 300 rounds and 30 seconds.
    while rounds < 300 && started.elapsed() < Duration::from_secs(30) {
        if rounds >= 20 && skipped > 0 {
            break;
        }
        rounds += 1;
        for name in ["live.db", "quiet.txt"] {
            let _ = fs::remove_file(d.target.join(name));
        }
        let report = stage_skipping().unwrap_or_else(|e| panic!("round {rounds}: {e}"));
        assert!(report.failed.is_empty(), "{report:?}");
        assert_eq!(report.copied, report.staged.len());
        assert!(report.staged.iter().any(|s| s.name == "quiet.txt"));
        assert_eq!(fs::read(d.target.join("quiet.txt")).unwrap(), b"steady");
        assert_eq!(temporaries(&d.target), Vec::<String>::new());
        let changed: Vec<_> = report.skipped_changed().collect();
        if changed.iter().any(|n| **n == "live.db") {
            skipped += 1;
            assert!(!report.staged.iter().any(|s| s.name == "live.db"));
            assert!(report
                .skipped
                .iter()
                .any(|s| s.name == "live.db" && s.reason == SkipReason::Changed));
            assert!(
                !d.target.join("live.db").exists(),
                "round {rounds}: live.db was skipped but is in the target"
            );
        } else {
            assert!(
                report.staged.iter().any(|s| s.name == "live.db"),
                "{report:?}"
            );
            if check_holds_the_version_it_is_stamped_with(&d.target.join("live.db")) {
                staged += 1;
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let versions = writer.join().unwrap();
    assert!(versions > 10, "the writer barely ran ({versions} versions)");
    eprintln!(
        "skip changed: {rounds} stages, {staged} copies checked whole, {skipped} skipped as changed"
    );
    assert!(
        skipped > 0,
        "no stage in {rounds} saw the file change twice"
    );
    // Once the file is quiet it stages normally.
    stage_skipping().unwrap();
    assert!(d.target.join("live.db").exists());
}

/// Watches `dir` until `stop`, returning every (name, mode) seen whose
/// permission bits exceed `allowed`.
fn watch_modes(
    dir: &Path,
    allowed: u32,
    stop: Arc<AtomicBool>,
) -> thread::JoinHandle<Vec<(String, u32)>> {
    let dir = dir.to_path_buf();
    thread::spawn(move || {
        let mut wider = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                if let Ok(meta) = entry.metadata() {
                    let mode = meta.mode() & 0o7777;
                    if meta.is_file() && mode & !allowed != 0 {
                        wider.push((entry.file_name().to_string_lossy().into_owned(), mode));
                    }
                }
            }
        }
        wider
    })
}

/// Staged files and indicators asked to be 0600 are never seen with any
/// other permission bit, not even as temporary files before the rename.
#[test]
fn copies_and_indicators_never_exist_with_wider_permissions() {
    let d = dirs();
    for i in 0..20 {
        write_file(&d.collect.join(format!("f{i}")), &[b'x'; 4096], 0o644);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let target_watch = watch_modes(&d.target, 0o600, Arc::clone(&stop));
    let collect_watch = watch_modes(&d.collect, 0o644, Arc::clone(&stop));
    let indicators = d._root.path().join("indicators");
    fs::create_dir(&indicators).unwrap();
    let indicator_watch = watch_modes(&indicators, 0o600, Arc::clone(&stop));
    let started = Instant::now();
    for _ in 0..300 {
        if started.elapsed() > Duration::from_secs(20) {
            break;
        }
        stage(&d.collect, &d.target, None, Some(0o600), DEFAULT_INDICATORS).unwrap();
        write_stage_indicator(&indicators, "cback.stage", None, Some(0o600)).unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for (what, watch) in [
        ("target", target_watch),
        ("collect", collect_watch),
        ("indicators", indicator_watch),
    ] {
        let wider = watch.join().unwrap();
        assert!(
            wider.is_empty(),
            "{what}: files seen with wider modes: {:?}",
            &wider[..wider.len().min(5)]
        );
    }
}

/// Temporary names cannot be guessed, so squatting every name an older
/// scheme would use (`.stowage-partial-<tag>-<pid>-<n>`) blocks nothing.
#[test]
fn squatted_temporary_names_never_block_a_stage() {
    let d = dirs();
    write_file(&d.collect.join("data"), b"payload", 0o644);
    let pid = std::process::id();
    for dir in [&d.target, &d.collect] {
        for tag in ["stage", "indicator"] {
            for n in 0..200 {
                let name = dir.join(format!(".stowage-partial-{tag}-{pid}-{n}"));
                std::os::unix::fs::symlink("/etc/passwd", name).unwrap();
            }
        }
    }
    stage(&d.collect, &d.target, None, None, DEFAULT_INDICATORS).unwrap();
    assert_eq!(fs::read(d.target.join("data")).unwrap(), b"payload");
    write_stage_indicator(&d.collect, "cback.stage", None, Some(0o644)).unwrap();
    assert!(d.collect.join("cback.stage").is_file());
}
