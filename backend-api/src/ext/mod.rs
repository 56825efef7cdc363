//! The extensions the host itself defines, one module per id. Extensions
//! that belong to one plugin live in a small crate of their own, shared by
//! the plugin and its callers (`stowage-peer-ext`, `stowage-xorriso-ext`).
//!
//! Each module holds the id constant and the types that travel under it.
//! Once an id has shipped its types never change; a new version is a new
//! module with a new id (`stowage.progress/2`) next to the old one, and plugins
//! may offer both.

// `#[sabi_trait]` expands to impls inside a const block and generates
// `Trait_TO`-style names; both lints fire on the generated code only.
#![allow(non_camel_case_types, non_local_definitions)]

pub mod progress;
