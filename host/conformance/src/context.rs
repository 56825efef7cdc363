//! What a check works with: the backend under test, names under the run's
//! prefix, local scratch files, and small helpers that turn observations
//! into verdicts.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use stowage_backend_api::BackendHandle;

use super::data::Content;
use super::Options;
use stowage::{Backend, BackendError, Error, ErrorCode, Registry};

/// Why a check stopped before passing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The backend broke the contract.
    Fail(String),
    /// The check cannot run against this backend or with these options.
    Skip(String),
}

/// A check's answer: `Ok(detail)` for a pass (the detail may be empty).
pub(crate) type Verdict = Result<String, Stop>;

/// Fails the check with a formatted message.
macro_rules! fail {
    ($($arg:tt)*) => {
        return Err($crate::context::Stop::Fail(format!($($arg)*)))
    };
}

/// Skips the check with a formatted reason.
macro_rules! skip {
    ($($arg:tt)*) => {
        return Err($crate::context::Stop::Skip(format!($($arg)*)))
    };
}

/// Fails the check unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($arg:tt)*) => {
        if !$cond {
            fail!($($arg)*);
        }
    };
}

pub(crate) use {ensure, fail, skip};

/// Turns any error into a failure that says what was being done.
pub(crate) trait OrFail<T> {
    fn or_fail(self, what: impl Display) -> Result<T, Stop>;
}

impl<T, E: Display> OrFail<T> for Result<T, E> {
    fn or_fail(self, what: impl Display) -> Result<T, Stop> {
        self.map_err(|e| Stop::Fail(format!("{what}: {e}")))
    }
}

/// `not found (52)`.
pub(crate) fn code_text(code: ErrorCode) -> String {
    format!("{} ({})", code.name(), code.0)
}

/// A host error with its code: `not found (52): message`.
pub(crate) fn error_text(e: &Error) -> String {
    format!("{}: {e}", code_text(e.code()))
}

/// A plugin error with its code and retryable flag.
pub(crate) fn raw_error_text(e: &BackendError) -> String {
    let retry = if e.is_retryable() { ", retryable" } else { "" };
    format!("{}{retry}: {}", code_text(e.code()), e.message())
}

/// A query answer in words: `missing`, `N bytes`, or the error.
pub(crate) trait Said {
    fn said(&self) -> String;
}

impl Said for Option<u64> {
    fn said(&self) -> String {
        match self {
            Some(size) => format!("{size} bytes"),
            None => "missing".into(),
        }
    }
}

impl Said for Result<Option<u64>, Error> {
    fn said(&self) -> String {
        match self {
            Ok(answer) => answer.said(),
            Err(e) => format!("error {}", error_text(e)),
        }
    }
}

impl Said for Result<Option<u64>, BackendError> {
    fn said(&self) -> String {
        match self {
            Ok(answer) => answer.said(),
            Err(e) => format!("error {}", raw_error_text(e)),
        }
    }
}

/// How many attempts the host made for `e` (1 when no plugin call was
/// made or the error is not an operation's).
pub(crate) fn attempts(e: &Error) -> u32 {
    match e {
        Error::Backend { attempts, .. } => *attempts,
        _ => 1,
    }
}

/// `(name, size)` pairs as a map, failing on a name listed twice.
pub(crate) fn unique<'a>(
    entries: impl IntoIterator<Item = (&'a str, u64)>,
) -> Result<BTreeMap<String, u64>, Stop> {
    let mut map = BTreeMap::new();
    for (name, size) in entries {
        if map.insert(name.to_string(), size).is_some() {
            fail!("list returned {name:?} more than once");
        }
    }
    Ok(map)
}

/// Compares what list showed of ours with what we expect, naming the first
/// few differences.
pub(crate) fn compare_listing(
    got: &BTreeMap<String, u64>,
    want: &BTreeMap<String, u64>,
) -> Result<(), Stop> {
    let mut problems = Vec::new();
    for (name, size) in want {
        match got.get(name) {
            None => problems.push(format!("{name:?} missing")),
            Some(s) if s != size => {
                problems.push(format!("{name:?} has size {s}, expected {size}"))
            }
            Some(_) => {}
        }
    }
    for name in got.keys().filter(|n| !want.contains_key(*n)) {
        problems.push(format!("unexpected {name:?}"));
    }
    if problems.is_empty() {
        return Ok(());
    }
    let more = problems.len().saturating_sub(5);
    problems.truncate(5);
    let tail = if more > 0 {
        format!(" (and {more} more)")
    } else {
        String::new()
    };
    fail!("list does not match: {}{tail}", problems.join("; "))
}

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
    fn release(&self) {
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

    /// The context of one check: its names start with
    /// `<token><check id>_`, its local files live in `dir`.
    pub(crate) fn ctx(&self, id: &str, dir: PathBuf) -> Ctx<'_, 'a> {
        Ctx {
            run: self,
            scope: format!("{}{id}_", self.token),
            dir,
        }
    }

    pub(crate) fn scratch(&self) -> &Path {
        &self.scratch
    }

    fn next(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::Relaxed)
    }

    fn record(&self, name: &str) {
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

/// What one check sees.
pub(crate) struct Ctx<'r, 'a> {
    run: &'r Run<'a>,
    scope: String,
    dir: PathBuf,
}

impl<'r, 'a> Ctx<'r, 'a> {
    /// The backend under test, with the host's layers.
    pub(crate) fn backend(&self) -> &Backend {
        &self.run.backend
    }

    /// The same backend without the host's layers.
    pub(crate) fn raw(&self) -> &BackendHandle {
        self.run.backend.raw()
    }

    pub(crate) fn registry(&self) -> &Registry {
        self.run.registry
    }

    pub(crate) fn url(&self) -> &str {
        self.run.url
    }

    pub(crate) fn options(&self) -> &Options {
        self.run.options
    }

    pub(crate) fn run(&self) -> &Run<'a> {
        self.run
    }

    /// The run's token, contained in every name the run creates.
    pub(crate) fn token(&self) -> &str {
        &self.run.token
    }

    /// The check's name prefix: `<token><id>_`.
    pub(crate) fn scope(&self) -> &str {
        &self.scope
    }

    /// A name of this check: `<scope><suffix>`, recorded for cleanup.
    pub(crate) fn name(&self, suffix: &str) -> String {
        self.lead_name("", suffix)
    }

    /// `<lead><scope><suffix>`, for names that must start with something
    /// other than the prefix (a leading `-` or `.`), recorded for cleanup.
    pub(crate) fn lead_name(&self, lead: &str, suffix: &str) -> String {
        let name = format!("{lead}{}{suffix}", self.scope);
        self.run.record(&name);
        name
    }

    /// Records a name built by hand (it must contain the scope).
    pub(crate) fn record(&self, name: &str) {
        debug_assert!(name.contains(&self.scope));
        self.run.record(name);
    }

    /// Fresh content of `size` bytes, different from every other content
    /// of the run.
    pub(crate) fn content(&self, size: u64) -> Content {
        Content::new(
            self.run.seed_base ^ self.run.next().wrapping_mul(0x2545_F491_4F6C_DD1D),
            size,
        )
    }

    /// A path in the scratch directory that does not exist yet.
    pub(crate) fn path(&self, what: &str) -> PathBuf {
        self.dir.join(format!("{what}-{}", self.run.next()))
    }

    /// A new empty local directory.
    pub(crate) fn dir(&self, what: &str) -> Result<PathBuf, Stop> {
        let dir = self.path(what);
        std::fs::create_dir_all(&dir).or_fail(format!("creating {}", dir.display()))?;
        Ok(dir)
    }

    /// A new local file holding `content`.
    pub(crate) fn file(&self, content: Content) -> Result<PathBuf, Stop> {
        let path = self.path("src");
        content
            .write_to(&path)
            .or_fail(format!("writing local file {}", path.display()))?;
        Ok(path)
    }

    /// Puts `content` as `name` through the host, from a local file that is
    /// removed afterwards.
    pub(crate) fn put(&self, name: &str, content: Content) -> Result<(), Stop> {
        let file = self.file(content)?;
        let result = self.backend().put(&file, name);
        let _ = std::fs::remove_file(&file);
        match result {
            Ok(_) => Ok(()),
            Err(e) => fail!("{} ({} bytes)", error_text(&e), content.size),
        }
    }

    /// Gets `name` through `backend` into a fresh local file and checks it
    /// holds exactly `content`.
    pub(crate) fn get_verify_with(
        &self,
        backend: &Backend,
        name: &str,
        content: Content,
    ) -> Result<(), Stop> {
        let local = self.path("got");
        let result = backend.get(name, &local);
        let verdict = match result {
            Ok(_) => content
                .verify(&local)
                .map_err(|e| Stop::Fail(format!("get of {name:?}: {e}"))),
            Err(e) => Err(Stop::Fail(error_text(&e))),
        };
        let _ = std::fs::remove_file(&local);
        verdict
    }

    /// [`Ctx::get_verify_with`] on the backend under test.
    pub(crate) fn get_verify(&self, name: &str, content: Content) -> Result<(), Stop> {
        self.get_verify_with(self.backend(), name, content)
    }

    /// This check's objects as listed by the backend (names containing the
    /// scope), failing on duplicates.
    pub(crate) fn ours(&self) -> Result<BTreeMap<String, u64>, Stop> {
        self.ours_in(self.backend())
    }

    /// [`Ctx::ours`] through another backend.
    pub(crate) fn ours_in(&self, backend: &Backend) -> Result<BTreeMap<String, u64>, Stop> {
        let entries = backend
            .list()
            .map_err(|e| Stop::Fail(format!("list: {}", error_text(&e))))?;
        unique(
            entries
                .iter()
                .filter(|(n, _)| n.contains(&self.scope))
                .map(|(n, s)| (n.as_str(), *s)),
        )
    }

    /// Checks that list shows exactly `want` of this check's names.
    pub(crate) fn expect_listing(&self, want: &BTreeMap<String, u64>) -> Result<(), Stop> {
        compare_listing(&self.ours()?, want)
    }

    /// A newly opened backend on the same URL, with the run's retry policy.
    /// A location that admits one open backend at a time (`in use`) gets
    /// the backend under test closed first.
    pub(crate) fn fresh_backend(&self) -> Result<Backend, Stop> {
        match self.open_releasing(|| self.registry().open(self.url())) {
            Ok(b) => Ok(b.with_retry(self.options().retry)),
            Err(e) => fail!("opening the URL again: {}", error_text(&e)),
        }
    }

    /// Runs `open`; when it answers `in use`, closes the backend under test
    /// (reopened after the check) and runs it again.
    pub(crate) fn open_releasing<T>(
        &self,
        open: impl Fn() -> Result<T, Error>,
    ) -> Result<T, Error> {
        match open() {
            Err(e) if e.code() == ErrorCode::IN_USE && !self.released() => {
                self.run.release();
                open()
            }
            other => other,
        }
    }

    /// Whether this check had to close the backend under test.
    pub(crate) fn released(&self) -> bool {
        self.run.released.load(Ordering::Acquire)
    }

    /// Whether the raw handle answers "unsupported" for an operation.
    pub(crate) fn unsupported<T>(result: &Result<T, BackendError>) -> bool {
        matches!(result, Err(e) if e.is_unsupported())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_comparison_names_differences() {
        let want: BTreeMap<String, u64> = [("a".to_string(), 1), ("b".to_string(), 2)].into();
        assert!(compare_listing(&want, &want).is_ok());
        let got: BTreeMap<String, u64> = [("a".to_string(), 3), ("c".to_string(), 2)].into();
        let Err(Stop::Fail(msg)) = compare_listing(&got, &want) else {
            panic!("expected a failure");
        };
        assert!(msg.contains("\"a\" has size 3, expected 1"), "{msg}");
        assert!(msg.contains("\"b\" missing"), "{msg}");
        assert!(msg.contains("unexpected \"c\""), "{msg}");
    }

    #[test]
    fn duplicates_fail() {
        assert!(unique([("a", 1), ("b", 1)]).is_ok());
        assert!(matches!(unique([("a", 1), ("a", 1)]), Err(Stop::Fail(_))));
    }

    #[test]
    fn verdict_macros() {
        fn check(x: u32) -> Verdict {
            ensure!(x != 1, "x is {x}");
            if x == 2 {
                skip!("two");
            }
            Ok(String::new())
        }
        assert_eq!(check(1), Err(Stop::Fail("x is 1".into())));
        assert_eq!(check(2), Err(Stop::Skip("two".into())));
        assert_eq!(check(3), Ok(String::new()));
        let r: Result<(), std::io::Error> = Err(std::io::Error::other("boom"));
        assert_eq!(r.or_fail("doing"), Err(Stop::Fail("doing: boom".into())));
    }
}
