//! The child's half of the backend extensions that cross: each call runs
//! on the plugin's backend and its result goes back as an [`Answer`].

use stowage_backend_api::{BackendError, BackendHandle};
use stowage_location_ext::Location;
use stowage_xorriso_ext::abi as xorriso;

use crate::child_stream::Streams;
use crate::protocol::{Answer, ExtCall};

/// Runs `call` on `backend`.
pub(crate) fn extension_call(
    backend: &BackendHandle,
    streams: &Streams,
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
        call @ (ExtCall::StreamOpenWriter { .. }
        | ExtCall::StreamWrite { .. }
        | ExtCall::StreamCommit { .. }
        | ExtCall::StreamAbort { .. }
        | ExtCall::StreamOpenReader { .. }
        | ExtCall::StreamRead { .. }
        | ExtCall::StreamCloseReader { .. }) => streams.serve(backend, call),
        ExtCall::LocationExists => {
            let location = Location::lookup(|id| backend.extension_as(id))
                .map_err(|e| BackendError::generic(e.to_string()))?
                .ok_or_else(|| BackendError::unsupported(stowage_location_ext::ID))?;
            location.exists().map(Answer::Flag)
        }
        ExtCall::XorrisoInfo => {
            let i = iso()?.info().into_result()?;
            Ok(Answer::IsoInfo(i.into()))
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
