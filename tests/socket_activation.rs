//! systemd socket activation: `systemd-socket-activate` (Debian's systemd package) binds two
//! named sockets and starts the `zero_downtime` example on them, as systemd does for a
//! `.socket` unit with `FileDescriptorName=`.
//!
//! What must hold: the example serves on the socket named `http` without binding its own
//! (its `PORT` names another, free, port, which stays refused); the socket no `listen` asked
//! for (`admin`) is closed once the example is ready; and an upgrade passes the activated
//! socket on to the new process.
#![cfg(target_os = "linux")]

use std::path::Path;
use std::time::{Duration, Instant};

use graceful_test_support::{
    ClientError, LINE_TIMEOUT, START_TIMEOUT, Service, Signal, example, free_port, get,
};
use nix::sys::signal::kill;
use nix::unistd::Pid;

const SOCKET_ACTIVATE: &str = "/usr/bin/systemd-socket-activate";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_on_the_named_socket_it_was_given() {
    assert!(
        Path::new(SOCKET_ACTIVATE).is_file(),
        "{SOCKET_ACTIVATE} is missing: install Debian's systemd package (apt-get install -y systemd)"
    );
    let (http, admin, own) = (free_port(), free_port(), free_port());
    let example = example("zero_downtime");
    let listen_http = format!("127.0.0.1:{http}");
    let listen_admin = format!("127.0.0.1:{admin}");
    let own_text = own.to_string();
    let mut service = Service::start_command(
        "systemd-socket-activate zero_downtime",
        Path::new(SOCKET_ACTIVATE),
        &[
            "-l",
            &listen_http,
            "-l",
            &listen_admin,
            "--fdname=http:admin",
            example.to_str().expect("a UTF-8 path"),
        ],
        &[("PORT", &own_text)],
    );
    // systemd-socket-activate starts the program on the first connection, in its own process.
    service
        .wait_for_stderr_line(
            |line| line == format!("Listening on {listen_admin} as 4."),
            START_TIMEOUT,
        )
        .await;
    let reply = get(http, "/pid").await.unwrap_or_else(|error| {
        service.fail(format_args!("/pid on the activated socket: {error}"))
    });
    assert_eq!(
        reply.body.trim(),
        service.pid().to_string(),
        "{}",
        service.dump()
    );
    service
        .wait_for_stdout(&format!("listening on http://{listen_http}"), LINE_TIMEOUT)
        .await;
    service
        .wait_for_stderr_line(
            |line| {
                line.contains("listening on a socket passed by socket activation")
                    && line.contains("name=\"http\"")
            },
            LINE_TIMEOUT,
        )
        .await;
    service
        .wait_for_stderr_line(
            |line| line.contains("closing a socket passed by socket activation: no graceful::listen asked for it") && line.contains("name=\"admin\""),
            LINE_TIMEOUT,
        )
        .await;
    assert!(
        matches!(get(own, "/pid").await, Err(ClientError::Refused)),
        "the example bound PORT={own} itself\n{}",
        service.dump()
    );
    assert!(
        matches!(get(admin, "/pid").await, Err(ClientError::Refused)),
        "the socket nobody listens on is still open\n{}",
        service.dump()
    );

    // An upgrade hands the activated socket on.
    service.signal(Signal::SIGHUP);
    let first = service.pid().as_raw() as u32;
    let until = Instant::now() + START_TIMEOUT;
    let new = loop {
        if let Ok(reply) = get(http, "/pid").await {
            let pid: u32 = reply.body.trim().parse().expect("a pid");
            if pid != first {
                break pid;
            }
        }
        if Instant::now() > until {
            service.fail(format_args!(
                "no new process answered within {START_TIMEOUT:?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    // The new process shares the output pipes: once it stops too, the first one's exit (after
    // its hand-over) can be read.
    let _ = kill(Pid::from_raw(new as i32), Signal::SIGTERM);
    let exited = service.wait(LINE_TIMEOUT).await;
    exited.assert_code(0);
    exited.stdout_line(&format!("pid {first}: handed over to the new process"));
    exited.stdout_line(&format!("pid {new}: stopped (received SIGTERM)"));
}
