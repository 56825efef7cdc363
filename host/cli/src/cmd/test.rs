//! `stowage test URL`: the conformance checks of `stowage-conformance`
//! against a backend, one line per check.

use std::path::PathBuf;

use clap::Args as ClapArgs;
use stowage_conformance::{self as conformance, Options};

use crate::context::Context;
use crate::output::{fail, line, print_json};

/// Exit status when at least one check failed.
pub const EXIT_FAILED: u8 = 1;

/// Exit status for a usage error.
const EXIT_USAGE: u8 = 2;

/// `stowage test` arguments.
#[derive(ClapArgs, Debug)]
pub struct Args {
    /// Backend URL to test (its location may hold other objects; they are
    /// left alone).
    #[arg(required_unless_present = "list")]
    pub url: Option<String>,

    /// Run only the checks whose id matches PATTERN: comma-separated
    /// substrings or globs (`*`, `?`), e.g. `put.,names.*`.
    #[arg(long, value_name = "PATTERN")]
    pub only: Option<String>,

    /// Skip the slow checks (64 MiB round trip, 100,000-name listing).
    #[arg(long)]
    pub quick: bool,

    /// Also list 100,000 names (100,000 puts and deletes).
    #[arg(long, conflicts_with = "quick")]
    pub large: bool,

    /// A URL of a location that does not exist, for list.empty-location
    /// (derived automatically for file:// and local-peer:// URLs).
    #[arg(long, value_name = "URL")]
    pub empty_url: Option<String>,

    /// Directory for local scratch files (default: the system's temporary
    /// directory).
    #[arg(long, value_name = "DIR")]
    pub scratch_dir: Option<PathBuf>,

    /// List the check ids and titles (those --only selects) and exit.
    #[arg(long)]
    pub list: bool,
}

impl Args {
    fn options(&self) -> Options {
        Options {
            quick: self.quick,
            large: self.large,
            only: self.only.clone(),
            scratch_dir: self.scratch_dir.clone(),
            empty_url: self.empty_url.clone(),
            ..Options::default()
        }
    }
}

/// Runs `stowage test`; returns the exit status.
pub fn run(ctx: &Context, args: &Args) -> u8 {
    let options = args.options();
    let selection = conformance::selection(&options);
    if selection.is_empty() {
        eprintln!(
            "stowage: error: no check id matches {:?}; `stowage test --list` shows them",
            args.only.as_deref().unwrap_or("")
        );
        return EXIT_USAGE;
    }
    if args.list {
        if ctx.json {
            print_json(&selection);
        } else {
            for c in &selection {
                line(&format!("{:<40}  {}", c.id, c.title));
            }
        }
        return 0;
    }
    let Some(url) = args.url.as_deref() else {
        eprintln!("stowage: error: a URL is needed");
        return EXIT_USAGE;
    };
    let json = ctx.json;
    let report = conformance::run_with(&ctx.registry, url, &options, |result| {
        if !json {
            line(&result.to_string());
        }
    });
    let report = match report {
        Ok(r) => r,
        Err(e) => return fail(&e, json),
    };
    if json {
        // {"url", "prefix", "checks": [...], "passed", "failed", "skipped"}
        print_json(&report);
    } else {
        line(&report.summary());
    }
    if report.is_success() {
        0
    } else {
        EXIT_FAILED
    }
}
