//! The one report type: what a command prints for people as it goes, the
//! items and result it adds to the JSON document (see `document`), and
//! its exit status (the first failure's).

use serde_json::Value;
use stowage::{Backend, ErrorCode};

use crate::document;
use crate::output::{error_json, error_object, exit_status, line, report_error, Failure};

/// A command's result being built.
pub struct Report {
    json: bool,
    status: u8,
}

impl Report {
    /// An empty report, printing in this run's format.
    pub fn new() -> Self {
        Self {
            json: document::is_json(),
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

    /// Sets the command's result that is not per item.
    pub fn set_data(&mut self, data: Value) {
        document::set_data(data);
    }

    /// Sets the exit status when none is set yet.
    pub fn set_status(&mut self, status: u8) {
        if self.status == 0 {
            self.status = status;
        }
    }

    /// A succeeded item: `text` for people, `item` in the document.
    pub fn ok(&mut self, item: Value, text: &str) {
        self.ok_indexed(item, text);
    }

    /// `ok`, returning the item's index in the document, for a command
    /// whose later step can undo it (see `amend_failed`).
    pub fn ok_indexed(&mut self, item: Value, text: &str) -> usize {
        self.text(text);
        document::add_item(item)
    }

    /// An item reported as succeeded that a later step undid: `text` for
    /// people, and the item's final state in the document. `error` is the
    /// item's error object; its code is the status if none is set yet.
    pub fn amend_failed(&mut self, index: usize, text: &str, error: Value) {
        self.text(text);
        if let Some(status) = error.get("code").and_then(Value::as_u64) {
            self.set_status(u8::try_from(status).unwrap_or(50));
        }
        document::amend_item(index, error);
    }

    /// A succeeded item with no text line (its bytes went to stdout).
    pub fn ok_silent(&mut self, item: Value) {
        document::add_item(item);
    }

    /// A failed item: the error on stderr and in `item["error"]`.
    pub fn item_failed(&mut self, mut item: Value, e: &impl Failure) {
        item["error"] = self.error(e);
        document::add_item(item);
    }

    /// Reports `e` on stderr, keeps its status if it is the first, and
    /// returns its JSON form.
    fn error(&mut self, e: &impl Failure) -> Value {
        report_error(e);
        self.set_status(exit_status(e.code()));
        error_json(e)
    }

    /// A whole-command failure: stderr, the document's `error`, the status.
    pub fn failed(&mut self, e: &impl Failure) {
        let err = self.error(e);
        document::set_error(err);
    }

    /// A whole-command failure the command has already told people about
    /// in its own words: `message` in the document, and the status.
    pub fn failed_with(&mut self, code: ErrorCode, message: &str) {
        let status = exit_status(code);
        self.set_status(status);
        document::set_error(error_object(status, &code.name(), message));
    }

    /// Closes `backend` (the durability barrier); a failed close is a
    /// whole-command failure.
    pub fn close(&mut self, backend: &Backend) {
        // The error is reported here; commands that must act on it use
        // `close_checked`.
        let _ = self.close_checked(backend);
    }

    /// `close`, returning the error of a failed close (reported or not),
    /// so a command can tell what the failure undid.
    pub fn close_checked(&mut self, backend: &Backend) -> Option<stowage::Error> {
        let e = backend.close().err()?;
        // A panicked backend refuses close too; that is not news.
        if self.status != 0 && e.code() == ErrorCode::PANIC {
            log::debug!("close after a panic: {e}");
        } else {
            self.failed(&e);
        }
        Some(e)
    }

    /// The exit status.
    pub fn finish(self) -> u8 {
        self.status
    }
}
