//! `tokio-graceful-shutdown` with 1000 subsystems that only wait for the shutdown.
graceful_bench::tgs_program!(subsystems = 1000, body = {});
