//! The [`Isolator`] the host library calls: which plugin files run
//! isolated, describing them in a child, and opening their backends there.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use abi_stable::sabi_trait::TD_Opaque;
use stowage::plugin::{Isolator, PluginInfo};
use stowage_backend_api::abi::{BackendObject, HostObject, RawBackend_TO};
use stowage_backend_api::{BackendError, Descriptor};

use crate::isolation::{no_host, Isolation, OpenArgs, Policy};
use crate::link::Link;
use crate::live::Services;
use crate::protocol::Confinement;
use crate::proxy::IsolatedBackend;

impl Isolation {
    /// Whether `policy` isolates the plugin in `file`.
    fn policy_isolates(&self, policy: Policy, file: &Path) -> bool {
        match policy {
            Policy::Never => false,
            Policy::Always => true,
            Policy::Untrusted => {
                let dir = file.parent().and_then(|d| std::fs::canonicalize(d).ok());
                !dir.is_some_and(|d| self.ctx.system_dirs.contains(&d))
            }
        }
    }

    /// The descriptor of the plugin in `file`, obtained in a confined
    /// child (never by loading it here).
    fn describe_in_child(&self, file: &Path) -> Result<Descriptor, String> {
        let (live, descriptor) = self
            .ctx
            .start(file, Confinement::default(), &no_host())
            .map_err(|e| format!("in its isolation child: {}", e.message()))?;
        live.shut_down(Duration::from_secs(5));
        Ok(descriptor)
    }
}

impl Isolator for Isolation {
    /// With per-plugin policies, the plugin's name decides; it is learnt
    /// from the plugin in a confined child (the descriptor is kept for
    /// `describe`). A plugin that cannot say its name runs isolated.
    fn isolates(&self, file: &Path) -> bool {
        let o = &self.ctx.options;
        if o.per_plugin.is_empty() {
            return self.policy_isolates(o.policy, file);
        }
        let described = self.describe_in_child(file);
        let policy = match &described {
            Ok(d) => o
                .per_plugin
                .get(d.name.as_str())
                .copied()
                .unwrap_or(o.policy),
            Err(_) => Policy::Always,
        };
        let isolated = self.policy_isolates(policy, file);
        if isolated {
            self.ctx
                .described
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(file.to_path_buf(), described);
        }
        isolated
    }

    fn describe(&self, file: &Path) -> Result<Descriptor, String> {
        let known = self
            .ctx
            .described
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(file);
        known.unwrap_or_else(|| self.describe_in_child(file))
    }

    fn open(
        &self,
        plugin: &PluginInfo,
        handler: &str,
        as_prefix: bool,
        url: &str,
        host: HostObject,
    ) -> Result<BackendObject, BackendError> {
        let state = self.ctx.state_of(plugin);
        state.check_usable()?;
        let open = OpenArgs {
            handler: handler.to_string(),
            as_prefix,
            url: url.to_string(),
            extra_read_write: Vec::new(),
        };
        let live = self.ctx.start_backend(&state, &open, &host)?;
        let backend = IsolatedBackend {
            link: Arc::new(Link {
                ctx: self.ctx.clone(),
                plugin: state,
                open,
                services: Services::new(host),
                live: Mutex::new(Some(Arc::new(live))),
                lost_writes: AtomicBool::new(false),
            }),
        };
        Ok(RawBackend_TO::from_value(backend, TD_Opaque))
    }
}
