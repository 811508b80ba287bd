//! Which handle is the current one, for `graceful::shutdown()`, `graceful::spawn` and the
//! integrations. Each kind of run has one place for it:
//!
//! - [`Builder::run`](crate::Builder::run): the process-wide handle, a static;
//! - [`Builder::run_to_report`](crate::Builder::run_to_report): the threads of the runtime it
//!   builds, a thread-local set on each;
//! - [`Builder::run_async`](crate::Builder::run_async), on a runtime that is not ours: its
//!   main body and tracked tasks, a task-local; any other task of that runtime (one started
//!   with `tokio::spawn`: an axum handler, a library's task), the runtime's id, in a short
//!   list of the runs in progress. Where two runs share a runtime, such a task cannot be told
//!   which is its own: [`graceful::shutdown()`](crate::shutdown()) panics and says so, and
//!   [`Shutdown::try_current`] returns `None`, rather than hand out a handle nothing drives.
//!
//! Outside any run, [`graceful::shutdown()`](crate::shutdown()) hands out the process-wide
//! handle, which nothing drives until a `Builder::run` starts; [`Shutdown::try_current`]
//! returns `None` then.

use std::cell::RefCell;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use tokio::runtime::{Handle, Id};

use super::{Inner, Shutdown};
use crate::util::sync::lock;

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

/// The [`Builder::run_async`](crate::Builder::run_async) runs in progress, by the runtime
/// they run on; [`ASYNC_RUN_COUNT`] is its length, read without the lock.
static ASYNC_RUNS: Mutex<Vec<(Id, Weak<Inner>)>> = Mutex::new(Vec::new());
static ASYNC_RUN_COUNT: AtomicUsize = AtomicUsize::new(0);

/// What the runtime of the calling task says of the current run.
enum OnRuntime {
    /// No `run_async` runs on it (or there is no runtime).
    None,
    /// Exactly one does.
    One(Shutdown),
    /// Several do: which one this task belongs to cannot be known.
    Several,
}

fn on_this_runtime() -> OnRuntime {
    if ASYNC_RUN_COUNT.load(Ordering::Acquire) == 0 {
        return OnRuntime::None;
    }
    let Ok(runtime) = Handle::try_current() else {
        return OnRuntime::None;
    };
    let id = runtime.id();
    let runs = lock(&ASYNC_RUNS);
    let mut found = runs.iter().filter(|(run, _)| *run == id);
    match (found.next(), found.next()) {
        (None, _) => OnRuntime::None,
        (Some(_), Some(_)) => OnRuntime::Several,
        (Some((_, inner)), None) => match inner.upgrade() {
            Some(inner) => OnRuntime::One(Shutdown { inner }),
            None => OnRuntime::None,
        },
    }
}

const SEVERAL_RUNS: &str = "graceful::shutdown(): two graceful runs (`Builder::run_async`) are in \
     progress on this tokio runtime, and this task was started outside both (with \
     `tokio::spawn`), so which one it belongs to cannot be known: pass it the `Shutdown` \
     handle of its run, or start it with `graceful::spawn` from that run";

/// A [`Builder::run_async`](crate::Builder::run_async) run in progress on a runtime: its
/// tasks find its handle until this drops.
pub(crate) struct AsyncRun {
    id: Id,
    inner: Weak<Inner>,
}

impl Drop for AsyncRun {
    fn drop(&mut self) {
        let mut runs = lock(&ASYNC_RUNS);
        if let Some(at) = runs
            .iter()
            .position(|(id, inner)| *id == self.id && Weak::ptr_eq(inner, &self.inner))
        {
            runs.swap_remove(at);
            ASYNC_RUN_COUNT.store(runs.len(), Ordering::Release);
        }
    }
}

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
        match on_this_runtime() {
            OnRuntime::One(run) => Some(run),
            OnRuntime::Several => None,
            OnRuntime::None => GLOBAL_DRIVEN.load(Ordering::Acquire).then(Shutdown::global),
        }
    }

    /// The handle of the run this task or thread belongs to, or the process-wide one.
    ///
    /// # Panics
    /// In a task started outside two `run_async` runs in progress on its runtime.
    pub(crate) fn current() -> Self {
        if let Ok(scoped) = SCOPED.try_with(Shutdown::clone) {
            return scoped;
        }
        if let Some(current) = CURRENT.with(|current| current.borrow().clone()) {
            return current;
        }
        match on_this_runtime() {
            OnRuntime::One(run) => run,
            OnRuntime::Several => panic!("{SEVERAL_RUNS}"),
            OnRuntime::None => Shutdown::global(),
        }
    }

    /// Registers `self` as a run in progress on the calling task's runtime, until the guard
    /// drops: tasks of that runtime that were not started by the run find it.
    pub(crate) fn run_on_this_runtime(&self) -> Option<AsyncRun> {
        let id = Handle::try_current().ok()?.id();
        let inner = Arc::downgrade(&self.inner);
        let mut runs = lock(&ASYNC_RUNS);
        runs.push((id, inner.clone()));
        ASYNC_RUN_COUNT.store(runs.len(), Ordering::Release);
        Some(AsyncRun { id, inner })
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
