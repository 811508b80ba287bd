//! The process and what surrounds it: the signals that ask it to stop and the thread that
//! listens for them, the escape hatches that end it whatever the program does (the second
//! signal, the deadline's watchdog), the one way out with its code, the values kept until
//! then, the best-effort stderr lines, and what the service manager is told (readiness,
//! systemd's notifications).
//!
//! Platform code is a file per platform where it differs (the listener); elsewhere a few
//! `cfg` lines.

pub(crate) mod exit;
pub(crate) mod keep;
pub(crate) mod listener;
pub(crate) mod readiness;
pub(crate) mod signal;
pub(crate) mod stderr;
pub(crate) mod systemd;
pub(crate) mod watchdog;
