//! The `stowage.stream/1` extension: objects written from and read into a
//! stream, with no local file in between.
//!
//! ABI v1 moves objects between a backend and *local paths*. That is the
//! right shape for backups made of files, and the wrong one for a pipe:
//! `tar -c /etc | stowage put offsite: - --name etc.tar` would have to spool
//! the whole archive to disk first, and fail when the archive is larger than
//! the spool's free space. A backend that offers this extension takes the
//! bytes as they come, in chunks, so memory and disk stay bounded whatever
//! the stream's length.
//!
//! The contract mirrors `put` and `get`:
//! - **Writes are atomic.** Nothing is visible under the name until
//!   [`StreamWriter::commit`] succeeds; an aborted or dropped writer leaves
//!   the store as it was (a previous object of that name included).
//! - **Names arrive validated**, exactly as for `put`: the caller checks
//!   them with the host's name rule before opening a writer or reader.
//! - **No retries inside.** A stream cannot be rewound, so a failed write is
//!   final for that writer; the caller decides whether the source can be
//!   replayed.
//!
//! Modules:
//! - [`abi`]: the types that cross the ABI, frozen once shipped.
//! - [`Stream`], [`StreamWriter`], [`StreamReader`]: the caller's safe side
//!   (`std::io::Write` and `std::io::Read`).
//! - [`StreamService`] and [`serve`]: the plugin's side in plain Rust.

#![deny(missing_docs)]
// `#[sabi_trait]` expands to impls inside a const block and generates
// `Trait_TO`-style names; both lints fire on the generated code only.
#![allow(non_camel_case_types, non_local_definitions)]

pub mod abi;
mod client;
mod service;

pub use abi::ID;
pub use client::{backend_error, Stream, StreamReader, StreamWriter};
pub use service::{serve, StreamRead, StreamService, StreamWrite};

#[cfg(test)]
mod tests;
