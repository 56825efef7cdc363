//! Multipart uploads left pending by a `stowage put` killed with SIGKILL
//! (nothing of it can clean up) are aborted by the next multipart put of
//! the same name, against a real Garage node; pending uploads of other
//! keys, even keys the name is a prefix of, are never touched. Checked
//! with awscli's `s3api list-multipart-uploads`.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use stowage_tests::servers::{
    net_plugin_dir, Garage, GARAGE_BUCKET, GARAGE_KEY_ID, GARAGE_REGION, GARAGE_SECRET,
};
use stowage_tests::{files, ls_entries, require_tool, tempdir, Cli};

fn cli(plugins: &Path) -> Cli {
    Cli::new(plugins)
        .env("AWS_ACCESS_KEY_ID", GARAGE_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", GARAGE_SECRET)
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
}

/// `aws s3api ARGS... --bucket stowage-test` against `garage`, as JSON
/// (`null` for an empty answer).
fn s3api(garage: &Garage, args: &[&str]) -> Value {
    let out = Command::new("aws")
        .arg("s3api")
        .args(args)
        .args([
            "--bucket",
            GARAGE_BUCKET,
            "--output",
            "json",
            "--endpoint-url",
        ])
        .arg(garage.endpoint(0))
        .env("AWS_ACCESS_KEY_ID", GARAGE_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", GARAGE_SECRET)
        .env("AWS_DEFAULT_REGION", GARAGE_REGION)
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env_remove("AWS_CA_BUNDLE")
        .output()
        .expect("running aws");
    assert!(out.status.success(), "aws s3api {args:?}: {out:?}");
    if out.stdout.iter().all(u8::is_ascii_whitespace) {
        return Value::Null;
    }
    serde_json::from_slice(&out.stdout).expect("aws printed JSON")
}

/// The keys of the pending multipart uploads, one entry per upload, sorted.
fn pending(garage: &Garage) -> Vec<String> {
    let doc = s3api(garage, &["list-multipart-uploads"]);
    let mut keys: Vec<String> = doc["Uploads"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|u| u["Key"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default();
    keys.sort();
    keys
}

#[test]
fn a_killed_puts_upload_is_aborted_by_the_next_put_of_the_name() {
    if !require_tool("aws") {
        return;
    }
    let Some(garage) = Garage::start() else {
        return;
    };
    let plugins = net_plugin_dir("s3");
    let work = tempdir();
    // In process: the SIGKILL takes the plugin down with the host, in the
    // middle of its upload (an isolated plugin's child outlives its host
    // for a moment; what it does then is the isolation's business).
    let cli = cli(plugins.path()).global(["--isolate=never"]);
    let url = format!("{}&chunk=5MiB&concurrency=2", garage.url("left"));
    // Other keys' pending uploads, one the name is a prefix of.
    for key in ["left/big.2", "left/bigger", "other/big"] {
        s3api(&garage, &["create-multipart-upload", "--key", key]);
    }

    // A put of 200 MiB in 5 MiB parts, killed once its upload is pending.
    let data = work.path().join("big");
    files::write_data(&data, 200 << 20, 7);
    let mut child = cli
        .command(["put", &url, data.to_str().unwrap()])
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !pending(&garage).contains(&"left/big".to_string()) {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the upload never started"
        );
        assert!(child.try_wait().unwrap().is_none(), "the put ended first");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // Give parts in flight time to land.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        pending(&garage),
        ["left/big", "left/big.2", "left/bigger", "other/big"],
        "the killed put left its upload pending"
    );
    let (_, doc) = cli.run_json(["ls", &url]);
    assert!(
        ls_entries(&doc).is_empty(),
        "a partial object is listed: {doc}"
    );

    // The next put of the name (multipart too) aborts it, and only it.
    let again = work.path().join("again").join("big");
    std::fs::create_dir(again.parent().unwrap()).unwrap();
    files::write_data(&again, 12 << 20, 8);
    let out = cli
        .clone()
        .global(["-v"])
        .run(["put", &url, again.to_str().unwrap()]);
    out.ok();
    // The plugin aborted it (Garage also drops a key's pending uploads once
    // a new version of the key is complete, so the listing alone would not
    // tell who did).
    assert!(
        out.err
            .contains("aborted 1 multipart upload(s) of big left pending"),
        "{out}"
    );
    assert_eq!(
        pending(&garage),
        ["left/big.2", "left/bigger", "other/big"],
        "the leftover upload of left/big is still pending, or another key's was aborted"
    );
    let back = work.path().join("back");
    cli.run(["get", &url, "big", "-o", back.to_str().unwrap()])
        .ok();
    files::assert_same_content(&again, &back);
}
