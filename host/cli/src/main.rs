//! The `stowage` command: a thin layer over the `stowage` library.

mod cli;
mod cmd;
mod context;
mod iso;
mod output;
mod peer;
mod progress_bar;
mod report;

/// Where `peer.rs` and `iso.rs` find the context and the whole-command
/// failure printer.
mod commands {
    pub use crate::context::Context;
    pub use crate::output::fail;
}

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, Parser};
use stowage::plugin::{default_cache_file, probe_main, LoadOptions, Prober};
use stowage::{Registry, RetryPolicy, SearchPath};

use cli::{Cli, Command};
use cmd::put::Mode;
use context::Context;
use output::fail;

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
fn load_options(allow_insecure: bool, rescan: bool) -> LoadOptions {
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
    }
}

/// The commands that need no plugins; `None` for the others.
fn run_without_plugins(command: &Command) -> Option<u8> {
    match command {
        Command::ProbePlugin { path } => Some(u8::try_from(probe_main(path)).unwrap_or(1)),
        Command::Completions { shell } => {
            // Into a buffer first: clap_complete panics on a closed pipe.
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "stowage", &mut script);
            let _ = std::io::Write::write_all(&mut std::io::stdout(), &script);
            Some(0)
        }
        Command::Man => {
            let mut page = Vec::new();
            Some(
                match clap_mangen::Man::new(Cli::command()).render(&mut page) {
                    Ok(()) => {
                        let _ = std::io::Write::write_all(&mut std::io::stdout(), &page);
                        0
                    }
                    Err(e) => {
                        eprintln!("stowage: error: rendering the manual page: {e}");
                        50
                    }
                },
            )
        }
        _ => None,
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(status) = run_without_plugins(&cli.command) {
        return ExitCode::from(status);
    }
    let g = &cli.global;
    init_logging(g.verbose, g.quiet);

    let policy = match RetryPolicy::new(
        g.retries,
        Duration::from_millis(g.retry_delay),
        Duration::from_millis(g.retry_max_delay),
    ) {
        Ok(p) => p,
        Err(e) => return ExitCode::from(fail(&e, g.json)),
    };
    let rescan = matches!(&cli.command, Command::Plugins(args) if args.rescan);
    let registry = Registry::load_with(
        &SearchPath::resolve(g.plugin_dirs.clone()),
        &load_options(g.allow_insecure_plugins, rescan),
    );
    let ctx = Context {
        registry,
        policy,
        json: g.json,
        progress: !g.quiet && std::io::stderr().is_terminal(),
    };
    let status = match &cli.command {
        Command::Plugins(args) => cmd::plugins::run(&ctx, args),
        Command::ProbePlugin { .. } | Command::Completions { .. } | Command::Man => 2,
        Command::Ls(args) => cmd::ls::run(&ctx, args),
        Command::Put(args) => cmd::put::run(&ctx, args, Mode::Copy),
        Command::Mv(args) => cmd::put::run(&ctx, args, Mode::Move),
        Command::Get(args) => cmd::get::run(&ctx, args),
        Command::Rm(args) => cmd::rm::run(&ctx, args),
        Command::Stat(args) => cmd::stat::run(&ctx, args),
        Command::Iso(args) => cmd::iso::run(&ctx, args),
        Command::Peer(args) => cmd::peer::run(&ctx, args),
        Command::Test(args) => cmd::test::run(&ctx, args),
        Command::Space(args) => cmd::space::run(&ctx, args),
    };
    ExitCode::from(status)
}
