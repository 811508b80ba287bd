//! `graceful` with 1000 no-op async hooks, each in its own phase.
graceful_bench::graceful_program!(hooks = 1000, order = K, body = {});
