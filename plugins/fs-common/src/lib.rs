//! Local-filesystem primitives shared by the stowage plugins that keep
//! objects in a directory (`file`, `local-peer`).
//!
//! One implementation of the rules every such plugin must follow, so they
//! cannot drift apart:
//!
//! * an object appears under its final name only once it is complete
//!   (hidden temporary file in the same directory, then `rename`);
//! * a `get` replaces the local destination the same way;
//! * temporary files never show in listings, and names that would collide
//!   with them are refused;
//! * durability follows a [`Durability`] policy; the default makes a whole
//!   batch durable with one `syncfs` at close instead of one `fsync` per file.

#![deny(missing_docs)]

mod atomic;
mod descriptor;
mod dirs;
mod durability;
mod identity;
mod kind;
mod store;
mod stream;
mod temp;

pub use atomic::{copy_atomically, copy_file_data, temp_path_beside, CopyError};
pub use dirs::open_dir_resolved;
pub use durability::{fsync_dir, fsync_path, syncfs_path, Durability};
pub use identity::{Change, FileIdentity};
pub use kind::{backend_error, ErrorKind};
pub use store::{LocalStore, STALE_TEMPORARY_AGE};
pub use stream::{StoreReader, StoreWriter};
pub use temp::{is_generated_temp_name, is_temp_name, temp_name, TempFile, TEMP_PREFIX};
