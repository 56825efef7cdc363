//! The types that cross the ABI under `stowage.descriptor/1`, frozen once
//! shipped. Callers use [`crate::Descriptor`] instead.

use abi_stable::sabi_trait;
use abi_stable::std_types::{RBox, RResult, RStr};

use stowage_backend_api::BackendError;

/// The id of this extension.
pub const ID: &str = "stowage.descriptor/1";

/// Puts from descriptors.
#[sabi_trait]
pub trait DescriptorV1: Send + Sync {
    /// Stores what the file open as `fd` holds from its current position
    /// to its end (the position moves; the caller keeps the descriptor and
    /// closes it) as object `name`, with `put`'s guarantees. Returns the
    /// bytes stored.
    #[sabi(last_prefix_field)]
    fn put_from(&self, name: RStr<'_>, fd: i32) -> RResult<u64, BackendError>;
}

/// The object travelling under [`ID`].
pub type DescriptorObject = DescriptorV1_TO<'static, RBox<()>>;
