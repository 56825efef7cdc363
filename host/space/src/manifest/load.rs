//! Finding a space's current manifest, and turning manifests into bytes
//! and back.

use std::path::Path;

use super::name::{generations_of, ManifestName};
use super::schema::Manifest;
use crate::error::{SpaceError, SpaceResult};
use crate::hash::sha256_hex;
use crate::object::fetch_bytes;
use stowage::Backend;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::schema::test_file as file;
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    use std::path::PathBuf;

    use crate::manifest::{Data, Entry, Node, RawPath};

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
