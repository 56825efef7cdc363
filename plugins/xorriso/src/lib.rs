#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

//! stowage plugin: backups on ISO 9660 image files and optical discs, driven through a
//! persistent `xorriso` dialog process (see `README.md` for URLs, settings and semantics).
//!
//! The backend is a plain Rust library ([`XorrisoBackend`]); `plugin.rs` and `extension.rs`
//! are the thin ABI glue exported with `stowage_backend_api::export_plugin!`.

mod backend;
mod config;
mod dialog;
mod error;
mod extension;
mod lock;
mod medium;
mod plugin;
mod quote;
mod report;
mod staging;

pub use backend::{validate_name, CompactStats, IsoInfo, XorrisoBackend, MAX_NAME_BYTES};
pub use config::{
    CommitPolicy, Config, EnvSettings, Target, WriteSpeed, DEFAULT_BATCH_BYTES,
    DEFAULT_BATCH_CHANGES, MAX_VOLID_BYTES,
};
pub use error::{to_abi, Error, ErrorKind, Result};
pub use plugin::XorrisoPlugin;
