//! The signal listener on Unix: a socket pair per signal that its handler writes a byte to,
//! waited for with one `poll` by the listener's thread, which also keeps the watchdog; and the
//! dispositions put back when a listener that returns stops.

use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use signal_hook::SigId;
use signal_hook::low_level::{pipe, unregister};

use crate::process::watchdog::Watchdog;
use crate::signal::Signal;

/// The handlers, each writing to its signal's socket.
pub(super) struct Stop(Vec<(Signal, SigId)>);

impl Stop {
    /// Removes the handlers; each closes its end of the socket, which the thread sees (it
    /// ends once no socket and no watchdog is left). Then each signal does again what it
    /// did before.
    pub(super) fn stop(&self) {
        for &(signal, id) in &self.0 {
            unregister(id);
            disposition::restore(signal);
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
            crate::log::emit!(debug, target: "graceful", signal = signal.name(), "signal skipped: it does not exist on this platform");
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
    if watchdog.is_none() {
        disposition::record(signals.iter().map(|signal| signal.number()));
    }
    for signal in signals {
        let (reader, writer) = UnixStream::pair()?;
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
            watchdog.wake_with(std::sync::Arc::new(move || {
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

    use crate::signal::Signal;
    use crate::util::sync::lock;

    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    enum Before {
        /// The default action: for every stop signal, to terminate the process.
        Default,
        /// Ignored, or a handler of someone else's, which signal-hook calls in turn.
        Kept,
        /// Not known: neither `/proc` nor `ps` answered. Left as kept, so that a guess never
        /// makes the process terminate on a signal it ignored or handled (tokio's own signal
        /// streams share signal-hook's handler), and said once when the run returns.
        Unknown,
    }

    struct Dispositions {
        before: HashMap<i32, Before>,
        /// The actions that terminate the process again, while no listener runs.
        defaults: HashMap<i32, SigId>,
    }

    static TABLE: Mutex<Option<Dispositions>> = Mutex::new(None);

    /// Before a listener registers `signals`: records what each did, the first time (the
    /// kernel's masks read once for all of them), and removes the default actions put back
    /// when an earlier listener stopped.
    pub(super) fn record(signals: impl Iterator<Item = i32>) {
        let mut table = lock(&TABLE);
        let table = table.get_or_insert_with(|| Dispositions {
            before: HashMap::new(),
            defaults: HashMap::new(),
        });
        let mut read: Option<Option<Masks>> = None;
        for signal in signals {
            table.before.entry(signal).or_insert_with(|| {
                read.get_or_insert_with(masks)
                    .map_or(Before::Unknown, |masks| masks.before(signal))
            });
            if let Some(id) = table.defaults.remove(&signal) {
                signal_hook::low_level::unregister(id);
            }
        }
    }

    /// Once a listener has removed its action for `signal`: a signal that terminated the
    /// process before terminates it again.
    pub(super) fn restore(signal: Signal) {
        let (name, signal) = (signal.name(), signal.number());
        let mut table = lock(&TABLE);
        let Some(table) = table.as_mut() else { return };
        if let Some(before) = table
            .before
            .get_mut(&signal)
            .filter(|before| **before == Before::Unknown)
        {
            // Once per signal: each later run finds it as this one leaves it.
            *before = Before::Kept;
            crate::log::emit!(warn, target: "graceful", signal = name, "the signal's action from before the run is unknown (graceful reads it from /proc or from ps, and neither answered): it stays caught by a handler that does nothing, rather than guessed; handle the signal after the run if the program must stop on it");
            return;
        }
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
                crate::log::emit!(warn, target: "graceful", signal, %error, "could not put back the signal's default action");
            }
        }
    }

    /// The signals the process ignores and those it catches, bit `n - 1` for signal `n`, as
    /// the kernel reports them.
    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    struct Masks {
        ignored: u64,
        caught: u64,
    }

    impl Masks {
        fn before(self, signal: i32) -> Before {
            let Some(bit) = u32::try_from(signal - 1)
                .ok()
                .and_then(|n| 1u64.checked_shl(n))
            else {
                return Before::Kept;
            };
            if (self.ignored | self.caught) & bit == 0 {
                Before::Default
            } else {
                Before::Kept
            }
        }
    }

    /// Linux: from `/proc/self/status`, or from `ps` where `/proc` is not mounted (a chroot, a
    /// minimal container).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn masks() -> Option<Masks> {
        from_proc().or_else(from_ps)
    }

    /// Elsewhere (macOS, the BSDs) from `ps`, which reads them from the kernel: the call that
    /// would tell in the process, `sigaction`, is unsafe to call (nix's always installs a new
    /// action; reading the old one without changing it needs a null pointer only libc takes),
    /// signal-hook keeps the action it replaced to itself, and this crate forbids unsafe code.
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    fn masks() -> Option<Masks> {
        from_ps()
    }

    /// `SigIgn` and `SigCgt` of `/proc/self/status`.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn from_proc() -> Option<Masks> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let mask = |field: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(field))
                .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        };
        Some(Masks {
            ignored: mask("SigIgn:")?,
            caught: mask("SigCgt:")?,
        })
    }

    /// `ps -o sigignore=,sigcatch= -p PID`: two hexadecimal masks, in the same bit order on
    /// Linux (procps), macOS and FreeBSD. `None` if `ps` is missing or answers otherwise.
    /// Called only by the runs that return, once per run that listens to a signal not seen
    /// before: a child process, a few milliseconds.
    fn from_ps() -> Option<Masks> {
        let output = std::process::Command::new("ps")
            .args(["-o", "sigignore=,sigcatch=", "-p"])
            .arg(std::process::id().to_string())
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
            .ok()?;
        if !output.status.success() {
            return None;
        }
        let text = String::from_utf8(output.stdout).ok()?;
        let mut words = text.split_whitespace().map(|word| {
            let hex = word.strip_prefix("0x").unwrap_or(word);
            u64::from_str_radix(hex, 16).ok()
        });
        let (Some(ignored), Some(caught), None) = (words.next()?, words.next()?, words.next())
        else {
            return None;
        };
        Some(Masks { ignored, caught })
    }

    #[cfg(all(test, any(target_os = "linux", target_os = "android")))]
    mod tests {
        use super::{Before, Masks, from_proc, from_ps};

        /// `ps` reads what `/proc` does, for every standard signal: Rust ignores SIGPIPE, so
        /// one at least is not the default.
        #[test]
        fn ps_reads_the_dispositions_proc_reads() {
            let proc = from_proc().expect("/proc/self/status");
            assert_eq!(from_ps(), Some(proc));
            assert_eq!(
                proc.before(13),
                Before::Kept,
                "SIGPIPE is ignored: {proc:?}"
            );
            let masks = Masks {
                ignored: 0,
                caught: 0,
            };
            assert_eq!(masks.before(15), Before::Default);
            assert_eq!(masks.before(200), Before::Kept);
        }
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
                        crate::log::emit!(error, target: "graceful", %error, "the signal listener cannot wait for signals");
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
