//! Panic containment: every plugin entry point runs through [`guard`].
//!
//! A panic must never unwind across `extern "C"`: Rust aborts the process
//! when it does, and the process is the host. The guard catches it and turns
//! it into an [`ErrorCode::PANIC`] error carrying the panic message and the
//! source location. The location comes from a panic hook installed in the
//! plugin's own copy of std (a cdylib has its own; the host's hook never sees
//! the plugin's panics).

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

use abi_stable::std_types::RResult;

use crate::error::{BackendError, ErrorCode, Result};

thread_local! {
    static GUARD_DEPTH: Cell<u32> = const { Cell::new(0) };
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();

/// Installs the plugin-side panic hook once: inside a guard it records the
/// message for the error value; elsewhere (a plugin's own thread) it logs
/// the panic through the host's logger instead of writing to stderr.
pub(crate) fn install_panic_hook() {
    HOOK.call_once(|| {
        panic::set_hook(Box::new(|info| {
            let message = payload_text(info.payload());
            let text = match info.location() {
                Some(loc) => format!("{message} (at {}:{})", loc.file(), loc.line()),
                None => message,
            };
            if GUARD_DEPTH.with(Cell::get) > 0 {
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(text));
            } else {
                log::error!(target: "stowage::plugin", "a plugin thread panicked: {text}");
            }
        }));
    });
}

fn payload_text(payload: &(dyn Any + Send)) -> String {
    panic_message(payload)
        .unwrap_or("non-string panic payload")
        .to_string()
}

/// The message of a panic payload (what `catch_unwind` returns, or a panic
/// hook's `info.payload()`): the text given to `panic!`, or `None` when the
/// payload is not a string.
pub fn panic_message(payload: &(dyn Any + Send)) -> Option<&str> {
    if let Some(s) = payload.downcast_ref::<&str>() {
        Some(s)
    } else {
        payload.downcast_ref::<String>().map(String::as_str)
    }
}

/// Runs `f`, turning a panic into an [`ErrorCode::PANIC`] error whose
/// message names `op`.
pub(crate) fn guard<T>(op: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    install_panic_hook();
    GUARD_DEPTH.with(|d| d.set(d.get() + 1));
    let outcome = panic::catch_unwind(AssertUnwindSafe(f));
    GUARD_DEPTH.with(|d| d.set(d.get() - 1));
    match outcome {
        Ok(result) => result,
        Err(payload) => {
            let text = LAST_PANIC
                .with(|p| p.borrow_mut().take())
                .unwrap_or_else(|| payload_text(&*payload));
            // Dropping the payload could itself panic; forget it instead.
            std::mem::forget(payload);
            Err(BackendError::new(
                ErrorCode::PANIC,
                format!("plugin panicked in {op}: {text}"),
            ))
        }
    }
}

/// [`guard`] with the result converted for the ABI.
pub(crate) fn guard_ffi<T>(op: &str, f: impl FnOnce() -> Result<T>) -> RResult<T, BackendError> {
    guard(op, f).into()
}
