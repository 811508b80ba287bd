//! By hand, with 1000 no-op async hooks awaited one after another.
graceful_bench::by_hand_program!(hooks = 1000, run = sequence, body = {});
