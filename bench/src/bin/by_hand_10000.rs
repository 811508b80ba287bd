//! By hand, with 10000 no-op async hooks awaited one after another.
graceful_bench::by_hand_program!(hooks = 10000, run = sequence, body = {});
