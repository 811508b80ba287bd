//! `graceful` with 10 plain `fn` hooks, each in its own order: one row on one blocking thread.
graceful_bench::graceful_blocking_program!(hooks = 10);
