//! The `stowage.descriptor/1` extension: a put whose source is an open
//! file descriptor instead of a path.
//!
//! ABI v1's `put` takes a local path. An isolated, Landlock-confined
//! plugin cannot open the host's file by any path (Landlock checks the
//! file's real place, even through `/proc/self/fd/N`), so without this the
//! child copies the bytes through its own memory into the plugin's
//! `stowage.stream/1` writer. A backend offering this extension is handed
//! the descriptor the host sent and copies from it itself, in the kernel
//! where it can (`copy_file_range`): a confined put then costs what an
//! in-process one does.
//!
//! - [`abi`]: the types that cross the ABI, frozen once shipped.
//! - [`Descriptor`]: the caller's safe handle.
//! - [`DescriptorService`] and [`serve`]: the plugin's side in plain Rust.

#![deny(missing_docs)]
// `#[sabi_trait]` expands to impls inside a const block and generates
// `Trait_TO`-style names; both lints fire on the generated code only.
#![allow(non_camel_case_types, non_local_definitions)]

pub mod abi;
mod client;
mod service;

pub use abi::ID;
pub use client::Descriptor;
pub use service::{serve, DescriptorService};
