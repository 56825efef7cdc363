//! Every command's `--json` and `--json-lines` output, success and
//! failure, against the schema documented in docs/cli.md; and the process
//! exit status always equal to the document's `code`.

use std::fs;
use std::path::Path;

use serde_json::{json, Value};
use stowage_tests::files::write_data;
use stowage_tests::{
    file_url, plugin_dir_with, require_tool, tempdir, workspace_root, Cli, Output,
};

/// The schema: the JSON block after "The schema" in docs/cli.md.
fn schema() -> Value {
    let doc = fs::read_to_string(workspace_root().join("docs/cli.md")).expect("docs/cli.md");
    let start = doc
        .find("The schema, which the test suite")
        .expect("schema section");
    let block = &doc[start..];
    let open = block.find("```json\n").expect("schema block") + "```json\n".len();
    let close = open + block[open..].find("```").expect("end of the schema block");
    serde_json::from_str(&block[open..close]).expect("the schema is JSON")
}

struct Checker {
    document: jsonschema::Validator,
    item: jsonschema::Validator,
}

impl Checker {
    fn new() -> Self {
        let root = schema();
        let item = json!({ "$defs": root["$defs"].clone(), "$ref": "#/$defs/item" });
        Self {
            document: jsonschema::validator_for(&root).expect("a valid schema"),
            item: jsonschema::validator_for(&item).expect("a valid item schema"),
        }
    }

    #[track_caller]
    fn valid(&self, validator: &jsonschema::Validator, value: &Value, out: &Output) {
        let errors: Vec<String> = validator
            .iter_errors(value)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "schema violations: {errors:#?}\n{value:#}\n{out}"
        );
    }

    /// `stowage --json ARGS`: one valid document whose `code` is the exit
    /// status, which is `code`; returns the document.
    #[track_caller]
    fn json(&self, cli: &Cli, args: &[&str], code: i32) -> Value {
        let (out, doc) = cli.run_json(args);
        out.expect_code(code);
        self.valid(&self.document, &doc, &out);
        assert_eq!(
            doc["code"], code,
            "document code is not the exit status\n{out}"
        );
        let command = args.iter().take_while(|a| !a.contains("://")).copied();
        let command: Vec<&str> = command.take(2).collect();
        assert!(
            command
                .join(" ")
                .starts_with(doc["command"].as_str().unwrap_or("?")),
            "command {} for {args:?}",
            doc["command"]
        );
        doc
    }

    /// `stowage --json-lines ARGS`: valid item lines, then a valid
    /// document with no items, its `code` the exit status; returns the
    /// items.
    #[track_caller]
    fn lines(&self, cli: &Cli, args: &[&str], code: i32) -> Vec<Value> {
        let out = cli.clone().global(["--json-lines"]).run(args);
        out.expect_code(code);
        let mut values: Vec<Value> = out
            .out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}\n{out}")))
            .collect();
        let last = values.pop().unwrap_or_else(|| panic!("no output\n{out}"));
        self.valid(&self.document, &last, &out);
        assert_eq!(last["code"], code, "{out}");
        assert_eq!(last["items"], json!([]), "{out}");
        for item in &values {
            self.valid(&self.item, item, &out);
        }
        values
    }
}

fn setup() -> (tempfile::TempDir, Cli, Checker) {
    let plugins = plugin_dir_with(&["file", "local-peer", "xorriso"]);
    let cli = Cli::new(plugins.path());
    (plugins, cli, Checker::new())
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn object_commands() {
    let (_p, cli, c) = setup();
    let work = tempdir();
    let url = file_url(&work.path().join("store"));
    let a = work.path().join("a");
    let b = work.path().join("b");
    write_data(&a, 1000, 1);
    write_data(&b, 10, 2);
    let missing = work.path().join("missing");

    let doc = c.json(&cli, &["plugins"], 0);
    assert!(doc["data"]["plugins"]
        .as_array()
        .is_some_and(|p| p.len() == 3));
    c.json(&cli, &["put", &url, s(&a)], 0);
    // One failed item: the first failure's code, and a summing-up error.
    let doc = c.json(&cli, &["put", &url, s(&missing), s(&b)], 52);
    assert_eq!(doc["items"][0]["ok"], false);
    assert_eq!(doc["items"][1]["ok"], true);
    assert_eq!(doc["error"]["kind"], "items failed");
    // Whole-command failures: a collision, an unknown scheme, a usage error.
    let other = work.path().join("sub");
    fs::create_dir(&other).unwrap();
    fs::write(other.join("a"), b"x").unwrap();
    let doc = c.json(&cli, &["put", &url, s(&a), s(&other.join("a"))], 23);
    assert_eq!(doc["items"], json!([]));
    c.json(&cli, &["put", "nope:///x", s(&a)], 23);
    let doc = c.json(&cli, &["put", &url, s(&a), s(&b), "--name", "n"], 2);
    assert_eq!(doc["error"]["kind"], "usage");

    c.json(&cli, &["ls", &url], 0);
    c.json(&cli, &["ls", "nope:///x"], 23);
    c.json(&cli, &["stat", &url, "a", "zz"], 0);
    c.json(&cli, &["stat", &url, "../bad"], 23);
    let out_dir = work.path().join("out");
    fs::create_dir(&out_dir).unwrap();
    c.json(&cli, &["get", &url, "a", "b", "-o", s(&out_dir)], 0);
    c.json(&cli, &["get", &url, "zz", "-o", s(&out_dir)], 52);
    c.json(&cli, &["get", &url, "a", "-o", "-"], 2);
    c.json(&cli, &["mv", &url, s(&b)], 0);
    c.json(&cli, &["mv", &url, s(&b)], 52);
    c.json(&cli, &["rm", &url, "b"], 0);
    c.json(&cli, &["rm", &url, "b"], 52);
    // A command line clap refuses is a document too.
    let doc = c.json(&cli, &["ls"], 2);
    assert_eq!(doc["command"], "ls");
    c.json(&cli, &["frobnicate"], 2);

    // --json-lines: the same items, one line each, then the document.
    let items = c.lines(&cli, &["put", &url, s(&a), s(&missing)], 52);
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["name"], "a");
    assert_eq!(items[1]["code"], 52);
    let items = c.lines(&cli, &["ls", &url], 0);
    assert_eq!(items.len(), 1);
    c.lines(&cli, &["ls", "nope:///x"], 23);
    c.lines(&cli, &["stat", &url, "a"], 0);
}

#[test]
fn test_command() {
    let (_p, cli, c) = setup();
    let work = tempdir();
    let url = file_url(work.path());
    let doc = c.json(&cli, &["test", "--list"], 0);
    assert!(doc["items"].as_array().is_some_and(|i| i.len() > 10));
    let doc = c.json(&cli, &["test", &url, "--only", "names.255-bytes"], 0);
    assert_eq!(doc["data"]["failed"], 0);
    c.json(&cli, &["test", &url, "--only", "no-such-check"], 2);
    c.json(&cli, &["test", "nope:///x"], 23);
    let items = c.lines(&cli, &["test", &url, "--only", "names.255-bytes"], 0);
    assert!(items.iter().any(|i| i["id"] == "names.255-bytes"));
}

#[test]
fn space_commands() {
    let (_p, cli, c) = setup();
    let work = tempdir();
    let url = file_url(&work.path().join("store"));
    let tree = work.path().join("tree");
    fs::create_dir(&tree).unwrap();
    fs::write(tree.join("f"), b"content").unwrap();
    let value = work.path().join("value");
    fs::write(&value, b"v").unwrap();

    c.json(&cli, &["space", "list", &url], 0);
    c.json(&cli, &["space", "backup", &url, "sp", s(&tree)], 0);
    c.json(
        &cli,
        &["space", "backup", &url, "sp", s(&work.path().join("none"))],
        52,
    );
    c.json(
        &cli,
        &[
            "space",
            "backup-value",
            &url,
            "sp",
            "val",
            "--from",
            s(&value),
        ],
        0,
    );
    c.json(&cli, &["space", "show", &url, "sp"], 0);
    c.json(&cli, &["space", "show", &url, "nosuch"], 52);
    c.json(&cli, &["space", "verify", &url, "sp"], 0);
    c.json(&cli, &["space", "restore-value", &url, "sp", "val"], 0);
    let to = work.path().join("restored");
    c.json(
        &cli,
        &["space", "restore", &url, "sp", s(&tree), "--to", s(&to)],
        0,
    );
    c.json(&cli, &["space", "restore", &url, "sp", "nosuch"], 52);
    c.json(&cli, &["space", "revert", &url, "sp"], 0);
    c.json(&cli, &["space", "rm", &url, "sp", "val"], 0);
    c.json(&cli, &["space", "rm", &url, "sp", "val"], 52);
    c.json(&cli, &["space", "drop", &url, "sp"], 0);
    c.json(&cli, &["space", "gc", &url], 0);
    c.json(&cli, &["space", "gc", "nope:///x"], 23);
    c.lines(&cli, &["space", "list", &url], 0);
}

#[test]
fn peer_and_iso_commands() {
    let (_p, cli, c) = setup();
    let work = tempdir();
    let collect = work.path().join("collect");
    let target = work.path().join("target");
    fs::create_dir(&collect).unwrap();
    fs::create_dir(&target).unwrap();
    fs::write(collect.join("file"), b"data").unwrap();
    let url = format!("local-peer://host1{}", collect.display());

    let doc = c.json(&cli, &["peer", "collected", &url], 1);
    assert_eq!(doc["error"]["kind"], "not collected");
    fs::write(collect.join("cback.collect"), b"").unwrap();
    c.json(&cli, &["peer", "collected", &url], 0);
    c.json(&cli, &["peer", "stage", &url, s(&target)], 0);
    c.json(&cli, &["peer", "stage", &url, "relative/dir"], 23);
    c.json(&cli, &["peer", "mark-staged", &url], 0);
    c.json(&cli, &["peer", "mark-staged", &url, "--mode", "99999"], 23);

    c.json(&cli, &["iso", "info", &file_url(work.path())], 50);
    if !require_tool("xorriso") {
        return;
    }
    let iso = format!("xorriso://{}", work.path().join("b.iso").display());
    let f = work.path().join("f");
    fs::write(&f, b"iso content").unwrap();
    c.json(&cli, &["put", &iso, s(&f)], 0);
    c.json(&cli, &["iso", "info", &iso], 0);
    c.json(&cli, &["iso", "compact", &iso], 0);
}

/// The schema is not vacuous: documents that break the contract fail it.
#[test]
fn the_schema_refuses_broken_documents() {
    let c = Checker::new();
    let good =
        json!({"command": "ls", "ok": true, "code": 0, "items": [], "data": null, "error": null});
    assert!(c.document.is_valid(&good));
    let error = json!({"code": 52, "kind": "not found", "message": "m"});
    for (field, value) in [
        ("code", json!(1)),                // ok but a failure status
        ("error", error.clone()),          // ok with an error
        ("ok", json!(false)),              // failed with no error
        ("items", json!([{"name": "x"}])), // an item without ok/code/error
        ("items", json!([{"ok": false, "code": 0, "error": null}])),
        ("data", json!([1])), // data that is not an object
        ("extra", json!(1)),  // an unknown field
    ] {
        let mut bad = good.clone();
        bad[field] = value;
        assert!(!c.document.is_valid(&bad), "accepted {bad}");
    }
    let failed = json!({"command": "ls", "ok": false, "code": 52, "items": [], "data": null, "error": error});
    assert!(c.document.is_valid(&failed));
    // `ls` data: whether the location exists, nothing else.
    for (data, valid) in [
        (json!({"exists": false}), true),
        (json!({}), true),
        (json!({"exists": "no"}), false),
        (json!({"exists": true, "other": 1}), false),
    ] {
        let mut doc = good.clone();
        doc["data"] = data;
        assert_eq!(c.document.is_valid(&doc), valid, "{doc}");
    }
}

/// `ls` says whether the location exists when the backend can tell (in
/// process: the isolated proxy does not forward `stowage.location/1` yet).
#[test]
fn ls_data_says_whether_the_location_exists() {
    let (_p, cli, c) = setup();
    let cli = cli.global(["--isolate=never"]);
    let work = tempdir();
    let missing = file_url(&work.path().join("mistyped"));
    let doc = c.json(&cli, &["ls", &missing], 0);
    assert_eq!(doc["data"], json!({"exists": false}));
    c.lines(&cli, &["ls", &missing], 0);
    let doc = c.json(&cli, &["ls", &file_url(work.path())], 0);
    assert_eq!(doc["data"], json!({"exists": true}));
}

#[test]
fn remote_commands() {
    let (_p, cli, c) = setup();
    let work = tempdir();
    let cli = cli.env("XDG_CONFIG_HOME", work.path());
    let url = file_url(&work.path().join("store"));
    c.json(&cli, &["remote", "list"], 0);
    c.json(&cli, &["remote", "add", "r", &url], 0);
    c.json(&cli, &["remote", "add", "r", &url], 23);
    c.json(&cli, &["remote", "show", "r"], 0);
    c.json(&cli, &["remote", "show", "nosuch"], 52);
    c.json(&cli, &["ls", "r:"], 0);
    c.json(&cli, &["ls", "nosuch:"], 23);
    c.lines(&cli, &["remote", "list"], 0);
    c.json(&cli, &["remote", "remove", "r"], 0);
    c.json(&cli, &["remote", "remove", "r"], 52);
}
