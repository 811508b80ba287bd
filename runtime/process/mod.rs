//! The process's escape hatches and its ways out: the thread that listens for the signals (the
//! first starts the shutdown, the next forces the exit), the deadline's watchdog, the one exit
//! with its code, and readiness (what an upgrading parent and systemd are told). They sit above
//! the shutdown's state; the leaves they use (`signal`, `stderr`, `keep`, `systemd`) are
//! modules of their own below it.
//!
//! Platform code is a file per platform where it differs (the listener); elsewhere a few
//! `cfg` lines.

pub(crate) mod exit;
pub(crate) mod listener;
pub(crate) mod readiness;
pub(crate) mod watchdog;
