// Every option of `#[graceful::main]` but `crate` (see `crate_reexport.rs`), in every
// duration form.
#[graceful::main(
    timeout = "1m 30s",
    drain_timeout = "1.5s",
    drain_delay = "10ms",
    signals = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"],
    force_exit = false,
    flavor = "multi_thread",
    worker_threads = 2,
)]
async fn main(shutdown: graceful::Shutdown) {
    let flavor = tokio::runtime::Handle::current().runtime_flavor();
    assert_eq!(flavor, tokio::runtime::RuntimeFlavor::MultiThread);
    assert_eq!(tokio::runtime::Handle::current().metrics().num_workers(), 2);
    assert!(!shutdown.is_shutting_down());
}
