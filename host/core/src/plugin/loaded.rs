//! A plugin the registry holds, and how it runs.

use stowage_backend_api::abi::PluginModule_Ref;

use super::deferred::Deferred;
use super::info::PluginInfo;
use super::isolator::Isolator;

/// A plugin that passed every check.
///
/// Invariant: `module` belongs to a library that stays loaded for the life
/// of the process (libraries are never unloaded), and its `init` succeeded;
/// a deferred plugin's probe loaded it and accepted it.
#[derive(Clone)]
pub struct LoadedPlugin {
    /// What it declared.
    pub info: PluginInfo,
    pub(crate) runs: Runs,
}

/// How the registry runs one plugin.
#[derive(Clone)]
pub(crate) enum Runs {
    /// Loaded into this process.
    InProcess(PluginModule_Ref),
    /// Described only; opened through the isolator.
    Isolated(std::sync::Arc<dyn Isolator>),
    /// Known from its cached probe verdict; loaded into this process when
    /// first opened.
    Deferred(std::sync::Arc<Deferred>),
}
