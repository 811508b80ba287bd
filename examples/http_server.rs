//! An axum server that stops without dropping a request: slow requests finish, event streams
//! end themselves, the readiness probe turns 503 before the server stops accepting, and a
//! hook closes the access log the server opened.
//!
//! - `/slow?ms=N` answers after N milliseconds (at most 60 000).
//! - `/events` is a server-sent-events stream: a tick now and every second.
//! - `/healthz` answers 200, or 503 once the shutdown has started, with the requests it sees:
//!   `ok: 3 requests in flight, 17 started`.
//! - `/shutdown` answers the run's snapshot as text (`Shutdown::snapshot`): the phase, the
//!   time left, the server's open connections and requests in flight, the tasks and hooks.
//!
//! Try it:
//!
//! ```text
//! cargo run --example http_server          # PORT=8080 to change the port (default 3000)
//! curl -N localhost:3000/events &          # a server-sent-events stream: one tick a second
//! curl 'localhost:3000/slow?ms=8000' &     # answers after 8 s
//! kill -TERM <pid>                         # or Ctrl-C in the server's terminal
//! curl -i localhost:3000/healthz           # within 2 s of the signal: 503
//! curl localhost:3000/shutdown              # phase: draining, 17.2s left to the deadline ...
//! ```
//!
//! On SIGTERM or SIGINT:
//! 1. `/healthz` answers 503 at once (`is_shutting_down()`), while the server still serves
//!    everything for `drain_delay` (2 s): time for a load balancer to take it out of rotation.
//!    Every response carries `Connection: close`, so keep-alive clients reconnect, elsewhere.
//! 2. At the cancel, the server (`graceful::http::serve`) stops accepting (new connections are
//!    refused), closes the idle keep-alive connections, every `/events` stream sends a last
//!    `shutdown` event and ends, and the requests in flight run on. An open stream is what
//!    keeps a server from ever stopping (axum #2673, hyper #2787): here each stream ends
//!    itself on `shutdown.cancelled()`.
//! 3. Once every connection has closed, `main` returns, and the `close_access_log` hook flushes
//!    and syncs the access log (`ACCESS_LOG`, default `access.log`). A request still running
//!    at `drain_timeout` (15 s) is cut instead: the report counts it (`1 connection cut`) and
//!    the exit code is 1.
//!
//! The whole stop takes at most 20 s (`GRACEFUL_TIMEOUT` to change it, as the other
//! `GRACEFUL_*` variables); the exit code is 0 when all of it went well.

use std::convert::Infallible;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::response::sse::{Event, Sse};
use axum::routing::get;
use futures_util::stream::{self, Stream};
use serde::Deserialize;
use tracing_subscriber::EnvFilter;

/// The longest `/slow` accepts.
const SLOW_MAX_MS: u64 = 60_000;
/// How often an `/events` stream sends a tick.
const TICK: Duration = Duration::from_secs(1);

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
    let log_path =
        std::env::var_os("ACCESS_LOG").map_or_else(|| "access.log".into(), PathBuf::from);
    let log = AccessLog::create(log_path)?;
    if ACCESS_LOG.set(log).is_err() {
        unreachable!("main runs once");
    }

    let app = App {
        shutdown: shutdown.clone(),
        requests: Arc::default(),
    };
    let app = Router::new()
        .route("/slow", get(slow))
        .route("/events", get(events))
        .route("/healthz", get(healthz))
        .route("/shutdown", get(snapshot))
        .layer(middleware::from_fn_with_state(app.clone(), track))
        .with_state(app);

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    println!(
        "pid {0}: stop with Ctrl-C or kill -TERM {0}",
        std::process::id()
    );

    let stop = shutdown.clone();
    tokio::spawn(async move {
        stop.cancelled().await;
        println!("cancelled: no longer accepting connections");
    });
    graceful::http::serve(listener, app).await?;
    println!("server stopped: every connection closed");
    Ok(())
}

/// What the handlers share.
#[derive(Clone)]
struct App {
    shutdown: graceful::Shutdown,
    requests: Arc<Requests>,
}

/// The requests other than `/healthz` and `/shutdown`, as `/healthz` reports them.
#[derive(Default)]
struct Requests {
    in_flight: AtomicUsize,
    started: AtomicU64,
}

#[derive(Deserialize)]
struct Slow {
    ms: u64,
}

/// `/slow?ms=N`: answers after N milliseconds.
async fn slow(Query(Slow { ms }): Query<Slow>) -> Result<String, (StatusCode, String)> {
    if ms > SLOW_MAX_MS {
        return Err((
            StatusCode::BAD_REQUEST,
            format!("ms must be at most {SLOW_MAX_MS}\n"),
        ));
    }
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Ok(format!("slept {ms} ms\n"))
}

/// `/events`: a tick now and every second; at the cancel, a `shutdown` event, then the end of
/// the stream, so that the connection can close. The `Shutdown` comes from the server, as an
/// extractor.
///
/// The stream ends at the cancel rather than at the signal: during `drain_delay` the instance
/// still serves, and a client told to reconnect then could land on it again.
async fn events(
    shutdown: graceful::Shutdown,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let ticks = tokio::time::interval(TICK);
    let stream = stream::unfold(Some((ticks, shutdown, 0_u64)), |state| async move {
        let (mut ticks, shutdown, n) = state?;
        tokio::select! {
            biased;
            () = shutdown.cancelled() => {
                let last = Event::default().event("shutdown").data("server stopping; reconnect");
                Some((Ok(last), None))
            }
            _ = ticks.tick() => {
                let tick = Event::default().event("tick").id(n.to_string()).data(n.to_string());
                Some((Ok(tick), Some((ticks, shutdown, n + 1))))
            }
        }
    });
    Sse::new(stream)
}

/// `/healthz`: 200 while serving; 503 from the moment the shutdown starts, through
/// `drain_delay`, so that load balancers stop sending traffic before the server stops
/// accepting it. The body says how many requests run, to watch a drain:
/// `ok: 12 requests in flight, 3400 started`.
async fn healthz(State(app): State<App>) -> (StatusCode, String) {
    let (status, state) = if app.shutdown.is_shutting_down() {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down")
    } else {
        (StatusCode::OK, "ok")
    };
    let in_flight = app.requests.in_flight.load(Ordering::Acquire);
    let started = app.requests.started.load(Ordering::Acquire);
    (
        status,
        format!("{state}: {in_flight} requests in flight, {started} started\n"),
    )
}

/// `/shutdown`: what the run is doing, one block of text (see `graceful::Snapshot`).
async fn snapshot(State(app): State<App>) -> String {
    format!("{}\n", app.shutdown.snapshot())
}

/// The access log the server opens in `main` and the `close_access_log` hook closes.
struct AccessLog {
    path: PathBuf,
    /// `None` once closed.
    writer: Mutex<Option<BufWriter<File>>>,
    lines: AtomicU64,
}

static ACCESS_LOG: OnceLock<AccessLog> = OnceLock::new();

impl AccessLog {
    fn create(path: PathBuf) -> std::io::Result<AccessLog> {
        let file = File::options().create(true).append(true).open(&path)?;
        Ok(AccessLog {
            path,
            writer: Mutex::new(Some(BufWriter::new(file))),
            lines: 0.into(),
        })
    }

    /// Appends one line (buffered: the hook flushes the rest).
    fn write(&self, line: std::fmt::Arguments<'_>) {
        let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(writer) = writer.as_mut() {
            match writeln!(writer, "{line}") {
                Ok(()) => {
                    self.lines.fetch_add(1, Ordering::Relaxed);
                }
                Err(error) => tracing::warn!(%error, "cannot write the access log"),
            }
        }
    }
}

/// Counts the requests (`/healthz` and `/shutdown` aside) and writes one access-log line per request:
/// method, path and query, status.
async fn track(State(app): State<App>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let uri = request.uri().clone();
    let watching = matches!(uri.path(), "/healthz" | "/shutdown");
    let _in_flight = (!watching).then(|| InFlight::enter(&app.requests));
    let response = next.run(request).await;
    if let Some(log) = ACCESS_LOG.get() {
        log.write(format_args!(
            "{method} {uri} {}",
            response.status().as_u16()
        ));
    }
    response
}

/// Counts a request in flight until dropped (also when hyper drops the request early).
struct InFlight(Arc<Requests>);

impl InFlight {
    fn enter(requests: &Arc<Requests>) -> InFlight {
        requests.started.fetch_add(1, Ordering::AcqRel);
        requests.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(requests.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Flushes and syncs the access log, then closes it. It runs after the drain, when every
/// connection has closed, so no request can still be writing to it. A plain `fn`: it runs on
/// a blocking thread, as file I/O should.
#[graceful::on_shutdown(order = 10, timeout = "5s")]
fn close_access_log() -> std::io::Result<()> {
    let Some(log) = ACCESS_LOG.get() else {
        return Ok(());
    };
    let Some(writer) = log.writer.lock().unwrap_or_else(|e| e.into_inner()).take() else {
        return Ok(());
    };
    let file = writer.into_inner().map_err(|error| error.into_error())?;
    file.sync_all()?;
    println!(
        "access log closed: {} lines in {}",
        log.lines.load(Ordering::Relaxed),
        log.path.display()
    );
    Ok(())
}
