//! `stowage remote list|show|add|remove`: named remotes in the
//! configuration file.

use clap::Subcommand;
use serde_json::json;

use crate::config::{redact_url, Config};
use crate::help;
use crate::output::{display_name, fail};
use crate::report::Report;

/// `stowage remote ...`.
#[derive(Subcommand, Debug)]
pub enum Args {
    /// List the remotes: name and URL (secrets hidden).
    #[command(after_help = help::REMOTE_LIST)]
    List,
    /// Show one remote (secrets hidden) and the file it is in.
    #[command(after_help = help::REMOTE_SHOW)]
    Show {
        /// Remote name.
        name: String,
    },
    /// Add a remote: afterwards `NAME:` (or `NAME:sub/dir`) stands for URL.
    #[command(after_help = help::REMOTE_ADD)]
    Add {
        /// Remote name: letters, digits, '-' and '_', starting with a letter.
        name: String,
        /// Backend URL.
        url: String,
    },
    /// Remove a remote.
    #[command(after_help = help::REMOTE_REMOVE)]
    Remove {
        /// Remote name.
        name: String,
    },
}

/// Runs one `stowage remote` command against `config`.
pub fn run(config: &mut Config, args: &Args) -> u8 {
    let mut report = Report::new();
    let file = config.path().map(|p| p.display().to_string());
    match args {
        Args::List => {
            for (name, url) in config.remotes() {
                let url = redact_url(url);
                let text = format!("{}  {}", display_name(name), display_name(&url));
                report.ok(json!({ "name": name, "url": url }), &text);
            }
            report.set_data(json!({ "file": file }));
        }
        Args::Show { name } => {
            let Some(url) = config.remote(name) else {
                return fail(&config.missing(name), report.json());
            };
            let url = redact_url(url);
            report.text(&format!("{}: {}", display_name(name), display_name(&url)));
            report.set_data(json!({ "name": name, "url": url, "file": file }));
        }
        Args::Add { name, url } => {
            if let Err(e) = config.add(name, url).and_then(|()| config.save()) {
                return fail(&e, report.json());
            }
            report.text(&format!("added remote {}", display_name(name)));
            report.set_data(json!({ "name": name, "url": redact_url(url), "file": file }));
        }
        Args::Remove { name } => {
            if let Err(e) = config.remove(name).and_then(|()| config.save()) {
                return fail(&e, report.json());
            }
            report.text(&format!("removed remote {}", display_name(name)));
            report.set_data(json!({ "name": name, "file": file }));
        }
    }
    report.finish()
}
