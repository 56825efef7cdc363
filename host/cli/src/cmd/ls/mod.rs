//! `stowage ls URL`: names and sizes.

mod columns;
mod location;

use clap::Args as ClapArgs;
use serde_json::json;

use crate::context::Context;
use crate::output::{display_name, fail};
use crate::report::Report;
use columns::{aligned, human_size};

/// `stowage ls` arguments.
#[derive(ClapArgs, Debug)]
pub struct Args {
    /// Backend URL, e.g. file:///srv/backup.
    pub url: String,
    /// Sizes in an aligned column.
    #[arg(short, long)]
    pub long: bool,
    /// Sizes the way `ls -lh` shows them (1.1K, 23M), aligned; implies -l.
    #[arg(long)]
    pub human: bool,
}

/// Lists the objects of `args.url`, sorted by name.
pub fn run(ctx: &Context, args: &Args) -> u8 {
    let backend = match ctx.open(&args.url) {
        Ok(b) => b,
        Err(e) => return fail(&e, ctx.json),
    };
    let mut entries = match backend.list() {
        Ok(entries) => entries,
        Err(e) => return fail(&e, ctx.json),
    };
    entries.sort();
    let mut report = Report::new();
    if let Some(exists) = location::exists(&backend) {
        if !exists {
            eprintln!(
                "stowage: {} does not exist (yet): nothing listed",
                backend.url()
            );
        }
        report.set_data(json!({ "exists": exists }));
    }
    let lines = if args.long || args.human {
        let rows: Vec<(String, String)> = entries
            .iter()
            .map(|(name, size)| {
                let size = if args.human {
                    human_size(*size)
                } else {
                    size.to_string()
                };
                (size, display_name(name))
            })
            .collect();
        aligned(&rows)
    } else {
        entries
            .iter()
            .map(|(name, size)| format!("{size}  {}", display_name(name)))
            .collect()
    };
    for ((name, size), text) in entries.into_iter().zip(lines) {
        report.ok(json!({ "name": name, "size": size }), &text);
    }
    report.close(&backend);
    report.finish()
}
