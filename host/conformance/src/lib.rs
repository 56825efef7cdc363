//! The conformance kit: the checks of `stowage test URL`, as a library.
//!
//! [`run`] opens a URL through a [`Registry`] and checks that the backend
//! behind it keeps the backend contract: byte-exact put and get from 0 B to
//! 64 MiB, atomic replacement, exact listings, not-found semantics, delete/query/move and their host
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

#![deny(missing_docs)]

mod check;
mod checks;
mod context;
mod data;
mod describe;
mod expect;
mod filter;
mod listing;
mod options;
mod report;
mod run;
mod runner;
mod stop;

pub use options::{CheckInfo, Options};
pub use report::{CheckResult, Outcome, Report};

// What a plugin author needs besides the kit to load the plugin under test,
// so that `stowage-conformance` is their only dev-dependency.
pub use stowage::plugin::LoadOptions;
pub use stowage::{Error, Registry, SearchPath};

use check::Check;

/// Every check, in the order a run performs them.
pub fn catalogue() -> Vec<CheckInfo> {
    checks::CHECKS.iter().map(Check::info).collect()
}

/// The checks `options.only` selects, in run order (empty when the
/// pattern matches no id).
pub fn selection(options: &Options) -> Vec<CheckInfo> {
    runner::selected(options)
        .into_iter()
        .map(Check::info)
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
