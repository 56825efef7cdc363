//! The plugin's tokio runtime.

use std::future::Future;
use std::sync::OnceLock;

use stowage_backend_api::{BackendError, Result};
use tokio::runtime::Runtime;

/// One per plugin library: this crate is linked statically into each
/// plugin, so every `cdylib` gets its own copy of the static.
static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// Worker threads: enough to keep a few transfers and their TLS/SSH crypto
/// busy, few enough not to crowd the host's own threads.
fn workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(2, 4)
}

/// The plugin's runtime, started on first use.
///
/// # Errors
/// Generic, when the OS refuses the threads.
pub fn runtime() -> Result<&'static Runtime> {
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers())
        .thread_name("stowage-net")
        .enable_all()
        .build()
        .map_err(|e| BackendError::from_io(&e, "starting the network runtime"))?;
    // Two first callers may race; the loser's runtime is dropped here,
    // outside any async context, which is allowed.
    Ok(RUNTIME.get_or_init(|| rt))
}

/// Runs `fut` to completion on the calling thread, inside the plugin's
/// runtime. Must not be called from async code (the backend API never is).
///
/// # Errors
/// When the runtime cannot start.
pub fn block_on<F: Future>(fut: F) -> Result<F::Output> {
    Ok(runtime()?.block_on(fut))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_runtime_shared_by_threads() {
        let a = runtime().unwrap() as *const Runtime as usize;
        let b = std::thread::spawn(|| runtime().unwrap() as *const Runtime as usize)
            .join()
            .unwrap();
        assert_eq!(a, b);
        assert_eq!(block_on(async { 7 }).unwrap(), 7);
    }
}
