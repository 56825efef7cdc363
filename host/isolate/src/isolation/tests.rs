//! Unit tests of the isolation policy and confinement rules.
use super::*;

#[test]
fn confinement_follows_the_url() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    std::fs::create_dir(&store).unwrap();
    let url = format!("file://{}", store.display());
    assert_eq!(confinement_for(&url, false).read_write, vec![bytes(&store)]);
    let missing = format!("file://{}/new/deeper", store.display());
    assert_eq!(
        confinement_for(&missing, false).read_write,
        vec![bytes(&store)]
    );
    let peer = format!("local-peer://host1{}", store.display());
    assert_eq!(
        confinement_for(&peer, false).read_write,
        vec![bytes(&store)]
    );
    let iso = format!("xorriso://{}/b.iso:/dup", store.display());
    assert_eq!(confinement_for(&iso, false).read_write, vec![bytes(&store)]);
    // A network URL gets the network, the files its query names and the
    // standard credential places of $HOME, and no store directory.
    let net = confinement_for(
        "sftp://user@host/backups?identity=/keys/id&known_hosts=/keys/known",
        false,
    );
    assert!(net.network);
    assert!(net.read_only.contains(&bytes(Path::new("/keys/id"))));
    assert!(net.read_write.contains(&bytes(Path::new("/keys"))));
    if let Some(home) = std::env::var_os("HOME") {
        let ssh = PathBuf::from(home).join(".ssh");
        assert!(net.read_write.contains(&bytes(&ssh)));
        assert_eq!(net.read_write.len(), 2);
    }
    assert!(confinement_for(&url, true).read_write.is_empty());
}

#[test]
fn private_dirs_of_dead_hosts_are_swept() {
    let tmp = tempfile::tempdir().unwrap();
    // Pid 0 never names a running process in /proc.
    let dead = tmp.path().join("stowage-plugin-0-abc");
    let alive = tmp
        .path()
        .join(format!("stowage-host-{}-abc", std::process::id()));
    let other = tmp.path().join("stowage-plugins-x");
    for d in [&dead, &alive, &other] {
        std::fs::create_dir(d).unwrap();
    }
    std::fs::write(dead.join("staged"), b"x").unwrap();
    sweep_stale_private_dirs(tmp.path());
    assert!(!dead.exists() && alive.exists() && other.exists());
}

#[test]
fn policy_parses() {
    assert_eq!("untrusted".parse::<Policy>(), Ok(Policy::Untrusted));
    assert!("sometimes".parse::<Policy>().is_err());
}
