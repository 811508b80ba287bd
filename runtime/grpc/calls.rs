//! The calls in flight on a server, counted without a write to memory that another thread
//! writes.
//!
//! tonic and axum clone a server's services for every call, so whatever a service holds is
//! touched by every call on every thread: an `Arc` of a shared counter would be incremented
//! twice per call (the service's clone, the call's guard) and the counter written twice more,
//! all on one cache line that every worker thread writes. Here a service holds only a
//! [`Key`], a number; each thread counts the calls of a server it starts and those it ends in
//! a part of its own, found through a table of the thread's, and written only by that thread.
//! The count is every part's starts less every part's ends, whichever thread a call ended on.
//! Reading it (a snapshot, the cut) reads the ends first, then the starts: a call whose end is
//! read has its start read too, so a call in flight is never missed (see
//! [`Calls::in_flight`]). A thread that ends (tokio replaces the workers that
//! `block_in_place` hands off, and its blocking threads come and go) adds its parts to their
//! counts, so that a count holds a part for each thread alive, not for each thread that ever
//! served a call.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
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

/// A start or an end of a call.
#[derive(Clone, Copy)]
enum Step {
    Start,
    End,
}

/// The calls one thread has started and ended, of one server; both only go up, and only that
/// thread writes them.
#[derive(Default)]
struct Steps {
    started: AtomicU64,
    ended: AtomicU64,
}

impl Steps {
    fn of(&self, step: Step) -> &AtomicU64 {
        match step {
            Step::Start => &self.started,
            Step::End => &self.ended,
        }
    }
}

/// One thread's part of one server's count.
struct Part {
    key: u64,
    steps: Arc<Steps>,
    /// Gone once the server's count is: the entry is then dropped from the thread's list.
    count: Weak<Calls>,
}

/// The count of one server's calls in flight: the starts less the ends of its threads' parts.
pub(super) struct Calls {
    key: u64,
    parts: Mutex<Parts>,
}

/// The parts of one count.
#[derive(Default)]
struct Parts {
    /// The part of each thread alive that has counted a call here.
    live: Vec<Arc<Steps>>,
    /// The starts and the ends of the threads that have ended, added up.
    started: u64,
    ended: u64,
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
    ///
    /// Read while calls start and end elsewhere, the parts are not read at one instant, so
    /// the ends are read first, then the starts: a call's end is written after its start
    /// (on another thread if it moved, after the hand-over that moved it), and an end read
    /// with `Acquire` brings its start along. Every call in flight is counted; a call that
    /// starts and ends while the count is read may be counted too, never one less.
    pub(super) fn in_flight(&self) -> usize {
        let parts = lock(&self.parts);
        let read = |step: Step| -> u64 {
            parts
                .live
                .iter()
                .map(|part| part.of(step).load(Ordering::Acquire))
                .sum()
        };
        let ended = parts.ended + read(Step::End);
        let started = parts.started + read(Step::Start);
        usize::try_from(started.saturating_sub(ended)).unwrap_or(usize::MAX)
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
    /// Counts `step` in this thread's part of the count, if the count is still there.
    fn count_step(self, step: Step) {
        // Gone at the thread's very end (a call dropped by a thread-local's destructor): the
        // step is counted with the ended threads' parts, which is the same for the count.
        let counted = PARTS.try_with(|parts| {
            let mut parts = parts.borrow_mut();
            if let Some(part) = parts.iter().find(|part| part.key == self.0) {
                add_one(part.steps.of(step));
                return;
            }
            if let Some(part) = self.new_part() {
                add_one(part.steps.of(step));
                // The parts of counts that are gone leave as a new one comes.
                parts.retain(|part| part.count.strong_count() > 0);
                parts.push(part);
            }
        });
        if counted.is_err() {
            // Its own statement: the table's lock is released before the count may drop.
            let count = self.count();
            if let Some(count) = count {
                let mut parts = lock(&count.parts);
                match step {
                    Step::Start => parts.started += 1,
                    Step::End => parts.ended += 1,
                }
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
        let steps = Arc::new(Steps::default());
        lock(&count.parts).live.push(steps.clone());
        Some(Part {
            key: self.0,
            steps,
            count: Arc::downgrade(&count),
        })
    }
}

impl Drop for Part {
    /// The thread's end: the part's starts and ends go to its count's own, under the lock the
    /// count is read with, so that no read sees them twice or not at all. Nothing to do once
    /// the count is gone.
    fn drop(&mut self) {
        if let Some(count) = self.count.upgrade() {
            let mut parts = lock(&count.parts);
            parts.live.retain(|part| !Arc::ptr_eq(part, &self.steps));
            parts.started += self.steps.started.load(Ordering::Relaxed);
            parts.ended += self.steps.ended.load(Ordering::Relaxed);
        }
    }
}

/// Adds one to a counter that only this thread writes: a load and a store, no atomic
/// read-modify-write. `Release`, so that a read of the count that sees an end sees the call's
/// start too (an `Acquire` load and a `Release` store are plain moves on x86).
fn add_one(counter: &AtomicU64) {
    counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Release);
}

/// A call in flight until dropped.
pub(super) struct Call(Key);

impl Call {
    pub(super) fn start(key: Key) -> Call {
        key.count_step(Step::Start);
        Call(key)
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        self.0.count_step(Step::End);
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
        let parts: Vec<(u64, u64)> = lock(&calls.parts)
            .live
            .iter()
            .map(|part| {
                let read = |step| part.of(step).load(Ordering::Relaxed);
                (read(Step::Start), read(Step::End))
            })
            .collect();
        // One part per thread, each holding its own thread's starts and ends.
        assert_eq!(parts, [(1, 0), (2, 1)]);
        assert_eq!(calls.in_flight(), 2);
        end.0.send(()).unwrap();
        let there = thread.join().unwrap();
        drop((here, there));
        assert_eq!(calls.in_flight(), 0);
    }

    #[test]
    fn a_call_in_flight_is_counted_while_others_move_between_threads() {
        let calls = Calls::new();
        let key = calls.key();
        // In flight on this thread all along.
        let _held = Call::start(key);
        let (moved, arrived) = mpsc::sync_channel::<Call>(64);
        let stop = std::sync::atomic::AtomicBool::new(false);
        let missed = std::thread::scope(|scope| {
            // Calls that start on one thread and end on another, one after the other: the
            // thread that ends them counts its first call last, so its part is read last.
            scope.spawn(|| {
                for call in arrived {
                    drop(call);
                }
            });
            let starter = scope.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    if moved.send(Call::start(key)).is_err() {
                        break;
                    }
                }
                drop(moved);
            });
            let mut missed = 0;
            for _ in 0..1_000_000 {
                if calls.in_flight() == 0 {
                    missed += 1;
                }
            }
            stop.store(true, Ordering::Relaxed);
            starter.join().unwrap();
            missed
        });
        assert_eq!(
            missed, 0,
            "reads of the count that missed the call in flight"
        );
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
