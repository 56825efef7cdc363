//! The peer's configuration and its URL form
//! `local-peer://NAME/abs/collect/dir[?ignore_failure=MODE&allow_hardlinks=yes&changed=skip]`.

use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

use serde::Serialize;
use stowage_backend_api::location::PathUrl;

use crate::error::PeerError;

/// The URL scheme handled by this plugin.
pub const SCHEME: &str = "local-peer";

/// Cedar Backup's `ignoreFailureMode`: how loudly a peer that is not ready
/// (no collect indicator) is reported by the stage action .
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IgnoreFailure {
    /// Never ignored: always an error.
    None,
    /// Always ignored: informational only.
    All,
    /// Ignored except on full runs and on the start-of-week day.
    Daily,
    /// Ignored only on full runs and on the start-of-week day.
    Weekly,
}

impl IgnoreFailure {
    /// Every mode, in the order the documentation lists them.
    pub const ALL: [IgnoreFailure; 4] = [
        IgnoreFailure::None,
        IgnoreFailure::All,
        IgnoreFailure::Daily,
        IgnoreFailure::Weekly,
    ];

    /// The mode as written in the URL.
    pub fn as_str(self) -> &'static str {
        match self {
            IgnoreFailure::None => "none",
            IgnoreFailure::All => "all",
            IgnoreFailure::Daily => "daily",
            IgnoreFailure::Weekly => "weekly",
        }
    }

    /// Whether a peer that is not ready is logged as an error (rather than
    /// informational) by the stage action, given the peer's mode, whether
    /// this is a full run and whether today is the configured start of the
    /// week. The peer is skipped either way; this only picks the log level,
    /// as in Cedar .
    pub fn not_ready_is_error(mode: Option<Self>, full_run: bool, start_of_week: bool) -> bool {
        let weekly_day = full_run || start_of_week;
        match mode {
            None | Some(IgnoreFailure::None) => true,
            Some(IgnoreFailure::All) => false,
            Some(IgnoreFailure::Weekly) => !weekly_day,
            Some(IgnoreFailure::Daily) => weekly_day,
        }
    }
}

impl fmt::Display for IgnoreFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for IgnoreFailure {
    type Err = PeerError;

    /// Exact, case-sensitive match, as in Cedar.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        IgnoreFailure::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                PeerError::invalid(
                    "ignore_failure",
                    s,
                    "must be one of none, all, daily, weekly",
                )
            })
    }
}

/// A local peer: a name and an absolute collect directory.
///
/// Validation is lazy, as in Cedar: the collect directory need not exist
/// when the configuration is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerConfig {
    /// The peer's name, case kept as given. It names the peer's directory in
    /// the staging area, so it must be one plain path component.
    pub name: String,
    /// The absolute collect directory, normalised lexically (repeated `/`,
    /// `.` components and a trailing `/` removed).
    pub collect_dir: PathBuf,
    /// Cedar's `ignoreFailureMode` for this peer, if set.
    pub ignore_failure: Option<IgnoreFailure>,
    /// `?allow_hardlinks=yes`: stage files with more than one hard link too
    /// (refused by default).
    pub allow_hardlinks: bool,
    /// `?changed=skip`: a file that keeps changing while it is staged is
    /// left out and reported as skipped (reason `changed`) instead of
    /// failing the stage (`changed=fail`, the default). Separate from
    /// [`ignore_failure`](Self::ignore_failure), which is Cedar's log level
    /// for a peer that is not ready and depends on the run (full run,
    /// start of week) that a stage does not know.
    pub skip_changed: bool,
}

impl PeerConfig {
    /// Builds a configuration, validating the name and collect directory.
    ///
    /// - `name`: non-empty, not `.` or `..`, no `/`, no NUL.
    /// - `collect_dir`: absolute, no NUL, no `..` component (refused rather
    ///   than resolved: lexically dropping `x/..` is wrong when `x` is a
    ///   symlink). It is normalised lexically (Cedar kept it verbatim).
    pub fn new(
        name: impl Into<String>,
        collect_dir: impl Into<PathBuf>,
        ignore_failure: Option<IgnoreFailure>,
    ) -> Result<Self, PeerError> {
        let name = name.into();
        validate_peer_name(&name)?;
        let collect_dir = normalise_collect_dir(&collect_dir.into())?;
        Ok(PeerConfig {
            name,
            collect_dir,
            ignore_failure,
            allow_hardlinks: false,
            skip_changed: false,
        })
    }

    /// Parses `local-peer://NAME/abs/collect/dir[?ignore_failure=MODE&allow_hardlinks=yes&changed=skip]`.
    ///
    /// The scheme is matched case-insensitively. The name is everything up
    /// to the first `/` after `//` (percent-decoded, case kept); the rest,
    /// percent-decoded to raw bytes, is the collect directory. The query
    /// parameters are `ignore_failure` (`none`, `all`, `daily`, `weekly`),
    /// `allow_hardlinks` (`yes`, `no`) and `changed` (`fail`, `skip`);
    /// unknown or repeated keys and
    /// fragments are refused. A malformed `%`
    /// escape is refused rather than taken literally.
    pub fn from_url(url: &str) -> Result<Self, PeerError> {
        let bad = |reason: &str| PeerError::invalid("URL", url, reason);
        let parsed = PathUrl::parse(url).map_err(|e| bad(e.message()))?;
        if parsed.scheme != SCHEME {
            return Err(bad("expected local-peer://NAME/absolute/collect/dir"));
        }
        match parsed.raw_location().split_once('/') {
            None if parsed.raw_location().is_empty() => {
                return Err(bad("the peer name (the part after //) is empty"))
            }
            None => {
                return Err(bad(
                    "no collect directory: expected an absolute path after the peer name",
                ))
            }
            Some(("", _)) => return Err(bad("the peer name (the part after //) is empty")),
            Some(_) => {}
        }
        let (name, collect_dir) = parsed.authority_and_path().map_err(|e| bad(e.message()))?;
        let mut params = parsed.params();
        let ignore_failure = params
            .take_unique("ignore_failure")
            .map_err(|e| bad(e.message()))?
            .map(|v| v.parse::<IgnoreFailure>())
            .transpose()?;
        let allow_hardlinks = params
            .take_choice("allow_hardlinks", &["yes", "no"])
            .map_err(|e| bad(e.message()))?
            .is_some_and(|v| v == "yes");
        let skip_changed = match params
            .take_unique("changed")
            .map_err(|e| bad(e.message()))?
            .as_deref()
        {
            None | Some("fail") => false,
            Some("skip") => true,
            Some(other) => {
                return Err(PeerError::invalid("changed", other, "must be fail or skip"))
            }
        };
        params.finish().map_err(|e| bad(e.message()))?;
        let mut config = PeerConfig::new(name, collect_dir, ignore_failure)?;
        config.allow_hardlinks = allow_hardlinks;
        config.skip_changed = skip_changed;
        Ok(config)
    }

    /// The canonical URL of this configuration (percent-encoded; parses back
    /// to an equal configuration).
    pub fn to_url(&self) -> String {
        let mut url = format!(
            "{SCHEME}://{}{}",
            percent_encode(self.name.as_bytes(), false),
            percent_encode(self.collect_dir.as_os_str().as_bytes(), true)
        );
        let mut params = Vec::new();
        if let Some(mode) = self.ignore_failure {
            params.push(format!("ignore_failure={mode}"));
        }
        if self.allow_hardlinks {
            params.push("allow_hardlinks=yes".to_string());
        }
        if self.skip_changed {
            params.push("changed=skip".to_string());
        }
        if !params.is_empty() {
            url.push('?');
            url.push_str(&params.join("&"));
        }
        url
    }
}

impl FromStr for PeerConfig {
    type Err = PeerError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PeerConfig::from_url(s)
    }
}

impl fmt::Display for PeerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_url())
    }
}

fn validate_peer_name(name: &str) -> Result<(), PeerError> {
    match crate::dir::component_problem(name) {
        Some(reason) => Err(PeerError::invalid("peer name", name, reason)),
        None => Ok(()),
    }
}

fn normalise_collect_dir(path: &Path) -> Result<PathBuf, PeerError> {
    let bad = |reason: &str| {
        PeerError::invalid(
            "collect directory",
            path.to_string_lossy(),
            reason.to_string(),
        )
    };
    if !path.is_absolute() {
        return Err(bad("must be an absolute path"));
    }
    if path.as_os_str().as_bytes().contains(&0) {
        return Err(bad("must not contain NUL"));
    }
    if path.components().any(|c| c == Component::ParentDir) {
        return Err(bad("must not contain a .. component"));
    }
    Ok(path.components().collect())
}

fn percent_encode(bytes: &[u8], keep_slash: bool) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn ok(url: &str) -> PeerConfig {
        PeerConfig::from_url(url).unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    fn err(url: &str) -> PeerError {
        let e = PeerConfig::from_url(url).expect_err(url);
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{url}: {e}");
        e
    }

    #[test]
    fn plain_url() {
        let c = ok("local-peer://Machine1/opt/backup/collect");
        assert_eq!(c.name, "Machine1");
        assert_eq!(c.collect_dir, Path::new("/opt/backup/collect"));
        assert_eq!(c.ignore_failure, None);
    }

    #[test]
    fn name_case_is_kept_and_scheme_is_case_insensitive() {
        let c = ok("LOCAL-PEER://MiXeD.Example.COM/c");
        assert_eq!(c.name, "MiXeD.Example.COM");
        assert_eq!(c.collect_dir, Path::new("/c"));
    }

    #[test]
    fn ignore_failure_modes() {
        for mode in IgnoreFailure::ALL {
            let c = ok(&format!("local-peer://p/c?ignore_failure={mode}"));
            assert_eq!(c.ignore_failure, Some(mode));
        }
        // An empty query is no parameter at all.
        assert_eq!(ok("local-peer://p/c?").ignore_failure, None);
    }

    #[test]
    fn percent_encoded_spaces_and_unicode() {
        let c = ok("local-peer://my%20peer/srv/back%20up/donn%C3%A9es/%E2%9C%93");
        assert_eq!(c.name, "my peer");
        assert_eq!(c.collect_dir, Path::new("/srv/back up/données/✓"));
        // Raw (unencoded) unicode is taken as is.
        let c = ok("local-peer://pé/srv/données");
        assert_eq!(c.name, "pé");
        assert_eq!(c.collect_dir, Path::new("/srv/données"));
        // Non-UTF-8 bytes are allowed in the path.
        let c = ok("local-peer://p/srv/%FF");
        assert_eq!(c.collect_dir.as_os_str().as_bytes(), b"/srv/\xff");
    }

    #[test]
    fn collect_dir_is_normalised_lexically() {
        assert_eq!(
            ok("local-peer://p//a/./b//c/").collect_dir,
            Path::new("/a/b/c")
        );
        assert_eq!(ok("local-peer://p/").collect_dir, Path::new("/"));
    }

    #[test]
    fn round_trip() {
        for url in [
            "local-peer://Peer/a/b",
            "local-peer://my%20peer/srv/back%20up/donn%C3%A9es?ignore_failure=weekly",
            "local-peer://p/srv/%FF%25x",
            "local-peer://p/c?ignore_failure=all&allow_hardlinks=yes",
            "local-peer://p/c?allow_hardlinks=yes&changed=skip",
            "local-peer://p/c?changed=skip",
        ] {
            let c = ok(url);
            assert_eq!(c.to_url(), url);
            assert_eq!(ok(&c.to_url()), c);
        }
    }

    #[test]
    fn bad_urls() {
        // Relative path: no // authority, so no absolute path either.
        let e = err("local-peer:relative/dir");
        assert!(e.to_string().contains("local-peer:relative/dir"), "{e}");
        err("file:///srv/x");
        err("local-peer:/abs");
        // Empty name.
        let e = err("local-peer:///srv/collect");
        assert!(e.to_string().contains("name"), "{e}");
        // No path.
        err("local-peer://peer");
        err("local-peer://peer?ignore_failure=all");
        // Bad names.
        err("local-peer://%2E%2E/srv");
        err("local-peer://./srv");
        err("local-peer://a%2Fb/srv");
        err("local-peer://a%00b/srv");
        err("local-peer://%FF/srv");
        // Bad paths.
        err("local-peer://p/srv/../etc");
        err("local-peer://p/srv/a%00b");
        err("local-peer://p/srv/%zz");
        err("local-peer://p/srv/%4");
        err("local-peer://p/srv#frag");
    }

    #[test]
    fn bad_query() {
        let e = err("local-peer://p/c?ignore_failure=hourly");
        assert_eq!(
            e.to_string(),
            "invalid ignore_failure \"hourly\": must be one of none, all, daily, weekly"
        );
        // Case-sensitive, as in Cedar.
        err("local-peer://p/c?ignore_failure=ALL");
        err("local-peer://p/c?ignore_failure=");
        let e = err("local-peer://p/c?mode=all");
        assert!(
            e.to_string().contains("unknown URL parameter(s): mode"),
            "{e}"
        );
        err("local-peer://p/c?ignore_failure");
        err("local-peer://p/c?ignore_failure=all&ignore_failure=none");
        err("local-peer://p/c?changed=ignore");
        err("local-peer://p/c?changed=skip&changed=skip");
    }

    #[test]
    fn changed_files_fail_unless_skip_is_asked_for() {
        assert!(!ok("local-peer://p/c").skip_changed);
        assert!(!ok("local-peer://p/c?changed=fail").skip_changed);
        assert!(ok("local-peer://p/c?changed=skip").skip_changed);
        // ignore_failure is about peers that are not ready, not about files.
        assert!(!ok("local-peer://p/c?ignore_failure=all").skip_changed);
        // The default is not written back.
        assert_eq!(
            ok("local-peer://p/c?changed=fail").to_url(),
            "local-peer://p/c"
        );
    }

    #[test]
    fn new_validates_like_the_url() {
        assert!(PeerConfig::new("p", "/srv", None).is_ok());
        assert_eq!(
            PeerConfig::new("", "/srv", None).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        let e = PeerConfig::new("p", "srv/collect", None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid collect directory \"srv/collect\": must be an absolute path"
        );
    }

    #[test]
    fn not_ready_log_level() {
        use IgnoreFailure as M;
        let f = IgnoreFailure::not_ready_is_error;
        for (full, sow) in [(false, false), (true, false), (false, true), (true, true)] {
            assert!(f(None, full, sow));
            assert!(f(Some(M::None), full, sow));
            assert!(!f(Some(M::All), full, sow));
            let weekly_day = full || sow;
            assert_eq!(f(Some(M::Weekly), full, sow), !weekly_day);
            assert_eq!(f(Some(M::Daily), full, sow), weekly_day);
        }
    }
}
