//! Plumbing shared by the stowage network plugins (`sftp`, `webdav`, `s3`).
//!
//! * [`block_on`]: each plugin library owns one multi-threaded tokio runtime,
//!   created on first use and never dropped. The backend API is blocking; a
//!   call enters the runtime with `block_on` on the caller's thread, so the
//!   future driving a transfer runs on that thread (and may report progress,
//!   which the host accepts only there) while sockets are polled by the
//!   runtime's workers. Plugins are never unloaded, so the worker threads
//!   never outlive their code.
//! * [`QueryParamsExt`]: the parameters every network URL shares
//!   (`?timeout=`) and size/duration parsing.
//! * [`LocalTemp`] and [`open_source`]: the local half of `get` and `put`;
//!   [`temp_name`]: the remote temporary name of an upload.
//! * [`Reporter`]: throttled progress reports.
//! * [`delete_each`] and [`query_each`]: many per-object requests in flight
//!   at once, for servers without a batch call.

#![deny(missing_docs)]

mod local;
mod many;
mod names;
mod params;
mod progress;
mod runtime;

pub use local::{open_source, LocalTemp};
pub use many::{delete_each, query_each};
pub use names::temp_name;
pub use params::{parse_duration, parse_size, QueryParamsExt, DEFAULT_TIMEOUT};
pub use progress::Reporter;
pub use runtime::{block_on, runtime};
