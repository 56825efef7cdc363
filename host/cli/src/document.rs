//! The one JSON shape of every command's `--json` output.
//!
//! ```json
//! {"command": "put", "ok": false, "code": 52,
//!  "items": [{"name": "a", "ok": true, "code": 0, "error": null, ...}],
//!  "data": null,
//!  "error": null}
//! ```
//!
//! Commands add items and data as they go; `main` prints the document
//! once, with the exit status the process then returns, so `code` and the
//! exit status cannot disagree. `error` is null exactly when `ok` is true. With `--json-lines` each item is printed
//! as one line when it is done, and the closing line is the document with
//! an empty `items`. The schema is documented in docs/cli.md.

use std::io::Write;
use std::sync::{Mutex, MutexGuard};

use serde_json::{json, Value};

/// How results are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Lines for people on stdout, errors on stderr.
    Text,
    /// One JSON document at the end.
    Json,
    /// One JSON line per item as it is done, then the document.
    JsonLines,
}

struct Document {
    format: Format,
    command: String,
    items: Vec<Value>,
    items_added: usize,
    items_failed: usize,
    data: Value,
    error: Value,
}

/// The document of this run: one command per process, so one document.
static DOCUMENT: Mutex<Document> = Mutex::new(Document {
    format: Format::Text,
    command: String::new(),
    items: Vec::new(),
    items_added: 0,
    items_failed: 0,
    data: Value::Null,
    error: Value::Null,
});

fn document() -> MutexGuard<'static, Document> {
    // A panic while printing leaves nothing half-updated worth refusing.
    DOCUMENT.lock().unwrap_or_else(|poison| poison.into_inner())
}

/// Starts the document of `command` (e.g. `"space backup"`).
pub fn start(format: Format, command: &str) {
    let mut doc = document();
    doc.format = format;
    doc.command = command.to_string();
}

/// The output format of this run.
pub fn format() -> Format {
    document().format
}

/// Whether results go out as JSON (`--json` or `--json-lines`).
pub fn is_json() -> bool {
    format() != Format::Text
}

/// Adds one item. Its `ok`, `code` and `error` follow from its `"error"`
/// field (an error object, or absent for success).
pub fn add_item(mut item: Value) {
    let error = item.get("error").cloned().unwrap_or(Value::Null);
    let code = error.get("code").cloned().unwrap_or(json!(0));
    let failed = !error.is_null();
    if let Value::Object(map) = &mut item {
        map.insert("ok".into(), json!(!failed));
        map.insert("code".into(), code);
        map.insert("error".into(), error);
    }
    let mut doc = document();
    doc.items_added += 1;
    doc.items_failed += usize::from(failed);
    match doc.format {
        Format::Text => {}
        Format::Json => doc.items.push(item),
        Format::JsonLines => print_line(&item),
    }
}

/// Sets the command's result that is not per item.
pub fn set_data(data: Value) {
    document().data = data;
}

/// Records a whole-command error object; the first one stays.
pub fn set_error(error: Value) {
    let mut doc = document();
    if doc.error.is_null() {
        doc.error = error;
    }
}

/// Prints the document for exit status `code` (nothing in text mode).
/// `error` is null exactly when `code` is 0: a failure that recorded no
/// whole-command error gets one summing up the failed items (or naming
/// the status), so a document with `"ok": false` always says why, even
/// the closing line of `--json-lines`.
pub fn finish(code: u8) {
    let mut doc = document();
    if doc.format == Format::Text {
        return;
    }
    if code != 0 && doc.error.is_null() {
        doc.error = if doc.items_failed > 0 {
            json!({
                "code": code,
                "kind": "items failed",
                "message": format!("{} of {} items failed", doc.items_failed, doc.items_added),
            })
        } else {
            json!({
                "code": code,
                "kind": "failed",
                "message": format!("exit status {code}"),
            })
        };
    }
    let value = json!({
        "command": doc.command,
        "ok": code == 0,
        "code": code,
        "items": std::mem::take(&mut doc.items),
        "data": doc.data.take(),
        "error": doc.error.take(),
    });
    match doc.format {
        Format::JsonLines => print_line(&value),
        _ => print_pretty(&value),
    }
}

fn print_pretty(value: &Value) {
    let mut out = std::io::stdout().lock();
    // A closed stdout (`| head`) is not worth a panic.
    let _ = serde_json::to_writer_pretty(&mut out, value);
    let _ = writeln!(out);
}

fn print_line(value: &Value) {
    let mut out = std::io::stdout().lock();
    let _ = serde_json::to_writer(&mut out, value);
    let _ = writeln!(out);
    let _ = out.flush();
}
