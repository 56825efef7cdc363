//! Isolation flags and the isolator they build (see docs/isolation.md).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use stowage::SearchPath;
use stowage_isolate::{Isolation, Options, Policy, User};

use crate::config::{isolation_settings, Config};

/// How plugins run: in process or isolated in a confined child.
#[derive(Args, Debug, Clone)]
pub struct IsolateArgs {
    /// Run plugins out of process: never, untrusted (all but the system
    /// plugin directories) or always [default: untrusted, or a plugin's
    /// `isolate` in the configuration file]. Overrides the configuration.
    #[arg(long, value_name = "WHEN", env = "STOWAGE_ISOLATE",
          value_parser = ["never", "untrusted", "always"], global = true)]
    pub isolate: Option<String>,

    /// Kill an isolated plugin's operation after this many seconds without
    /// a reply, log record or progress report.
    #[arg(long, value_name = "SECONDS", default_value_t = 600, global = true)]
    pub op_timeout: u64,

    /// Run isolated plugins as this user (when stowage runs as root).
    #[arg(long, value_name = "USER", global = true)]
    pub plugin_user: Option<String>,

    /// Refuse to run an isolated plugin where Landlock cannot confine it.
    #[arg(long, global = true)]
    pub require_confinement: bool,
}

impl IsolateArgs {
    /// The isolator these flags ask for; `Err` names a bad flag. Without
    /// `--isolate` (or `STOWAGE_ISOLATE`), the plugins' `isolate` settings
    /// in the configuration file at `config` apply (see
    /// [`plugin_policies`]).
    pub fn isolation(
        &self,
        program: PathBuf,
        config: Option<PathBuf>,
    ) -> Result<Isolation, String> {
        let mut options = Options::new(program, SearchPath::defaults().dirs().to_vec());
        match &self.isolate {
            Some(word) => options.policy = word.parse()?,
            None => match plugin_policies(config) {
                Ok(per_plugin) => options.per_plugin = per_plugin,
                // A file that cannot be read (or is not to be trusted)
                // cannot say which plugins it wants isolated: all are,
                // rather than the default letting one run in process that
                // the file says must not.
                Err(e) => {
                    log::warn!("every plugin runs isolated: {e}");
                    options.policy = Policy::Always;
                }
            },
        }
        options.op_timeout = Duration::from_secs(self.op_timeout.max(1));
        options.require_confinement = self.require_confinement;
        if let Some(name) = &self.plugin_user {
            let user = nix::unistd::User::from_name(name)
                .map_err(|e| format!("--plugin-user {name}: {e}"))?
                .ok_or_else(|| format!("--plugin-user {name}: no such user"))?;
            options.user = Some(User {
                uid: user.uid.as_raw(),
                gid: user.gid.as_raw(),
            });
        }
        Ok(Isolation::new(options))
    }
}

/// The per-plugin policies of the configuration file at `config`.
fn plugin_policies(config: Option<PathBuf>) -> Result<BTreeMap<String, Policy>, String> {
    let config = Config::load(config).map_err(|e| e.to_string())?;
    isolation_settings(config.plugins())
        .into_iter()
        .map(|(name, word)| Ok((name, word.parse()?)))
        .collect()
}
