//! The trigger that starts the shutdown once, and the waker of the thread that keeps the
//! watchdog, in one cell.
//!
//! Both live under one lock so that a trigger and the waker's registration, on two threads at
//! once, cannot miss each other: with two independent cells (two `OnceLock`s), each side can
//! set its own and read the other's as still empty, and the watchdog sleeps through the
//! trigger. Written with [`model`](crate::util::sync::model)'s types, so that loom explores it
//! (`.ci/model`).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::shutdown::Trigger;
use crate::util::sync::model::{AtomicBool, Mutex, lock};

/// What wakes the thread that keeps the watchdog.
pub(crate) type Wake = Arc<dyn Fn() + Send + Sync>;

/// The first trigger, set once, and the watchdog's waker.
pub(crate) struct Latch {
    state: Mutex<Latched>,
    /// Whether the trigger is set: read without the lock by
    /// [`is_set`](Latch::is_set), which workers may poll.
    set: AtomicBool,
}

#[derive(Default)]
struct Latched {
    trigger: Option<Trigger>,
    wake: Option<Wake>,
}

impl Latch {
    pub(crate) fn new() -> Self {
        Latch {
            state: Mutex::new(Latched::default()),
            set: AtomicBool::new(false),
        }
    }

    /// Sets the trigger unless one is set. `None` if one was; else `Some`, with the waker to
    /// call if one is registered: the caller started the shutdown.
    pub(crate) fn start(&self, trigger: Trigger) -> Option<Option<Wake>> {
        let mut state = lock(&self.state);
        if state.trigger.is_some() {
            return None;
        }
        state.trigger = Some(trigger);
        self.set.store(true, Ordering::Release);
        Some(state.wake.clone())
    }

    /// Registers the waker, once. Returns it if the trigger is set already: the caller wakes
    /// the thread, which may have looked before the trigger.
    pub(crate) fn wake_with(&self, wake: Wake) -> Option<Wake> {
        let mut state = lock(&self.state);
        if state.wake.is_some() {
            return None;
        }
        state.wake = Some(wake.clone());
        state.trigger.is_some().then_some(wake)
    }

    /// The first trigger, once set.
    pub(crate) fn get(&self) -> Option<Trigger> {
        lock(&self.state).trigger.clone()
    }

    /// Whether the trigger is set, without the lock.
    pub(crate) fn is_set(&self) -> bool {
        self.set.load(Ordering::Acquire)
    }
}

#[cfg(all(test, graceful_loom))]
mod model {
    //! The latch under every interleaving of triggers and the waker's registration.

    use std::time::Instant;

    use loom::sync::atomic::{AtomicUsize, Ordering};

    use super::{Latch, Wake};
    use crate::reason::Reason;
    use crate::shutdown::Trigger;

    fn trigger(reason: Reason) -> Trigger {
        Trigger {
            reason,
            code: None,
            at: Instant::now(),
            limit: None,
        }
    }

    /// A trigger as `Shutdown::start` makes it: the first wakes the watchdog.
    fn start(latch: &Latch, reason: Reason) -> bool {
        match latch.start(trigger(reason)) {
            None => false,
            Some(wake) => {
                if let Some(wake) = wake {
                    wake();
                }
                true
            }
        }
    }

    #[test]
    fn two_triggers_and_the_waker_registration() {
        loom::model(|| {
            let latch = loom::sync::Arc::new(Latch::new());
            let woken = loom::sync::Arc::new(AtomicUsize::new(0));
            let counted = woken.clone();
            let wake: Wake = std::sync::Arc::new(move || {
                counted.fetch_add(1, Ordering::SeqCst);
            });
            let triggers: Vec<_> = [Reason::Triggered, Reason::MainReturned]
                .into_iter()
                .map(|reason| {
                    let latch = latch.clone();
                    loom::thread::spawn(move || {
                        let first = start(&latch, reason.clone());
                        // Once a trigger returns, started or not, the trigger is set.
                        let seen = latch.get().expect("the trigger is set");
                        assert!(latch.is_set());
                        (first, reason, seen.reason)
                    })
                })
                .collect();
            if let Some(wake) = latch.wake_with(wake) {
                wake();
            }
            let ends: Vec<_> = triggers.into_iter().map(|t| t.join().unwrap()).collect();
            // Exactly one trigger started the shutdown, and everyone sees its reason.
            let firsts: Vec<_> = ends.iter().filter(|(first, ..)| *first).collect();
            assert_eq!(firsts.len(), 1);
            let winner = &firsts[0].1;
            assert!(ends.iter().all(|(_, _, seen)| seen == winner));
            // The watchdog was woken exactly once, whichever came first.
            assert_eq!(woken.load(Ordering::SeqCst), 1);
        });
    }
}
