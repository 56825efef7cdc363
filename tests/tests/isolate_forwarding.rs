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
