//! The one report type: what a command prints for people as it goes, the
//! JSON document it prints for machines at the end, and its exit status
//! (the first failure's).

use serde_json::{json, Value};
use stowage::{Backend, ErrorCode};

use crate::output::{error_json, exit_status, line, print_json, report_error, Failure};

/// A command's result being built.
pub struct Report {
    json: bool,
    /// The JSON document: `Null` until a command sets it, an array of
    /// items for per-object commands, an object for whole-command results.
    doc: Value,
    status: u8,
}

impl Report {
    /// An empty report; `json` selects JSON output over text.
    pub fn new(json: bool) -> Self {
        Self {
            json,
            doc: Value::Null,
            status: 0,
        }
    }

    /// A report whose JSON document is an array of items, `[]` when no
    /// item is added.
    pub fn items(json: bool) -> Self {
        Self {
            json,
            doc: Value::Array(Vec::new()),
            status: 0,
        }
    }

    /// Whether the output is JSON.
    pub fn json(&self) -> bool {
        self.json
    }

    /// Prints a text line (nothing in JSON mode).
    pub fn text(&self, text: &str) {
        if !self.json {
            line(text);
        }
    }

    /// Replaces the JSON document.
    pub fn set_doc(&mut self, doc: Value) {
        self.doc = doc;
    }

    /// Sets the exit status when none is set yet.
    pub fn set_status(&mut self, status: u8) {
        if self.status == 0 {
            self.status = status;
        }
    }

    /// A succeeded item: `text` for people, `item` appended to the array.
    pub fn ok(&mut self, item: Value, text: &str) {
        self.text(text);
        self.push(item);
    }

    /// A succeeded item with no text line (its bytes went to stdout).
    pub fn ok_silent(&mut self, item: Value) {
        self.push(item);
    }

    /// A failed item: the error on stderr and in `item["error"]`.
    pub fn item_failed(&mut self, mut item: Value, e: &impl Failure) {
        item["error"] = self.error(e);
        self.push(item);
    }

    /// Reports `e` on stderr, keeps its status if it is the first, and
    /// returns its JSON form.
    pub fn error(&mut self, e: &impl Failure) -> Value {
        report_error(e);
        self.set_status(exit_status(e.code()));
        error_json(e)
    }

    /// A whole-command failure: the error joins the document
    /// (`{"error": ...}` alone, beside an object's fields, or as
    /// `{"results": [...], "error": ...}` around an array).
    pub fn failed(&mut self, e: &impl Failure) {
        let err = self.error(e);
        match &mut self.doc {
            Value::Object(map) => {
                map.insert("error".into(), err);
            }
            Value::Null => self.doc = json!({ "error": err }),
            other => *other = json!({ "results": other.take(), "error": err }),
        }
    }

    /// Closes `backend` (the durability barrier); a failed close becomes
    /// an item `{"operation": "close", "error": ...}`.
    pub fn close(&mut self, backend: &Backend) {
        let Err(e) = backend.close() else { return };
        // A panicked backend refuses close too; that is not news.
        if self.status != 0 && e.code() == ErrorCode::PANIC {
            log::debug!("close after a panic: {e}");
            return;
        }
        let err = self.error(&e);
        self.push(json!({ "operation": "close", "error": err }));
    }

    /// Prints the JSON document (JSON mode) and returns the exit status.
    pub fn finish(self) -> u8 {
        if self.json && !self.doc.is_null() {
            print_json(&self.doc);
        }
        self.status
    }

    fn push(&mut self, item: Value) {
        match &mut self.doc {
            Value::Array(items) => items.push(item),
            doc => *doc = Value::Array(vec![item]),
        }
    }
}
