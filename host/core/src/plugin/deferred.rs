//! A plugin the registry knows from its cached probe verdict (name and
//! handlers), loaded into this process only when a URL first needs it: a
//! command opening `file://` does not pay for loading every network plugin
//! on the search path.

use std::cell::Cell;
use std::sync::{Mutex, OnceLock, PoisonError};

use stowage_backend_api::abi::{HostObject, PluginModule_Ref};

use super::loaded::Runs;
use super::loader::load;
use super::trust::PluginFile;

/// The vetted, still open file of a plugin not loaded yet.
///
/// Invariant: `file` is the descriptor that was trust-checked and whose
/// probe verdict was accepted; it is loaded through that descriptor only,
/// at most once.
pub(crate) struct Deferred {
    file: Mutex<Option<PluginFile>>,
    loaded: OnceLock<Result<PluginModule_Ref, String>>,
}

impl Deferred {
    /// Holds `file` until it is needed.
    pub(crate) fn new(file: PluginFile) -> Self {
        Self {
            file: Mutex::new(Some(file)),
            loaded: OnceLock::new(),
        }
    }

    /// The plugin's module, loaded now (with every check of the loader and
    /// its `init` given `host`) on the first call; later calls get the
    /// same module, or the same reason it could not be loaded.
    pub(crate) fn module(&self, host: &HostObject) -> Result<PluginModule_Ref, String> {
        // A plugin's `init` that opens a backend would come back here
        // (its own file: a deadlock), as it could not when every plugin
        // was loaded while the registry was built.
        if LOADING.get() {
            return Err("no backend can be opened while a plugin loads".to_string());
        }
        self.loaded
            .get_or_init(|| {
                let file = self
                    .file
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take()
                    .ok_or_else(|| "its file was already handed to the loader".to_string())?;
                LOADING.set(true);
                let loaded = load(file, host);
                LOADING.set(false);
                match loaded?.runs {
                    Runs::InProcess(module) => Ok(module),
                    _ => Err("the loader did not load it in process".to_string()),
                }
            })
            .clone()
    }
}

thread_local! {
    /// Whether this thread is inside a deferred load.
    static LOADING: Cell<bool> = const { Cell::new(false) };
}
