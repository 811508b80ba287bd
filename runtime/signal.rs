//! Signals: the [`Signal`] type, and the listener that starts the shutdown on the first one
//! and forces the exit on the second.
//!
//! What happens on the second SIGINT is in [`on_signal`].

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::log;
use crate::reason::Reason;
use crate::shutdown::Shutdown;

/// A signal that can start a shutdown: a Unix signal, or a Windows console event.
///
/// Its `Debug` and `Display` forms are its name (`SIGTERM`, `CTRL_C`).
///
/// ```
/// use graceful::Signal;
///
/// assert_eq!(format!("{:?}", Signal::SIGTERM), "SIGTERM");
/// assert_eq!(Signal::SIGTERM.force_exit_code(), 143);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signal(Kind);

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Alrm,
    Chld,
    Hup,
    Int,
    Pipe,
    Quit,
    Term,
    Usr1,
    Usr2,
    Winch,
    CtrlC,
    CtrlBreak,
    CtrlClose,
    CtrlLogoff,
    CtrlShutdown,
}

#[allow(missing_docs)] // each constant is the signal of the same name
impl Signal {
    pub const SIGALRM: Signal = Signal(Kind::Alrm);
    pub const SIGCHLD: Signal = Signal(Kind::Chld);
    pub const SIGHUP: Signal = Signal(Kind::Hup);
    pub const SIGINT: Signal = Signal(Kind::Int);
    pub const SIGPIPE: Signal = Signal(Kind::Pipe);
    pub const SIGQUIT: Signal = Signal(Kind::Quit);
    pub const SIGTERM: Signal = Signal(Kind::Term);
    pub const SIGUSR1: Signal = Signal(Kind::Usr1);
    pub const SIGUSR2: Signal = Signal(Kind::Usr2);
    pub const SIGWINCH: Signal = Signal(Kind::Winch);
    /// Windows: Ctrl-C in the console.
    pub const CTRL_C: Signal = Signal(Kind::CtrlC);
    /// Windows: Ctrl-Break in the console.
    pub const CTRL_BREAK: Signal = Signal(Kind::CtrlBreak);
    /// Windows: the console window is being closed.
    pub const CTRL_CLOSE: Signal = Signal(Kind::CtrlClose);
    /// Windows: the user is logging off (services only).
    pub const CTRL_LOGOFF: Signal = Signal(Kind::CtrlLogoff);
    /// Windows: the system is shutting down.
    pub const CTRL_SHUTDOWN: Signal = Signal(Kind::CtrlShutdown);
}

impl Signal {
    /// The signals a shutdown listens for by default on this platform: SIGINT and SIGTERM on
    /// Unix; Ctrl-C, Ctrl-Break, Ctrl-Close and Ctrl-Shutdown on Windows.
    ///
    /// ```
    /// # #[cfg(unix)]
    /// assert_eq!(graceful::Signal::defaults(), &[graceful::Signal::SIGINT, graceful::Signal::SIGTERM]);
    /// ```
    pub fn defaults() -> &'static [Signal] {
        if cfg!(windows) {
            &[
                Signal::CTRL_C,
                Signal::CTRL_BREAK,
                Signal::CTRL_CLOSE,
                Signal::CTRL_SHUTDOWN,
            ]
        } else {
            &[Signal::SIGINT, Signal::SIGTERM]
        }
    }

    /// The name, as written in `signals = [...]`: `"SIGTERM"`, `"CTRL_C"`.
    ///
    /// ```
    /// assert_eq!(graceful::Signal::SIGHUP.name(), "SIGHUP");
    /// ```
    pub const fn name(self) -> &'static str {
        match self.0 {
            Kind::Alrm => "SIGALRM",
            Kind::Chld => "SIGCHLD",
            Kind::Hup => "SIGHUP",
            Kind::Int => "SIGINT",
            Kind::Pipe => "SIGPIPE",
            Kind::Quit => "SIGQUIT",
            Kind::Term => "SIGTERM",
            Kind::Usr1 => "SIGUSR1",
            Kind::Usr2 => "SIGUSR2",
            Kind::Winch => "SIGWINCH",
            Kind::CtrlC => "CTRL_C",
            Kind::CtrlBreak => "CTRL_BREAK",
            Kind::CtrlClose => "CTRL_CLOSE",
            Kind::CtrlLogoff => "CTRL_LOGOFF",
            Kind::CtrlShutdown => "CTRL_SHUTDOWN",
        }
    }

    /// The signal's number on this platform (`15` for SIGTERM on Linux); for a Windows console
    /// event, the event's number (`CTRL_C_EVENT` is 0).
    ///
    /// ```
    /// # #[cfg(unix)]
    /// assert_eq!(graceful::Signal::SIGINT.number(), 2);
    /// ```
    pub fn number(self) -> i32 {
        match self.0 {
            Kind::CtrlC => 0,
            Kind::CtrlBreak => 1,
            Kind::CtrlClose => 2,
            Kind::CtrlLogoff => 5,
            Kind::CtrlShutdown => 6,
            unix => unix_number(unix),
        }
    }

    /// The exit code when this signal forces the exit during a shutdown: 128 + its number, as a
    /// shell reports a process killed by it (130 for SIGINT, 143 for SIGTERM). A Windows console
    /// event uses the code of the Unix signal it stands for (Ctrl-C and Ctrl-Break as SIGINT,
    /// the others as SIGTERM).
    ///
    /// ```
    /// assert_eq!(graceful::Signal::SIGINT.force_exit_code(), 130);
    /// ```
    pub fn force_exit_code(self) -> u8 {
        let number = match self.0 {
            Kind::CtrlC | Kind::CtrlBreak => 2,
            Kind::CtrlClose | Kind::CtrlLogoff | Kind::CtrlShutdown => 15,
            unix => unix_number(unix),
        };
        u8::try_from(128 + number).unwrap_or(u8::MAX)
    }
}

#[cfg(unix)]
fn unix_number(kind: Kind) -> i32 {
    match kind {
        Kind::Alrm => libc::SIGALRM,
        Kind::Chld => libc::SIGCHLD,
        Kind::Hup => libc::SIGHUP,
        Kind::Int => libc::SIGINT,
        Kind::Pipe => libc::SIGPIPE,
        Kind::Quit => libc::SIGQUIT,
        Kind::Term => libc::SIGTERM,
        Kind::Usr1 => libc::SIGUSR1,
        Kind::Usr2 => libc::SIGUSR2,
        Kind::Winch => libc::SIGWINCH,
        _ => unreachable!("console events are not Unix signals"),
    }
}

// The Linux numbers, for display on platforms without these signals.
#[cfg(not(unix))]
fn unix_number(kind: Kind) -> i32 {
    match kind {
        Kind::Alrm => 14,
        Kind::Chld => 17,
        Kind::Hup => 1,
        Kind::Int => 2,
        Kind::Pipe => 13,
        Kind::Quit => 3,
        Kind::Term => 15,
        Kind::Usr1 => 10,
        Kind::Usr2 => 12,
        Kind::Winch => 28,
        _ => unreachable!("console events are not Unix signals"),
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Installs a handler for each signal and spawns the tasks that forward them to
/// [`on_signal`]. Runs inside the runtime, before the main body is first polled, so a signal
/// sent once the body runs is never lost.
pub(crate) fn listen(shutdown: &Shutdown, signals: &[Signal], force_exit: bool) -> io::Result<()> {
    for &signal in signals {
        let Some(stream) = platform::stream(signal) else {
            tracing::debug!(target: "graceful", signal = signal.name(), "signal skipped: it does not exist on this platform");
            continue;
        };
        let mut stream = stream?;
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            while stream.recv().await.is_some() {
                on_signal(&shutdown, signal, force_exit);
            }
        });
    }
    Ok(())
}

/// Set by the first forced exit, so that a burst of signals prints one line and exits once.
static FORCING: AtomicBool = AtomicBool::new(false);

/// The first signal starts the shutdown; any signal after that (whatever started the
/// shutdown) exits at once with [`Signal::force_exit_code`], unless `force_exit` is off.
fn on_signal(shutdown: &Shutdown, signal: Signal, force_exit: bool) {
    if shutdown.begin(Reason::Signal(signal), None) {
        return;
    }
    if !force_exit {
        tracing::debug!(target: "graceful", signal = signal.name(), "signal ignored: shutdown already running and force_exit is off");
        return;
    }
    // Two signals of different kinds arrive on two listener tasks: only one exits.
    if FORCING.swap(true, Ordering::SeqCst) {
        return;
    }
    let code = signal.force_exit_code();
    let running = shutdown.inner.still_running();
    let running = if running.is_empty() {
        "nothing".to_owned()
    } else {
        running.join(", ")
    };
    log::forced_exit(signal, code, &running);
    std::process::exit(i32::from(code));
}

#[cfg(unix)]
mod platform {
    use std::io;

    use tokio::signal::unix::{SignalKind, signal};

    use super::{Kind, Signal};

    pub(super) type Stream = tokio::signal::unix::Signal;

    /// `None` for a Windows console event, which does not exist here.
    pub(super) fn stream(sig: Signal) -> Option<io::Result<Stream>> {
        match sig.0 {
            Kind::CtrlC
            | Kind::CtrlBreak
            | Kind::CtrlClose
            | Kind::CtrlLogoff
            | Kind::CtrlShutdown => None,
            _ => Some(signal(SignalKind::from_raw(sig.number()))),
        }
    }
}

#[cfg(windows)]
mod platform {
    use std::io;

    use tokio::signal::windows;

    use super::{Kind, Signal};

    /// One console event stream, whichever event it is.
    pub(super) enum Stream {
        CtrlC(windows::CtrlC),
        CtrlBreak(windows::CtrlBreak),
        CtrlClose(windows::CtrlClose),
        CtrlLogoff(windows::CtrlLogoff),
        CtrlShutdown(windows::CtrlShutdown),
    }

    impl Stream {
        pub(super) async fn recv(&mut self) -> Option<()> {
            match self {
                Stream::CtrlC(s) => s.recv().await,
                Stream::CtrlBreak(s) => s.recv().await,
                Stream::CtrlClose(s) => s.recv().await,
                Stream::CtrlLogoff(s) => s.recv().await,
                Stream::CtrlShutdown(s) => s.recv().await,
            }
        }
    }

    /// Unix names map to the console event they stand for (SIGINT to Ctrl-C, SIGQUIT to
    /// Ctrl-Break, SIGTERM to Ctrl-Close); `None` for the Unix signals Windows lacks.
    pub(super) fn stream(sig: Signal) -> Option<io::Result<Stream>> {
        Some(match sig.0 {
            Kind::CtrlC | Kind::Int => windows::ctrl_c().map(Stream::CtrlC),
            Kind::CtrlBreak | Kind::Quit => windows::ctrl_break().map(Stream::CtrlBreak),
            Kind::CtrlClose | Kind::Term => windows::ctrl_close().map(Stream::CtrlClose),
            Kind::CtrlLogoff => windows::ctrl_logoff().map(Stream::CtrlLogoff),
            Kind::CtrlShutdown => windows::ctrl_shutdown().map(Stream::CtrlShutdown),
            _ => return None,
        })
    }
}
