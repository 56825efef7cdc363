//! The arguments of `stowage space ...`.

use std::path::PathBuf;

use clap::Subcommand;
use stowage_space::StoreOptions;

use crate::help;
use crate::parallel::Jobs;

/// `stowage space [OPTIONS] COMMAND ...`: the store options, accepted
/// before or after the command, and the command.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub options: StoreFlags,
    #[command(subcommand)]
    pub command: Command,
}

/// The options every space command takes (`StoreOptions` of the library).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct StoreFlags {
    /// The file holding the store key that authenticates manifests
    /// (created, mode 0600, when absent; default: one per store under
    /// ~/.config/stowage/keys/).
    #[arg(long, value_name = "PATH", global = true)]
    pub key_file: Option<PathBuf>,

    /// Before reusing a content object already in the store, fetch it and
    /// check its SHA-256 (storing it again when damaged), whatever its size.
    #[arg(long, global = true)]
    pub verify_existing: bool,

    /// Read manifests of stowage versions that did not authenticate them:
    /// their entries are restored without setuid, setgid or sticky bits
    /// and owned by the restoring user.
    #[arg(long, global = true)]
    pub trust_unauthenticated: bool,
}

impl StoreFlags {
    /// The library options these flags ask for.
    pub fn store_options(&self) -> StoreOptions {
        StoreOptions {
            key_file: self.key_file.clone(),
            verify_existing: self.verify_existing,
            trust_unauthenticated: self.trust_unauthenticated,
            workers: None,
        }
    }
}

/// One space command.
#[derive(Subcommand, Debug)]
pub enum Command {
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
        /// What to back up. Symlinks are never followed: one among a PATH's
        /// parent directories is refused (exit 23); give the path it leads to.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Entry name (only with one PATH; default: the absolute path).
        #[arg(long)]
        name: Option<String>,
        /// Accepted for compatibility: spaces created by the CLI are always
        /// persistent.
        #[arg(long)]
        persistent: bool,
        #[command(flatten)]
        jobs: Jobs,
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
        /// Store each damaged or missing object again from the live file
        /// it was backed up from, when that file still has the recorded
        /// size and SHA-256 (exit 56 only when damage is left).
        #[arg(long)]
        repair: bool,
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
            Command::List { url }
            | Command::Backup { url, .. }
            | Command::BackupValue { url, .. }
            | Command::Restore { url, .. }
            | Command::RestoreValue { url, .. }
            | Command::Revert { url, .. }
            | Command::Show { url, .. }
            | Command::Verify { url, .. }
            | Command::Rm { url, .. }
            | Command::DropSpace { url, .. }
            | Command::Gc { url } => url,
        }
    };
}

impl Args {
    /// The store's URL.
    pub fn url(&self) -> &str {
        store_url!(&self.command)
    }

    /// The store's URL, to resolve a remote name in place.
    pub fn url_mut(&mut self) -> &mut String {
        store_url!(&mut self.command)
    }
}
