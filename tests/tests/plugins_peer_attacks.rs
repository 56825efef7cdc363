//! `stowage peer stage` as root against a peer whose user (here `nobody`)
//! attacks: swapping the collect directory, or a parent of it, for a
//! symlink to a root-only directory while the stage runs, or hard-linking a
//! root-only file into the collect directory. No root-only byte may ever
//! reach the staged files (which are given to the peer's user).

mod plugins_support;

use std::fs;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use plugins_support::{as_nobody, chmod, give_to_nobody, peer_dirs, require_root};
use stowage_tests::{cli_with, tempdir, Cli, EXIT_OK};

const SECRET: &[u8] = b"ROOT SECRET";
const FILES: usize = 20;

fn fill(dir: &Path, content: &[u8]) {
    fs::create_dir_all(dir).unwrap();
    for i in 0..FILES {
        fs::write(dir.join(format!("f{i:02}")), content).unwrap();
    }
}

/// When the test `what` runs as root (else a loud skip): the local-peer
/// plugin's directory, a CLI seeing it, and a temporary directory.
fn root_with_local_peer(what: &str) -> Option<(tempfile::TempDir, Cli, tempfile::TempDir)> {
    if !require_root(what) {
        return None;
    }
    let (plugins, cli) = cli_with(&["local-peer"]);
    Some((plugins, cli, tempdir()))
}

/// Fails if any file under `dir` holds [`SECRET`].
fn assert_no_secret(dir: &Path, round: usize) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let data = fs::read(&path).unwrap_or_default();
        assert!(
            !data.windows(SECRET.len()).any(|w| w == SECRET),
            "round {round}: root-only content was staged as {}",
            path.display()
        );
    }
}

/// The attacker: as nobody, swaps `home/p/collect` and then `home/p` for
/// symlinks to root-only directories and back, until `stop` exists.
fn start_attacker(base: &Path, stop: &Path) -> Child {
    let script = format!(
        r#"cd '{home}' || exit 1
end=$(( $(date +%s) + 60 ))
while [ ! -e '{stop}' ] && [ $(date +%s) -lt $end ]; do
  mv p/collect p/collect.real 2>/dev/null && ln -s '{secret_collect}' p/collect
  mv p/collect p/collect.link 2>/dev/null; mv p/collect.real p/collect 2>/dev/null; rm -f p/collect.link
  mv p p.real 2>/dev/null && ln -s '{secret_parent}' p
  mv p p.link 2>/dev/null; mv p.real p 2>/dev/null; rm -f p.link
done"#,
        home = base.join("home").display(),
        stop = stop.display(),
        secret_collect = base.join("secret/collect").display(),
        secret_parent = base.join("secret").display(),
    );
    let mut sh = Command::new("sh");
    sh.args(["-c", &script]);
    as_nobody(&sh)
        .spawn()
        .expect("starting the attacker as nobody")
}

#[test]
fn swapping_the_collect_dir_or_a_parent_never_stages_root_only_files() {
    let Some((_plugins, cli, work)) =
        root_with_local_peer("swapping_the_collect_dir_or_a_parent_never_stages_root_only_files")
    else {
        return;
    };
    let base = work.path();
    chmod(base, 0o755);
    // The peer's home, writable by the attacker; its collect directory.
    let home = base.join("home");
    fill(&home.join("p/collect"), b"peer data");
    for dir in [&home, &home.join("p"), &home.join("p/collect")] {
        give_to_nobody(dir);
    }
    // Root-only look-alikes: the same names, secret content.
    fill(&base.join("secret/collect"), SECRET);
    fill(&base.join("secret"), SECRET);
    chmod(&base.join("secret"), 0o700);
    let target = base.join("target");
    fs::create_dir(&target).unwrap();
    let stop = base.join("stop");
    let mut attacker = start_attacker(base, &stop);

    let url = format!("local-peer://Peer{}", home.join("p/collect").display());
    let started = Instant::now();
    let (mut rounds, mut staged) = (0, 0);
    while rounds < 300 && started.elapsed() < Duration::from_secs(30) {
        rounds += 1;
        let out = cli
            .command([
                "peer",
                "stage",
                &url,
                target.to_str().unwrap(),
                "--owner",
                "nobody",
            ])
            .output()
            .unwrap();
        if out.status.code() == Some(EXIT_OK) {
            staged += 1;
        }
        assert_no_secret(&target, rounds);
        for entry in fs::read_dir(&target).unwrap() {
            fs::remove_file(entry.unwrap().path()).unwrap();
        }
    }
    fs::write(&stop, b"").unwrap();
    let _ = attacker.wait();
    eprintln!("collect-dir swap: {rounds} stages, {staged} complete, no root-only byte staged");
    assert!(rounds >= 50, "only {rounds} rounds ran");
}

/// A root-only file hard-linked into the collect directory (possible where
/// `fs.protected_hardlinks` is off) is refused, naming the file, unless
/// `--allow-hardlinks` is given.
#[test]
fn hard_linked_files_are_refused_unless_allowed() {
    let Some((_plugins, cli, work)) =
        root_with_local_peer("hard_linked_files_are_refused_unless_allowed")
    else {
        return;
    };
    let (collect, target) = peer_dirs(work.path());
    fs::write(collect.join("plain"), b"peer data").unwrap();
    let shadow = work.path().join("shadow");
    fs::write(&shadow, SECRET).unwrap();
    chmod(&shadow, 0o600);
    fs::hard_link(&shadow, collect.join("innocent")).unwrap();
    let url = format!("local-peer://Peer{}", collect.display());

    let (out, doc) = cli.run_json([
        "peer",
        "stage",
        &url,
        target.to_str().unwrap(),
        "--owner",
        "nobody",
    ]);
    assert_ne!(out.code, EXIT_OK, "{}", out.all_text());
    assert_eq!(doc["data"]["failed"][0]["name"], "innocent", "{doc}");
    let message = doc["data"]["failed"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains("hard links") && message.contains("innocent"),
        "{message}"
    );
    assert_eq!(doc["data"]["staged"][0]["name"], "plain", "{doc}");
    assert!(!target.join("innocent").exists());
    assert_no_secret(&target, 0);

    cli.run([
        "peer",
        "stage",
        &url,
        target.to_str().unwrap(),
        "--allow-hardlinks",
    ])
    .ok();
    assert_eq!(fs::read(target.join("innocent")).unwrap(), SECRET);
}
