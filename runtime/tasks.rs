//! Tracked tasks: started with [`graceful::spawn`](crate::spawn), awaited in the drain,
//! aborted and reported by name when the drain runs out of time.

use std::collections::HashMap;
use std::future::Future;
use std::panic::Location;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Notify;
use tokio::task::{AbortHandle, JoinHandle};

/// The live tracked tasks, by id.
#[derive(Default)]
pub(crate) struct Tasks {
    next_id: AtomicU64,
    live: Mutex<HashMap<u64, Live>>,
    emptied: Notify,
}

/// What names a tracked task in the drain's report.
pub(crate) enum Label {
    /// A task of `spawn`: where it was spawned.
    At(&'static Location<'static>),
    /// A service: its name.
    Service(std::borrow::Cow<'static, str>),
}

struct Live {
    label: Label,
    // `None` until `spawn` returns: a task that ends before that removes its own entry.
    abort: Option<AbortHandle>,
}

/// Removes the task's entry when its future completes or is dropped: aborted, even before
/// its first poll, or never spawned at all (`tokio::spawn` panicked outside a runtime).
struct Guard {
    tasks: std::sync::Arc<Tasks>,
    id: u64,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let mut live = lock(&self.tasks.live);
        live.remove(&self.id);
        if live.is_empty() {
            self.tasks.emptied.notify_waiters();
        }
    }
}

impl Tasks {
    /// Spawns `fut` on the current runtime as a tracked task.
    pub(crate) fn spawn<F>(
        self: &std::sync::Arc<Self>,
        label: Label,
        fut: F,
    ) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        lock(&self.live).insert(id, Live { label, abort: None });
        // The guard is moved into the future now, not created at its first poll: whatever
        // drops the future removes the entry.
        let guard = Guard {
            tasks: self.clone(),
            id,
        };
        let handle = tokio::spawn(async move {
            let _guard = guard;
            fut.await
        });
        if let Some(entry) = lock(&self.live).get_mut(&id) {
            entry.abort = Some(handle.abort_handle());
        }
        handle
    }

    /// Resolves once no tracked task is left.
    pub(crate) async fn all_done(&self) {
        loop {
            let emptied = self.emptied.notified();
            tokio::pin!(emptied);
            emptied.as_mut().enable();
            if lock(&self.live).is_empty() {
                return;
            }
            emptied.await;
        }
    }

    /// Where the tasks still running were spawned, e.g. `task spawned at src/main.rs:12:5`.
    pub(crate) fn running(&self) -> Vec<String> {
        let live = lock(&self.live);
        let mut names: Vec<_> = live.iter().map(|(id, t)| (*id, label(t))).collect();
        names.sort_unstable_by_key(|(id, _)| *id);
        names.into_iter().map(|(_, name)| name).collect()
    }

    /// Aborts every task still running and returns their labels, oldest first.
    pub(crate) fn abort_all(&self) -> Vec<String> {
        let live = lock(&self.live);
        let mut aborted: Vec<_> = live
            .iter()
            .map(|(id, task)| {
                if let Some(abort) = &task.abort {
                    abort.abort();
                }
                (*id, label(task))
            })
            .collect();
        aborted.sort_unstable_by_key(|(id, _)| *id);
        aborted.into_iter().map(|(_, name)| name).collect()
    }
}

fn label(task: &Live) -> String {
    match &task.label {
        Label::At(spawned_at) => format!("task spawned at {spawned_at}"),
        Label::Service(name) => format!("service {name}"),
    }
}

/// Locks, ignoring poisoning: the data is a plain map that a panic cannot leave half-written.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
