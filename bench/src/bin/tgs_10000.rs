//! `tokio-graceful-shutdown` with 10000 subsystems that only wait for the shutdown.
graceful_bench::tgs_program!(subsystems = 10000, body = {});
