//! The hook through which plugins run out of process.
//!
//! The host library does not know how a plugin is isolated; an embedding
//! program (the CLI, through the `stowage-isolate` crate) hands the registry
//! an [`Isolator`]. For every plugin file that passed vetting the registry
//! asks [`Isolator::isolates`]; an isolated plugin is never `dlopen`ed in
//! this process: its descriptor comes from [`Isolator::describe`] and every
//! backend it opens comes from [`Isolator::open`].
//!
//! The child process, in turn, loads the one plugin file in-process with
//! [`load_for_child`] and opens backends through it.

use std::path::Path;

use abi_stable::std_types::RStr;
use stowage_backend_api::abi::{BackendObject, HostObject};
use stowage_backend_api::BackendError;

use super::info::PluginInfo;
use super::isolator::Isolator;
use super::loaded::{LoadedPlugin, Runs};
use super::loader::{check_descriptor, load};
use super::trust::PluginFile;

/// The registry entry of an isolated plugin: the descriptor checked as for
/// a loaded one, no code of the file run in this process.
pub(crate) fn describe_isolated(
    file: &Path,
    isolator: &std::sync::Arc<dyn Isolator>,
) -> Result<LoadedPlugin, String> {
    let path = std::path::absolute(file).map_err(|e| format!("bad path: {e}"))?;
    let descriptor = isolator.describe(&path)?;
    let info = check_descriptor(descriptor, path)?;
    Ok(LoadedPlugin {
        info,
        runs: Runs::Isolated(isolator.clone()),
    })
}

/// Opens a backend through `plugin`, wherever it runs.
pub(crate) fn open_through(
    plugin: &LoadedPlugin,
    handler: &str,
    as_prefix: bool,
    url: &str,
    host: HostObject,
) -> Result<BackendObject, BackendError> {
    let module = match &plugin.runs {
        Runs::InProcess(module) => *module,
        Runs::Deferred(deferred) => deferred.module(&host).map_err(|reason| {
            BackendError::generic(format!(
                "plugin file {} could not be loaded: {reason}",
                plugin.info.file.display()
            ))
        })?,
        Runs::Isolated(isolator) => {
            return isolator.open(&plugin.info, handler, as_prefix, url, host)
        }
    };
    (module.open())(
        RStr::from_str(handler),
        as_prefix,
        RStr::from_str(url),
        host,
    )
    .into_result()
}

/// One plugin loaded in the isolation child (never in the host).
pub struct ChildPlugin {
    plugin: LoadedPlugin,
}

/// Loads `path` in this process with every check of the in-process loader;
/// `host` is what the plugin's `init` and backends see as the host.
pub fn load_for_child(path: &Path, host: &HostObject) -> Result<ChildPlugin, String> {
    // The host vetted this file (trust walk and probe) before it chose to
    // isolate it; the child opens it once and loads that descriptor.
    let file = PluginFile::open(path, false)?;
    load(file, host).map(|plugin| ChildPlugin { plugin })
}

impl ChildPlugin {
    /// What the plugin declared.
    pub fn info(&self) -> &PluginInfo {
        &self.plugin.info
    }

    /// Opens a backend (the ABI's `open`).
    pub fn open(
        &self,
        handler: &str,
        as_prefix: bool,
        url: &str,
        host: HostObject,
    ) -> Result<BackendObject, BackendError> {
        open_through(&self.plugin, handler, as_prefix, url, host)
    }
}

impl Runs {
    /// "in process" or "isolated", for listings.
    pub(crate) fn mode(&self) -> &'static str {
        match self {
            Runs::InProcess(_) | Runs::Deferred(_) => "in-process",
            Runs::Isolated(_) => "isolated",
        }
    }
}
