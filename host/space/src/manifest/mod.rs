//! The versioned JSON manifest of a space, its object names, and how the
//! current one is found.
//!
//! A manifest is stored as `space-<space>.manifest.<generation>.<sha256>`,
//! where `<sha256>` is the SHA-256 of the object's bytes. A reader lists the
//! backend, takes this space's manifests from the highest generation down
//! and uses the first one whose bytes hash to its name and parse: a torn or
//! half-written manifest (on a backend whose put is not atomic) is never
//! used. A writer puts generation N+1 completely, then deletes N and older.

mod check;
mod load;
mod name;
mod schema;

pub use check::check_entry_name;
pub(crate) use load::{encode, load_current, load_named, Loaded, Trust};
pub(crate) use name::{generations_of, ManifestName};
pub use schema::{Data, Entry, Manifest, Meta, Node, RawPath};

/// The `format` field of every manifest.
pub const FORMAT: &str = "stowage-space";
/// The manifest version this host writes (and the newest it reads).
/// Version 2 added the authentication code (`mac`) and the parents'
/// metadata; version 1 manifests are unauthenticated.
pub const VERSION: u32 = 2;

/// The last version without authentication.
pub(crate) const UNAUTHENTICATED_VERSION: u32 = 1;
