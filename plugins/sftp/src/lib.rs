#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod auth;
mod backend;
mod config;
mod connection;
mod errors;
mod host_key;
mod known_hosts;
mod store;
mod stream;
mod transfer;

use stowage_backend_api::{export_plugin, Backend, Descriptor, Host, OpenRequest, Plugin, Result};

/// The plugin's registration.
pub struct SftpPlugin;

impl Plugin for SftpPlugin {
    fn descriptor() -> Descriptor {
        Descriptor::new(
            "sftp",
            env!("CARGO_PKG_VERSION"),
            "objects as files in a directory on an SSH server (SFTP)",
        )
        .scheme(
            "sftp",
            "sftp://[USER@]HOST[:PORT]/rel/dir or //abs/dir \
             [?identity=FILE&known_hosts=FILE&host_key=strict|accept-new&timeout=60s]",
        )
    }

    fn open(request: OpenRequest<'_>, host: &Host) -> Result<Box<dyn Backend>> {
        let config = config::SftpConfig::from_url(request.url)?;
        Ok(Box::new(store::SftpStore::new(config, host.progress())))
    }
}

export_plugin!(SftpPlugin);
