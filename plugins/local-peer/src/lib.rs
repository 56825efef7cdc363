#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

//! stowage plugin for Cedar Backup's `LocalPeer`: a peer whose collect
//! directory is on the local filesystem, addressed as
//! `local-peer://NAME/abs/collect/dir[?ignore_failure=MODE&allow_hardlinks=yes&changed=skip]`.
//!
//! The peer operations are plain library functions: [`stage()`],
//! [`check_collect_indicator()`] and [`write_stage_indicator()`] (also as
//! methods of [`PeerConfig`]). See `README.md` for the differences from
//! Cedar Backup 3.7.4.
//!
//! As a plugin ([`LocalPeerPlugin`], exported through
//! `stowage_backend_api::export_plugin!`), a `local-peer` URL opens a
//! [`PeerBackend`]: put/get/list/delete on the collect directory, from
//! `stowage-fs-common`; the peer operations cross the ABI as the
//! `stowage.peer/1` extension.

mod config;
mod copy;
mod dir;
mod error;
mod extension;
mod indicator;
mod ownership;
mod peer;
mod plugin;
mod report;
mod stage;

pub use config::{IgnoreFailure, PeerConfig, SCHEME};
pub use error::{ErrorKind, PeerError, StageError};
pub use indicator::{
    check_collect_indicator, validate_indicator_name, write_stage_indicator,
    DEFAULT_COLLECT_INDICATOR, DEFAULT_INDICATORS, DEFAULT_STAGE_INDICATOR,
};
pub use ownership::{parse_mode, Ownership, MAX_MODE};
pub use plugin::{LocalPeerPlugin, PeerBackend};
pub use report::{EntryName, FailedEntry, SkipReason, SkippedEntry, StageReport, StagedFile};
pub use stage::{stage, stage_with, stage_with_options, StageOptions};
