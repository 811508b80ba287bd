//! `graceful` with 100 plain `fn` hooks, each in its own order: one row on one blocking thread.
graceful_bench::graceful_blocking_program!(hooks = 100);
