//! `stowage space rm`, `drop` and `gc`: removing things from a store.

use serde_json::{json, Value};
use stowage_space::{BackupStore, SpaceError};

use crate::output::display_name;
use crate::report::Report;

/// Removes entries; a failure does not stop the others.
pub fn rm(
    store: &BackupStore,
    space: &str,
    names: &[String],
    report: &mut Report,
) -> Result<(), SpaceError> {
    let s = store.open_space(space)?;
    for name in names {
        match s.delete(name) {
            Ok(()) => report.ok(
                json!({ "name": name, "deleted": true }),
                &format!("removed {}", display_name(name)),
            ),
            Err(e) => report.item_failed(json!({ "name": name, "deleted": false }), &e),
        }
    }
    // Keep a non-persistent space (left by a crashed program) as is.
    s.close_keep()
}

/// Removes a whole space.
pub fn drop_space(store: &BackupStore, space: &str, report: &mut Report) -> Result<(), SpaceError> {
    store.drop_space(space)?;
    report.text(&format!("dropped space {space}"));
    report.set_data(json!({ "space": space, "dropped": true }));
    Ok(())
}

/// Removes unreferenced objects and old manifests.
pub fn gc(store: &BackupStore, report: &mut Report) -> Result<(), SpaceError> {
    let r = store.gc()?;
    report.text(&format!(
        "removed {} objects ({} bytes) and {} old manifests; {} objects kept",
        r.objects_removed, r.bytes_removed, r.manifests_removed, r.objects_kept
    ));
    for s in &r.unreadable_spaces {
        report.text(&format!(
            "space {s} is unreadable: no object was removed while it is"
        ));
    }
    report.set_data(serde_json::to_value(&r).unwrap_or(Value::Null));
    Ok(())
}
