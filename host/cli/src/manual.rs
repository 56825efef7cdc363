//! Manual pages generated from the clap definitions: stowage(1) and one
//! per command, stowage-put(1), stowage-space-backup(1)..., each with the
//! command's options, examples, URL syntax, environment and exit statuses.

use std::io::{self, Write};
use std::path::PathBuf;

use clap::{Args as ClapArgs, Command};
use clap_mangen::roff::{roman, Roff};
use clap_mangen::Man;

use crate::help::{ENVIRONMENT, EXIT_CODES, JSON_OUTPUT, URLS, VERSION};
use crate::output::report_error;

/// `stowage man` arguments.
#[derive(ClapArgs, Debug)]
pub struct Args {
    /// The command whose page to print (e.g. `put`, `space backup`);
    /// none: stowage(1).
    pub command: Vec<String>,
    /// Write every page into DIR as stowage.1, stowage-put.1, ... instead.
    #[arg(long, value_name = "DIR", conflicts_with = "command")]
    pub dir: Option<PathBuf>,
}

/// One manual page.
pub struct Page {
    /// `stowage-put.1`.
    pub file_name: String,
    /// The page in roff.
    pub roff: Vec<u8>,
}

/// Prints the page asked for, or writes them all; returns the exit status.
/// `definitions` is the whole command line's clap definition (`stowage`
/// and its subcommands), given by the caller so that the pages describe
/// exactly what parses.
pub fn run(args: &Args, definitions: Command) -> u8 {
    let root = built(definitions);
    let result = match &args.dir {
        Some(dir) => pages(&root).and_then(|pages| {
            std::fs::create_dir_all(dir)?;
            for p in pages {
                std::fs::write(dir.join(&p.file_name), &p.roff)?;
            }
            Ok(())
        }),
        None => {
            let path: Vec<&str> = args.command.iter().map(String::as_str).collect();
            match find(&root, &path).map(|cmd| page(cmd, &path)) {
                Some(page) => page.and_then(|p| io::stdout().write_all(&p.roff)),
                None => {
                    report_error(&format!(
                        "no command `stowage {}`; `stowage --help` lists them",
                        path.join(" ")
                    ));
                    return 2;
                }
            }
        }
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            report_error(&format!("writing the manual pages: {e}"));
            50
        }
    }
}

/// Every page: stowage(1), then one per visible command, depth first.
pub fn pages(root: &Command) -> io::Result<Vec<Page>> {
    let mut out = Vec::new();
    collect(root, &mut Vec::new(), &mut out)?;
    Ok(out)
}

fn collect<'a>(cmd: &'a Command, path: &mut Vec<&'a str>, out: &mut Vec<Page>) -> io::Result<()> {
    out.push(page(cmd, path)?);
    for sub in visible_subcommands(cmd) {
        path.push(sub.get_name());
        collect(sub, path, out)?;
        path.pop();
    }
    Ok(())
}

/// The definitions, built so that global options show on every page.
fn built(mut definitions: Command) -> Command {
    definitions.build();
    definitions
}

fn find<'a>(cmd: &'a Command, path: &[&str]) -> Option<&'a Command> {
    match path.split_first() {
        None => Some(cmd),
        Some((first, rest)) => find(cmd.find_subcommand(first)?, rest),
    }
}

fn visible_subcommands(cmd: &Command) -> impl Iterator<Item = &Command> {
    cmd.get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
}

/// The page of the command at `path` below `stowage`.
fn page(original: &Command, path: &[&str]) -> io::Result<Page> {
    let title = std::iter::once("stowage")
        .chain(path.iter().copied())
        .collect::<Vec<_>>()
        .join("-");
    let usage_name = std::iter::once("stowage")
        .chain(path.iter().copied())
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = original
        .clone()
        .display_name(title.clone())
        .bin_name(usage_name)
        .version(VERSION)
        .after_help("")
        .after_long_help("");
    cmd.build();
    let man = Man::new(cmd.clone()).title(title.to_uppercase());
    let mut roff = Vec::new();
    man.render_title(&mut roff)?;
    man.render_name_section(&mut roff)?;
    man.render_synopsis_section(&mut roff)?;
    man.render_description_section(&mut roff)?;
    man.render_options_section(&mut roff)?;
    if visible_subcommands(&cmd).next().is_some() {
        man.render_subcommands_section(&mut roff)?;
    }
    extra_sections(examples(original), path.is_empty()).to_writer(&mut roff)?;
    man.render_version_section(&mut roff)?;
    Ok(Page {
        file_name: format!("{title}.1"),
        roff,
    })
}

/// The examples of `cmd`, from its `--help`.
fn examples(cmd: &Command) -> Option<String> {
    let text = cmd.get_after_help()?.to_string();
    let start = text.find("Examples:")?;
    Some(
        text[start + "Examples:".len()..]
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

fn extra_sections(examples: Option<String>, top: bool) -> Roff {
    let mut roff = Roff::new();
    if let Some(examples) = examples {
        roff.control("SH", ["EXAMPLES"]);
        roff.control("nf", []);
        for line in examples.lines() {
            roff.text([roman(line)]);
        }
        roff.control("fi", []);
    }
    if top {
        roff.control("SH", ["JSON OUTPUT"]);
        roff.text([roman(JSON_OUTPUT)]);
    }
    roff.control("SH", ["URLS"]);
    roff.text([roman(URLS)]);
    roff.control("SH", ["ENVIRONMENT"]);
    for (name, meaning) in ENVIRONMENT {
        roff.control("TP", []);
        roff.text([roman(*name)]);
        roff.text([roman(*meaning)]);
    }
    roff.control("SH", ["EXIT STATUS"]);
    roff.control("nf", []);
    for line in EXIT_CODES.lines().skip(1) {
        roff.text([roman(line.trim_start())]);
    }
    roff.control("fi", []);
    roff.control("SH", ["SEE ALSO"]);
    let see = if top {
        "stowage-put(1), stowage-get(1), stowage-ls(1), stowage-space(1), stowage-remote(1)"
    } else {
        "stowage(1)"
    };
    roff.text([roman(see)]);
    roff
}
