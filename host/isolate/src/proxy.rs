//! The host-side backend object of an isolated plugin: every ABI call
//! becomes one request to the child; a dead child becomes a retryable
//! error, and the next call starts a new one.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{ROption, RResult, RSlice, RStr, RVec};
use stowage::put_query::{self, PutQueryV1, PutQueryV1_TO};
use stowage_backend_api::abi::{ListEntry, RawBackend};
use stowage_backend_api::{BackendError, ErrorCode, Extension};
use stowage_location_ext::abi::{self as location, LocationV1_TO};
use stowage_peer_ext::abi::{self as peer, PeerV1_TO};
use stowage_stream_ext::abi::{self as stream, StreamV1_TO};
use stowage_xorriso_ext::abi::{self as xorriso, XorrisoV1, XorrisoV1_TO};

use crate::link::Link;
use crate::protocol::{Answer, ExtCall, Op};
use crate::remote_ops::{self, unexpected};
use crate::remote_peer::RemotePeer;
use crate::remote_stream::{RemoteLocation, RemoteStream};

/// The backend object the host holds.
pub(crate) struct IsolatedBackend {
    pub(crate) link: Arc<Link>,
}

impl std::ops::Deref for IsolatedBackend {
    type Target = Link;
    fn deref(&self) -> &Link {
        &self.link
    }
}

impl RawBackend for IsolatedBackend {
    fn put(&self, local: RSlice<'_, u8>, name: RStr<'_>) -> RResult<(), BackendError> {
        remote_ops::put(&*self.link, local, name)
    }

    fn get(&self, name: RStr<'_>, local: RSlice<'_, u8>) -> RResult<(), BackendError> {
        remote_ops::get(&*self.link, name, local)
    }

    fn list(&self) -> RResult<RVec<ListEntry>, BackendError> {
        remote_ops::list(&*self.link)
    }

    fn delete(&self, name: RStr<'_>) -> RResult<(), BackendError> {
        remote_ops::delete(&*self.link, name)
    }

    fn delete_list(&self, list: RSlice<'_, RStr<'_>>) -> RResult<(), BackendError> {
        remote_ops::delete_list(&*self.link, list)
    }

    fn query(&self, name: RStr<'_>) -> RResult<ROption<u64>, BackendError> {
        remote_ops::query(&*self.link, name)
    }

    fn query_list(&self, list: RSlice<'_, RStr<'_>>) -> RResult<RVec<ROption<u64>>, BackendError> {
        remote_ops::query_list(&*self.link, list)
    }

    /// The child gets a descriptor and hands the backend a staged copy to
    /// move in; the host removes the local file after success.
    fn move_in(&self, local: RSlice<'_, u8>, name: RStr<'_>) -> RResult<(), BackendError> {
        remote_ops::move_in(&*self.link, local, name)
    }

    fn retry_cleanup(&self) -> RResult<(), BackendError> {
        remote_ops::unit(&*self.link, Op::RetryCleanup, &[]).into()
    }

    fn close(&self) -> RResult<(), BackendError> {
        let closed = remote_ops::unit(&*self.link, Op::Close, &[]);
        if self.lost_writes.load(Ordering::Acquire) {
            return RResult::RErr(BackendError::new(
                ErrorCode::GENERIC,
                format!(
                    "plugin {} ({}) died after acknowledging writes that no close had committed yet; they may be lost or not durable: check the store",
                    self.plugin.name,
                    self.plugin.file.display()
                ),
            ));
        }
        closed.into()
    }

    /// `stowage.xorriso/1` and `stowage.peer/1` cross, when the backend in
    /// the child offers them.
    fn extension(&self, id: RStr<'_>) -> ROption<Extension> {
        let id = id.as_str();
        if id == put_query::ID {
            // The proxy's own: every child can query after a put.
            let object: put_query::PutQueryObject = PutQueryV1_TO::from_value(
                RemotePutQuery {
                    link: self.link.clone(),
                },
                TD_Opaque,
            );
            return ROption::RSome(Extension::new(object));
        }
        let crosses = [xorriso::ID, peer::ID, stream::ID, location::ID];
        if !crosses.contains(&id) {
            return ROption::RNone;
        }
        // Offered here exactly when the plugin's backend offers it.
        match self.call_ext(ExtCall::Offers { id: id.to_string() }) {
            Ok(Answer::Offers(true)) => ROption::RSome(self.remote_extension(id)),
            _ => ROption::RNone,
        }
    }
}

impl IsolatedBackend {
    /// The host's object for extension `id` (one of those that cross).
    fn remote_extension(&self, id: &str) -> Extension {
        let link = self.link.clone();
        match id {
            xorriso::ID => {
                let object: xorriso::XorrisoObject =
                    XorrisoV1_TO::from_value(RemoteXorriso { link }, TD_Opaque);
                Extension::new(object)
            }
            stream::ID => {
                let object: stream::StreamObject =
                    StreamV1_TO::from_value(RemoteStream { link }, TD_Opaque);
                Extension::new(object)
            }
            location::ID => {
                let object: location::LocationObject =
                    LocationV1_TO::from_value(RemoteLocation { link }, TD_Opaque);
                Extension::new(object)
            }
            _ => {
                let object: peer::PeerObject =
                    PeerV1_TO::from_value(RemotePeer { link }, TD_Opaque);
                Extension::new(object)
            }
        }
    }
}

/// `stowage.put-query/1`: the child queries right after the put, so the
/// host's size check costs no second round trip.
struct RemotePutQuery {
    link: Arc<Link>,
}

impl PutQueryV1 for RemotePutQuery {
    fn put_then_query(
        &self,
        local: RSlice<'_, u8>,
        name: RStr<'_>,
    ) -> RResult<RResult<ROption<u64>, BackendError>, BackendError> {
        remote_ops::put_then_query(&*self.link, local, name)
    }
}

/// `stowage.xorriso/1` of a backend in a child.
struct RemoteXorriso {
    link: Arc<Link>,
}

impl XorrisoV1 for RemoteXorriso {
    fn info(&self) -> RResult<xorriso::IsoInfo, BackendError> {
        match self.link.call_ext(ExtCall::XorrisoInfo) {
            Ok(Answer::IsoInfo(i)) => RResult::ROk(i.into()),
            Ok(other) => RResult::RErr(unexpected("info", &other)),
            Err(e) => RResult::RErr(e),
        }
    }

    fn compact(&self) -> RResult<xorriso::CompactReport, BackendError> {
        match self.link.call_ext(ExtCall::XorrisoCompact) {
            Ok(Answer::Compacted {
                bytes_before,
                bytes_after,
            }) => RResult::ROk(xorriso::CompactReport {
                bytes_before,
                bytes_after,
            }),
            Ok(other) => RResult::RErr(unexpected("compact", &other)),
            Err(e) => RResult::RErr(e),
        }
    }
}

/// Dropping the backend ends its child (which closes the backend if
/// nobody did); an extension object still held afterwards would start a
/// new one.
impl Drop for IsolatedBackend {
    fn drop(&mut self) {
        let live = self.live.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(live) = live {
            live.shut_down(self.ctx.options.op_timeout);
        }
    }
}
