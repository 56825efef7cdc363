//! The extensions stowage defines, one module per id.
//!
//! Each module holds the id constant and the types that travel under it.
//! Once an id has shipped its types never change; a new version is a new
//! module with a new id (`stowage.peer/2`) next to the old one, and plugins
//! may offer both.

// `#[sabi_trait]` expands to impls inside a const block and generates
// `Trait_TO`-style names; both lints fire on the generated code only.
#![allow(non_camel_case_types, non_local_definitions)]

pub mod peer;
pub mod progress;
pub mod xorriso;
