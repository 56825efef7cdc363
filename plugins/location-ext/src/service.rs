//! [`serve`]: the plugin's side of `stowage.location/1` in plain Rust.

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::RResult;
use stowage_backend_api::extension::guarded;
use stowage_backend_api::{BackendError, Extension};

use crate::abi::{self, LocationV1, LocationV1_TO};

/// What a plugin implements to offer `stowage.location/1`.
pub trait LocationService: Send + Sync + 'static {
    /// See [`crate::Location::exists`].
    fn exists(&self) -> Result<bool, BackendError>;
}

/// `service` as the extension object a backend hands out for
/// [`abi::ID`]; each call runs under the ABI's panic guard.
pub fn serve(service: impl LocationService) -> Extension {
    let object: abi::LocationObject = LocationV1_TO::from_value(Served(service), TD_Opaque);
    Extension::new(object)
}

struct Served<S>(S);

impl<S: LocationService> LocationV1 for Served<S> {
    fn exists(&self) -> RResult<bool, BackendError> {
        guarded("exists", || self.0.exists())
    }
}
