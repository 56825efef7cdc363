//! Isolation flags and the isolator they build (see docs/isolation.md).

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use stowage::SearchPath;
use stowage_isolate::{Isolation, Options, Policy, User};

/// How plugins run: in process or isolated in a confined child.
#[derive(Args, Debug, Clone)]
pub struct IsolateArgs {
    /// Run plugins out of process: never, untrusted (all but the system
    /// plugin directories) or always.
    #[arg(long, value_name = "WHEN", env = "STOWAGE_ISOLATE", default_value = "untrusted",
          value_parser = ["never", "untrusted", "always"], global = true)]
    pub isolate: String,

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
    /// The isolator these flags ask for; `Err` names a bad flag.
    pub fn isolation(&self, program: PathBuf) -> Result<Isolation, String> {
        let policy: Policy = self.isolate.parse()?;
        let mut options = Options::new(program, SearchPath::defaults().dirs().to_vec());
        options.policy = policy;
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
