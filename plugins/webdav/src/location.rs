//! `stowage.location/1` for the `webdav` backend: the collection answers a
//! `PROPFIND` with `Depth: 0` as a collection.
//!
//! The backend offers no `stowage.stream/1`: see the README.

use stowage_backend_api::{Extension, Result};
use stowage_location_ext::LocationService;
use stowage_net_common::block_on;

use crate::config::DavConfig;
use crate::dav::Dav;

/// The extension `id` for the collection of `cfg`.
pub fn extension(id: &str, cfg: &DavConfig) -> Option<Extension> {
    if id != stowage_location_ext::ID {
        return None;
    }
    match Dav::new(cfg.clone()) {
        Ok(dav) => Some(stowage_location_ext::serve(DavLocation(dav))),
        Err(e) => {
            log::debug!("webdav: no location extension: {e}");
            None
        }
    }
}

struct DavLocation(Dav);

impl LocationService for DavLocation {
    fn exists(&self) -> Result<bool> {
        block_on(self.0.is_collection(&self.0.cfg.base))?
    }
}
