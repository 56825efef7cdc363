//! Mutexes whose poisoning is ignored: every critical section of this
//! crate leaves its data consistent before anything can panic, so a
//! panic in another thread is no reason to stop.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `m`, ignoring poison.
pub(crate) fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
