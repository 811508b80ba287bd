//! The calls in flight on a server, counted without a write to memory that another thread
//! writes.
//!
//! tonic and axum clone a server's services for every call, so whatever a service holds is
//! touched by every call on every thread: an `Arc` of a shared counter would be incremented
//! twice per call (the service's clone, the call's guard) and the counter written twice more,
//! all on one cache line that every worker thread writes. Here a service holds only a
//! [`Key`], a number; each thread counts a server's calls in a part of its own, found through
//! a table of the thread's, and written only by that thread. A call that ends on another
//! thread than it started on takes one off that thread's part: the parts' sum is the count.
//! Reading it (a snapshot, the cut) sums the parts, under the server's lock. A thread that
//! ends (tokio replaces the workers that `block_in_place` hands off, and its blocking threads
//! come and go) folds its parts into their counts, so that a count holds a part for each
//! thread alive, not for each thread that ever served a call.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicIsize, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use crate::util::sync::lock;

/// The servers whose calls are counted, by key: how a thread finds a server's count the first
/// time it counts one of its calls. An entry leaves with its count.
static COUNTS: Mutex<BTreeMap<u64, Weak<Calls>>> = Mutex::new(BTreeMap::new());

/// The key of the next count.
static NEXT: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// This thread's parts of the counts it has counted calls of, with the key of each: a
    /// short list (one entry per server this thread has served calls for), searched from the
    /// start.
    static PARTS: RefCell<Vec<Part>> = const { RefCell::new(Vec::new()) };
}

/// One thread's part of one server's count.
struct Part {
    key: u64,
    value: Arc<AtomicIsize>,
    /// Gone once the server's count is: the entry is then dropped from the thread's list.
    count: Weak<Calls>,
}

/// The count of one server's calls in flight: the sum of its threads' parts.
pub(super) struct Calls {
    key: u64,
    parts: Mutex<Parts>,
}

/// The parts of one count.
#[derive(Default)]
struct Parts {
    /// The part of each thread alive that has counted a call here; each is written only by
    /// its own thread.
    live: Vec<Arc<AtomicIsize>>,
    /// The parts of the threads that have ended, added up: calls started on one of them and
    /// not yet ended elsewhere (or the other way round).
    ended: isize,
}

impl Calls {
    /// A count of no call, found by its [`key`](Self::key) until it drops.
    pub(super) fn new() -> Arc<Calls> {
        let calls = Arc::new(Calls {
            key: NEXT.fetch_add(1, Ordering::Relaxed),
            parts: Mutex::new(Parts::default()),
        });
        lock(&COUNTS).insert(calls.key, Arc::downgrade(&calls));
        calls
    }

    /// What a service holds to count its calls here: a number, copied at no cost.
    pub(super) fn key(&self) -> Key {
        Key(self.key)
    }

    /// The calls in flight: those started and not yet ended, on every thread.
    pub(super) fn in_flight(&self) -> usize {
        let parts = lock(&self.parts);
        let sum: isize = parts.ended
            + parts
                .live
                .iter()
                .map(|part| part.load(Ordering::Relaxed))
                .sum::<isize>();
        // Read while calls start and end on other threads, the sum may miss or count twice a
        // call that moved between two parts as they were read; it is never below zero.
        usize::try_from(sum).unwrap_or(0)
    }
}

impl Drop for Calls {
    fn drop(&mut self) {
        lock(&COUNTS).remove(&self.key);
    }
}

/// Which server's [`Calls`] a call counts in.
#[derive(Clone, Copy, Debug)]
pub(super) struct Key(u64);

impl Key {
    /// Adds `delta` to this thread's part of the count, if the count is still there.
    fn add(self, delta: isize) {
        // Gone at the thread's very end (a call dropped by a thread-local's destructor): the
        // call is counted with the ended threads' parts, which is the same for the sum.
        let counted = PARTS.try_with(|parts| {
            let mut parts = parts.borrow_mut();
            if let Some(part) = parts.iter().find(|part| part.key == self.0) {
                add(&part.value, delta);
                return;
            }
            if let Some(part) = self.new_part() {
                add(&part.value, delta);
                // The parts of counts that are gone leave as a new one comes.
                parts.retain(|part| part.count.strong_count() > 0);
                parts.push(part);
            }
        });
        if counted.is_err() {
            // Its own statement: the table's lock is released before the count may drop.
            let count = self.count();
            if let Some(count) = count {
                lock(&count.parts).ended += delta;
            }
        }
    }

    /// The count, if it is still there.
    fn count(self) -> Option<Arc<Calls>> {
        lock(&COUNTS).get(&self.0).and_then(Weak::upgrade)
    }

    /// A new part of the count, registered with it; `None` once the count is gone.
    fn new_part(self) -> Option<Part> {
        let count = self.count()?;
        let value = Arc::new(AtomicIsize::new(0));
        lock(&count.parts).live.push(value.clone());
        Some(Part {
            key: self.0,
            value,
            count: Arc::downgrade(&count),
        })
    }
}

impl Drop for Part {
    /// The thread's end: the part's last value goes into its count's `ended`, under the lock the sum is read with, so that no read sees it twice or
    /// not at all. Nothing to do once the count is gone.
    fn drop(&mut self) {
        if let Some(count) = self.count.upgrade() {
            let mut parts = lock(&count.parts);
            parts.live.retain(|part| !Arc::ptr_eq(part, &self.value));
            parts.ended += self.value.load(Ordering::Relaxed);
        }
    }
}

/// Adds `delta` to a part that only this thread writes: a load and a store, no atomic
/// read-modify-write (the sum's reads are atomic loads).
fn add(part: &AtomicIsize, delta: isize) {
    part.store(part.load(Ordering::Relaxed) + delta, Ordering::Relaxed);
}

/// A call in flight until dropped.
pub(super) struct Call(Key);

impl Call {
    pub(super) fn start(key: Key) -> Call {
        key.add(1);
        Call(key)
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        self.0.add(-1);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;

    #[test]
    fn calls_started_on_one_thread_and_ended_on_others_are_counted_once() {
        let calls = Calls::new();
        let key = calls.key();
        let started: Vec<Call> = (0..10).map(|_| Call::start(key)).collect();
        assert_eq!(calls.in_flight(), 10);
        let mut started = started.into_iter();
        std::thread::scope(|scope| {
            for _ in 0..3 {
                let ending: Vec<Call> = started.by_ref().take(3).collect();
                scope.spawn(move || drop(ending));
            }
        });
        assert_eq!(calls.in_flight(), 1);
        drop(started);
        assert_eq!(calls.in_flight(), 0);
    }

    #[test]
    fn a_call_writes_only_the_part_of_the_thread_it_runs_on() {
        let calls = Calls::new();
        let key = calls.key();
        let here = Call::start(key);
        let (started, end) = (mpsc::channel(), mpsc::channel::<()>());
        let thread = std::thread::spawn(move || {
            let call = Call::start(key);
            let second = Call::start(key);
            drop(second);
            started.0.send(()).unwrap();
            // Alive, with its part, until told to end.
            end.1.recv().unwrap();
            call
        });
        started.1.recv().unwrap();
        let parts: Vec<isize> = lock(&calls.parts)
            .live
            .iter()
            .map(|part| part.load(Ordering::Relaxed))
            .collect();
        // One part per thread, each holding its own thread's calls.
        assert_eq!(parts, [1, 1]);
        end.0.send(()).unwrap();
        let there = thread.join().unwrap();
        drop((here, there));
        assert_eq!(calls.in_flight(), 0);
    }

    #[test]
    fn a_thread_that_ends_leaves_its_calls_counted_and_no_part_behind() {
        let calls = Calls::new();
        let key = calls.key();
        let here = Call::start(key);
        // Threads that come and go, as tokio's blocking threads do: each starts a call that
        // outlives it, and ends one started here.
        let moved: Vec<Call> = (0..50)
            .map(|_| std::thread::spawn(move || Call::start(key)).join().unwrap())
            .collect();
        assert_eq!(calls.in_flight(), 51);
        std::thread::spawn(move || drop(here)).join().unwrap();
        assert_eq!(calls.in_flight(), 50);
        drop(moved);
        assert_eq!(calls.in_flight(), 0);
        // What is left is this thread's part: not one per thread that ever counted a call.
        assert_eq!(lock(&calls.parts).live.len(), 1);
    }

    #[test]
    fn an_ended_count_leaves_nothing_behind() {
        let key = {
            let calls = Calls::new();
            drop(Call::start(calls.key()));
            calls.key()
        };
        assert!(!lock(&COUNTS).contains_key(&key.0));
        // A call of a count that is gone counts nowhere, and the thread's part of it leaves
        // as the next count's part comes.
        drop(Call::start(key));
        let next = Calls::new();
        drop(Call::start(next.key()));
        PARTS.with(|parts| {
            let keys: Vec<u64> = parts.borrow().iter().map(|part| part.key).collect();
            assert_eq!(keys, [next.key().0]);
        });
    }
}
