//! Object names through the `stowage` command: every legal oddity round
//! trips; every illegal name is refused with exit 23 before any plugin call,
//! so nothing is created. (NUL cannot be passed in argv; it is covered by
//! the library API tests.)

use std::fs;

use stowage_tests::files::dir_names;
use stowage_tests::{
    cli_with, file_store, file_store_holding, find_json_error, listing, scratch, Cli, FileStore,
    EXIT_INVALID,
};

/// Names that are legal and awkward for shells, globbing or option parsing.
const ODD_NAMES: &[&str] = &[
    "with space",
    "  leading and trailing  ",
    "ünïcødé ☃ 名前",
    "it's",
    "say \"hi\"",
    "back\\slash",
    "glob*?[ab]",
    "*",
    ".hidden",
    "...",
    "-x",
    "--long-looking",
    "colon:name",
    "percent%20name",
    "tab\there",
    "new\nline",
];

fn setup() -> (tempfile::TempDir, Cli) {
    cli_with(&["file"])
}

#[test]
fn odd_names_round_trip_with_name_flag() {
    let (_p, cli) = setup();
    let scene = file_store();
    let FileStore { store, url, .. } = &scene;
    let src = scene.path("src");
    for (i, name) in ODD_NAMES.iter().enumerate() {
        fs::write(&src, format!("content {i}")).unwrap();
        let out = cli.run([
            "put".to_string(),
            url.clone(),
            src.to_str().unwrap().to_string(),
            format!("--name={name}"),
        ]);
        out.ok();
        assert_eq!(
            fs::read_to_string(store.join(name)).unwrap(),
            format!("content {i}"),
            "{name:?} stored under its exact name"
        );
    }

    let listed: Vec<String> = listing(&cli, url).into_iter().map(|(n, _)| n).collect();
    let mut expected: Vec<String> = ODD_NAMES.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(listed, expected, "ls --json sorted, exact names");

    let back = scene.local_dir("back");
    for (i, name) in ODD_NAMES.iter().enumerate() {
        let dst = back.join(format!("{i}"));
        // A name starting with `-` goes after `--`.
        cli.run(["get", url, "-o", dst.to_str().unwrap(), "--", name])
            .ok();
        assert_eq!(
            fs::read_to_string(&dst).unwrap(),
            format!("content {i}"),
            "{name:?}"
        );
    }

    let (out, doc) = cli.run_json(
        ["stat", url.as_str(), "--"]
            .into_iter()
            .chain(ODD_NAMES.iter().copied()),
    );
    out.ok();
    let arr = doc["items"].as_array().expect("stat --json items");
    assert_eq!(arr.len(), ODD_NAMES.len(), "{out}");
    for (entry, name) in arr.iter().zip(ODD_NAMES) {
        assert_eq!(entry["name"], *name);
        assert_eq!(entry["missing"], false, "{name:?}\n{out}");
    }

    cli.run(
        ["rm", url.as_str(), "--"]
            .into_iter()
            .chain(ODD_NAMES.iter().copied()),
    )
    .ok();
    assert_eq!(dir_names(store), Vec::<String>::new());
}

#[test]
fn odd_local_file_names_are_used_as_object_names() {
    let (_p, cli) = setup();
    let scene = file_store();
    let FileStore { store, url, .. } = &scene;
    let src = scene.local_dir("src");
    for name in ODD_NAMES {
        fs::write(src.join(name), name.as_bytes()).unwrap();
    }
    // Relative file names from the source directory, after `--` so that
    // `-x` is a file, not a flag.
    cli.clone()
        .cwd(&src)
        .run(
            ["put", url, "--"]
                .into_iter()
                .chain(ODD_NAMES.iter().copied()),
        )
        .ok();
    for name in ODD_NAMES {
        assert_eq!(
            fs::read(store.join(name)).unwrap(),
            name.as_bytes(),
            "{name:?}"
        );
    }
}

#[test]
fn names_up_to_255_bytes_are_accepted() {
    let (_p, cli) = setup();
    let scene = scratch(b"x");
    let (store, url, src) = (&scene.store, &scene.url, &scene.src);
    let ascii = "a".repeat(255);
    let multibyte = format!("{}a", "é".repeat(127));
    assert_eq!(multibyte.len(), 255);
    for name in [&ascii, &multibyte] {
        cli.run(["put", url, src.to_str().unwrap(), "--name", name])
            .ok();
        assert!(store.join(name).is_file());
    }
}

#[test]
fn invalid_names_are_refused_with_23_and_nothing_is_created() {
    let (_p, cli) = setup();
    let scene = scratch(b"x");
    let (store, url, src) = (&scene.store, scene.url.as_str(), &scene.src);
    let too_long = "b".repeat(256);
    let too_long_multibyte = "é".repeat(128);
    let invalid: Vec<&str> = vec![
        "",
        ".",
        "..",
        "a/b",
        "/",
        "/abs",
        "trailing/",
        &too_long,
        &too_long_multibyte,
    ];
    for name in &invalid {
        let out = cli.run(["put", url, src.to_str().unwrap(), &format!("--name={name}")]);
        out.expect_code(EXIT_INVALID);
        assert!(!out.err.is_empty(), "an error message on stderr\n{out}");
        assert!(
            !store.exists(),
            "put {name:?} created {:?}",
            dir_names(store)
        );
        assert!(src.exists(), "the local file is untouched");

        let (out, doc) =
            cli.run_json(["put", url, src.to_str().unwrap(), &format!("--name={name}")]);
        out.expect_code(EXIT_INVALID);
        let err = find_json_error(&doc).unwrap_or_else(|| panic!("no JSON error\n{out}"));
        assert_eq!(err["code"], 23, "{out}");

        let out = cli.run(["mv", url, src.to_str().unwrap(), &format!("--name={name}")]);
        out.expect_code(EXIT_INVALID);
        assert!(
            src.exists(),
            "mv with an invalid name must keep the local file\n{out}"
        );
        assert!(!store.exists());

        let dst = scene.work.path().join("dst");
        for cmd in ["get", "rm", "stat"] {
            let out = if cmd == "get" {
                cli.run([cmd, url, "-o", dst.to_str().unwrap(), "--", name])
            } else {
                cli.run([cmd, url, "--", name])
            };
            out.expect_code(EXIT_INVALID);
            assert!(!store.exists(), "{cmd} {name:?} created the store");
            assert!(!dst.exists(), "{cmd} {name:?} created {}", dst.display());
        }
    }
}

#[test]
fn one_invalid_name_among_valid_ones_stores_nothing() {
    let (_p, cli) = setup();
    let FileStore { store, url, .. } = &file_store_holding(&[("keep", b"k")]);
    // Names are validated before any plugin call: `keep` is not deleted.
    cli.run(["rm", url, "keep", ".."]).expect_code(EXIT_INVALID);
    assert_eq!(dir_names(store), vec!["keep"]);
}
