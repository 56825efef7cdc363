//! The `stowage` command: a thin layer over the `stowage` library.

mod cli;
mod commands;
mod iso;
mod isolate_args;
mod output;
mod peer;
mod progress_bar;
mod space_cmd;
mod test_cmd;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, Parser};
use stowage::plugin::{default_cache_file, probe_main, LoadOptions, Prober};
use stowage::{Registry, RetryPolicy, SearchPath};

use cli::{Cli, Command, IsoCommand, PeerCommand};
use commands::{fail, Context};

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
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let g = &cli.global;
    match &cli.command {
        Command::ProbePlugin { path } => {
            return ExitCode::from(u8::try_from(probe_main(path)).unwrap_or(1));
        }
        Command::ServePlugin => {
            return ExitCode::from(u8::try_from(stowage_isolate::serve_main()).unwrap_or(1));
        }
        Command::Completions { shell } => {
            // Into a buffer first: clap_complete panics on a closed pipe.
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "stowage", &mut script);
            let _ = std::io::Write::write_all(&mut std::io::stdout(), &script);
            return ExitCode::SUCCESS;
        }
        Command::Man => {
            let mut page = Vec::new();
            return match clap_mangen::Man::new(Cli::command()).render(&mut page) {
                Ok(()) => {
                    let _ = std::io::Write::write_all(&mut std::io::stdout(), &page);
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("stowage: error: rendering the manual page: {e}");
                    ExitCode::from(50)
                }
            };
        }
        _ => {}
    }
    init_logging(g.verbose, g.quiet);

    let policy = match RetryPolicy::new(
        g.retries,
        Duration::from_millis(g.retry_delay),
        Duration::from_millis(g.retry_max_delay),
    ) {
        Ok(p) => p,
        Err(e) => return ExitCode::from(fail(&e, g.json)),
    };
    let rescan = matches!(cli.command, Command::Plugins { rescan: true });
    let isolator = match std::env::current_exe() {
        Ok(program) => match g.isolate.isolation(program) {
            Ok(i) => Some(std::sync::Arc::new(i) as std::sync::Arc<dyn stowage::plugin::Isolator>),
            Err(e) => {
                eprintln!("stowage: error: {e}");
                return ExitCode::from(2);
            }
        },
        Err(e) => {
            log::warn!("cannot locate this executable ({e}); every plugin runs in process");
            None
        }
    };
    let registry = Registry::load_with(
        &SearchPath::resolve(g.plugin_dirs.clone()),
        &load_options(g.allow_insecure_plugins, rescan, isolator),
    );
    let ctx = Context {
        registry,
        policy,
        json: g.json,
        progress: !g.quiet && std::io::stderr().is_terminal(),
    };
    let status = match &cli.command {
        Command::Plugins { .. } => ctx.plugins(),
        Command::ProbePlugin { .. }
        | Command::ServePlugin
        | Command::Completions { .. }
        | Command::Man => 2,
        Command::Ls { url } => ctx.ls(url),
        Command::Put { url, files, name } => ctx.store(url, files, name.as_deref(), false),
        Command::Mv { url, files, name } => ctx.store(url, files, name.as_deref(), true),
        Command::Get { url, names, output } => ctx.get(url, names, output.as_deref()),
        Command::Rm { url, names } => ctx.rm(url, names),
        Command::Stat { url, names } => ctx.stat(url, names),
        Command::Iso(IsoCommand::Info { url }) => ctx.iso_info(url),
        Command::Iso(IsoCommand::Compact { url }) => ctx.iso_compact(url),
        Command::Peer(PeerCommand::Stage {
            url,
            target,
            owner,
            mode,
        }) => ctx.peer_stage(url, target, owner.as_deref(), mode.as_deref()),
        Command::Peer(PeerCommand::Collected { url, indicator }) => {
            ctx.peer_collected(url, indicator)
        }
        Command::Peer(PeerCommand::MarkStaged {
            url,
            indicator,
            owner,
            mode,
        }) => ctx.peer_mark_staged(url, indicator, owner.as_deref(), mode.as_deref()),
        Command::Test(args) => test_cmd::test(&ctx, args),
        Command::Space(cmd) => space_cmd::run(&ctx, cmd),
    };
    ExitCode::from(status)
}
