//! `graceful` with 0 no-op async hooks, each in its own phase.
graceful_bench::graceful_program!(hooks = 0, order = K, body = {});
