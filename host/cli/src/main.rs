//! The `stowage` command: a thin layer over the `stowage` library.

mod cli;
mod cmd;
mod config;
mod context;
mod document;
mod help;
mod isolate_args;
mod manual;
mod output;
mod parallel;
mod progress_bar;
mod report;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use clap::{ArgMatches, CommandFactory, FromArgMatches};
use stowage::plugin::{default_cache_file, probe_main, LoadOptions, Prober};
use stowage::{Registry, RetryPolicy, SearchPath};

use cli::{Cli, Command};
use cmd::put::Mode;
use config::Config;
use context::Context;
use document::Format;
use output::{fail, EXIT_USAGE};

fn init_logging(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => log::LevelFilter::Error,
        (false, 0) => log::LevelFilter::Warn,
        (false, 1) => log::LevelFilter::Info,
        (false, 2) => log::LevelFilter::Debug,
        (false, _) => log::LevelFilter::Trace,
    };
    let mut builder = env_logger::Builder::new();
    builder.filter_level(level).format_timestamp(None);
    if let Ok(spec) = std::env::var("RUST_LOG") {
        builder.parse_filters(&spec);
    }
    builder.init();
}

/// How the CLI vets plugin files: probed in a child (this executable in
/// its hidden probe mode), verdicts cached, trust checked.
fn load_options(
    allow_insecure: bool,
    rescan: bool,
    isolator: Option<std::sync::Arc<dyn stowage::plugin::Isolator>>,
    load_when_opened: bool,
) -> LoadOptions {
    let prober = std::env::current_exe().ok().map(|program| Prober {
        program,
        args: vec!["__probe-plugin".into()],
        timeout: Duration::from_secs(10),
    });
    if prober.is_none() {
        log::warn!("cannot locate this executable; plugins are loaded without a probe");
    }
    LoadOptions {
        prober,
        cache_file: default_cache_file(),
        rescan,
        allow_insecure,
        isolator,
        load_when_opened,
    }
}

/// Replaces each `NAME:` or `NAME:sub/dir` URL argument by the remote's
/// URL. The configuration is read only when such an argument is there.
fn resolve_remotes(cli: &mut Cli) -> Result<(), stowage::Error> {
    let explicit = cli.global.config.clone();
    let mut urls = cli.command.urls_mut();
    if urls.iter().all(|u| u.contains("://")) {
        return Ok(());
    }
    let config = Config::load(Config::location(explicit.as_deref()))?;
    for url in urls.iter_mut() {
        **url = config::resolve(&config, url)?;
    }
    Ok(())
}

/// The commands that need no plugins; `None` for the others.
fn run_without_plugins(command: &Command) -> Option<u8> {
    match command {
        Command::ProbePlugin { path } => Some(u8::try_from(probe_main(path)).unwrap_or(1)),
        Command::ServePlugin => Some(u8::try_from(stowage_isolate::serve_main()).unwrap_or(1)),
        Command::Completions { shell } => {
            // Into a buffer first: clap_complete panics on a closed pipe.
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "stowage", &mut script);
            let _ = std::io::Write::write_all(&mut std::io::stdout(), &script);
            Some(0)
        }
        Command::Man(args) => Some(manual::run(args, Cli::command())),
        _ => None,
    }
}

/// The command's name as a user typed it: `put`, `space backup`.
fn command_name(matches: &ArgMatches) -> String {
    let mut names = Vec::new();
    let mut current = matches;
    while let Some((name, sub)) = current.subcommand() {
        names.push(name);
        current = sub;
    }
    names.join(" ")
}

/// Parses the command line. A usage error under `--json` or
/// `--json-lines` is also a JSON document (exit 2).
fn parse() -> Result<(Cli, String), u8> {
    let matches = match Cli::command().try_get_matches() {
        Ok(m) => m,
        Err(e) => {
            let code = u8::try_from(e.exit_code()).unwrap_or(EXIT_USAGE);
            let args: Vec<String> = std::env::args().collect();
            let format = if args.iter().any(|a| a == "--json-lines") {
                Format::JsonLines
            } else if args.iter().any(|a| a == "--json") {
                Format::Json
            } else {
                e.exit()
            };
            if code == 0 {
                e.exit()
            }
            let _ = e.print();
            // The first word that names a command, as far as one does.
            let known: Vec<String> = Cli::command()
                .get_subcommands()
                .map(|c| c.get_name().to_string())
                .collect();
            let command = args
                .iter()
                .skip(1)
                .find(|a| known.contains(a))
                .cloned()
                .unwrap_or_default();
            document::start(format, &command);
            let rendered = e.to_string();
            let message = rendered.lines().next().unwrap_or_default();
            let message = message.strip_prefix("error: ").unwrap_or(message);
            document::set_error(output::error_object(code, "usage", message));
            document::finish(code);
            return Err(code);
        }
    };
    let name = command_name(&matches);
    match Cli::from_arg_matches(&matches) {
        Ok(cli) => Ok((cli, name)),
        Err(e) => e.exit(),
    }
}

fn main() -> ExitCode {
    let (mut cli, name) = match parse() {
        Ok(parsed) => parsed,
        Err(code) => return ExitCode::from(code),
    };
    if let Some(status) = run_without_plugins(&cli.command) {
        return ExitCode::from(status);
    }
    let g = &cli.global;
    init_logging(g.verbose, g.quiet);
    let format = match (g.json, g.json_lines) {
        (_, true) => Format::JsonLines,
        (true, false) => Format::Json,
        (false, false) => Format::Text,
    };
    document::start(format, &name);
    let status = run(&mut cli);
    document::finish(status);
    ExitCode::from(status)
}

/// Loads the configuration when the command needs it, then the plugins,
/// and runs the command.
fn run(cli: &mut Cli) -> u8 {
    if let Command::Remote(args) = &cli.command {
        let config = Config::load(Config::location(cli.global.config.as_deref()));
        return match config {
            Ok(mut config) => cmd::remote::run(&mut config, args),
            Err(e) => fail(&e, true),
        };
    }
    if let Err(e) = resolve_remotes(cli) {
        return fail(&e, true);
    }
    let g = &cli.global;
    let policy = match RetryPolicy::new(
        g.retries,
        Duration::from_millis(g.retry_delay),
        Duration::from_millis(g.retry_max_delay),
    ) {
        Ok(p) => p,
        Err(e) => return fail(&e, document::is_json()),
    };
    let rescan = matches!(&cli.command, Command::Plugins(args) if args.rescan);
    // A command that opens URLs loads only the plugins they need; the
    // listing and the conformance run load every plugin, to report what
    // loads.
    let load_when_opened = !matches!(&cli.command, Command::Plugins(_) | Command::Test(_));
    let isolator = match std::env::current_exe() {
        Ok(program) => match g
            .isolate
            .isolation(program, Config::location(g.config.as_deref()))
        {
            Ok(i) => Some(std::sync::Arc::new(i) as std::sync::Arc<dyn stowage::plugin::Isolator>),
            Err(e) => return output::usage_error(&e),
        },
        Err(e) => {
            log::warn!("cannot locate this executable ({e}); every plugin runs in process");
            None
        }
    };
    let registry = Registry::load_with(
        &SearchPath::resolve(g.plugin_dirs.clone()),
        &load_options(g.allow_insecure_plugins, rescan, isolator, load_when_opened),
    );
    let ctx = Context {
        registry,
        policy,
        json: document::is_json(),
        progress: !g.quiet && std::io::stderr().is_terminal(),
    };
    match &cli.command {
        Command::Plugins(args) => cmd::plugins::run(&ctx, args),
        // Handled before the plugins are loaded.
        Command::ProbePlugin { .. }
        | Command::ServePlugin
        | Command::Completions { .. }
        | Command::Man(_)
        | Command::Remote(_) => EXIT_USAGE,
        Command::Ls(args) => cmd::ls::run(&ctx, args),
        Command::Put(args) => cmd::put::run(&ctx, args, Mode::Copy),
        Command::Mv(args) => cmd::put::run(&ctx, args, Mode::Move),
        Command::Get(args) => cmd::get::run(&ctx, args),
        Command::Copy(args) => cmd::copy::run(&ctx, args),
        Command::Check(args) => cmd::check::run(&ctx, args),
        Command::Rm(args) => cmd::rm::run(&ctx, args),
        Command::Stat(args) => cmd::stat::run(&ctx, args),
        Command::Iso(args) => cmd::iso::run(&ctx, args),
        Command::Peer(args) => cmd::peer::run(&ctx, args),
        Command::Test(args) => cmd::test::run(&ctx, args),
        Command::Space(args) => cmd::space::run(&ctx, args),
    }
}
