//! Garbage collection: content objects no space refers to, and manifest
//! generations that are no longer current.
//!
//! Runs only while this handle holds the store exclusively (no other
//! process has it open, no other space of this handle is open, no
//! operation in flight), so nothing can be between "uploaded" and
//! "recorded in a manifest" while it decides what is garbage.

use std::collections::{BTreeSet, HashSet};

use serde::Serialize;

use crate::error::{SpaceError, SpaceResult};
use crate::inner::StoreInner;
use crate::manifest::{Manifest, ManifestName};
use crate::object::parse_blob_name;

/// What a collection removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GcReport {
    /// Content objects removed (no manifest referred to them).
    pub objects_removed: u64,
    /// Their total size.
    pub bytes_removed: u64,
    /// Old or unusable manifest generations removed.
    pub manifests_removed: u64,
    /// Content objects kept (referenced).
    pub objects_kept: u64,
    /// Spaces none of whose manifests could be read: while there is one,
    /// no content object is removed (it might be that space's).
    pub unreadable_spaces: Vec<String>,
}

/// Collects garbage in `listing` (a fresh listing of the store) and
/// returns the report and the names removed.
pub(crate) fn collect(
    store: &StoreInner,
    listing: &[(String, u64)],
) -> SpaceResult<(GcReport, HashSet<String>)> {
    let spaces: BTreeSet<String> = listing
        .iter()
        .filter_map(|(n, _)| ManifestName::parse(n).map(|m| m.space))
        .collect();
    let mut report = GcReport::default();
    let mut referenced: HashSet<String> = HashSet::new();
    let mut garbage: Vec<(String, u64, bool)> = Vec::new();
    for space in &spaces {
        match store.load(space, listing) {
            Ok(Some(loaded)) => {
                reference(&loaded.manifest, &mut referenced);
                for stale in loaded.stale {
                    if !store.is_pinned(&stale) {
                        garbage.push((stale.object(), 0, false));
                        continue;
                    }
                    // A durable base kept until the store's close: what it
                    // refers to stays too.
                    match store.load_named(&stale) {
                        Ok(base) => reference(&base, &mut referenced),
                        Err(e) => unreadable(&mut report, space, &e),
                    }
                }
            }
            Ok(None) => {}
            // Unreadable, forged, or of a newer format: nothing of it is
            // touched, and no content object is removed (it might be its).
            Err(
                e @ (SpaceError::BadManifest { .. }
                | SpaceError::Unauthenticated { .. }
                | SpaceError::NewerFormat { .. }),
            ) => unreadable(&mut report, space, &e),
            Err(e) => return Err(e),
        }
    }
    for (name, size) in listing {
        let Some(sha) = parse_blob_name(name) else {
            continue;
        };
        if referenced.contains(sha) {
            report.objects_kept += 1;
        } else if report.unreadable_spaces.is_empty() {
            garbage.push((name.clone(), *size, true));
        } else {
            report.objects_kept += 1;
        }
    }
    let names: Vec<&str> = garbage.iter().map(|(n, _, _)| n.as_str()).collect();
    store.backend.delete_list(&names)?;
    for (name, size, blob) in &garbage {
        if *blob {
            report.objects_removed += 1;
            report.bytes_removed += size;
            if let Some(sha) = parse_blob_name(name) {
                store.blobs.forget(sha);
            }
        } else {
            report.manifests_removed += 1;
        }
    }
    if !garbage.is_empty() {
        log::info!(
            "gc on {}: removed {} objects ({} bytes) and {} old manifests",
            store.url,
            report.objects_removed,
            report.bytes_removed,
            report.manifests_removed
        );
    }
    Ok((report, garbage.into_iter().map(|(n, _, _)| n).collect()))
}

/// Adds every content object `manifest` refers to.
fn reference(manifest: &Manifest, referenced: &mut HashSet<String>) {
    for entry in manifest.entries.values() {
        for node in std::iter::once(&entry.root).chain(&entry.tree) {
            if let Some((sha, _)) = node.data.content() {
                referenced.insert(sha.to_string());
            }
        }
    }
}

fn unreadable(report: &mut GcReport, space: &str, e: &SpaceError) {
    log::warn!("gc: {e}; content objects are kept");
    if !report.unreadable_spaces.iter().any(|s| s == space) {
        report.unreadable_spaces.push(space.to_string());
    }
}

/// Garbage collection when the store is ours alone; errors are logged.
pub(crate) fn collect_quietly(store: &StoreInner, except: Option<&str>) {
    match store.exclusively(except, |listing| collect(store, listing)) {
        Ok(Some(_)) => {}
        Ok(None) => log::debug!("gc on {} skipped: the store is in use", store.url),
        Err(e) => log::warn!("gc on {} failed: {e}", store.url),
    }
}
