//! `[plugin.NAME]` tables: settings for one plugin, by the name its
//! descriptor gives (`stowage plugins` shows it).
//!
//! ```toml
//! [plugin.sftp]
//! isolate = "always"
//! ```
//!
//! `isolate` is `never`, `untrusted` or `always`, as `--isolate` (which,
//! like `STOWAGE_ISOLATE`, overrides every plugin's setting).

use std::collections::BTreeMap;

use serde::Deserialize;

/// One `[plugin.NAME]` table.
#[derive(Clone, Debug, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct PluginSection {
    /// How this plugin runs: in process or isolated.
    #[serde(default)]
    pub isolate: Option<IsolateSetting>,
}

/// The values of `isolate`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IsolateSetting {
    /// In process.
    Never,
    /// As the default policy: isolated unless from a system directory.
    Untrusted,
    /// Isolated.
    Always,
}

impl IsolateSetting {
    /// The word, as `--isolate` takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Never => "never",
            Self::Untrusted => "untrusted",
            Self::Always => "always",
        }
    }
}

/// Every `[plugin.NAME]` table, by plugin name.
pub type PluginSections = BTreeMap<String, PluginSection>;

/// The plugins with an `isolate` setting, and the setting's word.
pub fn isolation_settings(sections: &PluginSections) -> BTreeMap<String, &'static str> {
    sections
        .iter()
        .filter_map(|(name, s)| Some((name.clone(), s.isolate?.as_str())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::*;

    #[test]
    fn plugin_tables_parse_and_bad_values_are_named() {
        let config = Config::from_text(
            "[plugin.sftp]\nisolate = \"always\"\n[plugin.file]\nisolate = \"never\"\n[plugin.s3]\n",
        )
        .unwrap();
        let settings = isolation_settings(config.plugins());
        assert_eq!(settings.get("sftp"), Some(&"always"));
        assert_eq!(settings.get("file"), Some(&"never"));
        assert_eq!(settings.get("s3"), None);
        let err = Config::from_text("[plugin.sftp]\nisolate = \"sometimes\"\n").unwrap_err();
        assert!(err.contains("sometimes"), "{err}");
        let err = Config::from_text("[plugin.sftp]\nisolated = \"always\"\n").unwrap_err();
        assert!(err.contains("isolated"), "{err}");
    }
}
