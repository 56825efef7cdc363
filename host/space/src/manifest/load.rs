//! Finding a space's current manifest, and turning manifests into bytes
//! and back.

use std::path::Path;

use serde::Deserialize;

use super::name::{generations_of, ManifestName};
use super::schema::Manifest;
use super::{FORMAT, UNAUTHENTICATED_VERSION, VERSION};
use crate::error::{SpaceError, SpaceResult};
use crate::hash::sha256_hex;
use crate::key::StoreKey;
use crate::object::fetch_bytes;
use stowage::Backend;

/// How manifests are authenticated when they are read.
pub(crate) struct Trust<'a> {
    /// The store key.
    pub key: &'a StoreKey,
    /// Whether version 1 manifests (written before manifests were
    /// authenticated) are read. They are sanitised: no setuid, setgid or
    /// sticky bit, and the reading user as owner.
    pub accept_unauthenticated: bool,
}

/// The current manifest of a space and the names of its other generations.
pub(crate) struct Loaded {
    pub manifest: Manifest,
    pub name: ManifestName,
    /// Older generations and newer ones that are torn: garbage for
    /// whoever holds the space's lock.
    pub stale: Vec<ManifestName>,
    /// The highest generation number seen, valid or not.
    pub highest: u64,
}

/// Why a manifest object cannot be used.
enum Unusable {
    /// Torn or not a manifest at all: the next older generation is tried.
    Skip(String),
    /// Forged, written with another key, or of a newer format: the space
    /// is refused as a whole (an older generation is not silently used
    /// instead, and nothing is deleted).
    Refuse(SpaceError),
}

/// Finds the current manifest of `space` in `listing`: the highest
/// generation whose bytes match its checksum, that parses and that is
/// authenticated by the store key. `Ok(None)` when the space has no
/// manifest at all.
///
/// # Errors
/// Manifests exist but none can be used ([`SpaceError::BadManifest`]); the
/// newest usable one fails authentication ([`SpaceError::Unauthenticated`])
/// or has a newer format ([`SpaceError::NewerFormat`]); the backend fails.
pub(crate) fn load_current(
    backend: &Backend,
    temp_dir: &Path,
    trust: &Trust<'_>,
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
        match decode(&bytes, candidate, trust) {
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
            Err(Unusable::Refuse(e)) => return Err(e),
            Err(Unusable::Skip(problem)) => {
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

/// Reads and authenticates the manifest object `name`.
///
/// # Errors
/// As [`load_current`], for this one generation.
pub(crate) fn load_named(
    backend: &Backend,
    temp_dir: &Path,
    trust: &Trust<'_>,
    name: &ManifestName,
) -> SpaceResult<Manifest> {
    let bytes = fetch_bytes(backend, temp_dir, &name.object())?;
    decode(&bytes, name, trust).map_err(|unusable| match unusable {
        Unusable::Refuse(e) => e,
        Unusable::Skip(detail) => SpaceError::BadManifest {
            space: name.space.clone(),
            detail: format!("generation {}: {detail}", name.generation),
        },
    })
}

/// The fields read before anything else, to tell a newer format from a
/// broken one.
#[derive(Deserialize)]
struct Header {
    format: String,
    version: u32,
}

/// Checks a manifest's bytes against its name, its format version and its
/// authentication code, and parses them.
fn decode(bytes: &[u8], name: &ManifestName, trust: &Trust<'_>) -> Result<Manifest, Unusable> {
    let actual = sha256_hex(bytes);
    if actual != name.sha256 {
        return Err(Unusable::Skip(format!(
            "checksum mismatch ({} bytes hash to {actual})",
            bytes.len()
        )));
    }
    let header: Header = serde_json::from_slice(bytes)
        .map_err(|e| Unusable::Skip(format!("not a valid manifest: {e}")))?;
    if header.format != FORMAT {
        return Err(Unusable::Skip(format!(
            "format {:?}, expected {FORMAT:?}",
            header.format
        )));
    }
    let refuse = |detail: String| {
        Unusable::Refuse(SpaceError::Unauthenticated {
            space: name.space.clone(),
            detail,
        })
    };
    if header.version > VERSION {
        return Err(Unusable::Refuse(SpaceError::NewerFormat {
            space: name.space.clone(),
            version: header.version,
            known: VERSION,
        }));
    }
    let mut manifest: Manifest = serde_json::from_slice(bytes)
        .map_err(|e| Unusable::Skip(format!("not a valid manifest: {e}")))?;
    if header.version <= UNAUTHENTICATED_VERSION {
        if !trust.accept_unauthenticated {
            return Err(refuse(format!(
                "generation {} was written by an older stowage and is not authenticated; \
                 it is read only when unauthenticated manifests are explicitly trusted \
                 (and then without setuid/setgid bits or other owners)",
                name.generation
            )));
        }
        manifest.check(name).map_err(Unusable::Skip)?;
        sanitise_unauthenticated(&mut manifest);
        return Ok(manifest);
    }
    let Some(mac) = manifest.mac.take() else {
        return Err(refuse(format!(
            "generation {} has no authentication code",
            name.generation
        )));
    };
    let body = serde_json::to_vec(&manifest)
        .map_err(|e| Unusable::Skip(format!("cannot encode the manifest: {e}")))?;
    if !trust.key.verify(&body, &mac) {
        return Err(refuse(format!(
            "generation {} fails authentication with the key in {}: it was forged, or \
             written with another key (copy the key of the machine that made the \
             backups there)",
            name.generation,
            trust.key.path().display()
        )));
    }
    manifest.check(name).map_err(Unusable::Skip)?;
    Ok(manifest)
}

/// What an unauthenticated manifest may restore: no setuid, setgid or
/// sticky bits, and the reading user as owner of everything.
fn sanitise_unauthenticated(manifest: &mut Manifest) {
    let uid = rustix::process::geteuid().as_raw();
    let gid = rustix::process::getegid().as_raw();
    for entry in manifest.entries.values_mut() {
        let nodes = std::iter::once(&mut entry.root).chain(entry.tree.iter_mut());
        for meta in nodes
            .filter_map(|n| n.meta.as_mut())
            .chain(&mut entry.parents)
        {
            meta.mode &= 0o777;
            meta.uid = uid;
            meta.gid = gid;
        }
    }
}

/// Serialises `manifest` (as the current version, authenticated with
/// `key`) and names the result.
pub(crate) fn encode(manifest: &Manifest, key: &StoreKey) -> SpaceResult<(Vec<u8>, ManifestName)> {
    let fail =
        |e: serde_json::Error| SpaceError::InvalidInput(format!("cannot encode the manifest: {e}"));
    let mut manifest = manifest.clone();
    manifest.format = FORMAT.to_string();
    manifest.version = VERSION;
    manifest.mac = None;
    let body = serde_json::to_vec(&manifest).map_err(fail)?;
    manifest.mac = Some(key.mac(&body));
    let bytes = serde_json::to_vec(&manifest).map_err(fail)?;
    let name = ManifestName {
        space: manifest.space.clone(),
        generation: manifest.generation,
        sha256: sha256_hex(&bytes),
    };
    Ok((bytes, name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::schema::test_file as file;
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    use std::path::PathBuf;

    use crate::manifest::{Data, Entry, Node, RawPath};

    fn key(dir: &Path, name: &str) -> StoreKey {
        StoreKey::load_or_create(&dir.join(name)).unwrap()
    }

    #[test]
    fn json_shape_round_trips_and_is_authenticated() {
        let dir = tempfile::tempdir().unwrap();
        let mine = key(dir.path(), "mine");
        let theirs = key(dir.path(), "theirs");
        let trust = Trust {
            key: &mine,
            accept_unauthenticated: false,
        };
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
                parents: vec![],
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
                parents: vec![],
            },
        );
        let (bytes, name) = encode(&m, &mine).unwrap();
        let back = decode(&bytes, &name, &trust).ok().unwrap();
        assert_eq!(back.entries, m.entries);
        assert_eq!(back.entries["/x/\u{fffd}"].origin, Some(nonutf8));
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.contains(r#""kind":"value""#), "{text}");
        let mut torn = bytes.clone();
        torn.truncate(bytes.len() / 2);
        assert!(matches!(
            decode(&torn, &name, &trust),
            Err(Unusable::Skip(_))
        ));
        // Another key: refused, not skipped.
        let (forged, forged_name) = encode(&m, &theirs).unwrap();
        assert!(matches!(
            decode(&forged, &forged_name, &trust),
            Err(Unusable::Refuse(SpaceError::Unauthenticated { .. }))
        ));
        // A newer format: refused with its version.
        let newer = String::from_utf8(bytes)
            .unwrap()
            .replace(r#""version":2"#, r#""version":3"#)
            .into_bytes();
        let newer_name = ManifestName {
            sha256: sha256_hex(&newer),
            ..name
        };
        assert!(matches!(
            decode(&newer, &newer_name, &trust),
            Err(Unusable::Refuse(SpaceError::NewerFormat { version: 3, .. }))
        ));
    }
}
