//! The local-peer plugin's peer operations through the `stowage peer`
//! commands (the `stowage.peer/1` extension across the ABI).

use std::fs::{File, FileTimes};
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use stowage_tests::{
    cli_with, tempdir, Cli, Output, EXIT_INVALID, EXIT_NOT_FOUND, EXIT_VALIDATION,
};

fn setup() -> (tempfile::TempDir, Cli) {
    cli_with(&["local-peer", "file"])
}

/// A peer's directories in a temporary directory: `collect` (created) and
/// `target` (created only by [`peer_with_target`]).
struct Peer {
    work: tempfile::TempDir,
    collect: PathBuf,
    target: PathBuf,
    /// `local-peer://<host><collect>`.
    url: String,
}

/// A [`Peer`] of host `host` whose collect directory exists.
fn peer(host: &str) -> Peer {
    let work = tempdir();
    let collect = work.path().join("collect");
    std::fs::create_dir(&collect).unwrap();
    let target = work.path().join("target");
    let url = format!("local-peer://{host}{}", collect.display());
    Peer {
        work,
        collect,
        target,
        url,
    }
}

/// `stowage peer stage URL TARGET --owner OWNER` of `peer`.
fn stage_owned_by(cli: &Cli, peer: &Peer, owner: &str) -> Output {
    cli.run([
        "peer",
        "stage",
        &peer.url,
        peer.target.to_str().unwrap(),
        "--owner",
        owner,
    ])
}

/// A [`Peer`] of `host1` whose target directory exists too.
fn peer_with_target() -> Peer {
    let peer = peer("host1");
    std::fs::create_dir(&peer.target).unwrap();
    peer
}

#[test]
fn indicators_round_trip() {
    let (_p, cli) = setup();
    let peer = peer("Host1");
    let (work, collect, url) = (&peer.work, &peer.collect, &peer.url);

    cli.run(["peer", "collected", url]).expect_code(1);
    std::fs::write(collect.join("cback.collect"), b"").unwrap();
    cli.run(["peer", "collected", url]).ok();
    let (_, doc) = cli.run_json(["peer", "collected", url]);
    assert_eq!(doc["data"]["present"], true);
    // A directory is not an indicator; a custom name works.
    std::fs::create_dir(collect.join("ready")).unwrap();
    cli.run(["peer", "collected", url, "--indicator", "ready"])
        .expect_code(1);

    cli.run(["peer", "mark-staged", url, "--mode", "0640"]).ok();
    let meta = std::fs::metadata(collect.join("cback.stage")).unwrap();
    assert!(meta.is_file());
    assert_eq!(meta.permissions().mode() & 0o7777, 0o640);

    for bad in ["../escape", "a/b", "", ".."] {
        let out = cli.run(["peer", "mark-staged", url, "--indicator", bad]);
        out.expect_code(EXIT_INVALID);
        assert!(!work.path().join("escape").exists());
    }
    // Writing needs the collect directory to exist.
    let missing = format!("local-peer://Host1{}", work.path().join("nope").display());
    cli.run(["peer", "mark-staged", &missing])
        .expect_code(EXIT_NOT_FOUND);
}

#[test]
fn stage_reports_every_entry() {
    let (_p, cli) = setup();
    let peer = peer_with_target();
    let (work, collect, target, url) = (&peer.work, &peer.collect, &peer.target, &peer.url);
    std::fs::create_dir(collect.join("subdir")).unwrap();
    std::fs::write(collect.join("a file.txt"), b"spaces").unwrap();
    std::fs::write(collect.join("ünï.bin"), b"unicode!").unwrap();
    std::fs::write(collect.join("cback.collect"), b"").unwrap();
    std::os::unix::fs::symlink("a file.txt", collect.join("link")).unwrap();
    std::os::unix::fs::symlink("/nowhere", collect.join("dangling")).unwrap();
    // A target entry that is a symlink is replaced, never written through.
    std::fs::write(work.path().join("victim"), b"keep me").unwrap();
    std::os::unix::fs::symlink(work.path().join("victim"), target.join("ünï.bin")).unwrap();
    let (out, doc) = cli.run_json([
        "peer",
        "stage",
        url,
        target.to_str().unwrap(),
        "--mode",
        "0600",
    ]);
    out.ok();
    let doc = &doc["data"];
    assert_eq!(doc["copied"], 2, "{doc}");
    assert_eq!(doc["bytes"], 14);
    let staged: Vec<&str> = doc["staged"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(staged, ["a file.txt", "ünï.bin"]);
    let skipped: Vec<(String, String)> = doc["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                s["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let names: Vec<&str> = skipped.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["cback.collect", "dangling", "link", "subdir"],
        "{doc}"
    );
    assert_eq!(std::fs::read(target.join("ünï.bin")).unwrap(), b"unicode!");
    assert!(!std::fs::symlink_metadata(target.join("ünï.bin"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        std::fs::read(work.path().join("victim")).unwrap(),
        b"keep me"
    );
    let meta = std::fs::metadata(target.join("a file.txt")).unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o600);
}

#[test]
fn stage_refuses_bad_directories() {
    let (_p, cli) = setup();
    let peer = peer_with_target();
    let (work, collect, target, url) = (&peer.work, &peer.collect, &peer.target, &peer.url);

    // Empty collect directory: nothing to stage, as in Cedar.
    let out = cli.run(["peer", "stage", url, target.to_str().unwrap()]);
    assert_ne!(out.code, 0, "{out}");
    assert!(
        out.err.contains("nothing to stage") || out.err.contains("Did not copy"),
        "{out}"
    );

    std::fs::write(collect.join("f"), b"x").unwrap();
    let out = cli.run(["peer", "stage", url, "relative/target"]);
    out.expect_code(EXIT_INVALID);
    assert!(out.err.contains("absolute"), "{out}");
    let missing = work.path().join("missing");
    let out = cli.run(["peer", "stage", url, missing.to_str().unwrap()]);
    out.expect_code(EXIT_NOT_FOUND);
    let no_collect = format!("local-peer://host1{}", work.path().join("nope").display());
    let out = cli.run(["peer", "stage", &no_collect, target.to_str().unwrap()]);
    out.expect_code(EXIT_NOT_FOUND);
    // A relative collect directory is refused when the URL is opened.
    cli.run(["peer", "collected", "local-peer://host1"])
        .expect_code(EXIT_INVALID);
    // The peer commands need a local-peer backend.
    let out = cli.run([
        "peer",
        "collected",
        &format!("file://{}", collect.display()),
    ]);
    assert_ne!(out.code, 0);
    assert!(out.err.contains("stowage.peer/1"), "{out}");
}

#[test]
fn ownership_is_applied_as_root() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc_geteuid() } != 0 {
        eprintln!("SKIPPED: ownership test needs root");
        assert!(
            std::env::var_os("STOWAGE_REQUIRE_TOOLS").is_none(),
            "ownership test needs root under STOWAGE_REQUIRE_TOOLS"
        );
        return;
    }
    let (_p, cli) = setup();
    let peer = peer_with_target();
    let (collect, target, url) = (&peer.collect, &peer.target, &peer.url);
    std::fs::write(collect.join("f"), b"x").unwrap();
    stage_owned_by(&cli, &peer, "65534:65534").ok();
    let meta = std::fs::metadata(target.join("f")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (65534, 65534));
    cli.run(["peer", "mark-staged", url, "--owner", "nobody"])
        .ok();
    assert_eq!(
        std::fs::metadata(collect.join("cback.stage"))
            .unwrap()
            .uid(),
        65534
    );
    stage_owned_by(&cli, &peer, "no-such-user-x").expect_code(EXIT_INVALID);
}

extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

/// `--owner` and `--mode` go through the one parser the plugin uses too
/// (`stowage-peer-ext`): a signed mode is refused, and `USER:` takes the
/// user's login group, as chown(1) does.
#[test]
fn owner_and_mode_follow_the_shared_parser() {
    let (_p, cli) = setup();
    let peer = peer("Host1");
    let (collect, url) = (&peer.collect, &peer.url);
    let out = cli.run(["peer", "mark-staged", url, "--mode", "+640"]);
    out.expect_code(EXIT_INVALID);
    assert!(out.all_text().contains("\"+640\""), "{}", out.all_text());
    assert!(!collect.join("cback.stage").exists());
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED: giving files to another user needs root");
        return;
    }
    cli.run(["peer", "mark-staged", url, "--owner", "nobody:"])
        .ok();
    let meta = std::fs::metadata(collect.join("cback.stage")).unwrap();
    let nobody = user_ids("nobody");
    assert_eq!((meta.uid(), meta.gid()), nobody);
}

/// (uid, login gid) of `name` from the user database, through `id`.
fn user_ids(name: &str) -> (u32, u32) {
    let id = |flag: &str| -> u32 {
        let out = std::process::Command::new("id")
            .args([flag, name])
            .output()
            .unwrap();
        String::from_utf8(out.stdout)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    (id("-u"), id("-g"))
}

/// The size of the file rewritten under `stowage peer stage`.
const LIVE_SIZE: usize = 4 << 20;

/// The mtime the writer gives version `k`: far in the past, one second per
/// version, so a copy's stamp names the version it must hold.
fn stamp(k: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_000_000 + k)
}

/// Rewrites `path` in place until `stop`, as a process other than the
/// stowage being tested: version `k` sets every byte to `k % 251`, then
/// stamps the file with [`stamp`]`(k)`. Returns the number of versions.
fn rewrite_until(path: &Path, stop: Arc<AtomicBool>) -> thread::JoinHandle<u64> {
    let file = File::options().write(true).open(path).unwrap();
    thread::spawn(move || {
        let mut version = 0u64;
        while !stop.load(Ordering::Relaxed) {
            version += 1;
            let buf = vec![(version % 251) as u8; LIVE_SIZE];
            file.write_all_at(&buf, 0).unwrap();
            file.set_times(FileTimes::new().set_modified(stamp(version)))
                .unwrap();
        }
        version
    })
}

/// The names of a `--json` stage's `list` (`staged`, `skipped`) with
/// their `field` (`bytes`, `reason`).
fn entries(data: &Value, list: &str, field: &str) -> Vec<(String, Value)> {
    data[list]
        .as_array()
        .unwrap_or_else(|| panic!("no {list} in {data}"))
        .iter()
        .map(|e| (e["name"].as_str().unwrap().to_string(), e[field].clone()))
        .collect()
}

/// `--skip-changed` with a file rewritten in a loop while `stowage peer
/// stage` runs: each stage either stages it whole (the version its mtime
/// names) and exits 0, or leaves it out of the target (no copy, no
/// temporary), names it as skipped in the text and the JSON and exits 56
/// with an "items failed" error; the other file is staged every time.
#[test]
fn skip_changed_names_a_file_that_keeps_changing_and_stages_the_rest() {
    let (_p, cli) = setup();
    let peer = peer_with_target();
    let (collect, target, url) = (&peer.collect, &peer.target, &peer.url);
    let live = collect.join("live.db");
    std::fs::write(&live, vec![0u8; LIVE_SIZE]).unwrap();
    std::fs::write(collect.join("quiet.txt"), b"steady").unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = rewrite_until(&live, Arc::clone(&stop));
    let target_arg = target.to_str().unwrap();
    let args = ["peer", "stage", url, target_arg, "--skip-changed"];
    let started = Instant::now();
    let (mut rounds, mut whole, mut skipped_json, mut skipped_text) = (0, 0, 0, 0);
    // At least 6 rounds and a skip seen in both formats: at most 60
    // rounds, 90 seconds.
    while rounds < 60 && started.elapsed() < Duration::from_secs(90) {
        if rounds >= 6 && skipped_json > 0 && skipped_text > 0 {
            break;
        }
        rounds += 1;
        for name in ["live.db", "quiet.txt"] {
            let _ = std::fs::remove_file(target.join(name));
        }
        let json = rounds % 2 == 1;
        let (out, skipped) = if json {
            let (out, doc) = cli.run_json(args);
            let data = &doc["data"];
            let staged = entries(data, "staged", "bytes");
            assert!(staged.iter().any(|(n, _)| n == "quiet.txt"), "{doc}");
            assert_eq!(data["failed"], serde_json::json!([]), "{doc}");
            let skipped = entries(data, "skipped", "reason")
                .contains(&("live.db".into(), "changed while being staged".into()));
            if skipped {
                assert!(!staged.iter().any(|(n, _)| n == "live.db"), "{doc}");
                assert_eq!(doc["code"], EXIT_VALIDATION, "{doc}");
                assert_eq!(doc["error"]["kind"], "items failed", "{doc}");
                let message = doc["error"]["message"].as_str().unwrap();
                assert!(message.contains("\"live.db\""), "{doc}");
                assert!(message.starts_with("1 of 2 files not staged"), "{doc}");
                skipped_json += 1;
            } else {
                assert!(staged.iter().any(|(n, _)| n == "live.db"), "{doc}");
                assert_eq!(doc["code"], 0, "{doc}");
            }
            (out, skipped)
        } else {
            let out = cli.run(args);
            assert!(out.out.contains("staged  quiet.txt  (6 bytes)"), "{out}");
            let skipped = out
                .out
                .contains("skipped live.db  (changed while being staged)");
            if skipped {
                assert!(!out.out.contains("staged  live.db"), "{out}");
                assert!(out.err.contains("\"live.db\""), "{out}");
                skipped_text += 1;
            } else {
                assert!(out.out.contains("staged  live.db"), "{out}");
            }
            (out, skipped)
        };
        out.expect_code(if skipped { EXIT_VALIDATION } else { 0 });
        assert_eq!(std::fs::read(target.join("quiet.txt")).unwrap(), b"steady");
        let temporaries: Vec<String> = std::fs::read_dir(target)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".stowage-partial"))
            .collect();
        assert!(temporaries.is_empty(), "left behind: {temporaries:?}");
        let copy_path = target.join("live.db");
        if skipped {
            assert!(
                !copy_path.exists(),
                "round {rounds}: skipped but staged\n{out}"
            );
            continue;
        }
        let copy = std::fs::read(&copy_path).unwrap();
        assert_eq!(copy.len(), LIVE_SIZE);
        let modified = std::fs::metadata(&copy_path).unwrap().modified().unwrap();
        let Ok(age) = modified.duration_since(stamp(0)) else {
            continue;
        };
        if age.as_secs() > 1_000_000 {
            continue; // stamped by a write in flight, not by a version
        }
        whole += 1;
        let byte = (age.as_secs() % 251) as u8;
        let torn = copy.iter().position(|&b| b != byte);
        assert_eq!(
            torn,
            None,
            "the copy stamped as version {} is torn",
            age.as_secs()
        );
    }
    stop.store(true, Ordering::Relaxed);
    let versions = writer.join().unwrap();
    assert!(versions > 10, "the writer barely ran ({versions} versions)");
    eprintln!(
        "peer stage --skip-changed: {rounds} runs, {whole} copies checked whole, \
         skipped as changed {skipped_json} (json) + {skipped_text} (text)"
    );
    assert!(
        skipped_json > 0,
        "no --json stage in {rounds} saw the file change twice"
    );
    assert!(
        skipped_text > 0,
        "no text stage in {rounds} saw the file change twice"
    );
    // Quiet again: staged, exit 0.
    cli.run(args).ok();
    assert_eq!(
        std::fs::read(target.join("live.db")).unwrap().len(),
        LIVE_SIZE
    );
}
