//! The `stowage.xorriso/1` extension: the contract between the `xorriso`
//! plugin and its callers (the `stowage iso` commands, or any host tool).
//!
//! - [`abi`]: the types that cross the ABI, frozen since they shipped.
//! - [`Xorriso`]: the safe client a caller uses on an open backend.
//! - [`XorrisoService`] and [`serve`]: the plugin's side in plain Rust.
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
mod info;
mod service;

pub use abi::{CompactReport, ID};
pub use client::Xorriso;
pub use info::MediumInfo;
pub use service::{serve, XorrisoService};

#[cfg(test)]
mod tests {
    use abi_stable::StableAbi;

    /// The pin in `build.rs` is what keeps plugins built before the move
    /// loadable: abi_stable refuses layouts recorded under another package.
    #[test]
    fn layouts_are_recorded_under_the_original_package() {
        assert_eq!(
            crate::abi::XorrisoObject::LAYOUT.package().as_str(),
            "stowage-backend-api"
        );
        assert_eq!(
            crate::abi::IsoInfo::LAYOUT.package().as_str(),
            "stowage-backend-api"
        );
    }
}
