//! Tracked tasks: started with [`graceful::spawn`](crate::spawn), awaited in the drain,
//! aborted and reported by name when the drain runs out of time.
//!
//! Counting and waiting is tokio-util's [`TaskTracker`] (an atomic count, no lock). Naming
//! what the drain aborts needs each task's abort handle and label: they go into one of
//! [`SHARDS`] small lists, picked by the spawning thread, so that spawns from several
//! threads do not contend on one lock. A task does not remove its own entry (that would be a
//! second lock per task, and a race with its insertion); finished entries are swept from a
//! list when it has doubled since the last sweep, so a list holds at most about twice the
//! tasks that still run.

use std::borrow::Cow;
use std::collections::BinaryHeap;
use std::future::Future;
use std::panic::Location;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use tokio::task::{AbortHandle, JoinHandle};
use tokio_util::task::TaskTracker;

use crate::report::{LISTED_TASKS, Listed};
use crate::util::sync::lock;

/// How many lists the entries are spread over: more than the spawning threads of a typical
/// machine, few enough to walk at the drain.
const SHARDS: usize = 16;

/// The smallest size a list grows to before its first sweep.
const FIRST_SWEEP: usize = 64;

/// What names a tracked task in the drain's report.
pub(crate) enum Label {
    /// A task of `spawn`: where it was spawned.
    At(&'static Location<'static>),
    /// A service: its name.
    Service(Cow<'static, str>),
}

/// The tracked tasks of one run.
pub(crate) struct Tasks {
    tracker: TaskTracker,
    next_id: AtomicU64,
    shards: [Mutex<Shard>; SHARDS],
}

#[derive(Default)]
struct Shard {
    entries: Vec<Entry>,
    /// The length at which the next sweep happens.
    sweep_at: usize,
}

struct Entry {
    id: u64,
    label: Label,
    abort: AbortHandle,
}

impl Default for Tasks {
    fn default() -> Self {
        Tasks {
            tracker: TaskTracker::new(),
            next_id: AtomicU64::new(0),
            shards: std::array::from_fn(|_| Mutex::default()),
        }
    }
}

impl Tasks {
    /// Spawns `fut` on the current runtime as a tracked task.
    ///
    /// If `tokio::spawn` panics (no runtime), the future is dropped, which ends its tracking:
    /// nothing is left for the drain to wait for.
    pub(crate) fn spawn<F>(&self, label: Label, fut: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let handle = self.tracker.spawn(fut);
        let entry = Entry {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            label,
            abort: handle.abort_handle(),
        };
        let mut shard = lock(&self.shards[shard_of_this_thread()]);
        if shard.entries.len() >= shard.sweep_at {
            shard.entries.retain(|entry| !entry.abort.is_finished());
            shard.sweep_at = (shard.entries.len() * 2).max(FIRST_SWEEP);
        }
        shard.entries.push(entry);
        handle
    }

    /// Resolves once no tracked task is left. Tasks spawned after this is first called are
    /// still waited for.
    pub(crate) async fn all_done(&self) {
        self.tracker.close();
        self.tracker.wait().await;
    }

    /// How many tasks still run: exact (the tracker's count), where [`running`](Self::running)
    /// may still name a task whose future has just ended.
    pub(crate) fn len(&self) -> usize {
        self.tracker.len()
    }

    /// Where the oldest `limit` tasks still running were spawned, e.g. `task spawned at
    /// src/main.rs:12:5`, oldest first, and how many others still run.
    pub(crate) fn running(&self, limit: usize) -> Listed {
        self.unfinished(limit, |_| {})
    }

    /// Aborts every task still running; returns the labels of the oldest [`LISTED_TASKS`], oldest
    /// first, and how many others it aborted.
    pub(crate) fn abort_all(&self) -> Listed {
        self.unfinished(LISTED_TASKS, AbortHandle::abort)
    }

    /// Calls `each` on every unfinished task; returns the labels of the `limit` oldest and
    /// counts the others. Only the labels listed are formatted: the drain of a million tasks
    /// does not build a million strings.
    fn unfinished(&self, limit: usize, each: impl Fn(&AbortHandle)) -> Listed {
        // The oldest `limit` so far, the youngest of them on top.
        let mut oldest = BinaryHeap::with_capacity(limit.min(LISTED_TASKS) + 1);
        let mut unfinished = 0;
        for shard in &self.shards {
            for entry in &lock(shard).entries {
                if entry.abort.is_finished() {
                    continue;
                }
                each(&entry.abort);
                unfinished += 1;
                let older = oldest.peek().is_none_or(|(id, _)| entry.id < *id);
                if oldest.len() < limit || (limit > 0 && older) {
                    oldest.push((entry.id, label(&entry.label)));
                    if oldest.len() > limit {
                        oldest.pop();
                    }
                }
            }
        }
        let labels: Vec<String> = oldest
            .into_sorted_vec()
            .into_iter()
            .map(|(_, label)| label)
            .collect();
        Listed {
            left_out: unfinished - labels.len(),
            labels,
        }
    }
}

/// The list this thread spawns into: threads take the lists in turn, once each.
fn shard_of_this_thread() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    SHARD.with(|shard| *shard)
}

fn label(label: &Label) -> String {
    match label {
        Label::At(spawned_at) => format!("task spawned at {spawned_at}"),
        Label::Service(name) => format!("service {name}"),
    }
}
