//! [`serve`]: the plugin's side of `stowage.peer/1` in plain Rust.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{ROption, RResult, RSlice, RStr};
use stowage_backend_api::extension::guarded;
use stowage_backend_api::{BackendError, Extension};

use crate::abi::{self, PeerV1, PeerV1_TO};
use crate::outcome::StageOutcome;
use crate::owner::Ownership;

/// What a plugin implements to offer `stowage.peer/1`; the methods mean
/// what [`crate::Peer`]'s do.
pub trait PeerService: Send + Sync + 'static {
    /// See [`crate::Peer::stage`].
    fn stage(
        &self,
        target_dir: &Path,
        owner: Ownership,
        mode: Option<u32>,
    ) -> Result<StageOutcome, BackendError>;

    /// See [`crate::Peer::check_collect_indicator`].
    fn check_collect_indicator(&self, name: &str) -> Result<bool, BackendError>;

    /// See [`crate::Peer::write_stage_indicator`].
    fn write_stage_indicator(
        &self,
        name: &str,
        owner: Ownership,
        mode: Option<u32>,
    ) -> Result<(), BackendError>;
}

/// `service` as the extension object a backend hands out for
/// [`abi::ID`]; each call runs under the ABI's panic guard.
pub fn serve(service: impl PeerService) -> Extension {
    let object: abi::PeerObject = PeerV1_TO::from_value(Served(service), TD_Opaque);
    Extension::new(object)
}

struct Served<S>(S);

impl<S: PeerService> PeerV1 for Served<S> {
    fn stage(
        &self,
        target_dir: RSlice<'_, u8>,
        owner: abi::Ownership,
        mode: ROption<u32>,
    ) -> RResult<abi::StageReport, BackendError> {
        guarded("stage", || {
            let target = Path::new(OsStr::from_bytes(target_dir.as_slice()));
            self.0
                .stage(target, owner.into(), mode.into_option())
                .map(abi::StageReport::from)
        })
    }

    fn check_collect_indicator(&self, name: RStr<'_>) -> RResult<bool, BackendError> {
        guarded("check_collect_indicator", || {
            self.0.check_collect_indicator(name.as_str())
        })
    }

    fn write_stage_indicator(
        &self,
        name: RStr<'_>,
        owner: abi::Ownership,
        mode: ROption<u32>,
    ) -> RResult<(), BackendError> {
        guarded("write_stage_indicator", || {
            self.0
                .write_stage_indicator(name.as_str(), owner.into(), mode.into_option())
        })
    }
}
