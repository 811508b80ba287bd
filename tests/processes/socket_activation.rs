//! systemd socket activation: `systemd-socket-activate` (Debian's systemd package) binds two
//! named sockets and starts the `zero_downtime` example on them, as systemd does for a
//! `.socket` unit with `FileDescriptorName=`.
//!
//! What must hold: the example serves on the socket named `http` without binding its own
//! (its `PORT` names another, free, port, which stays refused); an upgrade passes the
//! activated socket on to the new process. Sockets no `listen` claims stay the application's:
//! a program that takes one itself with `listenfd` serves on it, and one nobody takes stays
//! open and close-on-exec. A malformed `LISTEN_FDS` is refused at start-up (exit code 2).
//! A Unix-domain socket is served through `graceful::listen_unix` by its name, its file left to
//! systemd; under a name `graceful::listen` asks for, it is refused with what it is.

use std::path::Path;
use std::time::{Duration, Instant};

use graceful_test_support::{
    ClientError, LINE_TIMEOUT, Process, START_TIMEOUT, Signal, TempDir, example, free_port, get,
    get_unix, test_name,
};
use nix::sys::signal::kill;
use nix::unistd::Pid;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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
    let mut service = Process::start_command(
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
    assert!(
        matches!(get(own, "/pid").await, Err(ClientError::Refused)),
        "the example bound PORT={own} itself\n{}",
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

/// An activated Unix-domain socket named `http-unix`: the example's `listen_unix` serves on it
/// and binds nothing at its own `UNIX_SOCKET` path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_on_an_activated_unix_socket_by_its_name() {
    let dir = TempDir::new("activated-unix");
    let activated = dir.join("activated.sock");
    let own = dir.join("own.sock");
    let listen_http = format!("127.0.0.1:{}", free_port());
    let example = example("zero_downtime");
    let mut service = Process::start_command(
        "systemd-socket-activate zero_downtime",
        Path::new(SOCKET_ACTIVATE),
        &[
            "-l",
            &listen_http,
            "-l",
            activated.to_str().expect("a UTF-8 path"),
            "--fdname=http:http-unix",
            &format!("--setenv=UNIX_SOCKET={}", own.display()),
            example.to_str().expect("a UTF-8 path"),
        ],
        &[],
    );
    service
        .wait_for_stderr_line(
            |line| line == format!("Listening on {} as 4.", activated.display()),
            START_TIMEOUT,
        )
        .await;
    // The first connection starts the program.
    let reply = get_unix(&activated, "/pid").await.unwrap_or_else(|error| {
        service.fail(format_args!("/pid on the activated Unix socket: {error}"))
    });
    assert_eq!(
        reply.body.trim(),
        service.pid().to_string(),
        "{}",
        service.dump()
    );
    service
        .wait_for_stdout(
            &format!("also serving on unix:{}", activated.display()),
            LINE_TIMEOUT,
        )
        .await;
    service
        .wait_for_stderr_line(
            |line| {
                line.contains("listening on a socket passed by socket activation")
                    && line.contains("name=\"http-unix\"")
            },
            LINE_TIMEOUT,
        )
        .await;
    assert!(
        !own.exists(),
        "the example bound UNIX_SOCKET={} itself\n{}",
        own.display(),
        service.dump()
    );
    service.signal(Signal::SIGTERM);
    service.wait(LINE_TIMEOUT).await.assert_code(0);
    assert!(
        activated.exists(),
        "the activated socket's file is systemd's to remove"
    );
}

/// A Unix-domain socket passed under the name the example's TCP `listen` asks for: the start
/// fails, saying what the socket is and what takes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unix_socket_under_a_tcp_listens_name_is_refused_with_what_it_is() {
    let dir = TempDir::new("activated-wrong");
    let socket = dir.join("http.sock");
    let example = example("zero_downtime");
    let mut service = Process::start_command(
        "systemd-socket-activate zero_downtime",
        Path::new(SOCKET_ACTIVATE),
        &[
            "-l",
            socket.to_str().expect("a UTF-8 path"),
            "--fdname=http",
            example.to_str().expect("a UTF-8 path"),
        ],
        &[],
    );
    service
        .wait_for_stderr_line(
            |line| line == format!("Listening on {} as 3.", socket.display()),
            START_TIMEOUT,
        )
        .await;
    // The first connection starts the program.
    let _first = tokio::net::UnixStream::connect(&socket).await.unwrap();
    let exited = service.wait(LINE_TIMEOUT).await;
    exited.assert_code(1);
    // Said by the error main returns, and by the report.
    let said = exited.stderr_lines_with(&[
        "graceful::listen: the socket named",
        "http",
        "passed by socket activation (descriptor 3) is a Unix-domain listening socket, not a \
         TCP listening socket; take it with graceful::listen_unix",
    ]);
    assert!(!said.is_empty(), "{exited}");
}

const LISTENFD_CHILD: &str = "GRACEFUL_TEST_LISTENFD_CHILD";

/// Three activated sockets: `http` for `graceful::listen`, `admin` that the program takes
/// itself with `listenfd` (as the systemfd auto-reload pattern does), and `spare` that nobody
/// takes: it stays open, close-on-exec, so that no program the service starts holds it.
#[test]
fn sockets_no_listen_claims_stay_the_applications() {
    if std::env::var_os(LISTENFD_CHILD).is_some() {
        listenfd_child();
    }
    assert!(
        Path::new(SOCKET_ACTIVATE).is_file(),
        "{SOCKET_ACTIVATE} is missing: install Debian's systemd package (apt-get install -y systemd)"
    );
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let (http, admin, spare) = (free_port(), free_port(), free_port());
        let test = std::env::current_exe().unwrap();
        let listen = |port: u16| format!("127.0.0.1:{port}");
        let mut service = Process::start_command(
            "systemd-socket-activate listenfd program",
            Path::new(SOCKET_ACTIVATE),
            &[
                "-l",
                &listen(http),
                "-l",
                &listen(admin),
                "-l",
                &listen(spare),
                "--fdname=http:admin:spare",
                // It passes no other variable of its own environment.
                &format!("--setenv={LISTENFD_CHILD}=1"),
                test.to_str().expect("a UTF-8 path"),
                "--exact",
                &test_name(
                    module_path!(),
                    "sockets_no_listen_claims_stay_the_applications",
                ),
                "--nocapture",
            ],
            &[],
        );
        service
            .wait_for_stderr_line(
                |line| line == format!("Listening on {} as 5.", listen(spare)),
                START_TIMEOUT,
            )
            .await;
        // The first connection starts the program.
        let reply = get(http, "/pid").await.unwrap_or_else(|error| {
            service.fail(format_args!("/pid on the activated socket: {error}"))
        });
        let pid = service.pid();
        assert_eq!(reply.body.trim(), pid.to_string(), "{}", service.dump());
        service.wait_for_stdout("serving", LINE_TIMEOUT).await;

        // `admin`, taken by the program with listenfd.
        let mut stream = tokio::net::TcpStream::connect(listen(admin)).await.unwrap();
        let mut answer = String::new();
        tokio::time::timeout(LINE_TIMEOUT, stream.read_to_string(&mut answer))
            .await
            .expect("an answer on admin")
            .unwrap();
        assert_eq!(answer, format!("admin {pid}\n"));

        // `spare`: descriptor 5, still open, close-on-exec.
        let target = std::fs::read_link(format!("/proc/{pid}/fd/5")).unwrap();
        assert!(
            target.to_string_lossy().starts_with("socket:"),
            "{}",
            target.display()
        );
        let fdinfo = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/5")).unwrap();
        let flags = fdinfo
            .lines()
            .find_map(|line| line.strip_prefix("flags:"))
            .map(|flags| u32::from_str_radix(flags.trim(), 8).unwrap())
            .unwrap();
        assert_ne!(
            flags & 0o2_000_000,
            0,
            "descriptor 5 is not close-on-exec: {fdinfo}"
        );
        tokio::net::TcpStream::connect(listen(spare))
            .await
            .expect("the spare socket is still listening");

        service.signal(Signal::SIGTERM);
        service.wait(LINE_TIMEOUT).await.assert_code(0);
    });
}

/// The program under socket activation: `http` through `graceful::listen`, `admin` taken with
/// `listenfd` and answered by hand.
fn listenfd_child() -> ! {
    graceful::Builder::new()
        .signals([graceful::Signal::SIGTERM])
        .run(|shutdown| async move {
            let http = graceful::listen("http", "127.0.0.1:0").await?;
            let names = std::env::var("LISTEN_FDNAMES").unwrap_or_default();
            let index = names
                .split(':')
                .position(|name| name == "admin")
                .ok_or_else(|| format!("no admin in LISTEN_FDNAMES={names:?}"))?;
            let mut fds = listenfd::ListenFd::from_env();
            let admin = fds
                .take_tcp_listener(index)?
                .ok_or("listenfd found no socket: LISTEN_FDS is gone")?;
            admin.set_nonblocking(true)?;
            let admin = tokio::net::TcpListener::from_std(admin)?;
            let pid = std::process::id();
            graceful::service("admin", answer(admin, pid));
            let app = axum::Router::new().route(
                "/pid",
                axum::routing::get(move || async move { pid.to_string() }),
            );
            graceful::service("http", graceful::http::serve(http, app));
            println!("serving");
            shutdown.cancelled().await;
            Ok::<(), Box<dyn std::error::Error>>(())
        })
}

/// `LISTEN_FDS` that no systemd would set: refused before anything runs, exit code 2, the
/// variable and its value named. The program runs with a 4 GiB address-space limit, so that
/// a build that believes a huge count fails fast instead of eating the machine's memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_listen_fds_is_refused_at_start_up() {
    let example = example("zero_downtime");
    for (env, says) in [
        (
            &[("LISTEN_FDS", "2147483647")][..],
            "LISTEN_FDS=2147483647 passes descriptors 3 to 2147483649",
        ),
        (
            &[("LISTEN_FDS", "two")][..],
            "LISTEN_FDS=\"two\" is not a number",
        ),
        (
            &[("LISTEN_FDS", "1"), ("LISTEN_FDNAMES", "http:admin")][..],
            "LISTEN_FDNAMES=\"http:admin\" names 2 sockets, but LISTEN_FDS=1",
        ),
    ] {
        let port = free_port().to_string();
        let mut env = env.to_vec();
        env.push(("PORT", &port));
        let mut service = Process::start_command(
            "zero_downtime with a malformed LISTEN_FDS",
            Path::new("/bin/sh"),
            &[
                "-c",
                "ulimit -v 4194304 && exec \"$0\"",
                example.to_str().expect("a UTF-8 path"),
            ],
            &env,
        );
        let exited = service.wait(LINE_TIMEOUT).await;
        assert_eq!(exited.status.code(), Some(2), "{env:?}\n{exited}");
        assert!(
            exited
                .stderr
                .iter()
                .any(|line| line.starts_with("graceful: invalid configuration: ")
                    && line.contains(says)),
            "{env:?}\n{exited}"
        );
    }
}

/// Answers `admin <pid>` on every connection, until the cancel.
async fn answer(admin: tokio::net::TcpListener, pid: u32) -> std::io::Result<()> {
    let shutdown = graceful::shutdown();
    loop {
        let (mut stream, _) = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            accepted = admin.accept() => accepted?,
        };
        stream
            .write_all(format!("admin {pid}\n").as_bytes())
            .await?;
    }
}
