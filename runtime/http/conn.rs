//! One connection's own state, shared by its task, its stream (the protocol sniffed) and its
//! requests: the protocol, the signals from the server (GOAWAY at the trigger, close at the
//! cancel), and the count of requests started and ended.
//!
//! Each connection has its own: a request writes only its connection's counts, and the server
//! reaches every connection through its table, so that nothing on the request path writes
//! memory that the other connections (on other worker threads) share. The connection's task
//! waits on one [`AtomicWaker`]: polling it takes no lock.
//!
//! While it serves, the task is woken for its socket at every request, and looks at the state
//! only when a change of it woke the task, which the change notes.

use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

use atomic_waker::AtomicWaker;

use crate::shutdown::Shutdown;

/// Not known yet: nothing, or not enough, read.
pub(super) const UNKNOWN: u8 = 0;
/// HTTP/1: the first bytes were not HTTP/2's preface.
pub(super) const HTTP1: u8 = 1;
/// HTTP/2 with prior knowledge: the whole preface was read.
pub(super) const HTTP2: u8 = 2;
/// The bits of [`Conn::state`] that hold the protocol.
const PROTOCOL: u8 = 0b11;
/// The shutdown has started: an HTTP/2 connection sends its GOAWAY.
pub(super) const GOING_AWAY: u8 = 0b100;
/// The server stopped accepting: the connection shuts down gracefully.
pub(super) const CLOSING: u8 = 0b1000;
/// Set with [`CLOSING`] when the shutdown is an upgrade's: an idle keep-alive connection
/// lingers for the request its client may already be sending.
pub(super) const LINGER: u8 = 0b1_0000;
/// The server's sweep found no whole request head for a whole header read timeout: the
/// connection closes.
pub(super) const TIMED_OUT: u8 = 0b10_0000;

pub(super) struct Conn {
    shutdown: Shutdown,
    /// The protocol and the signals, one byte.
    state: AtomicU8,
    /// The connection's task, woken when `state` changes or (once it watches) a request comes.
    task: AtomicWaker,
    /// Whether the state changed since the task last looked.
    noticed: AtomicBool,
    /// Whether the task waits for the next request (after the cancel): only then does a
    /// request wake it.
    watching: AtomicBool,
    started: AtomicUsize,
    ended: AtomicUsize,
}

impl Conn {
    pub(super) fn new(shutdown: Shutdown) -> Conn {
        let state = if shutdown.is_shutting_down() {
            GOING_AWAY
        } else {
            UNKNOWN
        };
        Conn {
            shutdown,
            state: AtomicU8::new(state),
            task: AtomicWaker::new(),
            noticed: AtomicBool::new(false),
            watching: AtomicBool::new(false),
            started: AtomicUsize::new(0),
            ended: AtomicUsize::new(0),
        }
    }

    pub(super) fn shutdown(&self) -> &Shutdown {
        &self.shutdown
    }

    /// The protocol: [`UNKNOWN`], [`HTTP1`] or [`HTTP2`].
    pub(super) fn protocol(&self) -> u8 {
        self.state.load(Ordering::Acquire) & PROTOCOL
    }

    pub(super) fn set_protocol(&self, protocol: u8) {
        self.raise(protocol & PROTOCOL);
    }

    /// Sets `flags` and wakes the connection's task.
    pub(super) fn raise(&self, flags: u8) {
        self.state.fetch_or(flags, Ordering::AcqRel);
        self.notice();
    }

    /// Sets `flags` without waking the connection's task: for what only its requests read
    /// (an HTTP/1 connection learns of the trigger from the `Connection: close` of its next
    /// response; its task has nothing to do until the cancel).
    pub(super) fn mark(&self, flags: u8) {
        self.state.fetch_or(flags, Ordering::AcqRel);
    }

    /// The protocol and the signals.
    pub(super) fn state(&self) -> u8 {
        self.state.load(Ordering::Acquire)
    }

    /// Notes that the task has something to look at, and wakes it.
    fn notice(&self) {
        self.noticed.store(true, Ordering::Release);
        self.task.wake();
    }

    /// Whether the task, polled with `cx`, has something to look at besides hyper's
    /// connection: the state changed since it last looked, or it is polled with another waker
    /// than `registered` (the first time), which it registers. Costs a load and a comparison
    /// when nothing happened.
    pub(super) fn poll_noticed(&self, cx: &Context<'_>, registered: &mut Option<Waker>) -> bool {
        let fresh = !registered
            .as_ref()
            .is_some_and(|waker| waker.will_wake(cx.waker()));
        if !fresh && !self.noticed.load(Ordering::Acquire) {
            return false;
        }
        // Registered before the note is taken: a change after this wakes the task again.
        self.task.register(cx.waker());
        if fresh {
            *registered = Some(cx.waker().clone());
        }
        self.noticed.swap(false, Ordering::AcqRel) || fresh
    }

    pub(super) fn request_started(&self) {
        // Sequentially consistent with `watching`, so that a request never goes unseen by a
        // task that started watching meanwhile.
        self.started.fetch_add(1, Ordering::SeqCst);
        if self.watching.load(Ordering::SeqCst) {
            self.task.wake();
        }
    }

    pub(super) fn request_ended(&self) {
        self.ended.fetch_add(1, Ordering::AcqRel);
    }

    /// How many requests the connection has brought.
    pub(super) fn requests(&self) -> usize {
        self.started.load(Ordering::SeqCst)
    }

    /// Whether a request is in flight: brought, and its response not yet sent.
    pub(super) fn busy(&self) -> bool {
        // `ended` first: it never passes `started`.
        let ended = self.ended.load(Ordering::Acquire);
        self.started.load(Ordering::Acquire) != ended
    }

    /// How many requests are in flight: brought, and their response not yet sent.
    pub(super) fn in_flight(&self) -> usize {
        // `ended` first: it never passes `started`.
        let ended = self.ended.load(Ordering::Acquire);
        self.started.load(Ordering::Acquire).saturating_sub(ended)
    }

    /// Resolves once the connection has brought more than `count` requests. From the first
    /// call on, every request wakes the task.
    pub(super) async fn more_requests_than(&self, count: usize) {
        self.watching.store(true, Ordering::SeqCst);
        poll_fn(|cx: &mut Context<'_>| {
            self.task.register(cx.waker());
            if self.requests() > count {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
    }
}
