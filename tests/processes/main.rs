//! The examples as real processes, on real sockets, under real signals and real clients; and
//! this binary run again as a child where the process must start with something set (systemd's
//! variables, a service that listens). One binary, so that the suite links once; each module
//! is one concern, named after what it drives. The harness is `graceful-test-support`.
//!
//! `fleet` needs `haproxy` and `hey`: its tests are ignored here and run by `.ci/fleet`.

mod file_logging;
#[cfg(unix)]
mod fleet;
mod grpc_drain;
mod http_drain;
mod http_integration;
mod kubernetes;
mod nothing_lost;
#[cfg(unix)]
mod quickstart;
mod run_time_hooks;
mod services_example;
#[cfg(target_os = "linux")]
mod socket_activation;
#[cfg(unix)]
mod systemd;
#[cfg(unix)]
mod upgrade;
mod worker_pool;
