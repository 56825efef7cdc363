//! Printing results: text for people, JSON for machines, and the one
//! mapping from errors to exit statuses and JSON error objects.

use std::fmt::Display;
use std::io::Write;

use serde_json::{json, Value};
use stowage::ErrorCode;
use stowage_space::SpaceError;

use crate::document;

/// An error a command can report: a message and a stable code.
pub trait Failure: Display {
    /// The error's code, which decides the exit status.
    fn code(&self) -> ErrorCode;
}

impl Failure for stowage::Error {
    fn code(&self) -> ErrorCode {
        stowage::Error::code(self)
    }
}

impl Failure for SpaceError {
    fn code(&self) -> ErrorCode {
        SpaceError::code(self)
    }
}

/// The exit status for an error code (see `help::EXIT_CODES`).
pub fn exit_status(code: ErrorCode) -> u8 {
    match code {
        ErrorCode::INVALID_INPUT => 23,
        ErrorCode::PERMISSION_DENIED => 51,
        ErrorCode::NOT_FOUND => 52,
        ErrorCode::NO_SPACE => 53,
        ErrorCode::VALIDATION_FAILED => 56,
        _ => 50,
    }
}

/// An error as JSON: code (the exit status), kind and message.
pub fn error_json(e: &impl Failure) -> Value {
    error_object(exit_status(e.code()), &e.code().name(), &e.to_string())
}

/// The JSON error object: `{"code", "kind", "message"}`.
pub fn error_object(code: u8, kind: &str, message: &str) -> Value {
    json!({ "code": code, "kind": kind, "message": message })
}

/// A usage error found after parsing (exit 2, like clap's own).
pub fn usage_error(message: &str) -> u8 {
    report_error(&message);
    document::set_error(error_object(EXIT_USAGE, "usage", message));
    EXIT_USAGE
}

/// Exit status of a usage error.
pub const EXIT_USAGE: u8 = 2;

/// A whole-command failure: the error on stderr and as the document's
/// `error`. Returns the exit status. (`_json` is kept for callers that
/// pass it; the document knows its format.)
pub fn fail(e: &impl Failure, _json: bool) -> u8 {
    report_error(e);
    document::set_error(error_json(e));
    exit_status(e.code())
}

/// Prints one text line on stdout.
pub fn line(text: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

/// Reports an error on stderr.
pub fn report_error(e: &impl Display) {
    eprintln!("stowage: error: {e}");
}

/// Reports a warning on stderr.
pub fn warn(text: &str) {
    eprintln!("stowage: warning: {text}");
}

/// `name` with control characters escaped, so a name cannot forge output
/// lines or terminal sequences.
pub fn display_name(name: &str) -> String {
    if !name.chars().any(char::is_control) {
        return name.to_string();
    }
    name.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_error_codes_exit_50() {
        assert_eq!(exit_status(ErrorCode(4242)), 50);
    }
}
