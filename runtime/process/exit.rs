//! The one way out of the process. The normal exit (after the report), the forced exit (a
//! second signal) and the watchdog (the deadline passed with the runtime stuck) may all want
//! to end the process at the same moment, on different threads: the first to [`claim`] the
//! exit prints its line and exits; the others print nothing, so the last line on stderr
//! always agrees with the exit code.
//!
//! The one exception is the last step of an exit, while the values kept until exit are
//! dropped: a signal then ends the process at once ([`interrupt`]), with its own line, as a
//! second signal does during the rest of the shutdown.

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use crate::clock;
use crate::log;
use crate::shutdown::Inner;

/// Nobody has claimed the exit.
const FREE: u8 = 0;
/// An exit is claimed and prints its line.
const CLAIMED: u8 = 1;
/// The claimed exit drops the kept values: a signal may cut it short.
const DROPPING: u8 = 2;
/// The process is exiting now.
const FINAL: u8 = 3;

static STATE: AtomicU8 = AtomicU8::new(FREE);

/// How long past its deadline (or past the moment an escape hatch fires) an exit may spend
/// dropping the values kept until exit.
pub(crate) const KEEP_MARGIN: Duration = Duration::from_millis(500);

/// Claims the exit of the process. True for the first caller only; a caller that gets
/// false must neither print its final line nor exit.
pub(crate) fn claim() -> bool {
    STATE
        .compare_exchange(FREE, CLAIMED, Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
}

/// For a signal that lost the claim: true if the exit that won is only dropping kept values,
/// which the signal may cut short; the caller then prints its line and exits at once.
pub(crate) fn interrupt() -> bool {
    STATE
        .compare_exchange(DROPPING, FINAL, Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
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
    inner.kept.drop_all(until);
}

/// An escape hatch (the forced exit, the watchdog): the kept values get [`KEEP_MARGIN`]
/// from now. Only after [`claim`] returned true.
pub(crate) fn now(inner: &Inner, code: u8) -> ! {
    leave(inner, code, clock::later(Instant::now(), KEEP_MARGIN))
}

fn leave(inner: &Inner, code: u8, until: Instant) -> ! {
    STATE.store(DROPPING, Ordering::Release);
    #[cfg(feature = "upgrade")]
    crate::upgrade::stop_pending(until);
    inner.kept.drop_all(until);
    if STATE
        .compare_exchange(DROPPING, FINAL, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
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
