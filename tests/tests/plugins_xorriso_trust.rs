//! The xorriso plugin under a killed writer and a hostile local user.

mod plugins_support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use plugins_support::{
    as_nobody, chmod, isoinfo_lists, isoinfo_read, require_root, xorriso_tools, IsoScene,
};
use stowage::{Backend, Registry};
use stowage_tests::files::write_data;
use stowage_tests::EXIT_PERMISSION;

/// `xorriso -indev IMAGE -toc`: every session header of the chain.
fn table_of_contents(image: &Path) -> String {
    let out = Command::new("xorriso")
        .arg("-indev")
        .arg(image)
        .arg("-toc")
        .output()
        .expect("running xorriso -toc");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "xorriso -toc failed: {text}");
    text
}

/// The processes with `path` open (from `/proc/*/fd`), this one excepted.
fn processes_holding(path: &Path) -> Vec<u32> {
    let me = std::process::id();
    let mut pids = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(fds) = fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        if fds
            .flatten()
            .any(|fd| fs::read_link(fd.path()).is_ok_and(|target| target == path))
        {
            pids.push(pid);
        }
    }
    pids
}

fn alive(pid: u32) -> bool {
    // Zombies count as gone: they hold no descriptor any more.
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

/// `kill -9` of stowage in the middle of committing a 300 MiB put: the
/// xorriso child holds the image lock (it inherited the descriptor) until
/// it is done, so a second writer started at once is refused ("in use")
/// instead of writing a session beside it; once it gets in, every session
/// and every acknowledged put is intact.
#[test]
fn kill_9_mid_commit_keeps_the_image_locked_until_xorriso_is_done() {
    if !xorriso_tools() {
        return;
    }
    let scene = IsoScene::new(&["xorriso"], "killed.iso");
    let cli = scene.cli();
    let (work, image, url) = (&scene.work, &scene.image, scene.url(""));
    let first = scene.local_file("first", b"acknowledged before the kill");
    cli.run(["put", &url, first.to_str().unwrap()]).ok();
    let committed = fs::metadata(image).unwrap().len();

    let big = work.path().join("big");
    write_data(&big, 300 << 20, 7);
    let mut child = cli
        .command(["put", &url, big.to_str().unwrap()])
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        let grown = fs::metadata(image).map_or(0, |m| m.len()) > committed + (32 << 20);
        if grown {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the put finished before the image grew by 32 MiB"
        );
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the commit never started"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // The killed writer's xorriso, still writing the image.
    let orphans = processes_holding(image);

    // A second writer at once: refused while the killed writer's xorriso runs.
    let second = scene.local_file("second", b"written after the kill");
    let (mut refused, started) = (0, Instant::now());
    loop {
        let out = cli.run(["put", &url, second.to_str().unwrap()]);
        if out.code == 0 {
            let writing = orphans.iter().filter(|&&pid| alive(pid)).count();
            assert_eq!(
                writing, 0,
                "a second writer got the image while the killed writer's xorriso still had it open"
            );
            break;
        }
        assert!(out.err.contains("in use"), "{out}");
        refused += 1;
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the image stayed locked"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!("second writer refused {refused} time(s) while the killed writer's xorriso ran");

    let toc = table_of_contents(image);
    assert!(!toc.to_lowercase().contains("broken"), "{toc}");
    assert_eq!(
        isoinfo_read(image, "/first"),
        b"acknowledged before the kill"
    );
    assert_eq!(isoinfo_read(image, "/second"), b"written after the kill");
}

/// Runs `script` with `sh -c` as nobody; panics if it fails.
fn as_nobody_sh(script: &str) {
    let mut sh = Command::new("sh");
    sh.args(["-c", script]);
    let out = as_nobody(&sh).output().unwrap();
    assert!(out.status.success(), "{script}: {out:?}");
}

/// The image's directory is world-writable (sticky, like /tmp), and
/// nobody plants the staging directory there before root opens the image,
/// then swaps the staged copy for their own content of the same size. Root
/// must refuse the planted directory, naming it, and commit nothing of
/// theirs.
#[test]
fn a_staging_directory_planted_by_another_user_is_refused() {
    if !xorriso_tools() || !require_root("a_staging_directory_planted_by_another_user_is_refused") {
        return;
    }
    let scene = IsoScene::new(&["xorriso"], "img.iso");
    let (work, image, url) = (&scene.work, &scene.image, scene.url("?commit=batch"));
    chmod(work.path(), 0o1777);
    let staging = work.path().join(".img.iso.stowage-staging");
    as_nobody_sh(&format!("mkdir -m 777 '{}'", staging.display()));
    let doc = scene.local_file("doc", b"root's own data");

    let registry = scene.registry();
    match registry.open(&url) {
        Err(e) => {
            let message = e.to_string();
            assert!(message.contains(".img.iso.stowage-staging"), "{message}");
            assert!(message.contains("owned by uid 65534"), "{message}");
        }
        Ok(backend) => {
            // What the attacker then does to the staged copy.
            backend.put(&doc, "doc").unwrap();
            as_nobody_sh(&format!(
                "cd '{}' && for f in put-*; do rm -f \"$f\"; printf \"attacker's data\" > \"$f\"; done",
                staging.display()
            ));
            let _ = backend.close();
            drop(backend);
            if isoinfo_lists(image, "/doc") {
                assert_eq!(
                    isoinfo_read(image, "/doc"),
                    b"root's own data",
                    "another user's content was committed as root's put"
                );
            }
            panic!("a staging directory owned by another user was used");
        }
    }
    // The command line says the same and exits with "permission denied".
    let cli = scene.cli();
    let out = cli.run(["put", &url, doc.to_str().unwrap()]);
    out.expect_code(EXIT_PERMISSION);
    assert!(out.err.contains(".img.iso.stowage-staging"), "{out}");
    // A symlink planted in its place is refused too.
    fs::remove_dir(&staging).unwrap();
    let elsewhere = work.path().join("elsewhere");
    as_nobody_sh(&format!(
        "mkdir -m 700 '{}' && ln -s '{}' '{}'",
        elsewhere.display(),
        elsewhere.display(),
        staging.display()
    ));
    cli.run(["put", &url, doc.to_str().unwrap()])
        .expect_code(EXIT_PERMISSION);
    assert_eq!(fs::read_dir(&elsewhere).map(|d| d.count()).unwrap_or(0), 0);
}

/// A staged copy whose content changes (same size) between the put and
/// the commit is dropped and reported, never committed.
#[test]
fn a_staged_copy_changed_before_the_commit_is_not_committed() {
    if !xorriso_tools() {
        return;
    }
    let scene = IsoScene::new(&["xorriso"], "img.iso");
    let registry = scene.registry();
    let (backend, staging) = one_put_staged(&scene, &registry);
    for entry in fs::read_dir(&staging).unwrap() {
        fs::write(entry.unwrap().path(), b"swapped content!").unwrap();
    }
    let e = backend.close().unwrap_err();
    assert!(
        e.to_string().contains("modified after it was staged"),
        "{e}"
    );
    assert!(e.to_string().contains("NOT stored"), "{e}");
    drop(backend);
    assert!(!isoinfo_lists(&scene.image, "/doc"));
}

/// The check before the commit reads nothing: it compares each staged
/// copy's `stat` identity (device, inode, size, mtime, ctime). A same-size
/// rewrite whose mtime is then set back with touch(1), or a mere chmod,
/// still moves the ctime, which nobody can set back: refused all the same.
#[test]
fn a_staged_copy_rewritten_with_its_old_mtime_or_chmodded_is_not_committed() {
    if !xorriso_tools() {
        return;
    }
    for tamper in ["rewrite, then touch -r to the old mtime", "chmod"] {
        let scene = IsoScene::new(&["xorriso"], "img.iso");
        let registry = scene.registry();
        let (backend, staging) = one_put_staged(&scene, &registry);
        for entry in fs::read_dir(&staging).unwrap() {
            let path = entry.unwrap().path();
            let before = fs::metadata(&path).unwrap();
            if tamper == "chmod" {
                chmod(&path, 0o644);
                continue;
            }
            let saved = scene.work.path().join("saved-times");
            let touch = |from: &Path, to: &Path| {
                let status = Command::new("touch")
                    .arg("-r")
                    .arg(from)
                    .arg(to)
                    .status()
                    .unwrap();
                assert!(status.success(), "touch -r {from:?} {to:?}");
            };
            touch(&path, &saved);
            fs::write(&path, b"swapped content!").unwrap();
            touch(&saved, &path);
            let after = fs::metadata(&path).unwrap();
            assert_eq!(after.modified().unwrap(), before.modified().unwrap());
            assert_eq!(after.len(), before.len());
        }
        let e = backend.close().unwrap_err();
        assert!(e.to_string().contains("change time moved"), "{tamper}: {e}");
        assert!(e.to_string().contains("NOT stored"), "{tamper}: {e}");
        drop(backend);
        assert!(!isoinfo_lists(&scene.image, "/doc"), "{tamper}");
    }
}

/// Opens the scene's image with `?commit=batch` through `registry` and
/// puts `doc`: the copy waits in the staging directory (returned with the
/// open backend) until the close. Sleeps past the clock tick of the
/// staging first: kernels before 6.13 could give a change in the same tick
/// the same timestamps.
fn one_put_staged(scene: &IsoScene, registry: &Registry) -> (Backend, PathBuf) {
    let doc = scene.local_file("doc", b"the real content");
    let backend = registry.open(&scene.url("?commit=batch")).unwrap();
    backend.put(&doc, "doc").unwrap();
    std::thread::sleep(Duration::from_millis(30));
    (backend, scene.work.path().join(".img.iso.stowage-staging"))
}
