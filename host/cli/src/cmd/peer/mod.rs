//! `stowage peer ...`: Cedar Backup's peer operations (the work is in
//! `ops`, through the `stowage.peer/1` extension).

mod ops;

use std::path::PathBuf;

use clap::Subcommand;

use crate::context::Context;
use crate::document;
use crate::help;
use crate::output::error_object;
use crate::report::Report;

/// Exit status of `peer collected` when the indicator is absent.
const NOT_COLLECTED: u8 = 1;

/// `stowage peer ...`.
#[derive(Subcommand, Debug)]
pub enum Args {
    /// Copy the peer's collected files into TARGET (an existing absolute
    /// directory).
    #[command(after_help = help::PEER_STAGE)]
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
        /// Also stage files with more than one hard link (refused by
        /// default: a hard link can pass off any file as the peer's).
        #[arg(long)]
        allow_hardlinks: bool,
        /// Skip a file that keeps changing while it is staged (changed
        /// twice in a row) instead of failing the stage: it is listed as
        /// skipped, and the command exits 56 after staging the rest.
        #[arg(long)]
        skip_changed: bool,
    },

    /// Exit 0 when the peer's collect indicator exists, 1 when not.
    #[command(after_help = help::PEER_COLLECTED)]
    Collected {
        /// A local-peer:// URL.
        url: String,
        /// Indicator file name.
        #[arg(long, default_value = "cback.collect")]
        indicator: String,
    },

    /// Write the stage indicator into the collect directory.
    #[command(after_help = help::PEER_MARK_STAGED)]
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

impl Args {
    /// The URL argument.
    pub fn url_mut(&mut self) -> &mut String {
        match self {
            Args::Stage { url, .. }
            | Args::Collected { url, .. }
            | Args::MarkStaged { url, .. } => url,
        }
    }
}

/// Runs one `stowage peer` command.
pub fn run(ctx: &Context, args: &Args) -> u8 {
    let mut report = Report::new();
    match args {
        Args::Stage {
            url,
            target,
            owner,
            mode,
            allow_hardlinks,
            skip_changed,
        } => ops::stage(
            ctx,
            url,
            target,
            owner.as_deref(),
            mode.as_deref(),
            ops::StageFlags {
                allow_hardlinks: *allow_hardlinks,
                skip_changed: *skip_changed,
            },
            &mut report,
        ),
        Args::Collected { url, indicator } => {
            if !ops::collected(ctx, url, indicator, &mut report) {
                let message = format!("the collect indicator {indicator} is absent");
                document::set_error(error_object(NOT_COLLECTED, "not collected", &message));
                report.set_status(NOT_COLLECTED);
            }
        }
        Args::MarkStaged {
            url,
            indicator,
            owner,
            mode,
        } => ops::mark_staged(
            ctx,
            url,
            indicator,
            owner.as_deref(),
            mode.as_deref(),
            &mut report,
        ),
    }
    report.finish()
}
