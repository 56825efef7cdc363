//! `stowage.peer/1`: the peer operations across the ABI.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{ROption, RResult, RSlice, RStr};
use stowage_backend_api::ext::peer::{self, PeerV1, PeerV1_TO};
use stowage_backend_api::extension::guarded;
use stowage_backend_api::{BackendError, Extension};

use crate::config::PeerConfig;
use crate::error::PeerError;
use crate::ownership::Ownership;
use crate::plugin::error_code;
use crate::report::StageReport;

/// The extension object: the peer's configuration, nothing else, so it can
/// outlive nothing it depends on.
struct PeerOps {
    config: PeerConfig,
}

/// The extension for `config`.
pub(crate) fn peer_extension(config: &PeerConfig) -> Extension {
    let object: peer::PeerObject = PeerV1_TO::from_value(
        PeerOps {
            config: config.clone(),
        },
        TD_Opaque,
    );
    Extension::new(object)
}

fn ownership(owner: peer::Ownership) -> Option<Ownership> {
    let o = Ownership {
        uid: owner.uid.into_option(),
        gid: owner.gid.into_option(),
    };
    (!o.is_empty()).then_some(o)
}

fn report_for_abi(report: &StageReport, error: Option<BackendError>) -> peer::StageReport {
    peer::StageReport {
        copied: report.copied as u64,
        bytes: report.bytes,
        staged: report
            .staged
            .iter()
            .map(|s| peer::StagedFile {
                name: s.name.as_bytes().into(),
                bytes: s.bytes,
            })
            .collect(),
        skipped: report
            .skipped
            .iter()
            .map(|s| peer::SkippedEntry {
                name: s.name.as_bytes().into(),
                reason: s.reason.to_string().into(),
            })
            .collect(),
        failed: report
            .failed
            .iter()
            .map(|f| peer::FailedEntry {
                name: f.name.as_bytes().into(),
                error: BackendError::new(error_code(f.kind), f.message.clone()),
            })
            .collect(),
        error: error.into(),
    }
}

impl PeerV1 for PeerOps {
    fn stage(
        &self,
        target_dir: RSlice<'_, u8>,
        owner: peer::Ownership,
        mode: ROption<u32>,
    ) -> RResult<peer::StageReport, BackendError> {
        guarded("stage", || {
            let target = Path::new(OsStr::from_bytes(target_dir.as_slice()));
            match self
                .config
                .stage(target, ownership(owner), mode.into_option())
            {
                Ok(report) => Ok(report_for_abi(&report, None)),
                Err(e) => match e.report() {
                    Some(report) => {
                        let report = report.clone();
                        Ok(report_for_abi(&report, Some(BackendError::from(e))))
                    }
                    None => Err(BackendError::from(e)),
                },
            }
        })
    }

    fn check_collect_indicator(&self, name: RStr<'_>) -> RResult<bool, BackendError> {
        guarded("check_collect_indicator", || {
            self.config
                .check_collect_indicator(Some(name.as_str()))
                .map_err(BackendError::from)
        })
    }

    fn write_stage_indicator(
        &self,
        name: RStr<'_>,
        owner: peer::Ownership,
        mode: ROption<u32>,
    ) -> RResult<(), BackendError> {
        guarded("write_stage_indicator", || {
            self.config
                .write_stage_indicator(Some(name.as_str()), ownership(owner), mode.into_option())
                .map_err(|e: PeerError| BackendError::from(e))
        })
    }
}
