//! `put URL - --name NAME` and `get URL NAME -o -`: standard input and
//! output through the real CLI and real plugins.
//!
//! Every run uses `--isolate=never`: the isolated proxy does not forward
//! `stowage.stream/1` yet, and these tests are about the extension (an
//! isolated plugin would be spooled, which the xorriso tests cover).

use std::fs;
use std::io::{Read, Write};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use stowage_tests::{
    cli_with, file_url, require_tool, tempdir, Cli, EXIT_INVALID, EXIT_NO_SPACE, EXIT_OK,
    EXIT_USAGE,
};

mod streams_support;
use streams_support::{entries, pattern, run_with_stdin};

fn in_process(names: &[&str]) -> (tempfile::TempDir, Cli) {
    let (plugins, cli) = cli_with(names);
    (plugins, cli.global(["--isolate=never"]))
}

#[test]
fn fifty_mebibytes_round_trip_through_standard_input_and_output() {
    let (_plugins, cli) = in_process(&["file"]);
    let work = tempdir();
    let store = work.path().join("store");
    let url = file_url(&store);
    let data = pattern(50 << 20);
    let out = run_with_stdin(
        &cli,
        &["--json", "put", &url, "-", "--name", "big.tar"],
        &data,
    );
    out.ok();
    let doc = out.json();
    assert_eq!(doc["items"][0]["name"], "big.tar", "{out}");
    assert_eq!(doc["items"][0]["file"], "-", "{out}");
    assert_eq!(doc["items"][0]["size"], 50 << 20, "{out}");
    assert_eq!(
        entries(&store),
        vec!["big.tar"],
        "no temporary file is left"
    );
    assert!(fs::read(store.join("big.tar")).unwrap() == data);

    let out = cli.run(["get", &url, "big.tar", "-o", "-"]);
    out.ok();
    assert_eq!(out.stdout.len(), data.len());
    assert!(
        out.stdout == data,
        "standard output differs from the stream"
    );

    // A missing object on standard output: not found, nothing written.
    let out = cli.run(["get", &url, "missing", "-o", "-"]);
    out.expect_code(stowage_tests::EXIT_NOT_FOUND);
    assert!(out.stdout.is_empty(), "{out}");
}

#[test]
fn standard_input_is_refused_without_a_name_or_among_files() {
    let (_plugins, cli) = in_process(&["file"]);
    let work = tempdir();
    let store = work.path().join("store");
    let url = file_url(&store);
    let other = work.path().join("other");
    fs::write(&other, b"x").unwrap();
    let other = other.to_str().unwrap();
    for (args, code, fragment) in [
        (vec!["put", &url, "-"], EXIT_USAGE, "--name"),
        (
            vec!["put", &url, "-", other, "--name", "x"],
            EXIT_USAGE,
            "other files",
        ),
        (vec!["put", &url, other, "-"], EXIT_USAGE, "other files"),
        (vec!["mv", &url, "-", "--name", "x"], EXIT_USAGE, "mv"),
        (vec!["put", &url, "-", "--name", "a/b"], EXIT_INVALID, "a/b"),
        (
            vec!["put", &url, "-", "--name", ".stowage-partial-x"],
            EXIT_INVALID,
            "reserved",
        ),
    ] {
        let out = run_with_stdin(&cli, &args, b"data");
        out.expect_code(code);
        assert!(out.err.contains(fragment), "{fragment:?} missing\n{out}");
    }
    assert!(entries(&store).is_empty(), "{:?}", entries(&store));
}

#[test]
fn a_failing_producer_publishes_nothing_and_leaves_no_temporary_file() {
    let (_plugins, cli) = in_process(&["file"]);
    let work = tempdir();
    let store = work.path().join("store");
    fs::create_dir(&store).unwrap();
    fs::write(store.join("keep"), b"old").unwrap();
    let url = file_url(&store);
    // Reading a directory fails (EISDIR) at the first read.
    let mut cmd = cli.command(["put", &url, "-", "--name", "keep"]);
    cmd.stdin(fs::File::open(work.path()).unwrap());
    let out = cmd.output().unwrap();
    assert_ne!(out.status.code(), Some(EXIT_OK));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("<stdin>"), "{err}");
    assert_eq!(entries(&store), vec!["keep"]);
    assert_eq!(fs::read(store.join("keep")).unwrap(), b"old");
}

#[test]
fn an_interrupted_stream_publishes_nothing_and_leaves_no_temporary_file() {
    let (_plugins, cli) = in_process(&["file"]);
    let work = tempdir();
    let store = work.path().join("store");
    let url = file_url(&store);
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let mut cmd = cli.command(["put", &url, "-", "--name", "cut"]);
        cmd.stdin(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        // 4 MiB written and a temporary file in the store: the stream is
        // under way, and the producer keeps the pipe open.
        stdin.write_all(&pattern(4 << 20)).unwrap();
        let start = Instant::now();
        while entries(&store).is_empty() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "no temporary file"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let pid = i32::try_from(child.id()).unwrap();
        // SAFETY: signalling our own child.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
        let status = child.wait().unwrap();
        drop(stdin);
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert_eq!(status.code(), Some(128 + signal), "{err}");
        assert!(entries(&store).is_empty(), "{:?}", entries(&store));
    }
}

/// A tmpfs mounted for the life of the value, unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// `None` (after a loud skip) when it cannot be mounted, or a panic
    /// under `STOWAGE_REQUIRE_TOOLS`.
    fn mount(size: &str) -> Option<Self> {
        let dir = tempdir();
        let status = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir.path())
            .stderr(Stdio::null())
            .status();
        if status.is_ok_and(|s| s.success()) {
            return Some(Self { dir });
        }
        if std::env::var_os("STOWAGE_REQUIRE_TOOLS").is_some() {
            panic!("cannot mount a tmpfs (needs root), and STOWAGE_REQUIRE_TOOLS is set");
        }
        eprintln!("\n*** SKIPPED: cannot mount a tmpfs (needs root) ***\n");
        None
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

#[test]
fn streams_larger_than_the_spool_directory_need_the_extension() {
    let Some(spool) = Tmpfs::mount("8m") else {
        return;
    };
    let (_plugins, cli) = in_process(&["file", "xorriso"]);
    let cli = cli.env("TMPDIR", spool.path());
    let work = tempdir();
    let data = pattern(64 << 20);

    // file:// streams: the 8 MiB spool is never used.
    let store = work.path().join("store");
    let url = file_url(&store);
    run_with_stdin(&cli, &["put", &url, "-", "--name", "big"], &data).ok();
    assert!(fs::read(store.join("big")).unwrap() == data);
    assert!(entries(spool.path()).is_empty());
    // And back to standard output through the reader, not a spool file.
    let out = cli.run(["get", &url, "big", "-o", "-"]);
    out.ok();
    assert!(
        out.stdout == data,
        "standard output differs from the stream"
    );

    // xorriso has no stream: the spool fills, the put fails with the
    // no-space status, nothing is stored, and the spool is gone.
    if !require_tool("xorriso") {
        return;
    }
    let image = work.path().join("offsite.iso");
    let url = format!("xorriso://{}", image.display());
    let out = run_with_stdin(&cli, &["put", &url, "-", "--name", "big"], &data);
    out.expect_code(EXIT_NO_SPACE);
    assert!(
        entries(spool.path()).is_empty(),
        "{:?}",
        entries(spool.path())
    );
    let out = cli.run(["--json", "ls", &url]);
    out.ok();
    assert_eq!(stowage_tests::ls_entries(&out.json()), vec![]);
}

/// An isolated plugin (the default for `--plugin-dir`) does not forward
/// the stream extension yet: standard input and output are spooled, with
/// the same result.
#[test]
fn isolated_plugins_spool_standard_input_and_output() {
    let (_plugins, cli) = cli_with(&["file"]);
    let work = tempdir();
    let store = work.path().join("store");
    let url = file_url(&store);
    let data = pattern(3 << 20);
    run_with_stdin(&cli, &["put", &url, "-", "--name", "piped"], &data).ok();
    assert!(fs::read(store.join("piped")).unwrap() == data);
    let out = cli.run(["get", &url, "piped", "-o", "-"]);
    out.ok();
    assert!(out.stdout == data);
}
