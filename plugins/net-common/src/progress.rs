//! Throttled progress reports.

use stowage_backend_api::Progress;

/// Reports at most once per this many bytes (and at the end).
const STEP: u64 = 1 << 20;

/// Reports one transfer's progress to the host, throttled. Use it on the
/// thread that called the operation: the host ignores reports from others.
pub struct Reporter<'a> {
    progress: Option<&'a Progress>,
    total: u64,
    reported: u64,
}

impl<'a> Reporter<'a> {
    /// Starts a transfer of `total` bytes (0 when unknown): reports 0.
    pub fn start(progress: Option<&'a Progress>, total: u64) -> Self {
        if let Some(p) = progress {
            p.report(0, total);
        }
        Self {
            progress,
            total,
            reported: 0,
        }
    }

    /// `done` bytes are through.
    pub fn at(&mut self, done: u64) {
        let Some(p) = self.progress else { return };
        if done >= self.reported + STEP || (done == self.total && done != self.reported) {
            p.report(done, self.total);
            self.reported = done;
        }
    }
}
