//! By hand, with 100 hooks of 100 ms run concurrently on a `JoinSet`.
graceful_bench::by_hand_program!(
    hooks = 100,
    run = concurrent,
    body = {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
);
