//! systemd notifications, against a real Unix datagram socket passed as `NOTIFY_SOCKET`.
//!
//! The tests run their own binary again as the service (`NOTIFY_SOCKET` must be set before the
//! process starts), so they check whichever build they are part of: with the `systemd` feature
//! (`cargo test -p graceful --features systemd --test processes -- systemd::`) the exact messages, in order,
//! each with the process that sent it (the socket asks for the sender's credentials, as
//! systemd's does: under the default `NotifyAccess=main` systemd takes a message only from the
//! main process of that moment); without it (`cargo test --workspace`) that nothing is sent.

use std::io::{BufRead, BufReader, IoSliceMut};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::sys::socket::{ControlMessageOwned, MsgFlags, UnixCredentials, recvmsg, setsockopt};
use nix::unistd::Pid;

/// How long any awaited event (a notification, a line, an exit) may take.
const WAIT: Duration = Duration::from_secs(30);

/// The socket systemd would listen on: datagrams, with the sender's credentials.
struct NotifySocket {
    socket: UnixDatagram,
    dir: PathBuf,
    path: PathBuf,
}

impl NotifySocket {
    fn bind(tag: &str) -> NotifySocket {
        let dir = std::env::temp_dir().join(format!("graceful-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify.sock");
        let _ = std::fs::remove_file(&path);
        let socket = UnixDatagram::bind(&path).unwrap();
        // Every datagram then carries its sender's pid (SCM_CREDENTIALS), as systemd's does.
        setsockopt(&socket, nix::sys::socket::sockopt::PassCred, &true).unwrap();
        socket.set_read_timeout(Some(WAIT)).unwrap();
        NotifySocket { socket, dir, path }
    }

    /// The next notification and the pid of the process that sent it, within [`WAIT`].
    fn next(&self) -> (i32, String) {
        self.receive().expect("a notification within 30 s")
    }

    /// What is queued now, if anything.
    fn queued(&self) -> Option<(i32, String)> {
        self.socket.set_nonblocking(true).unwrap();
        let queued = self.receive();
        self.socket.set_nonblocking(false).unwrap();
        queued
    }

    fn receive(&self) -> Option<(i32, String)> {
        let mut buffer = [0u8; 4096];
        let mut space = nix::cmsg_space!(UnixCredentials);
        let (len, pid) = {
            let mut iov = [IoSliceMut::new(&mut buffer)];
            let message = recvmsg::<()>(
                self.socket.as_raw_fd(),
                &mut iov,
                Some(&mut space),
                MsgFlags::empty(),
            )
            .ok()?;
            let pid = message
                .cmsgs()
                .unwrap()
                .find_map(|cmsg| match cmsg {
                    ControlMessageOwned::ScmCredentials(credentials) => Some(credentials.pid()),
                    _ => None,
                })
                .expect("the sender's credentials");
            (message.bytes, pid)
        };
        Some((pid, String::from_utf8_lossy(&buffer[..len]).into_owned()))
    }
}

impl Drop for NotifySocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `CLOCK_MONOTONIC` in microseconds, the clock of `MONOTONIC_USEC=`.
fn monotonic_usec() -> u64 {
    let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).unwrap();
    u64::try_from(now.tv_sec()).unwrap() * 1_000_000 + u64::try_from(now.tv_nsec()).unwrap() / 1_000
}

/// Checks the message that starts an upgrade: `RELOADING=1`, the monotonic time of the moment it
/// was sent (between `before` and now), and the reload's timeout extended to
/// `upgrade_timeout` + 2 s.
fn assert_reloading(message: &str, before: u64, extend_usec: u64) {
    let after = monotonic_usec();
    let stamp = message
        .lines()
        .find_map(|line| line.strip_prefix("MONOTONIC_USEC="))
        .unwrap_or_else(|| panic!("no MONOTONIC_USEC= in {message:?}"));
    let stamp: u64 = stamp.parse().unwrap();
    assert!(
        (before..=after).contains(&stamp),
        "MONOTONIC_USEC={stamp} is not between the signal ({before}) and its reception ({after})"
    );
    assert_eq!(
        message,
        format!("RELOADING=1\nMONOTONIC_USEC={stamp}\nEXTEND_TIMEOUT_USEC={extend_usec}\n")
    );
}

const CHILD: &str = "GRACEFUL_TEST_SYSTEMD_CHILD";

/// In the child (this binary run again as the service): starts, triggers its own shutdown,
/// exits 0, its deadline `GRACEFUL_TIMEOUT` or 7 s. In the test: runs the test `name` as that
/// child with `env` and systemd's socket, and returns what it sent.
fn stopping_messages(name: &str, tag: &str, env: &[(&str, &str)]) -> Vec<String> {
    if std::env::var_os(CHILD).is_some() {
        graceful::Builder::new()
            .timeout(Duration::from_secs(7))
            .signals([])
            .run(|shutdown| async move { shutdown.trigger() })
    }
    let notify = NotifySocket::bind(tag);
    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            &graceful_test_support::test_name(module_path!(), name),
        ])
        .env(CHILD, "1")
        .envs(env.iter().copied())
        .env("NOTIFY_SOCKET", &notify.path)
        .status()
        .unwrap();
    assert!(status.success(), "the service exited with {status}");
    // The child has exited: whatever it sent is queued on the socket.
    std::iter::from_fn(|| notify.queued())
        .map(|(_, message)| message)
        .collect()
}

#[test]
fn stopping_and_extend_timeout_are_sent_only_with_the_feature() {
    let messages = stopping_messages(
        "stopping_and_extend_timeout_are_sent_only_with_the_feature",
        "systemd",
        &[],
    );
    if cfg!(feature = "systemd") {
        // 7 s deadline + 1 s to exit and be reaped, in microseconds.
        assert_eq!(messages, ["STOPPING=1\nEXTEND_TIMEOUT_USEC=8000000\n"]);
    } else {
        assert_eq!(
            messages,
            Vec::<String>::new(),
            "sent without the systemd feature"
        );
    }
}

/// A deadline past what 32 bits of microseconds hold (about 71 minutes) is sent whole: systemd
/// reads a 64-bit count.
#[cfg(feature = "systemd")]
#[test]
fn extend_timeout_holds_a_deadline_of_hours() {
    let messages = stopping_messages(
        "extend_timeout_holds_a_deadline_of_hours",
        "systemd-hours",
        &[("GRACEFUL_TIMEOUT", "2h")],
    );
    // 2 h deadline + 1 s to exit and be reaped, in microseconds.
    assert_eq!(messages, ["STOPPING=1\nEXTEND_TIMEOUT_USEC=7201000000\n"]);
}

const UPGRADE_CHILD: &str = "GRACEFUL_TEST_SYSTEMD_UPGRADE_CHILD";
/// While the file this names exists, the service exits with 3 as it starts, before it is ready:
/// a bad build. Its environment is the first process's (an upgrade passes it on), the file is
/// what the test switches.
const FAIL_IF_EXISTS: &str = "GRACEFUL_TEST_SYSTEMD_FAIL_IF_EXISTS";
/// The service's `upgrade_timeout`, and the `EXTEND_TIMEOUT_USEC=` that goes with it (+ 2 s).
const UPGRADE_TIMEOUT: Duration = Duration::from_secs(10);
const RELOAD_EXTEND_USEC: u64 = 12_000_000;

/// The service of the upgrade tests, when this binary runs as one: listens, says it is ready,
/// upgrades on SIGHUP, stops on SIGTERM. Returns if the binary runs as the test.
fn serve_if_asked() {
    if std::env::var_os(UPGRADE_CHILD).is_none() {
        return;
    }
    if let Some(file) = std::env::var_os(FAIL_IF_EXISTS) {
        if Path::new(&file).exists() {
            println!("failing {}", std::process::id());
            std::process::exit(3);
        }
    }
    graceful::Builder::new()
        .timeout(Duration::from_secs(7))
        .signals([graceful::Signal::SIGTERM])
        .upgrade(graceful::Signal::SIGHUP)
        .upgrade_timeout(UPGRADE_TIMEOUT)
        .run(|shutdown| async move {
            let listener = graceful::listen("test", "127.0.0.1:0").await.unwrap();
            // Listening is not being ready: this service serves nothing, so it says so.
            graceful::ready();
            println!("serving {}", std::process::id());
            shutdown.cancelled().await;
            drop(listener);
        })
}

/// The first process of the service, and the lines of every process it starts (they share its
/// stdout).
struct Service {
    first: Child,
    lines: mpsc::Receiver<String>,
    /// Every process seen, killed if the test fails half-way.
    seen: std::cell::RefCell<Vec<i32>>,
}

impl Drop for Service {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = self.first.kill();
            for pid in self.seen.borrow().iter() {
                let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
            }
        }
    }
}

impl Service {
    fn start(test: &str, notify: &NotifySocket, fail_if_exists: &Path) -> Service {
        let mut first = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                &graceful_test_support::test_name(module_path!(), test),
                "--nocapture",
            ])
            .env(UPGRADE_CHILD, "1")
            .env(FAIL_IF_EXISTS, fail_if_exists)
            .env("NOTIFY_SOCKET", &notify.path)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = BufReader::new(first.stdout.take().unwrap());
        let (line_sent, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                let _ = line_sent.send(line);
            }
        });
        Service {
            first,
            lines,
            seen: std::cell::RefCell::default(),
        }
    }

    /// The pid in the next line that starts with `prefix` (`serving`, `failing`).
    fn pid(&self, prefix: &str) -> i32 {
        loop {
            let line = self
                .lines
                .recv_timeout(WAIT)
                .unwrap_or_else(|_| panic!("a `{prefix}` line within 30 s"));
            if let Some(pid) = line.strip_prefix(prefix) {
                let pid = pid.trim().parse().unwrap();
                self.seen.borrow_mut().push(pid);
                break pid;
            }
        }
    }

    /// Waits for the end of the output: every process of the service has exited.
    fn wait_for_the_end(&self) {
        loop {
            match self.lines.recv_timeout(WAIT) {
                Ok(_) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    panic!("a process of the service still runs 30 s later")
                }
            }
        }
    }
}

fn signal(pid: i32, signal: Signal) {
    kill(Pid::from_raw(pid), signal).unwrap();
}

/// An upgrade under systemd, a reload in its eyes (`Type=notify-reload` waits for its end): the
/// first process says `READY=1`; at SIGHUP it says `RELOADING=1` with the time; once the new
/// process is ready, the old one, still the main process (so the default `NotifyAccess=main`
/// accepts it), says `MAINPID=<new>` and `READY=1`, which ends the reload, and exits without
/// `STOPPING=1`, which would stop the service that just took over; the new one then stops as
/// the main process does.
#[test]
fn an_upgrade_is_a_reload_that_names_the_new_main_process() {
    serve_if_asked();
    let notify = NotifySocket::bind("systemd-up");
    let mut service = Service::start(
        "an_upgrade_is_a_reload_that_names_the_new_main_process",
        &notify,
        &notify.dir.join("never"),
    );

    let old = service.pid("serving ");
    assert_eq!(old, service.first.id() as i32);
    let feature = cfg!(feature = "systemd");
    if feature {
        assert_eq!(notify.next(), (old, "READY=1\n".to_owned()));
    }
    let before = monotonic_usec();
    signal(old, Signal::SIGHUP);
    if feature {
        let (sender, reloading) = notify.next();
        assert_eq!(
            sender, old,
            "RELOADING=1 from another process: {reloading:?}"
        );
        assert_reloading(&reloading, before, RELOAD_EXTEND_USEC);
    }
    let new = service.pid("serving ");
    assert_ne!(new, old);
    if feature {
        assert_eq!(notify.next(), (old, format!("MAINPID={new}\nREADY=1\n")));
    }
    let status = service.first.wait().unwrap();
    assert!(status.success(), "the old process exited with {status}");

    // Nothing more from the old process (no STOPPING=1); the new one stops as usual.
    assert_eq!(notify.queued(), None, "more after MAINPID=");
    signal(new, Signal::SIGTERM);
    if feature {
        assert_eq!(
            notify.next(),
            (new, "STOPPING=1\nEXTEND_TIMEOUT_USEC=8000000\n".to_owned())
        );
    }
    service.wait_for_the_end();
    assert_eq!(notify.queued(), None, "sent without the systemd feature");
}

/// A failed upgrade ends the reload too, or `systemctl reload` would wait until
/// `TimeoutStartSec=` (forever on systemd 253 to 258): the old process, which serves on, says
/// `READY=1` with the failure in `STATUS=`. A second upgrade, to a fixed build, then succeeds
/// and clears that status.
#[test]
fn a_failed_upgrade_ends_the_reload_with_its_reason() {
    serve_if_asked();
    let notify = NotifySocket::bind("systemd-failed");
    let bad_build = notify.dir.join("bad-build");
    let mut service = Service::start(
        "a_failed_upgrade_ends_the_reload_with_its_reason",
        &notify,
        &bad_build,
    );
    let feature = cfg!(feature = "systemd");

    let old = service.pid("serving ");
    if feature {
        assert_eq!(notify.next(), (old, "READY=1\n".to_owned()));
    }
    std::fs::write(&bad_build, "").unwrap();
    let before = monotonic_usec();
    signal(old, Signal::SIGHUP);
    if feature {
        let (sender, reloading) = notify.next();
        assert_eq!(
            sender, old,
            "RELOADING=1 from another process: {reloading:?}"
        );
        assert_reloading(&reloading, before, RELOAD_EXTEND_USEC);
    }
    let failing = service.pid("failing ");
    assert_ne!(failing, old);
    if !feature {
        // Nothing to wait on: stop the old process and check that nothing was sent.
        signal(old, Signal::SIGTERM);
        service.wait_for_the_end();
        service.first.wait().unwrap();
        assert_eq!(notify.queued(), None, "sent without the systemd feature");
        return;
    }
    assert_eq!(
        notify.next(),
        (
            old,
            format!(
                "READY=1\nSTATUS=upgrade failed: the new process (pid {failing}) exited with \
                 exit status: 3 before it was ready; still serving\n"
            )
        )
    );

    // The build is fixed: the next reload upgrades, and the failure leaves the status.
    std::fs::remove_file(&bad_build).unwrap();
    let before = monotonic_usec();
    signal(old, Signal::SIGHUP);
    let (sender, reloading) = notify.next();
    assert_eq!(
        sender, old,
        "RELOADING=1 from another process: {reloading:?}"
    );
    assert_reloading(&reloading, before, RELOAD_EXTEND_USEC);
    let new = service.pid("serving ");
    assert_eq!(
        notify.next(),
        (old, format!("MAINPID={new}\nREADY=1\nSTATUS=\n"))
    );
    let status = service.first.wait().unwrap();
    assert!(status.success(), "the old process exited with {status}");
    assert_eq!(notify.queued(), None, "more after MAINPID=");
    signal(new, Signal::SIGTERM);
    assert_eq!(
        notify.next(),
        (new, "STOPPING=1\nEXTEND_TIMEOUT_USEC=8000000\n".to_owned())
    );
    service.wait_for_the_end();
}
