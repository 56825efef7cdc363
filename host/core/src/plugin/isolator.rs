//! The interface through which plugins run out of process (implemented
//! outside the host library, by `stowage-isolate`).

use std::path::Path;

use stowage_backend_api::abi::{BackendObject, HostObject};
use stowage_backend_api::{BackendError, Descriptor};

use super::info::PluginInfo;

/// Runs plugins out of process.
pub trait Isolator: Send + Sync + std::fmt::Debug {
    /// Whether the plugin in `file` (absolute) must run isolated.
    fn isolates(&self, file: &Path) -> bool;

    /// The plugin's descriptor, obtained without loading it here.
    fn describe(&self, file: &Path) -> Result<Descriptor, String>;

    /// Opens a backend through the plugin `plugin` out of process, as the
    /// ABI's `open` would. `host` serves the plugin's host calls (logs,
    /// progress, a prefix plugin's inner backend).
    fn open(
        &self,
        plugin: &PluginInfo,
        handler: &str,
        as_prefix: bool,
        url: &str,
        host: HostObject,
    ) -> Result<BackendObject, BackendError>;
}
