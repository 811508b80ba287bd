//! How far a run has got: whether the main body still runs, which hooks run now, and how many
//! of the scheduled hooks have started. The sequence writes it; the forced exit and the
//! watchdog read it to say what they cut short.

use std::borrow::Cow;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::hooks::registry::{self, Dynamic};
use crate::report::LISTED_TASKS;
use crate::tasks::Tasks;
use crate::util::sync::model::{Mutex, lock};

/// A hook's order and name, as the lines that list hooks show them.
type Named = (i32, Cow<'static, str>);

/// The hooks that run now, and whether the run is closed: an escape hatch has claimed the
/// exit, and no hook starts any more (it would be cut without being named).
#[derive(Default)]
struct RunningHooks {
    running: Vec<(usize, Cow<'static, str>)>,
    closed: bool,
}

#[derive(Default)]
pub(crate) struct Progress {
    main_running: AtomicBool,
    /// The hooks running now, by their index in the schedule.
    running_hooks: Mutex<RunningHooks>,
    /// Every hook, in schedule order, once the hooks start.
    schedule: OnceLock<Vec<Named>>,
    /// How many hooks of the schedule have started.
    hooks_started: AtomicUsize,
    /// How many hooks have ended.
    hooks_ended: AtomicUsize,
    /// Whether the hook phase is over.
    hooks_over: AtomicBool,
}

/// The hooks as a snapshot shows them.
pub(crate) struct HooksSeen {
    /// Whether the hooks have been scheduled (the hook phase has started).
    pub(crate) scheduled: bool,
    /// Whether the hook phase is over.
    pub(crate) over: bool,
    pub(crate) done: usize,
    pub(crate) running: Vec<String>,
    pub(crate) left: Vec<String>,
}

impl Progress {
    pub(crate) fn set_main_running(&self, running: bool) {
        self.main_running.store(running, Ordering::Release);
    }

    /// Records the hooks about to run, in order.
    pub(crate) fn schedule(&self, hooks: Vec<Named>) {
        let _ = self.schedule.set(hooks);
    }

    /// Records that the first `count` hooks of the schedule have started.
    pub(crate) fn hooks_started(&self, count: usize) {
        self.hooks_started.store(count, Ordering::Release);
    }

    /// Records that the hook phase is over.
    pub(crate) fn hooks_over(&self) {
        self.hooks_over.store(true, Ordering::Release);
    }

    /// The hooks done, running and left, for a snapshot.
    pub(crate) fn hooks_seen(&self, dynamic: &Dynamic) -> HooksSeen {
        let over = self.hooks_over.load(Ordering::Acquire);
        let running: Vec<String> = lock(&self.running_hooks)
            .running
            .iter()
            .map(|(_, name)| name.to_string())
            .collect();
        let left = |(order, name): &Named| format!("{name} (order {order})");
        let (scheduled, done, left) = match self.schedule.get() {
            // Skipped hooks (past the deadline) count as done once the phase is over.
            Some(schedule) if over => (true, schedule.len(), Vec::new()),
            Some(schedule) => {
                let started = self.hooks_started.load(Ordering::Acquire);
                let left = schedule.iter().skip(started).map(left).collect();
                (true, self.hooks_ended.load(Ordering::Acquire), left)
            }
            None => (
                false,
                0,
                registry::planned(dynamic).iter().map(left).collect(),
            ),
        };
        HooksSeen {
            scheduled,
            over,
            done,
            running,
            left,
        }
    }

    /// Records that hook `id` runs, until the guard drops; `None` once the run is closed (see
    /// [`close`](Self::close)): the hook must not start.
    pub(crate) fn hook_running<'a>(
        &'a self,
        id: usize,
        name: Cow<'static, str>,
    ) -> Option<Running<'a>> {
        let mut hooks = lock(&self.running_hooks);
        if hooks.closed {
            return None;
        }
        hooks.running.push((id, name));
        Some(Running { progress: self, id })
    }

    /// Closes the run for an escape hatch that exits: no hook starts from now on, so that
    /// what it returns (what still runs: the main body, tracked tasks, running hooks) names
    /// every hook the exit cuts.
    pub(crate) fn close(&self, tasks: &Tasks) -> Vec<String> {
        crate::log::hush();
        let mut hooks = lock(&self.running_hooks);
        hooks.closed = true;
        let mut running = Vec::new();
        if self.main_running.load(Ordering::Acquire) {
            running.push("main".to_owned());
        }
        running.extend(tasks.running(LISTED_TASKS).into_lines());
        running.extend(hooks.running.iter().map(|(_, name)| format!("hook {name}")));
        running
    }

    /// What runs now (the main body, tracked tasks and services, running hooks), for the
    /// line that says what a long drain or hook phase waits for. Unlike
    /// [`close`](Self::close), hooks may still start.
    pub(crate) fn waiting_for(&self, tasks: &Tasks) -> Vec<String> {
        let mut running = Vec::new();
        if self.main_running.load(Ordering::Acquire) {
            running.push("main".to_owned());
        }
        running.extend(tasks.running(LISTED_TASKS).into_lines());
        let hooks = lock(&self.running_hooks);
        running.extend(hooks.running.iter().map(|(_, name)| format!("hook {name}")));
        running
    }

    /// The hooks that have not started: those after the ones started once the hooks have
    /// been scheduled, every hook known so far (`dynamic` and the static ones) before that.
    pub(crate) fn not_started(&self, dynamic: &Dynamic) -> Vec<String> {
        let label = |(order, name): &Named| format!("hook {name} (order {order})");
        match self.schedule.get() {
            Some(schedule) => {
                let started = self.hooks_started.load(Ordering::Acquire);
                schedule.iter().skip(started).map(label).collect()
            }
            None => registry::planned(dynamic).iter().map(label).collect(),
        }
    }
}

/// A hook listed among the running ones while it lives.
pub(crate) struct Running<'a> {
    progress: &'a Progress,
    id: usize,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let mut hooks = lock(&self.progress.running_hooks);
        hooks.running.retain(|(id, _)| *id != self.id);
        // Under the lock: a snapshot never sees the hook neither running nor ended.
        self.progress.hooks_ended.fetch_add(1, Ordering::AcqRel);
    }
}

#[cfg(all(test, graceful_loom))]
mod model {
    //! A hook that starts against an escape hatch that closes the run: under every
    //! interleaving, a hook that runs is named by the escape hatch, or does not start.

    use loom::sync::{Arc, mpsc};

    use super::Progress;
    use crate::tasks::Tasks;

    #[test]
    fn no_hook_runs_that_the_escape_hatch_did_not_name() {
        loom::model(|| {
            let progress = Arc::new(Progress::default());
            let (closed, wait_closed) = mpsc::channel::<()>();
            let hook = {
                let progress = progress.clone();
                loom::thread::spawn(move || {
                    let running = progress.hook_running(0, "flush".into());
                    let ran = running.is_some();
                    // Still running when the escape hatch has looked.
                    wait_closed.recv().unwrap();
                    drop(running);
                    ran
                })
            };
            let named = progress.close(&Tasks::default());
            closed.send(()).unwrap();
            let ran = hook.join().unwrap();
            assert!(
                !ran || named.contains(&"hook flush".to_owned()),
                "a hook ran unnamed: {named:?}"
            );
            // Once closed, no hook starts.
            assert!(progress.hook_running(1, "after".into()).is_none());
        });
    }
}
