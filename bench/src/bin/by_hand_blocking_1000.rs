//! By hand, with the same 1000 plain `fn` hooks called one after another.
graceful_bench::by_hand_blocking_program!(hooks = 1000);
