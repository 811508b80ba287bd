//! `tokio-graceful-shutdown` with 0 subsystems that only wait for the shutdown.
graceful_bench::tgs_program!(subsystems = 0, body = {});
