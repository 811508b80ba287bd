//! Item 5, drain precision: `examples/http_server` with requests of 300 ms in flight when
//! SIGTERM arrives; how long after the last response has arrived the process has exited.
//!
//! The example waits `drain_delay = "2s"` before it stops accepting (for load balancers):
//! a deliberate pause, not imprecision, so it runs with `GRACEFUL_DRAIN_DELAY=0s` and the
//! requests are still in flight at the cancel.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::child;
use crate::rounds;
use crate::stats::Summary;

/// How long each request takes to answer.
pub const REQUEST_MS: u64 = 300;
/// Requests in flight at the signal.
pub const REQUESTS: usize = 10;
/// From the last request sent to the signal.
const SIGNAL_AFTER: Duration = Duration::from_millis(50);

/// The overshoots, exit minus last response.
#[derive(Debug, Default)]
pub struct Drain {
    pub overshoots: Vec<Duration>,
    pub failures: Vec<String>,
}

impl Drain {
    /// Exit minus last response, ms.
    pub fn overshoot(&self) -> Option<Summary> {
        Summary::of_millis(&self.overshoots)
    }
}

/// Runs the server `runs` times.
pub fn measure(server: &Path, runs: usize) -> Result<Drain, String> {
    let dir = std::env::temp_dir().join(format!("graceful-bench-drain-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut overshoots = Vec::new();
    let failures = rounds::interleaved("drain", &["http_server"], runs, |_| {
        overshoots.push(run_once(server, &dir)?);
        Ok(())
    });
    let _ = std::fs::remove_dir_all(&dir);
    Ok(Drain {
        overshoots,
        failures: failures?,
    })
}

fn run_once(server: &Path, dir: &Path) -> Result<Duration, String> {
    let port = free_port()?;
    let mut command = Command::new(server);
    command
        .env("PORT", port.to_string())
        .env("ACCESS_LOG", dir.join("access.log"))
        .env("GRACEFUL_DRAIN_DELAY", "0s")
        .env("RUST_LOG", "warn");
    let mut running = child::start(command, |line| line.starts_with("listening on http://"))?;
    let addr: SocketAddr = running
        .ready_line
        .trim_start_matches("listening on http://")
        .trim()
        .parse()
        .map_err(|e| format!("{:?}: {e}", running.ready_line))?;

    let (sent_tx, sent_rx) = mpsc::channel();
    let clients: Vec<_> = (0..REQUESTS)
        .map(|_| {
            let sent = sent_tx.clone();
            std::thread::spawn(move || request(addr, &sent))
        })
        .collect();
    drop(sent_tx);
    for _ in 0..REQUESTS {
        sent_rx
            .recv_timeout(child::TIMEOUT)
            .map_err(|_| "a client could not send its request".to_owned())?;
    }
    std::thread::sleep(SIGNAL_AFTER);
    let ended = running.signal_and_reap(Signal::SIGTERM)?;
    let mut last = None;
    for client in clients {
        let answered = client
            .join()
            .map_err(|_| "a client thread panicked".to_owned())??;
        last = last.max(Some(answered));
    }
    if !ended.clean() {
        return Err(format!(
            "the server ended with {}; stderr: {}",
            ended.status,
            running.take_stderr().trim()
        ));
    }
    let last = last.expect("at least one request");
    Ok(ended.reaped_at.saturating_duration_since(last))
}

/// Sends `GET /slow?ms=300`, says so on `sent`, reads the response to the end; when its last
/// byte arrived. Fails unless the answer is a 200.
fn request(addr: SocketAddr, sent: &mpsc::Sender<()>) -> Result<Instant, String> {
    let mut stream = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    stream
        .set_read_timeout(Some(child::TIMEOUT))
        .map_err(|e| e.to_string())?;
    let request =
        format!("GET /slow?ms={REQUEST_MS} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("send: {e}"))?;
    let _ = sent.send(());
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    let mut last_byte = None;
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                last_byte = Some(Instant::now());
                response.extend_from_slice(&buf[..n]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("read: {e}")),
        }
    }
    let text = String::from_utf8_lossy(&response);
    if !text.starts_with("HTTP/1.1 200") {
        return Err(format!("expected a 200, got {:?}", text.lines().next()));
    }
    last_byte.ok_or_else(|| "no response".to_owned())
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    Ok(port)
}
