//! What the settings of [`graceful`](https://docs.rs/graceful) may be, written once for the two
//! places that read them: `#[graceful::main]` and `#[graceful::on_shutdown]` at compile time,
//! and `graceful::Builder` with the `GRACEFUL_*` environment variables at start-up.
//!
//! - [`duration`]: the grammar of a duration, humantime's (`"500ms"`, `"1m 30s"`, `"1500msec"`).
//! - [`signal`]: the signal names, which of them may stop or upgrade the process, and why the
//!   others may not.
//! - [`settings`]: the rules between settings, such as "`drain_timeout` is not longer than
//!   `timeout`".
//!
//! Each rule returns its message without saying where the value was written: the attribute
//! puts it on the literal, the runtime names the builder method or the variable. Not for use
//! on its own: its API follows `graceful`'s needs.
//!
//! ```
//! use std::time::Duration;
//!
//! assert_eq!(graceful_rules::duration::parse("1500msec"), Ok(Duration::from_millis(1500)));
//! assert_eq!(graceful_rules::signal::lookup("SIGTERM"), Ok(graceful_rules::signal::StopSignal::Term));
//! ```
#![warn(missing_docs)]

pub mod duration;
pub mod settings;
pub mod signal;

#[cfg(test)]
mod fuzz;
