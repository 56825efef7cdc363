//! Runs stowage plugins out of process.
//!
//! An isolated plugin is never loaded into the host. Each backend opened
//! through it lives in a child process (`stowage __serve-plugin`, the same
//! binary) that speaks a small framed protocol over a socket pair: every
//! ABI v1 operation crosses it, local files cross as file descriptors, the
//! plugin's log records and progress reports are forwarded, and a prefix
//! plugin's inner backend is opened and served by the host. The child runs
//! in its own process group, dies with the host, has no new privileges,
//! resource limits, and (where the kernel offers Landlock) reaches only
//! what its URL names. A child that dies or hangs fails only the operation
//! it was running, as a retryable error; the next attempt starts a new one.
//!
//! Wire it into the host library with [`Isolation`] as
//! [`LoadOptions::isolator`](stowage::plugin::LoadOptions), and call
//! [`serve_main`] from the executable's hidden `__serve-plugin` mode. See
//! docs/isolation.md for the protocol, the descriptors and the threat model.

#![deny(missing_docs)]

mod child;
mod child_conn;
mod child_ext;
mod child_host;
mod child_pool;
mod child_stream;
mod confine;
mod demux;
mod execute;
mod files;
pub mod frame;
mod host_calls;
mod isolation;
mod isolator;
mod link;
mod live;
mod peer_serve;
pub mod protocol;
mod proxy;
mod remote_ops;
mod remote_peer;
mod remote_stream;
mod spawn;
mod streamed;

pub use child::serve_main;
pub use isolation::{Isolation, Options, Policy, DEATHS_BEFORE_BROKEN};
pub use live::process_umask;
pub use protocol::SOCKET_ENV;
pub use spawn::{Limits, User};
