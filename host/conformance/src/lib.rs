//! The conformance kit: the checks of `stowage test URL`, as a library.
//!
//! [`run`] opens a URL through a [`Registry`] and checks that the backend
//! behind it keeps the backend contract (the conformance behaviours 1–40;
//! each check's title names the ones it covers, as `§N`): byte-exact put and get from 0 B to 64 MiB, atomic replacement,
//! exact listings, not-found semantics, delete/query/move and their host
//! fallbacks, awkward names, refused names, error codes and retries,
//! concurrency from 8 threads, close and reopen. It works with our plugins,
//! prefix chains and third-party plugins alike.
//!
//! Hygiene: every object a run creates has a name containing a fresh random
//! token (`stowage-conf-<8 hex>-`); after each check the run deletes what
//! that check created, and the final check `hygiene.cleanup` sweeps the
//! token, closes the backend and verifies through a newly opened one that
//! nothing of the run is left and that the objects that were there before
//! are untouched. Names without the token are never written or deleted, so
//! a run can point at a location in use, and two runs in a row both pass.
//!
//! A check that needs an optional operation the backend lacks (`query`,
//! `delete_list`, `move_in`...) is skipped with the reason, after the host's
//! fallback for it has been exercised. Checks that cannot be provoked in an
//! arbitrary backend (a transient error, a panic) are skipped with the
//! reason too.
//!
//! # Running the conformance checks from `cargo test`
//!
//! A backend author can run exactly what `stowage test` runs from their own
//! test suite, against the `.so` their build produced. `cargo test` does not
//! build a crate's `cdylib` for its integration tests, so run `cargo build
//! --lib` first (or from the test), and point the registry at a directory
//! holding only that plugin (the trust check refuses group-writable files):
//!
//! ```no_run
//! use std::path::PathBuf;
//! use stowage_conformance::{self as conformance, Options, Outcome, Registry, SearchPath};
//!
//! # fn main() -> Result<(), stowage_conformance::Error> {
//! // The directory holding the plugin's .so (built by `cargo build --lib`).
//! let plugins = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/debug");
//! let registry = Registry::load(&SearchPath::resolve(vec![plugins]));
//! let dir = tempfile::tempdir().expect("temporary directory");
//! let url = format!("myscheme://{}", dir.path().display());
//!
//! // `quick` skips the 64 MiB round trip; `only` takes the same patterns
//! // as `stowage test --only`.
//! let options = Options { quick: true, ..Options::default() };
//! let report = conformance::run(&registry, &url, &options)?;
//! for result in &report {
//!     if result.outcome != Outcome::Pass {
//!         eprintln!("{result}");
//!     }
//! }
//! assert!(report.is_success(), "{}", report.summary());
//! # Ok(())
//! # }
//! ```
//!
//! [`catalogue`] lists every check id with its title; the ids are stable.

mod checks;
mod context;
mod data;
mod filter;
mod report;
mod runner;

use std::path::PathBuf;
use std::time::Duration;

pub use report::{CheckResult, Outcome, Report};

// What a plugin author needs besides the kit to load the plugin under test,
// so that `stowage-conformance` is their only dev-dependency.
pub use stowage::plugin::LoadOptions;
pub use stowage::{Error, Registry, SearchPath};

use stowage::RetryPolicy;

/// How a run is done.
#[derive(Clone, Debug)]
pub struct Options {
    /// Skip the slow checks: the 64 MiB round trip and the 100,000-name
    /// listing (reported as skipped).
    pub quick: bool,
    /// Also run `list.many-100000` (100,000 puts, a listing, 100,000
    /// deletes). Off by default; `quick` wins.
    pub large: bool,
    /// Run only the checks whose id matches: comma-separated alternatives,
    /// each a glob with `*` and `?` (matching the whole id) or else a
    /// substring. `None` runs everything.
    pub only: Option<String>,
    /// Where local scratch files go (a fresh directory is made inside).
    /// Default: the system's temporary directory.
    pub scratch_dir: Option<PathBuf>,
    /// A URL of a location that does not exist, for `list.empty-location`.
    /// Default: derived from the URL under test for the path-like schemes
    /// `file` and `local-peer` (a fresh subdirectory); otherwise the check
    /// is skipped.
    pub empty_url: Option<String>,
    /// The retry policy of the backend under test. Default: 3 attempts with
    /// 1–10 ms pauses, so that retryable errors are retried (as in real use)
    /// and a permanent error retried by mistake shows up quickly as more
    /// than one attempt.
    pub retry: RetryPolicy,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            quick: false,
            large: false,
            only: None,
            scratch_dir: None,
            empty_url: None,
            retry: RetryPolicy::new(3, Duration::from_millis(1), Duration::from_millis(10))
                .unwrap_or_else(|_| RetryPolicy::once()),
        }
    }
}

/// A check's id and title, as [`catalogue`] lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CheckInfo {
    /// Stable id, e.g. `get.missing-is-not-found`.
    pub id: &'static str,
    /// What the check verifies, in one line.
    pub title: &'static str,
}

/// Every check, in the order a run performs them.
pub fn catalogue() -> Vec<CheckInfo> {
    checks::CHECKS.iter().map(runner::Check::info).collect()
}

/// The checks `options.only` selects, in run order (empty when the
/// pattern matches no id).
pub fn selection(options: &Options) -> Vec<CheckInfo> {
    runner::selected(options)
        .into_iter()
        .map(runner::Check::info)
        .collect()
}

/// Runs the selected checks against `url` and returns the report. Checks
/// run one after the other, in [`catalogue`] order.
///
/// # Errors
/// Only when the run cannot start: `options.only` matches no check
/// ([`Error::InvalidInput`]), the URL cannot be opened (the error
/// [`Registry::open`] gives), or the scratch directory cannot be made.
/// Everything the backend does wrong is a failed check in the report.
pub fn run(registry: &Registry, url: &str, options: &Options) -> Result<Report, Error> {
    run_with(registry, url, options, |_| {})
}

/// [`run`], calling `on_result` with each result as soon as its check has
/// finished (for progress output).
///
/// # Errors
/// As [`run`].
pub fn run_with(
    registry: &Registry,
    url: &str,
    options: &Options,
    mut on_result: impl FnMut(&CheckResult),
) -> Result<Report, Error> {
    runner::run(registry, url, options, &mut on_result)
}
