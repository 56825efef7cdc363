//! The xorriso plugin through the real `stowage` command and the host
//! library, with ISO images read back by an independent reader.

use std::process::Command;

use stowage::ErrorCode;
use stowage_tests::{require_tool, EXIT_BACKEND};

mod plugins_support;
use plugins_support::{isoinfo_read, xorriso_tools, IsoScene};

#[test]
fn a_second_process_on_the_same_image_is_refused() {
    if !xorriso_tools() {
        return;
    }
    let scene = IsoScene::new(&["xorriso"], "b.iso");
    let (image, url) = (&scene.image, scene.url(""));
    let src = scene.local_file("vol1", b"first session");
    let cli = scene.cli();
    cli.run(["put", &url, src.to_str().unwrap()]).ok();

    // This process holds the image open (and locked) through the library...
    let registry = scene.registry();
    let holder = registry.open(&url).unwrap();
    let other = scene.local_file("vol2", b"second");
    holder.put(&other, "vol2").unwrap();

    // ...so another process is refused at once, and loses nothing.
    let out = cli.run(["put", &url, other.to_str().unwrap(), "--name", "vol3"]);
    out.expect_code(EXIT_BACKEND);
    assert!(out.err.contains("in use"), "{out}");

    holder.close().unwrap();
    drop(holder);
    assert_eq!(isoinfo_read(image, "/vol1"), b"first session");
    assert_eq!(isoinfo_read(image, "/vol2"), b"second");
    let out = cli.run(["ls", &url]);
    out.ok();
    assert!(!out.out.contains("vol3"), "{out}");
}

#[test]
fn a_source_deleted_between_put_and_commit_is_stored_whole() {
    if !xorriso_tools() {
        return;
    }
    let scene = IsoScene::new(&["xorriso"], "b.iso");
    let registry = scene.registry();
    let backend = registry.open(&scene.url(":/backups")).unwrap();
    let content: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let src = scene.local_file("volume", &content);
    backend.put(&src, "volume").unwrap();
    // The commit happens at close; the plugin must not depend on the source.
    std::fs::remove_file(&src).unwrap();
    backend.close().unwrap();
    assert_eq!(isoinfo_read(&scene.image, "/backups/volume"), content);
}

#[test]
fn errors_have_their_codes() {
    if !xorriso_tools() {
        return;
    }
    let scene = IsoScene::new(&["xorriso"], "b.iso");
    let registry = scene.registry();
    let work = &scene.work;
    // An existing file that is not an ISO image is refused, never touched.
    let not_iso = scene.local_file("notes.txt", b"precious text, not an image");
    let err = registry
        .open(&format!("xorriso://{}", not_iso.display()))
        .and_then(|b| b.list())
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::INVALID_INPUT, "{err}");
    assert_eq!(
        std::fs::read(&not_iso).unwrap(),
        b"precious text, not an image"
    );

    // A missing name is "not found", and no local file appears.
    let backend = registry.open(&scene.url("")).unwrap();
    let out = work.path().join("out");
    let err = backend.get("missing", &out).unwrap_err();
    assert_eq!(err.code(), ErrorCode::NOT_FOUND, "{err}");
    assert!(!out.exists());

    // A bad volume id in the URL is invalid input.
    let err = registry
        .open(&format!(
            "xorriso://{}?volid={}",
            work.path().join("c.iso").display(),
            "X".repeat(33)
        ))
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::INVALID_INPUT, "{err}");
}

#[test]
fn seven_zip_reads_what_the_plugin_wrote() {
    if !xorriso_tools() || !require_tool("7z") {
        return;
    }
    let scene = IsoScene::new(&["xorriso"], "b.iso");
    let src = scene.local_file("a b ü", b"unicode and spaces");
    scene
        .cli()
        .run(["put", &scene.url(""), src.to_str().unwrap()])
        .ok();
    let extract = scene.work.path().join("x");
    let out = Command::new("7z")
        .arg("x")
        .arg(format!("-o{}", extract.display()))
        .arg(&scene.image)
        .output()
        .expect("running 7z");
    assert!(out.status.success(), "7z failed: {out:?}");
    assert_eq!(
        std::fs::read(extract.join("a b ü")).unwrap(),
        b"unicode and spaces"
    );
}

#[test]
fn iso_info_and_compact_through_the_cli() {
    if !xorriso_tools() {
        return;
    }
    let scene = IsoScene::new(&["xorriso", "file"], "b.iso");
    let cli = scene.cli();
    let (work, image) = (&scene.work, &scene.image);
    let url = scene.url("?volid=BACKUP_1");
    let big = scene.local_file("big", vec![7u8; 3 << 20]);
    let small = scene.local_file("small", b"stays");
    cli.run(["put", &url, big.to_str().unwrap(), small.to_str().unwrap()])
        .ok();
    cli.run(["rm", &url, "big"]).ok();

    let (out, info) = cli.run_json(["iso", "info", &url]);
    out.ok();
    let info = &info["data"];
    assert_eq!(info["sessions"], 2, "{info}");
    assert_eq!(info["volume_id"], "BACKUP_1");
    assert_eq!(info["pending_changes"], 0);
    let before = std::fs::metadata(image).unwrap().len();
    assert!(before > 3 << 20, "deleting hides, it frees nothing");

    let (out, report) = cli.run_json(["iso", "compact", &url]);
    out.ok();
    let report = &report["data"];
    let after = std::fs::metadata(image).unwrap().len();
    assert_eq!(report["bytes_before"], before);
    assert_eq!(report["bytes_after"], after);
    assert!(after < 1 << 20, "the hidden 3 MiB are gone: {after} bytes");
    assert_eq!(isoinfo_read(image, "/small"), b"stays");

    // Other backends have no ISO extension.
    let out = cli.run(["iso", "info", &format!("file://{}", work.path().display())]);
    out.expect_code(EXIT_BACKEND);
    assert!(out.err.contains("stowage.xorriso/1"), "{out}");
}
