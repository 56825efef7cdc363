//! Finding, checking and loading plugin files, and the registry of their
//! schemes and prefixes.

mod elf;
mod loader;
mod registry;
mod search_path;
mod services;

pub use elf::check_shared_object;
pub use loader::{Handler, PluginInfo};
pub use registry::{Conflict, Registry, Rejected};
pub use search_path::{SearchPath, PLUGIN_PATH_ENV};
