//! Failure paths: each gives its error kind and leaves the image readable at its last good
//! session.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use stowage_xorriso::{EnvSettings, Error, ErrorKind, XorrisoBackend};

/// An image with one committed object "a" = b"first".
fn image_with_a(dir: &Path, name: &str) -> PathBuf {
    let img = dir.join(name);
    let b = open(&url(&img));
    let src = write(dir, "seed", b"first");
    b.put(&src, "a").unwrap();
    b.close().unwrap();
    img
}

/// [`image_with_a`] `name` in `dir`, opened again with a put of `content`
/// as `p` pending (staged, not committed).
fn image_with_a_pending_put(dir: &Path, name: &str, content: &[u8]) -> (PathBuf, XorrisoBackend) {
    let img = image_with_a(dir, name);
    let b = open(&url(&img));
    let src = write(dir, "s", content);
    b.put(&src, "p").unwrap();
    (img, b)
}

/// The error of opening `img` with `env`, which must fail with `kind`.
#[track_caller]
fn open_refused(img: &Path, env: EnvSettings, kind: ErrorKind) -> Error {
    let e = XorrisoBackend::open_with(config(&url(img), env)).unwrap_err();
    assert_eq!(e.kind(), kind, "{e}");
    e
}

fn assert_last_good(img: &Path, dir: &Path) {
    let b = open(&url(img));
    assert_eq!(b.list().unwrap(), vec![("a".to_string(), 5)]);
    let out = dir.join("check-a");
    b.get("a", &out).unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), b"first");
    b.close().unwrap();
}

#[test]
fn second_backend_is_refused_with_in_use() {
    let Some(d) = workdir_with(&["xorriso"]) else {
        return;
    };
    let (img, b) = image_with_a_pending_put(d.path(), "lock.iso", b"pending");
    let t = std::time::Instant::now();
    let e = XorrisoBackend::open(&url(&img)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InUse, "{e}");
    assert!(!e.retryable());
    assert!(t.elapsed().as_secs() < 5, "InUse must be immediate");
    assert!(e.to_string().contains("lock.iso"), "{e}");
    // Another process sees the lock too (util-linux flock).
    if let Ok(o) = std::process::Command::new("flock")
        .args(["--nonblock", "--conflict-exit-code", "75"])
        .arg(&img)
        .arg("true")
        .output()
    {
        assert_eq!(
            o.status.code(),
            Some(75),
            "flock in another process got the lock"
        );
    }
    b.close().unwrap();
    let b = open(&url(&img));
    assert_eq!(b.list().unwrap().len(), 2);
    b.close().unwrap();
}

#[test]
fn full_medium_is_no_space_and_keeps_last_session() {
    if !have("xorriso") {
        return;
    }
    let Some(m) = Mount::tmpfs("2m") else { return };
    let img = m.dir.path().join("full.iso");
    let b = open(&format!("{}?commit=each", url(&img)));
    let work = tempfile::tempdir().unwrap();
    let small = write(work.path(), "small", b"first");
    b.put(&small, "a").unwrap();
    let len_before = std::fs::metadata(&img).unwrap().len();
    // 1 MiB fits in the staging directory (same filesystem) but not, with the session's
    // padding, in what is left for the image: xorriso itself reports the full medium.
    let big = write(work.path(), "big", &bytes(1 << 20, 5));
    let e = b.put(&big, "big").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoSpace, "{e}");
    assert!(!e.retryable());
    assert!(
        e.to_string().contains("xorriso commit"),
        "not the commit that failed: {e}"
    );
    eprintln!("full medium, commit=each: {e}");
    // Rolled back: same length, same listing, and the backend keeps working.
    assert_eq!(std::fs::metadata(&img).unwrap().len(), len_before);
    assert_eq!(b.list().unwrap(), vec![("a".to_string(), 5)]);
    let tiny = write(work.path(), "tiny", b"ok");
    b.put(&tiny, "tiny").unwrap();
    b.close().unwrap();

    // Batched: the failure comes at close, which reports the lost changes.
    let b = open(&url(&img));
    b.put(&big, "big").unwrap();
    let e = b.close().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoSpace, "{e}");
    assert!(e.to_string().contains("\"big\""), "{e}");
    assert!(e.to_string().contains("discarded"), "{e}");
    eprintln!("full medium, at close: {e}");
    // A source too big even for staging fails at once with NoSpace.
    let b = open(&url(&img));
    let huge = write(work.path(), "huge", &bytes(3 << 20, 6));
    let e = b.put(&huge, "huge").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoSpace, "{e}");
    b.close().unwrap();
    let b = open(&url(&img));
    assert_eq!(
        b.list().unwrap(),
        vec![("a".to_string(), 5), ("tiny".to_string(), 2)]
    );
    let out = work.path().join("o");
    b.get("a", &out).unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), b"first");
    b.close().unwrap();
}

#[test]
fn read_only_image_lists_and_gets_but_refuses_writes() {
    if !have("xorriso") {
        return;
    }
    let Some(mut m) = Mount::tmpfs("16m") else {
        return;
    };
    let img = image_with_a(m.dir.path(), "ro.iso");
    let Some(view) = m.read_only_view() else {
        return;
    };
    let ro_img = view.join("ro.iso");
    let b = open(&url(&ro_img));
    assert_eq!(b.list().unwrap(), vec![("a".to_string(), 5)]);
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("o");
    b.get("a", &out).unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), b"first");
    let src = write(work.path(), "s", b"new");
    let e = b.put(&src, "b").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    assert!(e.to_string().contains("read-only"), "{e}");
    let e = b.delete("a").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    assert_eq!(b.compact().unwrap_err().kind(), ErrorKind::PermissionDenied);
    b.close().unwrap();
    assert_last_good(&img, work.path());
}

#[test]
fn wrong_volume_id_is_refused_naming_both() {
    let Some((d, img)) = image_in(&["xorriso"], "vol.iso") else {
        return;
    };
    let b = open(&format!("{}?volid=BKP1", url(&img)));
    let src = write(d.path(), "seed", b"first");
    b.put(&src, "a").unwrap();
    b.close().unwrap();
    let bytes_before = std::fs::read(&img).unwrap();
    let env = EnvSettings {
        assert_volid: Some("OTHER*".into()),
        ..Default::default()
    };
    let e = open_refused(&img, env, ErrorKind::ValidationFailed);
    assert!(!e.retryable());
    let msg = e.to_string();
    eprintln!("volume id mismatch: {msg}");
    assert!(msg.contains("OTHER*") && msg.contains("BKP1"), "{msg}");
    assert_eq!(std::fs::read(&img).unwrap(), bytes_before);
    // The lock was released.
    let b = open(&url(&img));
    assert_eq!(b.list().unwrap(), vec![("a".to_string(), 5)]);
    b.close().unwrap();
}

#[test]
fn bad_xorriso_path_and_args() {
    let Some(d) = workdir_with(&["xorriso"]) else {
        return;
    };
    let img = image_with_a(d.path(), "path.iso");
    let env = EnvSettings {
        xorriso_path: Some("/nonexistent/bin/xorriso".into()),
        ..Default::default()
    };
    let e = open_refused(&img, env, ErrorKind::InvalidInput);
    assert!(!e.retryable());
    assert!(e.to_string().contains("/nonexistent/bin/xorriso"), "{e}");
    // Not xorriso at all.
    let env = EnvSettings {
        xorriso_path: Some("/bin/true".into()),
        ..Default::default()
    };
    let e = open_refused(&img, env, ErrorKind::InvalidInput);
    assert!(e.to_string().contains("/bin/true"), "{e}");
    // A new image is not left behind by a failed open.
    let fresh = d.path().join("fresh.iso");
    let env = EnvSettings {
        xorriso_path: Some("/bin/true".into()),
        ..Default::default()
    };
    assert!(XorrisoBackend::open_with(config(&url(&fresh), env)).is_err());
    assert!(!fresh.exists());
    // XORRISO_ARGS that xorriso rejects.
    let env = EnvSettings {
        args: Some("-no_such_option 1".into()),
        ..Default::default()
    };
    let e = open_refused(&img, env, ErrorKind::InvalidInput);
    assert!(e.to_string().contains("XORRISO_ARGS"), "{e}");
    assert!(e.to_string().contains("-no_such_option"), "{e}");
    // Accepted extra arguments work.
    let env = EnvSettings {
        args: Some("-md5 all".into()),
        write_speed: Some("max".into()),
        ..Default::default()
    };
    let b = XorrisoBackend::open_with(config(&url(&img), env)).unwrap();
    assert_eq!(b.list().unwrap(), vec![("a".to_string(), 5)]);
    b.close().unwrap();
    assert_last_good(&img, d.path());
}

#[test]
fn existing_non_iso_file_is_never_touched() {
    let Some(d) = workdir_with(&["xorriso"]) else {
        return;
    };
    for (name, data) in [
        ("random.iso", bytes(100_000, 3)),
        ("tiny.iso", b"not an iso".to_vec()),
    ] {
        let p = write(d.path(), name, &data);
        let e = XorrisoBackend::open(&url(&p)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        assert!(e.to_string().contains(name), "{e}");
        assert!(e.to_string().contains("not an ISO 9660 image"), "{e}");
        assert_eq!(std::fs::read(&p).unwrap(), data);
    }
    // Missing directory, a directory, a missing drive.
    let e = XorrisoBackend::open(&url(&d.path().join("no/dir/x.iso"))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    let e = XorrisoBackend::open(&format!("xorriso://{}/sub", d.path().display()));
    if let Err(e) = e {
        assert_ne!(e.kind(), ErrorKind::Generic, "{e}");
    }
    std::fs::create_dir(d.path().join("adir")).unwrap();
    let e = XorrisoBackend::open(&url(&d.path().join("adir"))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    if !Path::new("/dev/sr0").exists() {
        let e = XorrisoBackend::open("xorriso:///dev/sr0").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
        assert!(e.to_string().contains("/dev/sr0"), "{e}");
    }
}

#[test]
fn xorriso_dying_is_transient_and_retry_cleanup_respawns() {
    let Some(d) = workdir_with(&["xorriso"]) else {
        return;
    };
    let (img, b) = image_with_a_pending_put(d.path(), "die.iso", b"pending put");
    b.delete("a").unwrap();
    let pid = b.xorriso_pid().unwrap();
    // SAFETY-free: plain kill(1) of our own child.
    let st = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    std::thread::sleep(std::time::Duration::from_millis(100));
    let e = b.info().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transient, "{e}");
    assert!(e.retryable());
    assert!(e.to_string().contains("died"), "{e}");
    b.retry_cleanup().unwrap();
    assert_ne!(b.xorriso_pid(), Some(pid));
    // Pending changes survived the respawn and are committed at close.
    assert_eq!(b.list().unwrap(), vec![("p".to_string(), 11)]);
    b.close().unwrap();
    let b = open(&url(&img));
    assert_eq!(b.list().unwrap(), vec![("p".to_string(), 11)]);
    assert_eq!(b.info().unwrap().sessions, 2);
    b.close().unwrap();
}

#[test]
fn corrupted_data_fails_md5_check_and_leaves_no_local_file() {
    let Some((d, img)) = image_in(&["xorriso"], "md5.iso") else {
        return;
    };
    let data = bytes(10_000, 77);
    let b = open(&url(&img));
    let src = write(d.path(), "s", &data);
    b.put(&src, "victim").unwrap();
    b.close().unwrap();
    // Flip bytes inside the file's data in the image.
    let mut raw = std::fs::read(&img).unwrap();
    let at = raw
        .windows(64)
        .position(|w| w == &data[..64])
        .expect("data in image");
    for x in &mut raw[at + 100..at + 104] {
        *x ^= 0xff;
    }
    std::fs::write(&img, &raw).unwrap();
    let b = open(&url(&img));
    let out = d.path().join("restored");
    let e = b.get("victim", &out).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ValidationFailed, "{e}");
    assert!(e.to_string().contains("MD5"), "{e}");
    assert!(!out.exists());
    let leftovers: Vec<_> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().contains("stowage-get"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    b.close().unwrap();
}

#[test]
fn tampered_staging_drops_only_that_put() {
    let Some((d, img, b)) = image_opened_in(&["xorriso"], "tamper.iso") else {
        return;
    };
    let s1 = write(d.path(), "s1", b"good");
    b.put(&s1, "good").unwrap();
    let s2 = write(d.path(), "s2", b"will vanish");
    b.put(&s2, "bad").unwrap();
    let staged: Vec<_> = std::fs::read_dir(b.staging_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(staged.len(), 2);
    let victim = staged
        .iter()
        .find(|p| std::fs::read(p).unwrap() == b"will vanish")
        .unwrap();
    std::fs::remove_file(victim).unwrap();
    let e = b.close().unwrap_err();
    assert!(e.to_string().contains("\"bad\""), "{e}");
    assert!(e.to_string().contains("NOT stored"), "{e}");
    let b = open(&url(&img));
    assert_eq!(b.list().unwrap(), vec![("good".to_string(), 4)]);
    b.close().unwrap();
}
