//! The new process of the attempt that runs, until it has taken over, against this process's
//! exit: either the attempt starts no process (the exit came first), or the exit finds it and
//! stops it. The start and its registration are one step under one lock, so that no exit slips
//! in between (model-checked in this module's tests).

use crate::util::sync::model::{Mutex, lock};

/// The slot; `S` is how to ask the attempt to stop its new process.
pub(super) struct Pending<S> {
    state: Mutex<Attempt<S>>,
}

struct Attempt<S> {
    /// Set once this process (or the run) is ending: no attempt starts a new process then.
    exiting: bool,
    stop: Option<S>,
    /// The new process's group, for an exit that cannot wait.
    group: Option<i32>,
}

/// The exit came first: nothing was started.
pub(super) struct Exiting;

impl<S> Pending<S> {
    #[cfg(not(all(test, graceful_loom)))]
    pub(super) const fn new() -> Self {
        Pending {
            state: Mutex::new(Attempt {
                exiting: false,
                stop: None,
                group: None,
            }),
        }
    }

    #[cfg(all(test, graceful_loom))]
    pub(super) fn new() -> Self {
        Pending {
            state: Mutex::new(Attempt {
                exiting: false,
                stop: None,
                group: None,
            }),
        }
    }

    /// Starts the new process with `spawn` (which returns it, its group and how to stop it),
    /// unless the exit has begun; registered before the lock is let go.
    pub(super) fn start<T, E>(
        &self,
        spawn: impl FnOnce() -> Result<(T, Option<i32>, S), E>,
    ) -> Result<Result<T, E>, Exiting> {
        let mut state = lock(&self.state);
        if state.exiting {
            return Err(Exiting);
        }
        Ok(spawn().map(|(started, group, stop)| {
            state.stop = Some(stop);
            state.group = group;
            started
        }))
    }

    /// The attempt has ended: the new process took over, or is gone.
    pub(super) fn clear(&self) {
        let mut state = lock(&self.state);
        state.stop = None;
        state.group = None;
    }

    /// A run starts: attempts may start new processes again.
    pub(super) fn reset(&self) {
        lock(&self.state).exiting = false;
    }

    /// The exit begins: no attempt starts a process from now on; the one started, if it has
    /// not taken over.
    pub(super) fn exiting(&self) -> Option<S> {
        let mut state = lock(&self.state);
        state.exiting = true;
        state.stop.take()
    }

    /// The group of the new process, if one is pending.
    pub(super) fn group(&self) -> Option<i32> {
        lock(&self.state).group
    }
}

#[cfg(all(test, graceful_loom))]
mod model {
    //! An attempt that starts its new process against an exit that begins: under every
    //! interleaving, a process started is one the exit finds.

    use loom::sync::Arc;
    use loom::sync::atomic::{AtomicBool, Ordering};

    use super::Pending;

    #[test]
    fn a_process_started_is_found_by_the_exit() {
        loom::model(|| {
            let pending = Arc::new(Pending::<&'static str>::new());
            let started = Arc::new(AtomicBool::new(false));
            let attempt = {
                let (pending, started) = (pending.clone(), started.clone());
                loom::thread::spawn(move || {
                    let outcome = pending.start(|| {
                        started.store(true, Ordering::SeqCst);
                        Ok::<_, ()>(((), Some(42), "stop"))
                    });
                    outcome.is_ok()
                })
            };
            let found = pending.exiting();
            let went_ahead = attempt.join().unwrap();
            let started = started.load(Ordering::SeqCst);
            assert_eq!(
                went_ahead, started,
                "it starts exactly when it is let through"
            );
            assert_eq!(
                found.is_some(),
                started,
                "a process started and not found by the exit, or found and never started"
            );
        });
    }
}
