//! What an isolated plugin reports reaches the host as if it ran in
//! process: its log records (through the host's logger) and its transfer
//! progress (to the watcher of the calling thread).

mod isolate_support;

use std::fs;
use std::sync::Mutex;

use isolate_support::{once, options, registry};
use stowage_isolate::Policy;
use stowage_tests::{plugin_dir_with, tempdir};

static RECORDS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, r: &log::Record<'_>) {
        RECORDS
            .lock()
            .unwrap()
            .push(format!("{} {} {}", r.level(), r.target(), r.args()));
    }
    fn flush(&self) {}
}

#[test]
fn logs_and_progress_cross_the_process_boundary() {
    log::set_boxed_logger(Box::new(Capture)).unwrap();
    log::set_max_level(log::LevelFilter::Info);

    let plugins = plugin_dir_with(&["file", "misbehave"]);
    let registry = registry(&[plugins.path()], options(Policy::Always, &[]));
    let work = tempdir();
    let src = work.path().join("src");
    let size: u64 = 40 << 20;
    stowage_tests::files::write_data(&src, size, 7);

    // Logs: the record carries the child's process id, not ours.
    let bad = work.path().join("bad");
    fs::create_dir_all(&bad).unwrap();
    let backend = registry
        .open(&format!("misbehave://{}", bad.display()))
        .unwrap()
        .with_retry(once());
    backend.put(&src, "log").unwrap();
    let records = RECORDS.lock().unwrap().clone();
    let line = records
        .iter()
        .find(|l| l.contains("hello from process"))
        .unwrap_or_else(|| panic!("no forwarded record in {records:?}"));
    assert!(line.starts_with("WARN fixture_misbehave"), "{line}");
    let pid: u32 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert_ne!(pid, std::process::id(), "logged in the child");

    // Progress: the file plugin reports in 16 MiB steps, on this thread.
    let good = registry
        .open(&format!("file://{}", work.path().join("store").display()))
        .unwrap()
        .with_retry(once());
    let seen = Mutex::new(Vec::new());
    stowage::progress::watch(
        &|done, total| seen.lock().unwrap().push((done, total)),
        || {
            good.put(&src, "big").unwrap();
        },
    );
    let seen = seen.into_inner().unwrap();
    assert!(seen.len() >= 3, "{seen:?}");
    assert_eq!(seen.last(), Some(&(size, size)), "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0), "{seen:?}");
    good.close().unwrap();
}

/// Reports that come close together are held back in the child and travel
/// with the next frame, but none is lost or reordered, all arrive before
/// the put returns, and a report after a quiet spell is not held: the
/// first one arrives while the plugin still waits.
#[test]
fn progress_reports_are_batched_without_loss_or_delay_after_a_quiet_spell() {
    let plugins = plugin_dir_with(&["misbehave"]);
    let registry = registry(&[plugins.path()], options(Policy::Always, &[]));
    let work = tempdir();
    let src = work.path().join("src");
    fs::write(&src, vec![5u8; 1000]).unwrap();
    let backend = registry
        .open(&format!(
            "misbehave://{}",
            work.path().join("store").display()
        ))
        .unwrap()
        .with_retry(once());
    // Wake the child up, then let the channel go quiet.
    backend.put(&src, "warm").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(100));
    let seen = Mutex::new(Vec::new());
    let started = std::time::Instant::now();
    stowage::progress::watch(
        &|done, total| seen.lock().unwrap().push((done, total, started.elapsed())),
        || backend.put(&src, "paced").unwrap(),
    );
    let returned = started.elapsed();
    let seen = seen.into_inner().unwrap();
    let reports: Vec<(u64, u64)> = seen.iter().map(|&(d, t, _)| (d, t)).collect();
    let expected: Vec<(u64, u64)> = (0..100).map(|k| (k, 1000)).collect();
    assert_eq!(reports, expected);
    let first = seen[0].2;
    assert!(
        returned - first >= std::time::Duration::from_millis(400),
        "the first report came {first:?} after the start, the put returned after {returned:?}"
    );
    backend.close().unwrap();
}
