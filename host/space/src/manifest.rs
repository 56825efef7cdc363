//! The versioned JSON manifest of a space, its object names, and how the
//! current one is found.
//!
//! A manifest is stored as `space-<space>.manifest.<generation>.<sha256>`,
//! where `<sha256>` is the SHA-256 of the object's bytes. A reader lists the
//! backend, takes this space's manifests from the highest generation down
//! and uses the first one whose bytes hash to its name and parse: a torn or
//! half-written manifest (on a backend whose put is not atomic) is never
//! used. A writer puts generation N+1 completely, then deletes N and older.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::error::{SpaceError, SpaceResult};
use super::object::{fetch_bytes, is_sha256_hex, sha256_hex};
use stowage::Backend;

/// The `format` field of every manifest.
pub const FORMAT: &str = "stowage-space";
/// The manifest version this host writes (and the newest it reads).
pub const VERSION: u32 = 1;

const PREFIX: &str = "space-";
const INFIX: &str = ".manifest.";

/// One space's manifest: what it holds and where each entry came from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// The format version ([`VERSION`]).
    pub version: u32,
    /// The space name; checked against the object name on load.
    pub space: String,
    /// Increases by one with every published change.
    pub generation: u64,
    /// Whether the space survives `close`.
    pub persistent: bool,
    /// When the space was created (Unix seconds).
    pub created: u64,
    /// When this generation was written (Unix seconds).
    pub modified: u64,
    /// The entries by name.
    pub entries: BTreeMap<String, Entry>,
}

/// One named backup: a file, a directory tree, a symlink or a value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The absolute path it was backed up from; `None` for values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<RawPath>,
    /// When it was backed up (Unix seconds).
    pub created: u64,
    /// The object itself (for a tree: the top directory).
    pub root: Node,
    /// For a directory: everything below it, parents before children.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tree: Vec<Node>,
}

/// One filesystem object (or a value) with its metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// Path relative to the entry's top (empty for the top itself).
    #[serde(default, skip_serializing_if = "RawPath::is_empty")]
    pub path: RawPath,
    /// Kind and content.
    #[serde(flatten)]
    pub data: Data,
    /// Ownership, permissions, modification time (not for values).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
}

/// What a node is and where its content lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Data {
    /// A regular file; its content is the object `obj-<sha256>` (none
    /// when empty).
    File {
        /// Size in bytes.
        size: u64,
        /// SHA-256 of the content, lower-case hex.
        sha256: String,
    },
    /// A directory.
    Dir,
    /// A symbolic link, stored as a link (never followed).
    Symlink {
        /// The link's target, as written.
        target: RawPath,
    },
    /// Bytes given by the program.
    Value {
        /// Size in bytes.
        size: u64,
        /// SHA-256 of the bytes, lower-case hex.
        sha256: String,
    },
}

impl Data {
    /// The content object's checksum and size, for files and values.
    pub fn content(&self) -> Option<(&str, u64)> {
        match self {
            Data::File { size, sha256 } | Data::Value { size, sha256 } => {
                Some((sha256.as_str(), *size))
            }
            Data::Dir | Data::Symlink { .. } => None,
        }
    }

    /// "file", "dir", "symlink" or "value".
    pub fn kind(&self) -> &'static str {
        match self {
            Data::File { .. } => "file",
            Data::Dir => "dir",
            Data::Symlink { .. } => "symlink",
            Data::Value { .. } => "value",
        }
    }
}

/// The inode metadata restored with an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// Permission bits including setuid, setgid and sticky (`st_mode & 07777`).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    /// Nanoseconds of the modification time.
    #[serde(default)]
    pub mtime_nsec: u32,
}

/// A path that survives JSON: a string when it is UTF-8, an array of
/// bytes otherwise.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RawPath(pub PathBuf);

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum RawRepr {
    Text(String),
    Bytes(Vec<u8>),
}

impl Serialize for RawPath {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.to_str() {
            Some(text) => RawRepr::Text(text.to_string()),
            None => RawRepr::Bytes(self.0.as_os_str().as_bytes().to_vec()),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for RawPath {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(RawPath(match RawRepr::deserialize(d)? {
            RawRepr::Text(t) => PathBuf::from(t),
            RawRepr::Bytes(b) => PathBuf::from(OsStr::from_bytes(&b)),
        }))
    }
}

impl RawPath {
    /// Whether the path is empty (the top of an entry).
    pub fn is_empty(&self) -> bool {
        self.0.as_os_str().is_empty()
    }
}

impl Manifest {
    /// An empty manifest for a new space.
    pub(crate) fn new(space: &str, persistent: bool) -> Self {
        let now = now_unix();
        Self {
            format: FORMAT.to_string(),
            version: VERSION,
            space: space.to_string(),
            generation: 0,
            persistent,
            created: now,
            modified: now,
            entries: BTreeMap::new(),
        }
    }

    /// Checks what a hostile or broken manifest could abuse: format,
    /// version, names, checksums, and tree paths that could escape their
    /// top directory or pass through a symlink.
    fn check(&self, name: &ManifestName) -> Result<(), String> {
        if self.format != FORMAT {
            return Err(format!("format {:?}, expected {FORMAT:?}", self.format));
        }
        if self.version == 0 || self.version > VERSION {
            return Err(format!(
                "manifest version {} (this stowage reads up to {VERSION})",
                self.version
            ));
        }
        if self.space != name.space || self.generation != name.generation {
            return Err(format!(
                "it describes space {:?} generation {} (ID mismatch)",
                self.space, self.generation
            ));
        }
        for (entry_name, entry) in &self.entries {
            check_entry(entry_name, entry).map_err(|e| format!("entry {entry_name:?}: {e}"))?;
        }
        Ok(())
    }
}

fn check_entry(name: &str, entry: &Entry) -> Result<(), String> {
    check_entry_name(name)?;
    if !entry.root.is_empty_path() {
        return Err("the top node has a path".into());
    }
    match (&entry.root.data, &entry.origin) {
        (Data::Value { .. }, None) => {}
        (Data::Value { .. }, Some(_)) => return Err("a value with an origin".into()),
        (_, Some(origin)) if origin.0.is_absolute() => {}
        _ => return Err("a filesystem object without an absolute origin".into()),
    }
    if !entry.tree.is_empty() && entry.root.data != Data::Dir {
        return Err("only a directory has a tree".into());
    }
    let mut dirs: std::collections::HashSet<&Path> = std::collections::HashSet::new();
    dirs.insert(Path::new(""));
    for node in std::iter::once(&entry.root).chain(&entry.tree) {
        if let Some((sha, _)) = node.data.content() {
            if !is_sha256_hex(sha) {
                return Err(format!("bad checksum {sha:?}"));
            }
        }
        if matches!(node.data, Data::Value { .. }) != node.meta.is_none() {
            return Err("metadata is required for filesystem objects only".into());
        }
    }
    for node in &entry.tree {
        let path = &node.path.0;
        if path.as_os_str().is_empty()
            || !path.components().all(|c| matches!(c, Component::Normal(_)))
        {
            return Err(format!(
                "tree path {} is not a plain relative path",
                path.display()
            ));
        }
        // The parent must be a directory of this tree listed before: no
        // write can go through a restored symlink.
        let parent = path.parent().unwrap_or(Path::new(""));
        if !dirs.contains(parent) {
            return Err(format!("{} comes before its directory", path.display()));
        }
        if matches!(node.data, Data::Value { .. }) {
            return Err("a value inside a tree".into());
        }
        if node.data == Data::Dir && !dirs.insert(path) {
            return Err(format!("{} appears twice", path.display()));
        }
    }
    Ok(())
}

impl Node {
    fn is_empty_path(&self) -> bool {
        self.path.is_empty()
    }
}

/// Entry names: non-empty UTF-8 without NUL, at most 4096 bytes (they
/// default to paths, so `/` is fine; they never become object names).
pub fn check_entry_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        Err("backup names cannot be empty".into())
    } else if name.contains('\0') {
        Err("backup names cannot contain NUL".into())
    } else if name.len() > 4096 {
        Err("backup names are limited to 4096 bytes".into())
    } else {
        Ok(())
    }
}

/// The parts of a manifest object's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ManifestName {
    pub space: String,
    pub generation: u64,
    pub sha256: String,
}

impl ManifestName {
    /// The backend object name.
    pub fn object(&self) -> String {
        format!(
            "{PREFIX}{}{INFIX}{}.{}",
            self.space, self.generation, self.sha256
        )
    }

    /// Parses an object name; `None` for anything else.
    pub fn parse(object: &str) -> Option<Self> {
        let rest = object.strip_prefix(PREFIX)?;
        let (rest, sha256) = rest.rsplit_once('.')?;
        let (space, generation) = rest.rsplit_once(INFIX)?;
        if !is_sha256_hex(sha256)
            || generation.is_empty()
            || !generation.bytes().all(|b| b.is_ascii_digit())
            || super::validate_space_name(space).is_err()
        {
            return None;
        }
        Some(Self {
            space: space.to_string(),
            generation: generation.parse().ok()?,
            sha256: sha256.to_string(),
        })
    }
}

/// The manifest objects of `space` in a listing, highest generation first.
pub(crate) fn generations_of(space: &str, listing: &[(String, u64)]) -> Vec<ManifestName> {
    let mut found: Vec<ManifestName> = listing
        .iter()
        .filter_map(|(name, _)| ManifestName::parse(name))
        .filter(|m| m.space == space)
        .collect();
    found.sort_by(|a, b| {
        b.generation
            .cmp(&a.generation)
            .then_with(|| b.sha256.cmp(&a.sha256))
    });
    found
}

/// The current manifest of a space and the names of its other generations.
pub(crate) struct Loaded {
    pub manifest: Manifest,
    pub name: ManifestName,
    /// Older generations and newer ones that failed their check: garbage
    /// for whoever holds the space's lock.
    pub stale: Vec<ManifestName>,
    /// The highest generation number seen, valid or not.
    pub highest: u64,
}

/// Finds the current manifest of `space` in `listing`: the highest
/// generation whose bytes match its checksum and that parses. `Ok(None)`
/// when the space has no manifest at all.
///
/// # Errors
/// Manifests exist but none can be used ([`SpaceError::BadManifest`]), or
/// the backend fails.
pub(crate) fn load_current(
    backend: &Backend,
    temp_dir: &Path,
    space: &str,
    listing: &[(String, u64)],
) -> SpaceResult<Option<Loaded>> {
    let candidates = generations_of(space, listing);
    let Some(highest) = candidates.first().map(|c| c.generation) else {
        return Ok(None);
    };
    let mut problems = Vec::new();
    for (i, candidate) in candidates.iter().enumerate() {
        let bytes = match fetch_bytes(backend, temp_dir, &candidate.object()) {
            Ok(bytes) => bytes,
            // Removed since the listing (a writer moved on): try the next.
            Err(e) if e.is_backend_not_found() => {
                problems.push(format!("generation {} vanished", candidate.generation));
                continue;
            }
            Err(e) => return Err(e),
        };
        match decode(&bytes, candidate) {
            Ok(manifest) => {
                let stale = candidates
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, c)| c.clone())
                    .collect();
                return Ok(Some(Loaded {
                    manifest,
                    name: candidate.clone(),
                    stale,
                    highest,
                }));
            }
            Err(problem) => {
                log::warn!(
                    "space {space:?}: manifest generation {} is unusable: {problem}",
                    candidate.generation
                );
                problems.push(format!("generation {}: {problem}", candidate.generation));
            }
        }
    }
    Err(SpaceError::BadManifest {
        space: space.to_string(),
        detail: problems.join("; "),
    })
}

/// Checks a manifest's bytes against its name and parses them.
pub(crate) fn decode(bytes: &[u8], name: &ManifestName) -> Result<Manifest, String> {
    let actual = sha256_hex(bytes);
    if actual != name.sha256 {
        return Err(format!(
            "checksum mismatch ({} bytes hash to {actual})",
            bytes.len()
        ));
    }
    let manifest: Manifest =
        serde_json::from_slice(bytes).map_err(|e| format!("not a valid manifest: {e}"))?;
    manifest.check(name)?;
    Ok(manifest)
}

/// Serialises `manifest` and names the result.
pub(crate) fn encode(manifest: &Manifest) -> SpaceResult<(Vec<u8>, ManifestName)> {
    let bytes = serde_json::to_vec(manifest)
        .map_err(|e| SpaceError::InvalidInput(format!("cannot encode the manifest: {e}")))?;
    let name = ManifestName {
        space: manifest.space.clone(),
        generation: manifest.generation,
        sha256: sha256_hex(&bytes),
    };
    Ok((bytes, name))
}

/// Seconds since the Unix epoch, now.
pub fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `secs` since the epoch as an ISO 8601 UTC time (`2026-11-22T01:11:10Z`).
pub fn iso8601(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_reject_junk() {
        let n = ManifestName {
            space: "a.manifest.3".into(),
            generation: 42,
            sha256: sha256_hex(b"x"),
        };
        assert_eq!(ManifestName::parse(&n.object()), Some(n));
        for junk in ["space-x.manifest.1", "obj-abc", "space-.manifest.1.00", "x"] {
            assert_eq!(ManifestName::parse(junk), None, "{junk}");
        }
    }

    #[test]
    fn iso_dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601(1_795_309_870), "2026-11-22T01:11:10Z");
    }

    fn file(path: &str) -> Node {
        Node {
            path: RawPath(path.into()),
            data: Data::File {
                size: 1,
                sha256: sha256_hex(b"a"),
            },
            meta: Some(Meta {
                mode: 0o644,
                uid: 0,
                gid: 0,
                mtime: 1,
                mtime_nsec: 0,
            }),
        }
    }

    #[test]
    fn hostile_trees_are_refused() {
        let mut root = file("");
        root.data = Data::Dir;
        let mut entry = Entry {
            origin: Some(RawPath("/x".into())),
            created: 0,
            root,
            tree: vec![file("a")],
        };
        assert!(check_entry("n", &entry).is_ok());
        for bad in ["../a", "/etc/passwd", "sub/a", "a/../../b"] {
            entry.tree = vec![file(bad)];
            assert!(check_entry("n", &entry).is_err(), "{bad}");
        }
        // Through a symlink stored in the same tree.
        let mut link = file("l");
        link.data = Data::Symlink {
            target: RawPath("/etc".into()),
        };
        entry.tree = vec![link, file("l/passwd")];
        assert!(check_entry("n", &entry).is_err());
    }

    #[test]
    fn json_shape_round_trips() {
        let mut m = Manifest::new("s", true);
        m.generation = 1;
        m.entries.insert(
            "v".into(),
            Entry {
                origin: None,
                created: 5,
                root: Node {
                    path: RawPath::default(),
                    data: Data::Value {
                        size: 1,
                        sha256: sha256_hex(b"a"),
                    },
                    meta: None,
                },
                tree: vec![],
            },
        );
        let nonutf8 = RawPath(PathBuf::from(OsStr::from_bytes(b"/x/\xff")));
        m.entries.insert(
            "/x/\u{fffd}".into(),
            Entry {
                origin: Some(nonutf8.clone()),
                created: 5,
                root: file(""),
                tree: vec![],
            },
        );
        let (bytes, name) = encode(&m).unwrap();
        let back = decode(&bytes, &name).unwrap();
        assert_eq!(back.entries, m.entries);
        assert_eq!(back.entries["/x/\u{fffd}"].origin, Some(nonutf8));
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.contains(r#""kind":"value""#), "{text}");
        let mut torn = bytes.clone();
        torn.truncate(bytes.len() / 2);
        assert!(decode(&torn, &name).is_err());
    }
}
