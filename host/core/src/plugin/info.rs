//! What a plugin declared, as the host records it.

use std::path::PathBuf;

/// A scheme or prefix as the host records it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Handler {
    /// Lower-case name.
    pub name: String,
    /// One line from the plugin.
    pub description: String,
}

/// What a loaded plugin declared.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PluginInfo {
    /// Plugin name.
    pub name: String,
    /// Plugin version.
    pub version: String,
    /// One line.
    pub description: String,
    /// The ABI major version it speaks.
    pub abi_version: u32,
    /// The file it came from (absolute).
    pub file: PathBuf,
    /// Schemes it opens.
    pub schemes: Vec<Handler>,
    /// Prefixes it opens.
    pub prefixes: Vec<Handler>,
}
