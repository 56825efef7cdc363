//! How a run is configured, and how a check is named in the catalogue.

use std::path::PathBuf;
use std::time::Duration;

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
    ///
    /// Default: derived from the URL under test on its text, whatever the
    /// scheme: the path segment `<run token>absent` is appended to the
    /// location (before any `?query`; not for a URL with a `#fragment`).
    /// For every URL form whose path names a place that holds objects (a
    /// directory, a key prefix, a directory inside an image) that is a
    /// location nobody has created. The derived location is only listed,
    /// never written. When the backend refuses to open the derived URL,
    /// its URL form has no such sub-locations and the check is skipped,
    /// naming the derived URL; a URL given here must open and list empty.
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

/// A check's id and title, as [`catalogue`](crate::catalogue) lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CheckInfo {
    /// Stable id, e.g. `get.missing-is-not-found`.
    pub id: &'static str,
    /// What the check verifies, in one line.
    pub title: &'static str,
}
