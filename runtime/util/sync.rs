//! Locking a mutex that a panic elsewhere may have poisoned, and the primitives of the state
//! machines that the model checker explores.
//!
//! The trigger that starts the shutdown once, the exit's gate, the hooks that run against an
//! escape hatch's list, and an upgrade's new process against the exit are written with [`model`]'s types: std's in every build, loom's
//! when the crate's unit tests are built with `--cfg graceful_loom`, so that loom runs the same
//! code under every interleaving (`.ci/model`).

use std::sync::Mutex;

/// Locks, ignoring poisoning: what the runtime keeps behind its mutexes is plain data (lists,
/// counters, options) that a panic cannot leave half-written.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// std's primitives, or loom's under the model checker.
pub(crate) mod model {
    #[cfg(not(all(test, graceful_loom)))]
    pub(crate) use std::sync::atomic::{AtomicBool, AtomicU8};
    #[cfg(not(all(test, graceful_loom)))]
    pub(crate) use std::sync::{Mutex, MutexGuard};

    #[cfg(all(test, graceful_loom))]
    pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU8};
    #[cfg(all(test, graceful_loom))]
    pub(crate) use loom::sync::{Mutex, MutexGuard};

    /// Locks, ignoring poisoning (see [`lock`](super::lock)).
    pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
        mutex
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
