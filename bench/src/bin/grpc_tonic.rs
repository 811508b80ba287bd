//! One unary gRPC method (`graceful.example.Work/Slow`) under tonic's `serve_with_shutdown`:
//! its listener bound first (to print the ready line once it is bound), with the
//! `TCP_NODELAY` that `serve_with_shutdown` sets on the listener it binds itself.

use tonic::transport::server::TcpIncoming;

use graceful_bench::servers::{self, Work, work::work_server::WorkServer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind(servers::address()).await?;
    let terminated = servers::terminated();
    servers::listening(&listener);
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    tonic::transport::Server::builder()
        .add_service(WorkServer::new(Work))
        .serve_with_incoming_shutdown(incoming, terminated)
        .await?;
    Ok(())
}
