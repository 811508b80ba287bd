//! The `run_time_hooks` example as a real process, with this test as its upstream: hooks
//! registered at run time close what `main` opened, in `order` between the static hooks.
//!
//! The test holds the upstream's first `BYE`: the process then sits in hook 20 (closing the
//! pool), which proves hook 10 has ended; the status listener must refuse connections by then.

use std::sync::Arc;
use std::time::Duration;

use graceful_test_support::{LINE_TIMEOUT, Process, Signal};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, Notify, watch};

const POOL_SIZE: usize = 4;

/// What the upstream saw.
#[derive(Default, Clone, Debug)]
struct Seen {
    connections: usize,
    pongs: u64,
    quits: usize,
    /// Connections closed by the client after `BYE` (a clean close, not a reset).
    closed_after_bye: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_time_hooks_close_the_listener_and_the_pool_in_order_between_the_static_hooks() {
    let upstream = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = upstream.local_addr().expect("an address").to_string();
    let (seen, mut watch_seen) = watch::channel(Seen::default());
    let seen = Arc::new(seen);
    let release = Arc::new(Notify::new());
    let held = Arc::new(Mutex::new(false));
    tokio::spawn(serve_upstream(
        upstream,
        seen.clone(),
        release.clone(),
        held,
    ));

    let pool_size = POOL_SIZE.to_string();
    let mut service = Process::start_listening(
        "run_time_hooks",
        "tcp",
        &[("UPSTREAM", &address), ("POOL_SIZE", &pool_size)],
    )
    .await;
    let port = service.port;

    // The pool is connected and in use; the status listener answers.
    let in_use = saw(&mut watch_seen, |seen| {
        seen.connections == POOL_SIZE && seen.pongs >= 2
    });
    if !in_use.await {
        service.fail(format_args!(
            "the pool never connected and pinged: {:?}",
            *watch_seen.borrow()
        ));
    }
    let status = read_status(port)
        .await
        .unwrap_or_else(|error| service.fail(format_args!("the status port: {error}")));
    assert!(status.starts_with("serving, "), "{status:?}");

    let sigterm = service.signal(Signal::SIGTERM);

    // Hook 20 has started (its first QUIT came): hook 10 has ended, the listener is closed,
    // and the process is alive, waiting for our BYE.
    if !saw(&mut watch_seen, |seen| seen.quits >= 1).await {
        service.fail(format_args!("no QUIT from the pool after SIGTERM"));
    }
    assert!(service.is_running(), "the process waits for BYE in hook 20");
    let refused = TcpStream::connect(("127.0.0.1", port)).await;
    assert!(
        matches!(&refused, Err(error) if error.kind() == std::io::ErrorKind::ConnectionRefused),
        "the status listener is closed once hook 10 has ended: {refused:?}"
    );
    release.notify_one();

    let exited = service.wait(Duration::from_secs(20)).await;
    exited.assert_code(0);
    let hooks: Vec<&str> = exited
        .stdout_texts()
        .into_iter()
        .filter(|line| line.starts_with("hook "))
        .collect();
    let pongs = watch_seen.borrow().pongs;
    let expected = [
        "hook 0 (static): stopping (received SIGTERM), ".to_owned(),
        "hook 10 (run time): status listener closed".to_owned(),
        format!("hook 20 (run time): upstream pool closed: {POOL_SIZE} connections said BYE"),
        format!("hook 30 (static): pings answered: {pongs}, status requests served: 1"),
    ];
    assert!(
        hooks.len() == expected.len()
            && hooks[0].starts_with(&expected[0])
            && hooks[0].ends_with(" s left")
            && hooks[1..] == expected[1..],
        "expected the hooks {expected:#?}\n{exited}"
    );
    assert!(
        saw(&mut watch_seen, |seen| seen.closed_after_bye == POOL_SIZE).await,
        "every pooled connection closed cleanly after BYE: {:?}",
        *watch_seen.borrow()
    );
    println!(
        "hooks in order 0 (static), 10 (run time), 20 (run time), 30 (static); {POOL_SIZE} pooled \
         connections said QUIT and closed; {pongs} pings answered; the status port refused \
         connections during hook 20; exit 0 {:?} after the signal",
        sigterm.elapsed()
    );
}

/// Waits until what the upstream saw satisfies `wanted`, at most [`LINE_TIMEOUT`].
async fn saw(seen: &mut watch::Receiver<Seen>, wanted: impl FnMut(&Seen) -> bool) -> bool {
    matches!(
        tokio::time::timeout(LINE_TIMEOUT, seen.wait_for(wanted)).await,
        Ok(Ok(_))
    )
}

/// Reads the status line.
async fn read_status(port: u16) -> std::io::Result<String> {
    let mut socket = TcpStream::connect(("127.0.0.1", port)).await?;
    let mut line = String::new();
    tokio::time::timeout(LINE_TIMEOUT, socket.read_to_string(&mut line))
        .await
        .map_err(|_| std::io::Error::other("no status line"))??;
    Ok(line)
}

/// The upstream: `PING n` → `PONG n`; `QUIT` → `BYE`, the first one only once released.
async fn serve_upstream(
    listener: TcpListener,
    seen: Arc<watch::Sender<Seen>>,
    release: Arc<Notify>,
    held: Arc<Mutex<bool>>,
) {
    while let Ok((socket, _)) = listener.accept().await {
        seen.send_modify(|seen| seen.connections += 1);
        let (seen, release, held) = (seen.clone(), release.clone(), held.clone());
        tokio::spawn(async move {
            let mut socket = BufReader::new(socket);
            let mut line = String::new();
            loop {
                line.clear();
                if socket.read_line(&mut line).await.unwrap_or(0) == 0 {
                    return; // closed without QUIT
                }
                let answer = match line.trim_end() {
                    "QUIT" => {
                        seen.send_modify(|seen| seen.quits += 1);
                        let mut held = held.lock().await;
                        if !*held {
                            *held = true;
                            release.notified().await;
                        }
                        "BYE".to_owned()
                    }
                    ping => {
                        let n = ping.strip_prefix("PING ").expect("PING n or QUIT");
                        seen.send_modify(|seen| seen.pongs += 1);
                        format!("PONG {n}")
                    }
                };
                let reply = format!("{answer}\n");
                if socket.get_mut().write_all(reply.as_bytes()).await.is_err() {
                    return;
                }
                if answer == "BYE" {
                    // The client closes after BYE: read its end of file.
                    let mut rest = Vec::new();
                    if socket.read_to_end(&mut rest).await.is_ok() && rest.is_empty() {
                        seen.send_modify(|seen| seen.closed_after_bye += 1);
                    }
                    return;
                }
            }
        });
    }
}
