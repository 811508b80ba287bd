//! `Builder::run_async` inside `#[tokio::main]`, upgrading on SIGHUP: HTTP on
//! `graceful::listen("http", ..)` at `PORT`, `/pid` answering the pid. Once it listens, each
//! process prints whether its environment is still the one it was started with (`environment
//! unchanged` or `environment changed: NAMES`): the caller's threads may read the environment
//! while a run starts, so taking the sockets must not change it. An upgraded process then
//! starts a copy of itself with `PROBE=1`, which binds a socket of its own, listens on `http`
//! and prints `probe listens on PORT, its own socket open` (or `lost`): a program the service
//! starts must not take the service's sockets, nor lose its own to them.

use std::collections::BTreeMap;
use std::ffi::OsString;

use axum::Router;
use axum::routing::get;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    if graceful_process_tests::flag("PROBE") {
        // Its own socket first, at the descriptor where the service's first socket was.
        let own = std::net::TcpListener::bind("127.0.0.1:0")?;
        let listener = graceful::listen("http", "127.0.0.1:0").await?;
        own.set_nonblocking(true)?;
        let open =
            matches!(own.accept(), Err(error) if error.kind() == std::io::ErrorKind::WouldBlock);
        println!(
            "probe listens on {}, its own socket {}",
            listener.local_addr()?.port(),
            if open { "open" } else { "lost" }
        );
        return Ok(());
    }
    graceful::Builder::new()
        .upgrade(graceful::Signal::SIGHUP)
        .run_async(serve)
        .await
        .expect("a valid configuration");
    println!("run returned (pid {})", std::process::id());
    Ok(())
}

async fn serve(_shutdown: graceful::Shutdown) -> std::io::Result<()> {
    let port: u16 = graceful_process_tests::env("PORT")
        .and_then(|port| port.parse().ok())
        .unwrap_or(3000);
    let listener = graceful::listen("http", ("127.0.0.1", port)).await?;
    let pid = std::process::id();
    match changed() {
        names if names.is_empty() => println!("environment unchanged (pid {pid})"),
        names => println!("environment changed: {} (pid {pid})", names.join(" ")),
    }
    if std::env::var_os("GRACEFUL_UPGRADE_FROM").is_some() {
        let status = tokio::process::Command::new(std::env::current_exe()?)
            .env("PROBE", "1")
            .status()
            .await?;
        println!("probe exited with {status}");
    }
    let app = Router::new().route("/pid", get(move || async move { pid.to_string() }));
    println!("listening on {port} (pid {pid})");
    graceful::http::serve(listener, app).await
}

/// The names of the variables that differ between the environment the process was started
/// with (`/proc/self/environ`) and its environment now.
fn changed() -> Vec<String> {
    let started = std::fs::read("/proc/self/environ").expect("/proc/self/environ");
    let started: BTreeMap<OsString, OsString> = started
        .split(|byte| *byte == 0)
        .filter(|entry| !entry.is_empty())
        .filter_map(|entry| {
            let text = String::from_utf8_lossy(entry).into_owned();
            let (name, value) = text.split_once('=')?;
            Some((name.into(), value.into()))
        })
        .collect();
    let now: BTreeMap<OsString, OsString> = std::env::vars_os().collect();
    let mut names: Vec<String> = started
        .keys()
        .chain(now.keys())
        .filter(|name| started.get(*name) != now.get(*name))
        .map(|name| name.to_string_lossy().into_owned())
        .collect();
    names.sort();
    names.dedup();
    names
}
