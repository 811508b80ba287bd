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
//! ..)`). Once it serves (`graceful::http::serve` says it is ready), the old process stops
//! accepting, finishes the requests in flight,
//! runs its hooks (which see `Reason::Upgrade`) and exits; the socket never closes, so no
//! connection is refused. If the new build exits or is not ready within `upgrade_timeout`, it
//! is stopped, the failure is logged, and the old process goes on serving.
//!
//! `STARTUP_DELAY_MS` makes it wait that long before it takes its socket, as a slow start would.
//! `FAIL_AFTER_LISTEN_MS` makes it fail that long after it took its socket, before it serves,
//! as a database it cannot reach would: an upgrade to such a build fails, the old process
//! serves on.
//!
//! It serves through the HTTP integration (`graceful::http::serve`): from the trigger on its
//! responses say `Connection: close`, so keep-alive clients reconnect, to the new process; at
//! the cancel a connection it accepted in the last moments, whose request is still on its way,
//! gets a second to bring it before the connection closes (during an upgrade the old process
//! accepts until the moment it hands over, so that window is hit on every upgrade under load).
//!
//! `UNIX_SOCKET=/path/app.sock` makes it serve on a Unix-domain socket too, named `http-unix`
//! (`graceful::listen_unix`): inherited across upgrades like the TCP one (the file stays the
//! same), a stale file from a crash replaced. It prints `also serving on unix:PATH` once
//! it does. A reverse proxy in front (nginx's `proxy_pass http://unix:/path/app.sock:`)
//! never sees it go.
//!
//! SIGTERM or SIGINT stop it as usual. Started by systemd with socket activation (a socket
//! named `http`, `FileDescriptorName=http`), it serves on that socket instead of binding one.

use std::time::Duration;

use axum::Router;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::routing::get;
use serde::Deserialize;
use tracing_subscriber::EnvFilter;

/// The longest `/slow` accepts.
const SLOW_MAX_MS: u64 = 60_000;

#[graceful::main(upgrade = "SIGHUP", timeout = "20s", drain_timeout = "15s")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
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
    let unix = match std::env::var_os("UNIX_SOCKET") {
        Some(path) => Some(graceful::listen_unix("http-unix", path)?),
        None => None,
    };
    // For the tests: a start that fails after the socket is taken.
    if let Ok(ms) = std::env::var("FAIL_AFTER_LISTEN_MS") {
        tokio::time::sleep(Duration::from_millis(ms.parse()?)).await;
        return Err("cannot reach the database (FAIL_AFTER_LISTEN_MS is set)".into());
    }
    let app = Router::new()
        .route("/pid", get(pid))
        .route("/slow", get(slow));
    println!("listening on http://{}", listener.local_addr()?);
    if let Some(unix) = unix {
        let path = unix.local_addr()?;
        let path = path.as_pathname().unwrap_or(std::path::Path::new("?"));
        println!("also serving on unix:{}", path.display());
        graceful::service("http-unix", graceful::http::serve(unix, app.clone()));
    }
    println!(
        "pid {0}: upgrade with kill -HUP {0}, stop with kill -TERM {0}",
        std::process::id()
    );
    // Ready (the old process hands over) once `serve` starts accepting. A program that serves
    // another way calls `graceful::ready()` itself.
    graceful::http::serve(listener, app).await?;
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
