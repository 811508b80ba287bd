//! Two services that live and die together, as Go's errgroup runs them: an HTTP server and a
//! background worker, each started with `graceful::service`. The first to fail stops the
//! other, and the exit code says so.
//!
//! - `/slow?ms=N` answers after N milliseconds (at most 60 000), served by the service `http`.
//! - The service `worker` does a job every 50 ms until the cancel.
//!
//! Try it:
//!
//! ```text
//! cargo run --example services                    # PORT=8080 to change the port (default 3000)
//! curl 'localhost:3000/slow?ms=3000' &            # in flight when the worker fails
//! FAIL_SERVICE=worker cargo run --example services   # the worker fails after 500 ms
//! ```
//!
//! With `FAIL_SERVICE=worker`, the worker fails after `FAIL_AFTER_MS` (default 500) with the
//! error `injected failure` (`FAIL_MODE=panic`: it panics instead). That starts the shutdown:
//! the reason names the worker and its error, the HTTP server stops accepting and finishes the
//! requests in flight, and the process exits 1 (101 for the panic): a supervisor restarts it.
//! On SIGTERM with nothing failing, both services drain and the exit code is 0.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use serde::Deserialize;
use tracing_subscriber::EnvFilter;

/// The longest `/slow` accepts.
const SLOW_MAX_MS: u64 = 60_000;
/// How often the worker does a job.
const JOB_EVERY: Duration = Duration::from_millis(50);

#[graceful::main(timeout = "20s", drain_timeout = "10s")]
async fn main(shutdown: graceful::Shutdown) -> Result<(), String> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    let port = env_number("PORT", 3000)?;
    let port = u16::try_from(port).map_err(|_| format!("PORT={port} is not a port number"))?;
    let failure = Failure::from_env()?;

    let in_flight = Arc::new(AtomicUsize::new(0));
    let app = Router::new()
        .route("/slow", get(slow))
        .with_state(in_flight.clone());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|error| format!("cannot listen on 127.0.0.1:{port}: {error}"))?;
    let address = listener.local_addr().map_err(|error| error.to_string())?;

    graceful::service("http", graceful::http::serve(listener, app));
    graceful::service("worker", worker(shutdown.clone(), failure, in_flight));
    println!("listening on http://{address}");

    // Both services run until the shutdown, whoever starts it: a signal, or a failed service.
    shutdown.cancelled().await;
    Ok(())
}

/// What `FAIL_SERVICE`, `FAIL_AFTER_MS` and `FAIL_MODE` ask the worker to do.
#[derive(Clone, Copy)]
enum Failure {
    Never,
    Err(Duration),
    Panic(Duration),
}

impl Failure {
    fn from_env() -> Result<Failure, String> {
        match std::env::var("FAIL_SERVICE").as_deref() {
            Err(_) => return Ok(Failure::Never),
            Ok("worker") => {}
            Ok(other) => {
                return Err(format!(
                    "FAIL_SERVICE={other:?}: only the service `worker` can be made to fail"
                ));
            }
        }
        let after = Duration::from_millis(env_number("FAIL_AFTER_MS", 500)?);
        match std::env::var("FAIL_MODE").as_deref() {
            Err(_) | Ok("error") => Ok(Failure::Err(after)),
            Ok("panic") => Ok(Failure::Panic(after)),
            Ok(other) => Err(format!(
                "FAIL_MODE={other:?}: expected `error` (the default) or `panic`"
            )),
        }
    }
}

/// A job every 50 ms until the cancel, or until the injected failure.
async fn worker(
    shutdown: graceful::Shutdown,
    failure: Failure,
    in_flight: Arc<AtomicUsize>,
) -> Result<(), String> {
    let fail_at = match failure {
        Failure::Never => None,
        Failure::Err(after) | Failure::Panic(after) => Some(tokio::time::Instant::now() + after),
    };
    let mut jobs = 0u64;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = sleep_until_some(fail_at) => {
                let requests = in_flight.load(Ordering::SeqCst);
                println!("worker: failing now, {requests} requests in flight");
                if let Failure::Panic(_) = failure {
                    panic!("injected failure");
                }
                return Err("injected failure".to_owned());
            }
            _ = tokio::time::sleep(JOB_EVERY) => jobs += 1,
        }
    }
    println!("worker: stopped after {jobs} jobs");
    Ok(())
}

/// Sleeps until `at`, or forever without one.
async fn sleep_until_some(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[derive(Deserialize)]
struct Slow {
    ms: u64,
}

/// `/slow?ms=N`: answers after N milliseconds.
async fn slow(
    State(in_flight): State<Arc<AtomicUsize>>,
    Query(Slow { ms }): Query<Slow>,
) -> Result<String, (StatusCode, String)> {
    if ms > SLOW_MAX_MS {
        return Err((
            StatusCode::BAD_REQUEST,
            format!("ms must be at most {SLOW_MAX_MS}\n"),
        ));
    }
    in_flight.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    in_flight.fetch_sub(1, Ordering::SeqCst);
    Ok(format!("slept {ms} ms\n"))
}

/// A number from the environment, or `default` when unset.
fn env_number(name: &str, default: u64) -> Result<u64, String> {
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .map_err(|error| format!("{name}={value:?} is not a number: {error}")),
        Err(_) => Ok(default),
    }
}
