//! A new Unix-domain socket at a path, and what is found there first.

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
        crate::log::emit!(info, target: "graceful", path = %shown, mode = format_args!("{:o}", stale.mode() & 0o7777), "replaced a stale socket file: nothing listened on it");
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
            crate::log::emit!(warn, target: "graceful", path = %shown, uid = stale.uid(), gid = stale.gid(), %error, "cannot give the new socket file the owner and group of the stale one: it keeps this process's");
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
