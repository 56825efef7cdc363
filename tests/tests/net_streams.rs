//! Standard input and output through the network plugins' stream
//! extensions, and `ls` of their locations, against real servers on
//! loopback (Garage, OpenSSH sshd, nginx WebDAV).
//!
//! Every run uses `--isolate=never`: the isolated proxy does not forward
//! `stowage.stream/1` and `stowage.location/1` yet.

use std::fs;
use std::path::Path;

use serde_json::json;
use stowage_tests::servers::{
    net_plugin_dir, Garage, Nginx, Sshd, GARAGE_KEY_ID, GARAGE_SECRET, WEBDAV_PASSWORD, WEBDAV_USER,
};
use stowage_tests::{ls_entries, tempdir, Cli, EXIT_OK};

mod streams_support;
use streams_support::{entries, pattern, run_with_stdin};

fn cli(plugins: &Path) -> Cli {
    Cli::new(plugins)
        .global(["--isolate=never"])
        .env("AWS_ACCESS_KEY_ID", GARAGE_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", GARAGE_SECRET)
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
}

/// Streams `data` in as `name` and reads it back through `get -o -`.
fn round_trip(cli: &Cli, url: &str, name: &str, data: &[u8]) {
    let out = run_with_stdin(cli, &["--json", "put", url, "-", "--name", name], data);
    out.ok();
    assert_eq!(out.json()["items"][0]["size"], data.len(), "{out}");
    let out = cli.run(["get", url, name, "-o", "-"]);
    out.ok();
    assert_eq!(out.stdout.len(), data.len());
    assert!(out.stdout == data, "what came back differs from the stream");
}

#[test]
fn s3_streams_a_multipart_object_and_its_bucket_exists() {
    let Some(garage) = Garage::start() else {
        return;
    };
    let plugins = net_plugin_dir("s3");
    let cli = cli(plugins.path());
    // 5 MiB parts: a 23 MiB stream is a multipart upload of five parts.
    let url = format!("{}&chunk=5MiB&concurrency=2", garage.url("streams"));
    round_trip(&cli, &url, "big.tar", &pattern(23 << 20));
    // A producer failing midway stores nothing (the upload is aborted).
    let mut cmd = cli.command(["put", &url, "-", "--name", "cut.tar"]);
    cmd.stdin(fs::File::open(tempdir().path()).unwrap());
    assert_ne!(cmd.status().unwrap().code(), Some(EXIT_OK));
    let (out, doc) = cli.run_json(["ls", &url]);
    out.ok();
    assert_eq!(ls_entries(&doc), vec![("big.tar".to_string(), 23 << 20)]);
    // A flat store's prefix exists once the bucket does.
    assert_eq!(doc["data"], json!({"exists": true}), "{out}");
    let (out, doc) = cli.run_json(["ls", &garage.url("never/written")]);
    out.ok();
    assert_eq!(doc["data"], json!({"exists": true}), "{out}");
}

#[test]
fn sftp_streams_through_a_temporary_name_and_says_when_the_directory_is_missing() {
    let Some(sshd) = Sshd::start() else { return };
    let plugins = net_plugin_dir("sftp");
    let cli = cli(plugins.path());
    let work = tempdir();
    let store = work.path().join("nested/store");
    let url = sshd.url(&store);
    let (out, doc) = cli.run_json(["ls", &url]);
    out.ok();
    assert_eq!(doc["data"], json!({"exists": false}), "{out}");

    round_trip(&cli, &url, "big.tar", &pattern(20 << 20));
    assert_eq!(
        entries(&store),
        vec!["big.tar"],
        "no temporary file is left"
    );
    assert!(fs::read(store.join("big.tar")).unwrap() == pattern(20 << 20));
    let mut cmd = cli.command(["put", &url, "-", "--name", "cut.tar"]);
    cmd.stdin(fs::File::open(work.path()).unwrap());
    assert_ne!(cmd.status().unwrap().code(), Some(EXIT_OK));
    assert_eq!(entries(&store), vec!["big.tar"]);
    let out = cli.run(["ls", &url]);
    out.ok();
    assert!(out.err.is_empty(), "{out}");
}

#[test]
fn webdav_says_when_the_collection_is_missing() {
    let Some(nginx) = Nginx::start() else { return };
    let plugins = net_plugin_dir("webdav");
    let cli = cli(plugins.path())
        .env("STOWAGE_WEBDAV_USER", WEBDAV_USER)
        .env("STOWAGE_WEBDAV_PASSWORD", WEBDAV_PASSWORD);
    let url = nginx.url("streams/host1");
    let out = cli.run(["ls", &url]);
    out.ok();
    assert!(out.err.contains("does not exist (yet)"), "{out}");
    // Without a stream extension, standard input is spooled and put.
    let data = pattern(3 << 20);
    round_trip(&cli, &url, "small.tar", &data);
    let (out, doc) = cli.run_json(["ls", &url]);
    out.ok();
    assert_eq!(doc["data"], json!({"exists": true}), "{out}");
}
