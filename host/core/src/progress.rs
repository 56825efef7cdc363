//! Transfer progress reported by plugins (`stowage.progress/1`), routed to
//! whoever is watching the calling thread.
//!
//! A plugin reports from inside an operation, on the thread that called it;
//! [`watch`] installs a sink for the duration of one call on this thread.
//! The host publishes one extension object for all plugins, and it
//! dispatches each report through the thread-local sink, so concurrent
//! transfers on other threads never mix.

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};

use abi_stable::sabi_trait::TD_Opaque;
use stowage_backend_api::ext::progress::{ProgressObject, ProgressV1, ProgressV1_TO, Transfer};
use stowage_backend_api::Extension;

type Sink<'a> = &'a dyn Fn(u64, u64);

thread_local! {
    // The sink is borrowed only for the duration of `watch`, which clears
    // it before returning; the 'static is a lie the guard below keeps true.
    static SINK: RefCell<Option<Sink<'static>>> = const { RefCell::new(None) };
}

/// Runs `f` with `sink(done, total)` receiving the progress plugins report
/// on this thread (`total` is 0 when unknown).
pub fn watch<T>(sink: &dyn Fn(u64, u64), f: impl FnOnce() -> T) -> T {
    /// Puts back the sink that was there before (nested watches).
    struct Restore(Option<Sink<'static>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            SINK.with(|s| *s.borrow_mut() = self.0.take());
        }
    }
    // SAFETY: the reference is replaced (by `Restore`, also on unwind)
    // before `sink` goes out of scope, so it is never used past its
    // lifetime.
    let sink: Sink<'static> = unsafe { std::mem::transmute::<Sink<'_>, Sink<'static>>(sink) };
    let previous = SINK.with(|s| s.borrow_mut().replace(sink));
    let _restore = Restore(previous);
    f()
}

struct HostProgress;

impl ProgressV1 for HostProgress {
    fn report(&self, transfer: Transfer) {
        // Called by plugin code across the ABI: a panic must not unwind.
        let _ = catch_unwind(AssertUnwindSafe(|| {
            SINK.with(|s| {
                if let Ok(guard) = s.try_borrow() {
                    if let Some(sink) = *guard {
                        sink(transfer.done, transfer.total);
                    }
                }
            })
        }));
    }
}

/// The extension object handed to plugins that ask for
/// `stowage.progress/1`.
pub(crate) fn extension() -> Extension {
    let object: ProgressObject = ProgressV1_TO::from_value(HostProgress, TD_Opaque);
    Extension::new(object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn reports_reach_the_watcher_of_this_thread_only() {
        let seen = Cell::new((0, 0));
        let ext = extension()
            .downcast::<ProgressObject>()
            .expect("own layout");
        watch(&|d, t| seen.set((d, t)), || {
            ext.report(Transfer { done: 5, total: 10 });
            std::thread::scope(|s| {
                s.spawn(|| ext.report(Transfer { done: 9, total: 10 }));
            });
        });
        assert_eq!(seen.get(), (5, 10));
        ext.report(Transfer { done: 7, total: 10 });
        assert_eq!(seen.get(), (5, 10), "no watcher after watch returned");
    }
}
