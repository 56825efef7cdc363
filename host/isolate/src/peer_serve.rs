//! `stowage.peer/1` across the process boundary, the child's half: runs a
//! peer call on the plugin's backend (see `remote_peer.rs` for the host's
//! half, and for which child answers which call).

use abi_stable::std_types::{RSlice, RStr};
use stowage_backend_api::{BackendError, BackendHandle};
use stowage_peer_ext::abi::{self as peer, Ownership};

use crate::protocol::{Answer, ExtCall, WireError, WireOwner, WireStageReport};

fn owner(w: WireOwner) -> Ownership {
    Ownership {
        uid: w.uid.into(),
        gid: w.gid.into(),
    }
}

/// The child's half: runs a peer call on the backend.
pub(crate) fn serve(backend: &BackendHandle, call: ExtCall) -> Result<Answer, BackendError> {
    let ext = backend
        .extension_as::<peer::PeerObject>(peer::ID)
        .map_err(|e| BackendError::generic(e.to_string()))?
        .ok_or_else(|| BackendError::unsupported(peer::ID))?;
    match call {
        ExtCall::PeerStage {
            target_dir,
            owner: o,
            mode,
        } => {
            let r = ext
                .stage(RSlice::from_slice(&target_dir), owner(o), mode.into())
                .into_result()?;
            Ok(Answer::Staged(WireStageReport {
                copied: r.copied,
                bytes: r.bytes,
                staged: r
                    .staged
                    .into_iter()
                    .map(|f| (f.name.into_vec(), f.bytes))
                    .collect(),
                skipped: r
                    .skipped
                    .into_iter()
                    .map(|s| (s.name.into_vec(), s.reason.into_string()))
                    .collect(),
                failed: r
                    .failed
                    .into_iter()
                    .map(|f| (f.name.into_vec(), WireError::from(&f.error)))
                    .collect(),
                error: r.error.into_option().map(WireError::from),
            }))
        }
        ExtCall::PeerCheckIndicator { name } => ext
            .check_collect_indicator(RStr::from_str(&name))
            .into_result()
            .map(Answer::Flag),
        ExtCall::PeerWriteIndicator {
            name,
            owner: o,
            mode,
        } => ext
            .write_stage_indicator(RStr::from_str(&name), owner(o), mode.into())
            .into_result()
            .map(|()| Answer::Done),
        other => Err(BackendError::generic(format!("not a peer call: {other:?}"))),
    }
}
