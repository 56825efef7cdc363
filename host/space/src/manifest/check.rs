//! What a hostile or broken manifest could abuse, refused on load.

use std::collections::HashSet;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};

use super::name::ManifestName;
use super::schema::{Data, Entry, Manifest};
use super::{FORMAT, VERSION};
use crate::hash::is_sha256_hex;

impl Manifest {
    /// Checks what a hostile or broken manifest could abuse: format,
    /// version, names, checksums, and tree paths that could escape their
    /// top directory or pass through a symlink.
    pub(crate) fn check(&self, name: &ManifestName) -> Result<(), String> {
        if self.format != FORMAT {
            return Err(format!("format {:?}, expected {FORMAT:?}", self.format));
        }
        if self.version == 0 || self.version > VERSION {
            return Err(format!(
                "manifest version {} (this stowage reads up to {VERSION})",
                self.version
            ));
        }
        if self.space != name.space || self.generation != name.generation {
            return Err(format!(
                "it describes space {:?} generation {} (ID mismatch)",
                self.space, self.generation
            ));
        }
        for (entry_name, entry) in &self.entries {
            check_entry(entry_name, entry).map_err(|e| format!("entry {entry_name:?}: {e}"))?;
        }
        Ok(())
    }
}

pub(crate) fn check_entry(name: &str, entry: &Entry) -> Result<(), String> {
    check_entry_name(name)?;
    if !entry.root.is_empty_path() {
        return Err("the top node has a path".into());
    }
    match (&entry.root.data, &entry.origin) {
        (Data::Value { .. }, None) => {}
        (Data::Value { .. }, Some(_)) => return Err("a value with an origin".into()),
        (_, Some(origin)) => check_origin(&origin.0)?,
        _ => return Err("a filesystem object without an absolute origin".into()),
    }
    if let Some(origin) = &entry.origin {
        let depth = origin.0.components().count().saturating_sub(2);
        if !entry.parents.is_empty() && entry.parents.len() != depth {
            return Err(format!(
                "{} parents recorded for an origin {depth} directories deep",
                entry.parents.len()
            ));
        }
    }
    let metas = std::iter::once(&entry.root)
        .chain(&entry.tree)
        .filter_map(|n| n.meta.as_ref())
        .chain(&entry.parents);
    for meta in metas {
        // -1 means "leave unchanged" to chown: never a real owner.
        if meta.uid == u32::MAX || meta.gid == u32::MAX {
            return Err("an owner of -1".into());
        }
    }
    if !entry.tree.is_empty() && entry.root.data != Data::Dir {
        return Err("only a directory has a tree".into());
    }
    let mut dirs: HashSet<&Path> = HashSet::new();
    dirs.insert(Path::new(""));
    for node in std::iter::once(&entry.root).chain(&entry.tree) {
        if let Some((sha, _)) = node.data.content() {
            if !is_sha256_hex(sha) {
                return Err(format!("bad checksum {sha:?}"));
            }
        }
        if matches!(node.data, Data::Value { .. }) != node.meta.is_none() {
            return Err("metadata is required for filesystem objects only".into());
        }
    }
    for node in &entry.tree {
        let path = &node.path.0;
        if path.as_os_str().as_bytes().contains(&0) {
            return Err("a tree path contains NUL".into());
        }
        if path.as_os_str().is_empty()
            || !path.components().all(|c| matches!(c, Component::Normal(_)))
        {
            return Err(format!(
                "tree path {} is not a plain relative path",
                path.display()
            ));
        }
        // The parent must be a directory of this tree listed before: no
        // write can go through a restored symlink.
        let parent = path.parent().unwrap_or(Path::new(""));
        if !dirs.contains(parent) {
            return Err(format!("{} comes before its directory", path.display()));
        }
        if matches!(node.data, Data::Value { .. }) {
            return Err("a value inside a tree".into());
        }
        if node.data == Data::Dir && !dirs.insert(path) {
            return Err(format!("{} appears twice", path.display()));
        }
    }
    Ok(())
}

/// Origins are absolute paths of plain components: no `.` or `..`
/// (which could lead a restore elsewhere than the path shown) and no NUL.
fn check_origin(origin: &Path) -> Result<(), String> {
    let bytes = origin.as_os_str().as_bytes();
    if bytes.contains(&0) {
        return Err("the origin contains NUL".into());
    }
    // Checked on the bytes: `Path::components` would hide a `.` or `//`.
    let Some(rest) = bytes.strip_prefix(b"/") else {
        return Err(format!("origin {} is not absolute", origin.display()));
    };
    if rest
        .split(|&b| b == b'/')
        .any(|part| part.is_empty() || part == b"." || part == b"..")
    {
        return Err(format!(
            "origin {} is not a plain absolute path (`.`, `..`, `//`, or /)",
            origin.display()
        ));
    }
    Ok(())
}

/// Entry names: non-empty UTF-8 without NUL, at most 4096 bytes (they
/// default to paths, so `/` is fine; they never become object names).
pub fn check_entry_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        Err("backup names cannot be empty".into())
    } else if name.contains('\0') {
        Err("backup names cannot contain NUL".into())
    } else if name.len() > 4096 {
        Err("backup names are limited to 4096 bytes".into())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::schema::test_file as file;
    use crate::manifest::RawPath;

    #[test]
    fn hostile_trees_are_refused() {
        let mut root = file("");
        root.data = Data::Dir;
        let mut entry = Entry {
            origin: Some(RawPath("/x".into())),
            created: 0,
            root,
            tree: vec![file("a")],
            parents: vec![],
        };
        assert!(check_entry("n", &entry).is_ok());
        for bad in ["../a", "/etc/passwd", "sub/a", "a/../../b"] {
            entry.tree = vec![file(bad)];
            assert!(check_entry("n", &entry).is_err(), "{bad}");
        }
        // Through a symlink stored in the same tree.
        let mut link = file("l");
        link.data = Data::Symlink {
            target: RawPath("/etc".into()),
        };
        entry.tree = vec![link, file("l/passwd")];
        assert!(check_entry("n", &entry).is_err());
        entry.tree = vec![];
        for bad in ["/x/../etc/shadow", "/x/./y", "x", "/", "/a\0b"] {
            entry.origin = Some(RawPath(bad.into()));
            assert!(check_entry("n", &entry).is_err(), "{bad:?}");
        }
    }
}
