//! Writing the remotes back into the configuration file's own text, so
//! that what `remote add` and `remote remove` do not touch (comments, the
//! order of tables, tables of other features) stays byte for byte.

use std::collections::BTreeMap;

use toml_edit::{value, DocumentMut, Item, Table};

/// `original` with its `[remote.*]` tables made to match `remotes`:
/// remotes no longer wanted are removed (with the comment lines directly
/// above their header), new ones added as `[remote.NAME]` tables after
/// the existing remotes, a changed URL replaced in place.
///
/// # Errors
/// `original` is not TOML, or its `remote` is not a table.
pub fn with_remotes(original: &str, remotes: &BTreeMap<&str, &str>) -> Result<String, String> {
    let mut doc: DocumentMut = original.parse().map_err(|e| format!("{e}"))?;
    if !doc.contains_key("remote") {
        let mut table = Table::new();
        // `[remote.NAME]` headers only, no empty `[remote]`.
        table.set_implicit(true);
        doc.insert("remote", Item::Table(table));
    }
    let stale: Vec<String> = remote_table(&mut doc)?
        .iter()
        .map(|(name, _)| name.to_string())
        .filter(|name| !remotes.contains_key(name.as_str()))
        .collect();
    for name in stale {
        if let Some(removed) = remote_table(&mut doc)?.remove(&name) {
            keep_detached_comments(&mut doc, &removed);
        }
    }
    let table = remote_table(&mut doc)?;
    for (name, url) in remotes {
        match table.get_mut(name).and_then(Item::as_table_like_mut) {
            Some(remote) => {
                if remote.get("url").and_then(Item::as_str) != Some(*url) {
                    remote.insert("url", value(*url));
                }
            }
            None => {
                let mut remote = Table::new();
                remote.insert("url", value(*url));
                table.insert(name, Item::Table(remote));
            }
        }
    }
    Ok(doc.to_string())
}

fn remote_table(doc: &mut DocumentMut) -> Result<&mut Table, String> {
    doc.get_mut("remote")
        .and_then(Item::as_table_mut)
        .ok_or_else(|| "`remote` is not a table of [remote.NAME] tables".to_string())
}

/// The comment paragraphs above a removed table's header that a blank
/// line separates from it (a comment about the file, not about this
/// remote) go to the table that followed it, or to the end of the file.
fn keep_detached_comments(doc: &mut DocumentMut, removed: &Item) {
    let Some(removed) = removed.as_table() else {
        return;
    };
    let prefix = removed
        .decor()
        .prefix()
        .and_then(|p| p.as_str())
        .unwrap_or("");
    let Some(blank) = prefix.rfind("\n\n") else {
        return;
    };
    let kept = &prefix[..=blank];
    if kept.trim().is_empty() {
        return;
    }
    let after = removed.position().and_then(|at| {
        let mut positions = Vec::new();
        table_positions(doc.as_table(), &mut positions);
        positions.into_iter().filter(|&p| p > at).min()
    });
    match after.and_then(|at| table_at(doc.as_table_mut(), at)) {
        Some(next) => {
            let old = next
                .decor()
                .prefix()
                .and_then(|p| p.as_str())
                .unwrap_or("")
                .to_string();
            let sep = if old.starts_with('\n') { "" } else { "\n" };
            next.decor_mut().set_prefix(format!("{kept}{sep}{old}"));
        }
        None => {
            let old = doc.trailing().as_str().unwrap_or("").to_string();
            doc.set_trailing(format!("{kept}{old}"));
        }
    }
}

/// The positions of every table with a header in `table`, recursively.
fn table_positions(table: &Table, out: &mut Vec<isize>) {
    for (_, item) in table.iter() {
        if let Some(t) = item.as_table() {
            out.extend(t.position().filter(|_| !t.is_implicit()));
            table_positions(t, out);
        } else if let Some(array) = item.as_array_of_tables() {
            for t in array.iter() {
                out.extend(t.position());
                table_positions(t, out);
            }
        }
    }
}

/// The table with a header at `position` in `table`, recursively.
fn table_at(table: &mut Table, position: isize) -> Option<&mut Table> {
    for (_, item) in table.iter_mut() {
        match item {
            Item::Table(t) => {
                if t.position() == Some(position) && !t.is_implicit() {
                    return Some(t);
                }
                if let Some(found) = table_at(t, position) {
                    return Some(found);
                }
            }
            Item::ArrayOfTables(array) => {
                for t in array.iter_mut() {
                    if t.position() == Some(position) {
                        return Some(t);
                    }
                    if let Some(found) = table_at(t, position) {
                        return Some(found);
                    }
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMENTED: &str = "\
# stowage configuration, kept by hand
# (the off-site disk is mounted on Mondays)

[plugin.xorriso]   # another feature's table
isolate = \"never\"

# the local disk
[remote.disk]
url = \"file:///srv/backup\"  # fsync at close

[other]
keep = [1, 2,   3]   # odd spacing stays
";

    fn remotes<'a>(pairs: &[(&'a str, &'a str)]) -> BTreeMap<&'a str, &'a str> {
        pairs.iter().copied().collect()
    }

    #[test]
    fn add_then_remove_gives_back_the_file_byte_for_byte() {
        let added = with_remotes(
            COMMENTED,
            &remotes(&[
                ("disk", "file:///srv/backup"),
                ("offsite", "xorriso:///o.iso"),
            ]),
        )
        .unwrap();
        // The new remote joins the others; nothing else moves.
        let want = COMMENTED.replacen(
            "\n[other]",
            "\n[remote.offsite]\nurl = \"xorriso:///o.iso\"\n\n[other]",
            1,
        );
        assert_eq!(added, want);
        let removed = with_remotes(&added, &remotes(&[("disk", "file:///srv/backup")])).unwrap();
        assert_eq!(removed, COMMENTED);
    }

    #[test]
    fn removing_a_remote_keeps_everything_else() {
        let removed = with_remotes(COMMENTED, &remotes(&[])).unwrap();
        let want = COMMENTED.replace(
            "# the local disk\n[remote.disk]\nurl = \"file:///srv/backup\"  # fsync at close\n\n",
            "",
        );
        assert_eq!(removed, want);
    }

    #[test]
    fn a_comment_about_the_file_outlives_the_remote_below_it() {
        let text =
            "# about the file\n\n# about a\n[remote.a]\nurl = \"file:///a\"\n\n[other]\nx = 1\n";
        assert_eq!(
            with_remotes(text, &remotes(&[])).unwrap(),
            "# about the file\n\n[other]\nx = 1\n"
        );
        let text = "# about the file\n\n# about a\n[remote.a]\nurl = \"file:///a\"\n";
        assert_eq!(
            with_remotes(text, &remotes(&[])).unwrap(),
            "# about the file\n"
        );
    }

    #[test]
    fn a_new_file_and_a_broken_one() {
        assert_eq!(
            with_remotes("", &remotes(&[("a", "file:///a")])).unwrap(),
            "[remote.a]\nurl = \"file:///a\"\n"
        );
        assert!(with_remotes("remote = 1\n", &remotes(&[])).is_err());
        assert!(with_remotes("[remote\n", &remotes(&[])).is_err());
    }
}
