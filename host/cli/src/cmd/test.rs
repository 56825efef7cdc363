//! `stowage test URL`: the conformance checks of `stowage-conformance`
//! against a backend, one line per check.

use std::path::PathBuf;

use clap::Args as ClapArgs;
use serde_json::{json, Value};
use stowage_conformance::{self as conformance, CheckResult, Options, Outcome};

use crate::context::Context;
use crate::document;
use crate::output::{error_object, fail, line, usage_error};

/// Exit status when at least one check failed.
pub const EXIT_FAILED: u8 = 1;

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
        return usage_error(&format!(
            "no check id matches {:?}; `stowage test --list` shows them",
            args.only.as_deref().unwrap_or("")
        ));
    }
    if args.list {
        for c in &selection {
            if ctx.json {
                document::add_item(json!({ "id": c.id, "title": c.title }));
            } else {
                line(&format!("{:<40}  {}", c.id, c.title));
            }
        }
        return 0;
    }
    let Some(url) = args.url.as_deref() else {
        return usage_error("a URL is needed");
    };
    let json = ctx.json;
    let report = conformance::run_with(&ctx.registry, url, &options, |result| {
        if json {
            document::add_item(check_item(result));
        } else {
            line(&result.to_string());
        }
    });
    let report = match report {
        Ok(r) => r,
        Err(e) => return fail(&e, json),
    };
    if json {
        // {"url", "prefix", "passed", "failed", "skipped"}; the checks
        // are the items.
        let mut data = serde_json::to_value(&report).unwrap_or(Value::Null);
        if let Some(map) = data.as_object_mut() {
            map.remove("checks");
        }
        document::set_data(data);
    } else {
        line(&report.summary());
    }
    if report.is_success() {
        0
    } else {
        EXIT_FAILED
    }
}

/// One check as a document item; a failed check carries an error.
fn check_item(result: &CheckResult) -> Value {
    let mut item = serde_json::to_value(result).unwrap_or(Value::Null);
    if result.outcome == Outcome::Fail {
        item["error"] = error_object(EXIT_FAILED, "check failed", &result.detail);
    }
    item
}
