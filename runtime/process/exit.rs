//! The one way out of the process. The normal exit (after the report), the forced exit (a
//! second signal) and the watchdog (the deadline passed with the runtime stuck) may all want
//! to end the process at the same moment, on different threads: the first to [`claim`] the
//! exit prints its line and exits; the others print nothing, so the last line on stderr
//! always agrees with the exit code.
//!
//! The one exception is the last step of an exit, while the values kept until exit are
//! dropped: a signal then ends the process at once ([`interrupt`]), with its own line, as a
//! second signal does during the rest of the shutdown.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::log;
use crate::shutdown::Inner;
use crate::util::clock;
use crate::util::sync::model::AtomicU8;

/// Nobody has claimed the exit.
const FREE: u8 = 0;
/// An exit is claimed and prints its line.
const CLAIMED: u8 = 1;
/// The claimed exit drops the kept values: a signal may cut it short.
const DROPPING: u8 = 2;
/// The process is exiting now.
const FINAL: u8 = 3;

/// Who ends the process: the state of the exit, one transition per step, each a single
/// compare-and-swap (model-checked in this module's tests).
pub(crate) struct Gate {
    state: AtomicU8,
}

impl Gate {
    #[cfg(not(all(test, graceful_loom)))]
    const fn new() -> Gate {
        Gate {
            state: AtomicU8::new(FREE),
        }
    }

    #[cfg(all(test, graceful_loom))]
    fn new() -> Gate {
        Gate {
            state: AtomicU8::new(FREE),
        }
    }

    /// FREE → CLAIMED: true for the first caller only.
    fn claim(&self) -> bool {
        self.state
            .compare_exchange(FREE, CLAIMED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// CLAIMED → DROPPING: the claimed exit's last step, which a signal may cut short.
    fn leaving(&self) {
        self.state.store(DROPPING, Ordering::Release);
    }

    /// DROPPING → FINAL, for a signal: true if it cut the last step short and exits itself.
    fn interrupt(&self) -> bool {
        self.state
            .compare_exchange(DROPPING, FINAL, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// DROPPING → FINAL, for the claimed exit at the end of its last step: false if a signal
    /// got there first (and exits the process itself).
    fn finish(&self) -> bool {
        self.interrupt()
    }
}

#[cfg(not(all(test, graceful_loom)))]
static STATE: Gate = Gate::new();
#[cfg(all(test, graceful_loom))]
static STATE: std::sync::LazyLock<Gate> = std::sync::LazyLock::new(Gate::new);

/// How long past its deadline (or past the moment an escape hatch fires) an exit may spend
/// dropping the values kept until exit.
pub(crate) const KEEP_MARGIN: Duration = Duration::from_millis(500);

/// Claims the exit of the process. True for the first caller only; a caller that gets
/// false must neither print its final line nor exit.
pub(crate) fn claim() -> bool {
    STATE.claim()
}

/// For a signal that lost the claim: true if the exit that won is only dropping kept values,
/// which the signal may cut short; the caller then prints its line and exits at once.
pub(crate) fn interrupt() -> bool {
    STATE.interrupt()
}

/// The normal exit: hands `summary` (the report's events) to the subscriber, then drops the
/// values kept with `keep_until_exit`, both until the deadline plus [`KEEP_MARGIN`], then
/// exits with `code`. Only after [`claim`] returned true.
///
/// The summary is emitted on a thread of its own: a subscriber whose writer blocks (a full
/// pipe nobody reads) holds the exit until that bound, not until a SIGKILL. The exit is
/// claimed by then, so that the code is this one whatever signal comes.
pub(crate) fn normal(inner: &Inner, code: u8, summary: impl FnOnce() + Send + 'static) -> ! {
    let until = keep_until(inner);
    log::within(until.saturating_duration_since(Instant::now()), summary);
    leave(inner, code, until)
}

/// Until when the kept values of a run that ends normally may take to drop: its deadline (or
/// now, if later) plus [`KEEP_MARGIN`]. The same for a run that returns its report.
pub(crate) fn keep_until(inner: &Inner) -> Instant {
    let now = Instant::now();
    clock::later(inner.deadline().unwrap_or(now).max(now), KEEP_MARGIN)
}

/// The end of a run that returns its report (`run_to_report`, `run_async`): what an exit
/// would do, without the exit. A new process of an upgrade that has not taken over is
/// stopped, and the kept values are dropped.
pub(crate) fn end_of_run(inner: &Inner) {
    let until = keep_until(inner);
    #[cfg(feature = "upgrade")]
    crate::upgrade::stop_pending(until);
    // A new process being stopped may have taken the whole budget: the kept values (a log
    // guard that flushes the line that says so) still get their margin.
    inner
        .kept()
        .drop_all(until.max(clock::later(Instant::now(), KEEP_MARGIN)));
}

/// An escape hatch (the forced exit, the watchdog): the kept values get [`KEEP_MARGIN`]
/// from now. Only after [`claim`] returned true.
pub(crate) fn now(inner: &Inner, code: u8) -> ! {
    leave(inner, code, clock::later(Instant::now(), KEEP_MARGIN))
}

fn leave(inner: &Inner, code: u8, until: Instant) -> ! {
    STATE.leaving();
    #[cfg(feature = "upgrade")]
    crate::upgrade::stop_pending(until);
    // A new process being stopped may have taken the whole budget: the kept values (a log
    // guard that flushes the line that says so) still get their margin.
    inner
        .kept()
        .drop_all(until.max(clock::later(Instant::now(), KEEP_MARGIN)));
    if !STATE.finish() {
        // A signal cut the drops short and is exiting the process.
        wait_for_the_winner();
    }
    std::process::exit(i32::from(code))
}

/// For a caller that lost the claim: the winner is exiting the process; wait for it.
pub(crate) fn wait_for_the_winner() -> ! {
    loop {
        std::thread::park();
    }
}

#[cfg(all(test, graceful_loom))]
mod model {
    //! The gate under every interleaving of the ways out: the normal exit, the watchdog and
    //! signals (each either the forced exit, or the cut of a claimed exit's last step).

    use loom::sync::Arc;
    use loom::sync::atomic::{AtomicUsize, Ordering};

    use super::Gate;

    /// A way out that claims the exit: the normal exit, the watchdog, or a signal that comes
    /// first. It exits unless a signal cut its last step short.
    fn claiming(gate: &Gate, exits: &AtomicUsize) -> bool {
        if !gate.claim() {
            return false;
        }
        gate.leaving();
        if gate.finish() {
            exits.fetch_add(1, Ordering::SeqCst);
        }
        true
    }

    /// A signal: the forced exit if it claims, else the cut of a claimed exit's last step.
    fn signal(gate: &Gate, exits: &AtomicUsize) {
        if !claiming(gate, exits) && gate.interrupt() {
            exits.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Runs `ways` on threads of their own and checks that exactly one of them exits: nobody
    /// exits twice, and nobody waits for a winner that is not there.
    fn exactly_one(ways: Vec<fn(&Gate, &AtomicUsize)>, preemptions: usize) {
        let mut model = loom::model::Builder::new();
        model.preemption_bound = Some(preemptions);
        model.check(move || {
            let gate = Arc::new(Gate::new());
            let exits = Arc::new(AtomicUsize::new(0));
            let threads: Vec<_> = ways
                .iter()
                .map(|way| {
                    let (gate, exits, way) = (gate.clone(), exits.clone(), *way);
                    loom::thread::spawn(move || way(&gate, &exits))
                })
                .collect();
            for thread in threads {
                thread.join().unwrap();
            }
            assert_eq!(exits.load(Ordering::SeqCst), 1);
        });
    }

    fn normal(gate: &Gate, exits: &AtomicUsize) {
        claiming(gate, exits);
    }

    #[test]
    fn the_normal_exit_and_a_signal() {
        exactly_one(vec![normal, signal], 4);
    }

    #[test]
    fn the_normal_exit_the_watchdog_and_two_signals() {
        exactly_one(vec![normal, normal, signal, signal], 2);
    }
}
