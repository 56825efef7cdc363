//! What a plugin says about itself.

use abi_stable::std_types::{RString, RVec};
use abi_stable::StableAbi;

/// One URL scheme (`file`) or prefix (`verify`) a plugin handles.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct HandlerInfo {
    /// The scheme or prefix, lower case. Schemes use RFC 3986 scheme
    /// characters; prefixes the same without `+`. The host validates both.
    pub name: RString,
    /// One line for `stowage plugins`.
    pub description: RString,
}

impl HandlerInfo {
    /// A handler named `name`.
    pub fn new(name: &str, description: &str) -> Self {
        Self {
            name: name.into(),
            description: description.into(),
        }
    }
}

/// The plugin descriptor: who the plugin is and which URLs it handles.
///
/// Invariant: plain data, produced without side effects, identical on every
/// call. The host may cache it between runs (keyed by the plugin file).
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct Descriptor {
    /// Short plugin name, e.g. `file`.
    pub name: RString,
    /// The plugin's own version (semver), independent of the ABI version.
    pub version: RString,
    /// One line saying what the plugin is for.
    pub description: RString,
    /// URL schemes the plugin opens (`scheme://...`).
    pub schemes: RVec<HandlerInfo>,
    /// Prefixes the plugin opens (`prefix+scheme://...`).
    pub prefixes: RVec<HandlerInfo>,
}

impl Descriptor {
    /// A descriptor with no schemes or prefixes yet.
    pub fn new(name: &str, version: &str, description: &str) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            description: description.into(),
            schemes: RVec::new(),
            prefixes: RVec::new(),
        }
    }

    /// Adds a scheme.
    pub fn scheme(mut self, name: &str, description: &str) -> Self {
        self.schemes.push(HandlerInfo::new(name, description));
        self
    }

    /// Adds a prefix.
    pub fn prefix(mut self, name: &str, description: &str) -> Self {
        self.prefixes.push(HandlerInfo::new(name, description));
        self
    }
}
