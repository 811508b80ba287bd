//! What the servers of the serving benchmark share (`serve_*` and `grpc_*` in `src/bin`): the
//! one router, the port, the ready line, and the unary gRPC method.
//!
//! | binary | serves with |
//! | --- | --- |
//! | `serve_graceful` | `graceful::http::serve` under `#[graceful::main]` |
//! | `serve_axum` | `axum::serve(..).with_graceful_shutdown(..)` |
//! | `serve_hyper` | hyper-util's auto builder, each connection watched by its `GracefulShutdown` |
//! | `grpc_graceful` | `graceful::grpc::Server` under `#[graceful::main]` |
//! | `grpc_tonic` | tonic's `Server::serve_with_shutdown` |
//!
//! Each binds `127.0.0.1:$PORT` (0, the default, for any free port), prints
//! [`LISTENING`] followed by its address once it is bound, serves until SIGTERM, drains and
//! exits 0.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::routing::get;

/// The start of the ready line: `listening on http://127.0.0.1:PORT`.
pub const LISTENING: &str = "listening on http://";

/// The body of `/`.
pub const HELLO: &str = "hello";

/// The requests `/held` holds.
static HELD: AtomicUsize = AtomicUsize::new(0);

/// The router of every HTTP server: `/` answers [`HELLO`]; `/held` never answers (a request
/// held in flight until the server cuts its connection), and `/held/count` answers how many
/// `/held` has taken.
pub fn router() -> Router {
    Router::new()
        .route("/", get(|| async { HELLO }))
        .route(
            "/held",
            get(|| async {
                HELD.fetch_add(1, Ordering::Relaxed);
                std::future::pending::<&'static str>().await
            }),
        )
        .route(
            "/held/count",
            get(|| async { HELD.load(Ordering::Relaxed).to_string() }),
        )
}

/// `127.0.0.1:$PORT` (`PORT` unset: 0, any free port).
///
/// # Panics
/// If `PORT` is not a port number.
pub fn address() -> SocketAddr {
    let port = match std::env::var("PORT") {
        Ok(port) => port
            .parse()
            .unwrap_or_else(|e| panic!("PORT={port:?} is not a port number: {e}")),
        Err(_) => 0,
    };
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Prints the ready line for `listener`'s address (stdout is line-buffered: it leaves at once).
///
/// # Panics
/// If the listener has no local address.
pub fn listening(listener: &tokio::net::TcpListener) {
    let addr = listener
        .local_addr()
        .expect("a bound listener has an address");
    println!("{LISTENING}{addr}");
}

/// Installs SIGTERM and SIGINT handlers now (call it before the ready line: a signal sent
/// once the line is out must not find the default action) and resolves at the first of
/// them: the shutdown signal of the servers that are not graceful's.
///
/// # Panics
/// If the signal handlers cannot be installed (outside a tokio runtime).
pub fn terminated() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    }
}

/// The code tonic generates for `proto/work.proto` (the example's service), at build time.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod work {
    include!(concat!(env!("OUT_DIR"), "/graceful.example.rs"));
}

/// The gRPC path of the unary method the benchmark calls.
pub const GRPC_PATH: &str = "/graceful.example.Work/Slow";

/// `graceful.example.Work` for the benchmark: `Slow` answers its `ms` at once (no sleep, no
/// output), `Ticks` is not served.
#[derive(Clone, Copy, Debug, Default)]
pub struct Work;

#[tonic::async_trait]
impl work::work_server::Work for Work {
    async fn slow(
        &self,
        request: tonic::Request<work::SlowRequest>,
    ) -> Result<tonic::Response<work::SlowReply>, tonic::Status> {
        let ms = request.into_inner().ms;
        Ok(tonic::Response::new(work::SlowReply { ms }))
    }

    type TicksStream = tonic::codegen::tokio_stream::Empty<Result<work::Tick, tonic::Status>>;

    async fn ticks(
        &self,
        _request: tonic::Request<work::TicksRequest>,
    ) -> Result<tonic::Response<Self::TicksStream>, tonic::Status> {
        Err(tonic::Status::unimplemented("not served by the benchmark"))
    }
}
