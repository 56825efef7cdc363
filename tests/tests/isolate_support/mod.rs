//! What the isolation tests share: registries whose plugins run isolated
//! (each registry is one "run": its own death counts), driven through the
//! library as a tool embedding stowage would.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use stowage::plugin::{Isolator, LoadOptions};
use stowage::{Registry, RetryPolicy, SearchPath};
use stowage_isolate::{Isolation, Options, Policy};

/// Isolation options for the built `stowage` binary: `policy`, with
/// `system` as the system plugin directories.
pub fn options(policy: Policy, system: &[&Path]) -> Options {
    let mut o = Options::new(
        stowage_tests::stowage_bin(),
        system.iter().map(|p| p.to_path_buf()).collect(),
    );
    o.policy = policy;
    o
}

/// A registry over `dirs` (in that order) with `options`' isolation.
pub fn registry(dirs: &[&Path], options: Options) -> Registry {
    let isolator: Arc<dyn Isolator> = Arc::new(Isolation::new(options));
    Registry::load_with(
        &SearchPath::new(
            dirs.iter()
                .map(|d| d.to_path_buf())
                .collect::<Vec<PathBuf>>(),
        ),
        &LoadOptions {
            isolator: Some(isolator),
            ..LoadOptions::default()
        },
    )
}

/// One attempt, no retry.
pub fn once() -> RetryPolicy {
    RetryPolicy::once()
}

/// `n` attempts with short pauses.
pub fn attempts(n: u32) -> RetryPolicy {
    RetryPolicy::new(n, Duration::from_millis(1), Duration::from_millis(5))
        .unwrap_or_else(|e| panic!("retry policy: {e}"))
}
