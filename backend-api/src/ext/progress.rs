//! `stowage.progress/1`: a host extension through which a plugin reports
//! how far the current transfer has come, so the host can draw progress.
//!
//! The host answers reports on the thread that called the operation: a
//! plugin reports from inside `put`/`get`/`move_in`, on the calling thread.
//! Reports from other threads are ignored. Reporting is optional and cheap;
//! a host without a display simply drops them.

use abi_stable::std_types::RBox;
use abi_stable::{sabi_trait, StableAbi};

/// The id of this extension.
pub const ID: &str = "stowage.progress/1";

/// How far one object's transfer has come.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transfer {
    /// Bytes of the current object moved so far.
    pub done: u64,
    /// The object's size, 0 when unknown.
    pub total: u64,
}

/// The host's progress sink.
#[sabi_trait]
pub trait ProgressV1: Send + Sync {
    /// Reports the state of the transfer running on this thread.
    #[sabi(last_prefix_field)]
    fn report(&self, transfer: Transfer);
}

/// The object travelling under [`ID`].
pub type ProgressObject = ProgressV1_TO<'static, RBox<()>>;
