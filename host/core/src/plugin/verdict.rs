//! A probe's conclusion about a plugin file: what the probe child reports,
//! the probe cache stores and the registry acts on.

use serde::{Deserialize, Serialize};

use super::info::Handler;

/// What a probe concluded about a file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The file loads as a plugin with this name and version, and
    /// declared these handlers (checked as for any loaded plugin), so a
    /// command can know which plugin serves a scheme without loading any.
    Accepted {
        /// Plugin name.
        name: String,
        /// Plugin version.
        version: String,
        /// Its one line.
        description: String,
        /// Schemes it opens.
        schemes: Vec<Handler>,
        /// Prefixes it opens.
        prefixes: Vec<Handler>,
    },
    /// The file must not be loaded, and why.
    Rejected {
        /// The reason.
        reason: String,
    },
}
