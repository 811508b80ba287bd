//! Locking a mutex that a panic elsewhere may have poisoned.

use std::sync::Mutex;

/// Locks, ignoring poisoning: what the runtime keeps behind its mutexes is plain data (lists,
/// counters, options) that a panic cannot leave half-written.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
