//! `tokio-graceful-shutdown` with 100 subsystems that each take 100 ms to stop.
graceful_bench::tgs_program!(
    subsystems = 100,
    body = {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
);
