//! [`serve`]: the plugin's side of `stowage.xorriso/1` in plain Rust.

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::RResult;
use stowage_backend_api::extension::guarded;
use stowage_backend_api::{BackendError, Extension};

use crate::abi::{self, CompactReport, IsoInfo, XorrisoV1, XorrisoV1_TO};
use crate::info::MediumInfo;

/// What a plugin implements to offer `stowage.xorriso/1`; the methods mean
/// what [`crate::Xorriso`]'s do.
pub trait XorrisoService: Send + Sync + 'static {
    /// See [`crate::Xorriso::info`].
    fn info(&self) -> Result<MediumInfo, BackendError>;

    /// See [`crate::Xorriso::compact`].
    fn compact(&self) -> Result<CompactReport, BackendError>;
}

/// `service` as the extension object a backend hands out for
/// [`abi::ID`]; each call runs under the ABI's panic guard.
pub fn serve(service: impl XorrisoService) -> Extension {
    let object: abi::XorrisoObject = XorrisoV1_TO::from_value(Served(service), TD_Opaque);
    Extension::new(object)
}

struct Served<S>(S);

impl<S: XorrisoService> XorrisoV1 for Served<S> {
    fn info(&self) -> RResult<IsoInfo, BackendError> {
        guarded("info", || self.0.info().map(IsoInfo::from))
    }

    fn compact(&self) -> RResult<CompactReport, BackendError> {
        guarded("compact", || self.0.compact())
    }
}
