//! The signal listener on Windows: the console events, received through tokio's handlers on a
//! runtime of the listener's own thread; the watchdog has a thread of its own.

use std::io;
use std::time::Duration;

use tokio::signal::windows;
use tokio_util::sync::CancellationToken;

use crate::process::watchdog::Watchdog;
use crate::signal::{Kind, Signal};

pub(super) struct Stop(CancellationToken);

/// The watchdog has a thread of its own here: the listener's thread runs a runtime.
pub(super) fn keep(watchdog: Option<Watchdog>) -> Option<Watchdog> {
    if let Some(watchdog) = watchdog {
        crate::process::watchdog::start(watchdog);
    }
    None
}

impl Stop {
    pub(super) fn stop(&self) {
        self.0.cancel();
    }
}

/// The deadline of a shutdown that Ctrl-Close, a logoff or a system shutdown started, from
/// the trigger to the exit, whatever `timeout` says. Windows ends the process about 5 s
/// after it sent one of these events, whatever the handler does (the handler routine's
/// documentation; tokio's handler keeps the event's thread waiting so that the process
/// lives until then). Cut to a second less, the hooks are skipped or timed out at the deadline,
/// the watchdog holds it even if the runtime is stuck (its grace later), and the process reports
/// and exits with its own code before the system kills it with its own.
const SYSTEM_LIMIT: Duration = Duration::from_secs(4);

/// [`SYSTEM_LIMIT`] for the events after which Windows ends the process.
pub(super) fn system_limit(signal: Signal) -> Option<Duration> {
    matches!(
        signal.0,
        Kind::CtrlClose | Kind::CtrlLogoff | Kind::CtrlShutdown
    )
    .then_some(SYSTEM_LIMIT)
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
                crate::log::emit!(debug, target: "graceful", signal = signal.name(), "signal skipped: it does not exist on this platform");
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
    _kept_apart: Option<Watchdog>,
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
