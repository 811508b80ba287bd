//! By hand, with 0 no-op async hooks awaited one after another.
graceful_bench::by_hand_program!(hooks = 0, run = sequence, body = {});
