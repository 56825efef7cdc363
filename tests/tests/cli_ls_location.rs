//! `ls` of a location that does not exist says so on stderr (exit 0, and
//! `"exists": false` in JSON); an existing empty store does not.
//!
//! In process (`--isolate=never`): the isolated proxy does not forward
//! `stowage.location/1` yet, and without it `ls` cannot tell.

use std::fs;

use serde_json::json;
use stowage_tests::{cli_with, file_url, require_tool, tempdir, Cli};

const NOTE: &str = "does not exist (yet)";

fn cli(names: &[&str]) -> (tempfile::TempDir, Cli) {
    let (plugins, cli) = cli_with(names);
    (plugins, cli.global(["--isolate=never"]))
}

#[test]
fn a_mistyped_file_path_is_said_and_an_empty_store_is_not() {
    let (_p, cli) = cli(&["file"]);
    let work = tempdir();
    let store = work.path().join("backups");
    fs::create_dir(&store).unwrap();
    let typo = file_url(&work.path().join("bakcups"));

    let out = cli.run(["ls", &typo]);
    out.ok();
    assert!(out.out.is_empty(), "{out}");
    assert!(out.err.contains(NOTE), "{out}");
    assert!(out.err.contains("bakcups"), "{out}");
    assert!(!work.path().join("bakcups").exists(), "ls created it");
    let (out, doc) = cli.run_json(["ls", &typo]);
    out.ok();
    assert_eq!(doc["data"], json!({"exists": false}), "{out}");

    let out = cli.run(["ls", &file_url(&store)]);
    out.ok();
    assert!(
        out.err.is_empty(),
        "an existing empty store is no news\n{out}"
    );
    let (_, doc) = cli.run_json(["ls", &file_url(&store)]);
    assert_eq!(doc["data"], json!({"exists": true}));
}

#[test]
fn a_missing_image_or_directory_in_it_is_said() {
    if !require_tool("xorriso") {
        return;
    }
    let (_p, cli) = cli(&["xorriso"]);
    let work = tempdir();
    let image = work.path().join("offsite.iso");
    let url = format!("xorriso://{}", image.display());
    let out = cli.run(["ls", &url]);
    out.ok();
    assert!(out.err.contains(NOTE), "{out}");
    assert!(
        fs::metadata(&image).map_or(true, |m| m.len() == 0),
        "ls wrote an image"
    );

    let src = work.path().join("obj");
    fs::write(&src, b"data").unwrap();
    let host1 = format!("{url}:/host1");
    cli.run(["put", &host1, src.to_str().unwrap()]).ok();
    for (location, exists) in [
        (&url, true),
        (&host1, true),
        (&format!("{url}:/host2"), false),
        (&format!("{url}:/host1/obj"), false),
    ] {
        let (out, doc) = cli.run_json(["ls", location]);
        out.ok();
        assert_eq!(doc["data"], json!({"exists": exists}), "{location}\n{out}");
        assert_eq!(out.err.contains(NOTE), !exists, "{location}\n{out}");
    }
}
