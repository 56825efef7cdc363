//! The plugin-author tutorial (`docs/writing-a-backend.md`) and its worked
//! example, the `verify+` prefix in `docs/examples/verify-prefix` (a cargo
//! project of its own).
//!
//! The example is built exactly as the tutorial says, copied into a plugin
//! directory next to the real `file` plugin, and driven through the real
//! `stowage` binary: listed by `stowage plugins`, a put/get round trip, a
//! corrupted object (exit 56, destination untouched), and `stowage test`.
//! Its own `cargo test` (the conformance checks from the library) runs too.
//!
//! The tutorial must not drift from the code: its `Cargo.toml` block must be
//! the example's (paths aside), every excerpt marked
//! `// docs/examples/verify-prefix/...` must appear verbatim in that file,
//! every example path it names must exist, every source file of the example
//! must be named, and its build command must be the one run here.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output as ProcessOutput;
use std::sync::OnceLock;

use stowage_tests::files::{dir_names, write_data};
use stowage_tests::{
    cargo_command, checked_output, file_url, ls_entries, plugin_dir_with, target_dir, tempdir,
    workspace_root, Cli, EXIT_INVALID, EXIT_NOT_FOUND, EXIT_VALIDATION,
};

/// The example project, relative to the workspace root.
const EXAMPLE: &str = "docs/examples/verify-prefix";
/// The tutorial, relative to the workspace root.
const TUTORIAL: &str = "docs/writing-a-backend.md";
/// The build command the tutorial and the example's README give, run from
/// the workspace root.
const BUILD_COMMAND: &str =
    "cargo build --manifest-path docs/examples/verify-prefix/Cargo.toml --target-dir target/examples";
/// The library the example builds.
const LIB: &str = "libstowage_verify.so";
/// Every checksum object's name starts with this (see `src/sidecar.rs`).
const SIDECAR_PREFIX: &str = ".verify-sha256-";

/// `<target>/examples`: where the example builds (`target/examples` in the
/// tutorial, which assumes no `CARGO_TARGET_DIR`).
fn example_target() -> PathBuf {
    target_dir().join("examples")
}

fn read(rel: &str) -> String {
    let path = workspace_root().join(rel);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs `cargo ARGS --target-dir <target>/examples [-- TRAILING]` in the
/// workspace root; panics with its output on failure.
fn run_cargo(args: &[&str], trailing: &[&str], env: &[(&str, &Path)]) -> ProcessOutput {
    let mut cmd = cargo_command(args);
    cmd.arg("--target-dir").arg(example_target());
    if !trailing.is_empty() {
        cmd.arg("--").args(trailing);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    checked_output(&mut cmd)
}

/// Builds the example with the tutorial's command, once per test process,
/// and returns the `.so`.
fn example_plugin() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            // BUILD_COMMAND minus `cargo` and the target dir, which
            // run_cargo adds (absolute, honouring CARGO_TARGET_DIR).
            let words: Vec<&str> = BUILD_COMMAND.split_whitespace().collect();
            assert_eq!(words[0], "cargo");
            assert_eq!(
                &words[words.len() - 2..],
                ["--target-dir", "target/examples"]
            );
            run_cargo(&words[1..words.len() - 2], &[], &[]);
            let so = example_target().join("debug").join(LIB);
            assert!(so.is_file(), "{} missing after the build", so.display());
            so
        })
        .clone()
}

/// A plugin directory with the real `file` plugin and the example, the
/// example installed with mode 0644 as the tutorial says.
fn plugin_dir() -> tempfile::TempDir {
    let dir = plugin_dir_with(&["file"]);
    let dst = dir.path().join(LIB);
    fs::copy(example_plugin(), &dst).expect("copying the example plugin");
    fs::set_permissions(&dst, fs::Permissions::from_mode(0o644)).expect("chmod 644");
    dir
}

// ---------------------------------------------------------------------------
// The tutorial against the code
// ---------------------------------------------------------------------------

/// A fenced code block of a Markdown file: its info string and its lines,
/// with the fence's own indentation removed.
struct Block {
    info: String,
    lines: Vec<String>,
}

fn code_blocks(markdown: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<(usize, Block)> = None;
    for line in markdown.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        match open.take() {
            None => {
                if let Some(info) = trimmed.strip_prefix("```") {
                    let block = Block {
                        info: info.trim().to_string(),
                        lines: Vec::new(),
                    };
                    open = Some((indent, block));
                }
            }
            Some((fence_indent, mut block)) => {
                if trimmed == "```" {
                    blocks.push(block);
                } else {
                    let cut = fence_indent.min(line.len() - line.trim_start().len());
                    block.lines.push(line[cut..].to_string());
                    open = Some((fence_indent, block));
                }
            }
        }
    }
    assert!(open.is_none(), "an unclosed code block in the tutorial");
    blocks
}

/// `path = "../../../backend-api"` and `path = "/path/to/stowage/backend-api"`
/// both become `path = "backend-api"`.
fn normalize_toml_line(line: &str) -> String {
    let Some(start) = line.find("path = \"") else {
        return line.trim_end().to_string();
    };
    let value_start = start + "path = \"".len();
    let value_end = value_start + line[value_start..].find('"').expect("closing quote");
    let last = line[value_start..value_end]
        .rsplit('/')
        .next()
        .unwrap_or_default();
    format!(
        "{}path = \"{last}\"{}",
        &line[..start],
        line[value_end + 1..].trim_end()
    )
}

#[test]
fn tutorial_cargo_toml_is_the_examples() {
    let blocks = code_blocks(&read(TUTORIAL));
    let block = blocks
        .iter()
        .find(|b| b.info == "toml" && b.lines.first().is_some_and(|l| l == "[package]"))
        .expect("the tutorial has a ```toml block starting with [package]");
    let tutorial: Vec<String> = block.lines.iter().map(|l| normalize_toml_line(l)).collect();
    let example: Vec<String> = read(&format!("{EXAMPLE}/Cargo.toml"))
        .lines()
        .map(normalize_toml_line)
        .collect();
    assert_eq!(
        tutorial, example,
        "the tutorial's Cargo.toml differs from {EXAMPLE}/Cargo.toml (paths aside)"
    );
    // The key lines a first-time author must not miss.
    for key in [
        "crate-type = [\"cdylib\"]",
        "stowage-backend-api = { path = \"backend-api\" }",
        "[workspace]",
    ] {
        assert!(example.iter().any(|l| l == key), "{key} missing");
    }
    assert!(
        !example.iter().any(|l| l.contains("panic")),
        "the example must not set a panic strategy"
    );
}

#[test]
fn tutorial_excerpts_match_the_example_sources() {
    let blocks = code_blocks(&read(TUTORIAL));
    let marker = format!("// {EXAMPLE}/");
    let mut checked = 0;
    for block in blocks.iter().filter(|b| b.info == "rust") {
        let Some(first) = block.lines.first() else {
            continue;
        };
        let Some(rel) = first.trim().strip_prefix("// ") else {
            continue;
        };
        if !first.trim().starts_with(&marker) {
            continue;
        }
        let source = read(rel);
        // `// ...` lines stand for omitted code; what is between them must
        // be in the file exactly as shown.
        for chunk in block.lines[1..].split(|l| l.trim() == "// ...") {
            if chunk.is_empty() {
                continue;
            }
            let text = chunk.join("\n");
            assert!(
                source.contains(&text),
                "the tutorial quotes {rel}, but the file does not contain:\n{text}"
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 8,
        "only {checked} excerpts of the example were found in the tutorial"
    );
}

#[test]
fn tutorial_names_the_examples_files_and_they_exist() {
    let tutorial = read(TUTORIAL);
    let root = workspace_root();
    // Every example path the tutorial names exists.
    let mut named = Vec::new();
    for (i, _) in tutorial.match_indices("examples/verify-prefix/") {
        let rest = &tutorial[i..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || "/._-".contains(c)))
            .unwrap_or(rest.len());
        let path = rest[..end].trim_end_matches('.');
        let full = root.join("docs").join(path);
        assert!(
            full.exists(),
            "the tutorial names docs/{path}, which does not exist"
        );
        named.push(path.to_string());
    }
    // Every source file of the example is named in the tutorial.
    for dir in ["src", "tests"] {
        for entry in fs::read_dir(root.join(EXAMPLE).join(dir)).expect("example sources") {
            let file = entry.expect("directory entry").file_name();
            let file = file.to_string_lossy();
            let rel = format!("{dir}/{file}");
            assert!(
                tutorial.contains(&rel),
                "{EXAMPLE}/{rel} is not named in the tutorial"
            );
        }
    }
    assert!(
        named.iter().any(|p| p.ends_with("src/sidecar.rs")),
        "{named:?}"
    );
    // The example's README too.
    assert!(tutorial.contains("`README.md`"));
    assert!(root.join(EXAMPLE).join("README.md").is_file());
}

#[test]
fn tutorial_and_readme_give_the_build_command_run_here() {
    assert!(
        read(TUTORIAL).contains(BUILD_COMMAND),
        "the tutorial does not say `{BUILD_COMMAND}`"
    );
    assert!(
        read(&format!("{EXAMPLE}/README.md")).contains(BUILD_COMMAND),
        "the example's README does not say `{BUILD_COMMAND}`"
    );
}

// ---------------------------------------------------------------------------
// The example plugin through the real host
// ---------------------------------------------------------------------------

#[test]
fn stowage_plugins_lists_the_example() {
    let plugins = plugin_dir();
    let cli = Cli::new(plugins.path());
    let (out, doc) = cli.run_json(["plugins"]);
    out.ok();
    assert_eq!(doc["data"]["rejected"], serde_json::json!([]), "{out}");
    let verify = doc["data"]["plugins"]
        .as_array()
        .expect("plugins array")
        .iter()
        .find(|p| p["name"] == "verify")
        .unwrap_or_else(|| panic!("verify not listed\n{out}"));
    assert_eq!(verify["abi_version"], 1, "{out}");
    assert_eq!(verify["prefixes"][0]["name"], "verify", "{out}");
    assert_eq!(verify["schemes"], serde_json::json!([]), "{out}");
    let out = cli.run(["plugins"]);
    out.ok();
    assert!(out.out.contains("prefix verify+"), "{out}");
}

#[test]
fn round_trip_hides_the_checksums_and_detects_corruption() {
    let plugins = plugin_dir();
    let cli = Cli::new(plugins.path());
    let work = tempdir();
    let store = work.path().join("store");
    let url = format!("verify+{}", file_url(&store));
    let src = work.path().join("vol1");
    write_data(&src, 300_001, 7);

    // put: the object unchanged, plus one checksum object.
    cli.run(["put", &url, src.to_str().unwrap()]).ok();
    let inner = dir_names(&store);
    assert_eq!(inner.len(), 2, "{inner:?}");
    assert_eq!(inner[1], "vol1");
    let sidecar = &inner[0];
    let digest = sidecar
        .strip_prefix(SIDECAR_PREFIX)
        .unwrap_or_else(|| panic!("{sidecar} is not a checksum object"));
    assert!(digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()));
    let text = fs::read_to_string(store.join(sidecar)).unwrap();
    assert!(
        text.len() == 64 + "  vol1\n".len() && text.ends_with("  vol1\n"),
        "{text:?}"
    );
    assert_eq!(
        fs::read(store.join("vol1")).unwrap(),
        fs::read(&src).unwrap()
    );

    // A user object named like a classic sidecar is just an object.
    let classic = work.path().join("vol1.sha256");
    fs::write(&classic, b"not a checksum").unwrap();
    cli.run(["put", &url, classic.to_str().unwrap()]).ok();

    // list: each object once, no checksum objects.
    let (out, doc) = cli.run_json(["ls", &url]);
    out.ok();
    assert_eq!(
        ls_entries(&doc),
        vec![
            ("vol1".to_string(), 300_001),
            ("vol1.sha256".to_string(), 14)
        ]
    );
    assert_eq!(dir_names(&store).len(), 4);

    // get: byte-exact.
    let back = work.path().join("back");
    cli.run(["get", &url, "vol1", "-o", back.to_str().unwrap()])
        .ok();
    assert_eq!(fs::read(&back).unwrap(), fs::read(&src).unwrap());
    let back2 = work.path().join("back2");
    cli.run(["get", &url, "vol1.sha256", "-o", back2.to_str().unwrap()])
        .ok();
    assert_eq!(fs::read(&back2).unwrap(), b"not a checksum");

    // Reserved names are refused before anything is stored.
    let out = cli.run([
        "put",
        &url,
        src.to_str().unwrap(),
        "--name",
        &format!("{SIDECAR_PREFIX}x"),
    ]);
    out.expect_code(EXIT_INVALID);
    assert!(out.err.contains("reserved"), "{out}");
    assert_eq!(dir_names(&store).len(), 4);

    // Corrupt the stored object: flip one byte in the inner file.
    let stored = store.join("vol1");
    let mut bytes = fs::read(&stored).unwrap();
    bytes[150_000] ^= 0x01;
    fs::write(&stored, &bytes).unwrap();

    // get over an existing destination: exit 56, destination untouched,
    // no temporary files left beside it.
    let dest_dir = work.path().join("restore");
    fs::create_dir(&dest_dir).unwrap();
    let dest = dest_dir.join("vol1");
    fs::write(&dest, b"the previous restore").unwrap();
    let out = cli.run(["get", &url, "vol1", "-o", dest.to_str().unwrap()]);
    out.expect_code(EXIT_VALIDATION);
    assert!(out.err.contains("corrupt"), "{out}");
    assert_eq!(fs::read(&dest).unwrap(), b"the previous restore");
    assert_eq!(dir_names(&dest_dir), vec!["vol1"]);
    // To a new path: nothing is created.
    let fresh = dest_dir.join("fresh");
    cli.run(["get", &url, "vol1", "-o", fresh.to_str().unwrap()])
        .expect_code(EXIT_VALIDATION);
    assert_eq!(dir_names(&dest_dir), vec!["vol1"]);
    // The same through --json: the code is "validation failed".
    let (out, doc) = cli.run_json(["get", &url, "vol1", "-o", dest.to_str().unwrap()]);
    out.expect_code(EXIT_VALIDATION);
    let err = stowage_tests::find_json_error(&doc).unwrap_or_else(|| panic!("no error\n{out}"));
    assert_eq!(err["code"], EXIT_VALIDATION, "{err}");
    assert_eq!(err["kind"], "validation failed", "{err}");

    // A missing object is still "not found", not a validation failure.
    cli.run(["get", &url, "nothing", "-o", fresh.to_str().unwrap()])
        .expect_code(EXIT_NOT_FOUND);

    // A fresh put repairs it; rm removes the object and its checksum.
    cli.run(["put", &url, src.to_str().unwrap()]).ok();
    cli.run(["get", &url, "vol1", "-o", dest.to_str().unwrap()])
        .ok();
    assert_eq!(fs::read(&dest).unwrap(), fs::read(&src).unwrap());
    cli.run(["rm", &url, "vol1", "vol1.sha256"]).ok();
    assert_eq!(dir_names(&store), Vec::<String>::new());
}

#[test]
fn example_passes_stowage_test() {
    let plugins = plugin_dir();
    let cli = Cli::new(plugins.path());
    if cli.run(["test", "--help"]).code != 0 {
        eprintln!(
            "\n*** NOTE: this stowage has no `test` command yet; the conformance run of the example was NOT done ***\n"
        );
        return;
    }
    let work = tempdir();
    let url = format!("verify+{}", file_url(&work.path().join("conf")));
    let (out, doc) = cli.run_json(["test", &url]);
    let failures: Vec<String> = doc["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no checks array\n{out}"))
        .iter()
        .filter(|c| c["outcome"] == "fail")
        .map(|c| format!("{}: {}", c["id"], c["detail"]))
        .collect();
    assert!(
        failures.is_empty(),
        "failed checks:\n{}\n{out}",
        failures.join("\n")
    );
    out.ok();
    assert_eq!(doc["data"]["failed"], 0, "{out}");
    assert!(doc["data"]["passed"].as_u64().unwrap_or(0) >= 30, "{out}");
    // The checks this example's design is about.
    for id in [
        "names.255-bytes",
        "concurrency.same-name",
        "put.no-partial-or-temporary-visible",
        "get.missing-is-not-found",
        "get.replace-not-in-place",
        "hygiene.cleanup",
    ] {
        let check = doc["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("{id} did not run\n{out}"));
        assert_eq!(check["outcome"], "pass", "{id}\n{out}");
    }
}

#[test]
fn example_cargo_test_runs_the_conformance_checks() {
    // Section 12 of the tutorial: the example's own `cargo test`, with the
    // file plugin found through STOWAGE_PLUGIN_PATH.
    let plugins = plugin_dir();
    let manifest = format!("{EXAMPLE}/Cargo.toml");
    let out = run_cargo(
        &["test", "--manifest-path", &manifest],
        &["--nocapture"],
        &[("STOWAGE_PLUGIN_PATH", plugins.path())],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.contains("test passes_the_conformance_checks ... ok"),
        "{stdout}\n{stderr}"
    );
    assert!(
        !stderr.contains("SKIPPED"),
        "the conformance test did not find the file plugin:\n{stderr}"
    );
}
