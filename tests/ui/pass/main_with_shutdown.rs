// `main` may take the process-wide `Shutdown` handle.
#[graceful::main]
async fn main(shutdown: graceful::Shutdown) {
    assert!(!shutdown.is_shutting_down());
    assert!(!shutdown.is_cancelled());
    assert!(!graceful::shutdown().is_shutting_down());
}
