//! A tonic gRPC server that stops without failing a call: its health turns NOT_SERVING
//! before it stops accepting, calls in flight finish, streams end themselves with status OK.
//!
//! It serves `graceful.example.Work` (`examples/proto/work.proto`) and `grpc.health.v1.Health`:
//! - `Slow { ms }` answers `{ ms }` after `ms` milliseconds (at most 60 000), and prints
//!   `slow N ms: started` when it starts;
//! - `Ticks { every_ms }` streams `Tick { n }` (n = 0, 1, 2...), one now and one every
//!   `every_ms`, until the cancel; then the stream ends with status OK.
//!
//! Try it (with grpcurl; the server has no reflection, so grpcurl reads the proto):
//!
//! ```text
//! cargo run --example grpc_server      # PORT=50051 to change the port (default 3000)
//! cd examples/proto
//! grpcurl -plaintext -proto work.proto -d '{"every_ms": 1000}' localhost:3000 graceful.example.Work/Ticks &
//! grpcurl -plaintext -proto work.proto -d '{"ms": 8000}' localhost:3000 graceful.example.Work/Slow &
//! kill -TERM <pid>                     # or Ctrl-C in the server's terminal
//! grpc-health-probe -addr localhost:3000   # within 2 s of the signal: NOT_SERVING
//! ```
//!
//! On SIGTERM or SIGINT:
//! 1. The health of `graceful.example.Work` and of the server (`""`) turns NOT_SERVING at
//!    once, while the server still serves everything for `drain_delay` (2 s): time for
//!    clients and load balancers that probe it to move away.
//! 2. At the cancel, the server closes its listener (new connections are refused) and sends
//!    every connection a GOAWAY; each `Ticks` stream ends with status OK; the `Slow` calls in
//!    flight run on.
//! 3. Once every connection has closed, the `grpc` service ends and the process exits 0. A
//!    call still running at `drain_timeout` (15 s) is cut instead: its client sees an error at
//!    once, the report says `1 connection cut`, and the exit code is 1.
//!
//! The whole stop takes at most 20 s (`GRACEFUL_TIMEOUT` to change it, as the other
//! `GRACEFUL_*` variables).

use std::pin::Pin;
use std::time::Duration;

use futures_util::stream::{self, Stream};
use tonic::{Request, Response, Status};
use tracing_subscriber::EnvFilter;

/// The code tonic generates for `examples/proto/work.proto`, committed (see
/// `tests/in_process/grpc_codegen.rs`).
mod work {
    include!("proto/graceful.example.rs");
}

use work::work_server::WorkServer;
use work::{SlowReply, SlowRequest, Tick, TicksRequest};

/// The longest `Slow` accepts.
const SLOW_MAX_MS: u32 = 60_000;

#[graceful::main(timeout = "20s", drain_timeout = "15s", drain_delay = "2s")]
async fn main(shutdown: graceful::Shutdown) -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port
            .parse()
            .map_err(|error| format!("PORT={port:?} is not a port number: {error}"))?,
        Err(_) => 3000,
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let work = Work {
        shutdown: shutdown.clone(),
    };
    let server = graceful::grpc::Server::new().add_service(WorkServer::new(work));
    println!("listening on http://{}", listener.local_addr()?);
    println!(
        "pid {0}: stop with Ctrl-C or kill -TERM {0}",
        std::process::id()
    );

    // The server is a service: if it fails, the program stops; at the shutdown, the drain
    // waits for it (at most `drain_timeout`), then cuts what is left.
    graceful::service("grpc", server.serve(listener));
    shutdown.cancelled().await;
    println!("cancelled: the gRPC server drains");
    Ok(())
}

/// `graceful.example.Work`.
struct Work {
    shutdown: graceful::Shutdown,
}

type TickStream = Pin<Box<dyn Stream<Item = Result<Tick, Status>> + Send>>;

#[tonic::async_trait]
impl work::work_server::Work for Work {
    /// Sleeps `ms`, answers `ms`.
    async fn slow(&self, request: Request<SlowRequest>) -> Result<Response<SlowReply>, Status> {
        let ms = request.into_inner().ms;
        if ms > SLOW_MAX_MS {
            return Err(Status::invalid_argument(format!(
                "ms must be at most {SLOW_MAX_MS}"
            )));
        }
        println!("slow {ms} ms: started");
        tokio::time::sleep(Duration::from_millis(ms.into())).await;
        Ok(Response::new(SlowReply { ms }))
    }

    type TicksStream = TickStream;

    /// A `Tick` now and every `every_ms` until the cancel; then the end of the stream
    /// (status OK), so that the connection can close.
    ///
    /// The stream ends at the cancel rather than at the signal: during `drain_delay` the
    /// instance still serves, and a client told to reconnect then could land on it again.
    async fn ticks(&self, request: Request<TicksRequest>) -> Result<Response<TickStream>, Status> {
        let every_ms = request.into_inner().every_ms;
        if every_ms == 0 {
            return Err(Status::invalid_argument("every_ms must be at least 1"));
        }
        let ticks = tokio::time::interval(Duration::from_millis(every_ms.into()));
        let shutdown = self.shutdown.clone();
        let stream = stream::unfold((ticks, shutdown, 0_u64), |state| async move {
            let (mut ticks, shutdown, n) = state;
            tokio::select! {
                biased;
                () = shutdown.cancelled() => None,
                _ = ticks.tick() => Some((Ok(Tick { n }), (ticks, shutdown, n + 1))),
            }
        });
        Ok(Response::new(Box::pin(stream)))
    }
}
