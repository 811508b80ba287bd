//! The benchmark's router under hyper-util's auto builder (HTTP/1 and HTTP/2), each connection
//! watched by hyper-util's `GracefulShutdown`: on SIGTERM the listener closes, every connection
//! is shut down gracefully, and the process waits for them all.

use std::pin::pin;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;

use graceful_bench::servers;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(servers::address()).await?;
    let terminated = servers::terminated();
    servers::listening(&listener);
    let router = servers::router();
    let builder = auto::Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    let mut terminated = pin!(terminated);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                // An accept error is one connection's (or a full table): try again.
                let Ok((stream, _)) = accepted else { continue };
                let service = TowerToHyperService::new(router.clone());
                let connection = builder
                    .serve_connection(TokioIo::new(stream), service)
                    .into_owned();
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    let _ = connection.await;
                });
            }
            () = &mut terminated => break,
        }
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
