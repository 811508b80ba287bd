//! By hand, with 10 no-op async hooks awaited one after another.
graceful_bench::by_hand_program!(hooks = 10, run = sequence, body = {});
