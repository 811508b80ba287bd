//! The benchmark's router under `graceful::http::serve`.

use graceful_bench::servers;

#[graceful::main(drain_delay = "0s")]
async fn main() -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(servers::address()).await?;
    servers::listening(&listener);
    graceful::http::serve(listener, servers::router()).await
}
