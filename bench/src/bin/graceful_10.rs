//! `graceful` with 10 no-op async hooks, each in its own phase.
graceful_bench::graceful_program!(hooks = 10, order = K, body = {});
