//! Settings of one backend: the URL, the `XORRISO_*` environment variables, and the
//! xorriso arguments built from them.
//!
//! Kept apart from the process handling so the whole mapping "URL + environment → xorriso
//! command line" is a pure function that unit tests can check for drives that do not exist
//! on the test machine (`/dev/sr0`). Everything is validated strictly: an unknown query key,
//! an over-long volume id or a `XORRISO_WRITE_SPEED` other than `min`/`max` is an
//! [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) error that names the value.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Component, Path, PathBuf};

use stowage_backend_api::location::{parse_query, percent_decode};

use crate::error::{Error, Result};
use crate::quote;

/// Pending changes that trigger a commit in batch mode (`?batch=N` overrides).
///
/// A commit costs at least 0.1 s plus a rewritten directory tree (every session
/// records the whole tree again), so
/// a large batch keeps a backup run to one or a few sessions; duplicity puts one volume
/// (default 200 MB) per change, so 1000 changes rarely trigger before `close`. The byte
/// limit below usually triggers first.
pub const DEFAULT_BATCH_CHANGES: usize = 1000;

/// Staged bytes that trigger a commit in batch mode (`?batch_bytes=N` overrides): bounds
/// the disk space held by staged copies to about 1 GiB (5 duplicity volumes).
pub const DEFAULT_BATCH_BYTES: u64 = 1 << 30;

/// Longest volume id ISO 9660 allows, in bytes.
pub const MAX_VOLID_BYTES: usize = 32;

/// The names of the environment variables read at open.
pub const ENV_PATH: &str = "XORRISO_PATH";
/// See [`ENV_PATH`].
pub const ENV_WRITE_SPEED: &str = "XORRISO_WRITE_SPEED";
/// See [`ENV_PATH`].
pub const ENV_ASSERT_VOLID: &str = "XORRISO_ASSERT_VOLID";
/// See [`ENV_PATH`].
pub const ENV_ARGS: &str = "XORRISO_ARGS";

/// What the URL points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An ISO image file (absolute path), addressed as `stdio:<path>`.
    Image(PathBuf),
    /// An optical drive (`/dev/sr0`), addressed by its plain path (libburn MMC access).
    Drive(PathBuf),
}

impl Target {
    /// The filesystem path of the image or device.
    pub fn path(&self) -> &Path {
        match self {
            Target::Image(p) | Target::Drive(p) => p,
        }
    }

    /// Whether this is an image file (compaction, rollback by truncation, file locks).
    pub fn is_image(&self) -> bool {
        matches!(self, Target::Image(_))
    }

    /// The drive address xorriso gets, unquoted: `stdio:/abs/img.iso` or `/dev/sr0`.
    pub fn drive_address(&self) -> Vec<u8> {
        match self {
            Target::Image(p) => {
                let mut v = b"stdio:".to_vec();
                v.extend_from_slice(p.as_os_str().as_bytes());
                v
            }
            Target::Drive(p) => p.as_os_str().as_bytes().to_vec(),
        }
    }

    /// For messages.
    pub fn display(&self) -> String {
        String::from_utf8_lossy(&self.drive_address()).into_owned()
    }
}

/// When changes are written to the medium.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitPolicy {
    /// `?commit=each`: every put, move and delete is committed before it returns.
    Each,
    /// Default: commit at `close`, or when this many changes or staged bytes are pending.
    Batch {
        /// Commit after this many changes.
        max_changes: usize,
        /// Commit after this many bytes.
        max_bytes: u64,
    },
}

/// `XORRISO_WRITE_SPEED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteSpeed {
    /// The drive's slowest speed (the default): the most reliable burn.
    Min,
    /// The drive's fastest speed.
    Max,
}

impl WriteSpeed {
    fn as_str(self) -> &'static str {
        match self {
            WriteSpeed::Min => "min",
            WriteSpeed::Max => "max",
        }
    }
}

/// The raw `XORRISO_*` environment values (an empty value counts as unset).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvSettings {
    /// `XORRISO_PATH`: the xorriso program to run.
    pub xorriso_path: Option<OsString>,
    /// `XORRISO_WRITE_SPEED`: `min` or `max`.
    pub write_speed: Option<String>,
    /// `XORRISO_ASSERT_VOLID`: the volume id the medium must have.
    pub assert_volid: Option<String>,
    /// `XORRISO_ARGS`: extra xorriso arguments.
    pub args: Option<String>,
}

impl EnvSettings {
    /// Read the four variables from this process's environment.
    pub fn from_process() -> Self {
        Self::from_lookup(|k| std::env::var_os(k))
    }

    /// Read the four variables through `get` (tests, or a host with its own environment).
    pub fn from_lookup(get: impl Fn(&str) -> Option<OsString>) -> Self {
        let nonempty = |k: &str| get(k).filter(|v| !v.is_empty());
        let text = |k: &str| nonempty(k).map(|v| v.to_string_lossy().into_owned());
        EnvSettings {
            xorriso_path: nonempty(ENV_PATH),
            write_speed: text(ENV_WRITE_SPEED),
            assert_volid: text(ENV_ASSERT_VOLID),
            args: text(ENV_ARGS),
        }
    }
}

/// The validated settings of one backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The URL as given (xorriso URLs carry no credentials).
    pub url: String,
    /// The medium (xorriso drive address).
    pub target: Target,
    /// Absolute directory inside the ISO tree, normalised: `/` or `/a/b` (no trailing `/`).
    pub iso_dir: String,
    /// Volume id for a new (blank) medium.
    pub volid: Option<String>,
    /// When changes are committed.
    pub commit: CommitPolicy,
    /// The xorriso executable: a bare name is looked up in `PATH` at spawn time.
    pub xorriso: PathBuf,
    /// Whether `xorriso` came from `XORRISO_PATH` (for error messages).
    pub xorriso_from_env: bool,
    /// `XORRISO_WRITE_SPEED`: `min` or `max`.
    pub write_speed: WriteSpeed,
    /// `XORRISO_ASSERT_VOLID`: the volume id the medium must have.
    pub assert_volid: Option<String>,
    /// Extra xorriso arguments, split like a shell.
    pub extra_args: Vec<String>,
}

impl Config {
    /// Parse `url` with the process environment and working directory.
    pub fn from_url(url: &str) -> Result<Self> {
        let cwd = std::env::current_dir()
            .map_err(|e| Error::io("cannot determine the current directory", e))?;
        Self::parse(url, &EnvSettings::from_process(), &cwd)
    }

    /// Parse `url` with explicit environment values; relative paths are relative to `cwd`.
    pub fn parse(url: &str, env: &EnvSettings, cwd: &Path) -> Result<Self> {
        let bad = |reason: &str| Error::InvalidUrl {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        let colon = url.find(':').ok_or_else(|| bad("no scheme"))?;
        if !url[..colon].eq_ignore_ascii_case("xorriso") {
            return Err(bad("the scheme must be xorriso"));
        }
        let after = &url[colon + 1..];
        // duplicity: "//rel" is relative, "///abs" absolute; a single leading "/" gets "//"
        // prepended (so "xorriso:/abs" is absolute); anything else is refused.
        let body = if let Some(b) = after.strip_prefix("//") {
            b
        } else if after.starts_with('/') {
            after
        } else {
            return Err(bad(
                "missing // after xorriso: (use xorriso:///abs/image.iso or xorriso://relative/image.iso)",
            ));
        };
        if body.contains('#') {
            return Err(bad("'#' is not allowed (write it as %23)"));
        }
        let (body, query) = match body.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (body, None),
        };
        // Split at the first ':' before percent-decoding, so "%3A" is a colon in a path.
        let (dev, dir) = match body.split_once(':') {
            Some((d, i)) => (d, Some(i)),
            None => (body, None),
        };
        if dev.is_empty() {
            return Err(bad("no image file or device path"));
        }
        let dev = percent_decode(dev).map_err(|e| bad(e.message()))?;
        if dev.contains(&0) {
            return Err(bad("the path contains a NUL byte"));
        }
        if dev.ends_with(b"/") {
            return Err(bad(
                "the path names a directory; give an image file or a device",
            ));
        }
        let dev = PathBuf::from(OsString::from_vec(dev));
        let abs = normalize(&if dev.is_absolute() {
            dev
        } else {
            cwd.join(dev)
        });
        let iso_dir = match dir {
            None => "/".to_string(),
            Some(d) => {
                let d = percent_decode(d).map_err(|e| bad(e.message()))?;
                let d = String::from_utf8(d)
                    .map_err(|_| bad("the ISO directory is not valid UTF-8"))?;
                normalize_iso_dir(&d).map_err(|r| bad(&r))?
            }
        };
        let target = classify(abs, |p| std::fs::metadata(p));

        let mut volid = None;
        let mut commit_each = None;
        let mut batch = None;
        let mut batch_bytes = None;
        let mut seen: Vec<String> = Vec::new();
        for (k, v) in parse_query(query.unwrap_or("")).map_err(|e| bad(e.message()))? {
            if seen.contains(&k) {
                return Err(bad(&format!("query key {k:?} given twice")));
            }
            seen.push(k.clone());
            let setting = |reason: &str| Error::InvalidSetting {
                name: k.clone(),
                value: v.clone(),
                reason: reason.to_string(),
            };
            match k.as_str() {
                "volid" => {
                    validate_volid(&v).map_err(|r| setting(&r))?;
                    volid = Some(v.clone());
                }
                "commit" => match v.as_str() {
                    "each" => commit_each = Some(true),
                    "batch" => commit_each = Some(false),
                    _ => return Err(setting("must be \"each\" or \"batch\"")),
                },
                "batch" => {
                    let n: usize = v
                        .parse()
                        .ok()
                        .filter(|&n| n >= 1)
                        .ok_or_else(|| setting("must be a whole number >= 1"))?;
                    batch = Some(n);
                }
                "batch_bytes" => {
                    batch_bytes = Some(parse_size(&v).ok_or_else(|| {
                        setting("must be a byte count >= 1 (suffix K, M or G allowed)")
                    })?);
                }
                _ => {
                    return Err(bad(&format!(
                        "unknown query key {k:?} (known: volid, commit, batch, batch_bytes)"
                    )))
                }
            }
        }
        let commit = if commit_each == Some(true) {
            if batch.is_some() || batch_bytes.is_some() {
                return Err(bad(
                    "batch= and batch_bytes= make no sense with commit=each",
                ));
            }
            CommitPolicy::Each
        } else {
            CommitPolicy::Batch {
                max_changes: batch.unwrap_or(DEFAULT_BATCH_CHANGES),
                max_bytes: batch_bytes.unwrap_or(DEFAULT_BATCH_BYTES),
            }
        };

        let (xorriso, xorriso_from_env) = match &env.xorriso_path {
            Some(p) => (PathBuf::from(p), true),
            None => (PathBuf::from("xorriso"), false),
        };
        let write_speed = match env.write_speed.as_deref() {
            None | Some("min") => WriteSpeed::Min,
            Some("max") => WriteSpeed::Max,
            Some(other) => {
                return Err(Error::InvalidSetting {
                    name: ENV_WRITE_SPEED.into(),
                    value: other.into(),
                    reason: "must be \"min\" or \"max\"".into(),
                })
            }
        };
        let extra_args = match env.args.as_deref() {
            None => Vec::new(),
            Some(a) => shell_words::split(a).map_err(|e| Error::InvalidSetting {
                name: ENV_ARGS.into(),
                value: a.into(),
                reason: format!("cannot split it like a shell would: {e}"),
            })?,
        };
        if let Some(a) = extra_args
            .iter()
            .find(|a| a.as_str() == "-dialog" || a.as_str() == "-end")
        {
            return Err(Error::InvalidSetting {
                name: ENV_ARGS.into(),
                value: env.args.clone().unwrap_or_default(),
                reason: format!("{a} would break the dialog with xorriso"),
            });
        }
        Ok(Config {
            url: url.to_string(),
            target,
            iso_dir,
            volid,
            commit,
            xorriso,
            xorriso_from_env,
            write_speed,
            assert_volid: env.assert_volid.clone(),
            extra_args,
        })
    }

    /// Arguments of the xorriso process (packet dialog mode), ending in `-dialog on`. The drive is
    /// acquired later, in the dialog ([`Config::load_commands`]), so that problems with
    /// `XORRISO_ARGS` and with the medium are reported separately.
    pub fn start_args(&self) -> Vec<String> {
        let mut a: Vec<String> = [
            "-abort_on",
            "NEVER",
            "-report_about",
            "NOTE",
            "-pkt_output",
            "on",
            "-use_readline",
            "off",
            "-backslash_codes",
            "on",
            "-iso_rr_pattern",
            "off",
            "-disk_pattern",
            "off",
            "-osirrox",
            "on",
            "-md5",
            "on",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.extend(self.extra_args.iter().cloned());
        a.push("-dialog".into());
        a.push("on".into());
        a
    }

    /// Dialog commands that acquire the medium: the volume id assertion, the write speed and
    /// `-dev` (growing mode: each commit appends a session).
    pub fn load_commands(&self) -> Vec<String> {
        let mut c = Vec::new();
        if let Some(v) = &self.assert_volid {
            c.push(format!("-assert_volid {} FAILURE", quote::arg(v)));
        }
        c.push(format!("-speed {}", self.write_speed.as_str()));
        c.push(format!(
            "-dev {}",
            quote::arg_bytes(&self.target.drive_address())
        ));
        c
    }

    /// The ISO path of an object.
    pub fn iso_path(&self, name: &str) -> String {
        if self.iso_dir == "/" {
            format!("/{name}")
        } else {
            format!("{}/{name}", self.iso_dir)
        }
    }

    /// The volume id to give a blank medium: `?volid=`, else a wildcard-free
    /// `XORRISO_ASSERT_VOLID` (so the next open passes the assertion), else xorriso's default.
    pub fn volid_for_new_medium(&self) -> Option<&str> {
        if let Some(v) = &self.volid {
            return Some(v);
        }
        self.assert_volid
            .as_deref()
            .filter(|v| !v.contains(['*', '?', '[', '\\']) && validate_volid(v).is_ok())
    }
}

/// Image file or optical drive? An existing block or character device is a drive; a path
/// that does not exist is a drive if it looks like one (`/dev/sr0`, `/dev/cdrom`…, so that
/// a missing drive gives "drive does not exist" instead of a new image file in /dev);
/// everything else is an image file (also files in /dev/shm).
pub fn classify(
    path: PathBuf,
    stat: impl Fn(&Path) -> std::io::Result<std::fs::Metadata>,
) -> Target {
    use std::os::unix::fs::FileTypeExt;
    match stat(&path) {
        Ok(m) if m.file_type().is_block_device() || m.file_type().is_char_device() => {
            Target::Drive(path)
        }
        Ok(_) => Target::Image(path),
        Err(_) if looks_like_drive(&path) => Target::Drive(path),
        Err(_) => Target::Image(path),
    }
}

fn looks_like_drive(p: &Path) -> bool {
    if p.parent() != Some(Path::new("/dev")) {
        return false;
    }
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let numbered = |prefix: &str| {
        name.strip_prefix(prefix)
            .is_some_and(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit()))
    };
    numbered("sr")
        || numbered("scd")
        || numbered("sg")
        || ["cdrom", "cdrw", "dvd", "dvdrw", "bd"]
            .iter()
            .any(|p| name.as_ref() == *p || numbered(p))
}

/// Remove `.` components and repeated slashes (`..` is kept: symlinks make it meaningful).
fn normalize(p: &Path) -> PathBuf {
    p.components().filter(|c| *c != Component::CurDir).collect()
}

fn normalize_iso_dir(d: &str) -> Result<String, String> {
    let mut parts = Vec::new();
    for c in d.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err("the ISO directory must not contain \"..\"".into()),
            c if c.len() > 255 => {
                return Err(format!(
                    "ISO directory component {c:?} is longer than 255 bytes"
                ))
            }
            c if c.contains('\0') => return Err("the ISO directory contains a NUL byte".into()),
            c => parts.push(c),
        }
    }
    Ok(format!("/{}", parts.join("/")))
}

/// `?volid=`: 1–32 bytes of printable ASCII (xorriso: `-volid: Text too long (42 > 32)`).
pub fn validate_volid(v: &str) -> Result<(), String> {
    if v.is_empty() {
        return Err("the volume id must not be empty".into());
    }
    if v.len() > MAX_VOLID_BYTES {
        return Err(format!(
            "a volume id has at most {MAX_VOLID_BYTES} bytes, this one has {}",
            v.len()
        ));
    }
    if !v.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err("a volume id must be printable ASCII (ISO 9660 prefers A-Z, 0-9 and _)".into());
    }
    Ok(())
}

fn parse_size(v: &str) -> Option<u64> {
    let v = v.trim();
    let (num, mul) = match v.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        None => (v, 1u64),
        Some((i, _)) => {
            let m = match v[i..].to_ascii_lowercase().as_str() {
                "k" | "kib" => 1 << 10,
                "m" | "mib" => 1 << 20,
                "g" | "gib" => 1 << 30,
                _ => return None,
            };
            (&v[..i], m)
        }
    };
    num.parse::<u64>()
        .ok()?
        .checked_mul(mul)
        .filter(|&n| n >= 1)
}

#[cfg(test)]
mod tests;
