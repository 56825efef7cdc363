//! ABI glue: the `local-peer` scheme as a stowage plugin.
//!
//! A backend opened on `local-peer://NAME/collect/dir` stores objects as the
//! regular files of the collect directory, through
//! `stowage_fs_common::LocalStore` (atomic put/get, temporary files hidden,
//! durability barrier at close). The peer operations (stage, indicators)
//! cross the ABI as the `stowage.peer/1` extension (`extension.rs`).

use std::path::Path;

use stowage_backend_api::{
    export_plugin, Backend, BackendError, Descriptor, Host, OpenRequest, Plugin, Result,
};
use stowage_fs_common::{Durability, LocalStore};

use crate::config::{PeerConfig, SCHEME};

/// The plugin's registration.
pub struct LocalPeerPlugin;

impl Plugin for LocalPeerPlugin {
    fn descriptor() -> Descriptor {
        Descriptor::new(
            "local-peer",
            env!("CARGO_PKG_VERSION"),
            "Cedar Backup local peer: a collect directory on this machine",
        )
        .scheme(
            SCHEME,
            "local-peer://NAME/abs/collect/dir [?ignore_failure=none|all|daily|weekly&allow_hardlinks=yes|no&changed=fail|skip]",
        )
    }

    fn open(request: OpenRequest<'_>, host: &Host) -> Result<Box<dyn Backend>> {
        if request.as_prefix {
            return Err(BackendError::invalid_input(format!(
                "{SCHEME} is a scheme, not a prefix"
            )));
        }
        let config = PeerConfig::from_url(request.url)?;
        Ok(Box::new(
            PeerBackend::new(config).with_progress(host.progress()),
        ))
    }
}

export_plugin!(LocalPeerPlugin);

/// A backend over a peer's collect directory.
#[derive(Debug)]
pub struct PeerBackend {
    config: PeerConfig,
    store: LocalStore,
}

impl PeerBackend {
    /// Does not touch the disk: the collect directory is created on the
    /// first put, as a peer's collect run would.
    pub fn new(config: PeerConfig) -> Self {
        let store = LocalStore::new(config.collect_dir.clone(), Durability::Close);
        PeerBackend { config, store }
    }

    /// The same backend, reporting transfer progress to the host.
    pub fn with_progress(mut self, progress: Option<stowage_backend_api::Progress>) -> Self {
        self.store = self.store.with_progress(progress);
        self
    }

    /// The peer this backend was opened for.
    pub fn config(&self) -> &PeerConfig {
        &self.config
    }
}

impl Backend for PeerBackend {
    fn put(&self, local: &Path, name: &str) -> Result<()> {
        self.store.put(local, name)
    }

    fn get(&self, name: &str, local: &Path) -> Result<()> {
        self.store.get(name, local)
    }

    fn list(&self) -> Result<Vec<(String, u64)>> {
        self.store.list()
    }

    fn delete(&self, name: &str) -> Result<()> {
        self.store.delete(name)
    }

    fn delete_list(&self, names: &[&str]) -> Result<()> {
        self.store.delete_list(names)
    }

    fn query(&self, name: &str) -> Result<Option<u64>> {
        self.store.query(name)
    }

    fn query_list(&self, names: &[&str]) -> Result<Vec<Option<u64>>> {
        self.store.query_list(names)
    }

    fn move_in(&self, local: &Path, name: &str) -> Result<()> {
        self.store.move_in(local, name)
    }

    fn retry_cleanup(&self) -> Result<()> {
        self.store.retry_cleanup()
    }

    fn close(&self) -> Result<()> {
        self.store.close()
    }

    fn extension(&self, id: &str) -> Option<stowage_backend_api::Extension> {
        // Stream and location are the collect directory's, as put and get are.
        if id == stowage_peer_ext::ID {
            return Some(crate::extension::peer_extension(&self.config));
        }
        self.store.extension(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ErrorKind, PeerError};
    use std::fs;
    use stowage_backend_api::ErrorCode;

    #[test]
    fn descriptor_names_the_scheme() {
        let d = LocalPeerPlugin::descriptor();
        assert_eq!(d.name.as_str(), "local-peer");
        assert_eq!(d.schemes.len(), 1);
        assert_eq!(d.schemes[0].name.as_str(), "local-peer");
        assert!(d.prefixes.is_empty());
    }

    #[test]
    fn error_codes() {
        let e = BackendError::from(PeerError::invalid("ignore_failure", "x", "bad"));
        assert_eq!(e.code(), ErrorCode::INVALID_INPUT);
        assert!(!e.is_retryable());
        assert_eq!(e.message(), "invalid ignore_failure \"x\": bad");
        let e = BackendError::from(PeerError::Io {
            op: "open",
            path: "/x".into(),
            source: std::io::Error::from_raw_os_error(libc::EACCES),
        });
        assert_eq!(e.code(), ErrorCode::PERMISSION_DENIED);
        assert_eq!(e.os_error(), libc::EACCES);
        assert_eq!(
            e.message(),
            PeerError::Io {
                op: "open",
                path: "/x".into(),
                source: std::io::Error::from_raw_os_error(libc::EACCES),
            }
            .to_string()
        );
        let e = BackendError::from(PeerError::DirectoryNotFound {
            what: "collect directory",
            path: "/c".into(),
        });
        assert_eq!(e.code(), ErrorCode::NOT_FOUND);
        assert_eq!(e.os_error(), 0);
        assert_eq!(ErrorKind::NoSpace.code(), ErrorCode::NO_SPACE);
    }

    #[test]
    fn backend_stores_in_the_collect_dir() {
        let root = tempfile::tempdir().unwrap();
        let collect = root.path().join("collect");
        let url = format!("local-peer://Peer{}", collect.display());
        let backend = PeerBackend::new(PeerConfig::from_url(&url).unwrap());
        assert_eq!(backend.config().name, "Peer");
        // A collect directory that does not exist yet lists empty.
        assert_eq!(backend.list().unwrap(), vec![]);
        let local = root.path().join("local");
        fs::write(&local, b"payload").unwrap();
        backend.put(&local, "vol1.difftar").unwrap();
        assert_eq!(fs::read(collect.join("vol1.difftar")).unwrap(), b"payload");
        assert_eq!(
            backend.list().unwrap(),
            vec![("vol1.difftar".to_string(), 7)]
        );
        assert_eq!(backend.query("vol1.difftar").unwrap(), Some(7));
        let back = root.path().join("back");
        backend.get("vol1.difftar", &back).unwrap();
        assert_eq!(fs::read(&back).unwrap(), b"payload");
        backend.delete("vol1.difftar").unwrap();
        assert_eq!(backend.query("vol1.difftar").unwrap(), None);
        backend.close().unwrap();
    }
}
