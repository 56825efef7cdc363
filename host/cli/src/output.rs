//! Printing results: text for people, JSON for machines, and the one
//! mapping from errors to exit statuses and JSON error objects.

use std::fmt::Display;
use std::io::Write;

use serde::Serialize;
use serde_json::json;
use stowage::ErrorCode;
use stowage_space::SpaceError;

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

/// The exit status for an error code (see `cli::EXIT_CODES`).
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
pub fn error_json(e: &impl Failure) -> serde_json::Value {
    json!({
        "code": exit_status(e.code()),
        "kind": e.code().name(),
        "message": e.to_string(),
    })
}

/// A whole-command failure before any result: stderr, and
/// `{"error": ...}` in JSON mode. Returns the exit status.
pub fn fail(e: &impl Failure, json: bool) -> u8 {
    report_error(e);
    if json {
        print_json(&json!({ "error": error_json(e) }));
    }
    exit_status(e.code())
}

/// Prints `value` as one JSON document on stdout.
pub fn print_json(value: &impl Serialize) {
    let mut out = std::io::stdout().lock();
    // A closed stdout (`| head`) is not worth a panic.
    let _ = serde_json::to_writer_pretty(&mut out, value);
    let _ = writeln!(out);
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
