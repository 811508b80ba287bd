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

/// The name, in `LISTEN_FDNAMES`, of the readiness channel an upgraded process inherits;
/// reserved: no [`listen`] may use it.
pub(crate) const CHANNEL: &str = "graceful-upgrade";

/// The longest name systemd accepts in `FileDescriptorName=`.
const NAME_MAX: usize = 255;

/// Set by an upgrading process in the new process's environment: its own pid. The new process
/// trusts the channel only when its parent is that process.
#[cfg(unix)]
pub(crate) const ENV_UPGRADE_FROM: &str = "GRACEFUL_UPGRADE_FROM";

static READY: AtomicBool = AtomicBool::new(false);

static TABLE: Mutex<Table> = Mutex::new(Table::new());

/// Where an inherited socket came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// The process this one upgrades.
    Upgrade,
    /// systemd's socket activation (or anything that speaks its protocol).
    Systemd,
}

impl Origin {
    fn describe(self) -> &'static str {
        match self {
            Origin::Upgrade => "inherited from the process it upgrades",
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
/// move to another address, use another name). A name is 1 to 255 bytes without `:` or
/// control characters, as systemd's `FileDescriptorName=`; `graceful-upgrade` is reserved.
/// Every socket handed out here is passed on to
/// the new process of an upgrade, and stays open in this process until its shutdown starts,
/// even if the listener is dropped earlier. Inherited sockets that no `listen` asks for are
/// closed when the process is [ready](crate::ready()), so that no connection waits on a socket
/// nobody accepts on.
///
/// Listening does not make the process ready: serving does. An upgrade hands over once the
/// new process calls [`graceful::ready()`](crate::ready()), or once `graceful::http::serve`
/// or `graceful::grpc::Server` starts accepting (with the `http` or `grpc` feature), wherever
/// that runs (`main`, a [`service`](crate::service)). A new build that fails between its
/// `listen` and then (a database it cannot reach) exits before it is ready, and the old
/// process serves on.
///
/// # Errors
/// Binding errors, as [`TcpListener::bind`]; `AddrInUse` if `name` is already listening;
/// `InvalidInput` for a name that cannot cross an upgrade.
///
/// # Panics
/// Outside a tokio runtime.
///
/// ```no_run
/// #[graceful::main(upgrade = "SIGHUP")]
/// async fn main(shutdown: graceful::Shutdown) -> std::io::Result<()> {
///     let listener = graceful::listen("http", "127.0.0.1:3000").await?;
///     graceful::ready(); // or serve with graceful::http::serve, which says it
///     loop {
///         tokio::select! {
///             _ = shutdown.cancelled() => return Ok(()),
///             accepted = listener.accept() => drop(accepted?),
///         }
///     }
/// }
/// ```
pub async fn listen(name: &str, addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
    check_name(name)?;
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

/// A name crosses an upgrade in `LISTEN_FDNAMES`, `:`-separated, under systemd's rules.
fn check_name(name: &str) -> io::Result<()> {
    let problem = if name.is_empty() {
        Some("it is empty")
    } else if name.len() > NAME_MAX {
        Some("it is longer than 255 bytes")
    } else if name.contains(':') {
        Some("it contains ':', which separates the names in LISTEN_FDNAMES")
    } else if name.chars().any(char::is_control) {
        Some("it contains a control character")
    } else if name == CHANNEL {
        Some("graceful reserves it for the upgrade's readiness channel")
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(problem) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "graceful::listen: {name:?} cannot name a socket: {problem}; a name is 1 to 255 \
                 bytes without ':' or control characters (systemd's FileDescriptorName= rules), \
                 other than {CHANNEL:?}, e.g. \"http\" or \"admin-v2\""
            ),
        )),
    }
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
/// The rule: a process is ready when it calls `graceful::ready()`, or when
/// `graceful::http::serve` or `graceful::grpc::Server::serve` starts its accept loop (with the
/// `http` or `grpc` feature), whichever comes first, in `main` or in a
/// [`service`](crate::service). Listening alone is not ready: a new build that listens, then
/// fails before it serves (a database it cannot reach), exits before it is ready, and the
/// process it was to replace serves on. Call it yourself when the program serves another way
/// (its own accept loop, another framework), or has no socket at all; call it after the work
/// that must come first (a cache to warm) if that comes after the server starts: requests
/// that arrive meanwhile wait in the socket's queue, they are not refused.
///
/// ```no_run
/// #[graceful::main(upgrade = "SIGHUP")]
/// async fn main(shutdown: graceful::Shutdown) -> std::io::Result<()> {
///     let listener = graceful::listen("http", "127.0.0.1:3000").await?;
///     // connect_to_the_database().await?; // a failure here leaves the old process serving
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
