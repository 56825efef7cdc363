//! A probe's conclusion about a plugin file: what the probe child reports,
//! the probe cache stores and the registry acts on.

use serde::{Deserialize, Serialize};

/// What a probe concluded about a file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The file loads as a plugin with this name and version.
    Accepted {
        /// Plugin name.
        name: String,
        /// Plugin version.
        version: String,
    },
    /// The file must not be loaded, and why.
    Rejected {
        /// The reason.
        reason: String,
    },
}
