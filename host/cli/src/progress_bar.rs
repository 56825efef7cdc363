//! The progress bar of multi-file and large transfers: on stderr, only when
//! stderr is a terminal and `-q` is not given.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Bytes moved by a whole command. Plugins that report progress
/// (`stowage.progress/1`) move it within an object; others move it object
/// by object. Transfers on several threads at once add up.
pub struct Bar {
    bar: Option<ProgressBar>,
    position: AtomicU64,
}

impl Bar {
    /// A bar for `total` bytes; drawn only when `enabled`.
    pub fn new(total: u64, enabled: bool) -> Self {
        let bar = enabled.then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            bar.set_style(style());
            bar
        });
        Self {
            bar,
            position: AtomicU64::new(0),
        }
    }

    /// Runs one object's transfer of `size` bytes under the bar, labelled
    /// `label` (the latest label started is shown). Other threads may run
    /// theirs meanwhile: each adds what it moved since its last report.
    pub fn transfer<T>(&self, label: &str, size: u64, f: impl FnOnce() -> T) -> T {
        let Some(bar) = &self.bar else { return f() };
        bar.set_message(label.to_string());
        let reported = Cell::new(0u64);
        let advance = |done: u64| {
            let step = done.saturating_sub(reported.get());
            reported.set(reported.get().max(done));
            let now = self.position.fetch_add(step, Ordering::Relaxed) + step;
            bar.set_position(now);
        };
        // An object of unknown size (0) moves the bar by what it reports.
        let cap = if size == 0 { u64::MAX } else { size };
        let result = stowage::progress::watch(&|done, _| advance(done.min(cap)), f);
        advance(size);
        result
    }

    /// Removes the bar from the terminal.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// A bar that worker threads move (space backups store files in
/// parallel): `set(done, total)` from any thread.
pub struct SharedBar {
    bar: Option<ProgressBar>,
}

impl SharedBar {
    /// A bar labelled `label`; drawn only when `enabled`.
    pub fn new(enabled: bool, label: &str) -> Self {
        let bar = enabled.then(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            bar.set_style(style());
            bar.set_message(label.to_string());
            bar
        });
        Self { bar }
    }

    /// `done` of `total` bytes.
    pub fn set(&self, done: u64, total: u64) {
        if let Some(bar) = &self.bar {
            bar.set_length(total);
            bar.set_position(done);
        }
    }

    /// Removes the bar from the terminal.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn style() -> ProgressStyle {
    ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
}
