//! The listening sockets of the process, by name: those it inherited (from the process it
//! upgrades, or from systemd's socket activation), and those [`listen`] and [`listen_unix`]
//! handed out, TCP and Unix-domain alike, which an upgrade passes on to the new process. And
//! readiness: [`ready`](crate::ready()).
//!
//! Both ways in use systemd's protocol: the sockets are file descriptors 3, 4, ... of the new
//! process, `LISTEN_FDS` counts them and `LISTEN_FDNAMES` names them. An upgraded process also
//! gets, under the reserved name [`CHANNEL`], one end of a datagram socket pair: the channel on
//! which it tells the process it replaces that it is ready.
//!
//! The environment is read once per process, as early as possible: by
//! [`Builder::run`](crate::Builder::run) before it starts any thread, otherwise on the first
//! [`listen`]. A malformed `LISTEN_FDS` (not a number, more descriptors than the process may
//! have open, a name count that differs) is refused, as systemd's `sd_listen_fds` refuses it.
//!
//! - From the process it upgrades, every socket is this process's: all are taken at once and
//!   marked close-on-exec, `LISTEN_FDS` and `LISTEN_PID` are unset (through `listenfd`, before
//!   any thread runs), and those no `listen` claims are closed at readiness.
//! - From socket activation, only the sockets a `listen` claims by name are taken; the others
//!   stay where systemd put them, with `LISTEN_FDS`, `LISTEN_PID` and `LISTEN_FDNAMES`
//!   untouched, for the application to take itself (with `listenfd`, say). Every one of them
//!   is made close-on-exec at once, so that a program the service starts does not hold a port
//!   open.

use std::io;
use std::sync::Mutex;

use tokio::net::{TcpListener, ToSocketAddrs};

use crate::shutdown::Shutdown;
use crate::tasks::lock;

/// The name, in `LISTEN_FDNAMES`, of the readiness channel an upgraded process inherits;
/// reserved: no [`listen`] may use it.
pub(crate) const CHANNEL: &str = "graceful-upgrade";

/// Set by an upgrading process in the new process's environment: its own pid. The new process
/// trusts the channel only when its parent is that process.
#[cfg(unix)]
pub(crate) const ENV_UPGRADE_FROM: &str = "GRACEFUL_UPGRADE_FROM";

/// The longest name systemd accepts in `FileDescriptorName=`.
const NAME_MAX: usize = 255;

static TABLE: Mutex<Table> = Mutex::new(Table::new());

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

struct Table {
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

impl Table {
    const fn new() -> Self {
        Table {
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

/// Reads the inherited sockets, once per process. [`Builder::run`](crate::Builder::run) calls
/// it before it starts a thread, and refuses to start (exit code 2) if the environment is
/// malformed.
pub(crate) fn take_inherited() -> Result<(), String> {
    take(&mut lock(&TABLE)).map_err(|error| error.to_string())
}

/// Reads the environment the first time; then says whether it was refused.
fn take(table: &mut Table) -> io::Result<()> {
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
pub async fn listen(name: &str, addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
    let listener = match claim(name, Family::Tcp)? {
        Some((socket, origin)) => {
            let listener = into_tcp(socket);
            // Non-blocking is a property of the socket, shared with the process it came from
            // (which uses tokio too): never set it back to blocking.
            listener.set_nonblocking(true)?;
            let listener = TcpListener::from_std(listener)?;
            tracing::info!(target: "graceful", name, addr = %display_addr(&listener), "listening on a socket {origin}");
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
            tracing::info!(target: "graceful", name, path = ?bound, "listening on a socket {origin}");
            listener
        }
        None => unix::bind(path)?,
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

/// A name crosses an upgrade in `LISTEN_FDNAMES`, `:`-separated, under systemd's rules.
fn check_name(name: &str, family: Family) -> io::Result<()> {
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
type Kept = (String, std::os::fd::OwnedFd);
#[cfg(not(unix))]
type Kept = String;

fn arm_release(kept: Kept) {
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
                tracing::debug!(target: "graceful", name = socket.name, "a socket {} is left to the application: no graceful::listen asked for it", socket.socket.describe());
            }
            (taken, table.channel.take())
        };
        let unclaimed: Vec<Inherited> = unclaimed;
        for socket in unclaimed {
            tracing::warn!(target: "graceful", name = socket.name, "closing a socket {}: no graceful::listen asked for it", socket.socket.describe());
        }
        if let Some(channel) = channel {
            match channel.send(READY_MESSAGE) {
                Ok(_) => {
                    tracing::debug!(target: "graceful", "ready: told the process being upgraded")
                }
                Err(error) => {
                    tracing::warn!(target: "graceful", %error, "ready, but the process being upgraded is gone")
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

/// The environment of systemd's protocol, and the descriptors it names.
#[cfg(unix)]
mod inherit {
    use std::io;
    use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

    use nix::fcntl::{FcntlArg, FdFlag, fcntl};
    use nix::sys::socket::{
        AddressFamily, SockType, SockaddrLike, SockaddrStorage, getsockname, getsockopt, sockopt,
    };

    use super::{CHANNEL, ENV_UPGRADE_FROM, Family, Held, Inherited, Table};

    /// What systemd's name for a socket without one is.
    const UNNAMED: &str = "unknown";

    /// The sockets the environment passes to this process.
    #[derive(Debug)]
    struct Passed {
        first: RawFd,
        count: usize,
        /// One per descriptor, when `LISTEN_FDNAMES` is set.
        names: Option<Vec<String>>,
    }

    impl Passed {
        fn name(&self, index: usize) -> String {
            self.names
                .as_ref()
                .and_then(|names| names.get(index))
                .filter(|name| !name.is_empty())
                .map_or_else(|| UNNAMED.to_owned(), Clone::clone)
        }
    }

    /// Reads `LISTEN_FDS`, `LISTEN_PID`, `LISTEN_FDNAMES` (and `listenfd`'s
    /// `LISTEN_FDS_FIRST_FD`): `None` if no socket is passed to this process; why not if the
    /// variables are malformed.
    fn passed() -> Result<Option<Passed>, String> {
        let Some(count) = std::env::var_os("LISTEN_FDS") else {
            return Ok(None);
        };
        if let Some(pid) = std::env::var_os("LISTEN_PID").filter(|pid| !pid.is_empty()) {
            let pid: u32 = pid
                .to_str()
                .and_then(|pid| pid.parse().ok())
                .ok_or_else(|| {
                    format!(
                        "LISTEN_PID={pid:?} is not a process id (systemd sets it to the pid of \
                         the process its sockets are for): unset it, or set it as systemd does"
                    )
                })?;
            if pid != std::process::id() {
                // Another process's sockets (this one inherited the variables): not ours.
                return Ok(None);
            }
        }
        let count: usize = count
            .to_str()
            .and_then(|count| count.parse().ok())
            .ok_or_else(|| {
                format!(
                    "LISTEN_FDS={count:?} is not a number of descriptors: systemd sets the count \
                     of sockets it passes, e.g. LISTEN_FDS=2; unset it if no socket is passed"
                )
            })?;
        if count == 0 {
            return Ok(None);
        }
        let first: RawFd = match std::env::var_os("LISTEN_FDS_FIRST_FD") {
            None => 3,
            Some(first) => first
                .to_str()
                .and_then(|first| first.parse().ok())
                .filter(|first: &RawFd| *first >= 0)
                .ok_or_else(|| {
                    format!("LISTEN_FDS_FIRST_FD={first:?} is not a descriptor number (default 3)")
                })?,
        };
        let limit = open_files_limit();
        let end = u64::try_from(first)
            .unwrap_or(0)
            .saturating_add(u64::try_from(count).unwrap_or(u64::MAX));
        if end > limit {
            return Err(format!(
                "LISTEN_FDS={count} passes descriptors {first} to {}, but this process may have \
                 at most {limit} open (RLIMIT_NOFILE): the variable is wrong; systemd sets the \
                 count of sockets it passes, e.g. LISTEN_FDS=2",
                end - 1
            ));
        }
        let names = match std::env::var_os("LISTEN_FDNAMES") {
            None => None,
            Some(names) => {
                let text = names
                    .to_str()
                    .ok_or_else(|| format!("LISTEN_FDNAMES={names:?} is not UTF-8"))?;
                let names: Vec<String> = text.split(':').map(str::to_owned).collect();
                if names.len() != count {
                    return Err(format!(
                        "LISTEN_FDNAMES={text:?} names {} sockets, but LISTEN_FDS={count}: \
                         systemd sets one name per socket",
                        names.len()
                    ));
                }
                Some(names)
            }
        };
        Ok(Some(Passed {
            first,
            count,
            names,
        }))
    }

    /// The soft `RLIMIT_NOFILE`: no descriptor of this process can be at or above it.
    fn open_files_limit() -> u64 {
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
            .map_or(u64::from(u32::MAX >> 1), |(soft, _)| soft)
            .min(u64::from(u32::MAX >> 1))
    }

    /// Reads the environment, and takes or marks the sockets it passes.
    pub(super) fn take(table: &mut Table) -> Result<(), String> {
        let Some(passed) = passed()? else {
            return Ok(());
        };
        // The variables alone prove nothing: a process started by the one it upgrades has them
        // in its environment, and so may that process's other children.
        let upgraded = std::env::var(ENV_UPGRADE_FROM)
            .ok()
            .and_then(|pid| pid.parse::<u32>().ok())
            .is_some_and(|pid| pid == std::os::unix::process::parent_id())
            && passed
                .names
                .as_ref()
                .is_some_and(|names| names.iter().any(|name| name == CHANNEL));
        tracing::debug!(target: "graceful", count = passed.count, names = ?passed.names, upgraded, "inherited sockets");
        if upgraded {
            take_from_upgrade(table, &passed);
            return Ok(());
        }
        for index in 0..passed.count {
            let fd = passed
                .first
                .saturating_add(RawFd::try_from(index).unwrap_or(RawFd::MAX));
            close_on_exec(fd).map_err(|error| {
                format!(
                    "LISTEN_FDS={} passes descriptor {fd}, which cannot be used: {error}",
                    passed.count
                )
            })?;
            table.inherited.push(Inherited {
                name: passed.name(index),
                socket: Held::Left(fd),
            });
        }
        Ok(())
    }

    /// Every socket passed by the process this one upgrades is this process's: taken now.
    fn take_from_upgrade(table: &mut Table, passed: &Passed) {
        // Unsets LISTEN_FDS and LISTEN_PID, so that no program this one starts takes them for
        // its own; marks each socket taken close-on-exec.
        let mut fds = listenfd::ListenFd::from_env();
        for index in 0..fds.len() {
            let name = passed.name(index);
            if name == CHANNEL {
                match fds.take_unix_datagram(index) {
                    Ok(channel) => table.channel = channel,
                    Err(error) => {
                        tracing::warn!(target: "graceful", %error, "the upgrade's readiness channel is unusable")
                    }
                }
                continue;
            }
            // listenfd checks the kind of each, and leaves a descriptor that is not of it.
            let taken = match fds.take_tcp_listener(index) {
                Ok(listener) => Ok(listener.map(OwnedFd::from)),
                Err(_) => fds
                    .take_unix_listener(index)
                    .map(|listener| listener.map(OwnedFd::from)),
            };
            match taken {
                Ok(Some(socket)) => table.inherited.push(Inherited {
                    name,
                    socket: Held::Taken(socket),
                }),
                Ok(None) => {}
                Err(error) => {
                    tracing::debug!(target: "graceful", index, name, %error, "inherited descriptor left alone: not a TCP or Unix-domain listener");
                }
            }
        }
    }

    /// The inherited socket named `name`, taken for a `listen` of `family`, with where it came
    /// from. One of another kind is an error that says what it is, and stays where it is.
    pub(super) fn claim(
        table: &mut Table,
        name: &str,
        family: Family,
    ) -> io::Result<Option<(OwnedFd, &'static str)>> {
        let Some(position) = table
            .inherited
            .iter()
            .position(|socket| socket.name == name)
        else {
            return Ok(None);
        };
        let origin = table.inherited[position].socket.describe();
        let wrong = |fd: Option<RawFd>, what: String| {
            let number = fd
                .map(|fd| format!(" (descriptor {fd})"))
                .unwrap_or_default();
            let fix = match (family, what.as_str()) {
                (Family::Tcp, UNIX_LISTENER) => "; take it with graceful::listen_unix",
                (Family::Unix, TCP_LISTENER) => "; take it with graceful::listen",
                _ => "",
            };
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{}: the socket named {name:?} {origin}{number} is {what}, not {}{fix}",
                    family.function(),
                    wanted(family)
                ),
            )
        };
        let socket = match &table.inherited[position].socket {
            Held::Taken(socket) => {
                let what = what_socket(socket.as_fd());
                if what != wanted(family) {
                    return Err(wrong(None, what));
                }
                match table.inherited.remove(position).socket {
                    Held::Taken(socket) => socket,
                    Held::Left(_) => unreachable!("matched as taken"),
                }
            }
            Held::Left(fd) => {
                let fd = *fd;
                let copy = duplicate(fd).map_err(|error| wrong(Some(fd), error.to_string()))?;
                let what = what_socket(copy.as_fd());
                if what != wanted(family) {
                    return Err(wrong(Some(fd), what));
                }
                // The copy is now the socket's only descriptor.
                nix::unistd::close(fd)?;
                table.inherited.remove(position);
                copy
            }
        };
        Ok(Some((socket, origin)))
    }

    const TCP_LISTENER: &str = "a TCP listening socket";
    const UNIX_LISTENER: &str = "a Unix-domain listening socket";

    fn wanted(family: Family) -> &'static str {
        match family {
            Family::Tcp => TCP_LISTENER,
            Family::Unix => UNIX_LISTENER,
        }
    }

    /// What the socket at `fd` is, in words: one of the two listeners a `listen` takes, or what
    /// else (a UDP socket, a connected one, not a socket at all).
    fn what_socket(fd: BorrowedFd<'_>) -> String {
        let kind = match getsockopt(&fd, sockopt::SockType) {
            Ok(kind) => kind,
            Err(nix::errno::Errno::ENOTSOCK) => return "not a socket".to_owned(),
            Err(error) => return format!("a descriptor that cannot be queried ({error})"),
        };
        let listening = getsockopt(&fd, sockopt::AcceptConn).unwrap_or(false);
        let family = getsockname::<SockaddrStorage>(fd.as_raw_fd())
            .ok()
            .and_then(|addr| addr.family());
        let family = match family {
            Some(AddressFamily::Inet | AddressFamily::Inet6) => match kind {
                SockType::Stream => "TCP",
                SockType::Datagram => return "a UDP socket".to_owned(),
                _ => "IP",
            },
            Some(AddressFamily::Unix) => "Unix-domain",
            Some(other) => return format!("a socket of family {other:?}"),
            None => return "a socket of unknown family".to_owned(),
        };
        match (kind, listening) {
            (SockType::Stream, true) => format!("a {family} listening socket"),
            (SockType::Stream, false) => format!("a {family} socket that is not listening"),
            (SockType::Datagram, _) => format!("a {family} datagram socket"),
            (SockType::SeqPacket, _) => format!("a {family} seqpacket socket"),
            (other, _) => format!("a {family} socket of type {other:?}"),
        }
    }

    /// Makes descriptor `fd`, which nothing in the process owns, close-on-exec, at the same
    /// number (where the application will look for it): a copy is made, the descriptor closed
    /// and opened again from the copy with the flag, at the lowest free number from `fd` on,
    /// which is `fd` unless another thread opened a file in between.
    fn close_on_exec(fd: RawFd) -> io::Result<()> {
        let copy = duplicate(fd)?;
        nix::unistd::close(fd)?;
        let moved = fcntl(&copy, FcntlArg::F_DUPFD_CLOEXEC(fd))?;
        if moved != fd {
            tracing::warn!(target: "graceful", fd, moved, "a passed descriptor moved while made close-on-exec");
        }
        Ok(())
    }

    /// An owned, close-on-exec duplicate of descriptor `fd`, which nothing in the process
    /// owns: passed to this process over a socket pair (`SCM_RIGHTS`), since a descriptor
    /// number cannot be made an owned descriptor without `unsafe`. Fails with `EBADF` if `fd`
    /// is not open.
    fn duplicate(fd: RawFd) -> io::Result<OwnedFd> {
        use std::io::{IoSlice, IoSliceMut};
        use std::mem::MaybeUninit;

        use nix::sys::socket::{ControlMessage, MsgFlags, UnixAddr, sendmsg};
        use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, recvmsg};

        let (sender, receiver) = std::os::unix::net::UnixDatagram::pair()?;
        let byte = [0_u8];
        sendmsg::<UnixAddr>(
            sender.as_raw_fd(),
            &[IoSlice::new(&byte)],
            &[ControlMessage::ScmRights(&[fd])],
            MsgFlags::empty(),
            None,
        )?;
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let mut received = [0_u8];
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let flags = RecvFlags::CMSG_CLOEXEC;
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let flags = RecvFlags::empty();
        recvmsg(
            &receiver,
            &mut [IoSliceMut::new(&mut received)],
            &mut control,
            flags,
        )?;
        let copy = control
            .drain()
            .find_map(|message| match message {
                RecvAncillaryMessage::ScmRights(mut fds) => fds.next(),
                _ => None,
            })
            .ok_or_else(|| io::Error::other("the descriptor did not come through"))?;
        fcntl(&copy, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))?;
        Ok(copy)
    }
}

/// A new Unix-domain socket at a path, and what is found there first.
#[cfg(unix)]
mod unix {
    use std::io;
    use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
    use std::path::Path;

    use nix::errno::Errno;
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, UnixAddr, connect, socket};

    const WHO: &str = "graceful::listen_unix";

    /// Binds a listening socket at `path`, replacing a stale socket file (see
    /// [`listen_unix`](super::listen_unix)).
    pub(super) fn bind(path: &Path) -> io::Result<tokio::net::UnixListener> {
        let shown = path.display();
        let stale = match std::fs::symlink_metadata(path) {
            Err(error) if error.kind() == io::ErrorKind::NotFound => None,
            Err(error) => {
                return Err(io::Error::new(
                    error.kind(),
                    format!("{WHO}: cannot look at {shown}: {error}"),
                ));
            }
            Ok(found) if !found.file_type().is_socket() => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!(
                        "{WHO}: {shown} exists and is not a socket ({}): it is left as it is; \
                         remove it, or choose another path",
                        describe(&found)
                    ),
                ));
            }
            Ok(found) => match probe(path) {
                Probe::Refused => Some(found),
                Probe::Gone => None,
                Probe::Listening(how) => {
                    return Err(io::Error::new(
                        io::ErrorKind::AddrInUse,
                        format!(
                            "{WHO}: another process listens on {shown} ({how}): stop it, or \
                             choose another path"
                        ),
                    ));
                }
                Probe::Unknown(error) => {
                    return Err(io::Error::new(
                        io::ErrorKind::AddrInUse,
                        format!(
                            "{WHO}: {shown} is a socket, and whether a process listens on it \
                             cannot be told ({error}): it is left as it is; remove it if it is \
                             stale, or choose another path"
                        ),
                    ));
                }
            },
        };
        if stale.is_some() {
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(error) => {
                    return Err(io::Error::new(
                        error.kind(),
                        format!("{WHO}: cannot remove the stale socket file {shown}: {error}"),
                    ));
                }
            }
        }
        let listener = tokio::net::UnixListener::bind(path).map_err(|error| {
            io::Error::new(error.kind(), format!("{WHO}: cannot bind {shown}: {error}"))
        })?;
        if let Some(stale) = stale {
            keep_permissions(path, &stale)?;
            tracing::info!(target: "graceful", path = %shown, mode = format_args!("{:o}", stale.mode() & 0o7777), "replaced a stale socket file: nothing listened on it");
        }
        Ok(listener)
    }

    /// Gives the new socket file at `path` the permission bits, then the owner and group, of
    /// the stale file it replaced.
    fn keep_permissions(path: &Path, stale: &std::fs::Metadata) -> io::Result<()> {
        let shown = path.display();
        let mode = stale.mode() & 0o7777;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|error| {
            io::Error::new(
                error.kind(),
                format!("{WHO}: cannot give {shown} the mode {mode:o} of the stale file: {error}"),
            )
        })?;
        let new = std::fs::symlink_metadata(path)?;
        if (new.uid(), new.gid()) != (stale.uid(), stale.gid()) {
            // Unchanged where it is already right: a process may not name an owner, even its
            // own, without the right to change it.
            let uid = (new.uid() != stale.uid()).then(|| stale.uid());
            let gid = (new.gid() != stale.gid()).then(|| stale.gid());
            if let Err(error) = std::os::unix::fs::chown(path, uid, gid) {
                tracing::warn!(target: "graceful", path = %shown, uid = stale.uid(), gid = stale.gid(), %error, "cannot give the new socket file the owner and group of the stale one: it keeps this process's");
            }
        }
        Ok(())
    }

    /// Whether something listens at a socket file.
    enum Probe {
        /// Nothing does: the file is stale.
        Refused,
        /// The file went away meanwhile.
        Gone,
        /// Something does (how we know).
        Listening(&'static str),
        /// Cannot be told (the error).
        Unknown(Errno),
    }

    /// Connects to `path` without blocking: a listener with a full backlog must not stall the
    /// start, and answers `EAGAIN`, which says it is alive.
    fn probe(path: &Path) -> Probe {
        let address = match UnixAddr::new(path) {
            Ok(address) => address,
            Err(error) => return Probe::Unknown(error),
        };
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let flags = SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC;
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let flags = SockFlag::empty();
        let probe = match socket(AddressFamily::Unix, SockType::Stream, flags, None) {
            Ok(probe) => probe,
            Err(error) => return Probe::Unknown(error),
        };
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        if let Err(error) = nix::fcntl::fcntl(
            &probe,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        ) {
            return Probe::Unknown(error);
        }
        match connect(std::os::fd::AsRawFd::as_raw_fd(&probe), &address) {
            Ok(()) | Err(Errno::EINPROGRESS) => Probe::Listening("it accepted a connection"),
            Err(Errno::EAGAIN) => Probe::Listening("its backlog is full"),
            // A datagram or seqpacket socket is bound there: in use, not stale.
            Err(Errno::EPROTOTYPE) => Probe::Listening("a socket of another type is bound there"),
            Err(Errno::ECONNREFUSED) => Probe::Refused,
            Err(Errno::ENOENT) => Probe::Gone,
            Err(error) => Probe::Unknown(error),
        }
    }

    fn describe(found: &std::fs::Metadata) -> &'static str {
        let kind = found.file_type();
        if kind.is_symlink() {
            "a symbolic link"
        } else if kind.is_dir() {
            "a directory"
        } else if kind.is_file() {
            "a regular file"
        } else if kind.is_fifo() {
            "a named pipe"
        } else {
            "a device"
        }
    }
}
