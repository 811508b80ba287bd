//! The HTTP integration (`graceful::http::serve`) as a keep-alive client sees it, against the
//! `http_server` example: a real process on a real socket, real signals, hyper's client.
//!
//! - From the trigger on, through `drain_delay`, every response says `Connection: close` and
//!   the server closes the connection after it; before the trigger, none does.
//! - At the cancel, an idle keep-alive connection is closed at once, while a request in flight
//!   on another connection runs on.
//! - A request still running at `drain_timeout` is cut: the client sees its connection closed,
//!   the drain's line and the report say `1 connection cut`, and the exit code is 1.
//! - Slow clients: half a request head at the cancel is closed after the short grace and does
//!   not hold the drain; in normal operation such a head times out.
//! - HTTP/2 (h2c): the GOAWAY comes from the trigger on, during `drain_delay`, while the stream
//!   in flight completes.
//! - A server dropped while its connections are idle (the main body returned on its own) cuts
//!   nothing: exit code 0 (this binary run again as the program).

use std::future::IntoFuture;
use std::time::{Duration, Instant};

use graceful_test_support::{
    ClientError, Connection, LINE_TIMEOUT, Process, REQUEST_TIMEOUT, Signal, TempDir, count,
};
use http_body_util::BodyExt;
use hyper::Method;
use hyper::header::CONNECTION;

const CANCEL_LINE: &str = "cancelled: no longer accepting connections";
/// A generous bound on what should take milliseconds, for a loaded machine.
const SOON: Duration = Duration::from_secs(2);

/// A response as a keep-alive client sees it.
#[derive(Debug)]
struct Answer {
    status: u16,
    /// Whether it said `Connection: close`.
    close: bool,
    body: String,
}

async fn exchange(connection: &mut Connection, path: &str) -> Result<Answer, ClientError> {
    let response = connection.send(Method::GET, path, "").await?;
    let status = response.status().as_u16();
    let close = response
        .headers()
        .get_all(CONNECTION)
        .iter()
        .any(|value| value.as_bytes().eq_ignore_ascii_case(b"close"));
    let body = tokio::time::timeout(REQUEST_TIMEOUT, response.into_body().collect())
        .await
        .map_err(|_| ClientError::Hung)?
        .map_err(|error| ClientError::Closed(error.to_string()))?
        .to_bytes();
    Ok(Answer {
        status,
        close,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

async fn start(label: &str, env: &[(&str, &str)]) -> (Process, TempDir) {
    let dir = TempDir::new(label);
    let log = dir.join("access.log");
    let mut env = env.to_vec();
    env.push(("ACCESS_LOG", log.to_str().expect("a UTF-8 path")));
    (Process::start_http("http_server", &env).await, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_the_trigger_every_response_says_connection_close() {
    let (mut service, _dir) = start("close", &[("GRACEFUL_DRAIN_DELAY", "1s")]).await;
    let port = service.port;

    // Before the trigger: one keep-alive connection carries every request, none says close.
    let mut connection = Connection::open(port)
        .await
        .unwrap_or_else(|error| service.fail(format_args!("connecting: {error}")));
    for index in 0..20 {
        let answer = exchange(&mut connection, "/healthz")
            .await
            .unwrap_or_else(|error| service.fail(format_args!("request {index}: {error}")));
        assert_eq!(answer.status, 200, "{answer:?}");
        assert!(
            !answer.close,
            "before the trigger, request {index}: {answer:?}"
        );
    }
    assert!(!connection.is_closed(), "the connection was kept alive");

    // During the delay: keep-alive clients, reconnecting whenever told to close, until the
    // server stops accepting.
    let sigterm = service.signal(Signal::SIGTERM);
    let mut answers = Vec::new();
    let mut connections = 1;
    let mut pace = tokio::time::interval(Duration::from_millis(10));
    let mut connection = Some(connection);
    loop {
        pace.tick().await;
        assert!(
            sigterm.elapsed() < LINE_TIMEOUT,
            "the server still accepted {LINE_TIMEOUT:?} after the signal: {answers:?}"
        );
        let mut open = match connection.take() {
            Some(open) => open,
            None => match Connection::open(port).await {
                Ok(open) => {
                    connections += 1;
                    open
                }
                Err(ClientError::Refused) => break,
                // The listener being dropped as the connection came.
                Err(ClientError::Closed(_)) => continue,
                Err(error) => service.fail(format_args!("connecting during the delay: {error}")),
            },
        };
        match exchange(&mut open, "/healthz").await {
            Ok(answer) => {
                let close = answer.close;
                answers.push(answer);
                if close {
                    // Told to close: the server closes it, the client reconnects.
                    if open.closed(SOON).await.is_none() {
                        service.fail(format_args!(
                            "the server kept the connection open {SOON:?} after `Connection: close`"
                        ));
                    }
                } else {
                    connection = Some(open);
                }
            }
            // Closed at the cancel before it answered (the request raced the cancel).
            Err(ClientError::Closed(_)) => {
                service.wait_for_stdout(CANCEL_LINE, LINE_TIMEOUT).await;
                break;
            }
            Err(error) => service.fail(format_args!("/healthz during the delay: {error}")),
        }
    }
    let exited = service.wait(LINE_TIMEOUT).await;
    exited.assert_code(0);
    let cancel = exited.stdout_line(CANCEL_LINE).at;

    // 200s (probes that beat the signal handler), then 503s; from the first `close` on, every
    // response says it, and every 503 (the trigger had happened) does.
    let shown = &answers[..answers.len().min(12)];
    let first_close = answers
        .iter()
        .position(|a| a.close)
        .unwrap_or(answers.len());
    assert!(
        answers[first_close..].iter().all(|a| a.close),
        "responses without `Connection: close` after one with it: {:?}\n{exited}",
        answers[first_close..]
            .iter()
            .filter(|a| !a.close)
            .collect::<Vec<_>>()
    );
    assert!(
        answers.iter().all(|a| a.status != 503 || a.close),
        "a 503 (shutting down) without `Connection: close` (the first of {}): {shown:?}\n{exited}",
        answers.len()
    );
    let closes = count(&answers, |a| a.close);
    assert!(
        closes >= 5,
        "only {closes} responses said `Connection: close` during the 1s delay: {shown:?}\n{exited}"
    );
    assert!(
        answers.iter().all(|a| a.body.ends_with(" started\n")),
        "{answers:?}"
    );
    println!(
        "drain delay 1s: {} responses after the signal, {closes} with `Connection: close` (each \
         followed by the server closing the connection), on {connections} connections; cancel \
         seen {:?} after the signal",
        answers.len(),
        cancel.saturating_duration_since(sigterm)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cancel_an_idle_keep_alive_connection_closes_while_a_request_runs_on() {
    let (mut service, _dir) = start("idle", &[("GRACEFUL_DRAIN_DELAY", "0s")]).await;
    let port = service.port;

    // An idle keep-alive connection, and a request that runs well past the cancel.
    let mut idle = Connection::open(port)
        .await
        .unwrap_or_else(|error| service.fail(format_args!("connecting: {error}")));
    let answer = exchange(&mut idle, "/healthz")
        .await
        .unwrap_or_else(|error| service.fail(format_args!("/healthz: {error}")));
    assert!(answer.status == 200 && !answer.close, "{answer:?}");
    let mut busy = Connection::open(port)
        .await
        .unwrap_or_else(|error| service.fail(format_args!("connecting: {error}")));
    let slow = tokio::spawn(async move {
        let answer = exchange(&mut busy, "/slow?ms=4000").await;
        (answer, Instant::now())
    });
    // The slow request has reached its handler.
    let mut probe = Connection::open(port)
        .await
        .unwrap_or_else(|error| service.fail(format_args!("connecting: {error}")));
    let until = Instant::now() + LINE_TIMEOUT;
    loop {
        let health = exchange(&mut probe, "/healthz")
            .await
            .unwrap_or_else(|error| service.fail(format_args!("/healthz: {error}")));
        if health.body.starts_with("ok: 1 requests in flight") {
            break;
        }
        assert!(
            Instant::now() < until,
            "the slow request never started: {health:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drop(probe);

    let sigterm = service.signal(Signal::SIGTERM);
    let closed = idle.closed(LINE_TIMEOUT).await;
    let (slow_answer, slow_done) = slow.await.expect("the request task does not panic");
    let exited = service.wait(LINE_TIMEOUT).await;
    exited.assert_code(0);
    let cancel = exited.stdout_line(CANCEL_LINE).at;

    let closed = closed.unwrap_or_else(|| {
        panic!("the idle connection was still open {LINE_TIMEOUT:?} after the signal\n{exited}")
    });
    let after_signal = closed - sigterm;
    assert!(
        after_signal < SOON,
        "the idle connection closed {after_signal:?} after the signal\n{exited}"
    );
    assert!(
        closed < slow_done,
        "the idle connection closed only once the server was done ({:?} after the slow \
         answer), not at the cancel\n{exited}",
        closed - slow_done
    );
    let slow_answer = slow_answer.unwrap_or_else(|error| {
        panic!("the request in flight at the cancel failed: {error}\n{exited}")
    });
    assert_eq!(slow_answer.status, 200, "{slow_answer:?}\n{exited}");
    assert_eq!(slow_answer.body, "slept 4000 ms\n", "{exited}");
    assert!(slow_answer.close, "{slow_answer:?}");
    println!(
        "idle keep-alive connection closed {after_signal:?} after the signal ({} the cancel \
         line was read: {:?}); the request in flight answered 200 {:?} after the signal",
        if closed >= cancel { "after" } else { "before" },
        if closed >= cancel {
            closed - cancel
        } else {
            cancel - closed
        },
        slow_done - sigterm
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_past_the_drain_timeout_is_cut_counted_and_exits_1() {
    let (mut service, _dir) = start(
        "cut",
        &[
            ("GRACEFUL_DRAIN_DELAY", "0s"),
            ("GRACEFUL_DRAIN_TIMEOUT", "1s"),
        ],
    )
    .await;
    let port = service.port;

    // An idle keep-alive connection (closed at the cancel: not cut) and a request that runs
    // far past the drain.
    let mut idle = Connection::open(port)
        .await
        .unwrap_or_else(|error| service.fail(format_args!("connecting: {error}")));
    exchange(&mut idle, "/healthz")
        .await
        .unwrap_or_else(|error| service.fail(format_args!("/healthz: {error}")));
    let mut busy = Connection::open(port)
        .await
        .unwrap_or_else(|error| service.fail(format_args!("connecting: {error}")));
    let slow = tokio::spawn(async move {
        let answer = exchange(&mut busy, "/slow?ms=30000").await;
        (answer, Instant::now())
    });
    let mut probe = Connection::open(port)
        .await
        .unwrap_or_else(|error| service.fail(format_args!("connecting: {error}")));
    let until = Instant::now() + LINE_TIMEOUT;
    loop {
        let health = exchange(&mut probe, "/healthz")
            .await
            .unwrap_or_else(|error| service.fail(format_args!("/healthz: {error}")));
        if health.body.starts_with("ok: 1 requests in flight") {
            break;
        }
        assert!(
            Instant::now() < until,
            "the slow request never started: {health:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drop(probe);

    let sigterm = service.signal(Signal::SIGTERM);
    let (answer, seen) = tokio::time::timeout(LINE_TIMEOUT, slow)
        .await
        .unwrap_or_else(|_| service.fail(format_args!("the slow request was never cut")))
        .expect("the request task does not panic");
    let exited = service.wait(LINE_TIMEOUT).await;

    match answer {
        Err(ClientError::Closed(_)) => {}
        other => panic!("the client should see its connection closed, got {other:?}\n{exited}"),
    }
    let cut_after = seen - sigterm;
    assert!(
        cut_after >= Duration::from_secs(1) && cut_after < Duration::from_secs(10),
        "cut {cut_after:?} after the signal, not at the 1s drain timeout\n{exited}"
    );
    exited.assert_code(1);
    let drain_line = exited
        .stderr
        .iter()
        .find(|line| line.contains("drain timed out"))
        .unwrap_or_else(|| panic!("no drain line on stderr\n{exited}"));
    assert!(
        drain_line.contains("1 connection cut"),
        "the drain's line: {drain_line}\n{exited}"
    );
    let summary = exited
        .stderr
        .iter()
        .find(|line| line.contains("exit code 1"))
        .unwrap_or_else(|| panic!("no report line on stderr\n{exited}"));
    assert!(
        summary.contains("1 connection cut,"),
        "the report line: {summary}\n{exited}"
    );
    println!(
        "drain timeout 1s: the request in flight was cut {cut_after:?} after the signal; \
         report: {summary}"
    );
}

/// An upgraded connection (a websocket) handed to `spawn_connection` is the drain's: cut and
/// counted at its end, as the server's own connections are; one that ends at the cancel is not.
#[test]
fn an_upgraded_connection_still_open_at_the_drain_timeout_is_cut_and_counted() {
    let report = graceful::Builder::new()
        .signals([])
        .drain_timeout(Duration::from_millis(200))
        .run_to_report(|shutdown| async move {
            let closing = shutdown.clone();
            graceful::http::spawn_connection(async move { closing.cancelled().await });
            graceful::http::spawn_connection(std::future::pending::<()>());
        })
        .expect("a valid configuration");
    assert_eq!(report.connections_cut(), 1, "{report}");
    assert_eq!(report.aborted().len(), 1, "{report}");
    assert_eq!(report.exit_code(), 1, "{report}");
    assert!(report.to_string().contains("1 connection cut"), "{report}");
}

/// A connection the server accepted but had not read from when it cancelled: its request
/// (sent before the listener closed, or across an upgrade while this process still held the
/// listener) is served, with `Connection: close`, not dropped unread.
#[test]
fn a_connection_accepted_just_before_the_cancel_still_gets_its_request_served() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let report = graceful::Builder::new()
        .signals([])
        .run_to_report(|shutdown| async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let app = axum::Router::new().route("/", axum::routing::get(|| async { "served\n" }));
            graceful::service("http", graceful::http::serve(listener, app));

            // `fresh` connects first; once `other` has been answered, the accept loop has
            // taken `fresh` too (it accepts in order), and nothing was read from it.
            let mut fresh = tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .unwrap();
            let reply = graceful_test_support::get(port, "/")
                .await
                .expect("the other connection");
            assert_eq!(reply.body, "served\n");

            shutdown.trigger();
            shutdown.cancelled().await;
            // The request comes after the cancel, well within the grace a fresh connection
            // gets (1 s).
            tokio::time::sleep(Duration::from_millis(100)).await;
            fresh
                .write_all(b"GET / HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
                .await
                .unwrap();
            let mut answer = String::new();
            fresh.read_to_string(&mut answer).await.unwrap();
            assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
            assert!(
                answer.to_ascii_lowercase().contains("connection: close"),
                "{answer:?}"
            );
            assert!(answer.ends_with("served\n"), "{answer:?}");
        })
        .expect("a valid configuration");
    assert_eq!(report.connections_cut(), 0, "{report}");
    assert_eq!(report.exit_code(), 0, "{report}");
}

/// A client that sends half a request head and stops: at the cancel it gets the short grace an
/// unread connection gets, then its connection closes; it had no request in flight, so the
/// drain does not wait for it (`drain_timeout` is 15 s) and the exit is clean.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_sent_request_head_is_closed_after_the_grace_and_the_exit_is_clean() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let (mut server, _dir) = start("half-head", &[("GRACEFUL_DRAIN_DELAY", "0s")]).await;
    let mut half = tokio::net::TcpStream::connect(("127.0.0.1", server.port))
        .await
        .expect("connect");
    half.write_all(b"GET /slow?ms=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .expect("half a head");
    // Once another connection has been answered, the accept loop has taken this one too (it
    // accepts in order).
    let reply = graceful_test_support::get(server.port, "/healthz").await;
    assert_eq!(reply.expect("healthz").status, 200);

    server.signal(Signal::SIGTERM);
    let cancel = server.wait_for_stdout(CANCEL_LINE, LINE_TIMEOUT).await;
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), half.read_to_end(&mut rest)).await;
    let closed_after = cancel.at.elapsed();
    assert!(
        read.is_ok(),
        "the half-sent head still held its connection 10 s after the cancel\n{}",
        server.dump()
    );
    assert!(
        rest.is_empty(),
        "nothing is answered to half a head: {rest:?}"
    );
    println!("half a head: closed {closed_after:?} after the cancel");
    let exited = server.wait(Duration::from_secs(10)).await;
    exited.assert_code(0);
    assert!(
        exited.stderr_lines_with(&["connection cut"]).is_empty(),
        "{exited}"
    );
}

/// An h2c client (HTTP/2 with prior knowledge) with a request in flight at the trigger: its
/// stream completes, and the connection ends during `drain_delay` (5 s), once the server's
/// GOAWAY has moved the client away, not at the cancel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http2_connection_gets_its_goaway_during_the_drain_delay_and_its_stream_completes() {
    use http_body_util::Empty;
    use hyper::body::Bytes;
    use hyper_util::rt::{TokioExecutor, TokioIo};

    let (mut server, _dir) = start("h2-goaway", &[("GRACEFUL_DRAIN_DELAY", "5s")]).await;
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", server.port))
        .await
        .expect("connect");
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("an HTTP/2 handshake");
    // Ends when the connection closes. The sender is kept: a client that still holds one does
    // not close an idle connection itself.
    let mut driver = tokio::spawn(connection);
    let request = hyper::Request::get(format!("http://127.0.0.1:{}/slow?ms=1000", server.port))
        .body(Empty::<Bytes>::new())
        .expect("a request");
    let response = sender.send_request(request);
    let answered = tokio::spawn(async move {
        let response = response.await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        Ok::<_, hyper::Error>((status, body))
    });
    // A second stream on the same connection, answered at once: the client sends its streams
    // in order, so once this one is answered the slow one has reached the server too. The
    // trigger then comes while it runs (sent earlier, it could overtake the stream's headers,
    // and the client would not open a stream after the GOAWAY).
    let probe = hyper::Request::get(format!("http://127.0.0.1:{}/slow?ms=0", server.port))
        .body(Empty::<Bytes>::new())
        .expect("a request");
    let probed = tokio::time::timeout(Duration::from_secs(10), sender.send_request(probe))
        .await
        .expect("the probe is answered")
        .expect("the probe's response");
    assert_eq!(probed.status(), 200);
    let trigger = server.signal(Signal::SIGTERM);

    let (status, body) = tokio::time::timeout(Duration::from_secs(10), answered)
        .await
        .expect("the stream in flight completes")
        .expect("its task")
        .expect("its response");
    assert_eq!(status, 200, "{body:?}");
    let closed = tokio::time::timeout(Duration::from_secs(10), &mut driver).await;
    assert!(
        closed.is_ok(),
        "the connection was still open\n{}",
        server.dump()
    );
    println!(
        "h2c: connection closed {:?} after the trigger",
        trigger.elapsed()
    );
    assert!(
        !server
            .stdout_lines()
            .iter()
            .any(|line| line.text == CANCEL_LINE),
        "the connection lasted until the cancel: no GOAWAY during drain_delay\n{}",
        server.dump()
    );
    drop(sender);
    server.wait(Duration::from_secs(15)).await.assert_code(0);
}

/// In normal operation (no shutdown), a head that never ends times out and its connection
/// closes: not before the timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_head_never_finished_times_out_in_normal_operation() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = axum::Router::new().route("/", axum::routing::get(|| async { "served\n" }));
    let server = graceful::http::serve(listener, app)
        .header_read_timeout(Duration::from_millis(300))
        .into_future();
    let server = tokio::spawn(server);

    // Before the connect: the server accepts the connection after this instant.
    let sent = Instant::now();
    let mut half = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    half.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), half.read_to_end(&mut rest)).await;
    assert!(
        read.is_ok(),
        "the half-sent head held its connection for 10 s"
    );
    let closed = sent.elapsed();
    println!("half a head in normal operation: closed after {closed:?}");
    assert!(
        closed >= Duration::from_millis(300),
        "closed after {closed:?}, before the 300 ms timeout"
    );
    // A whole request is still served.
    let reply = graceful_test_support::get(port, "/")
        .await
        .expect("a request");
    assert_eq!(reply.body, "served\n");
    server.abort();
}

/// `serve` takes a Unix-domain listener as it does a TCP one: a request over the socket is
/// answered, and at the cancel the server stops and its future ends.
#[cfg(unix)]
#[test]
fn a_unix_domain_listener_is_served_and_drained() {
    use http_body_util::Empty;
    use hyper::body::Bytes;
    use hyper_util::rt::TokioIo;

    let dir = TempDir::new("unix-listener");
    let path = dir.join("app.sock");
    let report = graceful::Builder::new()
        .signals([])
        .run_to_report(|shutdown| async move {
            let listener = tokio::net::UnixListener::bind(&path).unwrap();
            let app = axum::Router::new().route("/", axum::routing::get(|| async { "served\n" }));
            let server = tokio::spawn(graceful::http::serve(listener, app).into_future());

            let stream = tokio::net::UnixStream::connect(&path).await.unwrap();
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream))
                    .await
                    .unwrap();
            tokio::spawn(connection);
            let request = hyper::Request::get("/")
                .header(hyper::header::HOST, "localhost")
                .body(Empty::<Bytes>::new())
                .unwrap();
            let response = sender.send_request(request).await.unwrap();
            assert_eq!(response.status(), 200);
            let body = response.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(&body[..], b"served\n");

            shutdown.trigger();
            let ended = tokio::time::timeout(Duration::from_secs(10), server).await;
            assert!(ended.is_ok(), "the server did not end after the cancel");
        })
        .expect("a valid configuration");
    assert_eq!(report.exit_code(), 0, "{report}");
}

/// An upgrade sends no client away before its cancel: a keep-alive connection idle at the old
/// process's cancel stays open a moment, so that a request its client sends then (a balancer
/// reusing its pooled connection) is answered, with `Connection: close`, instead of crossing
/// the close.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_an_upgrade_a_request_on_an_idle_keep_alive_connection_is_answered() {
    let env = [("RUST_LOG", "info,graceful=debug")];
    let mut old = Process::start_http("zero_downtime", &env).await;
    let mut kept = Connection::open(old.port).await.expect("a connection");
    let first = exchange(&mut kept, "/pid").await.expect("a first request");
    assert_eq!(first.body.trim(), old.pid().to_string());
    assert!(!first.close, "{first:?}");

    old.signal(Signal::SIGHUP);
    // The old process's cancel: it stops accepting and closes its idle connections now.
    old.wait_for_stderr_line(
        |line| line.contains("HTTP server stopped accepting"),
        LINE_TIMEOUT,
    )
    .await;
    // Well past the moment the old code closed the idle connection; well within the linger.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let answer = exchange(&mut kept, "/pid").await;
    let answer = answer.unwrap_or_else(|error| {
        panic!(
            "the idle connection was closed under the request: {error:?}\n{}",
            old.dump()
        )
    });
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        answer.body.trim(),
        old.pid().to_string(),
        "served by the old process"
    );
    assert!(answer.close, "the old process says it closes: {answer:?}");
    // The new process serves on, holding the old one's output pipes; it is not this test's
    // child: stop it by its pid before waiting for the old one's output to end.
    let new_pid = graceful_test_support::get(old.port, "/pid")
        .await
        .expect("the new process answers")
        .body;
    let new_pid = nix::unistd::Pid::from_raw(new_pid.trim().parse().expect("a pid"));
    assert_ne!(new_pid, old.pid(), "the new process answers now");
    nix::sys::signal::kill(new_pid, Signal::SIGTERM).expect("SIGTERM to the new process");
    old.wait(Duration::from_secs(15)).await.assert_code(0);
}

const IDLE_DROP_CHILD: &str = "GRACEFUL_TEST_IDLE_DROP_CHILD";

/// A program whose `main` serves inside a `tokio::select!` and returns `Ok` on its own (another
/// branch won: here, a line on its standard input) while a client holds an idle keep-alive
/// connection that has been answered: the server is dropped with it, nothing was in flight,
/// nothing is cut, and the exit code is 0.
#[cfg(unix)]
#[test]
fn dropping_a_server_whose_connections_are_idle_is_not_a_cut() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::process::{Command, Stdio};

    if std::env::var_os(IDLE_DROP_CHILD).is_some() {
        graceful::Builder::new()
            .signals([])
            .run(|_shutdown| async move {
                use tokio::io::AsyncBufReadExt;

                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                println!("listening on {}", listener.local_addr()?);
                let app =
                    axum::Router::new().route("/", axum::routing::get(|| async { "served\n" }));
                let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
                tokio::select! {
                    served = graceful::http::serve(listener, app) => served,
                    _ = lines.next_line() => Ok::<(), std::io::Error>(()),
                }
            })
    }

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            &graceful_test_support::test_name(
                module_path!(),
                "dropping_a_server_whose_connections_are_idle_is_not_a_cut",
            ),
            "--nocapture",
        ])
        .env(IDLE_DROP_CHILD, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let address = loop {
        let mut line = String::new();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "the program ended before it listened"
        );
        if let Some(address) = line.trim().strip_prefix("listening on ") {
            break address.to_owned();
        }
    };

    // A keep-alive request, answered: the connection is idle from then on, and stays open.
    let mut connection = std::net::TcpStream::connect(&address).unwrap();
    connection
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    connection
        .write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let mut response = Vec::new();
    let mut buffer = [0; 1024];
    while !response.ends_with(b"served\n") {
        let read = connection.read(&mut buffer).unwrap();
        assert!(read > 0, "the connection closed before the response");
        response.extend_from_slice(&buffer[..read]);
    }
    assert!(response.starts_with(b"HTTP/1.1 200 OK"));

    // `main` returns `Ok` while the connection is idle.
    child.stdin.take().unwrap().write_all(b"return\n").unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(30) {
            child.kill().unwrap();
            panic!("the program did not exit within 30 s of main's return");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "an idle connection dropped with the server counted as a cut\nstdout: {rest}\nstderr: {stderr}"
    );
    assert!(
        !rest.contains("cut") && !stderr.contains("cut"),
        "a cut reported\nstdout: {rest}\nstderr: {stderr}"
    );
}

/// `/shutdown` answers the run's snapshot: before the signal, then during `drain_delay`, with
/// a slow request in flight on a second connection, the counts are the client's own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shutdown_page_counts_the_connections_and_the_request_in_flight() {
    let (mut service, _dir) = start("snapshot", &[("GRACEFUL_DRAIN_DELAY", "2s")]).await;
    let port = service.port;
    let mut page = Connection::open(port)
        .await
        .unwrap_or_else(|error| service.fail(format_args!("connecting: {error}")));
    let alone = exchange(&mut page, "/shutdown")
        .await
        .unwrap_or_else(|error| service.fail(format_args!("/shutdown: {error}")));
    assert_eq!(alone.status, 200, "{alone:?}");
    assert!(alone.body.starts_with("phase: running\n"), "{alone:?}");
    // The page's own request is in flight while it answers.
    let server = format!("server http 127.0.0.1:{port}: ");
    assert!(
        alone
            .body
            .contains(&format!("{server}1 open connection, 1 request in flight\n")),
        "{alone:?}"
    );

    let mut slow = Connection::open(port)
        .await
        .unwrap_or_else(|error| service.fail(format_args!("connecting: {error}")));
    let slow = tokio::spawn(async move { exchange(&mut slow, "/slow?ms=3000").await });
    let busy = format!("{server}2 open connections, 2 requests in flight\n");
    let asked = Instant::now();
    loop {
        let answer = exchange(&mut page, "/shutdown")
            .await
            .unwrap_or_else(|error| service.fail(format_args!("/shutdown: {error}")));
        if answer.body.contains(&busy) {
            break;
        }
        assert!(
            asked.elapsed() < SOON,
            "the slow request never showed: {answer:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The signal is delivered while the page is asked: it says `running` until then.
    let signalled = service.signal(Signal::SIGTERM);
    let stopping = loop {
        let answer = exchange(&mut page, "/shutdown")
            .await
            .unwrap_or_else(|error| {
                service.fail(format_args!("/shutdown after the signal: {error}"))
            });
        if !answer.body.starts_with("phase: running\n") {
            break answer;
        }
        assert!(signalled.elapsed() < SOON, "no trigger seen: {answer:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        stopping
            .body
            .starts_with("phase: stopping (received SIGTERM), "),
        "{stopping:?}"
    );
    assert!(
        stopping.body.contains("s left to the deadline\n"),
        "{stopping:?}"
    );
    assert!(stopping.body.contains(&busy), "{stopping:?}");
    assert!(stopping.close, "{stopping:?}");

    let slow = slow
        .await
        .expect("the client's task")
        .unwrap_or_else(|error| service.fail(format_args!("the slow request in flight: {error}")));
    assert_eq!(slow.status, 200, "{slow:?}");
    service.wait(LINE_TIMEOUT).await.assert_code(0);
}
