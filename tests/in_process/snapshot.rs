//! `Shutdown::snapshot` taken inside a run: before the trigger, during the drain, during a
//! hook, and with an HTTP server and a gRPC server holding a request in flight for a real
//! client; and a gRPC server dropped with an idle connection.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use graceful::{Builder, Phase, Snapshot};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Notify, oneshot};

fn builder() -> Builder {
    Builder::new().signals([])
}

#[test]
fn before_the_trigger_the_snapshot_lists_the_tasks_and_the_hooks_to_come() {
    let seen = Arc::new(Mutex::new(None::<Snapshot>));
    let report = builder()
        .run_to_report({
            let seen = seen.clone();
            |shutdown| async move {
                shutdown.register(10, "flush", async {});
                shutdown.register(20, "close", async {});
                let stop = Arc::new(Notify::new());
                let waiting = stop.clone();
                shutdown.spawn(async move { waiting.notified().await });
                *seen.lock().unwrap() = Some(shutdown.snapshot());
                stop.notify_one();
            }
        })
        .unwrap();
    assert_eq!(report.exit_code(), 0);
    let snapshot = seen.lock().unwrap().take().unwrap();
    assert_eq!(snapshot.phase(), Phase::Running);
    assert_eq!(snapshot.reason(), None);
    assert_eq!(snapshot.time_left(), None);
    assert_eq!(snapshot.tasks_running(), 1);
    assert_eq!(snapshot.tasks().len(), 1);
    assert!(
        snapshot.tasks()[0].starts_with("task spawned at tests/in_process/snapshot.rs:"),
        "{:?}",
        snapshot.tasks()
    );
    assert_eq!(snapshot.hooks_done(), 0);
    assert!(snapshot.hooks_running().is_empty());
    assert_eq!(
        snapshot.hooks_left(),
        ["flush (order 10)", "close (order 20)"]
    );
    assert!(snapshot.servers().is_empty());
    let text = snapshot.to_string();
    assert!(text.starts_with("phase: running\n"), "{text}");
    assert!(text.contains("tasks running: 1 (task spawned at"), "{text}");
    assert!(
        text.ends_with("hooks: 0 done, none running, left: flush (order 10), close (order 20)"),
        "{text}"
    );
}

#[test]
fn a_task_that_waits_sees_the_drain_and_a_hook_sees_itself_running() {
    let in_drain = Arc::new(Mutex::new(None::<Snapshot>));
    let in_hook = Arc::new(Mutex::new(None::<Snapshot>));
    let report = builder()
        .timeout(Duration::from_secs(30))
        .drain_delay(Duration::ZERO)
        .run_to_report({
            let (in_drain, in_hook) = (in_drain.clone(), in_hook.clone());
            |shutdown| async move {
                let handle = shutdown.clone();
                shutdown.spawn(async move {
                    handle.cancelled().await;
                    *in_drain.lock().unwrap() = Some(handle.snapshot());
                });
                shutdown.register(1, "first", async {});
                let handle = shutdown.clone();
                shutdown.register(2, "second", async move {
                    *in_hook.lock().unwrap() = Some(handle.snapshot());
                });
                shutdown.register(3, "third", async {});
                shutdown.trigger();
            }
        })
        .unwrap();
    assert_eq!(report.exit_code(), 0);

    let drain = in_drain.lock().unwrap().take().unwrap();
    assert_eq!(drain.phase(), Phase::Draining);
    assert_eq!(drain.reason(), Some(&graceful::Reason::Triggered));
    let left = drain.time_left().unwrap();
    assert!(
        left > Duration::from_secs(20) && left <= Duration::from_secs(30),
        "{left:?}"
    );
    // The task that takes it is still running.
    assert_eq!(drain.tasks_running(), 1);
    assert_eq!(drain.hooks_done(), 0);
    assert_eq!(drain.hooks_left().len(), 3);

    let hook = in_hook.lock().unwrap().take().unwrap();
    assert_eq!(hook.phase(), Phase::Hooks);
    assert_eq!(hook.tasks_running(), 0);
    assert_eq!(hook.hooks_done(), 1);
    assert_eq!(hook.hooks_running(), ["second"]);
    assert_eq!(hook.hooks_left(), ["third (order 3)"]);
    assert!(hook.time_left().unwrap() > Duration::from_secs(20));
    let text = hook.to_string();
    assert!(text.starts_with("phase: hooks (triggered), "), "{text}");
    assert!(
        text.ends_with("hooks: 1 done, running: second, left: third (order 3)"),
        "{text}"
    );
}

/// Sends `GET /slow` on a new connection and returns the response, as text.
async fn get_slow(port: u16) -> String {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    stream
        .write_all(b"GET /slow HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

#[test]
fn an_http_server_shows_its_open_connection_and_its_request_in_flight() {
    let report = builder()
        .timeout(Duration::from_secs(30))
        .run_to_report(|shutdown| async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let (started, handler_started) = oneshot::channel::<()>();
            let started = Arc::new(Mutex::new(Some(started)));
            let release = Arc::new(Notify::new());
            let app = axum::Router::new().route(
                "/slow",
                axum::routing::get({
                    let release = release.clone();
                    move || async move {
                        if let Some(started) = started.lock().unwrap().take() {
                            let _ = started.send(());
                        }
                        release.notified().await;
                        "done"
                    }
                }),
            );
            graceful::service("http", graceful::http::serve(listener, app));
            let client = tokio::spawn(get_slow(port));
            handler_started.await.unwrap();

            let busy = shutdown.snapshot();
            let [server] = busy.servers() else {
                panic!("one server expected: {busy:?}")
            };
            assert_eq!(server.label(), format!("http 127.0.0.1:{port}"));
            assert_eq!(server.open_connections(), 1);
            assert_eq!(server.requests_in_flight(), Some(1));
            assert!(
                busy.to_string().contains(&format!(
                    "server http 127.0.0.1:{port}: 1 open connection, 1 request in flight\n"
                )),
                "{busy}"
            );
            assert!(
                busy.tasks().contains(&"service http".to_owned()),
                "{busy:?}"
            );

            release.notify_one();
            let response = client.await.unwrap();
            assert!(response.ends_with("done"), "{response}");
            // The connection closes (`Connection: close`): nothing open, nothing in flight.
            let waited = Instant::now();
            loop {
                let servers = shutdown.snapshot().servers().to_vec();
                assert_eq!(servers.len(), 1);
                if servers[0].open_connections() == 0 {
                    assert_eq!(servers[0].requests_in_flight(), Some(0));
                    break;
                }
                assert!(waited.elapsed() < Duration::from_secs(10), "{servers:?}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            shutdown.trigger();
            shutdown.cancelled().await;
        })
        .unwrap();
    assert_eq!(report.exit_code(), 0, "{report:?}");
}

mod work {
    include!("../../examples/proto/graceful.example.rs");
}

/// The `Work` service of the examples, whose `Slow` holds its call until the shutdown's cancel.
struct HeldWork(graceful::Shutdown);

#[tonic::async_trait]
impl work::work_server::Work for HeldWork {
    async fn slow(
        &self,
        request: tonic::Request<work::SlowRequest>,
    ) -> Result<tonic::Response<work::SlowReply>, tonic::Status> {
        self.0.cancelled().await;
        Ok(tonic::Response::new(work::SlowReply {
            ms: request.into_inner().ms,
        }))
    }

    type TicksStream = futures_util::stream::Empty<Result<work::Tick, tonic::Status>>;

    async fn ticks(
        &self,
        _: tonic::Request<work::TicksRequest>,
    ) -> Result<tonic::Response<Self::TicksStream>, tonic::Status> {
        Err(tonic::Status::unimplemented("not here"))
    }
}

/// Waits until the server labelled `label` shows `(open connections, calls in flight)`.
async fn until_shown(shutdown: &graceful::Shutdown, label: &str, wanted: (usize, Option<usize>)) {
    let waited = Instant::now();
    loop {
        let snapshot = shutdown.snapshot();
        let shown = snapshot
            .servers()
            .iter()
            .find(|server| server.label() == label)
            .map(|server| (server.open_connections(), server.requests_in_flight()));
        if shown == Some(wanted) {
            return;
        }
        assert!(waited.elapsed() < Duration::from_secs(10), "{snapshot:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[test]
fn a_grpc_server_shows_its_open_connections_and_its_calls_in_flight() {
    let report = builder()
        .timeout(Duration::from_secs(30))
        .drain_delay(Duration::ZERO)
        .run_to_report(|shutdown| async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let server = graceful::grpc::Server::new().add_service(
                work::work_server::WorkServer::new(HeldWork(shutdown.clone())),
            );
            graceful::service("grpc", server.serve(listener));
            let label = format!("grpc 127.0.0.1:{port}");
            // A client that connects and sends nothing: an open connection, no call.
            let idle = tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .unwrap();
            until_shown(&shutdown, &label, (1, Some(0))).await;
            let text = shutdown.snapshot().to_string();
            assert!(
                text.contains(&format!(
                    "server {label}: 1 open connection, 0 requests in flight\n"
                )),
                "{text}"
            );
            drop(idle);
            // A call held until the cancel: one connection, one call in flight.
            let channel =
                tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
                    .unwrap()
                    .connect()
                    .await
                    .unwrap();
            let call = tokio::spawn(async move {
                work::work_client::WorkClient::new(channel)
                    .slow(work::SlowRequest { ms: 7 })
                    .await
                    .map(|reply| reply.into_inner().ms)
            });
            until_shown(&shutdown, &label, (1, Some(1))).await;
            // By the hooks the call has been answered and the server has ended.
            let handle = shutdown.clone();
            shutdown.register(1, "servers gone", async move {
                match handle.snapshot().servers() {
                    [] => Ok(()),
                    servers => Err(format!("still registered: {servers:?}")),
                }
            });
            shutdown.trigger();
            shutdown.cancelled().await;
            assert_eq!(call.await.unwrap().unwrap(), 7);
        })
        .unwrap();
    assert_eq!(report.exit_code(), 0, "{report:?}");
    assert_eq!(
        report.hooks()[0].outcome(),
        &graceful::HookOutcome::Returned
    );
}

/// A gRPC server dropped after the trigger while its only connection is idle (the call it
/// carried was answered) has cut nothing: the run is clean, as for HTTP.
#[test]
fn dropping_a_grpc_server_with_an_idle_connection_is_not_a_cut() {
    let report = builder()
        .run_to_report(|shutdown| async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let server = graceful::grpc::Server::new()
                .add_service(work::work_server::WorkServer::new(HeldWork(shutdown.clone())))
                .serve(listener);
            let label = format!("grpc 127.0.0.1:{port}");
            let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
                .unwrap()
                .connect_lazy();
            let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
            tokio::select! {
                served = server => panic!("the server ended first: {served:?}"),
                () = async {
                    // One call answered (its connection was accepted): the connection stays
                    // open, idle.
                    let request = tonic_health::pb::HealthCheckRequest { service: String::new() };
                    health.check(request).await.unwrap();
                    let open = shutdown.snapshot().servers().iter().find(|server| server.label() == label).map(|server| server.open_connections());
                    assert_eq!(open, Some(1));
                    // Dropped once the shutdown has started, the connection still idle.
                    shutdown.trigger();
                } => {}
            }
            // The server is dropped here, its connection idle.
            drop(channel);
        })
        .unwrap();
    assert_eq!(report.connections_cut(), 0, "{report:?}");
    assert_eq!(report.exit_code(), 0, "{report:?}");
}
