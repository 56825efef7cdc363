//! The stable plugin ABI between the `stowage` host and its storage backends.
//!
//! A stowage plugin is a `cdylib` that the host loads at run time. The host
//! and the plugins are built by different people, at different times, with
//! different compilers, so nothing Rust does not promise may cross between
//! them: no `String`, no `Box<dyn Trait>`, no `enum` that might grow, no
//! unwinding panic. This crate defines the one thing that does cross, **ABI
//! v1**, and a safe layer so that plugin authors never see it.
//!
//! # The one design decision: v1 is frozen, growth happens by extension
//!
//! The types in [`abi`] are checked field by field by
//! [abi_stable](https://docs.rs/abi_stable) when a plugin loads. abi_stable
//! lets a *plugin* carry more fields than the host expects, but not fewer:
//! the moment a newer host adds a method to the backend vtable, every older
//! plugin is refused. So the root module, the backend vtable and the host
//! vtable are frozen as they are here, forever. Anything new is an
//! [`Extension`]: a value published under a versioned string id (CLAP-style,
//! `stowage.peer/1`), looked up on the plugin, on a backend or on the host,
//! and layout-checked on its own. A plugin without an extension simply
//! answers `None`; a plugin with an incompatible one loses that extension
//! but still loads. An incompatible change is a new id, never a changed type.
//!
//! The same reasoning gives the error type its shape: an [`ErrorCode`] is an
//! open `u32` with named constants, not an `enum`, so new codes can be added
//! without breaking old plugins; readers treat unknown codes as generic.
//!
//! # Contracts that cross with the types
//!
//! * **Panics never cross.** Every entry point a plugin exports is generated
//!   by [`export_plugin!`] and runs under `catch_unwind`. A panic becomes an
//!   error with code [`ErrorCode::PANIC`] and the panic message; the backend
//!   is then poisoned (later calls fail with the same code) and the host
//!   keeps running. Plugins must be built with `panic = "unwind"` (the
//!   default); the root module records it and the host refuses the others.
//! * **Thread safety.** [`Backend`] is `Send + Sync` and its methods take
//!   `&self`: the host may call one backend from several threads. A backend
//!   that cannot do that serialises internally. The host services are
//!   `Send + Sync` too.
//! * **Paths and names.** Local paths cross as raw OS bytes, so non-UTF-8
//!   paths work. Object names are UTF-8 and arrive validated: one flat path
//!   component of 1 to 255 bytes, without `/` or NUL, not `.` or `..`.
//! * **Logging.** Each plugin has its own copy of the `log` crate and its
//!   global logger. The plugin's `init` installs a forwarder, so `log::info!`
//!   in a plugin reaches the host's logger.
//! * **No unloading.** A loaded library stays mapped until the process
//!   exits. Install plugin updates by writing a new file and renaming it.
//!
//! # Writing a plugin
//!
//! Implement [`Backend`] for your backend type and [`Plugin`] for a unit
//! type that describes the plugin and opens backends, then export it. The
//! crate is a `cdylib`:
//!
//! ```toml
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! # Until the crate is published, depend on a stowage checkout by path.
//! stowage-backend-api = { path = "../stowage/backend-api" }
//! ```
//!
//! Plugins need Rust 1.88 or newer (the crate's `rust-version`). A full
//! tutorial, from `cargo new` to `stowage test`, is `docs/writing-a-backend.md`
//! in the stowage repository.
//!
//! ```
//! use std::path::Path;
//! use std::sync::Mutex;
//! use std::collections::BTreeMap;
//! use stowage_backend_api::{
//!     Backend, BackendError, Descriptor, Host, OpenRequest, Plugin, Result,
//! };
//!
//! /// Keeps objects in memory: gone when the process exits.
//! #[derive(Default)]
//! struct Memory {
//!     objects: Mutex<BTreeMap<String, Vec<u8>>>,
//! }
//!
//! impl Memory {
//!     fn objects(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Vec<u8>>> {
//!         self.objects.lock().unwrap_or_else(|poison| poison.into_inner())
//!     }
//! }
//!
//! impl Backend for Memory {
//!     fn put(&self, local: &Path, name: &str) -> Result<()> {
//!         let data = std::fs::read(local)
//!             .map_err(|e| BackendError::from_io(&e, format!("reading {}", local.display())))?;
//!         self.objects().insert(name.to_string(), data);
//!         Ok(())
//!     }
//!
//!     fn get(&self, name: &str, local: &Path) -> Result<()> {
//!         let data = self.objects().get(name).cloned()
//!             .ok_or_else(|| BackendError::not_found(format!("{name}: no such object")))?;
//!         std::fs::write(local, data)
//!             .map_err(|e| BackendError::from_io(&e, format!("writing {}", local.display())))
//!     }
//!
//!     fn list(&self) -> Result<Vec<(String, u64)>> {
//!         Ok(self.objects().iter().map(|(n, d)| (n.clone(), d.len() as u64)).collect())
//!     }
//!
//!     fn delete(&self, name: &str) -> Result<()> {
//!         self.objects().remove(name);
//!         Ok(())
//!     }
//!
//!     // Optional: without it the host skips the size check after each put
//!     // and answers `stowage stat` from a listing.
//!     fn query(&self, name: &str) -> Result<Option<u64>> {
//!         Ok(self.objects().get(name).map(|d| d.len() as u64))
//!     }
//! }
//!
//! struct MemoryPlugin;
//!
//! impl Plugin for MemoryPlugin {
//!     fn descriptor() -> Descriptor {
//!         Descriptor::new("memory", env!("CARGO_PKG_VERSION"), "objects in memory")
//!             .scheme("memory", "memory://NAME: a store that lives as long as the process")
//!     }
//!
//!     fn open(_request: OpenRequest<'_>, _host: &Host) -> Result<Box<dyn Backend>> {
//!         Ok(Box::new(Memory::default()))
//!     }
//! }
//!
//! stowage_backend_api::export_plugin!(MemoryPlugin);
//! # fn main() {}
//! ```
//!
//! A prefix plugin (`verify+file:///...`) declares its prefix with
//! [`Descriptor::prefix`]; its `open` receives the inner URL and opens it
//! with [`Host::open_backend`], getting a [`BackendHandle`] to forward to.
//! Errors carry a code and a retryable flag: use
//! [`BackendError::from_io`] for I/O errors and [`BackendError::transient`]
//! for failures a new attempt may cure. The host retries only retryable
//! errors and calls [`Backend::retry_cleanup`] between attempts.

#![deny(missing_docs)]

pub mod abi;
mod adapter;
mod author;
mod client;
mod descriptor;
mod error;
mod export;
pub mod ext;
pub mod extension;
mod guard;
pub mod levels;
pub mod location;

pub use abi::ABI_VERSION;
pub use author::{Backend, Host, OpenRequest, Plugin, Progress};
pub use client::BackendHandle;
pub use descriptor::{Descriptor, HandlerInfo};
pub use error::{BackendError, ErrorCode, Result};
pub use extension::{Extension, ExtensionRef, LayoutMismatch};
pub use guard::panic_message;

/// The abi_stable version this ABI is built on, for extension authors: an
/// extension's types derive `StableAbi` and use `#[sabi_trait]` from here,
/// so they match the host's exactly (depend on `abi_stable = "0.11"` too if
/// the derive macros need the crate by name).
pub use abi_stable;

/// Used by [`export_plugin!`]; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::export::root_module;
    pub use abi_stable;
}
