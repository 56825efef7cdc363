//! `stowage space list`, `show` and `verify`: looking at spaces.

use serde_json::{json, Value};
use stowage_space::{iso8601, BackupStore, Data, Problem, SpaceError, SpaceInfo};

use stowage::ErrorCode;

use crate::output::display_name;
use crate::report::Report;

/// The spaces of a store, one line each.
pub fn list(store: &BackupStore, report: &mut Report) -> Result<(), SpaceError> {
    let spaces = store.spaces()?;
    if spaces.is_empty() {
        report.text("no spaces");
    }
    for i in &spaces {
        let text = format!(
            "{}  {}  {} entries  {} objects  {} bytes  created {}  modified {}",
            i.name,
            persistence(i.persistent),
            i.entries,
            i.objects,
            i.size,
            iso8601(i.created),
            iso8601(i.modified)
        );
        report.ok(info_json(i), &text);
    }
    Ok(())
}

/// A space's summary and its entries.
pub fn show(store: &BackupStore, space: &str, report: &mut Report) -> Result<(), SpaceError> {
    let s = store.open_space_read_only(space)?;
    let info = s.info();
    report.text(&format!(
        "space {}: {}, generation {}, {} entries, {} objects, {} bytes",
        info.name,
        persistence(info.persistent),
        info.generation,
        info.entries,
        info.objects,
        info.size
    ));
    report.set_data(json!({ "space": info_json(&info) }));
    for (name, e) in s.entries() {
        let size: u64 = std::iter::once(&e.root)
            .chain(&e.tree)
            .filter_map(|n| n.data.content().map(|(_, len)| len))
            .sum();
        let origin = e.origin.as_ref().map(|o| o.0.display().to_string());
        let detail = match &e.root.data {
            Data::Symlink { target } => format!(" -> {}", target.0.display()),
            Data::Dir => format!(" ({} entries below)", e.tree.len()),
            _ => String::new(),
        };
        let text = format!(
            "{:<7} {:>12}  {}{}{}",
            e.root.data.kind(),
            size,
            display_name(&name),
            origin.map(|o| format!("  from {o}")).unwrap_or_default(),
            detail
        );
        let mut v = serde_json::to_value(&e).unwrap_or(Value::Null);
        v["name"] = json!(name);
        v["total_size"] = json!(size);
        report.ok(v, &text);
    }
    s.close()
}

/// Fetches every object and checks it; damage is exit 56. With `repair`,
/// damaged objects are stored again from matching live files first, and
/// only what is left unrepaired is exit 56.
pub fn verify(
    store: &BackupStore,
    space: &str,
    repair: bool,
    report: &mut Report,
) -> Result<(), SpaceError> {
    if repair {
        // Repairing stores objects: the space is opened for writing.
        let s = store.open_space(space)?;
        let found = s.repair()?;
        for p in &found.repaired {
            report.text(&format!("repaired: {}", describe(p)));
        }
        for p in &found.unrepaired {
            eprintln!("stowage: unrepaired: {}", describe(p));
        }
        let info = s.info();
        let mut data = summarize(report, &info, found.unrepaired.len());
        if !found.repaired.is_empty() {
            report.text(&format!(
                "space {}: {} object references repaired",
                info.name,
                found.repaired.len()
            ));
        }
        data["repaired"] = json!(found.repaired);
        data["unrepaired"] = json!(found.unrepaired);
        report.set_data(data);
        return s.close();
    }
    let s = store.open_space_read_only(space)?;
    let problems = s.verify()?;
    for p in &problems {
        eprintln!("stowage: damaged: {}", describe(p));
    }
    let info = s.info();
    let mut data = summarize(report, &info, problems.len());
    data["problems"] = json!(problems);
    report.set_data(data);
    s.close()
}

/// The summary line of a verify (damage left is exit 56), and the part of
/// its JSON data every verify has.
fn summarize(report: &mut Report, info: &SpaceInfo, damaged: usize) -> Value {
    let (space, entries, objects) = (&info.name, info.entries, info.objects);
    if damaged == 0 {
        report.text(&format!(
            "space {space}: {entries} entries, {objects} objects verified"
        ));
    } else {
        report.text(&format!(
            "space {space}: {damaged} damaged object references"
        ));
        report.failed_with(
            ErrorCode::VALIDATION_FAILED,
            &format!("{damaged} damaged object references"),
        );
    }
    json!({ "space": space, "entries": entries, "objects": objects })
}

/// `NAME (PATH): object ID PROBLEM`, the path only inside a tree entry.
fn describe(p: &Problem) -> String {
    let inner = if p.path.as_os_str().is_empty() {
        String::new()
    } else {
        format!(" ({})", p.path.display())
    };
    format!(
        "{}{inner}: object {} {}",
        display_name(&p.name),
        p.object,
        p.problem
    )
}

fn persistence(persistent: bool) -> &'static str {
    if persistent {
        "persistent"
    } else {
        "temporary"
    }
}

fn info_json(i: &SpaceInfo) -> Value {
    let mut v = serde_json::to_value(i).unwrap_or(Value::Null);
    v["created_iso"] = json!(iso8601(i.created));
    v["modified_iso"] = json!(iso8601(i.modified));
    v
}
