//! What every command needs: the loaded plugins, the retry policy and how
//! to print.

use stowage::{Backend, Error, Registry, RetryPolicy};

/// What every command needs.
pub struct Context {
    pub registry: Registry,
    pub policy: RetryPolicy,
    pub json: bool,
    /// Draw progress bars (stderr is a terminal and no `-q`).
    pub progress: bool,
}

impl Context {
    /// Opens `url` with the retry policy of this run.
    pub fn open(&self, url: &str) -> Result<Backend, Error> {
        Ok(self.registry.open(url)?.with_retry(self.policy))
    }
}
