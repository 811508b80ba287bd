//! The one way out of the process. The normal exit (after the report), the forced exit (a
//! second signal) and the watchdog (the deadline passed with the runtime stuck) may all want
//! to end the process at the same moment, on different threads: the first to [`claim`] the
//! exit prints its line and exits; the others print nothing, so the last line on stderr
//! always agrees with the exit code.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::shutdown::Inner;

static CLAIMED: AtomicBool = AtomicBool::new(false);

/// Claims the exit of the process. True for the first caller only; a caller that gets
/// false must neither print its final line nor exit.
pub(crate) fn claim() -> bool {
    !CLAIMED.swap(true, Ordering::AcqRel)
}

/// Drops the values kept with `keep_until_exit` (last kept first, each drop bounded in time)
/// and exits with `code`. Only after [`claim`] returned true.
pub(crate) fn now(inner: &Inner, code: u8) -> ! {
    inner.kept.drop_all();
    std::process::exit(i32::from(code))
}

/// For a caller that lost the claim: the winner is exiting the process; wait for it.
pub(crate) fn wait_for_the_winner() -> ! {
    loop {
        std::thread::park();
    }
}
