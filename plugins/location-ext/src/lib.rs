//! The `stowage.location/1` extension: whether the location a backend was
//! opened on exists yet.
//!
//! ABI v1's `list` of a location that does not exist is empty by contract:
//! a backend is opened on a store that its first `put` creates, so "no
//! objects" and "no such store" look alike. That is right for a backup
//! tool writing a new store, and unhelpful for a person who mistyped a
//! path: `stowage ls file:///srv/bakcups` printed nothing and exited 0. A
//! backend offering this extension tells the two apart, and the CLI says
//! so.
//!
//! - [`abi`]: the types that cross the ABI, frozen once shipped.
//! - [`Location`]: the caller's safe handle.
//! - [`LocationService`] and [`serve`]: the plugin's side in plain Rust.

#![deny(missing_docs)]
// `#[sabi_trait]` expands to impls inside a const block and generates
// `Trait_TO`-style names; both lints fire on the generated code only.
#![allow(non_camel_case_types, non_local_definitions)]

pub mod abi;
mod client;
mod service;

pub use abi::ID;
pub use client::Location;
pub use service::{serve, LocationService};
