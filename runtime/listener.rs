//! The signal listener: a thread of its own, started before the runtime runs anything, that
//! starts the shutdown on the first signal and forces the exit on a second one.
//!
//! It does not depend on the runtime making progress: a main body or a hook that blocks
//! every runtime thread (or the only one, with the current-thread flavor) cannot hold it.
//! What happens on each signal is in [`on_signal`]; the upgrade signal starts an
//! [upgrade](crate::upgrade) instead.

use std::io;
use std::sync::atomic::Ordering;

use crate::exit;
use crate::log;
use crate::reason::Reason;
use crate::shutdown::Shutdown;
use crate::signal::Signal;

/// The running listener; dropping it stops its thread (the process keeps the handlers
/// installed, as tokio does: a later signal then does nothing).
pub(crate) struct Listener {
    stop: platform::Stop,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.stop();
    }
}

/// Installs the handlers for `signals` and the `upgrade` signal (each once, whatever names it
/// was given under) and starts the listener thread. `None` when there is nothing to listen for
/// on this platform.
pub(crate) fn start(
    shutdown: &Shutdown,
    signals: &[Signal],
    force_exit: bool,
    upgrade: Option<Signal>,
) -> io::Result<Option<Listener>> {
    let signals = platform::distinct(&[signals, upgrade.as_slice()].concat());
    if signals.is_empty() {
        return Ok(None);
    }
    let shutdown = shutdown.clone();
    let stop = platform::listen(signals, move |signal| {
        if Some(signal) == upgrade {
            crate::upgrade::on_signal(&shutdown, signal);
        } else {
            on_signal(&shutdown, signal, force_exit);
        }
    })?;
    Ok(Some(Listener { stop }))
}

/// The first signal starts the shutdown. A signal after a shutdown that a signal started
/// forces the exit with [`Signal::force_exit_code`]. A signal after a shutdown that something
/// else started (the main body returned, `trigger()`) is absorbed once: it is what a
/// supervisor sends to a process that is already stopping, not an impatient second request;
/// the next one forces the exit. With `force_exit` off, every later signal is ignored.
fn on_signal(shutdown: &Shutdown, signal: Signal, force_exit: bool) {
    if shutdown.begin(Reason::Signal(signal), None) {
        return;
    }
    if !force_exit {
        tracing::debug!(target: "graceful", signal = signal.name(), "signal ignored: shutdown already running and force_exit is off");
        return;
    }
    let inner = &shutdown.inner;
    let reason = inner.trigger().map(|trigger| &trigger.reason);
    let by_signal = matches!(reason, Some(Reason::Signal(_)));
    if !by_signal && !inner.signal_absorbed.swap(true, Ordering::AcqRel) {
        if let Some(reason) = reason {
            log::absorbed(signal, reason);
        }
        return;
    }
    // Whichever of the forced exit, the watchdog and the normal exit claims the exit first
    // prints its line and exits; the others print nothing.
    if !exit::claim() {
        return;
    }
    let code = signal.force_exit_code();
    let running = inner.still_running();
    let running = if running.is_empty() {
        "nothing".to_owned()
    } else {
        running.join(", ")
    };
    log::forced_exit(signal, code, &running);
    exit::now(inner, code);
}

#[cfg(unix)]
mod platform {
    use std::io::{self, Read};
    use std::os::unix::net::UnixStream;

    use signal_hook::SigId;
    use signal_hook::low_level::{pipe, unregister};

    use crate::signal::{Kind, Signal};

    /// The handlers, each writing to its signal's socket.
    pub(super) struct Stop(Vec<SigId>);

    impl Stop {
        /// Removes the handlers; each closes its end of the socket, which ends its thread.
        pub(super) fn stop(&self) {
            for &id in &self.0 {
                unregister(id);
            }
        }
    }

    /// The Unix signals among `signals`, each once. Console events do not exist here.
    pub(super) fn distinct(signals: &[Signal]) -> Vec<Signal> {
        let mut distinct: Vec<Signal> = Vec::with_capacity(signals.len());
        for &signal in signals {
            let console = matches!(
                signal.0,
                Kind::CtrlC
                    | Kind::CtrlBreak
                    | Kind::CtrlClose
                    | Kind::CtrlLogoff
                    | Kind::CtrlShutdown
            );
            if console {
                tracing::debug!(target: "graceful", signal = signal.name(), "signal skipped: it does not exist on this platform");
            } else if !distinct.contains(&signal) {
                distinct.push(signal);
            }
        }
        distinct
    }

    /// Installs the handlers now. Each delivery writes one byte to its signal's socket, and a
    /// thread per signal reads them: two deliveries are two bytes, never merged into one
    /// (the flags of signal-hook's iterator would merge a second SIGINT that arrives before
    /// the first was read, and the forced exit would be lost).
    pub(super) fn listen(
        signals: Vec<Signal>,
        on_signal: impl Fn(Signal) + Send + Sync + 'static,
    ) -> io::Result<Stop> {
        let on_signal = std::sync::Arc::new(on_signal);
        let mut ids = Vec::with_capacity(signals.len());
        let mut readers = Vec::with_capacity(signals.len());
        for signal in signals {
            let (reader, writer) = UnixStream::pair()?;
            match pipe::register(signal.number(), writer) {
                Ok(id) => ids.push(id),
                Err(error) => {
                    Stop(ids).stop();
                    return Err(error);
                }
            }
            readers.push((signal, reader));
        }
        for (signal, mut reader) in readers {
            let on_signal = on_signal.clone();
            std::thread::Builder::new()
                .name(format!("graceful-{}", signal.name().to_ascii_lowercase()))
                .spawn(move || {
                    let mut deliveries = [0u8; 64];
                    loop {
                        match reader.read(&mut deliveries) {
                            Ok(0) => return,
                            Ok(count) => (0..count).for_each(|_| on_signal(signal)),
                            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                            Err(_) => return,
                        }
                    }
                })?;
        }
        Ok(Stop(ids))
    }
}

#[cfg(windows)]
mod platform {
    use std::io;

    use tokio::signal::windows;
    use tokio_util::sync::CancellationToken;

    use crate::signal::{Kind, Signal};

    pub(super) struct Stop(CancellationToken);

    impl Stop {
        pub(super) fn stop(&self) {
            self.0.cancel();
        }
    }

    /// The console event a name stands for: SIGINT is Ctrl-C, SIGQUIT Ctrl-Break, SIGTERM
    /// Ctrl-Close; `None` for the Unix signals Windows lacks.
    fn event(signal: Signal) -> Option<Signal> {
        match signal.0 {
            Kind::CtrlC | Kind::Int => Some(Signal::CTRL_C),
            Kind::CtrlBreak | Kind::Quit => Some(Signal::CTRL_BREAK),
            Kind::CtrlClose | Kind::Term => Some(Signal::CTRL_CLOSE),
            Kind::CtrlLogoff => Some(Signal::CTRL_LOGOFF),
            Kind::CtrlShutdown => Some(Signal::CTRL_SHUTDOWN),
            _ => None,
        }
    }

    /// The console events `signals` stand for, each once (SIGINT and CTRL_C are one event:
    /// listening to both would count one Ctrl-C twice).
    pub(super) fn distinct(signals: &[Signal]) -> Vec<Signal> {
        let mut distinct: Vec<Signal> = Vec::with_capacity(signals.len());
        for &signal in signals {
            match event(signal) {
                Some(event) if !distinct.contains(&event) => distinct.push(event),
                Some(_) => {}
                None => {
                    tracing::debug!(target: "graceful", signal = signal.name(), "signal skipped: it does not exist on this platform");
                }
            }
        }
        distinct
    }

    /// A thread with a runtime of its own, so that the events arrive whatever the main
    /// runtime is doing. The handlers are installed before this returns.
    pub(super) fn listen(
        signals: Vec<Signal>,
        on_signal: impl Fn(Signal) + Send + Sync + 'static,
    ) -> io::Result<Stop> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let mut streams = Vec::with_capacity(signals.len());
        {
            let _entered = runtime.enter();
            for signal in signals {
                let stream = match signal.0 {
                    Kind::CtrlC => windows::ctrl_c().map(Stream::CtrlC),
                    Kind::CtrlBreak => windows::ctrl_break().map(Stream::CtrlBreak),
                    Kind::CtrlClose => windows::ctrl_close().map(Stream::CtrlClose),
                    Kind::CtrlLogoff => windows::ctrl_logoff().map(Stream::CtrlLogoff),
                    _ => windows::ctrl_shutdown().map(Stream::CtrlShutdown),
                }?;
                streams.push((signal, stream));
            }
        }
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        let on_signal = std::sync::Arc::new(on_signal);
        std::thread::Builder::new()
            .name("graceful-signals".to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    for (signal, mut stream) in streams {
                        let on_signal = on_signal.clone();
                        tokio::spawn(async move {
                            while stream.recv().await.is_some() {
                                on_signal(signal);
                            }
                        });
                    }
                    stopped.cancelled().await;
                });
            })?;
        Ok(Stop(stop))
    }

    /// One console event stream, whichever event it is.
    enum Stream {
        CtrlC(windows::CtrlC),
        CtrlBreak(windows::CtrlBreak),
        CtrlClose(windows::CtrlClose),
        CtrlLogoff(windows::CtrlLogoff),
        CtrlShutdown(windows::CtrlShutdown),
    }

    impl Stream {
        async fn recv(&mut self) -> Option<()> {
            match self {
                Stream::CtrlC(s) => s.recv().await,
                Stream::CtrlBreak(s) => s.recv().await,
                Stream::CtrlClose(s) => s.recv().await,
                Stream::CtrlLogoff(s) => s.recv().await,
                Stream::CtrlShutdown(s) => s.recv().await,
            }
        }
    }
}
