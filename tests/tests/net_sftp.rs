//! The `sftp` plugin against a real OpenSSH sshd on loopback: the
//! conformance kit twice, a server killed in the middle of a put, host and
//! client keys refused, and a server that accepts and then stalls.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use stowage_tests::servers::{conformance_twice, net_plugin_dir, Sshd, Staller};
use stowage_tests::{files, tempdir, Cli, EXIT_PERMISSION};

fn cli(plugins: &Path) -> Cli {
    Cli::new(plugins)
}

/// Temporary upload files left in `dir` (hidden from listings).
fn temporaries(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(".stowage-partial-"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn sftp_conforms_twice_and_leaves_nothing_behind() {
    let Some(sshd) = Sshd::start() else { return };
    let plugins = net_plugin_dir("sftp");
    let work = tempdir();
    let store = work.path().join("nested").join("store");
    conformance_twice(&cli(plugins.path()), &sshd.url(&store));
    let left = files::dir_names(&store);
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_put_survives_sshd_killed_and_restarted() {
    let Some(mut sshd) = Sshd::start() else {
        return;
    };
    let plugins = net_plugin_dir("sftp");
    let work = tempdir();
    let store = work.path().join("store");
    fs::create_dir(&store).unwrap();
    let big = work.path().join("big");
    files::write_data(&big, 256 << 20, 7);
    let url = sshd.url(&store);
    let cli = cli(plugins.path()).global(["--retries", "10"]);
    let mut put = cli.command(["put", &url, big.to_str().unwrap()]);
    let mut child = put.spawn().expect("starting stowage put");

    // Kill sshd (all its processes) once the upload is under way.
    let start = Instant::now();
    loop {
        let growing = temporaries(&store).iter().any(|t| {
            fs::metadata(store.join(t))
                .map(|m| m.len() > 8 << 20)
                .unwrap_or(false)
        });
        if growing {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the upload never started"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "put ended before the kill"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    sshd.server().kill();
    std::thread::sleep(Duration::from_millis(1500));
    sshd.restart();

    let out = child.wait_with_output().expect("waiting for stowage put");
    assert!(
        out.status.success(),
        "put failed after the restart:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stored = store.join("big");
    files::assert_same_content(&big, &stored);
    // The object reads back whole through the plugin too.
    let back = work.path().join("back");
    cli.run(["get", &url, "big", "-o", back.to_str().unwrap()])
        .ok();
    files::assert_same_content(&big, &back);
    // The killed attempt's temporary file is never listed.
    let (_, doc) = cli.run_json(["ls", &url]);
    let names: Vec<_> = stowage_tests::ls_entries(&doc)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["big"]);
}

#[test]
fn unknown_and_changed_host_keys_are_refused_once_with_the_fingerprint() {
    let Some(sshd) = Sshd::start() else { return };
    let plugins = net_plugin_dir("sftp");
    let work = tempdir();
    let cli = cli(plugins.path()).global(["--retries", "3"]);
    let store = work.path().join("store");
    let base = format!(
        "sftp://{}@127.0.0.1:{}/{}?identity={}",
        Sshd::user(),
        sshd.port(),
        store.display(),
        sshd.client_key().display()
    );
    let fingerprint = {
        let out = std::process::Command::new("ssh-keygen")
            .arg("-lf")
            .arg("/dev/stdin")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin
                    .take()
                    .unwrap()
                    .write_all(sshd.host_key().as_bytes())?;
                c.wait_with_output()
            })
            .expect("ssh-keygen -lf");
        String::from_utf8(out.stdout)
            .unwrap()
            .split_whitespace()
            .nth(1)
            .unwrap()
            .to_string()
    };
    assert!(fingerprint.starts_with("SHA256:"));

    // Unknown: refused, with the fingerprint and both ways to accept it.
    let known_hosts = work.path().join("known_hosts");
    let url = format!("{base}&known_hosts={}", known_hosts.display());
    let out = cli.run(["ls", &url]);
    out.expect_code(EXIT_PERMISSION);
    assert!(out.err.contains(&fingerprint), "{out}");
    assert!(
        out.err.contains("ssh-keyscan") && out.err.contains("accept-new"),
        "{out}"
    );
    assert!(
        !out.err.contains("attempts"),
        "a refused key was retried:\n{out}"
    );
    assert!(!known_hosts.exists(), "strict checking wrote known_hosts");

    // accept-new records it, and from then on strict checking passes.
    cli.run(["ls", &format!("{url}&host_key=accept-new")]).ok();
    let recorded = fs::read_to_string(&known_hosts).unwrap();
    assert!(
        recorded.starts_with(&format!("[127.0.0.1]:{} ssh-ed25519 ", sshd.port())),
        "{recorded}"
    );
    cli.run(["ls", &url]).ok();

    // Changed: another key on record for this host and port. accept-new
    // does not help.
    let other = fs::read_to_string(sshd.stranger_key().with_extension("pub")).unwrap();
    fs::write(
        &known_hosts,
        format!("[127.0.0.1]:{} {}", sshd.port(), other.trim()),
    )
    .unwrap();
    for url in [url.clone(), format!("{url}&host_key=accept-new")] {
        let out = cli.run(["ls", &url]);
        out.expect_code(EXIT_PERMISSION);
        assert!(
            out.err.contains("HAS CHANGED") && out.err.contains(&fingerprint),
            "{out}"
        );
        assert!(
            !out.err.contains("attempts"),
            "a changed key was retried:\n{out}"
        );
    }

    // A hashed entry (ssh-keygen -H) is found too.
    sshd.write_known_hosts(&known_hosts);
    let hashed = std::process::Command::new("ssh-keygen")
        .arg("-H")
        .arg("-f")
        .arg(&known_hosts)
        .output()
        .unwrap();
    assert!(hashed.status.success());
    assert!(fs::read_to_string(&known_hosts).unwrap().starts_with("|1|"));
    cli.run(["ls", &url]).ok();
}

#[test]
fn a_client_key_the_server_does_not_accept_is_refused_once() {
    let Some(sshd) = Sshd::start() else { return };
    let plugins = net_plugin_dir("sftp");
    let work = tempdir();
    // An empty home: no ~/.ssh keys of the user running the tests.
    let home = tempdir();
    let cli = cli(plugins.path())
        .global(["--retries", "3"])
        .env("HOME", home.path())
        .env("SSH_AUTH_SOCK", "");
    let url = format!(
        "sftp://{}@127.0.0.1:{}/{}?identity={}&known_hosts={}",
        Sshd::user(),
        sshd.port(),
        work.path().display(),
        sshd.stranger_key().display(),
        sshd.known_hosts().display()
    );
    let out = cli.run(["ls", &url]);
    out.expect_code(EXIT_PERMISSION);
    assert!(out.err.contains("refused every key"), "{out}");
    assert!(out.err.contains("stranger_ed25519"), "{out}");
    assert!(
        !out.err.contains("attempts"),
        "a refused key was retried:\n{out}"
    );
}

#[test]
fn a_server_that_stalls_times_out_and_is_retried_within_the_deadline() {
    let staller = Staller::start();
    let plugins = net_plugin_dir("sftp");
    let work = tempdir();
    let cli = cli(plugins.path()).global(["--retries", "3"]);
    let url = format!(
        "sftp://someone@127.0.0.1:{}/{}?timeout=1s&known_hosts={}",
        staller.port(),
        work.path().display(),
        work.path().join("known_hosts").display()
    );
    let start = Instant::now();
    let out = cli.run(["ls", &url]);
    let took = start.elapsed();
    assert_eq!(out.code, stowage_tests::EXIT_BACKEND, "{out}");
    assert!(out.err.contains("took longer than"), "{out}");
    assert!(out.err.contains("after 3 attempts"), "{out}");
    assert!(took < Duration::from_secs(15), "took {took:?}");
    assert_eq!(staller.connections(), 3);
}
