//! Whether the listed location exists, through `stowage.location/1`: a
//! mistyped path and an empty store both list nothing, and only the
//! backend can tell them apart.

use stowage::Backend;
use stowage_location_ext::Location;

/// `Some(exists)` when the backend can tell, `None` when it offers no
/// `stowage.location/1` or its answer failed (logged: the listing itself
/// succeeded, so this is no reason to fail `ls`).
pub fn exists(backend: &Backend) -> Option<bool> {
    let location = match Location::lookup(|id| backend.extension_as(id)) {
        Ok(location) => location?,
        Err(e) => {
            log::warn!(
                "{}: unusable {}: {e}",
                backend.url(),
                stowage_location_ext::ID
            );
            return None;
        }
    };
    match location.exists() {
        Ok(exists) => Some(exists),
        Err(e) => {
            log::debug!("{}: cannot tell whether it exists: {e}", backend.url());
            None
        }
    }
}
