//! The listening sockets of the process, by name: those it inherited (from the process it
//! upgrades, or from systemd's socket activation), and those [`listen`] handed out, which an
//! upgrade passes on to the new process. And readiness: [`ready`].
//!
//! Both ways in use systemd's protocol: the sockets are file descriptors 3, 4, ... of the new
//! process, `LISTEN_FDS` counts them and `LISTEN_FDNAMES` names them. An upgraded process also
//! gets, under the reserved name [`CHANNEL`], one end of a datagram socket pair: the channel on
//! which it tells the process it replaces that it is ready.
//!
//! The inherited sockets are taken once per process, as early as possible: by
//! [`Builder::run`](crate::Builder::run) before it starts any thread (taking them unsets
//! `LISTEN_FDS` and `LISTEN_PID`, which is only safe while no other thread reads the
//! environment), otherwise on the first [`listen`]. Each is marked close-on-exec, so that a
//! program the service starts does not hold the port open.

use std::io;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::{TcpListener, ToSocketAddrs};

use crate::shutdown::Shutdown;
use crate::tasks::lock;

/// The name, in `LISTEN_FDNAMES`, of the readiness channel an upgraded process inherits.
#[cfg(unix)]
pub(crate) const CHANNEL: &str = "graceful-upgrade";

/// Set by an upgrading process in the new process's environment: its own pid. The new process
/// trusts the channel only when its parent is that process.
#[cfg(unix)]
pub(crate) const ENV_UPGRADE_FROM: &str = "GRACEFUL_UPGRADE_FROM";

/// Whether a socket has been handed out by [`listen`]; read at each wait of the main body
/// until the process is ready.
static LISTENED: AtomicBool = AtomicBool::new(false);
static READY: AtomicBool = AtomicBool::new(false);

static TABLE: Mutex<Table> = Mutex::new(Table::new());

/// Where an inherited socket came from. Sockets are inherited on Unix only: elsewhere there is
/// no origin, and no inherited socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// The process this one upgrades.
    #[cfg(unix)]
    Upgrade,
    /// systemd's socket activation (or anything that speaks its protocol).
    #[cfg(unix)]
    Systemd,
}

impl Origin {
    fn describe(self) -> &'static str {
        match self {
            #[cfg(unix)]
            Origin::Upgrade => "inherited from the process it upgrades",
            #[cfg(unix)]
            Origin::Systemd => "passed by socket activation",
        }
    }
}

struct Inherited {
    name: String,
    listener: std::net::TcpListener,
    origin: Origin,
}

struct Table {
    /// Whether the environment has been read.
    taken: bool,
    /// Inherited sockets no [`listen`] has claimed yet.
    inherited: Vec<Inherited>,
    /// The sockets [`listen`] handed out, each a duplicate of the listener's descriptor: what
    /// an upgrade passes on. Released when the shutdown starts.
    #[cfg(unix)]
    listening: Vec<(String, std::os::fd::OwnedFd)>,
    #[cfg(not(unix))]
    listening: Vec<(String, ())>,
    /// Whether the release at the shutdown is arranged.
    release_armed: bool,
    /// The readiness channel to the process this one upgrades.
    #[cfg(unix)]
    channel: Option<std::os::unix::net::UnixDatagram>,
}

impl Table {
    const fn new() -> Self {
        Table {
            taken: false,
            inherited: Vec::new(),
            listening: Vec::new(),
            release_armed: false,
            #[cfg(unix)]
            channel: None,
        }
    }
}

/// Takes the inherited sockets, once per process. [`Builder::run`](crate::Builder::run) calls it
/// before it starts a thread.
pub(crate) fn take_inherited() {
    take(&mut lock(&TABLE));
}

#[cfg(unix)]
fn take(table: &mut Table) {
    if std::mem::replace(&mut table.taken, true) {
        return;
    }
    let Some(count) = std::env::var("LISTEN_FDS").ok() else {
        return;
    };
    let names: Vec<String> = std::env::var("LISTEN_FDNAMES")
        .map(|names| names.split(':').map(str::to_owned).collect())
        .unwrap_or_default();
    // The variable alone proves nothing: a process started by the one it upgrades has it in
    // its environment, and so may that process's other children.
    let upgraded = std::env::var(ENV_UPGRADE_FROM)
        .ok()
        .and_then(|pid| pid.parse::<u32>().ok())
        .is_some_and(|pid| pid == std::os::unix::process::parent_id())
        && names.iter().any(|name| name == CHANNEL);
    let origin = if upgraded {
        Origin::Upgrade
    } else {
        Origin::Systemd
    };
    // Checks LISTEN_PID, unsets LISTEN_FDS and LISTEN_PID; marks each socket close-on-exec.
    let mut fds = listenfd::ListenFd::from_env();
    tracing::debug!(target: "graceful", count, names = ?names, ?origin, "inherited sockets");
    for index in 0..fds.len() {
        let name = names
            .get(index)
            .filter(|name| !name.is_empty())
            .cloned()
            .unwrap_or_else(|| "unknown".to_owned());
        if upgraded && name == CHANNEL {
            match fds.take_unix_datagram(index) {
                Ok(channel) => table.channel = channel,
                Err(error) => {
                    tracing::warn!(target: "graceful", %error, "the upgrade's readiness channel is unusable")
                }
            }
            continue;
        }
        match fds.take_tcp_listener(index) {
            Ok(Some(listener)) => table.inherited.push(Inherited {
                name,
                listener,
                origin,
            }),
            Ok(None) => {}
            Err(error) => {
                tracing::debug!(target: "graceful", index, name, %error, "inherited descriptor left alone: not a TCP listener");
            }
        }
    }
}

#[cfg(not(unix))]
fn take(table: &mut Table) {
    table.taken = true;
}

/// Listens on the socket named `name`: the one inherited from the process this one upgrades,
/// or passed by systemd's socket activation (`LISTEN_FDS`, `LISTEN_FDNAMES`) under that name;
/// otherwise a new socket bound to `addr`.
///
/// The name is what identifies the socket across an upgrade: the new build's
/// `listen("http", ..)` gets the old build's `"http"` socket, whatever address it asks for (to
/// move to another address, use another name). Every socket handed out here is passed on to
/// the new process of an upgrade, and stays open in this process until its shutdown starts,
/// even if the listener is dropped earlier. Inherited sockets that no `listen` asks for are
/// closed when the process is [ready](crate::ready()), so that no connection waits on a socket
/// nobody accepts on.
///
/// # Errors
/// Binding errors, as [`TcpListener::bind`]; `AddrInUse` if `name` is already listening.
///
/// # Panics
/// Outside a tokio runtime.
///
/// ```no_run
/// #[graceful::main(upgrade = "SIGHUP")]
/// async fn main(shutdown: graceful::Shutdown) -> std::io::Result<()> {
///     let listener = graceful::listen("http", "127.0.0.1:3000").await?;
///     loop {
///         tokio::select! {
///             _ = shutdown.cancelled() => return Ok(()),
///             accepted = listener.accept() => drop(accepted?),
///         }
///     }
/// }
/// ```
pub async fn listen(name: &str, addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
    let inherited = {
        let mut table = lock(&TABLE);
        take(&mut table);
        if table
            .listening
            .iter()
            .any(|(listening, _)| listening == name)
        {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("graceful::listen: the socket named {name:?} is already listening"),
            ));
        }
        let position = table
            .inherited
            .iter()
            .position(|socket| socket.name == name);
        position.map(|position| table.inherited.remove(position))
    };
    let listener = match inherited {
        Some(Inherited {
            listener, origin, ..
        }) => {
            // Non-blocking is a property of the socket, shared with the process it came from
            // (which uses tokio too): never set it back to blocking.
            listener.set_nonblocking(true)?;
            let listener = TcpListener::from_std(listener)?;
            tracing::info!(target: "graceful", name, addr = %display_addr(&listener), "listening on a socket {}", origin.describe());
            listener
        }
        None => TcpListener::bind(addr).await?,
    };
    register(name, &listener)?;
    Ok(listener)
}

fn display_addr(listener: &TcpListener) -> String {
    listener
        .local_addr()
        .map_or_else(|_| "?".to_owned(), |addr| addr.to_string())
}

/// Records a socket handed out, and arranges its release at the shutdown.
fn register(name: &str, listener: &TcpListener) -> io::Result<()> {
    #[cfg(unix)]
    let kept = std::os::fd::AsFd::as_fd(listener).try_clone_to_owned()?;
    #[cfg(not(unix))]
    let kept = {
        let _ = listener;
    };
    let arm = {
        let mut table = lock(&TABLE);
        table.listening.push((name.to_owned(), kept));
        !std::mem::replace(&mut table.release_armed, true)
    };
    LISTENED.store(true, Ordering::Release);
    if arm {
        if let Some(shutdown) = Shutdown::try_current() {
            // At the trigger the process no longer hands its sockets on; once the server drops
            // its listener, new connections are refused rather than left waiting.
            tokio::spawn(async move {
                shutdown.shutting_down().await;
                release();
            });
        }
    }
    Ok(())
}

fn release() {
    let mut table = lock(&TABLE);
    table.listening.clear();
    table.inherited.clear();
}

/// Duplicates of the sockets handed out, with their names, for the new process of an upgrade.
#[cfg(unix)]
pub(crate) fn for_upgrade() -> io::Result<Vec<(String, std::os::fd::OwnedFd)>> {
    let table = lock(&TABLE);
    table
        .listening
        .iter()
        .map(|(name, fd)| Ok((name.clone(), fd.try_clone()?)))
        .collect()
}

/// Tells whoever waits that the service accepts work: the process it upgrades (which then
/// hands over and shuts down), or systemd (`READY=1`, with the `systemd` feature and
/// `NOTIFY_SOCKET` set). Inherited sockets that no [`listen`](crate::listen) claimed are
/// closed. Only the first call does anything.
///
/// A program that never calls it is ready the first time its main body waits after a
/// `graceful::listen` returned: for a server that listens then serves, the moment it starts
/// accepting. Call it yourself when the service is ready before (a program without
/// `listen`) or after that (a cache to warm before serving; a request that arrives in between
/// waits in the socket's queue, it is not refused).
///
/// ```no_run
/// #[graceful::main(upgrade = "SIGHUP")]
/// async fn main(shutdown: graceful::Shutdown) -> std::io::Result<()> {
///     let listener = graceful::listen("http", "127.0.0.1:3000").await?;
///     // warm_the_cache().await;
///     graceful::ready();
///     # drop(listener);
///     shutdown.cancelled().await;
///     Ok(())
/// }
/// ```
pub fn ready() {
    if READY.swap(true, Ordering::AcqRel) {
        return;
    }
    let (unclaimed, channel) = {
        let mut table = lock(&TABLE);
        take(&mut table);
        #[cfg(unix)]
        let channel = table.channel.take();
        #[cfg(not(unix))]
        let channel = None::<()>;
        (std::mem::take(&mut table.inherited), channel)
    };
    for socket in unclaimed {
        tracing::warn!(target: "graceful", name = socket.name, "closing a socket {}: no graceful::listen asked for it", socket.origin.describe());
    }
    match channel {
        #[cfg(unix)]
        Some(channel) => match channel.send(READY_MESSAGE) {
            Ok(_) => tracing::debug!(target: "graceful", "ready: told the process being upgraded"),
            Err(error) => {
                tracing::warn!(target: "graceful", %error, "ready, but the process being upgraded is gone")
            }
        },
        #[cfg(not(unix))]
        Some(()) => {}
        None => crate::systemd::ready(),
    }
}

/// What a new process sends on the channel once ready.
#[cfg(unix)]
pub(crate) const READY_MESSAGE: &[u8] = b"READY=1";

/// Whether the process is ready.
pub(crate) fn is_ready() -> bool {
    READY.load(Ordering::Acquire)
}

/// The main body, made ready (see [`ready`]) the first time it waits after a [`listen`].
pub(crate) struct ReadyWhenServing<F: ?Sized>(pub(crate) std::pin::Pin<Box<F>>);

impl<F: std::future::Future + ?Sized> std::future::Future for ReadyWhenServing<F> {
    type Output = F::Output;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        let poll = self.0.as_mut().poll(cx);
        if poll.is_pending() && !is_ready() && LISTENED.load(Ordering::Acquire) {
            ready();
        }
        poll
    }
}
