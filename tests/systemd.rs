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
