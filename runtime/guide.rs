//! The guides: how `graceful` behaves, how to use each part, and how to run it in production.
//!
//! This module holds no code. Each submodule is one guide, kept as a Markdown file in the
//! package's `docs/` folder, so that its examples are checked by `cargo test --doc`.
//!
//! | guide | what it covers |
//! | --- | --- |
//! | [`sequence`] | what happens when the process is asked to stop; the exit codes |
//! | [`escape_hatches`] | a blocked runtime, the second signal, the one exit, a dead stderr, idle runs, which signals |
//! | [`configuration`] | the settings, the attribute, the `Builder` and the `GRACEFUL_*` variables, and the rules between them |
//! | [`hooks`] | `#[graceful::on_shutdown]`, hooks registered at run time, hooks in library crates |
//! | [`tasks`] | the `Shutdown` handle, tracked tasks, the reason and the report |
//! | [`observability`] | the `tracing` events, the stderr lines, the snapshot, the metrics, values kept until the exit |
//! | [`services`] | services that live and die together |
//! | [`http`] | the HTTP integration (feature `http`) |
//! | [`grpc`] | the gRPC integration (feature `grpc`) |
//! | [`upgrades`] | zero-downtime upgrades and socket activation (feature `upgrade`) |
//! | [`kubernetes`] | the grace period, `drain_delay`, readiness, streams |
//! | [`systemd`] | `Type=notify`, the stop timeout, exit statuses (feature `systemd`) |
//! | [`docker`] | `docker stop`, PID 1, the exec form |
//! | [`windows`] | console events, and what is Unix only |

#[doc = include_str!("../docs/sequence.md")]
pub mod sequence {}

#[doc = include_str!("../docs/escape_hatches.md")]
pub mod escape_hatches {}

#[doc = include_str!("../docs/configuration.md")]
pub mod configuration {}

#[doc = include_str!("../docs/hooks.md")]
pub mod hooks {}

#[doc = include_str!("../docs/tasks.md")]
pub mod tasks {}

#[doc = include_str!("../docs/observability.md")]
pub mod observability {}

#[doc = include_str!("../docs/services.md")]
pub mod services {}

#[doc = include_str!("../docs/http.md")]
pub mod http {}

#[doc = include_str!("../docs/grpc.md")]
pub mod grpc {}

#[doc = include_str!("../docs/upgrades.md")]
pub mod upgrades {}

#[doc = include_str!("../docs/kubernetes.md")]
pub mod kubernetes {}

#[doc = include_str!("../docs/systemd.md")]
pub mod systemd {}

#[doc = include_str!("../docs/docker.md")]
pub mod docker {}

#[doc = include_str!("../docs/windows.md")]
pub mod windows {}
