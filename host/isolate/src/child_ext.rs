//! The child's half of the backend extensions that cross: each call runs
//! on the plugin's backend and its result goes back as an [`Answer`].

use stowage_backend_api::{BackendError, BackendHandle};
use stowage_xorriso_ext::abi as xorriso;

use crate::protocol::{Answer, ExtCall, WireIsoInfo};

/// Runs `call` on `backend`.
pub(crate) fn extension_call(
    backend: &BackendHandle,
    call: ExtCall,
) -> Result<Answer, BackendError> {
    let iso = || {
        backend
            .extension_as::<xorriso::XorrisoObject>(xorriso::ID)
            .map_err(|e| BackendError::generic(e.to_string()))?
            .ok_or_else(|| BackendError::unsupported(xorriso::ID))
    };
    match call {
        ExtCall::Offers { id } => Ok(Answer::Offers(backend.extension(&id).is_some())),
        call @ (ExtCall::PeerStage { .. }
        | ExtCall::PeerCheckIndicator { .. }
        | ExtCall::PeerWriteIndicator { .. }) => crate::peer_serve::serve(backend, call),
        ExtCall::XorrisoInfo => {
            let i = iso()?.info().into_result()?;
            Ok(Answer::IsoInfo(WireIsoInfo {
                medium: i.medium.into_string(),
                sessions: i.sessions,
                used_bytes: i.used_bytes,
                free_bytes: i.free_bytes,
                volume_id: i.volume_id.into_string(),
                pending_changes: i.pending_changes,
            }))
        }
        ExtCall::XorrisoCompact => {
            let r = iso()?.compact().into_result()?;
            Ok(Answer::Compacted {
                bytes_before: r.bytes_before,
                bytes_after: r.bytes_after,
            })
        }
    }
}
