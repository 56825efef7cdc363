//! `stowage.peer/1` across the process boundary, the host's half: the
//! extension object of an isolated backend.
//!
//! The indicators live in the collect directory (the store): the backend's
//! own child answers them. `stage` writes to a target directory the URL
//! does not name, so each stage runs in a child of its own, started for
//! the call with that directory writable, and ended after it.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use abi_stable::std_types::{ROption, RResult, RSlice, RStr};
use stowage_backend_api::BackendError;
use stowage_peer_ext::abi::{
    FailedEntry, Ownership, PeerV1, SkippedEntry, StageReport, StagedFile,
};

use crate::link::Link;
use crate::protocol::{Answer, ExtCall, WireOwner};
use crate::remote_ops::unexpected;

fn wire_owner(o: Ownership) -> WireOwner {
    WireOwner {
        uid: o.uid.into_option(),
        gid: o.gid.into_option(),
    }
}

/// The host's half: the extension object of an isolated backend.
pub(crate) struct RemotePeer {
    pub(crate) link: Arc<Link>,
}

impl PeerV1 for RemotePeer {
    fn stage(
        &self,
        target_dir: RSlice<'_, u8>,
        o: Ownership,
        mode: ROption<u32>,
    ) -> RResult<StageReport, BackendError> {
        // The plugin judges the path as given (the child shares the host's
        // working directory); confinement needs it absolute.
        let given = PathBuf::from(std::ffi::OsStr::from_bytes(target_dir.as_slice()));
        let target = std::path::absolute(&given).unwrap_or_else(|_| given.clone());
        let writable = target
            .ancestors()
            .find(|a| a.exists())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| target.clone());
        let call = ExtCall::PeerStage {
            target_dir: given.as_os_str().as_bytes().to_vec(),
            owner: wire_owner(o),
            mode: mode.into_option(),
        };
        match self.link.call_ext_in_own_child(call, writable) {
            Ok(Answer::Staged(r)) => RResult::ROk(StageReport {
                copied: r.copied,
                bytes: r.bytes,
                staged: r
                    .staged
                    .into_iter()
                    .map(|(name, bytes)| StagedFile {
                        name: name.into(),
                        bytes,
                    })
                    .collect(),
                skipped: r
                    .skipped
                    .into_iter()
                    .map(|(name, reason)| SkippedEntry {
                        name: name.into(),
                        reason: reason.into(),
                    })
                    .collect(),
                failed: r
                    .failed
                    .into_iter()
                    .map(|(name, error)| FailedEntry {
                        name: name.into(),
                        error: error.into(),
                    })
                    .collect(),
                error: r.error.map(BackendError::from).into(),
            }),
            Ok(other) => RResult::RErr(unexpected("stage", &other)),
            Err(e) => RResult::RErr(e),
        }
    }

    fn check_collect_indicator(&self, name: RStr<'_>) -> RResult<bool, BackendError> {
        match self.link.call_ext(ExtCall::PeerCheckIndicator {
            name: name.to_string(),
        }) {
            Ok(Answer::Flag(present)) => RResult::ROk(present),
            Ok(other) => RResult::RErr(unexpected("check_collect_indicator", &other)),
            Err(e) => RResult::RErr(e),
        }
    }

    fn write_stage_indicator(
        &self,
        name: RStr<'_>,
        o: Ownership,
        mode: ROption<u32>,
    ) -> RResult<(), BackendError> {
        match self.link.call_ext(ExtCall::PeerWriteIndicator {
            name: name.to_string(),
            owner: wire_owner(o),
            mode: mode.into_option(),
        }) {
            Ok(Answer::Done) => RResult::ROk(()),
            Ok(other) => RResult::RErr(unexpected("write_stage_indicator", &other)),
            Err(e) => RResult::RErr(e),
        }
    }
}
