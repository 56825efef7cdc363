//! The `webdav` plugin against a real nginx WebDAV server on loopback:
//! the conformance kit twice, credentials from the environment and from
//! ~/.netrc, wrong credentials refused once, and a stalled server.

use std::fs;
use std::time::{Duration, Instant};

use stowage_tests::servers::{
    conformance_twice, net_plugin_dir, Nginx, Staller, WEBDAV_PASSWORD, WEBDAV_USER,
};
use stowage_tests::{files, tempdir, Cli, EXIT_BACKEND, EXIT_PERMISSION};

fn with_credentials(cli: Cli) -> Cli {
    cli.env("STOWAGE_WEBDAV_USER", WEBDAV_USER)
        .env("STOWAGE_WEBDAV_PASSWORD", WEBDAV_PASSWORD)
}

#[test]
fn webdav_conforms_twice_and_leaves_nothing_behind() {
    let Some(nginx) = Nginx::start() else { return };
    let plugins = net_plugin_dir("webdav");
    let cli = with_credentials(Cli::new(plugins.path()));
    conformance_twice(&cli, &nginx.url("backups/host1"));
    let store = nginx.root().join("backups").join("host1");
    let left = files::dir_names(&store);
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn credentials_come_from_netrc_and_wrong_ones_are_refused_once() {
    let Some(nginx) = Nginx::start() else { return };
    let plugins = net_plugin_dir("webdav");
    let work = tempdir();
    let home = tempdir();
    let url = nginx.url("store");
    let cli = Cli::new(plugins.path())
        .global(["--retries", "3"])
        .env("HOME", home.path());

    // None at all: 401, permission denied, not retried, with a hint.
    let out = cli.run(["ls", &url]);
    out.expect_code(EXIT_PERMISSION);
    assert!(
        out.err.contains("401") && out.err.contains("netrc"),
        "{out}"
    );
    assert!(!out.err.contains("attempts"), "retried:\n{out}");

    // From ~/.netrc.
    fs::write(
        home.path().join(".netrc"),
        format!("machine 127.0.0.1 login {WEBDAV_USER} password {WEBDAV_PASSWORD}\n"),
    )
    .unwrap();
    let data = work.path().join("data");
    files::write_data(&data, 3 << 20, 5);
    cli.run(["put", &url, data.to_str().unwrap()]).ok();
    files::assert_same_content(&data, &nginx.root().join("store").join("data"));

    // The environment wins over ~/.netrc; a wrong password is refused and
    // never printed.
    let out = cli
        .clone()
        .env("STOWAGE_WEBDAV_USER", WEBDAV_USER)
        .env("STOWAGE_WEBDAV_PASSWORD", "wrong-password-x")
        .run(["ls", &url]);
    out.expect_code(EXIT_PERMISSION);
    assert!(!out.err.contains("wrong-password-x") && !out.out.contains("wrong-password-x"));
    assert!(!out.err.contains(WEBDAV_PASSWORD), "{out}");
}

#[test]
fn big_objects_stream_both_ways() {
    let Some(nginx) = Nginx::start() else { return };
    let plugins = net_plugin_dir("webdav");
    let work = tempdir();
    let cli = with_credentials(Cli::new(plugins.path()));
    let url = nginx.url("big");
    let data = work.path().join("blob");
    files::write_data(&data, 200 << 20, 9);
    cli.run(["put", &url, data.to_str().unwrap()]).ok();
    let back = work.path().join("back");
    cli.run(["get", &url, "blob", "-o", back.to_str().unwrap()])
        .ok();
    files::assert_same_content(&data, &back);
}

#[test]
fn a_server_that_stalls_times_out_and_is_retried_within_the_deadline() {
    let staller = Staller::start();
    let plugins = net_plugin_dir("webdav");
    let cli = Cli::new(plugins.path()).global(["--retries", "3"]);
    let url = format!("webdav://127.0.0.1:{}/x?timeout=1s", staller.port());
    let start = Instant::now();
    let out = cli.run(["ls", &url]);
    let took = start.elapsed();
    assert_eq!(out.code, EXIT_BACKEND, "{out}");
    assert!(out.err.contains("after 3 attempts"), "{out}");
    assert!(took < Duration::from_secs(15), "took {took:?}");
    assert!(staller.connections() >= 3, "{}", staller.connections());
}
