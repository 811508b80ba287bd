//! `graceful` with 100 hooks of 100 ms sharing one order: one phase, run concurrently.
graceful_bench::graceful_program!(
    hooks = 100,
    order = 0,
    body = {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
);
