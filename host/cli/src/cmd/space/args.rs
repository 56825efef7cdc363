//! The arguments of `stowage space ...`.

use std::path::PathBuf;

use clap::Subcommand;

use crate::help;

/// `stowage space ...`.
#[derive(Subcommand, Debug)]
pub enum Args {
    /// List the spaces of a store: persistence, entries, objects, size, dates.
    #[command(after_help = help::SPACE_LIST)]
    List {
        /// Backend URL of the store.
        url: String,
    },

    /// Back up files, directories (recursively; symlinks kept as links) or
    /// symlinks into SPACE, which is created (persistent) when absent.
    #[command(after_help = help::SPACE_BACKUP)]
    Backup {
        /// Backend URL of the store.
        url: String,
        /// Space name.
        space: String,
        /// What to back up.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Entry name (only with one PATH; default: the absolute path).
        #[arg(long)]
        name: Option<String>,
        /// Accepted for compatibility: spaces created by the CLI are always
        /// persistent.
        #[arg(long)]
        persistent: bool,
    },

    /// Store bytes from FILE or standard input as a value entry.
    #[command(after_help = help::SPACE_BACKUP_VALUE)]
    BackupValue {
        /// Backend URL of the store.
        url: String,
        /// Space name.
        space: String,
        /// Entry name.
        name: String,
        /// Where the bytes come from: a file, or `-` for standard input
        /// (the default).
        #[arg(long, value_name = "FILE|-")]
        from: Option<PathBuf>,
    },

    /// Restore an entry to where it came from, or to --to PATH.
    #[command(after_help = help::SPACE_RESTORE)]
    Restore {
        /// Backend URL of the store.
        url: String,
        /// Space name.
        space: String,
        /// Entry name.
        name: String,
        /// Restore here instead.
        #[arg(long, value_name = "PATH")]
        to: Option<PathBuf>,
    },

    /// Write a value entry's bytes to standard output.
    #[command(after_help = help::SPACE_RESTORE_VALUE)]
    RestoreValue {
        /// Backend URL of the store.
        url: String,
        /// Space name.
        space: String,
        /// Entry name.
        name: String,
    },

    /// Restore every filesystem entry of SPACE to where it came from.
    #[command(after_help = help::SPACE_REVERT)]
    Revert {
        /// Backend URL of the store.
        url: String,
        /// Space name.
        space: String,
    },

    /// List the entries of SPACE.
    #[command(after_help = help::SPACE_SHOW)]
    Show {
        /// Backend URL of the store.
        url: String,
        /// Space name.
        space: String,
    },

    /// Fetch every object of SPACE and check its SHA-256 (exit 56 on damage).
    #[command(after_help = help::SPACE_VERIFY)]
    Verify {
        /// Backend URL of the store.
        url: String,
        /// Space name.
        space: String,
    },

    /// Remove entries from SPACE.
    #[command(after_help = help::SPACE_RM)]
    Rm {
        /// Backend URL of the store.
        url: String,
        /// Space name.
        space: String,
        /// Entry names.
        #[arg(required = true)]
        names: Vec<String>,
    },

    /// Remove SPACE and everything in it.
    #[command(name = "drop", after_help = help::SPACE_DROP)]
    DropSpace {
        /// Backend URL of the store.
        url: String,
        /// Space name.
        space: String,
    },

    /// Remove objects no space refers to, and old manifests.
    #[command(after_help = help::SPACE_GC)]
    Gc {
        /// Backend URL of the store.
        url: String,
    },
}

/// The `url` field of whichever command `$args` is (by reference, shared
/// or mutable, as `$args` is).
macro_rules! store_url {
    ($args:expr) => {
        match $args {
            Args::List { url }
            | Args::Backup { url, .. }
            | Args::BackupValue { url, .. }
            | Args::Restore { url, .. }
            | Args::RestoreValue { url, .. }
            | Args::Revert { url, .. }
            | Args::Show { url, .. }
            | Args::Verify { url, .. }
            | Args::Rm { url, .. }
            | Args::DropSpace { url, .. }
            | Args::Gc { url } => url,
        }
    };
}

impl Args {
    /// The store's URL.
    pub fn url(&self) -> &str {
        store_url!(self)
    }

    /// The store's URL, to resolve a remote name in place.
    pub fn url_mut(&mut self) -> &mut String {
        store_url!(self)
    }
}
