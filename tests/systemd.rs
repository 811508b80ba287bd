//! systemd notifications, against a real Unix datagram socket passed as `NOTIFY_SOCKET`.
//!
//! The test runs its own binary again as the service (`NOTIFY_SOCKET` must be set before the
//! process starts), so it checks whichever build it is part of: with the `systemd` feature
//! (`cargo test -p graceful --features systemd --test systemd`) the exact messages; without it
//! (`cargo test --workspace`) that nothing is sent.
#![cfg(unix)]

use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::time::Duration;

const CHILD: &str = "GRACEFUL_TEST_SYSTEMD_CHILD";

#[test]
fn stopping_and_extend_timeout_are_sent_only_with_the_feature() {
    if std::env::var_os(CHILD).is_some() {
        // The service: starts, triggers its own shutdown, exits 0.
        graceful::Builder::new()
            .timeout(Duration::from_secs(7))
            .signals([])
            .run(|shutdown| async move { shutdown.trigger() })
    }

    let dir = std::env::temp_dir().join(format!("graceful-systemd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("notify.sock");
    let _ = std::fs::remove_file(&path);
    let socket = UnixDatagram::bind(&path).unwrap();

    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "stopping_and_extend_timeout_are_sent_only_with_the_feature",
        ])
        .env(CHILD, "1")
        .env("NOTIFY_SOCKET", &path)
        .status()
        .unwrap();
    assert!(status.success(), "the service exited with {status}");

    // The child has exited: whatever it sent is queued on the socket.
    socket.set_nonblocking(true).unwrap();
    let mut messages = Vec::new();
    let mut buffer = [0u8; 4096];
    while let Ok(len) = socket.recv(&mut buffer) {
        messages.push(String::from_utf8_lossy(&buffer[..len]).into_owned());
    }
    std::fs::remove_dir_all(&dir).unwrap();

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

const UPGRADE_CHILD: &str = "GRACEFUL_TEST_SYSTEMD_UPGRADE_CHILD";

/// An upgrade under systemd: the first process says `READY=1`; once the new one is ready, the
/// old one (still the main process, so systemd's default `NotifyAccess=main` accepts it) says
/// `MAINPID=<new>` and `READY=1`, and exits without `STOPPING=1`, which would stop the service
/// that just took over; the new one then stops as the main process does.
#[test]
fn an_upgrade_names_the_new_main_process() {
    if std::env::var_os(UPGRADE_CHILD).is_some() {
        // The service, and after the upgrade its new process (the same binary, arguments and
        // environment): listens, says it is ready, upgrades on SIGHUP.
        graceful::Builder::new()
            .timeout(Duration::from_secs(7))
            .signals([graceful::Signal::SIGTERM])
            .upgrade(graceful::Signal::SIGHUP)
            .run(|shutdown| async move {
                let listener = graceful::listen("test", "127.0.0.1:0").await.unwrap();
                graceful::ready();
                println!("serving {}", std::process::id());
                shutdown.cancelled().await;
                drop(listener);
            })
    }

    let dir = std::env::temp_dir().join(format!("graceful-systemd-up-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("notify.sock");
    let _ = std::fs::remove_file(&path);
    let socket = UnixDatagram::bind(&path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let receive = || {
        let mut buffer = [0u8; 4096];
        let len = socket
            .recv(&mut buffer)
            .expect("a notification within 30 s");
        String::from_utf8_lossy(&buffer[..len]).into_owned()
    };

    let mut first = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "an_upgrade_names_the_new_main_process",
            "--nocapture",
        ])
        .env(UPGRADE_CHILD, "1")
        .env("NOTIFY_SOCKET", &path)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let lines = std::io::BufRead::lines(std::io::BufReader::new(first.stdout.take().unwrap()));
    let (line_sent, line) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for text in lines.map_while(Result::ok) {
            let _ = line_sent.send(text);
        }
    });
    let serving = || loop {
        let text = line
            .recv_timeout(Duration::from_secs(30))
            .expect("a `serving` line within 30 s");
        if let Some(pid) = text.strip_prefix("serving ") {
            break pid.parse::<i32>().unwrap();
        }
    };

    let old = serving();
    assert_eq!(old, first.id() as i32);
    if cfg!(feature = "systemd") {
        assert_eq!(receive(), "READY=1\n");
    }
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(old), nix::sys::signal::SIGHUP).unwrap();
    let new = serving();
    assert_ne!(new, old);
    if cfg!(feature = "systemd") {
        assert_eq!(receive(), format!("MAINPID={new}\nREADY=1\n"));
    }
    let status = first.wait().unwrap();
    assert!(status.success(), "the old process exited with {status}");

    // Nothing more from the old process (no STOPPING=1); the new one stops as usual.
    socket.set_nonblocking(true).unwrap();
    let mut buffer = [0u8; 4096];
    let after_upgrade = socket.recv(&mut buffer).ok();
    assert_eq!(
        after_upgrade, None,
        "the old process sent more after MAINPID="
    );
    socket.set_nonblocking(false).unwrap();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(new), nix::sys::signal::SIGTERM).unwrap();
    if cfg!(feature = "systemd") {
        assert_eq!(receive(), "STOPPING=1\nEXTEND_TIMEOUT_USEC=8000000\n");
    }
    // The new process's output ends with it (it is not this process's child).
    while line.recv_timeout(Duration::from_secs(30)).is_ok() {}
    std::fs::remove_dir_all(&dir).unwrap();
}
