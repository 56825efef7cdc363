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

/// Adds one item and returns its index (for `amend_item`). Its `ok`,
/// `code` and `error` follow from its `"error"` field (an error object,
/// or absent for success).
pub fn add_item(mut item: Value) -> usize {
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
    if doc.format == Format::JsonLines {
        print_line(&item);
    }
    // Kept in every JSON format, so a later step can amend it.
    if doc.format != Format::Text {
        doc.items.push(item);
    }
    doc.items_added - 1
}

/// Gives item `index`, reported as succeeded, its final state: failed
/// with `error` (an error object). A step after the item (a commit at
/// close) can undo it. The `--json` document carries only the final
/// state; `--json-lines`, which already printed the item, prints it again
/// with its final state and `"amended": true`.
pub fn amend_item(index: usize, error: Value) {
    let mut doc = document();
    let format = doc.format;
    let was_ok = match doc.items.get_mut(index) {
        Some(Value::Object(map)) => {
            let was_ok = map.get("ok") == Some(&json!(true));
            map.insert("ok".into(), json!(false));
            map.insert(
                "code".into(),
                error.get("code").cloned().unwrap_or(json!(0)),
            );
            map.insert("error".into(), error);
            if format == Format::JsonLines {
                let mut line = Value::Object(map.clone());
                line["amended"] = json!(true);
                print_line(&line);
            }
            was_ok
        }
        // Text mode keeps no items: only the count changes.
        _ => format == Format::Text,
    };
    doc.items_failed += usize::from(was_ok);
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
    let items = std::mem::take(&mut doc.items);
    // The closing line of `--json-lines` has an empty `items`: each item
    // was printed as its own line.
    let items = match doc.format {
        Format::JsonLines => Vec::new(),
        _ => items,
    };
    let value = json!({
        "command": doc.command,
        "ok": code == 0,
        "code": code,
        "items": items,
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
