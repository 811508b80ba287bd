//! A server that upgrades to a new build without refusing a connection or failing a request.
//!
//! - `/pid` answers the id of the process that serves it.
//! - `/slow?ms=N` answers after N milliseconds (at most 60 000).
//!
//! Try it:
//!
//! ```text
//! cargo build --example zero_downtime
//! target/debug/examples/zero_downtime &      # PORT=8080 to change the port (default 3000)
//! curl localhost:3000/pid                    # the first process's id
//! cargo build --example zero_downtime        # after a change: a new build at the same path
//! kill -HUP <pid>                            # the new build takes over
//! curl localhost:3000/pid                    # the new process's id
//! ```
//!
//! On SIGHUP the binary at the path the process was started from runs again, with the same
//! arguments and environment, and inherits the listening socket (`graceful::listen("http",
//! ..)`). Once it accepts, the old process stops accepting, finishes the requests in flight,
//! runs its hooks (which see `Reason::Upgrade`) and exits; the socket never closes, so no
//! connection is refused. If the new build exits or is not ready within `upgrade_timeout`, it
//! is stopped, the failure is logged, and the old process goes on serving.
//!
//! `STARTUP_DELAY_MS` makes it wait that long before it takes its socket, as a slow start would.
//!
//! It serves HTTP/1.1 with an accept loop of its own rather than `axum::serve`: at the cancel,
//! `axum::serve(..).with_graceful_shutdown(..)` drops a connection it has accepted but whose
//! first bytes it has not read yet (hyper-util cancels its protocol detection outright, and
//! hyper's HTTP/1 connection closes one that has read nothing), and the request on it is lost.
//! During an upgrade the old process accepts until the moment it hands over, so that window is
//! hit on every upgrade under load; here each connection reads its first request before the
//! cancel can close it.
//!
//! SIGTERM or SIGINT stop it as usual. Started by systemd with socket activation (a socket
//! named `http`, `FileDescriptorName=http`), it serves on that socket instead of binding one.

use std::pin::pin;
use std::time::Duration;

use axum::Router;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::routing::get;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use serde::Deserialize;
use tracing_subscriber::EnvFilter;

/// How long a new connection may take to send its first bytes before it is served like any
/// other (see the accept loop).
const FIRST_REQUEST_WAIT: Duration = Duration::from_secs(1);
/// The longest `/slow` accepts.
const SLOW_MAX_MS: u64 = 60_000;

#[graceful::main(upgrade = "SIGHUP", timeout = "20s", drain_timeout = "15s")]
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
    // For the tests: a slow start, before the socket is taken.
    if let Ok(ms) = std::env::var("STARTUP_DELAY_MS") {
        tokio::time::sleep(Duration::from_millis(ms.parse()?)).await;
    }
    let listener = graceful::listen("http", ("127.0.0.1", port)).await?;
    let app = Router::new()
        .route("/pid", get(pid))
        .route("/slow", get(slow));
    println!("listening on http://{}", listener.local_addr()?);
    println!(
        "pid {0}: upgrade with kill -HUP {0}, stop with kill -TERM {0}",
        std::process::id()
    );
    // Ready (the old process hands over) the first time `main` waits from here: once it
    // accepts. Call `graceful::ready()` to say so at another moment.
    let service = TowerToHyperService::new(app);
    loop {
        let stream = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of descriptors, a connection reset while queued: not fatal.
                    tracing::warn!(%error, "accept failed");
                    continue;
                }
            },
        };
        let service = service.clone();
        let stop = shutdown.clone();
        graceful::spawn(async move {
            // hyper closes a connection that has read nothing yet when asked to shut down. One
            // accepted in the last moments before an upgrade carries a request the client sent
            // to the socket, not to this process: wait for it, so that hyper reads it first.
            let _ = tokio::time::timeout(FIRST_REQUEST_WAIT, stream.readable()).await;
            let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            let mut connection = pin!(connection);
            let served = tokio::select! {
                biased;
                served = connection.as_mut() => served,
                () = stop.cancelled() => {
                    // An idle keep-alive connection closes now; one with a request gets its
                    // answer, with `Connection: close`.
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(error) = served {
                tracing::debug!(%error, "connection ended with an error");
            }
        });
    }
    // The listener closes here; the tracked connections drain.
    Ok(())
}

/// `/pid`: the id of the process that answers.
async fn pid() -> String {
    std::process::id().to_string()
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

/// Runs last in every shutdown. After an upgrade the service goes on in the new process:
/// a hook that deregisters the instance from service discovery would skip its work here.
#[graceful::on_shutdown(order = 100)]
fn farewell(ctx: graceful::HookContext) {
    let pid = std::process::id();
    if ctx.reason() == graceful::Reason::Upgrade {
        println!("pid {pid}: handed over to the new process");
    } else {
        println!("pid {pid}: stopped ({})", ctx.reason());
    }
}
