//! `stowage space backup-value` and `restore-value`: bytes, not files.

use std::io::{Read, Write};
use std::path::Path;

use serde_json::json;
use stowage_space::{BackupStore, SpaceError};

use crate::output::display_name;
use crate::report::Report;

/// Stores the bytes of `from` (a file, or standard input) as `name`.
pub fn backup(
    store: &BackupStore,
    space: &str,
    name: &str,
    from: Option<&Path>,
    report: &mut Report,
) -> Result<(), SpaceError> {
    // The space is held before the input is read.
    let s = store.space(space, true)?;
    let bytes = read_input(from)?;
    s.backup_value(&bytes, name)?;
    report.set_data(json!({ "space": space, "name": name, "size": bytes.len() }));
    report.text(&format!(
        "stored value {} ({} bytes) in space {space}",
        display_name(name),
        bytes.len()
    ));
    s.close()
}

/// Writes a value's bytes to stdout (JSON: as text, or hex when not UTF-8).
pub fn restore(
    store: &BackupStore,
    space: &str,
    name: &str,
    report: &mut Report,
) -> Result<(), SpaceError> {
    let s = store.open_space_read_only(space)?;
    let bytes = s.restore_value(name)?;
    if report.json() {
        report.set_data(match String::from_utf8(bytes) {
            Ok(text) => json!({ "name": name, "size": text.len(), "text": text }),
            Err(e) => {
                let b = e.into_bytes();
                json!({ "name": name, "size": b.len(), "hex": hex(&b) })
            }
        });
    } else {
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(&bytes)
            .and_then(|()| stdout.flush())
            .map_err(|e| SpaceError::local("<stdout>", e))?;
    }
    s.close()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn read_input(from: Option<&Path>) -> Result<Vec<u8>, SpaceError> {
    match from {
        None => read_stdin(),
        Some(p) if p.as_os_str() == "-" => read_stdin(),
        Some(p) => std::fs::read(p).map_err(|e| SpaceError::local(p, e)),
    }
}

fn read_stdin() -> Result<Vec<u8>, SpaceError> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .lock()
        .read_to_end(&mut bytes)
        .map_err(|e| SpaceError::local("<stdin>", e))?;
    Ok(bytes)
}
