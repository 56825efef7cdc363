//! The command line, as clap sees it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::cmd;
use crate::help::{self, EXIT_CODES, VERSION};

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

    /// Machine-readable output: one JSON document on stdout (its shape is
    /// the same for every command; see stowage(1)).
    #[arg(long, global = true)]
    pub json: bool,

    /// Machine-readable output as it happens: one JSON line per item, then
    /// the closing document on one line.
    #[arg(long, global = true, conflicts_with = "json")]
    pub json_lines: bool,

    /// More log output (-v info, -vv debug, -vvv trace). RUST_LOG wins.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// The configuration file (named remotes). Default: STOWAGE_CONFIG, else
    /// $XDG_CONFIG_HOME/stowage/config.toml.
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,

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
    #[command(after_help = help::PLUGINS)]
    Plugins(cmd::plugins::Args),

    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(after_help = help::COMPLETIONS)]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },

    /// Print a manual page (roff) on stdout: stowage(1), or COMMAND's
    /// (stowage-put(1), stowage-space-backup(1)...); or write them all.
    #[command(after_help = help::MAN)]
    Man(crate::manual::Args),

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
    #[command(after_help = help::LS)]
    Ls(cmd::ls::Args),

    /// Upload each FILE under its file name.
    #[command(after_help = help::PUT)]
    Put(cmd::put::Args),

    /// Download objects.
    #[command(after_help = help::GET)]
    Get(cmd::get::Args),

    /// Delete objects.
    #[command(after_help = help::RM)]
    Rm(cmd::rm::Args),

    /// Size of each object; missing ones are reported as missing.
    #[command(after_help = help::STAT)]
    Stat(cmd::stat::Args),

    /// ISO image and disc operations on an xorriso:// URL.
    #[command(subcommand, after_help = help::ISO)]
    Iso(cmd::iso::Args),

    /// Cedar Backup peer operations on a local-peer:// URL.
    #[command(subcommand, after_help = help::PEER)]
    Peer(cmd::peer::Args),

    /// Copy objects from one store to another (any backends).
    #[command(after_help = cmd::copy::EXAMPLES)]
    Copy(cmd::copy::Args),

    /// Compare two stores (or a store and a local directory): names, sizes,
    /// SHA-256 of the content.
    #[command(after_help = cmd::check::EXAMPLES)]
    Check(cmd::check::Args),

    /// Move local files into the backend (the local files are removed).
    #[command(after_help = help::MV)]
    Mv(cmd::put::Args),

    /// Run the conformance checks against a backend; exit 1 if any fails.
    #[command(after_help = help::TEST)]
    Test(cmd::test::Args),

    /// Backup spaces: FirstAidKit's backup system on any backend
    /// (content-addressed, checksummed, crash-safe; see stowage-space(1)).
    #[command(after_help = help::SPACE)]
    Space(cmd::space::Args),

    /// Named remotes: `NAME:` or `NAME:sub/dir` wherever a URL goes.
    #[command(subcommand, after_help = help::REMOTE)]
    Remote(cmd::remote::Args),
}

impl Command {
    /// Every argument that is a backend URL, where a remote name may stand.
    pub fn urls_mut(&mut self) -> Vec<&mut String> {
        match self {
            Command::Ls(a) => vec![&mut a.url],
            Command::Put(a) | Command::Mv(a) => vec![&mut a.url],
            Command::Get(a) => vec![&mut a.url],
            Command::Copy(a) => vec![&mut a.src, &mut a.dst],
            // A side without `:` is a local directory, not a remote.
            Command::Check(a) => [&mut a.src, &mut a.dst]
                .into_iter()
                .filter(|s| s.contains(':'))
                .collect(),
            Command::Rm(a) | Command::Stat(a) => vec![&mut a.url],
            Command::Iso(a) => vec![a.url_mut()],
            Command::Peer(a) => vec![a.url_mut()],
            Command::Space(a) => vec![a.url_mut()],
            Command::Test(a) => a.url.iter_mut().chain(a.empty_url.iter_mut()).collect(),
            Command::Plugins(_)
            | Command::Completions { .. }
            | Command::Man(_)
            | Command::ProbePlugin { .. }
            | Command::ServePlugin
            | Command::Remote(_) => Vec::new(),
        }
    }
}
