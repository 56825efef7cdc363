//! [`serve`]: the plugin's side of `stowage.descriptor/1` in plain Rust.

use std::os::fd::BorrowedFd;

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RResult, RStr};
use stowage_backend_api::extension::guarded;
use stowage_backend_api::{BackendError, Extension};

use crate::abi::{self, DescriptorV1, DescriptorV1_TO};

/// What a plugin implements to offer `stowage.descriptor/1`.
pub trait DescriptorService: Send + Sync + 'static {
    /// See [`crate::Descriptor::put_from`]. `source` is valid for the
    /// call only.
    fn put_from(&self, name: &str, source: BorrowedFd<'_>) -> Result<u64, BackendError>;
}

/// `service` as the extension object a backend hands out for
/// [`abi::ID`]; each call runs under the ABI's panic guard.
pub fn serve(service: impl DescriptorService) -> Extension {
    let object: abi::DescriptorObject = DescriptorV1_TO::from_value(Served(service), TD_Opaque);
    Extension::new(object)
}

struct Served<S>(S);

impl<S: DescriptorService> DescriptorV1 for Served<S> {
    fn put_from(&self, name: RStr<'_>, fd: i32) -> RResult<u64, BackendError> {
        guarded("put_from", || {
            if fd < 0 {
                return Err(BackendError::invalid_input(format!(
                    "put_from: {fd} is not a file descriptor"
                )));
            }
            // SAFETY: the caller lends an open descriptor for this call
            // (the contract of `DescriptorV1::put_from`); it is neither
            // closed nor kept here.
            let source = unsafe { BorrowedFd::borrow_raw(fd) };
            self.0.put_from(name.as_str(), source)
        })
    }
}
