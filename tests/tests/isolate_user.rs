//! Isolated plugins run as an unprivileged user (`--plugin-user`): the
//! fork bomb of fixture-misbehave is held by RLIMIT_NPROC (which the kernel
//! applies to every user but root), and the good plugin keeps working.

mod isolate_support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use isolate_support::{once, options, registry};
use stowage_isolate::{Policy, User};
use stowage_tests::{plugin_dir_with, tempdir};

const NOBODY: User = User {
    uid: 65534,
    gid: 65534,
};

fn open_to_nobody(dir: &Path) {
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
}

fn owned_by_nobody(dir: &Path) {
    fs::create_dir_all(dir).unwrap();
    std::os::unix::fs::chown(dir, Some(NOBODY.uid), Some(NOBODY.gid)).unwrap();
}

#[test]
fn a_fork_bomb_is_held_by_the_process_limit() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED: dropping to another user needs root");
        return;
    }
    let plugins = plugin_dir_with(&["file", "misbehave"]);
    open_to_nobody(plugins.path());
    let work = tempdir();
    open_to_nobody(work.path());
    let bad = work.path().join("bad");
    let good = work.path().join("good");
    owned_by_nobody(&bad);
    owned_by_nobody(&good);
    let src = work.path().join("src");
    fs::write(&src, b"data").unwrap();
    fs::set_permissions(&src, fs::Permissions::from_mode(0o644)).unwrap();

    let mut o = options(Policy::Always, &[]);
    o.user = Some(NOBODY);
    o.limits.processes = Some(64);
    let registry = registry(&[plugins.path()], o);
    assert_eq!(registry.plugins().len(), 2, "{:?}", registry.rejected());

    let backend = registry
        .open(&format!("misbehave://{}", bad.display()))
        .unwrap()
        .with_retry(once());
    let started = Instant::now();
    let err = backend
        .put(&src, "forkbomb")
        .expect_err("the bomb is defused");
    assert!(started.elapsed() < Duration::from_secs(30));
    let text = err.to_string();
    assert!(text.contains("fork failed after"), "{text}");
    assert!(!text.contains("fork never failed"), "{text}");
    drop(backend);

    let good_backend = registry
        .open(&format!("file://{}", good.display()))
        .unwrap()
        .with_retry(once());
    good_backend.put(&src, "ok").unwrap();
    let out = work.path().join("out");
    good_backend.get("ok", &out).unwrap();
    assert_eq!(fs::read(&out).unwrap(), b"data");
    good_backend.close().unwrap();
    let owner = std::os::unix::fs::MetadataExt::uid(&fs::metadata(good.join("ok")).unwrap());
    assert_eq!(
        owner, NOBODY.uid,
        "the object was written by the plugin user"
    );
}
