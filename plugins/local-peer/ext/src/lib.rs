//! The `stowage.peer/1` extension: the contract between the `local-peer`
//! plugin and its callers (the `stowage peer` commands, or any host tool).
//!
//! - [`abi`]: the types that cross the ABI, frozen since they shipped. Only
//!   the plugin side implements them.
//! - [`Peer`]: the safe client a caller uses. It looks the extension up on
//!   an open backend and speaks plain Rust: paths, `Option`, `Vec`,
//!   `Result`.
//! - [`PeerService`] and [`serve`]: the plugin's side in plain Rust.
//! - [`Ownership`] and [`parse_mode`]: the one parser of `--owner` and
//!   `--mode`, used by the plugin's library API and by the command line.
//!
//! The types' layouts are recorded under the package `stowage-backend-api`,
//! where they were first defined (see `build.rs`), so plugins built before
//! the move keep working with new hosts and the other way round.

#![deny(missing_docs)]
// `#[sabi_trait]` expands to impls inside a const block and generates
// `Trait_TO`-style names; both lints fire on the generated code only.
#![allow(non_camel_case_types, non_local_definitions)]

pub mod abi;
mod client;
mod outcome;
mod owner;
mod service;

pub use abi::ID;
pub use client::Peer;
pub use outcome::{FailedEntry, SkippedEntry, StageOutcome, StagedFile, REASON_CHANGED};
pub use owner::{parse_mode, InvalidSpec, Ownership, MAX_MODE};
pub use service::{serve, PeerService};

#[cfg(test)]
mod tests {
    use abi_stable::StableAbi;

    /// The pin in `build.rs` is what keeps plugins built before the move
    /// loadable: abi_stable refuses layouts recorded under another package.
    #[test]
    fn layouts_are_recorded_under_the_original_package() {
        assert_eq!(
            crate::abi::PeerObject::LAYOUT.package().as_str(),
            "stowage-backend-api"
        );
        assert_eq!(
            crate::abi::StageReport::LAYOUT.package().as_str(),
            "stowage-backend-api"
        );
    }
}
