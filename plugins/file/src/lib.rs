#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

//! The `file` plugin: objects are regular files in a local directory.
//!
//! The storage rules live in `stowage-fs-common` (shared with `local-peer`);
//! this crate parses its URL and registers the scheme. User documentation:
//! `plugins/file/README.md`.

mod config;

use stowage_backend_api::{export_plugin, Backend, Descriptor, Host, OpenRequest, Plugin, Result};
use stowage_fs_common::LocalStore;

/// The plugin's registration.
pub struct FilePlugin;

impl Plugin for FilePlugin {
    fn descriptor() -> Descriptor {
        Descriptor::new(
            "file",
            env!("CARGO_PKG_VERSION"),
            "objects as regular files in a local directory",
        )
        .scheme(
            "file",
            "file:///abs/dir or file://rel/dir [?fsync=close|each|none]",
        )
    }

    fn open(request: OpenRequest<'_>, host: &Host) -> Result<Box<dyn Backend>> {
        let config = config::FileConfig::from_url(request.url)?;
        let store = LocalStore::new(config.dir, config.durability).with_progress(host.progress());
        Ok(Box::new(store))
    }
}

export_plugin!(FilePlugin);
