//! The listening sockets of the process, by name: those it inherited (from the process it
//! upgrades, or from systemd's socket activation), and those [`listen`] and [`listen_unix`]
//! handed out, TCP and Unix-domain alike, which an upgrade passes on to the new process. And
//! readiness: [`ready`](crate::ready()).
//!
//! Both ways in pass the sockets as file descriptors 3, 4, ... of the new process, named in
//! order, `:`-separated. Socket activation uses systemd's variables (`LISTEN_FDS` counts them,
//! `LISTEN_FDNAMES` names them). An upgrade uses graceful's own: [`ENV_UPGRADE_FROM`] (the pid
//! of the process it upgrades), [`ENV_UPGRADE_FDS`] (the names) and [`ENV_UPGRADE_IDS`] (which
//! socket each is), and passes, under the reserved name [`CHANNEL`], one end of a datagram
//! socket pair: the channel on which the new process tells the one it replaces that it is
//! ready.
//!
//! The environment is read once per process, as early as possible: by
//! [`Builder::run`](crate::Builder::run) before it starts any thread, by `run_async` and
//! `run_to_report` as they start, otherwise (outside any run) on the first [`listen`]. It is
//! never changed: the caller's threads may read it meanwhile. A malformed `LISTEN_FDS` (not a
//! number, more descriptors than the process may have open, a name count that differs) is
//! refused, as systemd's `sd_listen_fds` refuses it.
//!
//! - From the process it upgrades, every socket is this process's: all are taken at once,
//!   close-on-exec, and those no `listen` claims are closed at readiness. The variables stay,
//!   and mean nothing to a program this process starts: the sockets they name are not open
//!   there. A wrapper script the upgrade starts (without `exec`) passes them on to the server
//!   it starts, which takes them, but not the channel: only a direct child is trusted to say
//!   it is ready.
//! - From socket activation, only the sockets a `listen` claims by name are taken; the others
//!   stay where systemd put them, with `LISTEN_FDS`, `LISTEN_PID` and `LISTEN_FDNAMES`
//!   untouched, for the application to take itself (with `listenfd`, say). Every one of them
//!   is made close-on-exec at once, so that a program the service starts does not hold a port
//!   open.

use std::io;
use std::sync::Mutex;

use tokio::net::{TcpListener, ToSocketAddrs};

use crate::shutdown::Shutdown;
use crate::util::sync::lock;

/// The name, in [`ENV_UPGRADE_FDS`], of the readiness channel an upgraded process inherits;
/// reserved: no [`listen`] may use it.
pub(crate) const CHANNEL: &str = "graceful-upgrade";

/// Set by an upgrading process in the new process's environment: its own pid. The new process
/// trusts the channel only when its parent is that process.
#[cfg(unix)]
pub(crate) const ENV_UPGRADE_FROM: &str = "GRACEFUL_UPGRADE_FROM";

/// Set by an upgrading process in the new process's environment: the names of the sockets it
/// passes, `:`-separated, the first at descriptor [`FIRST_FD`], the channel last.
#[cfg(unix)]
pub(crate) const ENV_UPGRADE_FDS: &str = "GRACEFUL_UPGRADE_FDS";

/// Set by an upgrading process in the new process's environment: the [`identity`] of each
/// socket it passes, in the order of [`ENV_UPGRADE_FDS`]. A process takes a descriptor only if
/// it is that socket: a program the new process starts inherits the variables, not the
/// sockets (they are close-on-exec there), and finds its own files at those numbers.
#[cfg(unix)]
pub(crate) const ENV_UPGRADE_IDS: &str = "GRACEFUL_UPGRADE_IDS";

/// What tells one open socket from any other while it is open: its device and inode numbers,
/// as `dev,ino`.
#[cfg(unix)]
pub(crate) fn identity(fd: std::os::fd::BorrowedFd<'_>) -> io::Result<String> {
    let stat = nix::sys::stat::fstat(fd)?;
    Ok(format!("{},{}", stat.st_dev, stat.st_ino))
}

/// The descriptor of the first passed socket, in both ways in.
#[cfg(unix)]
pub(crate) const FIRST_FD: std::os::fd::RawFd = 3;

/// The longest name systemd accepts in `FileDescriptorName=`.
const NAME_MAX: usize = 255;

static TABLE: Mutex<SocketTable> = Mutex::new(SocketTable::new());

/// An inherited socket no [`listen`] has claimed yet.
#[cfg(unix)]
struct Inherited {
    name: String,
    socket: Held,
}

#[cfg(unix)]
enum Held {
    /// From the process this one upgrades: a listening socket (TCP or Unix-domain), taken at
    /// start-up; closed at readiness if no `listen` claims it.
    Taken(std::os::fd::OwnedFd),
    /// From socket activation: left at its number (close-on-exec) until a `listen` claims it,
    /// since any other is the application's to take.
    Left(std::os::fd::RawFd),
}

#[cfg(unix)]
impl Held {
    fn describe(&self) -> &'static str {
        match self {
            Held::Taken(_) => "inherited from the process it upgrades",
            Held::Left(_) => "passed by socket activation",
        }
    }
}

struct SocketTable {
    /// Whether the environment has been read.
    taken: bool,
    /// Why the inherited sockets were refused (a malformed `LISTEN_FDS`): every `listen` says it.
    refused: Option<String>,
    #[cfg(unix)]
    inherited: Vec<Inherited>,
    /// The sockets [`listen`] and [`listen_unix`] handed out, each a duplicate of the
    /// listener's descriptor: what an upgrade passes on. Released when the shutdown starts.
    #[cfg(unix)]
    listening: Vec<(String, std::os::fd::OwnedFd)>,
    #[cfg(not(unix))]
    listening: Vec<String>,
    /// Whether the release at the shutdown is arranged.
    release_armed: bool,
    /// The readiness channel to the process this one upgrades.
    #[cfg(unix)]
    channel: Option<std::os::unix::net::UnixDatagram>,
}

impl SocketTable {
    const fn new() -> Self {
        SocketTable {
            taken: false,
            refused: None,
            #[cfg(unix)]
            inherited: Vec::new(),
            listening: Vec::new(),
            release_armed: false,
            #[cfg(unix)]
            channel: None,
        }
    }

    fn is_listening(&self, name: &str) -> bool {
        #[cfg(unix)]
        return self
            .listening
            .iter()
            .any(|(listening, _)| listening == name);
        #[cfg(not(unix))]
        return self.listening.iter().any(|listening| listening == name);
    }
}

/// Reads the inherited sockets, once per process. Every run calls it as it starts
/// ([`Builder::run`](crate::Builder::run) before it starts a thread, and refuses to start,
/// exit code 2, if the environment is malformed; the others return a `StartError`).
pub(crate) fn take_inherited() -> Result<(), String> {
    take(&mut lock(&TABLE)).map_err(|error| error.to_string())
}

/// Reads the environment the first time; then says whether it was refused.
fn take(table: &mut SocketTable) -> io::Result<()> {
    if !std::mem::replace(&mut table.taken, true) {
        #[cfg(unix)]
        if let Err(why) = inherit::take(table) {
            table.refused = Some(why);
        }
    }
    match &table.refused {
        Some(why) => Err(io::Error::new(io::ErrorKind::InvalidInput, why.clone())),
        None => Ok(()),
    }
}

/// Listens on the socket named `name`: the one inherited from the process this one upgrades,
/// or passed by systemd's socket activation (`LISTEN_FDS`, `LISTEN_FDNAMES`) under that name;
/// otherwise a new socket bound to `addr`.
///
/// The name is what identifies the socket across an upgrade: the new build's
/// `listen("http", ..)` gets the old build's `"http"` socket, whatever address it asks for (to
/// move to another address, use another name). A name is 1 to 255 bytes without `:` or
/// control characters, as systemd's `FileDescriptorName=`; `graceful-upgrade` is reserved.
///
/// Every socket handed out here is passed on to the new process of an upgrade, and stays open
/// in this process until its shutdown starts, even if the listener is dropped earlier.
/// Sockets passed by socket activation that no `listen` asks for are left alone, for the
/// program to take itself (`listenfd`'s `ListenFd::from_env()` still finds them); those
/// inherited from the process this one upgrades are closed once the process is
/// [ready](crate::ready()).
///
/// Listening does not make the process ready: serving does. An upgrade hands over once the
/// new process calls [`graceful::ready()`](crate::ready()), or once `graceful::http::serve`
/// or `graceful::grpc::Server` starts accepting (with the `http` or `grpc` feature), wherever that runs (`main`, a
/// [`service`](crate::service)). A new build that fails between its `listen` and then (a
/// database it cannot reach) exits before it is ready, and the old process serves on.
///
/// # Errors
/// Binding errors, as [`TcpListener::bind`]; `AddrInUse` if `name` is already listening;
/// `InvalidInput` for a name that cannot cross an upgrade, a socket of that name that is not
/// a TCP listening socket, or a malformed `LISTEN_FDS`.
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
#[cfg_attr(docsrs, doc(cfg(feature = "upgrade")))]
pub async fn listen(name: &str, addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
    let listener = match claim(name, Family::Tcp)? {
        Some((socket, origin)) => {
            let listener = into_tcp(socket);
            // Non-blocking is a property of the socket, shared with the process it came from
            // (which uses tokio too): never set it back to blocking.
            listener.set_nonblocking(true)?;
            let listener = TcpListener::from_std(listener)?;
            crate::log::emit!(info, target: "graceful", name, addr = %display_addr(&listener), "listening on a socket {origin}");
            listener
        }
        None => TcpListener::bind(addr).await?,
    };
    #[cfg(unix)]
    register(name, std::os::fd::AsFd::as_fd(&listener))?;
    #[cfg(not(unix))]
    register(name)?;
    Ok(listener)
}

/// Listens on the Unix-domain socket named `name`, as [`listen`] does on a TCP one: the socket
/// of that name inherited from the process this one upgrades, or passed by systemd's socket
/// activation (a `ListenStream=/run/app.sock` with `FileDescriptorName=`); otherwise a new
/// socket bound at `path`. Names follow [`listen`]'s rules and share its namespace; what
/// [`listen`] says of upgrades and readiness holds here. Serve it with
/// `graceful::http::serve` (feature `http`), or accept on it yourself.
///
/// The socket file:
/// - An inherited socket keeps its file as it is (same inode, mode, owner): nothing here or in
///   the process it came from removes, recreates or changes it, whatever `path` says (to move
///   to another path, use another name). No process of this library ever removes the file it
///   listens on, even at its exit: the next start finds it stale.
/// - A stale file at `path` (a socket nobody listens on: a connection to it is refused, as
///   after a crash or a stop) is replaced: removed, a new socket bound, and the old file's
///   permission bits given to the new one, then its owner and group if they differ (a warning
///   if the process may not, e.g. another owner without root). The bits are set right after
///   the bind: for that moment the file has the umask's.
/// - Without a file at `path`, the socket file gets the default mode of the umask (as
///   `bind(2)` gives it); set it yourself (`std::fs::set_permissions`) if you need another.
/// - A socket at `path` that something listens on is never touched: `AddrInUse`. Nor is a file
///   that is not a socket (a regular file, a directory, a symbolic link, even to a socket):
///   `AlreadyExists`.
///
/// ```
/// use std::os::unix::fs::PermissionsExt;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let path = std::env::temp_dir().join(format!("graceful-doc-{}.sock", std::process::id()));
/// // What a crashed process leaves: a socket file nobody listens on, mode 640.
/// drop(std::os::unix::net::UnixListener::bind(&path)?);
/// std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640))?;
///
/// let listener = graceful::listen_unix("api", &path)?;
/// assert_eq!(std::fs::metadata(&path)?.permissions().mode() & 0o777, 0o640);
/// let _client = tokio::net::UnixStream::connect(&path).await?;
/// listener.accept().await?;
/// # std::fs::remove_file(&path)?;
/// # Ok(())
/// # }
/// ```
///
/// # Errors
/// Binding errors, as [`UnixListener::bind`](tokio::net::UnixListener::bind); `AddrInUse` if
/// `name` is already listening or something listens at `path`; `AlreadyExists` if a file
/// that is not a socket is at `path`; `InvalidInput` for a name that cannot cross an upgrade,
/// a socket of that name that is not a Unix-domain listening socket, or a malformed
/// `LISTEN_FDS`.
///
/// # Panics
/// Outside a tokio runtime.
///
/// ```no_run
/// #[graceful::main(upgrade = "SIGHUP")]
/// async fn main(shutdown: graceful::Shutdown) -> std::io::Result<()> {
///     // A file left by a crash is replaced, with its permission bits; after an upgrade the
///     // new process serves on the very same file.
///     let listener = graceful::listen_unix("api", "/run/app/api.sock")?;
///     graceful::ready(); // or serve with graceful::http::serve, which says it
///     loop {
///         tokio::select! {
///             _ = shutdown.cancelled() => return Ok(()),
///             accepted = listener.accept() => drop(accepted?),
///         }
///     }
/// }
/// ```
#[cfg(unix)]
#[cfg_attr(docsrs, doc(cfg(all(unix, feature = "upgrade"))))]
pub fn listen_unix(
    name: &str,
    path: impl AsRef<std::path::Path>,
) -> io::Result<tokio::net::UnixListener> {
    let path = path.as_ref();
    let listener = match claim(name, Family::Unix)? {
        Some((socket, origin)) => {
            let listener = std::os::unix::net::UnixListener::from(socket);
            // As in `listen`: shared with the process it came from, never set back.
            listener.set_nonblocking(true)?;
            let listener = tokio::net::UnixListener::from_std(listener)?;
            let addr = listener.local_addr().ok();
            let bound = addr.as_ref().and_then(|addr| addr.as_pathname());
            crate::log::emit!(info, target: "graceful", name, path = ?bound, "listening on a socket {origin}");
            listener
        }
        None => unix_path::bind(path)?,
    };
    register(name, std::os::fd::AsFd::as_fd(&listener))?;
    Ok(listener)
}

/// What a socket is taken as.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Family {
    /// By [`listen`].
    Tcp,
    /// By [`listen_unix`].
    #[cfg(unix)]
    Unix,
}

impl Family {
    fn function(self) -> &'static str {
        match self {
            Family::Tcp => "graceful::listen",
            #[cfg(unix)]
            Family::Unix => "graceful::listen_unix",
        }
    }
}

/// An inherited socket taken by a `listen`.
#[cfg(unix)]
type Claimed = std::os::fd::OwnedFd;
#[cfg(not(unix))]
type Claimed = std::convert::Infallible;

#[cfg(unix)]
fn into_tcp(socket: Claimed) -> std::net::TcpListener {
    socket.into()
}

#[cfg(not(unix))]
fn into_tcp(socket: Claimed) -> std::net::TcpListener {
    match socket {}
}

/// Checks `name`, reads the environment if not yet done, and takes the inherited socket of
/// that name, with where it came from; `None` if there is none (then the caller binds).
fn claim(name: &str, family: Family) -> io::Result<Option<(Claimed, &'static str)>> {
    check_name(name, family)?;
    let mut table = lock(&TABLE);
    take(&mut table)?;
    if table.is_listening(name) {
        return Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!(
                "{}: the socket named {name:?} is already listening",
                family.function()
            ),
        ));
    }
    #[cfg(unix)]
    return inherit::claim(&mut table, name, family);
    #[cfg(not(unix))]
    return Ok(None);
}

/// A name crosses an upgrade in a `:`-separated list, under systemd's rules (those of
/// `LISTEN_FDNAMES`).
fn check_name(name: &str, family: Family) -> io::Result<()> {
    let problem = if name.is_empty() {
        Some("it is empty")
    } else if name.len() > NAME_MAX {
        Some("it is longer than 255 bytes")
    } else if name.contains(':') {
        Some("it contains ':', which separates the names of the passed sockets")
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
                "{}: {name:?} cannot name a socket: {problem}; a name is 1 to 255 \
                 bytes without ':' or control characters (systemd's FileDescriptorName= rules), \
                 other than {CHANNEL:?}, e.g. \"http\" or \"admin-v2\"",
                family.function()
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
#[cfg(unix)]
fn register(name: &str, socket: std::os::fd::BorrowedFd<'_>) -> io::Result<()> {
    let kept = (name.to_owned(), socket.try_clone_to_owned()?);
    arm_release(kept);
    Ok(())
}

/// Records a socket handed out, and arranges its release at the shutdown.
#[cfg(not(unix))]
fn register(name: &str) -> io::Result<()> {
    arm_release(name.to_owned());
    Ok(())
}

#[cfg(unix)]
type KeptSocket = (String, std::os::fd::OwnedFd);
#[cfg(not(unix))]
type KeptSocket = String;

fn arm_release(kept: KeptSocket) {
    let arm = {
        let mut table = lock(&TABLE);
        table.listening.push(kept);
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
}

fn release() {
    let mut table = lock(&TABLE);
    table.listening.clear();
    #[cfg(unix)]
    table
        .inherited
        .retain(|socket| matches!(socket.socket, Held::Left(_)));
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

/// Once the process is ready (see [`crate::ready`]): closes the sockets inherited from the
/// process being upgraded that no [`listen`] claimed, and tells that process, if there is
/// one. True if it told it (then systemd hears of the new process from the old one).
pub(crate) fn tell_ready() -> bool {
    #[cfg(unix)]
    {
        let (unclaimed, channel) = {
            let mut table = lock(&TABLE);
            // A refused environment was said at start-up, or by `listen`.
            let _ = take(&mut table);
            let (taken, left) = std::mem::take(&mut table.inherited)
                .into_iter()
                .partition(|socket| matches!(socket.socket, Held::Taken(_)));
            table.inherited = left;
            for socket in &table.inherited {
                crate::log::emit!(debug, target: "graceful", name = socket.name, "a socket {} is left to the application: no graceful::listen asked for it", socket.socket.describe());
            }
            (taken, table.channel.take())
        };
        let unclaimed: Vec<Inherited> = unclaimed;
        for socket in unclaimed {
            crate::log::emit!(warn, target: "graceful", name = socket.name, "closing a socket {}: no graceful::listen asked for it", socket.socket.describe());
        }
        if let Some(channel) = channel {
            match channel.send(READY_MESSAGE) {
                Ok(_) => {
                    crate::log::emit!(debug, target: "graceful", "ready: told the process being upgraded")
                }
                Err(error) => {
                    crate::log::emit!(warn, target: "graceful", %error, "ready, but the process being upgraded is gone")
                }
            }
            return true;
        }
    }
    false
}

/// What a new process sends on the channel once ready.
#[cfg(unix)]
pub(crate) const READY_MESSAGE: &[u8] = b"READY=1";

#[cfg(unix)]
mod inherit;

#[cfg(unix)]
mod unix_path;
