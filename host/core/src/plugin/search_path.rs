//! Where plugins are looked for, following GStreamer's convention:
//! `STOWAGE_PLUGIN_PATH` adds directories in front of the defaults (a
//! development build overrides an installed plugin without hiding the
//! others), `STOWAGE_PLUGIN_SYSTEM_PATH` replaces the defaults, and an
//! explicit list (the CLI's `--plugin-dir`) replaces everything.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::{Path, PathBuf};

/// The environment variable naming plugin directories searched before the
/// defaults (colon-separated).
pub const PLUGIN_PATH_ENV: &str = "STOWAGE_PLUGIN_PATH";

/// The environment variable naming the directories that replace the
/// defaults (colon-separated; set but empty means no defaults at all).
pub const PLUGIN_SYSTEM_PATH_ENV: &str = "STOWAGE_PLUGIN_SYSTEM_PATH";

/// Why a directory is on the search path: shown when no plugin handles a
/// URL, so that a user can tell which setting to change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// Given explicitly (the CLI's `--plugin-dir`, or [`SearchPath::new`]).
    Given,
    /// From `STOWAGE_PLUGIN_PATH`.
    PluginPath,
    /// From `STOWAGE_PLUGIN_SYSTEM_PATH`.
    SystemPath,
    /// The per-user default, `$XDG_DATA_HOME/stowage/plugins`.
    User,
    /// The installed default, `<exe dir>/../lib/stowage/plugins`.
    Installed,
    /// The running executable's own directory (a cargo target directory).
    BesideExecutable,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Origin::Given => "given",
            Origin::PluginPath => PLUGIN_PATH_ENV,
            Origin::SystemPath => PLUGIN_SYSTEM_PATH_ENV,
            Origin::User => "per-user default",
            Origin::Installed => "installed default",
            Origin::BesideExecutable => "default: the executable's directory",
        })
    }
}

/// An ordered list of plugin directories: earlier ones win conflicts.
///
/// Invariant: `dirs` and `origins` have the same length, and no directory
/// appears twice (it would load every plugin in it twice, each a conflict
/// with itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchPath {
    dirs: Vec<PathBuf>,
    origins: Vec<Origin>,
}

/// What [`SearchPath::resolve_with`] reads from the process: the
/// environment and where the executable is. Separate so that the rules can
/// be tested without touching the process environment.
pub struct Environment<'a> {
    /// Looks up an environment variable.
    pub var: &'a dyn Fn(&str) -> Option<OsString>,
    /// The directory of the running executable, if known.
    pub exe_dir: Option<PathBuf>,
}

impl SearchPath {
    /// Exactly these directories.
    pub fn new(dirs: Vec<PathBuf>) -> Self {
        let mut path = Self::empty();
        for dir in dirs {
            path.push(dir, Origin::Given);
        }
        path
    }

    fn empty() -> Self {
        Self {
            dirs: Vec::new(),
            origins: Vec::new(),
        }
    }

    /// Adds `dir` unless it is already on the path (compared after
    /// resolving links, when it exists).
    fn push(&mut self, dir: PathBuf, origin: Origin) {
        let key = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        let new = key(&dir);
        if self.dirs.iter().any(|d| key(d) == new) {
            log::debug!("plugin directory {} is already searched", dir.display());
            return;
        }
        self.dirs.push(dir);
        self.origins.push(origin);
    }

    /// The directories in effect for this process: `explicit` alone if
    /// non-empty (the CLI's `--plugin-dir`); else `STOWAGE_PLUGIN_PATH`'s
    /// directories followed by `STOWAGE_PLUGIN_SYSTEM_PATH`'s when that is
    /// set, or by the defaults (see [`SearchPath::defaults`]).
    pub fn resolve(explicit: Vec<PathBuf>) -> Self {
        let var = |name: &str| std::env::var_os(name);
        Self::resolve_with(
            explicit,
            &Environment {
                var: &var,
                exe_dir: exe_dir(),
            },
        )
    }

    /// [`SearchPath::resolve`] with the environment given.
    pub fn resolve_with(explicit: Vec<PathBuf>, env: &Environment<'_>) -> Self {
        if !explicit.is_empty() {
            return Self::new(explicit);
        }
        let mut path = Self::empty();
        if let Some(value) = (env.var)(PLUGIN_PATH_ENV) {
            for dir in split(&value) {
                path.push(dir, Origin::PluginPath);
            }
        }
        match (env.var)(PLUGIN_SYSTEM_PATH_ENV) {
            Some(value) => {
                for dir in split(&value) {
                    path.push(dir, Origin::SystemPath);
                }
            }
            None => {
                for (dir, origin) in default_dirs(env) {
                    path.push(dir, origin);
                }
            }
        }
        path
    }

    /// Splits a `STOWAGE_PLUGIN_PATH` value; empty entries are skipped.
    pub fn from_env_value(value: &OsStr) -> Self {
        let mut path = Self::empty();
        for dir in split(value) {
            path.push(dir, Origin::PluginPath);
        }
        path
    }

    /// The default directories, first match wins:
    /// `$XDG_DATA_HOME/stowage/plugins` (`~/.local/share/stowage/plugins`;
    /// for a user's own plugins), `<exe dir>/../lib/stowage/plugins` (an
    /// installed layout), then `<exe dir>` (a cargo target directory).
    pub fn defaults() -> Self {
        let var = |name: &str| std::env::var_os(name);
        let env = Environment {
            var: &var,
            exe_dir: exe_dir(),
        };
        let mut path = Self::empty();
        for (dir, origin) in default_dirs(&env) {
            path.push(dir, origin);
        }
        path
    }

    /// The directories, in priority order.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// The directories with why each is searched, in priority order.
    pub fn entries(&self) -> impl Iterator<Item = (&Path, Origin)> {
        self.dirs
            .iter()
            .map(PathBuf::as_path)
            .zip(self.origins.iter().copied())
    }
}

fn split(value: &OsStr) -> impl Iterator<Item = PathBuf> + '_ {
    std::env::split_paths(value).filter(|p| !p.as_os_str().is_empty())
}

fn exe_dir() -> Option<PathBuf> {
    let dir = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf));
    if dir.is_none() {
        log::warn!("cannot locate the running executable; no installed plugin directories");
    }
    dir
}

/// The per-user directory: `$XDG_DATA_HOME/stowage/plugins`, else
/// `$HOME/.local/share/stowage/plugins`. A relative value is ignored, as the
/// XDG base directory rules say: it would depend on the working directory.
fn user_dir(env: &Environment<'_>) -> Option<PathBuf> {
    let absolute = |v: OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
    let data_home = (env.var)("XDG_DATA_HOME").and_then(absolute).or_else(|| {
        (env.var)("HOME")
            .and_then(absolute)
            .map(|h| h.join(".local").join("share"))
    })?;
    Some(data_home.join("stowage").join("plugins"))
}

fn default_dirs(env: &Environment<'_>) -> Vec<(PathBuf, Origin)> {
    let mut dirs = Vec::new();
    if let Some(dir) = user_dir(env) {
        dirs.push((dir, Origin::User));
    }
    if let Some(exe_dir) = &env.exe_dir {
        let installed = exe_dir
            .join("..")
            .join("lib")
            .join("stowage")
            .join("plugins");
        dirs.push((installed, Origin::Installed));
        dirs.push((exe_dir.clone(), Origin::BesideExecutable));
    }
    dirs
}

/// What the registry found in one directory of the search path.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SearchedDir {
    /// The directory, as it is on the search path.
    pub dir: PathBuf,
    /// Why it was searched.
    pub origin: Origin,
    /// What was there.
    pub found: Found,
}

/// What a plugin directory held.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "detail")]
pub enum Found {
    /// It does not exist.
    Missing,
    /// It is not a directory.
    NotADirectory,
    /// It could not be read.
    Unreadable(String),
    /// It holds no `*.so` file.
    Empty,
    /// These `*.so` files (each then loaded or rejected).
    Files(Vec<PathBuf>),
}

impl SearchedDir {
    /// One line for people: the directory, its origin and what became of
    /// it, given which files were `loaded` (plugin name by file) and which
    /// were `rejected` (reason by file).
    pub fn describe(
        &self,
        loaded: &dyn Fn(&Path) -> Option<String>,
        rejected: &dyn Fn(&Path) -> Option<String>,
    ) -> String {
        let what = match &self.found {
            Found::Missing => "missing".to_string(),
            Found::NotADirectory => "not a directory".to_string(),
            Found::Unreadable(e) => format!("cannot be read: {e}"),
            Found::Empty => "empty (no *.so file)".to_string(),
            Found::Files(files) => {
                let mut names = Vec::new();
                let mut skipped = Vec::new();
                for file in files {
                    let shown = file.file_name().map_or_else(
                        || file.display().to_string(),
                        |n| n.to_string_lossy().into_owned(),
                    );
                    if let Some(name) = loaded(file) {
                        names.push(name);
                    } else {
                        let reason = rejected(file).unwrap_or_else(|| "not loaded".into());
                        skipped.push(format!("{shown} {}", skip_reason(&reason)));
                    }
                }
                let mut parts = Vec::new();
                if !names.is_empty() {
                    parts.push(format!("loaded {}", names.join(", ")));
                }
                if !skipped.is_empty() {
                    parts.push(format!("skipped {}", skipped.join(", ")));
                }
                parts.join("; ")
            }
        };
        format!("{} ({}): {what}", self.dir.display(), self.origin)
    }
}

/// A rejection reason, with the trust check's refusals called what they
/// are ("not trusted") so that they stand out in a long list.
fn skip_reason(reason: &str) -> String {
    match reason.strip_prefix("refusing to load: ") {
        Some(rest) => format!("(not trusted: {rest})"),
        None => format!("({reason})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn resolve(vars: &[(&str, &str)], explicit: &[&str]) -> Vec<(PathBuf, Origin)> {
        let vars: BTreeMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        let var = move |name: &str| vars.get(name).cloned();
        let env = Environment {
            var: &var,
            exe_dir: Some("/opt/st/bin".into()),
        };
        SearchPath::resolve_with(explicit.iter().map(PathBuf::from).collect(), &env)
            .entries()
            .map(|(d, o)| (d.to_path_buf(), o))
            .collect()
    }

    fn defaults_for(home: &str) -> Vec<(PathBuf, Origin)> {
        vec![
            (
                PathBuf::from(home).join(".local/share/stowage/plugins"),
                Origin::User,
            ),
            (
                "/opt/st/bin/../lib/stowage/plugins".into(),
                Origin::Installed,
            ),
            ("/opt/st/bin".into(), Origin::BesideExecutable),
        ]
    }

    #[test]
    fn env_value_is_split() {
        let p = SearchPath::from_env_value(OsStr::new("/a::/b"));
        assert_eq!(p.dirs(), [PathBuf::from("/a"), PathBuf::from("/b")]);
    }

    #[test]
    fn explicit_dirs_replace_everything() {
        let dirs = resolve(
            &[
                ("STOWAGE_PLUGIN_PATH", "/p"),
                ("STOWAGE_PLUGIN_SYSTEM_PATH", "/s"),
                ("HOME", "/home/u"),
            ],
            &["/x"],
        );
        assert_eq!(dirs, [(PathBuf::from("/x"), Origin::Given)]);
    }

    #[test]
    fn defaults_are_the_user_dir_then_the_installed_ones() {
        assert_eq!(
            resolve(&[("HOME", "/home/u")], &[]),
            defaults_for("/home/u")
        );
    }

    #[test]
    fn plugin_path_comes_before_the_defaults() {
        let mut expected = vec![
            (PathBuf::from("/p1"), Origin::PluginPath),
            (PathBuf::from("/p2"), Origin::PluginPath),
        ];
        expected.extend(defaults_for("/home/u"));
        assert_eq!(
            resolve(
                &[("STOWAGE_PLUGIN_PATH", "/p1:/p2"), ("HOME", "/home/u")],
                &[]
            ),
            expected
        );
    }

    #[test]
    fn system_path_replaces_the_defaults() {
        let dirs = resolve(
            &[
                ("STOWAGE_PLUGIN_PATH", "/p"),
                ("STOWAGE_PLUGIN_SYSTEM_PATH", "/s"),
                ("HOME", "/home/u"),
            ],
            &[],
        );
        assert_eq!(
            dirs,
            [
                (PathBuf::from("/p"), Origin::PluginPath),
                (PathBuf::from("/s"), Origin::SystemPath)
            ]
        );
        let none = resolve(&[("STOWAGE_PLUGIN_SYSTEM_PATH", ""), ("HOME", "/h")], &[]);
        assert!(none.is_empty(), "{none:?}");
    }

    #[test]
    fn xdg_data_home_wins_over_home_unless_relative() {
        let dirs = resolve(&[("XDG_DATA_HOME", "/d"), ("HOME", "/home/u")], &[]);
        assert_eq!(dirs[0], (PathBuf::from("/d/stowage/plugins"), Origin::User));
        let dirs = resolve(&[("XDG_DATA_HOME", "rel"), ("HOME", "/home/u")], &[]);
        assert_eq!(dirs, defaults_for("/home/u"));
        let dirs = resolve(&[], &[]);
        assert_eq!(dirs.len(), 2, "no user directory without HOME: {dirs:?}");
    }

    #[test]
    fn a_directory_is_searched_once() {
        let dirs = resolve(
            &[("STOWAGE_PLUGIN_PATH", "/opt/st/bin:/p:/p"), ("HOME", "/h")],
            &[],
        );
        let shown: Vec<&PathBuf> = dirs.iter().map(|(d, _)| d).collect();
        assert_eq!(
            shown,
            [
                &PathBuf::from("/opt/st/bin"),
                &PathBuf::from("/p"),
                &PathBuf::from("/h/.local/share/stowage/plugins"),
                &PathBuf::from("/opt/st/bin/../lib/stowage/plugins"),
            ]
        );
        assert_eq!(dirs[0].1, Origin::PluginPath);
    }

    #[test]
    fn descriptions_say_why_a_directory_gave_nothing() {
        let d = |found| SearchedDir {
            dir: "/d".into(),
            origin: Origin::User,
            found,
        };
        let none = |_: &Path| None;
        assert_eq!(
            d(Found::Missing).describe(&none, &none),
            "/d (per-user default): missing"
        );
        assert_eq!(
            d(Found::Empty).describe(&none, &none),
            "/d (per-user default): empty (no *.so file)"
        );
        let files = Found::Files(vec!["/d/liba.so".into(), "/d/libb.so".into()]);
        let loaded = |p: &Path| (p == Path::new("/d/liba.so")).then(|| "a".to_string());
        let rejected = |_: &Path| Some("refusing to load: the directory /d is writable".into());
        assert_eq!(
            d(files).describe(&loaded, &rejected),
            "/d (per-user default): loaded a; skipped libb.so (not trusted: the directory /d is writable)"
        );
    }
}
