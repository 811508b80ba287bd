//! Every variant the harness times still does what the harness expects: prints its ready
//! line, and on SIGTERM exits 0 (the bare `#[tokio::main]`: dies of it); the
//! spawn-throughput binary prints one sample per case and round; the servers of the serving
//! benchmark print their address, answer and exit 0. Building this test
//! builds every variant, so CI catches a variant that no longer compiles.
//!
//! No timing is asserted here: the benchmarks run on demand, with
//! `cargo run --release -p graceful-bench`.

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Generous: the tests share a small machine.
const TIMEOUT: Duration = Duration::from_secs(60);

/// Starts `binary`, waits for `ready`, sends SIGTERM, returns the exit status.
fn ready_then_term(binary: &str) -> std::process::ExitStatus {
    ready_then_term_with(binary, |line| line == graceful_bench::READY)
}

/// Starts `binary`, waits for a line for which `ready` holds (given that line's text, it
/// may talk to the child first), sends SIGTERM, returns the exit status.
fn ready_then_term_with(
    binary: &str,
    ready: impl FnOnce(&str) -> bool,
) -> std::process::ExitStatus {
    let mut child = Command::new(binary)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("start {binary}: {e}"));
    let stdout = child.stdout.take().expect("piped");
    let (line_tx, line_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line_tx.send(line).is_err() {
                break;
            }
        }
    });
    let line = line_rx.recv_timeout(TIMEOUT);
    if !line.as_deref().is_ok_and(ready) {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{binary}: expected the ready line (and a good answer), got {line:?}");
    }
    let pid = Pid::from_raw(i32::try_from(child.id()).expect("pid"));
    kill(pid, Signal::SIGTERM).expect("SIGTERM");
    let (status_tx, status_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = status_tx.send(child.wait());
    });
    match status_rx.recv_timeout(TIMEOUT) {
        Ok(status) => status.expect("wait"),
        Err(_) => {
            let _ = kill(pid, Signal::SIGKILL);
            panic!("{binary} did not exit within {TIMEOUT:?} of SIGTERM");
        }
    }
}

fn exits_cleanly(binary: &str) {
    let status = ready_then_term(binary);
    assert_eq!(status.code(), Some(0), "{binary}: {status}");
}

macro_rules! clean_exit {
    ($($test:ident => $bin:literal,)*) => {
        $(
            #[test]
            fn $test() {
                exits_cleanly(env!(concat!("CARGO_BIN_EXE_", $bin)));
            }
        )*
    };
}

clean_exit! {
    floor => "floor",
    by_hand_0 => "by_hand_0",
    by_hand_10 => "by_hand_10",
    by_hand_1000 => "by_hand_1000",
    tgs_0 => "tgs_0",
    tgs_10 => "tgs_10",
    tgs_1000 => "tgs_1000",
    graceful_0 => "graceful_0",
    graceful_10 => "graceful_10",
    graceful_1000 => "graceful_1000",
    by_hand_phase => "by_hand_phase",
    tgs_phase => "tgs_phase",
    graceful_phase => "graceful_phase",
    by_hand_blocking_10 => "by_hand_blocking_10",
    by_hand_blocking_100 => "by_hand_blocking_100",
    by_hand_blocking_1000 => "by_hand_blocking_1000",
    graceful_blocking_10 => "graceful_blocking_10",
    graceful_blocking_100 => "graceful_blocking_100",
    graceful_blocking_1000 => "graceful_blocking_1000",
}

/// The variants with 10 000 hooks, built with the feature `large` only (see `Cargo.toml`).
#[cfg(feature = "large")]
mod large {
    use super::exits_cleanly;

    clean_exit! {
        by_hand_10000 => "by_hand_10000",
        tgs_10000 => "tgs_10000",
        graceful_10000 => "graceful_10000",
    }
}

/// The servers of the serving benchmark: each prints its address, answers `GET /` with
/// `hello` (the HTTP ones) and exits 0 on SIGTERM. The gRPC ones are called by the harness
/// (h2load, with a check of `grpc-status`).
macro_rules! serves {
    ($($test:ident => $bin:literal, $http:literal;)*) => {
        $(
            #[test]
            fn $test() {
                let status = ready_then_term_with(env!(concat!("CARGO_BIN_EXE_", $bin)), |line| {
                    let Some(addr) = line.strip_prefix(graceful_bench::servers::LISTENING) else {
                        return false;
                    };
                    !$http || get_hello(addr)
                });
                assert_eq!(status.code(), Some(0), "{}: {status}", $bin);
            }
        )*
    };
}

serves! {
    serve_graceful => "serve_graceful", true;
    serve_axum => "serve_axum", true;
    serve_hyper => "serve_hyper", true;
    grpc_graceful => "grpc_graceful", false;
    grpc_tonic => "grpc_tonic", false;
}

/// `GET /` on `addr` over HTTP/1.1 with `Connection: close`: whether the answer is a 200
/// whose body is `hello`.
fn get_hello(addr: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(TIMEOUT));
    let request = format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.starts_with("HTTP/1.1 200")
        && response.ends_with(&format!("\r\n\r\n{}", graceful_bench::servers::HELLO))
}

#[test]
fn tokio_main_dies_of_sigterm() {
    let status = ready_then_term(env!("CARGO_BIN_EXE_tokio_main"));
    assert_eq!(status.signal(), Some(Signal::SIGTERM as i32), "{status}");
}

/// The spawn-throughput binary, on a small workload: every method at every number of
/// spawning tasks, once a round, in lines the harness can read; then a clean exit.
#[test]
fn spawn_throughput_reports_every_case() {
    use graceful_bench::spawns::{self, Method, SPAWNING};

    let rounds = 2;
    let output = Command::new(env!("CARGO_BIN_EXE_spawn_throughput"))
        .args([rounds.to_string(), "400".to_owned()])
        .stdin(Stdio::null())
        .output()
        .expect("start spawn_throughput");
    assert_eq!(output.status.code(), Some(0), "{:?}", output);
    let stdout = String::from_utf8(output.stdout).expect("UTF-8");
    let mut seen = Vec::new();
    for line in stdout.lines() {
        let (method, spawning, ns) =
            spawns::parse(line).unwrap_or_else(|| panic!("unexpected line {line:?}"));
        assert!(ns > 0.0, "{line:?}");
        seen.push((method, spawning));
    }
    seen.sort_unstable();
    let mut expected: Vec<(Method, usize)> = Method::ALL
        .iter()
        .flat_map(|&m| SPAWNING.map(|k| (m, k)))
        .flat_map(|case| std::iter::repeat_n(case, rounds))
        .collect();
    expected.sort_unstable();
    assert_eq!(seen, expected);
}

/// The servers' service is the example's: the copy in `proto/` (which the package needs to
/// build on its own) has not drifted from `examples/proto/work.proto`.
#[test]
fn the_benchmarks_proto_is_the_examples() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let copy = std::fs::read_to_string(root.join("proto/work.proto")).unwrap();
    let example = std::fs::read_to_string(root.join("../examples/proto/work.proto")).unwrap();
    assert_eq!(
        copy, example,
        "copy examples/proto/work.proto to bench/proto/"
    );
}
