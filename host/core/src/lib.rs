//! The stowage host: loads backend plugins and gives every backend the same
//! guarantees.
//!
//! The `stowage` command is a thin layer over this library, so a tool that
//! embeds it gets exactly the command's behaviour:
//!
//! ```no_run
//! use std::path::Path;
//! use stowage::{Registry, SearchPath, RetryPolicy};
//!
//! # fn main() -> Result<(), stowage::Error> {
//! let registry = Registry::load(&SearchPath::resolve(Vec::new()));
//! let backend = registry.open("file:///srv/backups")?.with_retry(RetryPolicy::default());
//! backend.put(Path::new("/tmp/volume1.tar"), "volume1.tar")?;
//! for (name, size) in backend.list()? {
//!     println!("{size} {name}");
//! }
//! backend.close()?; // the durability barrier: report its errors
//! # Ok(())
//! # }
//! ```
//!
//! What the host adds on top of a plugin (see [`Backend`]): object names
//! are validated before any plugin call; operations are retried when, and
//! only when, the plugin marks an error retryable, with exponential backoff
//! and jitter and `retry_cleanup` in between; optional operations a backend
//! lacks fall back to required ones; a put is checked against the size the
//! backend reports; credentials in URLs never reach messages.

#![deny(missing_docs)]

mod backend;
mod error;
mod names;
pub mod plugin;
pub mod progress;
pub mod put_query;
mod redact;
mod retry;
mod target;

pub use backend::Backend;
pub use error::{Error, Result, UnknownHandler};
pub use names::{validate_name, MAX_NAME_BYTES};
pub use plugin::{Registry, SearchPath};
pub use redact::redact_url;
pub use retry::RetryPolicy;
pub use stowage_backend_api::{BackendError, ErrorCode, ABI_VERSION};
pub use target::Target;
