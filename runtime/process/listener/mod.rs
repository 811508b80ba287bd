//! The signal listener: a thread of its own, started before the runtime runs anything, that
//! starts the shutdown on the first signal and forces the exit on a second one. On Unix the
//! same thread keeps the deadline [watchdog](crate::process::watchdog): one thread for every escape
//! hatch, waiting on the signals and the deadline at once.
//!
//! It does not depend on the runtime making progress: a main body or a hook that blocks
//! every runtime thread (or the only one, with the current-thread flavor) cannot hold it.
//! What happens on each signal is in [`on_signal`]; the upgrade signal starts an
//! [upgrade](crate::upgrade) instead.

use std::io;

use crate::log;
use crate::process::exit;
use crate::process::watchdog::Watchdog;
use crate::reason::Reason;
use crate::shutdown::Shutdown;
use crate::signal::Signal;

/// The running listener; dropping it stops its thread and puts back what a signal did before
/// the listener started (on Unix: terminate the process, be ignored, or call the handler that
/// was there).
pub(crate) struct SignalListener {
    stop: platform::Stop,
}

impl Drop for SignalListener {
    fn drop(&mut self) {
        self.stop.stop();
    }
}

/// Installs the handlers for `signals` and the `upgrade` signal (each once, whatever names it
/// was given under) and starts the listener thread, which also keeps the `watchdog` of a run
/// that has one. `None` when there is nothing to listen for on this platform, and no watchdog
/// to keep.
pub(crate) fn start(
    shutdown: &Shutdown,
    signals: &[Signal],
    force_exit: bool,
    upgrade: Option<Signal>,
    watchdog: Option<Watchdog>,
) -> io::Result<Option<SignalListener>> {
    let signals = platform::distinct(&[signals, upgrade.as_slice()].concat());
    let watchdog = platform::keep(watchdog);
    if signals.is_empty() && watchdog.is_none() {
        return Ok(None);
    }
    let shutdown = shutdown.clone();
    let on_signal = move |signal| {
        if Some(signal) == upgrade {
            // Without the feature, a run with an upgrade signal is refused before it starts.
            #[cfg(feature = "upgrade")]
            crate::upgrade::on_signal(&shutdown, signal);
        } else {
            on_signal(&shutdown, signal, force_exit);
        }
    };
    let stop = platform::listen(signals, on_signal, watchdog)?;
    Ok(Some(SignalListener { stop }))
}

/// The first signal starts the shutdown. A signal after a shutdown that a signal started
/// forces the exit with [`Signal::force_exit_code`]. A signal after a shutdown that something
/// else started (the main body returned, `trigger()`) is absorbed once: it is what a
/// supervisor sends to a process that is already stopping, not an impatient second request;
/// the next one forces the exit. With `force_exit` off, every later signal is ignored.
fn on_signal(shutdown: &Shutdown, signal: Signal, force_exit: bool) {
    #[cfg(windows)]
    let limit = platform::system_limit(signal);
    #[cfg(not(windows))]
    let limit = None;
    if shutdown.start(Reason::Signal(signal), None, limit) {
        return;
    }
    if !force_exit {
        log::ignored(signal);
        return;
    }
    let inner = &shutdown.inner;
    let reason = inner.trigger().map(|trigger| trigger.reason);
    let by_signal = matches!(reason, Some(Reason::Signal(_)));
    if !by_signal && inner.absorb_signal() {
        if let Some(reason) = &reason {
            log::absorbed(signal, reason);
        }
        return;
    }
    // Whichever of the forced exit, the watchdog and the normal exit claims the exit first
    // prints its line and exits; the others print nothing. Only the values kept until exit,
    // dropped last, do not hold a signal.
    let code = signal.force_exit_code();
    if !exit::claim() {
        if exit::interrupt() {
            #[cfg(feature = "upgrade")]
            let killed = crate::upgrade::kill_pending();
            #[cfg(not(feature = "upgrade"))]
            let killed = None;
            log::forced_exit_while_dropping(signal, code, killed);
            std::process::exit(i32::from(code));
        }
        return;
    }
    let running = inner.close();
    let running = if running.is_empty() {
        "nothing".to_owned()
    } else {
        running.join(", ")
    };
    log::forced_exit(signal, code, &running);
    exit::now(inner, code);
}

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as platform;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as platform;
