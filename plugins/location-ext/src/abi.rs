//! The types that cross the ABI under `stowage.location/1`, frozen once
//! shipped. Callers use [`crate::Location`] instead.

use abi_stable::sabi_trait;
use abi_stable::std_types::{RBox, RResult};

use stowage_backend_api::BackendError;

/// The id of this extension.
pub const ID: &str = "stowage.location/1";

/// What a backend can tell about its location.
#[sabi_trait]
pub trait LocationV1: Send + Sync {
    /// Whether the location (the store directory, the bucket and prefix,
    /// the directory inside an image) exists now. A location that a first
    /// `put` would create does not exist yet.
    #[sabi(last_prefix_field)]
    fn exists(&self) -> RResult<bool, BackendError>;
}

/// The object travelling under [`ID`].
pub type LocationObject = LocationV1_TO<'static, RBox<()>>;
