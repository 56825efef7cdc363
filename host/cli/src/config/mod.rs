//! The configuration file: named remotes.
//!
//! `$XDG_CONFIG_HOME/stowage/config.toml` (`~/.config/stowage/config.toml`),
//! or `STOWAGE_CONFIG`, or `--config FILE`:
//!
//! ```toml
//! [remote.offsite]
//! url = "xorriso:///srv/offsite.iso:/host1"
//! ```
//!
//! stowage runs as root, so the file is trusted only when no one else can
//! change it: it must be owned by the current user (or root) and not
//! writable by group or others. A file holding secrets (a password in a
//! URL, a secret-looking URL parameter) must also be unreadable by others
//! (mode 0600).

mod edit;
mod file;
mod plugin_policy;
mod remote;
mod secrets;

pub use file::Config;
pub use plugin_policy::isolation_settings;
pub use remote::{resolve, valid_remote_name};
pub use secrets::redact_url;
