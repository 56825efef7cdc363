//! Extensions: how ABI v1 grows without changing.
//!
//! An extension is any [`StableAbi`] value (typically a `#[sabi_trait]`
//! object or a prefix-type module of functions) published under a versioned
//! string id such as `stowage.peer/1`. The carrier records the value's type
//! layout; the receiver checks it against the layout it expects before it
//! touches the value. A mismatch rejects that extension only: the plugin
//! still loads. An incompatible change is a new id (`stowage.peer/2`), never a
//! changed type under an old one.
//!
//! Ids of the form `stowage.NAME/N` belong to stowage itself; third-party
//! extensions use their own domain or crate name (`org.example.quota/1`).
//!
//! An extension object must be `'static`: it cannot borrow from the backend
//! that hands it out. Keep the state both need in an `Arc` inside the
//! backend and give the extension object a clone of it.

use std::ffi::c_void;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;

use abi_stable::abi_stability::abi_checking::check_layout_compatibility;
use abi_stable::type_layout::TypeLayout;
use abi_stable::StableAbi;

/// Runs an extension method under the same panic guard as every backend
/// operation: a panic becomes an [`ErrorCode::PANIC`](crate::ErrorCode::PANIC)
/// error. Implementations of extension traits must wrap their bodies in it,
/// since a panic may not unwind across the ABI.
pub fn guarded<T>(
    op: &str,
    f: impl FnOnce() -> crate::Result<T>,
) -> abi_stable::std_types::RResult<T, crate::BackendError> {
    crate::guard::guard_ffi(op, f)
}

/// A type-erased extension value crossing the ABI.
///
/// Invariant: `object` points to a live value whose layout is `layout`,
/// allocated by the side that created it, and `drop` (from that same side)
/// frees it exactly once.
#[repr(C)]
#[derive(StableAbi)]
pub struct Extension {
    layout: &'static TypeLayout,
    object: *mut c_void,
    drop: unsafe extern "C" fn(*mut c_void),
}

// SAFETY: `Extension::new` only accepts `Send + Sync` values.
unsafe impl Send for Extension {}
// SAFETY: as above.
unsafe impl Sync for Extension {}

unsafe extern "C" fn drop_boxed<T>(object: *mut c_void) {
    // A panic in a destructor must not unwind across the ABI.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: created by `Box::into_raw` in `Extension::new::<T>`.
        drop(unsafe { Box::from_raw(object.cast::<T>()) });
    }));
}

impl Extension {
    /// Wraps `value` for transport.
    pub fn new<T: StableAbi + Send + Sync + 'static>(value: T) -> Self {
        Self {
            layout: T::LAYOUT,
            object: Box::into_raw(Box::new(value)).cast::<c_void>(),
            drop: drop_boxed::<T>,
        }
    }

    /// Checks that the value has the layout of `T` and returns a typed
    /// handle to it.
    ///
    /// # Errors
    /// The layouts differ; the message says how (first lines of abi_stable's
    /// report).
    pub fn downcast<T: StableAbi>(self) -> Result<ExtensionRef<T>, LayoutMismatch> {
        match check_layout_compatibility(T::LAYOUT, self.layout) {
            Ok(()) => Ok(ExtensionRef {
                inner: self,
                _type: PhantomData,
            }),
            Err(errors) => Err(LayoutMismatch {
                message: summarize(&errors.to_string()),
            }),
        }
    }
}

impl Drop for Extension {
    fn drop(&mut self) {
        // SAFETY: the invariant says `drop` frees `object` exactly once, and
        // this is the only place that calls it.
        unsafe { (self.drop)(self.object) }
    }
}

impl fmt::Debug for Extension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Extension")
            .field("type", &self.layout.full_type().to_string())
            .finish()
    }
}

/// A layout-checked extension of type `T`.
pub struct ExtensionRef<T> {
    inner: Extension,
    _type: PhantomData<T>,
}

impl<T> Deref for ExtensionRef<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: `downcast` checked that the object has `T`'s layout.
        unsafe { &*self.inner.object.cast::<T>() }
    }
}

// SAFETY: only `Send + Sync` values are ever wrapped (`Extension::new`).
unsafe impl<T> Send for ExtensionRef<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for ExtensionRef<T> {}

/// An extension was found but its layout is not the expected one.
#[derive(Debug, Clone)]
pub struct LayoutMismatch {
    /// What abi_stable reported, shortened to its `Error:` lines.
    pub message: String,
}

impl fmt::Display for LayoutMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "incompatible extension layout: {}", self.message)
    }
}

impl std::error::Error for LayoutMismatch {}

/// abi_stable's layout reports run to hundreds of lines; users get the
/// lines that say what is wrong.
pub(crate) fn summarize(report: &str) -> String {
    let lines: Vec<&str> = report
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("Error:") || l.contains("Expected") || l.contains("Found"))
        .take(4)
        .collect();
    if lines.is_empty() {
        report.trim().lines().take(3).collect::<Vec<_>>().join(" ")
    } else {
        lines.join(" ")
    }
}
