//! `file://` URL parsing.

use std::path::PathBuf;

use stowage_backend_api::location::PathUrl;
use stowage_backend_api::{BackendError, Result};
use stowage_fs_common::Durability;

/// What a `file://` URL asks for.
#[derive(Debug, PartialEq, Eq)]
pub struct FileConfig {
    /// The directory; relative ones are relative to the current directory.
    pub dir: PathBuf,
    /// From `?fsync=`.
    pub durability: Durability,
}

impl FileConfig {
    /// `file:///abs/dir` is absolute, `file://rel/dir` relative, as in
    /// duplicity; `?fsync=close|each|none` picks the durability policy.
    pub fn from_url(url: &str) -> Result<Self> {
        let parsed = PathUrl::parse(url)?;
        let mut params = parsed.params();
        let fsync = params.take_choice("fsync", Durability::PARAM_VALUES)?;
        params.finish()?;
        let dir = parsed.local_path()?;
        let durability = Durability::from_param(fsync.as_deref())
            .ok_or_else(|| BackendError::invalid_input("bad ?fsync= value"))?;
        Ok(Self { dir, durability })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let c = FileConfig::from_url("file:///srv/backups?fsync=each").unwrap();
        assert_eq!(c.dir, PathBuf::from("/srv/backups"));
        assert_eq!(c.durability, Durability::Each);
        let c = FileConfig::from_url("file://Rel/Dir").unwrap();
        assert_eq!(c.dir, PathBuf::from("Rel/Dir"));
        assert_eq!(c.durability, Durability::Close);
        assert!(FileConfig::from_url("file:///x?fsync=sometimes").is_err());
        assert!(FileConfig::from_url("file:///x?speed=1").is_err());
        assert!(FileConfig::from_url("file://").is_err());
    }
}
