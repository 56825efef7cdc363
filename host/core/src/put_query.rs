//! `stowage.put-query/1`: a put whose answer also carries what a query of
//! the object said right after it.
//!
//! The host checks every put by querying the object's size afterwards
//! ([`crate::Backend::put`]). Where each call to the backend is a round
//! trip of its own, the check doubles the put's latency. A backend that
//! can run the query right after the put, on its side of the trip, offers
//! this extension, and the host checks the size it answers instead of
//! asking again. The proxy of an isolated plugin offers it: its child runs
//! the plugin's query after the put and sends both outcomes in one reply.
//!
//! The host takes it only from the isolation proxy of the outermost
//! handler, never from a plugin. A prefix plugin that hands its inner
//! backend's extensions on (as a careless one might) would otherwise give
//! the host the inner backend's put, and every put would bypass the prefix
//! (an encrypting one, say). Nothing is gained in process anyway: there a
//! query costs a function call.
//!
//! Whoever offers it must report what `query` would have said, from the
//! same backend, after the put succeeded: the host relies on it exactly as
//! on a query.

// What `#[sabi_trait]` generates.
#![allow(non_camel_case_types, non_local_definitions)]

use abi_stable::sabi_trait;
use abi_stable::std_types::{RBox, ROption, RResult, RSlice, RStr};
use stowage_backend_api::{BackendError, ExtensionRef};

/// The id of this extension.
pub const ID: &str = "stowage.put-query/1";

/// A put followed by a query of the same object, in one call.
#[sabi_trait]
pub trait PutQueryV1: Send + Sync {
    /// `put(local, name)`, then, once it succeeded, `query(name)`. The
    /// outer error is the put's; the inner result is the query's
    /// (`unsupported` when the backend cannot query).
    #[sabi(last_prefix_field)]
    fn put_then_query(
        &self,
        local: RSlice<'_, u8>,
        name: RStr<'_>,
    ) -> RResult<RResult<ROption<u64>, BackendError>, BackendError>;
}

/// The object travelling under [`ID`].
pub type PutQueryObject = PutQueryV1_TO<'static, RBox<()>>;

/// The extension as [`crate::Backend`] holds it.
pub(crate) type PutQuery = ExtensionRef<PutQueryObject>;
