//! The environment of systemd's protocol, and the descriptors it names.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use nix::fcntl::{FcntlArg, FdFlag, fcntl};
use nix::sys::socket::{
    AddressFamily, SockType, SockaddrLike, SockaddrStorage, getsockname, getsockopt, sockopt,
};

use super::{
    CHANNEL, ENV_UPGRADE_FDS, ENV_UPGRADE_FROM, ENV_UPGRADE_IDS, FIRST_FD, Family, Held, Inherited,
    SocketTable,
};

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
        None => FIRST_FD,
        Some(first) => first
            .to_str()
            .and_then(|first| first.parse().ok())
            .filter(|first: &RawFd| *first >= 0)
            .ok_or_else(|| {
                format!("LISTEN_FDS_FIRST_FD={first:?} is not a descriptor number (default 3)")
            })?,
    };
    if let Some((end, limit)) = past_limit(first, count) {
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

/// Where `count` descriptors from `first` end, and the process's limit, if they end past it:
/// they cannot all be open.
fn past_limit(first: RawFd, count: usize) -> Option<(u64, u64)> {
    let limit = open_files_limit();
    let end = u64::try_from(first)
        .unwrap_or(0)
        .saturating_add(u64::try_from(count).unwrap_or(u64::MAX));
    (end > limit).then_some((end, limit))
}

/// The soft `RLIMIT_NOFILE`: no descriptor of this process can be at or above it.
fn open_files_limit() -> u64 {
    let most = u64::from(u32::MAX >> 1);
    nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        // `rlim_t` is a `u64` on Linux and macOS, an `i64` on FreeBSD: `i128` holds both.
        .map_or(most, |(soft, _)| {
            u64::try_from(i128::from(soft)).unwrap_or(most)
        })
        .min(most)
}

/// Reads the environment, and takes or marks the sockets it passes. Changes no variable.
pub(super) fn take(table: &mut SocketTable) -> Result<(), String> {
    if let Some(upgrade) = from_upgrade()? {
        take_from_upgrade(table, &upgrade);
        return Ok(());
    }
    let Some(passed) = passed()? else {
        return Ok(());
    };
    crate::log::emit!(debug, target: "graceful", count = passed.count, names = ?passed.names, "sockets passed by socket activation");
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

/// The sockets an upgrade passes, as its variables name them.
struct Upgrade {
    /// Each socket's name and [`identity`](super::identity), from descriptor [`FIRST_FD`] on.
    sockets: Vec<(String, String)>,
    /// Whether this process's parent is the process being upgraded, which alone may be told
    /// that this one is ready.
    from_parent: bool,
}

/// The sockets named by [`ENV_UPGRADE_FDS`] and [`ENV_UPGRADE_IDS`], if set.
fn from_upgrade() -> Result<Option<Upgrade>, String> {
    let (Some(names), Some(ids)) = (
        std::env::var_os(ENV_UPGRADE_FDS),
        std::env::var_os(ENV_UPGRADE_IDS),
    ) else {
        return Ok(None);
    };
    let fix = "graceful sets it at an upgrade; unset it";
    let (Some(names), Some(ids)) = (names.to_str(), ids.to_str()) else {
        return Err(format!(
            "{ENV_UPGRADE_FDS}={names:?} or {ENV_UPGRADE_IDS}={ids:?} is not UTF-8: {fix}"
        ));
    };
    let (names, ids): (Vec<&str>, Vec<&str>) =
        (names.split(':').collect(), ids.split(':').collect());
    if names.len() != ids.len() {
        return Err(format!(
            "{ENV_UPGRADE_FDS} names {} sockets, {ENV_UPGRADE_IDS} {}: {fix}",
            names.len(),
            ids.len()
        ));
    }
    if let Some((_, limit)) = past_limit(FIRST_FD, names.len()) {
        return Err(format!(
            "{ENV_UPGRADE_FDS} names {} sockets, more than this process may have open \
             (RLIMIT_NOFILE {limit}): {fix}",
            names.len()
        ));
    }
    let from_parent = std::env::var(ENV_UPGRADE_FROM)
        .ok()
        .and_then(|pid| pid.parse::<u32>().ok())
        .is_some_and(|pid| pid == std::os::unix::process::parent_id());
    let sockets = names
        .into_iter()
        .zip(ids)
        .map(|(name, id)| (name.to_owned(), id.to_owned()))
        .collect();
    Ok(Some(Upgrade {
        sockets,
        from_parent,
    }))
}

/// Takes each socket an upgrade passed that is open here: this process's now, the only
/// descriptor of it, close-on-exec. A descriptor that is not the socket named is left alone.
fn take_from_upgrade(table: &mut SocketTable, upgrade: &Upgrade) {
    let mut taken = Vec::new();
    for (fd, (name, id)) in (FIRST_FD..).zip(&upgrade.sockets) {
        // A copy, to look at it: `fd` may be anything of this process's.
        let Ok(copy) = duplicate(fd) else { continue };
        if super::identity(copy.as_fd()).ok().as_ref() != Some(id) {
            continue;
        }
        if let Err(error) = nix::unistd::close(fd) {
            crate::log::emit!(warn, target: "graceful", fd, name, %error, "a socket inherited from the process this one upgrades cannot be closed");
        }
        taken.push(name.as_str());
        if name == CHANNEL {
            if upgrade.from_parent {
                table.channel = Some(std::os::unix::net::UnixDatagram::from(copy));
            }
            continue;
        }
        let what = what_socket(copy.as_fd());
        if what == TCP_LISTENER || what == UNIX_LISTENER {
            table.inherited.push(Inherited {
                name: name.clone(),
                socket: Held::Taken(copy),
            });
        } else {
            crate::log::emit!(debug, target: "graceful", fd, name, what, "inherited descriptor closed: not a TCP or Unix-domain listener");
        }
    }
    crate::log::emit!(debug, target: "graceful", ?taken, from_parent = upgrade.from_parent, "sockets inherited from the process this one upgrades");
}

/// The inherited socket named `name`, taken for a `listen` of `family`, with where it came
/// from. One of another kind is an error that says what it is, and stays where it is.
pub(super) fn claim(
    table: &mut SocketTable,
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
        crate::log::emit!(warn, target: "graceful", fd, moved, "a passed descriptor moved while made close-on-exec");
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
