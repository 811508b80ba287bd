//! Which handle is the current one, for `graceful::shutdown()`, `graceful::spawn` and the
//! integrations. Each kind of run has one place for it:
//!
//! - [`Builder::run`](crate::Builder::run): the process-wide handle, a static;
//! - [`Builder::run_to_report`](crate::Builder::run_to_report): the threads of the runtime it
//!   builds, a thread-local set on each;
//! - [`Builder::run_async`](crate::Builder::run_async), on a runtime that is not ours: its
//!   tasks, a task-local.
//!
//! Outside any run, [`graceful::shutdown()`](crate::shutdown()) hands out the process-wide
//! handle, which nothing drives until a `Builder::run` starts; [`Shutdown::try_current`]
//! returns `None` then.

use std::cell::RefCell;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use super::{Inner, Shutdown};

tokio::task_local! {
    /// The handle of a [`Builder::run_async`](crate::Builder::run_async) run, in its main body
    /// and its tracked tasks.
    static SCOPED: Shutdown;
}

thread_local! {
    /// The handle of the run this thread belongs to, set on the threads of a runtime built by
    /// [`Builder::run_to_report`](crate::Builder::run_to_report).
    static CURRENT: RefCell<Option<Shutdown>> = const { RefCell::new(None) };
}

static GLOBAL: OnceLock<Shutdown> = OnceLock::new();

/// Whether [`Builder::run`](crate::Builder::run) drives the process-wide handle.
static GLOBAL_DRIVEN: AtomicBool = AtomicBool::new(false);

impl Shutdown {
    /// A fresh handle, not the process-wide one.
    pub(crate) fn detached() -> Self {
        Shutdown {
            inner: Arc::new(Inner::new(false)),
        }
    }

    /// A fresh handle for a run on a runtime that is not ours.
    pub(crate) fn scoped() -> Self {
        Shutdown {
            inner: Arc::new(Inner::new(true)),
        }
    }

    /// `fut`, with `self` as the current handle while it runs.
    pub(crate) fn scope<F: Future>(&self, fut: F) -> impl Future<Output = F::Output> + use<F> {
        SCOPED.scope(self.clone(), fut)
    }

    /// The process-wide handle, used by [`Builder::run`](crate::Builder::run).
    pub(crate) fn global() -> Self {
        GLOBAL.get_or_init(Shutdown::detached).clone()
    }

    /// The process-wide handle, which [`Builder::run`](crate::Builder::run) is about to drive.
    pub(crate) fn driven_global() -> Self {
        GLOBAL_DRIVEN.store(true, Ordering::Release);
        Shutdown::global()
    }

    /// The handle of the graceful run this code runs in, or `None` outside one: where
    /// [`graceful::shutdown()`](crate::shutdown()) would hand out a handle that nothing
    /// drives (no signal would start it, no sequence would run).
    ///
    /// ```
    /// // A library that works with or without graceful:
    /// match graceful::Shutdown::try_current() {
    ///     Some(shutdown) => println!("stopping with the process: {}", shutdown.is_shutting_down()),
    ///     None => println!("not in a graceful run"),
    /// }
    /// ```
    pub fn try_current() -> Option<Self> {
        if let Ok(scoped) = SCOPED.try_with(Shutdown::clone) {
            return Some(scoped);
        }
        if let Some(current) = CURRENT.with(|current| current.borrow().clone()) {
            return Some(current);
        }
        GLOBAL_DRIVEN.load(Ordering::Acquire).then(Shutdown::global)
    }

    /// The handle of the run this thread belongs to, or the process-wide one.
    pub(crate) fn current() -> Self {
        if let Ok(scoped) = SCOPED.try_with(Shutdown::clone) {
            return scoped;
        }
        CURRENT
            .with(|current| current.borrow().clone())
            .unwrap_or_else(Shutdown::global)
    }

    /// Whether `self` is the handle that [`current`](Self::current) finds on this thread
    /// outside any task that carries one: then a task need not carry it.
    #[allow(dead_code)] // used by the HTTP integration, behind its feature
    pub(crate) fn is_ambient(&self) -> bool {
        let ambient = CURRENT
            .with(|current| current.borrow().clone())
            .unwrap_or_else(Shutdown::global);
        Arc::ptr_eq(&ambient.inner, &self.inner)
    }

    /// Makes `self` the current handle of this thread for the rest of its life (the threads of
    /// a runtime built for one run).
    pub(crate) fn make_current(&self) {
        CURRENT.with(|current| *current.borrow_mut() = Some(self.clone()));
    }

    /// Makes `self` the current handle on this thread until the guard drops.
    pub(crate) fn enter(&self) -> CurrentGuard {
        let previous = CURRENT.with(|current| current.replace(Some(self.clone())));
        CurrentGuard { previous }
    }
}

/// Restores the previous current handle of the thread when dropped.
pub(crate) struct CurrentGuard {
    previous: Option<Shutdown>,
}

impl Drop for CurrentGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|current| *current.borrow_mut() = previous);
    }
}
