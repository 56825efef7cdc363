//! `stowage space restore` and `revert`: entries back onto the filesystem.

use std::path::Path;

use serde_json::json;
use stowage_space::{BackupStore, SpaceError};

use crate::output::display_name;
use crate::report::Report;

/// Restores one entry to where it came from, or to `to`.
pub fn entry(
    store: &BackupStore,
    space: &str,
    name: &str,
    to: Option<&Path>,
    report: &mut Report,
) -> Result<(), SpaceError> {
    let s = store.open_space_read_only(space)?;
    let r = s.restore_name(name, to)?;
    report.text(&format!(
        "restored {} to {}: {} files, {} directories, {} symlinks, {} bytes",
        display_name(name),
        r.path.display(),
        r.files,
        r.dirs,
        r.symlinks,
        r.bytes
    ));
    report.set_data(json!({ "space": space, "name": name, "restored": r }));
    s.close()
}

/// Restores every filesystem entry; a failure does not stop the others.
pub fn revert(store: &BackupStore, space: &str, report: &mut Report) -> Result<(), SpaceError> {
    let s = store.open_space_read_only(space)?;
    report.set_data(json!({ "space": s.name() }));
    let mut any = false;
    for item in s.revert()? {
        any = true;
        match &item.result {
            Ok(r) => report.ok(
                json!({ "name": item.name, "origin": item.origin, "restored": r }),
                &format!(
                    "restored {} to {}",
                    display_name(&item.name),
                    r.path.display()
                ),
            ),
            Err(e) => report.item_failed(json!({ "name": item.name, "origin": item.origin }), e),
        }
    }
    if !any {
        report.text("nothing to revert");
    }
    s.close()
}
