//! `stowage check SRC DST [--glob PAT]... [--size-only]`: do two stores (or
//! a store and a local directory) hold the same objects? Like `rclone
//! check`: names, sizes, then content (SHA-256 of both sides, each object
//! read once), with what is missing on either side and what differs.

use std::collections::BTreeMap;

use clap::Args as ClapArgs;
use serde_json::{json, Value};
use stowage::Error;

use super::between::side::Side;
use super::between::spool::SpoolDir;
use super::select::Selection;
use crate::context::Context;
use crate::output::{display_name, error_object, fail};
use crate::parallel::{in_order, Flow, Jobs};
use crate::report::Report;

/// `stowage check` arguments.
#[derive(ClapArgs, Debug)]
pub struct Args {
    /// A store URL (or remote name) or a local directory.
    pub src: String,
    /// A store URL (or remote name) or a local directory.
    pub dst: String,
    /// Only objects whose name matches PATTERN, on either side (`*`, `?`,
    /// `[abc]`, `{a,b}`; repeatable).
    #[arg(long = "glob", value_name = "PATTERN")]
    pub globs: Vec<String>,
    /// Compare names and sizes only; read no content.
    #[arg(long)]
    pub size_only: bool,
    #[command(flatten)]
    pub jobs: Jobs,
}

/// Exit status when content differs.
const EXIT_DIFFERS: u8 = 56;
/// Exit status when objects are missing on either side.
const EXIT_MISSING: u8 = 52;

/// What the listings say about one name.
enum Listed {
    OnlySrc(u64),
    OnlyDst(u64),
    SizesDiffer(u64, u64),
    /// Same size: the content decides (unless `--size-only`).
    SameSize(u64),
}

/// Compares; the status is a failure to read's if any, else 56 when
/// content differs, else 52 when objects are missing, else 0.
pub fn run(ctx: &Context, args: &Args) -> u8 {
    let Plan {
        src,
        dst,
        listed,
        spool,
    } = match plan(ctx, args) {
        Ok(x) => x,
        Err(e) => return fail(&e, ctx.json),
    };
    let mut report = Report::new();
    let mut counts: BTreeMap<&'static str, u64> = BTreeMap::new();
    let read_content = !args.size_only;
    in_order(
        &listed,
        args.jobs.count(),
        |i, (name, listed)| match listed {
            Listed::SameSize(_) if read_content => Some(
                src.sha256(name, &spool, 2 * i)
                    .and_then(|a| dst.sha256(name, &spool, 2 * i + 1).map(|b| (a, b))),
            ),
            _ => None,
        },
        |i, hashes| {
            let (name, listed) = &listed[i];
            let outcome = outcome(name, listed, hashes, &mut report);
            if let Some(kind) = outcome {
                *counts.entry(kind).or_default() += 1;
            }
            Flow::Continue
        },
    );
    drop(spool);
    let count = |k| counts.get(k).copied().unwrap_or(0);
    let summary = format!(
        "{} identical, {} differ, {} missing in DST, {} missing in SRC",
        count("identical"),
        count("differs"),
        count("missing-in-dst"),
        count("missing-in-src"),
    );
    report.text(&summary);
    report.set_data(json!({
        "identical": count("identical"),
        "differ": count("differs"),
        "missing_in_dst": count("missing-in-dst"),
        "missing_in_src": count("missing-in-src"),
        "size_only": args.size_only,
    }));
    if count("differs") > 0 {
        report.set_status(EXIT_DIFFERS);
    } else if count("missing-in-dst") + count("missing-in-src") > 0 {
        report.set_status(EXIT_MISSING);
    }
    src.close(&mut report);
    dst.close(&mut report);
    report.finish()
}

/// Both sides, their paired listings, and where objects are read through.
struct Plan {
    src: Side,
    dst: Side,
    listed: Vec<(String, Listed)>,
    spool: SpoolDir,
}

/// Opens both sides and pairs their listings, before anything is read.
fn plan(ctx: &Context, args: &Args) -> Result<Plan, Error> {
    let patterns = Selection {
        names: Vec::new(),
        globs: args.globs.clone(),
    }
    .patterns()?;
    let src = Side::open(ctx, &args.src)?;
    let dst = Side::open(ctx, &args.dst)?;
    let keep = |name: &String| patterns.as_ref().is_none_or(|set| set.is_match(name));
    let mut a = src.list()?;
    let mut b = dst.list()?;
    a.retain(|n, _| keep(n));
    b.retain(|n, _| keep(n));
    let mut names: Vec<String> = a.keys().chain(b.keys()).cloned().collect();
    names.sort();
    names.dedup();
    let listed = names
        .into_iter()
        .map(|name| {
            let l = match (a.get(&name), b.get(&name)) {
                (Some(&x), None) => Listed::OnlySrc(x),
                (None, Some(&y)) => Listed::OnlyDst(y),
                (Some(&x), Some(&y)) if x != y => Listed::SizesDiffer(x, y),
                (Some(&x), _) => Listed::SameSize(x),
                (None, None) => unreachable!("every name comes from a listing"),
            };
            (name, l)
        })
        .collect();
    Ok(Plan {
        src,
        dst,
        listed,
        spool: SpoolDir::new()?,
    })
}

/// Reports one name, rclone's way (`=` identical, `*` differs, `-` missing
/// in DST, `+` missing in SRC); returns its kind, `None` when it could not
/// be read (reported as a failure).
fn outcome(
    name: &str,
    listed: &Listed,
    hashes: Option<Result<(String, String), Error>>,
    report: &mut Report,
) -> Option<&'static str> {
    let shown = display_name(name);
    let mismatch = |code: u8, kind: &str, message: String, mut item: Value| {
        item["error"] = error_object(code, kind, &message);
        item
    };
    let (kind, item, text) = match (listed, hashes) {
        (Listed::OnlySrc(size), _) => {
            let item = json!({ "name": name, "status": "missing-in-dst", "src_size": size });
            let item = mismatch(EXIT_MISSING, "not found", "missing in DST".into(), item);
            ("missing-in-dst", item, format!("- {shown}"))
        }
        (Listed::OnlyDst(size), _) => {
            let item = json!({ "name": name, "status": "missing-in-src", "dst_size": size });
            let item = mismatch(EXIT_MISSING, "not found", "missing in SRC".into(), item);
            ("missing-in-src", item, format!("+ {shown}"))
        }
        (Listed::SizesDiffer(x, y), _) => {
            let item = json!({ "name": name, "status": "differs", "src_size": x, "dst_size": y });
            let message = format!("sizes differ: {x} bytes in SRC, {y} in DST");
            let item = mismatch(EXIT_DIFFERS, "validation failed", message, item);
            ("differs", item, format!("* {shown} (size {x} vs {y})"))
        }
        (Listed::SameSize(size), None) => {
            let item =
                json!({ "name": name, "status": "same-size", "src_size": size, "dst_size": size });
            (
                "identical",
                item,
                format!("= {shown} ({size} bytes, sizes only)"),
            )
        }
        (Listed::SameSize(size), Some(Err(e))) => {
            let item =
                json!({ "name": name, "status": "unreadable", "src_size": size, "dst_size": size });
            report.item_failed(item, &e);
            return None;
        }
        (Listed::SameSize(size), Some(Ok((a, b)))) => {
            let mut item = json!({
                "name": name, "src_size": size, "dst_size": size,
                "src_sha256": a, "dst_sha256": b,
            });
            if a == b {
                item["status"] = json!("identical");
                ("identical", item, format!("= {shown}"))
            } else {
                item["status"] = json!("differs");
                let message = format!("content differs: SHA-256 {a} in SRC, {b} in DST");
                let item = mismatch(EXIT_DIFFERS, "validation failed", message, item);
                ("differs", item, format!("* {shown} (content)"))
            }
        }
    };
    report.ok(item, &text);
    Some(kind)
}

/// `stowage check --help`'s examples.
pub const EXAMPLES: &str = "\
Examples:
  stowage check file:///srv/backups xorriso:///srv/2025.iso:/host1
  stowage check /srv/backups offsite: --glob '2025-*'
  stowage check --size-only file:///srv/a file:///srv/b

Each side is a URL (or remote name) or a local directory. Lines: `=`
identical, `*` differs, `-` missing in DST, `+` missing in SRC. Exit
status: 0 identical, 56 content or size differs, 52 objects missing on
either side (56 wins), or a read failure's.";
