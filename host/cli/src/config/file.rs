//! Finding, vetting, reading and writing the configuration file.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use stowage::Error;

use super::plugin_policy::PluginSections;
use super::secrets::has_secret;
use super::valid_remote_name;

/// The parsed configuration, and where it lives.
#[derive(Debug, Default)]
pub struct Config {
    path: Option<PathBuf>,
    remotes: BTreeMap<String, Remote>,
    /// The file's text as read: `save` edits it rather than rewriting it.
    text: String,
    plugins: PluginSections,
}

/// What the file may hold.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileFormat {
    #[serde(default)]
    remote: BTreeMap<String, Remote>,
    #[serde(default)]
    plugin: PluginSections,
}

/// `[remote.NAME]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Remote {
    url: String,
}

impl Config {
    /// Where the configuration is: `explicit` (`--config`), else
    /// `STOWAGE_CONFIG`, else `$XDG_CONFIG_HOME/stowage/config.toml`, else
    /// `~/.config/stowage/config.toml`.
    pub fn location(explicit: Option<&Path>) -> Option<PathBuf> {
        if let Some(p) = explicit {
            return Some(p.to_path_buf());
        }
        let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        if let Some(p) = env("STOWAGE_CONFIG") {
            return Some(PathBuf::from(p));
        }
        let base = env("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".config")))?;
        Some(base.join("stowage").join("config.toml"))
    }

    /// Reads and vets the file at `path`; a missing file is an empty
    /// configuration.
    pub fn load(path: Option<PathBuf>) -> Result<Self, Error> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let mut file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(Self {
                    path: Some(path),
                    ..Self::default()
                })
            }
            Err(source) => return Err(Error::Local { path, source }),
        };
        // Vetted through the open descriptor: what is read is what was checked.
        let meta = file.metadata().map_err(|source| local(&path, source))?;
        refuse_untrusted(&path, &meta, "file")?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let dir_meta = fs::metadata(dir).map_err(|source| local(dir, source))?;
            refuse_untrusted(dir, &dir_meta, "directory")?;
        }
        let mut text = String::new();
        file.read_to_string(&mut text)
            .map_err(|source| local(&path, source))?;
        let mut config = Self::from_text(&text)
            .map_err(|e| Error::InvalidInput(format!("{}: {e}", path.display())))?;
        if config.remotes.values().any(|r| has_secret(&r.url)) && meta.mode() & 0o077 != 0 {
            return Err(denied(
                &path,
                format!(
                    "holds secrets but others may read it; run: chmod 600 {}",
                    path.display()
                ),
            ));
        }
        config.path = Some(path);
        Ok(config)
    }

    /// Parses the file's text.
    pub fn from_text(text: &str) -> Result<Self, String> {
        let parsed: FileFormat = toml::from_str(text).map_err(|e| e.to_string())?;
        if let Some(bad) = parsed.remote.keys().find(|n| !valid_remote_name(n)) {
            return Err(format!(
                "remote name {bad:?}: use letters, digits, '-' and '_', starting with a letter"
            ));
        }
        Ok(Self {
            path: None,
            remotes: parsed.remote,
            text: text.to_string(),
            plugins: parsed.plugin,
        })
    }

    /// The `[plugin.NAME]` tables.
    pub fn plugins(&self) -> &PluginSections {
        &self.plugins
    }

    /// Where the file is (or would be).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The URL of remote `name`.
    pub fn remote(&self, name: &str) -> Option<&str> {
        self.remotes.get(name).map(|r| r.url.as_str())
    }

    /// Every remote, by name.
    pub fn remotes(&self) -> impl Iterator<Item = (&str, &str)> {
        self.remotes
            .iter()
            .map(|(n, r)| (n.as_str(), r.url.as_str()))
    }

    /// Adds remote `name`; an existing name is refused.
    pub fn add(&mut self, name: &str, url: &str) -> Result<(), Error> {
        if !valid_remote_name(name) {
            return Err(Error::InvalidInput(format!(
                "remote name {name:?}: use letters, digits, '-' and '_', starting with a letter"
            )));
        }
        if self.remotes.contains_key(name) {
            return Err(Error::InvalidInput(format!(
                "remote {name} exists; `stowage remote remove {name}` first"
            )));
        }
        stowage::Target::parse(url)?;
        self.remotes.insert(
            name.to_string(),
            Remote {
                url: url.to_string(),
            },
        );
        Ok(())
    }

    /// Removes remote `name`.
    pub fn remove(&mut self, name: &str) -> Result<(), Error> {
        match self.remotes.remove(name) {
            Some(_) => Ok(()),
            None => Err(self.missing(name)),
        }
    }

    /// The error for a remote that is not configured (exit 52).
    pub fn missing(&self, name: &str) -> Error {
        let path = self.path.clone().unwrap_or_default();
        let source = io::Error::new(io::ErrorKind::NotFound, format!("no remote named {name}"));
        Error::Local { path, source }
    }

    /// Writes the file: a private (0600) new file renamed over the old one,
    /// its directory created private (0700) when missing. Only the
    /// `[remote.*]` tables change; comments, order and other tables of the
    /// text read stay as they were.
    pub fn save(&self) -> Result<(), Error> {
        let path = self.path.clone().ok_or_else(|| {
            Error::InvalidInput("no configuration file: set --config FILE".into())
        })?;
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !dir.exists() {
            fs::create_dir_all(dir).map_err(|source| local(dir, source))?;
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
                .map_err(|source| local(dir, source))?;
        }
        let remotes = self
            .remotes
            .iter()
            .map(|(name, r)| (name.as_str(), r.url.as_str()))
            .collect();
        let text = super::edit::with_remotes(&self.text, &remotes)
            .map_err(|e| Error::InvalidInput(format!("writing {}: {e}", path.display())))?;
        let tmp = dir.join(format!(".config.toml.{}", std::process::id()));
        let written = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|()| f.sync_all()));
        if let Err(source) = written.and_then(|()| fs::rename(&tmp, &path)) {
            let _ = fs::remove_file(&tmp);
            return Err(local(&path, source));
        }
        Ok(())
    }
}

/// Refuses a file or directory that someone other than this user (or
/// root) owns or can write.
fn refuse_untrusted(path: &Path, meta: &fs::Metadata, what: &str) -> Result<(), Error> {
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me && meta.uid() != 0 {
        return Err(denied(
            path,
            format!(
                "the configuration {what} belongs to uid {}, not to you or root",
                meta.uid()
            ),
        ));
    }
    let sticky_dir = meta.is_dir() && meta.mode() & 0o1000 != 0;
    if meta.mode() & 0o022 != 0 && !sticky_dir {
        return Err(denied(
            path,
            format!(
                "the configuration {what} is writable by others; run: chmod go-w {}",
                path.display()
            ),
        ));
    }
    Ok(())
}

fn denied(path: &Path, message: String) -> Error {
    local(
        path,
        io::Error::new(io::ErrorKind::PermissionDenied, message),
    )
}

fn local(path: &Path, source: io::Error) -> Error {
    Error::Local {
        path: path.to_path_buf(),
        source,
    }
}
