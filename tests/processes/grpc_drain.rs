//! gRPC drain: the `grpc_server` example, a real process on a real socket, driven by a real
//! tonic client (the code generated for `examples/proto/work.proto`), with unary calls and
//! server streams in flight when SIGTERM arrives; and `graceful::grpc::Server` in-process,
//! where the process does not exit to hide a connection left open.
//!
//! What must hold: the health (`grpc.health.v1`) of the server and of its service turns
//! NOT_SERVING during `drain_delay`; at the cancel the server refuses new connections and
//! moves its clients away (GOAWAY) while every call in flight completes OK and every stream
//! ends with status OK; the process exits 0, and new calls then fail at once. A call that
//! outlives `drain_timeout` is cut: its client sees an error at once, the report and stderr
//! say `1 connection cut`, and the exit code is 1.

/// The code tonic generates for `examples/proto/work.proto`.
#[allow(dead_code)]
mod work {
    include!("../../examples/proto/graceful.example.rs");
}

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use graceful_test_support::{LINE_TIMEOUT, Process, REQUEST_TIMEOUT, Signal};
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
use work::work_client::WorkClient;
use work::{SlowRequest, TicksRequest};

/// `Slow { ms: 1000 }` calls in flight at the signal.
const SLOW: usize = 20;
const SLOW_MS: u32 = 1000;
/// One `Slow { ms: 3000 }` call: still running well after the cancel, so that the refusal of
/// new connections is observed while the server drains, not after it exited.
const LONG_MS: u32 = 3000;
/// `Ticks` streams open at the signal.
const STREAMS: usize = 5;
const TICK_MS: u32 = 50;
/// Connections the calls and streams are spread over (the health probe has its own).
const CONNECTIONS: usize = 5;
/// The bound on the whole stop (generous: the default `GRACEFUL_TIMEOUT` is 20 s).
const EXIT_WITHIN: Duration = Duration::from_secs(20);
const WORK: &str = "graceful.example.Work";
const CANCEL_LINE: &str = "cancelled: the gRPC server drains";
const NOT_ACCEPTING: &str = "gRPC server no longer accepting";

/// A new connection to the server (tonic's `Channel`: it reconnects after a GOAWAY).
async fn connect(port: u16) -> Channel {
    Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .expect("a valid URI")
        .connect_timeout(REQUEST_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .connect()
        .await
        .unwrap_or_else(|error| panic!("cannot connect to 127.0.0.1:{port}: {error}"))
}

/// A channel that connects at the first call: for calls made once the server may be gone.
fn lazy(port: u16) -> Channel {
    Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .expect("a valid URI")
        .connect_timeout(REQUEST_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .connect_lazy()
}

async fn health(channel: &Channel, service: &str) -> Result<ServingStatus, Status> {
    let request = HealthCheckRequest {
        service: service.to_owned(),
    };
    let reply: HealthCheckResponse = HealthClient::new(channel.clone())
        .check(request)
        .await?
        .into_inner();
    Ok(reply.status())
}

async fn slow(channel: Channel, ms: u32) -> Result<u32, Status> {
    let reply = WorkClient::new(channel).slow(SlowRequest { ms }).await?;
    Ok(reply.into_inner().ms)
}

/// What a `Ticks` stream saw.
struct Ticks {
    /// The `n` of every tick, in order.
    seen: Vec<u64>,
    /// `Ok` if the stream ended with status OK.
    end: Result<(), Status>,
}

/// Opens a `Ticks` stream; once its first tick has come, reads it to its end on a task.
async fn open_ticks(channel: Channel) -> JoinHandle<Ticks> {
    let mut stream = WorkClient::new(channel)
        .ticks(TicksRequest { every_ms: TICK_MS })
        .await
        .expect("Ticks answers")
        .into_inner();
    let first = timeout(REQUEST_TIMEOUT, stream.message())
        .await
        .expect("a first tick within the request timeout")
        .expect("a first tick, not an error")
        .expect("a first tick, not the end");
    tokio::spawn(async move {
        let mut seen = vec![first.n];
        let end = loop {
            match timeout(REQUEST_TIMEOUT, stream.message()).await {
                Err(_) => break Err(Status::deadline_exceeded("no tick and no end")),
                Ok(Ok(Some(tick))) => seen.push(tick.n),
                Ok(Ok(None)) => break Ok(()),
                Ok(Err(status)) => break Err(status),
            }
        };
        Ticks { seen, end }
    })
}

/// Polls `Check` for the server (`""`) and the `Work` service until both answer
/// NOT_SERVING; returns when the second of them did. Fails on anything else than SERVING
/// before that.
async fn until_not_serving(channel: &Channel) -> Instant {
    let mut poll = tokio::time::interval(Duration::from_millis(10));
    let mut not_serving = [false; 2];
    loop {
        poll.tick().await;
        for (seen, service) in not_serving.iter_mut().zip(["", WORK]) {
            match timeout(REQUEST_TIMEOUT, health(channel, service)).await {
                Ok(Ok(ServingStatus::NotServing)) => *seen = true,
                Ok(Ok(ServingStatus::Serving)) => {}
                other => panic!("health of {service:?} during the drain delay: {other:?}"),
            }
        }
        if not_serving == [true; 2] {
            return Instant::now();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_turns_not_serving_then_every_call_and_stream_completes_ok() {
    let mut server =
        Process::start_listening("grpc_server", "http", &[("GRACEFUL_DRAIN_DELAY", "700ms")]).await;
    let port = server.port;

    // The health probe has a connection of its own.
    let probe = connect(port).await;
    for service in ["", WORK] {
        assert_eq!(
            health(&probe, service).await.expect("Check answers"),
            ServingStatus::Serving,
            "health of {service:?} before the signal"
        );
    }

    let mut channels = Vec::with_capacity(CONNECTIONS);
    for _ in 0..CONNECTIONS {
        channels.push(connect(port).await);
    }
    let calls: Vec<JoinHandle<(Result<u32, Status>, Instant)>> = (0..SLOW)
        .map(|i| {
            let channel = channels[i % CONNECTIONS].clone();
            tokio::spawn(async move { (slow(channel, SLOW_MS).await, Instant::now()) })
        })
        .collect();
    let long = tokio::spawn(slow(channels[0].clone(), LONG_MS));
    let mut streams = Vec::with_capacity(STREAMS);
    for i in 0..STREAMS {
        streams.push(open_ticks(channels[i % CONNECTIONS].clone()).await);
    }
    // Every call is in its handler, every stream has ticked: all in flight.
    server
        .wait_for_lines(
            |line| line.starts_with("slow ") && line.ends_with(" ms: started"),
            SLOW + 1,
            LINE_TIMEOUT,
        )
        .await;

    let signalled = server.signal(Signal::SIGTERM);
    let not_serving = until_not_serving(&probe).await;
    let cancel = server.wait_for_stdout(CANCEL_LINE, LINE_TIMEOUT).await;
    assert!(
        not_serving < cancel.at,
        "NOT_SERVING came {:?} after the signal, the cancel line {:?} after it: not during \
         the drain delay\n{}",
        not_serving - signalled,
        cancel.at - signalled,
        server.dump()
    );

    // At the cancel: the listener is closed while the long call still runs, and the probe's
    // connection, told to go away, finds no server to reconnect to.
    server
        .wait_for_stderr_line(|line| line.contains(NOT_ACCEPTING), LINE_TIMEOUT)
        .await;
    let refused = tokio::net::TcpStream::connect(("127.0.0.1", port)).await;
    assert!(
        !long.is_finished() && server.is_running(),
        "the check came after the drain; the long call should still run"
    );
    assert_eq!(
        refused.as_ref().map_err(std::io::Error::kind).err(),
        Some(ErrorKind::ConnectionRefused),
        "a new connection during the drain: {refused:?}"
    );
    // A call sent as the GOAWAY or the close crosses it fails with CANCELLED, or with the
    // GOAWAY itself (hyper's `GoAway(NO_ERROR, Remote)`, which tonic maps to INTERNAL); the
    // next one reconnects and is refused.
    let moved_away = timeout(REQUEST_TIMEOUT, async {
        loop {
            match health(&probe, "").await {
                Ok(ServingStatus::NotServing) => {}
                Err(status) if status.code() == Code::Cancelled => {}
                Err(status) if crossed_the_goaway(&status) => {}
                other => break other,
            }
        }
    })
    .await
    .expect("the probe's calls fail once the server has sent GOAWAY");
    assert_eq!(
        moved_away.as_ref().map_err(Status::code).err(),
        Some(Code::Unavailable),
        "a new call on a connection that got GOAWAY: {moved_away:?}"
    );

    let mut answered = 0;
    let mut last_answer = signalled;
    for call in calls {
        let (result, done) = call.await.expect("a call task does not panic");
        assert_eq!(
            result.as_ref().ok(),
            Some(&SLOW_MS),
            "a Slow call: {result:?}"
        );
        answered += 1;
        last_answer = last_answer.max(done);
    }
    let result = long.await.expect("a call task does not panic");
    assert_eq!(
        result.as_ref().ok(),
        Some(&LONG_MS),
        "the long call: {result:?}"
    );
    answered += 1;

    let mut ended_ok = 0;
    for stream in streams {
        let ticks = stream.await.expect("a stream task does not panic");
        assert!(
            ticks.end.is_ok(),
            "a Ticks stream ended with {:?}",
            ticks.end
        );
        let expected: Vec<u64> = (0..ticks.seen.len() as u64).collect();
        assert_eq!(ticks.seen, expected, "ticks in order, none lost");
        ended_ok += 1;
    }

    let exited = server.wait(EXIT_WITHIN).await;
    exited.assert_code(0);
    let stopped_in = signalled.elapsed();

    // Gone: new calls fail at once.
    let refused = tokio::net::TcpStream::connect(("127.0.0.1", port)).await;
    assert_eq!(
        refused.as_ref().map_err(std::io::Error::kind).err(),
        Some(ErrorKind::ConnectionRefused),
        "a new connection after the exit: {refused:?}"
    );
    let late = Instant::now();
    let after = slow(lazy(port), 1).await;
    assert_eq!(
        after.as_ref().map_err(Status::code).err(),
        Some(Code::Unavailable),
        "a call after the exit: {after:?}"
    );
    assert!(
        late.elapsed() < Duration::from_secs(5),
        "failed, but not at once"
    );

    println!(
        "{answered}/{} calls answered OK, {ended_ok}/{STREAMS} streams ended OK; \
         NOT_SERVING {:?} after SIGTERM; cancel at {:?}; last {SLOW_MS} ms call answered at \
         {:?}; exit 0 {stopped_in:?} after SIGTERM (the {LONG_MS} ms call)",
        SLOW + 1,
        not_serving - signalled,
        cancel.at - signalled,
        last_answer - signalled,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_longer_than_the_drain_timeout_is_cut_and_counted() {
    let mut server = Process::start_listening(
        "grpc_server",
        "http",
        &[("GRACEFUL_DRAIN_TIMEOUT", "500ms")],
    )
    .await;
    let channel = connect(server.port).await;
    let call = tokio::spawn(slow(channel, 10_000));
    server
        .wait_for_stdout("slow 10000 ms: started", LINE_TIMEOUT)
        .await;

    let signalled = server.signal(Signal::SIGTERM);
    let result = call.await.expect("the call task does not panic");
    let failed_in = signalled.elapsed();
    assert!(result.is_err(), "the call was answered: {result:?}");
    assert!(
        failed_in < Duration::from_secs(8),
        "the call failed {failed_in:?} after the signal: it should be cut at the drain \
         timeout, well before its 10 s"
    );

    let exited = server.wait(EXIT_WITHIN).await;
    exited.assert_code(1);
    assert!(
        exited
            .stderr
            .iter()
            .any(|line| line.contains("1 connection cut")),
        "stderr should say `1 connection cut`\n{exited}"
    );
    println!(
        "cut: the client saw {:?} {failed_in:?} after SIGTERM; exit 1",
        result.map_err(|status| status.code())
    );
}

/// In-process, with the server's own `Work`.
mod in_process {
    use std::sync::Arc;

    use tokio::sync::Notify;

    use super::*;
    use work::work_server::WorkServer;
    use work::{SlowReply, Tick};

    /// `Slow` as the example's, telling the test when a call has started.
    struct Work {
        started: Arc<Notify>,
    }

    #[tonic::async_trait]
    impl work::work_server::Work for Work {
        async fn slow(
            &self,
            request: tonic::Request<SlowRequest>,
        ) -> Result<tonic::Response<SlowReply>, Status> {
            let ms = request.into_inner().ms;
            self.started.notify_one();
            tokio::time::sleep(Duration::from_millis(ms.into())).await;
            Ok(tonic::Response::new(SlowReply { ms }))
        }

        type TicksStream = futures_util::stream::Empty<Result<Tick, Status>>;

        async fn ticks(
            &self,
            _: tonic::Request<TicksRequest>,
        ) -> Result<tonic::Response<Self::TicksStream>, Status> {
            Err(Status::unimplemented("not in this test"))
        }
    }

    async fn bind() -> (tokio::net::TcpListener, u16) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("a bound address").port();
        (listener, port)
    }

    /// The server takes any listener, as `graceful::http::serve` does: over a Unix-domain
    /// socket a call is answered, the health says SERVING, and at the cancel the server stops
    /// accepting (a new connection is refused) and ends with nothing cut.
    #[cfg(unix)]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_unix_domain_listener_is_served_and_drained() {
        use std::future::Future;
        use std::path::PathBuf;
        use std::pin::Pin;
        use std::task::{Context, Poll};

        use hyper_util::rt::TokioIo;

        /// tonic's connector: every connection to the socket at a path.
        #[derive(Clone)]
        struct Uds(PathBuf);

        impl tonic::codegen::Service<tonic::codegen::http::Uri> for Uds {
            type Response = TokioIo<tokio::net::UnixStream>;
            type Error = std::io::Error;
            type Future = Pin<Box<dyn Future<Output = std::io::Result<Self::Response>> + Send>>;

            fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
                Poll::Ready(Ok(()))
            }

            fn call(&mut self, _: tonic::codegen::http::Uri) -> Self::Future {
                let path = self.0.clone();
                Box::pin(
                    async move { Ok(TokioIo::new(tokio::net::UnixStream::connect(path).await?)) },
                )
            }
        }

        let dir = graceful_test_support::TempDir::new("grpc-unix");
        let path = dir.join("grpc.sock");
        let listener = tokio::net::UnixListener::bind(&path).expect("bind the socket");
        let service = WorkServer::new(Work {
            started: Arc::new(Notify::new()),
        });
        let connector = Uds(path.clone());
        let report = graceful::Builder::new()
            .signals([])
            .drain_timeout(Duration::from_secs(10))
            .run_async(|shutdown| async move {
                let server = graceful::grpc::Server::new().add_service(service);
                graceful::service("grpc", server.serve(listener));
                let channel = Endpoint::from_static("http://localhost")
                    .connect_with_connector(connector)
                    .await
                    .expect("a channel over the socket");
                let answered = timeout(REQUEST_TIMEOUT, slow(channel.clone(), 10))
                    .await
                    .expect("answered within the request timeout");
                assert_eq!(answered.expect("Slow answers"), 10);
                let health = HealthClient::new(channel)
                    .check(HealthCheckRequest {
                        service: String::new(),
                    })
                    .await
                    .expect("Check answers")
                    .into_inner();
                assert_eq!(health.status(), ServingStatus::Serving);
                shutdown.trigger();
                shutdown.cancelled().await;
            })
            .await
            .expect("a valid configuration");
        assert_eq!(report.connections_cut(), 0, "{report}");
        assert_eq!(report.exit_code(), 0, "{report}");
        let refused = tokio::net::UnixStream::connect(&path).await;
        assert!(
            refused.is_err(),
            "a connection was accepted after the server stopped"
        );
    }

    /// The process goes on after the report here, so a connection left open would still
    /// answer the call 10 s later: it must have been cut, not merely abandoned.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_connection_open_at_the_end_of_the_drain_is_closed_not_abandoned() {
        let (listener, port) = bind().await;
        let started = Arc::new(Notify::new());
        let service = WorkServer::new(Work {
            started: started.clone(),
        });
        let call = tokio::spawn(async move { slow(connect(port).await, 10_000).await });
        let report = graceful::Builder::new()
            .signals([])
            .drain_timeout(Duration::from_millis(300))
            .run_async(|shutdown| async move {
                let server = graceful::grpc::Server::new().add_service(service);
                graceful::service("grpc", server.serve(listener));
                started.notified().await;
                shutdown.trigger();
                shutdown.cancelled().await;
            })
            .await
            .expect("a valid configuration");
        assert_eq!(report.connections_cut(), 1, "{report}");
        assert_eq!(report.exit_code(), 1, "{report}");
        let result = timeout(Duration::from_secs(5), call)
            .await
            .expect("the cut call fails at once, not when the server would have answered")
            .expect("the call task does not panic");
        assert!(result.is_err(), "the call was answered: {result:?}");
    }

    /// A health `Watch` stream says NOT_SERVING at the trigger and ends with status OK at the
    /// cancel, so that it does not hold its connection open through the drain.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn health_watch_streams_say_not_serving_then_end_at_the_cancel() {
        let (listener, port) = bind().await;
        let report = graceful::Builder::new()
            .signals([])
            .drain_delay(Duration::from_millis(200))
            .drain_timeout(Duration::from_secs(10))
            .run_async(|shutdown| async move {
                let server = graceful::grpc::Server::new();
                graceful::service("grpc", server.serve(listener));
                let request = HealthCheckRequest {
                    service: String::new(),
                };
                let mut watch = HealthClient::new(connect(port).await)
                    .watch(request)
                    .await
                    .expect("Watch answers")
                    .into_inner();
                let mut next = async || {
                    timeout(REQUEST_TIMEOUT, watch.message())
                        .await
                        .expect("the Watch stream moves within the request timeout")
                };
                let first = next().await.expect("a status").expect("a first status");
                assert_eq!(first.status(), ServingStatus::Serving);
                shutdown.trigger();
                let second = next().await.expect("a status").expect("a second status");
                assert_eq!(second.status(), ServingStatus::NotServing);
                assert!(
                    !shutdown.is_cancelled(),
                    "NOT_SERVING came after the cancel"
                );
                let end = next().await;
                assert!(
                    shutdown.is_cancelled(),
                    "the stream ended before the cancel"
                );
                assert!(matches!(end, Ok(None)), "the stream ended with {end:?}");
            })
            .await
            .expect("a valid configuration");
        assert_eq!(report.exit_code(), 0, "{report}");
        assert_eq!(report.connections_cut(), 0, "{report}");
    }
}

/// Whether a call failed because it crossed the server's GOAWAY on its way out.
fn crossed_the_goaway(status: &Status) -> bool {
    status.code() == Code::Internal && format!("{status:?}").contains("GoAway")
}
