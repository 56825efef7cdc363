//! The policy and the [`Isolator`] the host library calls: which plugins
//! run isolated, starting their children, counting their deaths.

use std::collections::{BTreeMap, HashMap};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use abi_stable::sabi_trait::TD_Opaque;
use stowage::plugin::PluginInfo;
use stowage_backend_api::abi::{BackendObject, HostObject};
use stowage_backend_api::location::PathUrl;
use stowage_backend_api::{BackendError, Descriptor};

use crate::live::{Live, Services};
use crate::protocol::{Answer, Confinement, Request, Setup};
use crate::spawn::{spawn, Limits, SpawnSpec, User};

/// Which plugins run out of process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Every plugin in process.
    Never,
    /// Plugins from the system plugin directories in process, all others
    /// isolated (the default).
    Untrusted,
    /// Every plugin isolated.
    Always,
}

impl std::str::FromStr for Policy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "never" => Ok(Self::Never),
            "untrusted" => Ok(Self::Untrusted),
            "always" => Ok(Self::Always),
            other => Err(format!(
                "isolation policy {other:?}: expected never, untrusted or always"
            )),
        }
    }
}

/// A child dies this many times in one run, and its plugin is broken for
/// the rest of the run.
pub const DEATHS_BEFORE_BROKEN: u32 = 3;

/// Everything that decides how children run.
#[derive(Clone, Debug)]
pub struct Options {
    /// Which plugins run isolated.
    pub policy: Policy,
    /// A policy of their own for the plugins named here (by the name the
    /// plugin's descriptor gives, e.g. `file`), in place of `policy`.
    pub per_plugin: BTreeMap<String, Policy>,
    /// Directories whose plugins count as system plugins (the defaults
    /// next to the executable).
    pub system_dirs: Vec<PathBuf>,
    /// The `stowage` executable, run as `stowage __serve-plugin`.
    pub program: PathBuf,
    /// How long an operation may go without a reply, log record or
    /// progress report before its child is killed.
    pub op_timeout: Duration,
    /// Resource limits of each child.
    pub limits: Limits,
    /// Run children as this user (when the host is root).
    pub user: Option<User>,
    /// Confine children with Landlock.
    pub confine: bool,
    /// Refuse to run a child unconfined.
    pub require_confinement: bool,
}

impl Options {
    /// Defaults for `program`: `untrusted`, 10 minutes, default limits,
    /// confined where the kernel allows.
    pub fn new(program: PathBuf, system_dirs: Vec<PathBuf>) -> Self {
        Self {
            policy: Policy::Untrusted,
            per_plugin: BTreeMap::new(),
            system_dirs,
            program,
            op_timeout: Duration::from_secs(600),
            limits: Limits::default(),
            user: None,
            confine: true,
            require_confinement: false,
        }
    }
}

/// What one plugin file has been through in this run.
#[derive(Debug)]
pub(crate) struct PluginState {
    pub(crate) name: String,
    pub(crate) file: PathBuf,
    deaths: AtomicU32,
    last_death: Mutex<String>,
}

impl PluginState {
    pub(crate) fn record_death(&self, reason: &str) {
        self.deaths.fetch_add(1, Ordering::AcqRel);
        *self.last_death.lock().unwrap_or_else(|p| p.into_inner()) = reason.to_string();
    }

    /// `Err` once the plugin is broken for this run.
    pub(crate) fn check_usable(&self) -> Result<(), BackendError> {
        let deaths = self.deaths.load(Ordering::Acquire);
        if deaths < DEATHS_BEFORE_BROKEN {
            return Ok(());
        }
        let last = self
            .last_death
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        Err(BackendError::generic(format!(
            "plugin {} ({}) is broken for the rest of this run: its child process died {deaths} times; the last time: {last}",
            self.name,
            self.file.display()
        ))
        .with_retryable(false))
    }
}

/// What a backend was opened with, to open it again in a new child.
#[derive(Clone, Debug)]
pub(crate) struct OpenArgs {
    pub(crate) handler: String,
    pub(crate) as_prefix: bool,
    pub(crate) url: String,
    /// Directories the child may also write, beyond what the URL names
    /// (a peer stage's target directory).
    pub(crate) extra_read_write: Vec<PathBuf>,
}

/// Shared by the isolator and every backend it opened.
#[derive(Debug)]
pub(crate) struct Context {
    pub(crate) options: Options,
    pub(crate) system_dirs: Vec<PathBuf>,
    plugins: Mutex<HashMap<PathBuf, Arc<PluginState>>>,
    warned_unconfined: AtomicBool,
    /// Descriptors obtained in a child to learn a plugin's name for a
    /// per-plugin policy, kept for the `describe` that follows.
    pub(crate) described: Mutex<HashMap<PathBuf, Result<Descriptor, String>>>,
}

/// Runs plugins out of process: hand it to
/// [`LoadOptions::isolator`](stowage::plugin::LoadOptions).
#[derive(Debug, Clone)]
pub struct Isolation {
    pub(crate) ctx: Arc<Context>,
}

impl Isolation {
    /// An isolator with `options`.
    pub fn new(options: Options) -> Self {
        sweep_stale_private_dirs(&std::env::temp_dir());
        let system_dirs = options
            .system_dirs
            .iter()
            .filter_map(|d| std::fs::canonicalize(d).ok())
            .collect();
        Self {
            ctx: Arc::new(Context {
                options,
                system_dirs,
                plugins: Mutex::new(HashMap::new()),
                warned_unconfined: AtomicBool::new(false),
                described: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The options in effect.
    pub fn options(&self) -> &Options {
        &self.ctx.options
    }
}

/// Private directories are named `stowage-{plugin,host}-PID-RANDOM`; those
/// of a host that no longer runs (killed before it could remove them) are
/// removed, so staged copies do not pile up.
fn sweep_stale_private_dirs(tmp: &Path) {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| {
            n.strip_prefix("stowage-plugin-")
                .or(n.strip_prefix("stowage-host-"))
        }) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if is_dir && !Path::new(&format!("/proc/{pid}")).exists() {
            // remove_dir_all does not follow symbolic links.
            match std::fs::remove_dir_all(entry.path()) {
                Ok(()) => log::debug!(
                    "removed {}, left by a host that died",
                    entry.path().display()
                ),
                Err(e) => log::debug!("cannot remove {}: {e}", entry.path().display()),
            }
        }
    }
}

fn bytes(p: &Path) -> Vec<u8> {
    p.as_os_str().as_bytes().to_vec()
}

impl Context {
    pub(crate) fn state_of(&self, plugin: &PluginInfo) -> Arc<PluginState> {
        self.plugins
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(plugin.file.clone())
            .or_insert_with(|| {
                Arc::new(PluginState {
                    name: plugin.name.clone(),
                    file: plugin.file.clone(),
                    deaths: AtomicU32::new(0),
                    last_death: Mutex::new(String::new()),
                })
            })
            .clone()
    }

    /// A private directory for one child (0700; the child's user owns it).
    fn private_dir(&self, what: &str) -> Result<PathBuf, BackendError> {
        let dir = std::env::temp_dir().join(format!(
            "stowage-{what}-{}-{:016x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| BackendError::from_io(&e, format!("creating {}", dir.display())))?;
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
        Ok(dir)
    }

    /// Starts a child for `plugin` and loads it, confined as `confinement`
    /// says.
    /// `host`: the services of the backend the child will serve.
    pub(crate) fn start(
        &self,
        plugin: &Path,
        mut confinement: Confinement,
        host: &HostObject,
    ) -> Result<(Live, Descriptor), BackendError> {
        let o = &self.options;
        confinement.enabled = o.confine;
        confinement.required = o.require_confinement;
        let staging = self.private_dir("plugin")?;
        let host_staging = self.private_dir("host")?;
        if let Some(user) = o.user {
            std::os::unix::fs::chown(&staging, Some(user.uid), Some(user.gid)).map_err(|e| {
                BackendError::from_io(
                    &e,
                    format!("handing {} to the plugin user", staging.display()),
                )
            })?;
        }
        let spec = SpawnSpec {
            program: o.program.clone(),
            args: vec!["__serve-plugin".into()],
            limits: o.limits,
            user: o.user,
            stderr: log::max_level() >= log::LevelFilter::Debug,
            tmpdir: staging.clone(),
        };
        let plugin_name = plugin.display().to_string();
        let cannot = |what: String| {
            BackendError::transient(format!("plugin {plugin_name}: {what}")).with_retryable(true)
        };
        let spawned = spawn(&spec).map_err(|e| {
            let _ = std::fs::remove_dir_all(&staging);
            let _ = std::fs::remove_dir_all(&host_staging);
            cannot(format!("cannot start its isolation child: {e}"))
        })?;
        let live = Live::new(
            spawned,
            staging.clone(),
            host_staging,
            host.clone(),
            o.op_timeout,
        )
        .map_err(|dead| {
            let (live, failure) = *dead;
            cannot(live.bury(&failure).0)
        })?;
        let setup = Request::Setup(Setup {
            plugin: bytes(plugin),
            max_log_level: log::max_level() as u8,
            confinement,
            staging: bytes(&staging),
        });
        match live.converse(&setup, &[], &Services::new(no_host()), o.op_timeout) {
            Ok(Ok(Answer::Loaded {
                descriptor,
                unconfined,
            })) => {
                if let Some(why) = unconfined {
                    if !self.warned_unconfined.swap(true, Ordering::AcqRel) {
                        log::warn!("plugins run isolated but unconfined: {why}");
                    }
                }
                Ok((live, descriptor.into()))
            }
            Ok(Ok(other)) => Err(cannot(format!("unexpected answer to setup: {other:?}"))),
            Ok(Err(e)) => {
                live.shut_down(Duration::from_secs(1));
                Err(BackendError::new(
                    e.code(),
                    format!("plugin {plugin_name}: {}", e.message()),
                ))
            }
            Err(failure) => Err(cannot(live.bury(&failure).0)),
        }
    }

    /// A child for `plugin` with the backend of `open` opened in it.
    pub(crate) fn start_backend(
        &self,
        plugin: &PluginState,
        open: &OpenArgs,
        host: &HostObject,
    ) -> Result<Live, BackendError> {
        let mut confinement = confinement_for(&open.url, open.as_prefix);
        confinement
            .read_write
            .extend(open.extra_read_write.iter().map(|p| bytes(p)));
        let (live, _) = self.start(&plugin.file, confinement, host)?;
        let request = Request::Open {
            handler: open.handler.clone(),
            as_prefix: open.as_prefix,
            url: open.url.clone(),
        };
        let services = Services::new(host.clone());
        match live.converse(&request, &[], &services, self.options.op_timeout) {
            Ok(Ok(_)) => Ok(live),
            Ok(Err(e)) => {
                live.shut_down(self.options.op_timeout);
                Err(e)
            }
            Err(failure) => {
                let (what, _) = live.bury(&failure);
                let reason = format!(
                    "plugin {} ({}) {what} during open",
                    plugin.name,
                    plugin.file.display()
                );
                plugin.record_death(&reason);
                Err(BackendError::transient(reason).with_retryable(true))
            }
        }
    }
}

/// The host services of a child that loads a plugin (before any backend
/// is open): logs only.
pub(crate) fn no_host() -> HostObject {
    stowage_backend_api::abi::RawHost_TO::from_ptr(
        abi_stable::std_types::RArc::new(NoHost),
        TD_Opaque,
    )
}

/// The host services a child gets while it loads (before any backend is
/// open): logs only.
#[derive(Clone)]
struct NoHost;

impl stowage_backend_api::abi::RawHost for NoHost {
    fn log(
        &self,
        level: u8,
        target: abi_stable::std_types::RStr<'_>,
        message: abi_stable::std_types::RStr<'_>,
    ) {
        let level = stowage_backend_api::levels::level_from_abi(level);
        log::log!(target: "stowage::plugin", level, "{}: {}", target.as_str(), message.as_str());
    }

    fn max_log_level(&self) -> u8 {
        log::max_level() as u8
    }

    fn open_backend(
        &self,
        _url: abi_stable::std_types::RStr<'_>,
    ) -> abi_stable::std_types::RResult<BackendObject, BackendError> {
        abi_stable::std_types::RResult::RErr(BackendError::generic(
            "no backend can be opened while a plugin loads",
        ))
    }

    fn extension(
        &self,
        _id: abi_stable::std_types::RStr<'_>,
    ) -> abi_stable::std_types::ROption<stowage_backend_api::Extension> {
        abi_stable::std_types::ROption::RNone
    }
}

/// The files a network URL names for its credentials and host keys
/// (`?identity=`, `?known_hosts=`), and the standard places the network
/// plugins read them from: `~/.ssh` (read-write: `accept-new` records a
/// host key there), `~/.netrc` and `~/.aws` (read-only). Only what exists
/// is granted.
fn network_credentials(url: &str, c: &mut Confinement) {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    let query = query.split('#').next().unwrap_or("");
    for (key, value) in stowage_backend_api::location::parse_query(query).unwrap_or_default() {
        let path = PathBuf::from(value);
        if !path.is_absolute() {
            continue;
        }
        match key.as_str() {
            "identity" => c.read_only.push(bytes(&path)),
            // A known_hosts file that does not exist yet is created in its
            // directory.
            "known_hosts" if path.exists() => c.read_write.push(bytes(&path)),
            "known_hosts" => {
                if let Some(dir) = path.parent() {
                    c.read_write.push(bytes(dir));
                }
            }
            _ => {}
        }
    }
    if let Some(home) = std::env::var_os("HOME").map(PathBuf::from) {
        c.read_write.push(bytes(&home.join(".ssh")));
        c.read_only.push(bytes(&home.join(".netrc")));
        c.read_only.push(bytes(&home.join(".aws")));
    }
}

/// What the child may reach for `url`: the directory a path URL names
/// (its nearest existing ancestor while it does not exist yet) read-write;
/// for `xorriso://`, the directory holding the image (the image, its lock
/// and its staging directory live there); nothing at all for a URL with a
/// host (network schemes get the network instead); nothing for a prefix,
/// whose inner backend the host opens.
pub(crate) fn confinement_for(url: &str, as_prefix: bool) -> Confinement {
    let mut c = Confinement::default();
    if as_prefix {
        return c;
    }
    let Ok(parsed) = PathUrl::parse(url) else {
        return c;
    };
    let raw = parsed.raw_location();
    let path_like =
        raw.starts_with('/') || parsed.scheme == "file" || parsed.scheme == "local-peer";
    if !path_like {
        c.network = true;
        network_credentials(url, &mut c);
        return c;
    }
    // local-peer://HOST/abs/dir names the peer before its directory.
    let path = if parsed.scheme == "local-peer" {
        parsed.authority_and_path().map(|(_, p)| p)
    } else {
        parsed.local_path()
    };
    let Ok(path) = path else {
        return c;
    };
    let store = if parsed.scheme == "xorriso" {
        let text = path.as_os_str().as_bytes();
        let image = match text.iter().position(|&b| b == b':') {
            Some(i) => PathBuf::from(std::ffi::OsStr::from_bytes(&text[..i])),
            None => path.clone(),
        };
        image.parent().map(Path::to_path_buf).unwrap_or(image)
    } else {
        path
    };
    let store = std::path::absolute(&store).unwrap_or(store);
    let reachable = store
        .ancestors()
        .find(|a| a.exists())
        .map(Path::to_path_buf)
        .unwrap_or(store);
    c.read_write.push(bytes(&reachable));
    c
}

#[cfg(test)]
mod tests;
