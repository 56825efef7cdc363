//! `stowage space backup`: files, directories and symlinks into a space.

use std::path::PathBuf;

use serde_json::{json, Value};
use stowage_space::Space;

use crate::output::{display_name, warn};
use crate::progress_bar::SharedBar;
use crate::report::Report;

/// Backs up each path; a failure does not stop the others.
pub fn paths(
    s: &Space,
    paths: &[PathBuf],
    name: Option<&str>,
    report: &mut Report,
    progress: bool,
) {
    report.set_data(json!({ "space": s.name() }));
    for path in paths {
        let bar = SharedBar::new(progress, &path.display().to_string());
        let result = s.backup_path_reporting(path, name, &|done, total| bar.set(done, total));
        bar.finish();
        match result {
            Ok(r) => {
                let text = format!(
                    "backed up {} as {}: {} files, {} directories, {} symlinks, {} bytes",
                    r.origin.display(),
                    display_name(&r.name),
                    r.files,
                    r.dirs,
                    r.symlinks,
                    r.bytes
                );
                report.ok(serde_json::to_value(&r).unwrap_or(Value::Null), &text);
                for skipped in &r.skipped {
                    warn(&format!(
                        "{} skipped: {}",
                        skipped.path.display(),
                        skipped.reason
                    ));
                }
            }
            Err(e) => report.item_failed(json!({ "path": path }), &e),
        }
    }
}
