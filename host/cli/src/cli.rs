//! The command line, as clap sees it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Exit statuses, shown in `--help` and documented in docs/cli.md.
pub const EXIT_CODES: &str = "\
Exit status:
  0   success
  1   `peer collected`: the indicator is absent; `test`: a check failed
  2   usage error (bad flags or arguments)
  23  invalid URL or input (bad object name, unknown scheme, --retries 0)
  50  backend error (also: unsupported, transient, plugin panic, in use)
  51  permission denied
  52  not found
  53  no space left
  56  validation failed (stored size differs, or a space object fails its checksum)";

/// The version line: the host version and the plugin ABI it speaks.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (plugin ABI v1)");

/// stowage: put backups anywhere a plugin can reach.
#[derive(Parser, Debug)]
#[command(name = "stowage", version = VERSION, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,

    #[command(subcommand)]
    pub command: Command,
}

/// Options valid before any command.
#[derive(Args, Debug)]
pub struct Global {
    /// Load plugins from DIR (repeatable; replaces STOWAGE_PLUGIN_PATH and
    /// the default directories).
    #[arg(long = "plugin-dir", value_name = "DIR", global = true)]
    pub plugin_dirs: Vec<PathBuf>,

    /// Attempts per operation in total (at least 1).
    #[arg(long, value_name = "N", default_value_t = 5, global = true)]
    pub retries: u32,

    /// First pause between attempts, in milliseconds (doubles each time).
    #[arg(long, value_name = "MS", default_value_t = 1000, global = true)]
    pub retry_delay: u64,

    /// Longest pause between attempts, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 30_000, global = true)]
    pub retry_max_delay: u64,

    /// Machine-readable output (JSON on stdout).
    #[arg(long, global = true)]
    pub json: bool,

    /// More log output (-v info, -vv debug, -vvv trace). RUST_LOG wins.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Load plugin files even when other users can write them (or their
    /// directory), for this run only.
    #[arg(long, global = true)]
    pub allow_insecure_plugins: bool,

    #[command(flatten)]
    pub isolate: crate::isolate_args::IsolateArgs,
}

/// The commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// List loaded plugins and the files that were rejected, with reasons.
    Plugins {
        /// Probe every plugin file again instead of trusting cached verdicts.
        #[arg(long)]
        rescan: bool,
    },

    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },

    /// Print the manual page (roff) on stdout: `stowage man | man -l -`.
    Man,

    /// Internal: load one plugin file in this process and report (the
    /// out-of-process probe).
    #[command(name = "__probe-plugin", hide = true)]
    ProbePlugin {
        /// The plugin file.
        path: PathBuf,
    },

    /// Internal: serve one isolated plugin over the socket the parent
    /// passed (an isolation child).
    #[command(name = "__serve-plugin", hide = true)]
    ServePlugin,

    /// List objects: names and sizes.
    Ls {
        /// Backend URL, e.g. file:///srv/backup.
        url: String,
    },

    /// Upload each FILE under its file name.
    Put {
        /// Backend URL.
        url: String,
        /// Local files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Object name (only with one FILE).
        #[arg(long)]
        name: Option<String>,
    },

    /// Download objects.
    Get {
        /// Backend URL.
        url: String,
        /// Object names.
        #[arg(required = true)]
        names: Vec<String>,
        /// Destination: a file for one name (or a directory to put it in), a
        /// directory for several. Default: the current directory.
        #[arg(short, long, value_name = "PATH")]
        output: Option<PathBuf>,
    },

    /// Delete objects.
    Rm {
        /// Backend URL.
        url: String,
        /// Object names.
        #[arg(required = true)]
        names: Vec<String>,
    },

    /// Size of each object; missing ones are reported as missing.
    Stat {
        /// Backend URL.
        url: String,
        /// Object names.
        #[arg(required = true)]
        names: Vec<String>,
    },

    /// ISO image and disc operations on an xorriso:// URL.
    #[command(subcommand)]
    Iso(IsoCommand),

    /// Cedar Backup peer operations on a local-peer:// URL.
    #[command(subcommand)]
    Peer(PeerCommand),

    /// Move local files into the backend (the local files are removed).
    Mv {
        /// Backend URL.
        url: String,
        /// Local files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Object name (only with one FILE).
        #[arg(long)]
        name: Option<String>,
    },

    /// Run the conformance checks against a backend; exit 1 if any fails.
    ///
    /// Retries use the checks' own policy (3 attempts, 1-10 ms), not
    /// --retries and the delays. See docs/cli.md.
    Test(crate::test_cmd::TestArgs),

    /// Backup spaces: FirstAidKit's backup system on any backend (see
    /// docs/backup-spaces.md).
    #[command(subcommand)]
    Space(crate::space_cmd::SpaceCommand),
}

/// `stowage iso ...`.
#[derive(Subcommand, Debug)]
pub enum IsoCommand {
    /// Sessions, used and free space, volume id.
    Info {
        /// An xorriso:// URL.
        url: String,
    },
    /// Rewrite an image file without deleted or replaced data (image files
    /// only; write-once media cannot be compacted).
    Compact {
        /// An xorriso:// URL.
        url: String,
    },
}

/// `stowage peer ...`.
#[derive(Subcommand, Debug)]
pub enum PeerCommand {
    /// Copy the peer's collected files into TARGET (an existing absolute
    /// directory).
    Stage {
        /// A local-peer://NAME/collect/dir URL.
        url: String,
        /// Target directory.
        target: PathBuf,
        /// Owner of the staged files: USER:GROUP, UID:GID, USER or :GROUP.
        #[arg(long)]
        owner: Option<String>,
        /// Permissions of the staged files, octal (e.g. 0640).
        #[arg(long)]
        mode: Option<String>,
    },

    /// Exit 0 when the peer's collect indicator exists, 1 when not.
    Collected {
        /// A local-peer:// URL.
        url: String,
        /// Indicator file name.
        #[arg(long, default_value = "cback.collect")]
        indicator: String,
    },

    /// Write the stage indicator into the collect directory.
    MarkStaged {
        /// A local-peer:// URL.
        url: String,
        /// Indicator file name.
        #[arg(long, default_value = "cback.stage")]
        indicator: String,
        /// Owner of the indicator: USER:GROUP, UID:GID, USER or :GROUP.
        #[arg(long)]
        owner: Option<String>,
        /// Permissions of the indicator, octal.
        #[arg(long)]
        mode: Option<String>,
    },
}
