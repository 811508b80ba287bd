//! Zero-downtime upgrades of the `zero_downtime` example: real processes, real sockets on
//! 127.0.0.1, real signals, and a client load that opens new connections and reuses keep-alive
//! ones throughout.
//!
//! What must hold: across ten upgrades in a row every request is answered (a request on a
//! reused keep-alive connection that the server closed before answering is retried once, as
//! every production client does; nothing else is), each upgrade moves to a new process, and
//! every old process is gone after its drain. A bad deploy (the binary replaced by one that
//! exits 3) fails the upgrade without a failed request, says why on stderr, and the next
//! upgrade, after the file is fixed, succeeds. The figures printed here are the README's.
//!
//! And the upgrades that cannot go wrong silently: the new process runs the release a
//! symbolic link points to now; a binary that could not be started again is refused at
//! start-up; socket names are checked; a wrapper script's server does not outlive a failed
//! upgrade; a build that fails after `listen`, before it serves, never takes over; a `listen`
//! inside a service is ready once it serves.

use std::path::Path;
use std::time::{Duration, Instant};

use graceful_test_support::{
    LINE_TIMEOUT, Process, REQUEST_TIMEOUT, Rng, START_TIMEOUT, Signal, TempDir, example,
    free_port, get,
};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use nix::sys::signal::kill;
use nix::unistd::Pid;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::timeout;

/// Clients of the load, each with a keep-alive connection it reuses and renews now and then.
const CLIENTS: usize = 8;
/// How long an upgrade may take, from the signal to the new process answering, and an old
/// process to be gone after it (generous: the tests run in parallel on a small machine).
const UPGRADE_LIMIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_upgrades_under_load_answer_every_request() {
    let mut service = Process::start_http("zero_downtime", &[]).await;
    let port = service.port;
    let mut pids = Pids(vec![service.pid()]);
    let mut current = serving_pid(&service, port).await;
    assert_eq!(current, service.pid().as_raw() as u32, "{}", service.dump());

    let load = Load::start(port);
    load.wait_for_answers(200).await;
    let mut took = Vec::new();
    for round in 1..=10 {
        let (new, elapsed) = upgrade(&service, port, current).await;
        println!("upgrade {round}: {current} -> {new} in {elapsed:?}");
        pids.0.push(Pid::from_raw(new as i32));
        took.push(elapsed);
        wait_gone(&service, current).await;
        // Some requests on the new process before the next round.
        load.wait_for_answers(load.answered() + 50).await;
        current = new;
    }
    let tally = load.stop().await;

    stop(&service, current).await;
    let exited = service.wait(LINE_TIMEOUT).await;
    exited.assert_code(0);
    // Every process but the last handed over; the hooks saw `Reason::Upgrade`.
    for pid in &pids.0[..10] {
        exited.stdout_line(&format!("pid {pid}: handed over to the new process"));
    }
    exited.stdout_line(&format!("pid {current}: stopped (received SIGTERM)"));

    took.sort();
    println!(
        "10 upgrades under load: {} requests answered, {} failed, {} retried once on a fresh \
         connection (reused keep-alive connection closed by the server before answering), {} \
         connections opened; signal to new process answering: min {:?}, median {:?}, max {:?}",
        tally.answered,
        tally.failed.len(),
        tally.retried,
        tally.connections,
        took[0],
        took[took.len() / 2],
        took[took.len() - 1]
    );
    assert!(
        tally.failed.is_empty(),
        "{} requests failed: {:?}",
        tally.failed.len(),
        &tally.failed[..tally.failed.len().min(10)]
    );
    assert!(tally.answered > 500, "too little load: {}", tally.answered);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_deploy_fails_the_upgrade_and_the_old_process_keeps_serving() {
    // A copy of the example in a directory of its own: replacing it is a deploy.
    let dir = TempDir::new("bad-deploy");
    let binary = dir.join("zero_downtime");
    std::fs::copy(example("zero_downtime"), &binary).unwrap();
    let service = Process::start_listening_at("zero_downtime", &binary, "http", &[]).await;
    let port = service.port;
    let first = service.pid().as_raw() as u32;
    let mut pids = Pids(vec![service.pid()]);

    let load = Load::start(port);
    load.wait_for_answers(100).await;
    deploy(&dir, &binary, DeployFrom::Script("#!/bin/sh\nexit 3\n"));
    service.signal(Signal::SIGHUP);
    let failed = service
        .wait_for_stderr_line(|line| line.contains("upgrade failed"), UPGRADE_LIMIT)
        .await;
    assert!(
        failed
            .text
            .contains("exited with exit status: 3 before it was ready; still serving"),
        "{}",
        failed.text
    );
    // Still the first process, still serving.
    let before = load.answered();
    load.wait_for_answers(before + 100).await;
    assert_eq!(serving_pid(&service, port).await, first);

    // The fixed build: the next upgrade succeeds.
    deploy(&dir, &binary, DeployFrom::File(&example("zero_downtime")));
    let (new, elapsed) = upgrade(&service, port, first).await;
    pids.0.push(Pid::from_raw(new as i32));
    println!("after the fix: {first} -> {new} in {elapsed:?}");
    wait_gone(&service, first).await;
    load.wait_for_answers(load.answered() + 100).await;
    let tally = load.stop().await;
    println!(
        "bad deploy then fixed: {} answered, {} failed, {} retried",
        tally.answered,
        tally.failed.len(),
        tally.retried
    );
    assert!(tally.failed.is_empty(), "failed: {:?}", tally.failed);
    stop(&service, new).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_upgrade_signal_is_ignored_and_a_shutdown_stops_the_new_process() {
    // Each process waits 2 s before it takes its socket: the upgrade is under way meanwhile.
    let mut service = Process::start_http("zero_downtime", &[("STARTUP_DELAY_MS", "2000")]).await;
    service.signal(Signal::SIGHUP);
    let started = service
        .wait_for_stderr_line(|line| line.contains("upgrade started"), LINE_TIMEOUT)
        .await;
    let new = pid_in(&started.text, "new process ");
    service.signal(Signal::SIGHUP);
    service
        .wait_for_stderr_line(
            |line| line.contains("SIGHUP ignored: an upgrade is already running"),
            LINE_TIMEOUT,
        )
        .await;
    service.signal(Signal::SIGTERM);
    let exited = service.wait(LINE_TIMEOUT).await;
    exited.assert_code(0);
    let failed = exited
        .stderr
        .iter()
        .find(|line| line.contains("upgrade failed"))
        .unwrap_or_else(|| panic!("no failure line\n{exited}"));
    assert!(
        failed.contains(&format!(
            "the shutdown started before the new process (pid {new}) was ready"
        )) && failed.contains("shutting down as asked"),
        "{failed}"
    );
    assert!(is_gone(new), "the new process {new} still runs");
    exited.stdout_line(&format!(
        "pid {}: stopped (received SIGTERM)",
        service.pid()
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_process_not_ready_in_time_is_stopped() {
    let service = Process::start_http(
        "zero_downtime",
        &[
            ("STARTUP_DELAY_MS", "3000"),
            ("GRACEFUL_UPGRADE_TIMEOUT", "300ms"),
        ],
    )
    .await;
    let port = service.port;
    let first = service.pid().as_raw() as u32;
    service.signal(Signal::SIGHUP);
    let failed = service
        .wait_for_stderr_line(|line| line.contains("upgrade failed"), UPGRADE_LIMIT)
        .await;
    assert!(
        failed.text.contains(
            "did not call graceful::ready() or start serving within 300ms; it was stopped"
        ) && failed.text.contains("still serving"),
        "{}",
        failed.text
    );
    let new = pid_in(&failed.text, "(pid ");
    assert!(is_gone(new), "the new process {new} still runs");
    assert_eq!(serving_pid(&service, port).await, first);
    stop(&service, first).await;
}

/// The same load against stop-then-start, the restart an upgrade replaces: every connection
/// attempted in the gap is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn for_comparison_stop_then_start_refuses_connections() {
    let mut service = Process::start_http("zero_downtime", &[]).await;
    let port = service.port;
    let first = service.pid().as_raw() as u32;
    let load = Load::start(port);
    load.wait_for_answers(200).await;

    let sent = service.signal(Signal::SIGTERM);
    service.wait(LINE_TIMEOUT).await.assert_code(0);
    let port_text = port.to_string();
    let restarted = Process::start("zero_downtime", &[("PORT", &port_text)]);
    let (_, gap) = answering_other_than(&restarted, port, first, sent).await;
    load.wait_for_answers(load.answered() + 200).await;
    let tally = load.stop().await;
    println!(
        "stop then start: gap of {gap:?} from the signal to the new process answering; {} \
         answered, {} failed ({} refused)",
        tally.answered,
        tally.failed.len(),
        tally
            .failed
            .iter()
            .filter(|why| why.contains("refused"))
            .count()
    );
    assert!(!tally.failed.is_empty(), "a restart without a gap?");
    stop(&restarted, restarted.pid().as_raw() as u32).await;
}

/// `cd current && ./zero_downtime` with `current -> rel1`; `current` switched to `rel2` and
/// SIGHUP: the new process runs `rel2`'s binary, in `rel2`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_runs_the_release_the_symlink_points_to_now() {
    use std::os::unix::fs::symlink;

    let dir = TempDir::new("releases");
    for release in ["rel1", "rel2"] {
        std::fs::create_dir(dir.join(release)).unwrap();
        std::fs::copy(
            example("zero_downtime"),
            dir.join(release).join("zero_downtime"),
        )
        .unwrap();
    }
    symlink("rel1", dir.join("current")).unwrap();
    let port = free_port();
    let port_text = port.to_string();
    let service = Process::start_command_in(
        "zero_downtime in current",
        &dir.join("current"),
        Path::new("./zero_downtime"),
        &[],
        &[("PORT", &port_text)],
    );
    service
        .wait_for_stdout(
            &format!("listening on http://127.0.0.1:{port}"),
            START_TIMEOUT,
        )
        .await;
    let first = service.pid().as_raw() as u32;
    let mut pids = Pids(vec![service.pid()]);
    let rel1 = dir.join("rel1").canonicalize().unwrap();
    let rel2 = dir.join("rel2").canonicalize().unwrap();
    assert_eq!(exe(first), rel1.join("zero_downtime"));

    // The deploy: the link is replaced in one rename.
    symlink("rel2", dir.join("current.new")).unwrap();
    std::fs::rename(dir.join("current.new"), dir.join("current")).unwrap();
    let (new, _) = upgrade(&service, port, first).await;
    pids.0.push(Pid::from_raw(new as i32));
    assert_eq!(
        exe(new),
        rel2.join("zero_downtime"),
        "the new process runs the old release\n{}",
        service.dump()
    );
    assert_eq!(
        std::fs::read_link(format!("/proc/{new}/cwd")).unwrap(),
        rel2
    );
    wait_gone(&service, first).await;
    stop(&service, new).await;
}

/// The binary of the process `pid` (Linux: `/proc/<pid>/exe`).
fn exe(pid: u32) -> std::path::PathBuf {
    std::fs::read_link(format!("/proc/{pid}/exe")).expect("the process runs")
}

/// Started with an `argv[0]` that an upgrade cannot start again: the process refuses to
/// start, exit code 2, and says why and what to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_binary_that_cannot_be_found_again_is_refused_at_start_up() {
    for (argv0, says) in [
        (
            "zero_downtime",
            "argv[0] is \"zero_downtime\", a bare name that is not an executable file on PATH",
        ),
        ("", "argv[0] is empty"),
    ] {
        let output = timeout(
            START_TIMEOUT,
            tokio::process::Command::new(example("zero_downtime"))
                .arg0(argv0)
                .env_clear()
                .env("PATH", "/usr/bin:/bin")
                .env("PORT", free_port().to_string())
                .kill_on_drop(true)
                .output(),
        )
        .await
        .unwrap_or_else(|_| panic!("argv[0] {argv0:?}: still running after {START_TIMEOUT:?}"))
        .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "argv[0] {argv0:?}: {stderr}");
        assert!(
            stderr.contains("graceful: invalid configuration: upgrade(SIGHUP): ")
                && stderr.contains(says)
                && stderr.contains("start the program by a path to its binary"),
            "argv[0] {argv0:?}: {stderr}"
        );
    }
}

/// Names that would break `LISTEN_FDNAMES` are refused by `listen`, with what is allowed.
#[tokio::test]
async fn names_that_cannot_cross_an_upgrade_are_refused() {
    let long = "x".repeat(256);
    for name in ["http:v2", "", "graceful-upgrade", "tab\there", &long] {
        let error = graceful::listen(name, "127.0.0.1:0").await.unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput, "{name:?}");
        assert!(
            error
                .to_string()
                .contains("a name is 1 to 255 bytes without ':'"),
            "{name:?}: {error}"
        );
    }
    let longest = "x".repeat(255);
    let listener = graceful::listen(&longest, "127.0.0.1:0").await.unwrap();
    drop(listener);
}

/// A new build that is a wrapper script without `exec`: its server is its child. Whether the
/// wrapper exits at once or waits, a failed upgrade stops the server too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_upgrade_leaves_no_process_of_the_new_build() {
    let dir = TempDir::new("wrapper");
    let binary = dir.join("zero_downtime");
    std::fs::copy(example("zero_downtime"), &binary).unwrap();
    std::fs::copy(example("zero_downtime"), dir.join("real")).unwrap();
    let service = Process::start_listening_at(
        "zero_downtime",
        &binary,
        "http",
        &[("GRACEFUL_UPGRADE_TIMEOUT", "2s")],
    )
    .await;
    let port = service.port;
    let first = service.pid().as_raw() as u32;
    let mut pids = Pids(vec![service.pid()]);
    for (round, (end, failure)) in [
        ("exit 3", "exited with exit status: 3 before it was ready"),
        (
            "wait",
            "did not call graceful::ready() or start serving within 2s",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let pid_file = dir.join(&format!("server-{round}.pid"));
        let script = format!(
            "#!/bin/sh\n\"$(dirname \"$0\")/real\" \"$@\" &\necho $! > {}\n{end}\n",
            pid_file.display()
        );
        deploy(&dir, &binary, DeployFrom::Script(&script));
        service.signal(Signal::SIGHUP);
        let failed = service
            .wait_for_stderr_line(
                |line| line.contains("upgrade failed") && line.contains(failure),
                UPGRADE_LIMIT,
            )
            .await;
        let server: u32 = std::fs::read_to_string(&pid_file)
            .unwrap_or_else(|error| service.fail(format_args!("no pid file: {error}")))
            .trim()
            .parse()
            .unwrap();
        pids.0.push(Pid::from_raw(server as i32));
        wait_gone(&service, server).await;
        println!("round {round} ({end}): {}", failed.text);
        assert_eq!(serving_pid(&service, port).await, first);
    }
    stop(&service, first).await;
}

/// A new build that listens, then fails before it serves (a database it cannot reach): it is
/// never ready, so the old process keeps the port and serves on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_build_that_fails_after_listen_leaves_the_old_process_serving() {
    let dir = TempDir::new("fails-after-listen");
    let binary = dir.join("zero_downtime");
    std::fs::copy(example("zero_downtime"), &binary).unwrap();
    std::fs::copy(example("zero_downtime"), dir.join("real")).unwrap();
    let service = Process::start_listening_at("zero_downtime", &binary, "http", &[]).await;
    let port = service.port;
    let first = service.pid().as_raw() as u32;
    let _pids = Pids(vec![service.pid()]);
    let load = Load::start(port);
    load.wait_for_answers(100).await;
    deploy(
        &dir,
        &binary,
        DeployFrom::Script(
            "#!/bin/sh\nFAIL_AFTER_LISTEN_MS=100 exec \"$(dirname \"$0\")/real\" \"$@\"\n",
        ),
    );
    service.signal(Signal::SIGHUP);
    let failed = service
        .wait_for_stderr_line(|line| line.contains("upgrade failed"), UPGRADE_LIMIT)
        .await;
    assert!(
        failed
            .text
            .contains("exited with exit status: 1 before it was ready; still serving"),
        "{}",
        failed.text
    );
    let before = load.answered();
    load.wait_for_answers(before + 100).await;
    assert_eq!(serving_pid(&service, port).await, first);
    let tally = load.stop().await;
    assert!(tally.failed.is_empty(), "failed: {:?}", tally.failed);
    stop(&service, first).await;
}

const SERVICE_CHILD: &str = "GRACEFUL_TEST_UPGRADE_SERVICE_CHILD";

/// A `listen` inside a `graceful::service`, served by `graceful::http::serve`: the process is
/// ready once it serves, and an upgrade hands over.
#[test]
fn a_listen_inside_a_service_becomes_ready_when_it_serves() {
    if std::env::var_os(SERVICE_CHILD).is_some() {
        graceful::Builder::new()
            .signals([graceful::Signal::SIGTERM])
            .upgrade(graceful::Signal::SIGHUP)
            .upgrade_timeout(Duration::from_secs(10))
            .run(|shutdown| async move {
                graceful::service("http", async {
                    let port: u16 = std::env::var("PORT").unwrap().parse().unwrap();
                    let listener = graceful::listen("http", ("127.0.0.1", port)).await?;
                    println!("listening on http://{}", listener.local_addr()?);
                    let app = axum::Router::new().route(
                        "/pid",
                        axum::routing::get(|| async { std::process::id().to_string() }),
                    );
                    graceful::http::serve(listener, app).await
                });
                shutdown.cancelled().await;
            })
    }
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let test = std::env::current_exe().unwrap();
        let port = free_port();
        let port_text = port.to_string();
        let service = Process::start_command(
            "a service that listens",
            &test,
            &[
                "--exact",
                &graceful_test_support::test_name(
                    module_path!(),
                    "a_listen_inside_a_service_becomes_ready_when_it_serves",
                ),
                "--nocapture",
            ],
            &[(SERVICE_CHILD, "1"), ("PORT", &port_text)],
        );
        service
            .wait_for_stdout(
                &format!("listening on http://127.0.0.1:{port}"),
                START_TIMEOUT,
            )
            .await;
        let first = service.pid().as_raw() as u32;
        let mut pids = Pids(vec![service.pid()]);
        let (new, elapsed) = upgrade(&service, port, first).await;
        pids.0.push(Pid::from_raw(new as i32));
        println!("upgraded {first} -> {new} in {elapsed:?}");
        wait_gone(&service, first).await;
        stop(&service, new).await;
    });
}

/// The example with `UNIX_SOCKET`: the Unix-domain socket crosses three upgrades as the TCP
/// one does, and its file is never touched: the same inode and change time, the mode an operator gave it, the
/// same owner, and still there after the old processes exit. `/pid` on it answers the new
/// process each time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unix_socket_crosses_upgrades_with_its_file_untouched() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    let dir = TempDir::new("upgrade-unix");
    let socket = dir.join("app.sock");
    let socket_text = socket.display().to_string();
    let service = Process::start_http("zero_downtime", &[("UNIX_SOCKET", &socket_text)]).await;
    service
        .wait_for_stdout(&format!("also serving on unix:{socket_text}"), LINE_TIMEOUT)
        .await;
    let mut pids = Pids(vec![service.pid()]);
    // An operator's choice, which a new bind would not give (the umask's default is wider).
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o660)).unwrap();
    let file = std::fs::symlink_metadata(&socket).unwrap();
    let mut current = unix_pid(&service, &socket).await;
    assert_eq!(current, service.pid().as_raw() as u32);

    for round in 1..=3 {
        let sent = Instant::now();
        if let Err(error) = kill(Pid::from_raw(current as i32), Signal::SIGHUP) {
            service.fail(format_args!("cannot send SIGHUP to {current}: {error}"));
        }
        let new = loop {
            // Every request on the Unix socket is answered, by the old process or the new.
            let pid = unix_pid(&service, &socket).await;
            if pid != current {
                break pid;
            }
            if sent.elapsed() > UPGRADE_LIMIT {
                service.fail(format_args!(
                    "no new process on {socket_text} within {UPGRADE_LIMIT:?}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        pids.0.push(Pid::from_raw(new as i32));
        wait_gone(&service, current).await;
        let now = std::fs::symlink_metadata(&socket).unwrap_or_else(|error| {
            service.fail(format_args!("{socket_text} after upgrade {round}: {error}"))
        });
        // The change time too: a file replaced at once may get the same inode number.
        assert_eq!(
            (
                now.ino(),
                now.ctime(),
                now.ctime_nsec(),
                now.mode(),
                now.uid(),
                now.gid()
            ),
            (
                file.ino(),
                file.ctime(),
                file.ctime_nsec(),
                file.mode(),
                file.uid(),
                file.gid()
            ),
            "upgrade {round} ({current} -> {new}) changed the socket file (inode, change \
             time, mode, owner)"
        );
        assert_eq!(unix_pid(&service, &socket).await, new);
        println!("upgrade {round} on {socket_text}: {current} -> {new}, file unchanged");
        current = new;
    }
    stop(&service, current).await;
}

/// `/pid` on the Unix-domain socket at `socket`.
async fn unix_pid(service: &Process, socket: &Path) -> u32 {
    let reply = graceful_test_support::get_unix(socket, "/pid")
        .await
        .unwrap_or_else(|error| {
            service.fail(format_args!("/pid on {}: {error}", socket.display()))
        });
    assert_eq!(reply.status, StatusCode::OK);
    reply
        .body
        .trim()
        .parse()
        .unwrap_or_else(|_| service.fail(format_args!("/pid answered {:?}", reply.body)))
}

/// Kills every process of a test that fails half-way (the later ones are not the harness's
/// children).
struct Pids(Vec<Pid>);

impl Drop for Pids {
    fn drop(&mut self) {
        for pid in &self.0 {
            let _ = kill(*pid, Signal::SIGKILL);
        }
    }
}

/// Sends SIGHUP to `current` and waits until a new process answers `/pid`.
async fn upgrade(service: &Process, port: u16, current: u32) -> (u32, Duration) {
    let sent = Instant::now();
    if let Err(error) = kill(Pid::from_raw(current as i32), Signal::SIGHUP) {
        service.fail(format_args!("cannot send SIGHUP to {current}: {error}"));
    }
    answering_other_than(service, port, current, sent).await
}

/// Polls `/pid` on fresh connections until a process other than `old` answers; its pid and the
/// time since `since`. Refusals and errors are retried until [`UPGRADE_LIMIT`].
async fn answering_other_than(
    service: &Process,
    port: u16,
    old: u32,
    since: Instant,
) -> (u32, Duration) {
    let mut pace = tokio::time::interval(Duration::from_millis(2));
    loop {
        pace.tick().await;
        if let Ok(reply) = get(port, "/pid").await {
            let pid: u32 =
                reply.body.trim().parse().unwrap_or_else(|_| {
                    service.fail(format_args!("/pid answered {:?}", reply.body))
                });
            if pid != old {
                return (pid, since.elapsed());
            }
        }
        if since.elapsed() > UPGRADE_LIMIT {
            service.fail(format_args!(
                "no process other than {old} answered within {UPGRADE_LIMIT:?}"
            ));
        }
    }
}

async fn serving_pid(service: &Process, port: u16) -> u32 {
    let reply = get(port, "/pid")
        .await
        .unwrap_or_else(|error| service.fail(format_args!("/pid: {error}")));
    assert_eq!(reply.status, StatusCode::OK);
    reply.body.trim().parse().unwrap()
}

/// Stops the process `pid` (not necessarily the harness's child) and waits until it is gone.
async fn stop(service: &Process, pid: u32) {
    let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
    wait_gone(service, pid).await;
}

/// Waits until `pid` has exited (a zombie counts: the later generations' parent is gone, and
/// whatever adopts them may not reap them).
async fn wait_gone(service: &Process, pid: u32) {
    let until = Instant::now() + UPGRADE_LIMIT;
    let mut pace = tokio::time::interval(Duration::from_millis(5));
    while !is_gone(pid) {
        if Instant::now() > until {
            service.fail(format_args!(
                "process {pid} still runs {UPGRADE_LIMIT:?} after its upgrade"
            ));
        }
        pace.tick().await;
    }
}

fn is_gone(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            // The state follows the command name, which is in parentheses.
            Ok(stat) => stat
                .rsplit_once(") ")
                .is_some_and(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X')),
            Err(_) => true,
        }
    } else {
        kill(Pid::from_raw(pid as i32), None).is_err()
    }
}

/// The pid after `prefix` in a log line.
fn pid_in(line: &str, prefix: &str) -> u32 {
    let (_, rest) = line
        .split_once(prefix)
        .unwrap_or_else(|| panic!("no {prefix:?} in {line:?}"));
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no pid after {prefix:?} in {line:?}"))
}

enum DeployFrom<'a> {
    Script(&'a str),
    File(&'a Path),
}

/// Replaces `binary` as a deploy does: the new file is written next to it, then renamed over
/// it (the running process keeps its own copy).
fn deploy(dir: &TempDir, binary: &Path, from: DeployFrom<'_>) {
    use std::os::unix::fs::PermissionsExt;
    let staged = dir.join("zero_downtime.new");
    match from {
        DeployFrom::Script(text) => std::fs::write(&staged, text).unwrap(),
        DeployFrom::File(path) => {
            std::fs::copy(path, &staged).unwrap();
        }
    }
    std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::rename(&staged, binary).unwrap();
}

/// What the clients saw.
#[derive(Default)]
struct Tally {
    answered: usize,
    /// Requests retried once on a fresh connection, after a reused connection was closed
    /// before it answered.
    retried: usize,
    connections: usize,
    failed: Vec<String>,
}

/// The client load: [`CLIENTS`] tasks sending requests back to back until stopped.
struct Load {
    stop: watch::Sender<bool>,
    answered: watch::Receiver<usize>,
    clients: Vec<JoinHandle<Tally>>,
}

impl Load {
    fn start(port: u16) -> Load {
        let (stop, stopped) = watch::channel(false);
        let (count, answered) = watch::channel(0_usize);
        let mut rng = Rng::from_env("GRACEFUL_TEST_SEED");
        let clients = (0..CLIENTS)
            .map(|_| {
                let seed = rng.next_u64();
                tokio::spawn(client(port, seed, stopped.clone(), count.clone()))
            })
            .collect();
        drop(count);
        Load {
            stop,
            answered,
            clients,
        }
    }

    fn answered(&self) -> usize {
        *self.answered.borrow()
    }

    async fn wait_for_answers(&self, count: usize) {
        let mut answered = self.answered.clone();
        timeout(
            START_TIMEOUT,
            answered.wait_for(|answered| *answered >= count),
        )
        .await
        .unwrap_or_else(|_| panic!("fewer than {count} answers within {START_TIMEOUT:?}"))
        .expect("the clients run");
    }

    async fn stop(self) -> Tally {
        self.stop.send(true).expect("the clients run");
        let mut total = Tally::default();
        for client in self.clients {
            let tally = client.await.expect("a client does not panic");
            total.answered += tally.answered;
            total.retried += tally.retried;
            total.connections += tally.connections;
            total.failed.extend(tally.failed);
        }
        total
    }
}

/// One client: requests on a keep-alive connection, a new connection every few requests (and
/// whenever the server closed the last one between requests).
async fn client(
    port: u16,
    seed: u64,
    stop: watch::Receiver<bool>,
    answered: watch::Sender<usize>,
) -> Tally {
    let mut rng = Rng::seeded(seed);
    let mut tally = Tally::default();
    let mut connection: Option<SendRequest<Full<Bytes>>> = None;
    while !*stop.borrow() {
        let path = if rng.between(0, 2) == 0 {
            "/pid".to_owned()
        } else {
            format!("/slow?ms={}", rng.between(0, 20))
        };
        if rng.between(0, 5) == 0 {
            connection = None;
        }
        // A connection the server closed between two requests is no failure: nothing was sent.
        if let Some(sender) = connection.as_mut() {
            if timeout(REQUEST_TIMEOUT, sender.ready())
                .await
                .map_or(true, |ready| ready.is_err())
            {
                connection = None;
            }
        }
        let result = match connection.as_mut() {
            Some(sender) => match request(sender, port, &path).await {
                Ok(status) => Ok(status),
                // Closed by the server before it answered: retried once, on a new connection.
                Err(Failure::Closed(_)) => {
                    tally.retried += 1;
                    connection = None;
                    fresh(port, &path, &mut connection, &mut tally)
                        .await
                        .map_err(|failure| Failure::Other(format!("{failure}, on the retry")))
                }
                Err(failure) => Err(Failure::Other(format!("{failure}, on a reused connection"))),
            },
            None => fresh(port, &path, &mut connection, &mut tally)
                .await
                .map_err(|failure| Failure::Other(format!("{failure}, on a new connection"))),
        };
        match result {
            Ok(StatusCode::OK) => {
                tally.answered += 1;
                answered.send_modify(|count| *count += 1);
            }
            Ok(status) => tally.failed.push(format!("{path}: status {status}")),
            Err(failure) => {
                connection = None;
                tally.failed.push(format!("{path}: {failure}"));
            }
        }
    }
    tally
}

enum Failure {
    /// Closed (or reset) before the response came.
    Closed(String),
    Refused,
    Other(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Closed(why) => write!(f, "closed before a response: {why}"),
            Failure::Refused => f.write_str("connection refused"),
            Failure::Other(why) => f.write_str(why),
        }
    }
}

/// The request on a new connection, which is kept for the next requests.
async fn fresh(
    port: u16,
    path: &str,
    connection: &mut Option<SendRequest<Full<Bytes>>>,
    tally: &mut Tally,
) -> Result<StatusCode, Failure> {
    let stream = match timeout(REQUEST_TIMEOUT, TcpStream::connect(("127.0.0.1", port))).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) if error.kind() == std::io::ErrorKind::ConnectionRefused => {
            return Err(Failure::Refused);
        }
        Ok(Err(error)) => return Err(Failure::Other(error.to_string())),
        Err(_) => return Err(Failure::Other("connect hung".to_owned())),
    };
    tally.connections += 1;
    let _ = stream.set_nodelay(true);
    let (mut sender, driver) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|error| Failure::Other(error.to_string()))?;
    tokio::spawn(async move {
        let _ = driver.await;
    });
    let status = request(&mut sender, port, path).await?;
    *connection = Some(sender);
    Ok(status)
}

async fn request(
    sender: &mut SendRequest<Full<Bytes>>,
    port: u16,
    path: &str,
) -> Result<StatusCode, Failure> {
    let request = Request::get(path)
        .header(hyper::header::HOST, format!("127.0.0.1:{port}"))
        .body(Full::new(Bytes::new()))
        .expect("a valid request");
    let exchange = async {
        let response = sender.send_request(request).await?;
        let status = response.status();
        response.into_body().collect().await?;
        Ok::<_, hyper::Error>(status)
    };
    match timeout(REQUEST_TIMEOUT, exchange).await {
        Ok(Ok(status)) => Ok(status),
        Ok(Err(error))
            if error.is_closed() || error.is_incomplete_message() || error.is_canceled() =>
        {
            Err(Failure::Closed(error.to_string()))
        }
        Ok(Err(error)) => {
            let reset = std::error::Error::source(&error)
                .and_then(|source| source.downcast_ref::<std::io::Error>())
                .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionReset);
            if reset {
                Err(Failure::Closed(error.to_string()))
            } else {
                Err(Failure::Other(error.to_string()))
            }
        }
        Err(_) => Err(Failure::Other(format!(
            "no response within {REQUEST_TIMEOUT:?}"
        ))),
    }
}
