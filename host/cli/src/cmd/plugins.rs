//! `stowage plugins`: what was loaded, what was rejected and why.

use clap::Args as ClapArgs;
use serde_json::json;

use crate::context::Context;
use crate::document;
use crate::output::line;

/// `stowage plugins` arguments.
#[derive(ClapArgs, Debug)]
pub struct Args {
    /// Probe every plugin file again instead of trusting cached verdicts.
    #[arg(long)]
    pub rescan: bool,
}

/// Lists loaded plugins, conflicts and rejected files; always exit 0.
pub fn run(ctx: &Context, _args: &Args) -> u8 {
    let registry = &ctx.registry;
    let plugins = registry.plugins();
    if ctx.json {
        let modes: serde_json::Map<String, serde_json::Value> = plugins
            .iter()
            .filter_map(|p| {
                let mode = registry.mode(&p.file)?;
                Some((p.file.display().to_string(), json!(mode)))
            })
            .collect();
        document::set_data(json!({
            "plugins": plugins,
            "modes": modes,
            "rejected": registry.rejected(),
            "conflicts": registry.conflicts(),
        }));
        return 0;
    }
    if plugins.is_empty() {
        line("no plugins loaded");
    }
    for p in plugins {
        line(&format!(
            "{} {} (ABI v{}) {}",
            p.name,
            p.version,
            p.abi_version,
            p.file.display()
        ));
        if let Some(mode) = registry.mode(&p.file) {
            line(&format!("    runs {mode}"));
        }
        line(&format!("    {}", p.description));
        for s in &p.schemes {
            line(&format!("    scheme {}://  {}", s.name, s.description));
        }
        for s in &p.prefixes {
            line(&format!("    prefix {}+    {}", s.name, s.description));
        }
    }
    for c in registry.conflicts() {
        line(&format!(
            "conflict: {} {:?} is declared by {} and {}; {} wins",
            c.kind,
            c.handler,
            c.winner.display(),
            c.loser.display(),
            c.winner.display()
        ));
    }
    for r in registry.rejected() {
        line(&format!("rejected: {}: {}", r.file.display(), r.reason));
    }
    0
}
