#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod config;
mod dav;
mod errors;
mod location;
mod names;
mod netrc;
mod propfind;
mod store;

use stowage_backend_api::{export_plugin, Backend, Descriptor, Host, OpenRequest, Plugin, Result};

/// The plugin's registration.
pub struct WebdavPlugin;

impl Plugin for WebdavPlugin {
    fn descriptor() -> Descriptor {
        let usage = "HOST[:PORT]/PATH [?timeout=60s]; credentials from \
                     STOWAGE_WEBDAV_USER/STOWAGE_WEBDAV_PASSWORD or ~/.netrc";
        Descriptor::new(
            "webdav",
            env!("CARGO_PKG_VERSION"),
            "objects as members of a WebDAV collection",
        )
        .scheme("webdav", &format!("webdav://{usage} (plain HTTP)"))
        .scheme("webdavs", &format!("webdavs://{usage} (HTTPS)"))
    }

    fn open(request: OpenRequest<'_>, host: &Host) -> Result<Box<dyn Backend>> {
        let config = config::DavConfig::from_url(request.url)?;
        Ok(Box::new(store::DavStore::new(config, host.progress())?))
    }
}

export_plugin!(WebdavPlugin);
