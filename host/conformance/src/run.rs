//! The state one run shares between its checks: the backend under test,
//! the run's token, the names created so far, and the cleanup after each
//! check.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use crate::describe::error_text;
use crate::options::Options;
use stowage::{Backend, ErrorCode, Registry};

/// State shared by every check of one run.
pub(crate) struct Run<'a> {
    pub(crate) registry: &'a Registry,
    pub(crate) url: &'a str,
    pub(crate) options: &'a Options,
    pub(crate) backend: Backend,
    /// `stowage-conf-<8 hex>-`: every name the run creates contains it.
    pub(crate) token: String,
    scratch: PathBuf,
    counter: AtomicU64,
    seed_base: u64,
    created: Mutex<BTreeSet<String>>,
    /// The listing before the first check (names of others, to leave
    /// alone), or why it could not be taken.
    pub(crate) snapshot: Result<BTreeMap<String, u64>, String>,
    /// Problems met while cleaning up after checks.
    pub(crate) cleanup_notes: Mutex<Vec<String>>,
    /// Set when a check closed `backend` because the location admits one
    /// open backend at a time (`in use`); [`Run::restore`] reopens it.
    released: AtomicBool,
}

impl<'a> Run<'a> {
    /// Starts a run on `backend`, taking the listing of what was there
    /// before.
    pub(crate) fn new(
        registry: &'a Registry,
        url: &'a str,
        options: &'a Options,
        backend: Backend,
        token: String,
        scratch: PathBuf,
    ) -> Self {
        let snapshot = backend
            .list()
            .map(|entries| entries.into_iter().collect())
            .map_err(|e| error_text(&e));
        Self {
            registry,
            url,
            options,
            backend,
            token,
            scratch,
            counter: AtomicU64::new(0),
            seed_base: rand::random(),
            created: Mutex::new(BTreeSet::new()),
            snapshot,
            cleanup_notes: Mutex::new(Vec::new()),
            released: AtomicBool::new(false),
        }
    }

    /// Reopens the backend under test if a check had to close it; call
    /// between checks.
    pub(crate) fn restore(&mut self) {
        if !self.released.swap(false, Ordering::AcqRel) {
            return;
        }
        match self.registry.open(self.url) {
            Ok(b) => self.backend = b.with_retry(self.options.retry),
            Err(e) => lock(&self.cleanup_notes).push(format!(
                "reopening the backend under test: {}",
                error_text(&e)
            )),
        }
    }

    /// Closes the backend under test so that another backend can open the
    /// same location; [`Run::restore`] reopens it after the check.
    pub(crate) fn release(&self) {
        log::info!(
            "{} admits one open backend at a time; closing the one under test for this check",
            self.backend.url()
        );
        if let Err(e) = self.backend.close() {
            lock(&self.cleanup_notes).push(format!(
                "closing the backend under test to release the location: {}",
                error_text(&e)
            ));
        }
        self.released.store(true, Ordering::Release);
    }

    /// The run's local scratch directory.
    pub(crate) fn scratch(&self) -> &Path {
        &self.scratch
    }

    /// Whether the current check had to close the backend under test.
    pub(crate) fn released(&self) -> bool {
        self.released.load(Ordering::Acquire)
    }

    /// The random seed the run's contents derive from.
    pub(crate) fn seed_base(&self) -> u64 {
        self.seed_base
    }

    /// A number not handed out before in this run.
    pub(crate) fn next(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::Relaxed)
    }

    /// Records `name` as created by the current check, for cleanup.
    pub(crate) fn record(&self, name: &str) {
        lock(&self.created).insert(name.to_string());
    }

    /// Deletes whatever the last check created and left behind. Only names
    /// recorded as created (which all contain the token) are touched.
    pub(crate) fn cleanup_created(&self) {
        let names = std::mem::take(&mut *lock(&self.created));
        if names.is_empty() {
            return;
        }
        // One listing instead of a delete per name that is already gone;
        // names the listing does not show (a backend may hide some) are
        // asked for by query.
        let mut present: Vec<String> = Vec::new();
        let mut unseen: Vec<String> = Vec::new();
        match self.backend.list() {
            Ok(entries) => {
                let listed: BTreeSet<String> = entries.into_iter().map(|(n, _)| n).collect();
                for name in names {
                    if listed.contains(&name) {
                        present.push(name);
                    } else {
                        unseen.push(name);
                    }
                }
            }
            Err(_) => unseen = names.into_iter().collect(),
        }
        if !unseen.is_empty() {
            let refs: Vec<&str> = unseen.iter().map(String::as_str).collect();
            match self.backend.query_list(&refs) {
                Ok(sizes) => present.extend(
                    unseen
                        .iter()
                        .zip(sizes)
                        .filter(|(_, size)| size.is_some())
                        .map(|(n, _)| n.clone()),
                ),
                Err(_) => present.extend(unseen),
            }
        }
        let mut failures = 0usize;
        let total = present.len();
        for name in present {
            if !name.contains(&self.token) {
                continue;
            }
            match self.backend.delete(&name) {
                Ok(()) => {}
                Err(e) if e.code() == ErrorCode::NOT_FOUND => {}
                Err(e) => {
                    log::debug!("conformance cleanup: {e}");
                    failures += 1;
                    lock(&self.cleanup_notes)
                        .push(format!("deleting {name:?}: {}", error_text(&e)));
                    // A backend that refuses every delete is not helped by
                    // thousands more attempts; the final sweep reports it.
                    if failures >= 3 {
                        log::warn!(
                            "conformance cleanup: deletes keep failing; leaving up to {} objects to the final sweep",
                            total
                        );
                        break;
                    }
                }
            }
        }
    }
}

/// Locks `m`, ignoring poisoning: a panicking check must not stop the
/// cleanup.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
