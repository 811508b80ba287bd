//! The benchmark's router under `axum::serve` with `with_graceful_shutdown`.

use graceful_bench::servers;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(servers::address()).await?;
    let terminated = servers::terminated();
    servers::listening(&listener);
    axum::serve(listener, servers::router())
        .with_graceful_shutdown(terminated)
        .await
}
