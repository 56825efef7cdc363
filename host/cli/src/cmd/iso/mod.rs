//! `stowage iso ...`: what only an ISO store can do (the work is in
//! `ops`, through the `stowage.xorriso/1` extension).

mod ops;

use clap::Subcommand;

use crate::context::Context;
use crate::help;
use crate::report::Report;

/// `stowage iso ...`.
#[derive(Subcommand, Debug)]
pub enum Args {
    /// Sessions, used and free space, volume id.
    #[command(after_help = help::ISO_INFO)]
    Info {
        /// An xorriso:// URL.
        url: String,
    },
    /// Rewrite an image file without deleted or replaced data (image files
    /// only; write-once media cannot be compacted).
    #[command(after_help = help::ISO_COMPACT)]
    Compact {
        /// An xorriso:// URL.
        url: String,
    },
}

impl Args {
    /// The URL argument.
    pub fn url_mut(&mut self) -> &mut String {
        match self {
            Args::Info { url } | Args::Compact { url } => url,
        }
    }
}

/// Runs one `stowage iso` command.
pub fn run(ctx: &Context, args: &Args) -> u8 {
    let mut report = Report::new();
    match args {
        Args::Info { url } => ops::info(ctx, url, &mut report),
        Args::Compact { url } => ops::compact(ctx, url, &mut report),
    }
    report.finish()
}
