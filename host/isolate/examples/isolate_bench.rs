//! Measures what isolation costs (each figure the best of several rounds): per-operation overhead (`query` of an
//! existing object), child start-up, and puts of many small files and of
//! one large file, isolated and in process, in one run.
//!
//! `isolate_bench STOWAGE_BIN PLUGIN_DIR WORK_DIR [BIG_MIB [URL]]`; driven
//! by tests/bench/isolate.sh. `URL` is the store's URL with `{}` for its
//! directory (default `file://{}?fsync=none`).

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
    let mut results = Vec::new();
    for (i, mode) in modes.iter().enumerate() {
        let store = work.join(format!("store{i}"));
        let url = url_template.replace("{}", &store.display().to_string());
        // Start-up: open (spawns, hands over, loads, opens) and close.
        let startup = best_of(20, || {
            let t = Instant::now();
            let b = mode.registry.open(&url).unwrap();
            b.close().unwrap();
            drop(b);
            secs(t.elapsed())
        });

        let backend = mode
            .registry
            .open(&url)
            .unwrap()
            .with_retry(RetryPolicy::once());
        backend.put(&small_dir.join("s0000"), "probe").unwrap();
        // Each figure is the best of several rounds: on a shared machine
        // the best round is the one least disturbed by others.
        let per_query = best_of(5, || {
            let t = Instant::now();
            for _ in 0..queries / 5 {
                backend.query("probe").unwrap();
            }
            secs(t.elapsed()) / f64::from(queries / 5)
        });

        let small = best_of(3, || {
            let t = Instant::now();
            for j in 0..small_count {
                backend
                    .put(&small_dir.join(format!("s{j:04}")), &format!("s{j:04}"))
                    .unwrap();
            }
            secs(t.elapsed())
        });

        let large = best_of(3, || {
            let t = Instant::now();
            backend.put(&big, "big").unwrap();
            secs(t.elapsed())
        });
        backend.close().unwrap();
        drop(backend);
        let _ = fs::remove_dir_all(&store);
        println!(
            "{:<22} open+close {:>8.2} ms  query {:>7.1} us  put {}x64KiB {:>7.3} s  put {} MiB {:>7.3} s",
            mode.label,
            startup * 1e3,
            per_query * 1e6,
            small_count,
            small,
            big_mib,
            large
        );
        results.push((startup, per_query, small, large));
    }
    let base = results[0];
    for (i, r) in results.iter().enumerate().skip(1) {
        println!(
            "{:<22} query overhead {:>6.1} us/call; put small {:.2}x, put large {:.2}x in-process time",
            modes[i].label,
            (r.1 - base.1) * 1e6,
            r.2 / base.2,
            r.3 / base.3
        );
    }
}
