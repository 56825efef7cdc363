//! The `s3` plugin against real Garage nodes on loopback: the conformance
//! kit twice, 10,000 objects listed through pagination, integrity checks,
//! the clear errors, a node killed in the middle of a multipart put, and a
//! 3-node cluster losing a node.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use stowage_tests::servers::{
    conformance_twice, net_plugin_dir, Garage, Staller, GARAGE_KEY_ID, GARAGE_SECRET,
};
use stowage_tests::{
    files, ls_entries, tempdir, Cli, EXIT_BACKEND, EXIT_INVALID, EXIT_NOT_FOUND, EXIT_PERMISSION,
    EXIT_VALIDATION,
};

fn cli(plugins: &Path) -> Cli {
    Cli::new(plugins)
        .env("AWS_ACCESS_KEY_ID", GARAGE_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", GARAGE_SECRET)
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
}

/// `aws s3api SUBCOMMAND ARGS... --endpoint-url <node 0>` with Garage's
/// key, region `garage` and no CA bundle, not started.
fn aws_s3api(garage: &Garage, subcommand: &str, args: &[&str]) -> std::process::Command {
    let mut aws = std::process::Command::new("aws");
    aws.args(["s3api", subcommand, "--bucket", "stowage-test"])
        .args(args)
        .arg("--endpoint-url")
        .arg(garage.endpoint(0))
        .env("AWS_ACCESS_KEY_ID", GARAGE_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", GARAGE_SECRET)
        .env("AWS_DEFAULT_REGION", "garage")
        .env_remove("AWS_CA_BUNDLE");
    aws
}

#[test]
fn s3_conforms_twice() {
    let Some(garage) = Garage::start() else {
        return;
    };
    let plugins = net_plugin_dir("s3");
    conformance_twice(&cli(plugins.path()), &garage.url("conformance/run"));
    // Nothing of the runs is left under the prefix.
    let (out, doc) = cli(plugins.path()).run_json(["ls", &garage.url("conformance/run")]);
    out.ok();
    assert!(ls_entries(&doc).is_empty(), "{doc}");
}

#[test]
fn ten_thousand_objects_list_and_delete_in_batches() {
    let Some(garage) = Garage::start() else {
        return;
    };
    let plugins = net_plugin_dir("s3");
    let cli = cli(plugins.path());
    let work = tempdir();
    let src = work.path().join("src");
    fs::create_dir(&src).unwrap();
    let names: Vec<String> = (0..10_000).map(|i| format!("obj-{i:05}")).collect();
    for (i, name) in names.iter().enumerate() {
        fs::write(src.join(name), format!("{i}")).unwrap();
    }
    let url = garage.url("many");
    // One put command per 1,000 files keeps the argument lists short.
    for chunk in names.chunks(1000) {
        let mut args = vec!["put".to_string(), url.clone()];
        args.extend(chunk.iter().map(|n| src.join(n).display().to_string()));
        cli.run(&args).ok();
    }
    let (out, doc) = cli.run_json(["ls", &url]);
    out.ok();
    let mut listed = ls_entries(&doc);
    listed.sort();
    assert_eq!(listed.len(), 10_000);
    for (i, (name, size)) in listed.iter().enumerate() {
        assert_eq!(name, &names[i]);
        assert_eq!(*size, format!("{i}").len() as u64);
    }
    let mut args = vec!["rm".to_string(), url.clone()];
    args.extend(names.iter().cloned());
    cli.run(&args).ok();
    let (_, doc) = cli.run_json(["ls", &url]);
    assert!(ls_entries(&doc).is_empty());
}

#[test]
fn multipart_objects_round_trip_and_corruption_is_detected() {
    let Some(garage) = Garage::start() else {
        return;
    };
    let plugins = net_plugin_dir("s3");
    let work = tempdir();
    let cli = cli(plugins.path());
    let url = format!("{}&chunk=5MiB&concurrency=3", garage.url("mp"));
    let data = work.path().join("blob");
    files::write_data(&data, (23 << 20) + 17, 3);
    cli.run(["put", &url, data.to_str().unwrap()]).ok();
    let back = work.path().join("back");
    cli.run(["get", &url, "blob", "-o", back.to_str().unwrap()])
        .ok();
    files::assert_same_content(&data, &back);

    // Another writer stores content whose checksum metadata does not
    // match (what a silent corruption between our put and our get looks
    // like to the server): validation failed, and no local file.
    if stowage_tests::require_tool("aws") {
        let other = work.path().join("other");
        files::write_data(&other, 1 << 20, 4);
        let put = aws_s3api(
            &garage,
            "put-object",
            &["--key", "mp/blob", "--metadata", "stowage-crc32c=00000000"],
        )
        .arg("--body")
        .arg(&other)
        .output()
        .unwrap();
        assert!(put.status.success(), "aws s3api put-object: {put:?}");
        let again = work.path().join("again");
        let out = cli.run(["get", &url, "blob", "-o", again.to_str().unwrap()]);
        out.expect_code(EXIT_VALIDATION);
        assert!(out.err.contains("CRC-32C"), "{out}");
        assert!(!again.exists(), "a mismatching get left a file");
    }

    // Bytes rotting in Garage's own block store: Garage notices (its
    // blocks are hashed) and the get fails without leaving a file.
    cli.run(["put", &url, data.to_str().unwrap()]).ok();
    let blocks: Vec<_> = walk(&garage.dir().join("node0").join("data"))
        .into_iter()
        .filter(|p| fs::metadata(p).map(|m| m.len() > 1 << 20).unwrap_or(false))
        .collect();
    assert!(!blocks.is_empty(), "no data blocks found");
    for b in &blocks {
        let mut bytes = fs::read(b).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0xff;
        fs::write(b, bytes).unwrap();
    }
    let again = work.path().join("rotten");
    let out = cli.clone().global(["--retries", "1"]).run([
        "get",
        &url,
        "blob",
        "-o",
        again.to_str().unwrap(),
    ]);
    assert_ne!(out.code, 0, "a corrupted object was read back:\n{out}");
    assert!(!again.exists(), "a corrupted get left a file");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn bad_credentials_missing_bucket_unreachable_endpoint_small_chunk() {
    let Some(garage) = Garage::start() else {
        return;
    };
    let plugins = net_plugin_dir("s3");
    let base = Cli::new(plugins.path())
        .global(["--retries", "3"])
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent");
    let good = cli(plugins.path()).global(["--retries", "3"]);

    let out = base
        .clone()
        .env("AWS_ACCESS_KEY_ID", GARAGE_KEY_ID)
        .env(
            "AWS_SECRET_ACCESS_KEY",
            "00000000000000000000000000000000000000000000000000000000deadbeef",
        )
        .run(["ls", &garage.url("x")]);
    out.expect_code(EXIT_PERMISSION);
    assert!(out.err.contains("credentials"), "{out}");
    assert!(
        !out.err.contains("attempts"),
        "bad credentials were retried:\n{out}"
    );
    assert!(
        !out.err.contains("deadbeef") && !out.err.contains(GARAGE_SECRET),
        "{out}"
    );

    let out = base
        .clone()
        .env("HOME", "/nonexistent")
        .run(["ls", &garage.url("x")]);
    out.expect_code(EXIT_PERMISSION);
    assert!(out.err.contains("no credentials"), "{out}");

    let missing = garage.url("x").replace("stowage-test", "no-such-bucket");
    let out = good.run(["ls", &missing]);
    out.expect_code(EXIT_NOT_FOUND);
    assert!(out.err.contains("bucket does not exist"), "{out}");

    let staller = Staller::start();
    let closed = stowage_tests::servers::free_port();
    for (endpoint, what) in [
        (format!("http://127.0.0.1:{closed}"), "refused"),
        (format!("http://127.0.0.1:{}", staller.port()), "stalled"),
    ] {
        let url = format!(
            "s3://stowage-test/x?endpoint={endpoint}&region=garage&path_style=true&timeout=1s"
        );
        let start = Instant::now();
        let out = good.run(["ls", &url]);
        assert_eq!(out.code, EXIT_BACKEND, "{what}:\n{out}");
        assert!(out.err.contains("after 3 attempts"), "{what}:\n{out}");
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{what}: {:?}",
            start.elapsed()
        );
    }

    let out = good.run(["ls", &format!("{}&chunk=4MiB", garage.url("x"))]);
    out.expect_code(EXIT_INVALID);
    assert!(out.err.contains("5MiB"), "{out}");
}

#[test]
fn a_multipart_put_survives_garage_killed_and_restarted() {
    let Some(mut garage) = Garage::start() else {
        return;
    };
    let plugins = net_plugin_dir("s3");
    let work = tempdir();
    // The retries must outlast the node's restart: a refused connection
    // fails at once, so the pauses between them are what waits.
    let cli = cli(plugins.path())
        .global(["--retries", "10"])
        .retry_delays(500, 5_000);
    let url = format!("{}&chunk=5MiB&concurrency=2", garage.url("crash"));
    let data = work.path().join("big");
    files::write_data(&data, 300 << 20, 11);
    let child = cli
        .command(["put", &url, data.to_str().unwrap()])
        .spawn()
        .unwrap();
    // Let some parts land, then kill the node.
    let data_dir = garage.dir().join("node0").join("data");
    let start = Instant::now();
    while walk(&data_dir).len() < 4 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the upload never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    garage.node(0).kill();
    std::thread::sleep(Duration::from_millis(1500));
    garage.restart(0);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let back = work.path().join("back");
    cli.run(["get", &url, "big", "-o", back.to_str().unwrap()])
        .ok();
    files::assert_same_content(&data, &back);
    // No partial object was ever left under the name or beside it.
    let (_, doc) = cli.run_json(["ls", &url]);
    assert_eq!(ls_entries(&doc), [("big".to_string(), 300u64 << 20)]);
    // The upload the kill interrupted was aborted once Garage was back.
    if stowage_tests::require_tool("aws") {
        let out = aws_s3api(&garage, "list-multipart-uploads", &["--output", "json"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            !text.contains("\"UploadId\""),
            "uploads left behind: {text}"
        );
    }
}

#[test]
fn a_three_node_cluster_serves_through_a_node_loss() {
    let Some(mut garage) = Garage::start_cluster(3) else {
        return;
    };
    let plugins = net_plugin_dir("s3");
    let work = tempdir();
    let cli = cli(plugins.path());
    let url = garage.url("cluster");
    let src = work.path().join("src");
    fs::create_dir(&src).unwrap();
    let mut paths = Vec::new();
    for i in 0..200 {
        let p = src.join(format!("o{i:03}"));
        files::write_data(&p, 1000 + i * 531, i);
        paths.push(p.display().to_string());
    }
    garage.node(2).kill();
    let mut args = vec!["put".to_string(), url.clone()];
    args.extend(paths.iter().cloned());
    cli.run(&args).ok();
    let back = work.path().join("back");
    fs::create_dir(&back).unwrap();
    let names: Vec<String> = (0..200).map(|i| format!("o{i:03}")).collect();
    let mut args = vec!["get".to_string(), url.clone()];
    args.extend(names.iter().cloned());
    args.extend(["-o".to_string(), back.display().to_string()]);
    cli.run(&args).ok();
    for n in &names {
        files::assert_same_content(&src.join(n), &back.join(n));
    }
    // The node comes back: everything still reads back whole.
    garage.restart(2);
    let back2 = work.path().join("back2");
    fs::create_dir(&back2).unwrap();
    let last = args.len() - 1;
    args[last] = back2.display().to_string();
    cli.run(&args).ok();
    for n in &names {
        files::assert_same_content(&src.join(n), &back2.join(n));
    }
}
