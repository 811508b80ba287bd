//! One unary gRPC method (`graceful.example.Work/Slow`) under `graceful::grpc::Server`.

use graceful_bench::servers::{self, Work, work::work_server::WorkServer};

#[graceful::main(drain_delay = "0s")]
async fn main(shutdown: graceful::Shutdown) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(servers::address()).await?;
    servers::listening(&listener);
    let server = graceful::grpc::Server::new().add_service(WorkServer::new(Work));
    graceful::service("grpc", server.serve(listener));
    shutdown.cancelled().await;
    Ok(())
}
