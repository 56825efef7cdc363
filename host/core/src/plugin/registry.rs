//! The registry: which plugin opens which scheme and prefix.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};

use stowage_backend_api::abi::{BackendObject, HostObject};
use stowage_backend_api::BackendHandle;

use super::cache::{FileKey, ProbeCache};
use super::deferred::Deferred;
use super::info::{Handler, PluginInfo};
use super::isolation::{describe_isolated, open_through};
use super::loaded::{LoadedPlugin, Runs};
use super::loader::load;
use super::probe::Prober;
use super::search_path::{Found, SearchPath, SearchedDir};
use super::services::{HostServices, OpenInner};
use super::trust::{DirWalks, PluginFile};
use super::verdict::Verdict;
use crate::backend::Backend;
use crate::error::{Error, Result, UnknownHandler};
use crate::redact::scrub;
use crate::target::Target;

/// A file in a plugin directory that was not loaded, and why.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Rejected {
    /// The file.
    pub file: PathBuf,
    /// Why it was not loaded.
    pub reason: String,
}

/// Two plugins claimed one scheme or prefix; the first in search order won.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Conflict {
    /// The scheme or prefix.
    pub handler: String,
    /// "scheme" or "prefix".
    pub kind: &'static str,
    /// The file that keeps it.
    pub winner: PathBuf,
    /// The file that lost it.
    pub loser: PathBuf,
}

/// How plugin files are vetted before they are loaded in-process.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// Probe each new or changed file in a child process first. Without a
    /// prober, files are loaded directly (an embedding program that cannot
    /// re-execute itself can point this at the `stowage` binary).
    pub prober: Option<Prober>,
    /// Where probe verdicts are cached (see `cache::default_cache_file`).
    pub cache_file: Option<PathBuf>,
    /// Probe every file again, ignoring cached verdicts.
    pub rescan: bool,
    /// Load files that others can write (skips the trust check).
    pub allow_insecure: bool,
    /// Runs the plugins it claims out of process (see
    /// [`Isolator`](super::Isolator)); without one, every plugin runs here.
    pub isolator: Option<Arc<dyn super::Isolator>>,
    /// Load a plugin only when a URL first needs it: a file whose probe
    /// verdict (with its handlers) is known is registered from that
    /// verdict, vetted and held open but not loaded (an isolated one not
    /// described by a child), until it is opened. Needs a `prober`; without
    /// one, or when false, every plugin is loaded when the registry is
    /// built (as a listing of what loads wants).
    pub load_when_opened: bool,
}

/// Invariant: every index in `schemes` and `prefixes` points into
/// `plugins`, and each name maps to the first plugin in search order that
/// declared it.
pub(crate) struct RegistryInner {
    plugins: Vec<LoadedPlugin>,
    schemes: BTreeMap<String, usize>,
    prefixes: BTreeMap<String, usize>,
    rejected: Vec<Rejected>,
    conflicts: Vec<Conflict>,
    searched: Vec<SearchedDir>,
    host: HostObject,
}

/// The loaded plugins and their handlers: the entry point of the library.
///
/// Cheap to clone (shared). Plugins are loaded once, when the registry is
/// built, and stay loaded for the life of the process.
#[derive(Clone)]
pub struct Registry {
    inner: Arc<RegistryInner>,
}

/// The `.so` files of `dir`, sorted by name, so the load order (and thus
/// who wins a conflict) does not depend on the filesystem; or why there
/// are none.
fn candidates(dir: &Path, rejected: &mut Vec<Rejected>) -> Found {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            return match e.kind() {
                std::io::ErrorKind::NotFound => Found::Missing,
                std::io::ErrorKind::NotADirectory => Found::NotADirectory,
                _ => {
                    log::warn!("cannot read plugin directory {}: {e}", dir.display());
                    Found::Unreadable(e.to_string())
                }
            };
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|ext| ext == "so"))
        .collect();
    files.sort();
    // Unreadable files stay listed (and are rejected): the directory's
    // description names them.
    files.retain(|p| match std::fs::metadata(p) {
        Ok(m) => m.is_file(),
        Err(e) => {
            rejected.push(Rejected {
                file: p.clone(),
                reason: format!("cannot read: {e}"),
            });
            true
        }
    });
    if files.is_empty() {
        Found::Empty
    } else {
        Found::Files(files)
    }
}

impl Registry {
    /// Loads every plugin found on `search_path`, in-process, with the
    /// trust check and without a probe. Files that fail are recorded in
    /// [`Registry::rejected`]; loading never fails as a whole.
    pub fn load(search_path: &SearchPath) -> Self {
        Self::load_with(search_path, &LoadOptions::default())
    }

    /// [`Registry::load`] with explicit options.
    pub fn load_with(search_path: &SearchPath, options: &LoadOptions) -> Self {
        let mut files = Vec::new();
        let mut rejected = Vec::new();
        let mut searched = Vec::new();
        for (dir, origin) in search_path.entries() {
            let found = candidates(dir, &mut rejected);
            if let Found::Files(names) = &found {
                let readable = names
                    .iter()
                    .filter(|f| !rejected.iter().any(|r| &r.file == *f));
                files.extend(readable.cloned());
            }
            searched.push(SearchedDir {
                dir: dir.to_path_buf(),
                origin,
                found,
            });
        }
        Self::build(&files, rejected, options, searched)
    }

    /// Loads exactly these files, in this order.
    pub fn load_files(files: &[PathBuf], rejected: Vec<Rejected>, options: &LoadOptions) -> Self {
        Self::build(files, rejected, options, Vec::new())
    }

    fn build(
        files: &[PathBuf],
        mut rejected: Vec<Rejected>,
        options: &LoadOptions,
        searched: Vec<SearchedDir>,
    ) -> Self {
        let mut cache = options.cache_file.clone().map(ProbeCache::open);
        let inner = Arc::new_cyclic(|weak| {
            let host = HostServices::object(weak.clone() as Weak<dyn OpenInner>);
            let mut plugins: Vec<LoadedPlugin> = Vec::new();
            let mut walks = DirWalks::default();
            for file in files {
                // Opened once, checked on its descriptor, and probed and
                // loaded through that descriptor only.
                let opened = PluginFile::open_walked(file, !options.allow_insecure, &mut walks)
                    .and_then(|opened| {
                        vet(&opened, options, cache.as_mut()).map(|verdict| (opened, verdict))
                    });
                let (opened, verdict) = match opened {
                    Ok(opened) => opened,
                    Err(reason) => {
                        log::warn!("plugin file {} not loaded: {reason}", file.display());
                        rejected.push(Rejected {
                            file: file.clone(),
                            reason,
                        });
                        continue;
                    }
                };
                // An isolated plugin is never loaded here: its children load
                // the file the trust walk vetted (its every ancestor is
                // ours or root's, so nobody else can swap it).
                let isolator = options
                    .isolator
                    .as_ref()
                    .filter(|i| i.isolates(&absolute_or_same(opened.path())));
                let known = verdict.filter(|_| options.load_when_opened);
                let loaded = match (known, isolator) {
                    (Some(verdict), isolator) => Ok(registered_unloaded(opened, verdict, isolator)),
                    (None, Some(isolator)) => describe_isolated(opened.path(), isolator),
                    (None, None) => load(opened, &host),
                };
                match loaded {
                    Ok(p) => {
                        log::debug!(
                            "{} plugin {} {} from {}",
                            match p.runs {
                                Runs::InProcess(_) => "loaded",
                                Runs::Isolated(_) => "registered isolated",
                                Runs::Deferred(_) => "registered (loaded when opened)",
                            },
                            p.info.name,
                            p.info.version,
                            p.info.file.display()
                        );
                        plugins.push(p);
                    }
                    Err(reason) => {
                        log::warn!("plugin file {} not loaded: {reason}", file.display());
                        rejected.push(Rejected {
                            file: file.clone(),
                            reason,
                        });
                    }
                }
            }
            let mut conflicts = Vec::new();
            let schemes = register(&plugins, "scheme", |p| &p.info.schemes, &mut conflicts);
            let prefixes = register(&plugins, "prefix", |p| &p.info.prefixes, &mut conflicts);
            RegistryInner {
                plugins,
                schemes,
                prefixes,
                rejected,
                conflicts,
                searched,
                host,
            }
        });
        if let Some(cache) = cache.as_mut() {
            cache.save();
        }
        Self { inner }
    }

    /// The loaded plugins, in load order.
    pub fn plugins(&self) -> Vec<&PluginInfo> {
        self.inner.plugins.iter().map(|p| &p.info).collect()
    }

    /// How the plugin loaded from `file` runs: `"in-process"` or
    /// `"isolated"` (`None` for a file that is not a loaded plugin).
    pub fn mode(&self, file: &Path) -> Option<&'static str> {
        self.inner
            .plugins
            .iter()
            .find(|p| p.info.file == file)
            .map(|p| p.runs.mode())
    }

    /// Files that were not loaded, with reasons.
    pub fn rejected(&self) -> &[Rejected] {
        &self.inner.rejected
    }

    /// The directories searched (empty when the files were given with
    /// [`Registry::load_files`]), each with a line saying what became of
    /// it: missing, empty, the plugins it gave, the files it skipped and
    /// why.
    pub fn searched(&self) -> Vec<(&SearchedDir, String)> {
        self.inner
            .searched
            .iter()
            .map(|d| (d, self.inner.describe(d)))
            .collect()
    }

    /// Handler conflicts, resolved first-wins.
    pub fn conflicts(&self) -> &[Conflict] {
        &self.inner.conflicts
    }

    /// Opens `url` with the default retry policy.
    ///
    /// # Errors
    /// Invalid or unknown URLs, or the plugin's refusal to open.
    pub fn open(&self, url: &str) -> Result<Backend> {
        let target = Target::parse(url)?;
        let opened = self.inner.open_target(&target)?;
        let backend = Backend::new(BackendHandle::new(opened.object), target);
        // Only the isolation proxy's own `stowage.put-query/1` is trusted:
        // an in-process prefix that forwards extensions to its inner
        // backend would otherwise hand over the inner backend's put, and
        // the host's puts would bypass the prefix.
        Ok(if opened.isolated {
            backend.with_put_query()
        } else {
            backend
        })
    }

    /// Opens `url` without any host layer: the raw handle a prefix plugin
    /// would get. For tests and tools that want to see plugin behaviour
    /// unfiltered.
    pub fn open_raw(&self, url: &str) -> Result<BackendHandle> {
        self.inner.open_object(url).map(BackendHandle::new)
    }
}

/// A backend object as its handler's plugin opened it.
struct Opened {
    object: BackendObject,
    /// The plugin runs isolated: `object` is the isolation proxy.
    isolated: bool,
}

fn absolute_or_same(file: &Path) -> PathBuf {
    std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf())
}

/// A plugin registered from its accepted probe verdict, not loaded: an
/// isolated one is opened through `isolator` (no child describes it), an
/// in-process one is loaded from `file` when first opened.
fn registered_unloaded(
    file: PluginFile,
    verdict: Known,
    isolator: Option<&Arc<dyn super::Isolator>>,
) -> LoadedPlugin {
    let info = PluginInfo {
        name: verdict.name,
        version: verdict.version,
        description: verdict.description,
        abi_version: stowage_backend_api::abi::ABI_VERSION,
        file: file.path().to_path_buf(),
        schemes: verdict.schemes,
        prefixes: verdict.prefixes,
    };
    let runs = match isolator {
        Some(isolator) => Runs::Isolated(isolator.clone()),
        None => Runs::Deferred(Arc::new(Deferred::new(file))),
    };
    LoadedPlugin { info, runs }
}

/// What an accepted probe verdict says a file declares.
struct Known {
    name: String,
    version: String,
    description: String,
    schemes: Vec<Handler>,
    prefixes: Vec<Handler>,
}

/// The check before an opened (and, unless allowed otherwise, trusted)
/// file may be loaded in-process: the (cached) out-of-process probe of
/// that very descriptor. Returns what the probe found the file declares
/// (`None` without a prober).
fn vet(
    file: &PluginFile,
    options: &LoadOptions,
    cache: Option<&mut ProbeCache>,
) -> Result<Option<Known>, String> {
    let Some(prober) = &options.prober else {
        return Ok(None);
    };
    let path = file.path();
    let key = FileKey::of(file.metadata());
    let cached = match &cache {
        Some(c) if !options.rescan => c.get(path, &key).cloned(),
        _ => None,
    };
    let verdict = match cached {
        Some(v) => v,
        None => {
            log::debug!("probing {} in a child process", path.display());
            let v = prober.probe_file(file)?;
            if let Some(c) = cache {
                c.put(path, key, v.clone());
            }
            v
        }
    };
    match verdict {
        Verdict::Accepted {
            name,
            version,
            description,
            schemes,
            prefixes,
        } => Ok(Some(Known {
            name,
            version,
            description,
            schemes,
            prefixes,
        })),
        Verdict::Rejected { reason } => Err(reason),
    }
}

fn register(
    plugins: &[LoadedPlugin],
    kind: &'static str,
    handlers: impl Fn(&LoadedPlugin) -> &Vec<Handler>,
    conflicts: &mut Vec<Conflict>,
) -> BTreeMap<String, usize> {
    let mut map: BTreeMap<String, usize> = BTreeMap::new();
    for (index, plugin) in plugins.iter().enumerate() {
        for h in handlers(plugin) {
            if let Some(&first) = map.get(&h.name) {
                let winner = plugins[first].info.file.clone();
                log::warn!(
                    "{kind} {:?} is declared by {} and by {}; using the first",
                    h.name,
                    winner.display(),
                    plugin.info.file.display()
                );
                conflicts.push(Conflict {
                    handler: h.name.clone(),
                    kind,
                    winner,
                    loser: plugin.info.file.clone(),
                });
            } else {
                map.insert(h.name.clone(), index);
            }
        }
    }
    map
}

impl OpenInner for RegistryInner {
    fn open_object(&self, url: &str) -> Result<BackendObject> {
        self.open_target(&Target::parse(url)?).map(|o| o.object)
    }
}

impl RegistryInner {
    fn describe(&self, dir: &SearchedDir) -> String {
        let loaded = |file: &Path| {
            let file = std::path::absolute(file).ok()?;
            self.plugins
                .iter()
                .find(|p| p.info.file == file)
                .map(|p| p.info.name.clone())
        };
        let rejected = |file: &Path| {
            self.rejected
                .iter()
                .find(|r| r.file == file)
                .map(|r| r.reason.clone())
        };
        dir.describe(&loaded, &rejected)
    }

    fn open_target(&self, target: &Target) -> Result<Opened> {
        let handlers = target.handlers();
        let first = &handlers[0];
        if handlers.len() > 1 {
            if let Some(&index) = self.prefixes.get(first) {
                let inner = target
                    .strip_first_handler()
                    .ok_or_else(|| self.unknown("prefix", first, target))?;
                return self.call_open(index, first, true, &inner, target);
            }
        }
        let scheme = handlers.join("+");
        match self.schemes.get(&scheme) {
            Some(&index) => self.call_open(index, &scheme, false, target, target),
            None if handlers.len() > 1 => Err(self.unknown("prefix", first, target)),
            None => Err(self.unknown("scheme", &scheme, target)),
        }
    }

    fn call_open(
        &self,
        index: usize,
        handler: &str,
        as_prefix: bool,
        url: &Target,
        whole: &Target,
    ) -> Result<Opened> {
        let plugin = &self.plugins[index];
        log::debug!(
            "opening {} with plugin {} ({})",
            url.redacted(),
            plugin.info.name,
            if as_prefix { "prefix" } else { "scheme" }
        );
        let object = open_through(plugin, handler, as_prefix, url.as_str(), self.host.clone())
            .map_err(|e| {
                let message = scrub(e.message(), &whole.secrets());
                Error::Open {
                    url: whole.redacted(),
                    source: stowage_backend_api::BackendError::new(e.code(), message)
                        .with_retryable(e.is_retryable()),
                }
            })?;
        Ok(Opened {
            object,
            isolated: matches!(plugin.runs, Runs::Isolated(_)),
        })
    }

    fn unknown(&self, what: &'static str, name: &str, target: &Target) -> Error {
        let names = |m: &BTreeMap<String, usize>| {
            if m.is_empty() {
                "none".to_string()
            } else {
                m.keys().cloned().collect::<Vec<_>>().join(", ")
            }
        };
        // The directories' descriptions name every file they skipped.
        let failed = if self.rejected.is_empty() || !self.searched.is_empty() {
            String::new()
        } else {
            let list: Vec<String> = self
                .rejected
                .iter()
                .map(|r| format!("{} ({})", r.file.display(), r.reason))
                .collect();
            format!("; plugin files that failed to load: {}", list.join("; "))
        };
        let searched = if self.searched.is_empty() {
            String::new()
        } else {
            let list: Vec<String> = self.searched.iter().map(|d| self.describe(d)).collect();
            format!("; directories searched: {}", list.join("; "))
        };
        Error::UnknownScheme(Box::new(UnknownHandler {
            what,
            name: name.to_string(),
            url: target.redacted(),
            schemes: names(&self.schemes),
            prefixes: names(&self.prefixes),
            failed,
            searched,
        }))
    }
}
