//! Measures what isolation costs (each figure the best of several rounds,
//! the modes taking their rounds in turn): per-operation overhead (`query`
//! of an existing object), child start-up, and puts of many small files and
//! of one large file, isolated and in process, in one run.
//!
//! `isolate_bench STOWAGE_BIN PLUGIN_DIR WORK_DIR [BIG_MIB [URL [TMPFS_DIR]]]`;
//! driven by tests/bench/isolate.sh. `URL` is the store's URL with `{}`
//! for its directory (default `file://{}?fsync=none`). With `TMPFS_DIR`,
//! the small puts are measured a second time with the stores there: on
//! tmpfs a file's creation costs the same each time, where on ext4 it
//! depends on where the filesystem put the store's directory.
//!
//! It also prints the two fixed costs of an isolated put: the read of the
//! umask (`/proc/self/status`) and one round trip (the query overhead).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use stowage::plugin::{Isolator, LoadOptions};
use stowage::{Registry, RetryPolicy, SearchPath};
use stowage_isolate::{Isolation, Options, Policy};

fn registry(bin: &Path, plugins: &Path, policy: Policy, confine: bool) -> Registry {
    let mut o = Options::new(bin.to_path_buf(), Vec::new());
    o.policy = policy;
    o.confine = confine;
    let isolator: Arc<dyn Isolator> = Arc::new(Isolation::new(o));
    Registry::load_with(
        &SearchPath::new(vec![plugins.to_path_buf()]),
        &LoadOptions {
            isolator: Some(isolator),
            ..LoadOptions::default()
        },
    )
}

fn write_file(path: &Path, size: usize) {
    let mut data = vec![0u8; size];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for b in data.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    fs::write(path, data).expect("writing a source file");
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// The smallest of `rounds` measurements.
fn best_of(rounds: u32, mut measure: impl FnMut() -> f64) -> f64 {
    (0..rounds).map(|_| measure()).fold(f64::INFINITY, f64::min)
}

/// The best of `rounds` measurements of each of `modes` modes, taken in
/// turn: round `r` starts with mode `r % modes`.
fn interleaved(rounds: usize, modes: usize, mut measure: impl FnMut(usize) -> f64) -> Vec<f64> {
    let mut best = vec![f64::INFINITY; modes];
    for r in 0..rounds {
        for k in 0..modes {
            let i = (r + k) % modes;
            best[i] = best[i].min(measure(i));
        }
    }
    best
}

/// Writes back what the filesystem holding `dir` has pending (`syncfs`).
fn sync_fs(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = rustix::fs::syncfs(&d);
    }
}

struct Mode {
    label: &'static str,
    registry: Registry,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: isolate_bench STOWAGE_BIN PLUGIN_DIR WORK_DIR [BIG_MIB [URL]]");
        std::process::exit(2);
    }
    let bin = PathBuf::from(&args[1]);
    let plugins = PathBuf::from(&args[2]);
    let work = PathBuf::from(&args[3]);
    let big_mib: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(1024);
    let url_template = args
        .get(5)
        .cloned()
        .unwrap_or_else(|| "file://{}?fsync=none".to_string());
    let tmpfs = args.get(6).map(PathBuf::from);
    let queries = 10_000;
    let small_count = 1_000;

    let small_dir = work.join("small");
    fs::create_dir_all(&small_dir).unwrap();
    for i in 0..small_count {
        write_file(&small_dir.join(format!("s{i:04}")), 64 << 10);
    }
    let big = work.join("big");
    write_file(&big, big_mib << 20);

    let modes = [
        Mode {
            label: "in process",
            registry: registry(&bin, &plugins, Policy::Never, true),
        },
        Mode {
            label: "isolated, confined",
            registry: registry(&bin, &plugins, Policy::Always, true),
        },
        Mode {
            label: "isolated, unconfined",
            registry: registry(&bin, &plugins, Policy::Always, false),
        },
    ];
    let stores: Vec<PathBuf> = (0..modes.len())
        .map(|i| work.join(format!("store{i}")))
        .collect();
    let url_of = |i: usize| url_template.replace("{}", &stores[i].display().to_string());
    let open = |i: usize, store: &Path| {
        let url = url_template.replace("{}", &store.display().to_string());
        let backend = modes[i]
            .registry
            .open(&url)
            .unwrap()
            .with_retry(RetryPolicy::once());
        backend.put(&small_dir.join("s0000"), "probe").unwrap();
        backend
    };

    // Start-up: open (spawns, hands over, loads, opens) and close.
    let startup: Vec<f64> = modes
        .iter()
        .enumerate()
        .map(|(i, mode)| {
            best_of(20, || {
                let t = Instant::now();
                let b = mode.registry.open(&url_of(i)).unwrap();
                b.close().unwrap();
                drop(b);
                secs(t.elapsed())
            })
        })
        .collect();

    let backends: Vec<_> = (0..modes.len()).map(|i| open(i, &stores[i])).collect();

    // Each figure is the best of several rounds: on a shared machine the
    // best round is the one least disturbed by others. The modes take
    // their rounds in turn, each round in another order, so that each
    // meets the same state of the machine: on ext4 without a journal,
    // creating a file gets slower the more files were deleted in the last
    // seconds (the allocator skips their inodes one by one), so whichever
    // mode ran after another mode's puts and clean-up would pay for them.
    let per_query = interleaved(5, modes.len(), |i| {
        let t = Instant::now();
        for _ in 0..queries / 5 {
            backends[i].query("probe").unwrap();
        }
        secs(t.elapsed()) / f64::from(queries / 5)
    });

    // Puts leave data to write back: each round of puts starts once the
    // last one's data is on disk, so that none competes with another's
    // write-back.
    let small_puts = |backend: &stowage::Backend, store: &Path| {
        sync_fs(store);
        let t = Instant::now();
        for j in 0..small_count {
            backend
                .put(&small_dir.join(format!("s{j:04}")), &format!("s{j:04}"))
                .unwrap();
        }
        secs(t.elapsed())
    };
    let small = interleaved(3, modes.len(), |i| small_puts(&backends[i], &stores[i]));
    let small_tmpfs = tmpfs.as_ref().map(|dir| {
        let stores: Vec<PathBuf> = (0..modes.len())
            .map(|i| dir.join(format!("store{i}")))
            .collect();
        let backends: Vec<_> = (0..modes.len()).map(|i| open(i, &stores[i])).collect();
        let times = interleaved(3, modes.len(), |i| small_puts(&backends[i], &stores[i]));
        for b in backends {
            b.close().unwrap();
        }
        times
    });
    let umask_read = umask_read_cost();

    // Each large put makes a new object and it is deleted right after,
    // outside the timing: replacing the last copy would time the freeing
    // of a gibibyte too (on a filesystem without a journal, mounted with
    // `discard`, the rename that replaces it trims the old blocks then and
    // there), and keeping them all would make each put find less free
    // memory than the one before (on a virtual machine whose free memory
    // goes back to the host, taking it again is slow), whichever mode it
    // belongs to. One put beforehand, not timed, brings the first round to
    // the state of the others.
    backends[0].put(&big, "big").unwrap();
    backends[0].delete("big").unwrap();
    let large = interleaved(3, modes.len(), |i| {
        sync_fs(&stores[i]);
        let t = Instant::now();
        backends[i].put(&big, "big").unwrap();
        let took = secs(t.elapsed());
        backends[i].delete("big").unwrap();
        took
    });

    let mut results = Vec::new();
    for (i, (mode, backend)) in modes.iter().zip(backends).enumerate() {
        backend.close().unwrap();
        drop(backend);
        println!(
            "{:<22} open+close {:>8.2} ms  query {:>7.1} us  put {}x64KiB {:>7.3} s  put {} MiB {:>7.3} s",
            mode.label,
            startup[i] * 1e3,
            per_query[i] * 1e6,
            small_count,
            small[i],
            big_mib,
            large[i]
        );
        results.push((startup[i], per_query[i], small[i], large[i]));
    }
    for store in &stores {
        let _ = fs::remove_dir_all(store);
    }
    if let Some(t) = &small_tmpfs {
        for (mode, secs) in modes.iter().zip(t) {
            println!(
                "{:<22} put {}x64KiB on tmpfs {:>7.3} s",
                mode.label, small_count, secs
            );
        }
    }
    let base = results[0];
    for (i, r) in results.iter().enumerate().skip(1) {
        let tmpfs = small_tmpfs
            .as_ref()
            .map(|t| format!(" ({:.2}x on tmpfs)", t[i] / t[0]))
            .unwrap_or_default();
        println!(
            "{:<22} query overhead {:>6.1} us/call; put small {:.2}x{tmpfs}, put large {:.2}x in-process time",
            modes[i].label,
            (r.1 - base.1) * 1e6,
            r.2 / base.2,
            r.3 / base.3
        );
    }
    println!(
        "fixed costs of an isolated put: umask read {:.1} us, one round trip {:.1} us",
        umask_read * 1e6,
        (results[1].1 - base.1) * 1e6
    );
}

/// What reading the umask costs the host before each isolated put.
fn umask_read_cost() -> f64 {
    best_of(5, || {
        let t = Instant::now();
        for _ in 0..2_000 {
            std::hint::black_box(stowage_isolate::process_umask());
        }
        secs(t.elapsed()) / 2_000.0
    })
}
