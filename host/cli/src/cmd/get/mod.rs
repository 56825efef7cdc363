//! `stowage get URL NAME... [-o PATH]`: downloads objects.

mod destination;

use std::path::{Path, PathBuf};

use clap::Args as ClapArgs;
use serde_json::json;
use stowage::{Backend, Error};

use super::select::{open_selected, Selection};
use crate::context::Context;
use crate::output::{display_name, fail, usage_error};
use crate::parallel::{each, Jobs};
use crate::progress_bar::Bar;
use crate::report::Report;
use destination::{delivery, open_existing, Delivery, Output, Spool};

/// `stowage get` arguments.
#[derive(ClapArgs, Debug)]
pub struct Args {
    /// Backend URL.
    pub url: String,
    /// The objects.
    #[command(flatten)]
    pub selection: Selection,
    /// Destination: a file for one name (or a directory to put it in), a
    /// directory for several, `-` for standard output. An existing symlink,
    /// FIFO or device is written through, never replaced. Default: the
    /// current directory.
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub jobs: Jobs,
}

/// Fetches each name, `--jobs` at a time; a failure does not stop the
/// others, except one that fails them all (see `parallel`).
pub fn run(ctx: &Context, args: &Args) -> u8 {
    // Globs may match several names: they need a directory, like several names.
    let several = args.selection.names.len() > 1 || !args.selection.globs.is_empty();
    let output = match Output::new(args.output.as_deref(), several) {
        Ok(output) => output,
        Err(e) => return fail(&e, ctx.json),
    };
    if matches!(output, Output::Stdout) && ctx.json {
        return usage_error("--json and -o - would both write to standard output");
    }
    let (backend, names) = match open_selected(ctx, &args.url, &args.selection) {
        Ok(x) => x,
        Err(e) => return fail(&e, ctx.json),
    };
    let names = &names;
    let mut report = Report::new();
    let sizes = sizes_for_bar(ctx, &backend, names);
    let bar = Bar::new(sizes.iter().sum(), ctx.progress);
    let dests: Vec<Option<PathBuf>> = names.iter().map(|n| output.path_for(n)).collect();
    let shown = |i: usize| dests[i].clone().unwrap_or_else(|| PathBuf::from("-"));
    let item = |i: usize| json!({ "name": names[i], "path": shown(i) });
    let stopped = each(
        names,
        args.jobs,
        |i, name| {
            bar.transfer(name, sizes[i], || {
                fetch(&backend, name, dests[i].as_deref())
            })
        },
        |i, result| match result {
            Ok(size) => {
                let mut item = item(i);
                item["size"] = json!(size);
                if dests[i].is_none() {
                    report.ok_silent(item);
                    return;
                }
                let text = format!(
                    "fetched {} to {} ({size} bytes)",
                    display_name(&names[i]),
                    shown(i).display()
                );
                report.ok(item, &text);
            }
            Err(e) => report.item_failed(item(i), &e),
        },
    );
    if let Some(stopped) = stopped {
        stopped.report_each(&mut report, item);
    }
    bar.finish();
    report.close(&backend);
    report.finish()
}

/// Sizes only matter for the bar; a backend that cannot say gets a bar
/// that moves object by object.
fn sizes_for_bar(ctx: &Context, backend: &Backend, names: &[String]) -> Vec<u64> {
    if !ctx.progress {
        return vec![0; names.len()];
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    match backend.query_list(&refs) {
        Ok(sizes) => sizes.into_iter().map(Option::unwrap_or_default).collect(),
        Err(_) => vec![0; names.len()],
    }
}

/// Fetches `name` to `dest` (standard output when `None`); returns the
/// object's size.
fn fetch(backend: &Backend, name: &str, dest: Option<&Path>) -> Result<u64, Error> {
    match dest {
        Some(path) => {
            if let Delivery::Direct = delivery(path) {
                return backend.get(name, path);
            }
        }
        None => {
            if let Some(result) = super::stream::stdout::fetch(backend, name) {
                return result;
            }
        }
    }
    let spool = Spool::new()?;
    backend.get(name, &spool.path())?;
    match dest {
        Some(path) => spool.copy_into(&mut open_existing(path)?, path),
        None => spool.copy_into(&mut std::io::stdout().lock(), Path::new("<stdout>")),
    }
}
