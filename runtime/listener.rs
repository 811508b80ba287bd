//! The signal listener: a thread of its own, started before the runtime runs anything, that
//! starts the shutdown on the first signal and forces the exit on a second one. On Unix the
//! same thread keeps the deadline [watchdog](crate::watchdog): one thread for every escape
//! hatch, waiting on the signals and the deadline at once.
//!
//! It does not depend on the runtime making progress: a main body or a hook that blocks
//! every runtime thread (or the only one, with the current-thread flavor) cannot hold it.
//! What happens on each signal is in [`on_signal`]; the upgrade signal starts an
//! [upgrade](crate::upgrade) instead.

use std::io;

use crate::exit;
use crate::log;
use crate::reason::Reason;
use crate::shutdown::Shutdown;
use crate::signal::Signal;
use crate::watchdog::Watchdog;

/// The running listener; dropping it stops its thread and puts back what a signal did before
/// the listener started (on Unix: terminate the process, be ignored, or call the handler that
/// was there).
pub(crate) struct Listener {
    stop: platform::Stop,
}

impl Drop for Listener {
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
) -> io::Result<Option<Listener>> {
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
    Ok(Some(Listener { stop }))
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
    if shutdown.begin_within(Reason::Signal(signal), limit) {
        return;
    }
    if !force_exit {
        tracing::debug!(target: "graceful", signal = signal.name(), "signal ignored: shutdown already running and force_exit is off");
        return;
    }
    let inner = &shutdown.inner;
    let reason = inner.trigger().map(|trigger| &trigger.reason);
    let by_signal = matches!(reason, Some(Reason::Signal(_)));
    if !by_signal && inner.absorb_signal() {
        if let Some(reason) = reason {
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
            log::forced_exit_while_dropping(signal, code);
            std::process::exit(i32::from(code));
        }
        return;
    }
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
    use std::io::{self, Read, Write};
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;
    use std::time::Duration;

    use nix::errno::Errno;
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use signal_hook::SigId;
    use signal_hook::low_level::{pipe, unregister};

    use crate::signal::Signal;
    use crate::watchdog::Watchdog;

    /// The handlers, each writing to its signal's socket.
    pub(super) struct Stop(Vec<(Signal, SigId)>);

    impl Stop {
        /// Removes the handlers; each closes its end of the socket, which the thread sees (it
        /// ends once no socket and no watchdog is left). Then each signal does again what it
        /// did before.
        pub(super) fn stop(&self) {
            for &(signal, id) in &self.0 {
                unregister(id);
                disposition::restore(signal.number());
            }
        }
    }

    /// The watchdog is kept by the listener's thread here.
    pub(super) fn keep(watchdog: Option<Watchdog>) -> Option<Watchdog> {
        watchdog
    }

    /// The Unix signals among `signals`, each once. Console events do not exist here.
    pub(super) fn distinct(signals: &[Signal]) -> Vec<Signal> {
        let mut distinct: Vec<Signal> = Vec::with_capacity(signals.len());
        for &signal in signals {
            if signal.0.is_console_event() {
                tracing::debug!(target: "graceful", signal = signal.name(), "signal skipped: it does not exist on this platform");
            } else if !distinct.contains(&signal) {
                distinct.push(signal);
            }
        }
        distinct
    }

    /// Installs the handlers now. Each delivery writes one byte to its signal's socket, and
    /// the thread reads them: two deliveries are two bytes, never merged into one (the flags
    /// of signal-hook's iterator would merge a second SIGINT that arrives before the first
    /// was read, and the forced exit would be lost). The thread waits on every socket, and on
    /// the watchdog's deadline once the shutdown has started, with one `poll`.
    pub(super) fn listen(
        signals: Vec<Signal>,
        on_signal: impl Fn(Signal) + Send + 'static,
        watchdog: Option<Watchdog>,
    ) -> io::Result<Stop> {
        let mut ids = Vec::with_capacity(signals.len());
        let mut readers = Vec::with_capacity(signals.len());
        // A run with a watchdog (`Builder::run`) ends with the process: only the runs that
        // return need what each signal did before, to put it back.
        let restorable = watchdog.is_none();
        for signal in signals {
            let (reader, writer) = UnixStream::pair()?;
            if restorable {
                disposition::record(signal.number());
            }
            match pipe::register(signal.number(), writer) {
                Ok(id) => ids.push((signal, id)),
                Err(error) => {
                    Stop(ids).stop();
                    return Err(error);
                }
            }
            readers.push((signal, reader));
        }
        // With a watchdog, the trigger writes a byte here, so that the thread looks at the
        // deadline. Without one there is nothing to wake for (and a socket whose other end is
        // gone would wake `poll` at once, forever).
        let woken = match &watchdog {
            Some(watchdog) => {
                let (woken, wake) = UnixStream::pair()?;
                woken.set_nonblocking(true)?;
                wake.set_nonblocking(true)?;
                watchdog.wake_with(Box::new(move || {
                    // A full socket already holds a wake-up: nothing is lost.
                    let _ = (&wake).write(&[0]);
                }));
                Some(woken)
            }
            None => None,
        };
        let thread = Thread {
            readers,
            woken,
            watchdog,
        };
        let spawned = std::thread::Builder::new()
            .name("graceful-signals".to_owned())
            .spawn(move || thread.run(on_signal));
        if let Err(error) = spawned {
            Stop(ids).stop();
            return Err(error);
        }
        Ok(Stop(ids))
    }

    /// What each signal did before the first listener took it, so that a listener that stops
    /// (the end of `run_async` or `run_to_report`) can put it back. signal-hook keeps its own
    /// handler installed for good, and once no action is registered that handler does
    /// nothing: a signal whose default was to terminate the process would be swallowed.
    mod disposition {
        use std::collections::HashMap;
        use std::sync::atomic::AtomicBool;
        use std::sync::{Arc, Mutex};

        use signal_hook::SigId;

        use crate::tasks::lock;

        #[derive(Clone, Copy, PartialEq, Eq, Debug)]
        enum Before {
            /// The default action: for every stop signal, to terminate the process.
            Default,
            /// Ignored, or a handler of someone else's, which signal-hook calls in turn.
            Kept,
        }

        struct Table {
            before: HashMap<i32, Before>,
            /// The actions that terminate the process again, while no listener runs.
            defaults: HashMap<i32, SigId>,
        }

        static TABLE: Mutex<Option<Table>> = Mutex::new(None);

        /// Before a listener registers `signal`: records what it did, the first time, and
        /// removes the default action put back when an earlier listener stopped.
        pub(super) fn record(signal: i32) {
            let mut table = lock(&TABLE);
            let table = table.get_or_insert_with(|| Table {
                before: HashMap::new(),
                defaults: HashMap::new(),
            });
            table.before.entry(signal).or_insert_with(|| before(signal));
            if let Some(id) = table.defaults.remove(&signal) {
                signal_hook::low_level::unregister(id);
            }
        }

        /// Once a listener has removed its action for `signal`: a signal that terminated the
        /// process before terminates it again.
        pub(super) fn restore(signal: i32) {
            let mut table = lock(&TABLE);
            let Some(table) = table.as_mut() else { return };
            if table.before.get(&signal) != Some(&Before::Default)
                || table.defaults.contains_key(&signal)
            {
                return;
            }
            let always = Arc::new(AtomicBool::new(true));
            match signal_hook::flag::register_conditional_default(signal, always) {
                Ok(id) => {
                    table.defaults.insert(signal, id);
                }
                Err(error) => {
                    tracing::warn!(target: "graceful", signal, %error, "could not put back the signal's default action");
                }
            }
        }

        /// What `signal` does now, from the kernel's view of the process
        /// (`/proc/self/status`). Where that cannot be read, the disposition is taken as kept:
        /// a signal is then left ignored rather than made to terminate a process that may
        /// have ignored it.
        #[cfg(any(target_os = "linux", target_os = "android"))]
        fn before(signal: i32) -> Before {
            let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
                return Before::Kept;
            };
            let mask = |field: &str| {
                status
                    .lines()
                    .find_map(|line| line.strip_prefix(field))
                    .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
            };
            let (Some(ignored), Some(caught)) = (mask("SigIgn:"), mask("SigCgt:")) else {
                return Before::Kept;
            };
            let bit = 1u64 << (signal - 1);
            if (ignored | caught) & bit == 0 {
                Before::Default
            } else {
                Before::Kept
            }
        }

        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        fn before(_signal: i32) -> Before {
            Before::Kept
        }
    }

    /// What the listener's thread waits on.
    struct Thread {
        readers: Vec<(Signal, UnixStream)>,
        woken: Option<UnixStream>,
        watchdog: Option<Watchdog>,
    }

    impl Thread {
        fn run(mut self, on_signal: impl Fn(Signal)) {
            loop {
                if self
                    .watchdog
                    .as_ref()
                    .is_some_and(|watchdog| !watchdog.check())
                {
                    // Another exit claimed the process: only the signals are left to wait on.
                    self.watchdog = None;
                    self.woken = None;
                }
                if self.readers.is_empty() && self.watchdog.is_none() {
                    return;
                }
                let timeout = match self.watchdog.as_ref().and_then(Watchdog::left) {
                    // Rounded up to the next millisecond, so that the deadline has passed.
                    Some(left) => PollTimeout::try_from(
                        left.saturating_add(Duration::from_micros(999)).as_millis(),
                    )
                    .unwrap_or(PollTimeout::MAX),
                    None => PollTimeout::NONE,
                };
                let ready = {
                    let mut fds: Vec<PollFd<'_>> = self
                        .woken
                        .iter()
                        .map(UnixStream::as_fd)
                        .chain(self.readers.iter().map(|(_, reader)| reader.as_fd()))
                        .map(|fd| PollFd::new(fd, PollFlags::POLLIN))
                        .collect();
                    match poll(&mut fds, timeout) {
                        Ok(_) => {}
                        Err(Errno::EINTR) => continue,
                        Err(error) => {
                            tracing::error!(target: "graceful", %error, "the signal listener cannot wait for signals");
                            return;
                        }
                    }
                    fds.iter()
                        .map(|fd| fd.revents().is_some_and(|events| !events.is_empty()))
                        .collect::<Vec<bool>>()
                };
                let first_reader = usize::from(self.woken.is_some());
                if let Some(woken) = self.woken.as_ref().filter(|_| ready[0]) {
                    let mut wake_ups = [0u8; 64];
                    loop {
                        match (&*woken).read(&mut wake_ups) {
                            Ok(1..) => {}
                            // The waker is gone (the run ended): nothing more will come.
                            Ok(0) => {
                                self.woken = None;
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                }
                let mut closed = Vec::new();
                for (index, (signal, reader)) in self.readers.iter_mut().enumerate() {
                    if !ready[index + first_reader] {
                        continue;
                    }
                    let mut deliveries = [0u8; 64];
                    match reader.read(&mut deliveries) {
                        Ok(0) => closed.push(index),
                        Ok(count) => (0..count).for_each(|_| on_signal(*signal)),
                        Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                        Err(_) => closed.push(index),
                    }
                }
                for index in closed.into_iter().rev() {
                    self.readers.remove(index);
                }
            }
        }
    }
}

#[cfg(windows)]
mod platform {
    use std::io;
    use std::time::Duration;

    use tokio::signal::windows;
    use tokio_util::sync::CancellationToken;

    use crate::signal::{Kind, Signal};
    use crate::watchdog::Watchdog;

    pub(super) struct Stop(CancellationToken);

    /// The watchdog has a thread of its own here: the listener's thread runs a runtime.
    pub(super) fn keep(watchdog: Option<Watchdog>) -> Option<Watchdog> {
        if let Some(watchdog) = watchdog {
            crate::watchdog::start(watchdog);
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
    /// lives until then). Cut to 4 s, the hooks are skipped or timed out at the deadline, the
    /// watchdog holds it even if the runtime is stuck (100 ms later), and the process reports
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
}
