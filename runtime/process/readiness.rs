//! Readiness: [`ready`], the moment the process accepts work, which an upgrade and systemd
//! wait for.

use std::sync::atomic::{AtomicBool, Ordering};

static READY: AtomicBool = AtomicBool::new(false);

/// Tells whoever waits that the service accepts work: the process it upgrades (which then
/// hands over and shuts down), or systemd (`READY=1`, with the `systemd` feature and
/// `NOTIFY_SOCKET` set). Sockets inherited from the process being upgraded that no
/// `graceful::listen` (feature `upgrade`) claimed are closed. Only the first call does
/// anything.
///
/// The rule: a process is ready when it calls `graceful::ready()`, or when
/// `graceful::http::serve` or `graceful::grpc::Server::serve` starts
/// its accept loop (with the `http` or `grpc` feature), whichever comes first, in `main` or in
/// a [`service`](crate::service). Listening alone is not ready: a new build that listens, then
/// fails before it serves (a database it cannot reach), exits before it is ready, and the
/// process it was to replace serves on. Call it yourself when the program serves another way
/// (its own accept loop, another framework), or has no socket at all; call it after the work
/// that must come first (a cache to warm) if that comes after the server starts: requests that
/// arrive meanwhile wait in the socket's queue, they are not refused.
///
/// ```no_run
/// #[graceful::main]
/// async fn main(shutdown: graceful::Shutdown) -> std::io::Result<()> {
///     // let listener = graceful::listen("http", "127.0.0.1:3000").await?;
///     // connect_to_the_database().await?; // a failure here leaves the old process serving
///     graceful::ready();
///     shutdown.cancelled().await;
///     Ok(())
/// }
/// ```
pub fn ready() {
    if READY.swap(true, Ordering::AcqRel) {
        return;
    }
    #[cfg(feature = "upgrade")]
    if crate::upgrade::sockets::tell_ready() {
        return;
    }
    crate::systemd::ready();
}
