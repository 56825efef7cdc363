//! `stowage get URL NAME... [-o PATH]`: downloads objects.

use std::path::{Path, PathBuf};

use clap::Args as ClapArgs;
use serde_json::json;

use crate::context::Context;
use crate::output::{display_name, fail};
use crate::progress_bar::Bar;
use crate::report::Report;

/// `stowage get` arguments.
#[derive(ClapArgs, Debug)]
pub struct Args {
    /// Backend URL.
    pub url: String,
    /// Object names.
    #[arg(required = true)]
    pub names: Vec<String>,
    /// Destination: a file for one name (or a directory to put it in), a
    /// directory for several. Default: the current directory.
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,
}

/// Fetches each name; a failure does not stop the others.
pub fn run(ctx: &Context, args: &Args) -> u8 {
    let names = &args.names;
    let backend = match ctx.open_for(&args.url, names) {
        Ok(b) => b,
        Err(e) => return fail(&e, ctx.json),
    };
    let mut report = Report::items(ctx.json);
    // Sizes only matter for the bar; a backend that cannot say gets a
    // bar that moves object by object.
    let sizes: Vec<u64> = if ctx.progress {
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        match backend.query_list(&refs) {
            Ok(sizes) => sizes.into_iter().map(Option::unwrap_or_default).collect(),
            Err(_) => vec![0; names.len()],
        }
    } else {
        vec![0; names.len()]
    };
    let bar = Bar::new(sizes.iter().sum(), ctx.progress);
    for (name, size) in names.iter().zip(sizes) {
        let dest = destination(args.output.as_deref(), name, names.len() > 1);
        let item = json!({ "name": name, "path": dest });
        match bar.transfer(name, size, || backend.get(name, &dest)) {
            Ok(size) => {
                let mut item = item;
                item["size"] = json!(size);
                let text = format!(
                    "fetched {} to {} ({size} bytes)",
                    display_name(name),
                    dest.display()
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

/// Where `get` writes `name`.
fn destination(output: Option<&Path>, name: &str, several: bool) -> PathBuf {
    match output {
        None => PathBuf::from(name),
        Some(dir) if several || dir.is_dir() => dir.join(name),
        Some(file) => file.to_path_buf(),
    }
}
