//! By hand, with the same 100 plain `fn` hooks called one after another.
graceful_bench::by_hand_blocking_program!(hooks = 100);
