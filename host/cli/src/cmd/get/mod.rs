//! `stowage get URL NAME... [-o PATH]`: downloads objects.

mod destination;

use std::path::{Path, PathBuf};

use clap::Args as ClapArgs;
use serde_json::json;
use stowage::{Backend, Error};

use super::select::{open_selected, Selection};
use crate::context::Context;
use crate::output::{display_name, fail, usage_error};
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
}

/// Fetches each name; a failure does not stop the others.
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
    for (name, size) in names.iter().zip(sizes) {
        let dest = output.path_for(name);
        let shown = dest.as_deref().unwrap_or(Path::new("-"));
        let item = json!({ "name": name, "path": shown });
        match bar.transfer(name, size, || fetch(&backend, name, dest.as_deref())) {
            Ok(size) => {
                let mut item = item;
                item["size"] = json!(size);
                if dest.is_none() {
                    report.ok_silent(item);
                    continue;
                }
                let text = format!(
                    "fetched {} to {} ({size} bytes)",
                    display_name(name),
                    shown.display()
                );
                report.ok(item, &text);
            }
            Err(e) => report.item_failed(item, &e),
        }
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
