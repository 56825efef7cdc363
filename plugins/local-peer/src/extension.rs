//! `stowage.peer/1`: the peer operations offered across the ABI, through
//! the extension crate's safe [`PeerService`].

use std::path::Path;

use stowage_backend_api::{BackendError, Extension};
use stowage_peer_ext::{
    FailedEntry, Ownership, PeerService, SkippedEntry, StageOutcome, StagedFile,
};

use crate::config::PeerConfig;
use crate::report::StageReport;

/// The extension object: the peer's configuration, nothing else, so it can
/// outlive nothing it depends on.
struct PeerOps {
    config: PeerConfig,
}

/// The extension for `config`.
pub(crate) fn peer_extension(config: &PeerConfig) -> Extension {
    stowage_peer_ext::serve(PeerOps {
        config: config.clone(),
    })
}

fn ownership(owner: Ownership) -> Option<Ownership> {
    (!owner.is_empty()).then_some(owner)
}

fn outcome(report: &StageReport, error: Option<BackendError>) -> StageOutcome {
    let name = |n: &crate::report::EntryName| n.as_os_str().to_os_string();
    StageOutcome {
        copied: report.copied as u64,
        bytes: report.bytes,
        staged: report
            .staged
            .iter()
            .map(|s| StagedFile {
                name: name(&s.name),
                bytes: s.bytes,
            })
            .collect(),
        skipped: report
            .skipped
            .iter()
            .map(|s| SkippedEntry {
                name: name(&s.name),
                reason: s.reason.to_string(),
            })
            .collect(),
        failed: report
            .failed
            .iter()
            .map(|f| FailedEntry {
                name: name(&f.name),
                error: BackendError::new(f.kind.code(), f.message.clone()),
            })
            .collect(),
        error,
    }
}

impl PeerService for PeerOps {
    fn stage(
        &self,
        target_dir: &Path,
        owner: Ownership,
        mode: Option<u32>,
    ) -> Result<StageOutcome, BackendError> {
        match self.config.stage(target_dir, ownership(owner), mode) {
            Ok(report) => Ok(outcome(&report, None)),
            Err(e) => match e.report() {
                Some(report) => {
                    let report = report.clone();
                    Ok(outcome(&report, Some(BackendError::from(e))))
                }
                None => Err(BackendError::from(e)),
            },
        }
    }

    fn check_collect_indicator(&self, name: &str) -> Result<bool, BackendError> {
        Ok(self.config.check_collect_indicator(Some(name))?)
    }

    fn write_stage_indicator(
        &self,
        name: &str,
        owner: Ownership,
        mode: Option<u32>,
    ) -> Result<(), BackendError> {
        Ok(self
            .config
            .write_stage_indicator(Some(name), ownership(owner), mode)?)
    }
}
