//! Finding, checking and loading plugin files, and the registry of their
//! schemes and prefixes.

mod cache;
mod deferred;
mod elf;
mod info;
mod isolation;
mod isolator;
mod loaded;
mod loader;
mod probe;
mod registry;
mod search_path;
mod services;
mod trust;
mod verdict;

pub use cache::default_cache_file;
pub use elf::check_shared_object;
pub use info::{Handler, PluginInfo};
pub use isolation::{load_for_child, ChildPlugin};
pub use isolator::Isolator;
pub use probe::{probe_main, Prober};
pub use registry::{Conflict, LoadOptions, Registry, Rejected};
pub use search_path::{
    Environment, Found, Origin, SearchPath, SearchedDir, PLUGIN_PATH_ENV, PLUGIN_SYSTEM_PATH_ENV,
};
pub use trust::check_trusted;
pub use verdict::Verdict;
