//! `graceful` with 10000 no-op async hooks, each in its own phase.
graceful_bench::graceful_program!(hooks = 10000, order = K, body = {});
