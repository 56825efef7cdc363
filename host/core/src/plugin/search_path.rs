//! Where plugins are looked for.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// The environment variable naming plugin directories (colon-separated).
pub const PLUGIN_PATH_ENV: &str = "STOWAGE_PLUGIN_PATH";

/// An ordered list of plugin directories: earlier ones win conflicts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchPath {
    dirs: Vec<PathBuf>,
}

impl SearchPath {
    /// Exactly these directories.
    pub fn new(dirs: Vec<PathBuf>) -> Self {
        Self { dirs }
    }

    /// The directories in effect: `explicit` if non-empty (the CLI's
    /// `--plugin-dir`), else `STOWAGE_PLUGIN_PATH` if set, else the
    /// defaults next to the running executable.
    pub fn resolve(explicit: Vec<PathBuf>) -> Self {
        if !explicit.is_empty() {
            return Self::new(explicit);
        }
        if let Some(value) = std::env::var_os(PLUGIN_PATH_ENV) {
            return Self::from_env_value(&value);
        }
        Self::defaults()
    }

    /// Splits a `STOWAGE_PLUGIN_PATH` value; empty entries are skipped.
    pub fn from_env_value(value: &OsStr) -> Self {
        Self::new(
            std::env::split_paths(value)
                .filter(|p| !p.as_os_str().is_empty())
                .collect(),
        )
    }

    /// `<exe dir>/../lib/stowage/plugins`, then `<exe dir>`: an installed
    /// layout and a cargo target directory both work without flags.
    pub fn defaults() -> Self {
        let Some(exe_dir) = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(Path::to_path_buf))
        else {
            log::warn!("cannot locate the running executable; no default plugin directories");
            return Self::new(Vec::new());
        };
        Self::new(vec![
            exe_dir
                .join("..")
                .join("lib")
                .join("stowage")
                .join("plugins"),
            exe_dir,
        ])
    }

    /// The directories, in priority order.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_value_is_split() {
        let p = SearchPath::from_env_value(OsStr::new("/a::/b"));
        assert_eq!(p.dirs(), [PathBuf::from("/a"), PathBuf::from("/b")]);
    }

    #[test]
    fn explicit_dirs_win() {
        let p = SearchPath::resolve(vec!["/x".into()]);
        assert_eq!(p.dirs(), [PathBuf::from("/x")]);
    }
}
