//! The start-up baseline: a bare `#[tokio::main]` that prints the ready line and waits. It
//! handles no signal: SIGTERM kills it, so only its start-up and memory are measured.

#[tokio::main]
async fn main() {
    graceful_bench::ready();
    std::future::pending::<()>().await;
}
