//! Pins the package name abi_stable records in every type layout of this
//! crate to `stowage-backend-api`, where these types were first defined.
//!
//! abi_stable's layout check refuses two types whose recorded packages
//! differ (`make_item_info!` records `env!("CARGO_PKG_NAME")` of the crate
//! that derives `StableAbi`). Plugins built before the types moved here
//! carry layouts recorded under `stowage-backend-api`; without this pin a
//! host built from this crate would refuse their `stowage.xorriso/1`.
//! `tests/tests/plugins_abi_compat.rs` loads such a plugin to prove it.
fn main() {
    println!("cargo:rustc-env=CARGO_PKG_NAME=stowage-backend-api");
    println!("cargo:rerun-if-changed=build.rs");
}
