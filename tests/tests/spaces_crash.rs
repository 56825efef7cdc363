//! `kill -9` during large backups (the CLI, 200 files x 1 MiB): the space
//! reopens at its last complete manifest, verifies, and garbage collection
//! removes exactly the objects no manifest refers to.

mod spaces_support;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::Instant;

use spaces_support::*;
use stowage_tests::file_store;

const FILES: usize = 200;
const FILE_SIZE: usize = 1 << 20;
const KILLED_ROUNDS: u64 = 6;

fn write_data(dir: &Path, round: u64) {
    fs::create_dir_all(dir).unwrap();
    for i in 0..FILES {
        // Every other file changes each round, so rounds share content.
        let seed = if i % 2 == 0 {
            round * 1000 + i as u64
        } else {
            i as u64
        };
        fs::write(dir.join(format!("f{i:03}")), bytes(seed, FILE_SIZE)).unwrap();
    }
}

/// Content objects referenced by the space's current manifest.
fn referenced(url: &str) -> BTreeSet<String> {
    let store = open_store(url).unwrap();
    let space = store.open_space_read_only("crash").unwrap();
    let mut out = BTreeSet::new();
    for (_, e) in space.entries() {
        for n in std::iter::once(&e.root).chain(&e.tree) {
            if let Some((sha, size)) = n.data.content() {
                if size > 0 {
                    out.insert(format!("obj-{sha}"));
                }
            }
        }
    }
    out
}

fn blobs(store: &Path) -> BTreeSet<String> {
    objects(store)
        .into_iter()
        .filter(|o| o.starts_with("obj-"))
        .collect()
}

#[test]
fn kill_9_during_backups_leaves_a_sound_space() {
    let scene = file_store();
    let (dir, store_dir, url) = (scene.work, scene.store, scene.url);
    let cache = dir.path().join("cache");
    let data_dir = |round: u64| dir.path().join(format!("data-{round}"));
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mut rng = seed | 1;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };

    // Round 0 completes and tells how long a backup takes.
    write_data(&data_dir(0), 0);
    let t0 = Instant::now();
    let o = run(cli(&cache)
        .args(["space", "backup", &url, "crash", "--name", "r0"])
        .arg(data_dir(0)));
    assert_eq!(outcome(&o).0, 0, "{:?}", outcome(&o));
    let full = t0.elapsed();
    let mut complete = vec!["r0".to_string()];
    let mut killed = 0;
    let mut orphans_seen = 0;

    for round in 1..=KILLED_ROUNDS {
        // A new path each round: a path is backed up once per space.
        let _ = fs::remove_dir_all(data_dir(round - 1));
        write_data(&data_dir(round), round);
        let name = format!("r{round}");
        let delay = full.mul_f64(0.05 + (next() % 900) as f64 / 1000.0);
        let mut child = cli(&cache)
            .args(["-q", "space", "backup", &url, "crash", "--name", &name])
            .arg(data_dir(round))
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        if status.success() {
            complete.push(name.clone());
        } else {
            assert_eq!(status.signal(), Some(9), "seed {seed}: {status:?}");
            killed += 1;
        }

        // What the crash left: the last complete manifest, maybe orphans.
        let wanted = referenced(&url);
        let before = blobs(&store_dir);
        assert!(
            wanted.is_subset(&before),
            "seed {seed}: a referenced object is missing"
        );
        orphans_seen += before.difference(&wanted).count();

        // Collect: by reopening for writing (even rounds) or the CLI's gc.
        if round % 2 == 0 {
            let store = open_store(&url).unwrap();
            let space = store.open_space("crash").unwrap();
            assert!(space.verify().unwrap().is_empty(), "seed {seed}");
            space.close().unwrap();
        } else {
            let o = run(cli(&cache).args(["space", "gc", &url]));
            assert_eq!(outcome(&o).0, 0, "seed {seed}: {:?}", outcome(&o));
            let o = run(cli(&cache).args(["space", "verify", &url, "crash"]));
            assert_eq!(outcome(&o).0, 0, "seed {seed}: {:?}", outcome(&o));
        }
        assert_eq!(
            blobs(&store_dir),
            wanted,
            "seed {seed}: gc removed exactly the orphans"
        );
        let manifests = objects(&store_dir)
            .into_iter()
            .filter(|o| o.starts_with("space-"))
            .count();
        assert_eq!(manifests, 1, "seed {seed}");

        // Entries are exactly the completed rounds (the killed one is all
        // or nothing).
        let store = open_store(&url).unwrap();
        let space = store.open_space_read_only("crash").unwrap();
        let names: Vec<String> = space.entries().into_iter().map(|(n, _)| n).collect();
        let mut expected = complete.clone();
        if !status.success() && names.contains(&name) {
            // Killed after its manifest was published: complete too.
            expected.push(name.clone());
            complete.push(name.clone());
        }
        expected.sort();
        assert_eq!(names, expected, "seed {seed}");
    }

    // The newest complete round restores byte for byte.
    let last = complete.last().unwrap().clone();
    let round: u64 = last[1..].parse().unwrap();
    let restored = dir.path().join("restored");
    let store = open_store(&url).unwrap();
    let space = store.open_space_read_only("crash").unwrap();
    space.restore_name(&last, Some(&restored)).unwrap();
    let data = data_dir(round);
    write_data(&data, round);
    let mut names = 0;
    for entry in fs::read_dir(&data).unwrap() {
        let name = entry.unwrap().file_name();
        let same = fs::read(data.join(&name)).unwrap() == fs::read(restored.join(&name)).unwrap();
        assert!(
            same,
            "seed {seed}: {name:?} differs after the restore of {last}"
        );
        names += 1;
    }
    assert_eq!(names, FILES);
    assert_eq!(fs::read_dir(&restored).unwrap().count(), FILES);
    eprintln!(
        "seed {seed}: full backup {full:?}; {killed} of {KILLED_ROUNDS} rounds killed, \
         {orphans_seen} orphaned objects collected; complete: {complete:?}"
    );
}
