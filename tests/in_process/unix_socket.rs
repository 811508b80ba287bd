//! `graceful::listen_unix` at a path, in this process: what it does with the file it finds
//! there. A stale socket file (nothing listens on it) is replaced, and the new file gets its
//! permission bits; a socket something listens on, and a file that is not a socket, are left
//! as they are and refused. Names follow `listen`'s rules, in the same namespace.
//!
//! Across upgrades and from socket activation: `tests/processes/upgrade.rs` and
//! `tests/processes/socket_activation.rs`; behind nginx: `tests/processes/fleet.rs`.

use std::io::ErrorKind;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

use graceful_test_support::TempDir;

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap().mode() & 0o7777
}

fn inode(path: &Path) -> u64 {
    std::fs::symlink_metadata(path).unwrap().ino()
}

/// Whether `listener` accepts a connection made to `path` now.
async fn accepts(listener: &tokio::net::UnixListener, path: &Path) -> bool {
    let client = tokio::net::UnixStream::connect(path).await;
    let accepted = tokio::time::timeout(std::time::Duration::from_secs(5), listener.accept()).await;
    client.is_ok() && matches!(accepted, Ok(Ok(_)))
}

#[tokio::test]
async fn a_stale_socket_file_is_replaced_and_keeps_its_mode() {
    let dir = TempDir::new("unix-stale");
    let path = dir.join("app.sock");
    // A socket file left by a process that crashed: nothing listens on it any more.
    drop(UnixListener::bind(&path).unwrap());
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    assert_eq!(
        UnixStream::connect(&path).unwrap_err().kind(),
        ErrorKind::ConnectionRefused
    );

    // A file system may give the new file the inode number the stale one had: that a
    // connection through the path reaches the new listener is the proof it was replaced.
    let listener = graceful::listen_unix("unix-stale", &path).unwrap();
    assert!(accepts(&listener, &path).await);
    assert_eq!(mode(&path), 0o640, "the stale file's mode was not kept");
}

#[tokio::test]
async fn without_a_file_the_socket_is_bound_as_bind_does() {
    let dir = TempDir::new("unix-fresh");
    let path = dir.join("app.sock");
    let listener = graceful::listen_unix("unix-fresh", &path).unwrap();
    assert!(
        std::fs::symlink_metadata(&path)
            .unwrap()
            .file_type()
            .is_socket()
    );
    assert!(accepts(&listener, &path).await);
}

#[tokio::test]
async fn a_socket_something_listens_on_is_addr_in_use_and_left() {
    let dir = TempDir::new("unix-live");
    let path = dir.join("app.sock");
    let live = UnixListener::bind(&path).unwrap();
    let before = inode(&path);

    let error = graceful::listen_unix("unix-live", &path).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::AddrInUse, "{error}");
    let text = error.to_string();
    assert!(
        text.contains("another process listens on") && text.contains("app.sock"),
        "{text}"
    );
    // Untouched: the same file, and the listener still reached through it.
    assert_eq!(inode(&path), before);
    let _client = UnixStream::connect(&path).unwrap();
    live.accept().unwrap();
}

#[tokio::test]
async fn a_file_that_is_not_a_socket_is_refused_and_left() {
    let dir = TempDir::new("unix-file");
    let path = dir.join("app.sock");
    std::fs::write(&path, "not a socket\n").unwrap();
    let error = graceful::listen_unix("unix-file", &path).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::AlreadyExists, "{error}");
    assert!(
        error
            .to_string()
            .contains("exists and is not a socket (a regular file)"),
        "{error}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "not a socket\n");

    // A symbolic link, even to a stale socket, is not followed: both stay.
    let target = dir.join("stale.sock");
    drop(UnixListener::bind(&target).unwrap());
    let link = dir.join("link.sock");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let error = graceful::listen_unix("unix-link", &link).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::AlreadyExists, "{error}");
    assert!(error.to_string().contains("(a symbolic link)"), "{error}");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        std::fs::symlink_metadata(&target)
            .unwrap()
            .file_type()
            .is_socket()
    );
}

#[tokio::test]
async fn names_follow_listens_rules_in_the_same_namespace() {
    let dir = TempDir::new("unix-names");
    let error = graceful::listen_unix("a:b", dir.join("a.sock")).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    assert!(
        error
            .to_string()
            .starts_with("graceful::listen_unix: \"a:b\" cannot name a socket"),
        "{error}"
    );
    let _tcp = graceful::listen("unix-shared-name", "127.0.0.1:0")
        .await
        .unwrap();
    let error = graceful::listen_unix("unix-shared-name", dir.join("b.sock")).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::AddrInUse, "{error}");
    assert!(!dir.join("b.sock").exists());
}

/// A live listener whose backlog is full makes a blocking connect wait for room: the probe that
/// tells a stale file from a live one must not, or the start would hang on a busy socket.
#[tokio::test]
async fn a_live_listener_with_a_full_backlog_is_addr_in_use_at_once() {
    use nix::errno::Errno;
    use nix::sys::socket::{
        AddressFamily, Backlog, SockFlag, SockType, UnixAddr, bind, connect, listen, socket,
    };
    use std::os::fd::AsRawFd;

    let dir = TempDir::new("unix-busy");
    let path = dir.join("app.sock");
    let address = UnixAddr::new(&path).unwrap();
    let busy = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .unwrap();
    bind(busy.as_raw_fd(), &address).unwrap();
    listen(&busy, Backlog::new(0).unwrap()).unwrap();
    // Connections nobody accepts, until the kernel refuses one for want of room.
    let mut queued = Vec::new();
    loop {
        let client = socket(
            AddressFamily::Unix,
            SockType::Stream,
            SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
            None,
        )
        .unwrap();
        match connect(client.as_raw_fd(), &address) {
            Ok(()) => queued.push(client),
            Err(Errno::EAGAIN) => break,
            Err(error) => panic!("connect: {error}"),
        }
        assert!(queued.len() < 64, "the backlog never filled");
    }

    let probe = tokio::task::spawn_blocking(move || graceful::listen_unix("unix-busy", &path));
    let error = tokio::time::timeout(std::time::Duration::from_secs(5), probe)
        .await
        .expect("listen_unix waited on a busy socket")
        .unwrap()
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::AddrInUse, "{error}");
    assert!(error.to_string().contains("its backlog is full"), "{error}");
    drop(queued);
}
