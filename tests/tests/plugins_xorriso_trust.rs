//! The xorriso plugin under a killed writer and a hostile local user.

mod plugins_support;

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use stowage_tests::files::write_data;
use stowage_tests::{plugin_dir_with, require_tool, tempdir, Cli};

fn tools() -> bool {
    require_tool("xorriso") && require_tool("isoinfo")
}

/// `isoinfo -R -x /PATH`: the file's bytes as an independent reader sees
/// them.
fn isoinfo_read(image: &Path, iso_path: &str) -> Vec<u8> {
    let out = Command::new("isoinfo")
        .args(["-R", "-i"])
        .arg(image)
        .args(["-x", iso_path])
        .output()
        .expect("running isoinfo");
    assert!(out.status.success(), "isoinfo failed: {out:?}");
    out.stdout
}

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
    if !tools() {
        return;
    }
    let plugins = plugin_dir_with(&["xorriso"]);
    let cli = Cli::new(plugins.path());
    let work = tempdir();
    let image = work.path().join("killed.iso");
    let url = format!("xorriso://{}", image.display());
    let first = work.path().join("first");
    fs::write(&first, b"acknowledged before the kill").unwrap();
    cli.run(["put", &url, first.to_str().unwrap()]).ok();
    let committed = fs::metadata(&image).unwrap().len();

    let big = work.path().join("big");
    write_data(&big, 300 << 20, 7);
    let mut child = cli
        .command(["put", &url, big.to_str().unwrap()])
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        let grown = fs::metadata(&image).map_or(0, |m| m.len()) > committed + (32 << 20);
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
    let orphans = processes_holding(&image);

    // A second writer at once: refused while the killed writer's xorriso runs.
    let second = work.path().join("second");
    fs::write(&second, b"written after the kill").unwrap();
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

    let toc = table_of_contents(&image);
    assert!(!toc.to_lowercase().contains("broken"), "{toc}");
    assert_eq!(
        isoinfo_read(&image, "/first"),
        b"acknowledged before the kill"
    );
    assert_eq!(isoinfo_read(&image, "/second"), b"written after the kill");
}
