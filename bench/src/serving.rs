//! Serving: requests per second and p99 latency of `graceful::http::serve` against
//! `axum::serve(..).with_graceful_shutdown(..)` (the anchor) and hyper-util's
//! `GracefulShutdown`, the same router in each (`/` answers `hello`); unary gRPC calls through
//! `graceful::grpc::Server` against tonic's `serve_with_shutdown`. Then, at scale, idle
//! keep-alive connections: the memory each costs and the time from SIGTERM to exit.
//!
//! Every measurement starts its server afresh, pinned to core 0 (`taskset -c 0`), and runs the
//! load generator pinned to core 1, so that neither takes the other's core; every round runs
//! each (scenario, server) pair once, in a random order, so that a busy neighbour slows every
//! server alike and the ratios of the medians hold.
//!
//! | scenario | load |
//! | --- | --- |
//! | HTTP/1 keep-alive | `wrk -t1 -c64 -d5s --latency`: req/s and p99 |
//! | HTTP/2 (prior knowledge) | `h2load -c8 -m16 -n200000`: req/s and p99 |
//! | connection churn | `wrk -t1 -c64 -d5s --latency -H 'Connection: close'`: req/s and p99 |
//! | gRPC unary | `h2load -c8 -m16 -n100000` posting one framed `SlowRequest`: req/s and p99 |
//!
//! wrk gives its own p99; h2load's is read from its `--log-file`, one line per request with
//! the time from the request's start to the end of its response.
//!
//! A measurement counts only if every response was a success (wrk: no socket error and no
//! non-2xx response; h2load: every request succeeded with a 2xx); the gRPC servers are also
//! called through tonic's client before and after the load, which must answer with status OK.
//!
//! The results go to `serving.md`; the ratios to `serving.tsv`, which the next run on the same
//! machine reads before overwriting it, to state how far its own ratios are from them.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::child;
use crate::machine::{self, Machine};
use crate::report::Previous;
use crate::rounds;
use crate::stats::{self, Summary};
use graceful_bench::servers::{self, work};

/// Where the ratios are kept, next to `serving.md`, for the next run to compare.
pub const RATIOS: &str = "serving.tsv";
/// The results page.
pub const PAGE: &str = "serving.md";

/// What a server serves with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Server {
    Graceful,
    Axum,
    Hyper,
    GrpcGraceful,
    GrpcTonic,
}

impl Server {
    fn binary(self) -> &'static str {
        match self {
            Server::Graceful => "serve_graceful",
            Server::Axum => "serve_axum",
            Server::Hyper => "serve_hyper",
            Server::GrpcGraceful => "grpc_graceful",
            Server::GrpcTonic => "grpc_tonic",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Server::Graceful => "`graceful::http::serve`",
            Server::Axum => "`axum::serve` + `with_graceful_shutdown`",
            Server::Hyper => "hyper-util `GracefulShutdown`",
            Server::GrpcGraceful => "`graceful::grpc::Server`",
            Server::GrpcTonic => "tonic `serve_with_shutdown`",
        }
    }
}

/// One kind of load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    Http1,
    Http2,
    Churn,
    Grpc,
}

impl Scenario {
    const ALL: [Scenario; 4] = [
        Scenario::Http1,
        Scenario::Http2,
        Scenario::Churn,
        Scenario::Grpc,
    ];

    fn name(self) -> &'static str {
        match self {
            Scenario::Http1 => "HTTP/1 keep-alive",
            Scenario::Http2 => "HTTP/2",
            Scenario::Churn => "connection churn",
            Scenario::Grpc => "gRPC unary",
        }
    }

    fn load(self) -> &'static str {
        match self {
            Scenario::Http1 => "`wrk -t1 -c64 -d5s --latency`",
            Scenario::Http2 => "`h2load -c8 -m16 -n200000`",
            Scenario::Churn => "`wrk -t1 -c64 -d5s --latency -H 'Connection: close'`",
            Scenario::Grpc => "`h2load -c8 -m16 -n100000`, one framed `SlowRequest` per call",
        }
    }

    /// The servers compared, the one under test first, then the anchor, then the second
    /// anchor if any.
    fn servers(self) -> &'static [Server] {
        match self {
            Scenario::Grpc => &[Server::GrpcGraceful, Server::GrpcTonic],
            _ => &[Server::Graceful, Server::Axum, Server::Hyper],
        }
    }
}

/// One measurement.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub rps: f64,
    /// ms.
    pub p99: Option<f64>,
}

/// Idle keep-alive connections at one size.
#[derive(Clone, Copy, Debug)]
pub struct ScaleSample {
    pub server: Server,
    pub connections: usize,
    /// RSS after opening them minus RSS before, per connection, KiB.
    pub rss_per_connection_kib: f64,
    /// From SIGTERM to the reaped exit, ms.
    pub exit_ms: f64,
}

/// HTTP/2 streams held in flight at one size, cut at `drain_timeout`.
#[derive(Clone, Copy, Debug)]
pub struct HeldSample {
    pub streams: usize,
    pub connections: usize,
    /// RSS with the streams held minus RSS before, per stream, KiB.
    pub rss_per_stream_kib: f64,
    /// From SIGTERM to the reaped exit, ms: [`HELD_DRAIN_TIMEOUT`], then the cut.
    pub exit_ms: f64,
}

/// Everything the serving benchmark measured.
pub struct Serving {
    pub machine: Machine,
    pub rounds: usize,
    pub load: (f64, f64),
    pub samples: Vec<(Scenario, Server, Sample, usize)>,
    pub scale: Vec<ScaleSample>,
    pub held: Vec<HeldSample>,
    pub scale_rounds: usize,
    pub failures: Vec<String>,
    pub previous: Option<Previous>,
}

/// The connection counts of the scale rows; the last is as many as the descriptor limit
/// leaves room for.
pub const SCALE_SIZES: [usize; 3] = [1_000, 5_000, 10_000];

/// The stream counts of the held HTTP/2 rows: streams are not descriptors, so they go past
/// the connections' limit.
pub const HELD_SIZES: [usize; 4] = [1_000, 10_000, 50_000, 100_000];

/// Streams h2load holds on each connection (hyper's server allows 200 at once).
const STREAMS_PER_CONNECTION: usize = 100;

/// The drain timeout of the held rows: the streams are cut when it ends.
const HELD_DRAIN_TIMEOUT: Duration = Duration::from_secs(1);

/// Runs every scenario `rounds` times, then the scale rows `scale_rounds` times (none if 0).
pub fn measure(
    bin_dir: &Path,
    rounds_n: usize,
    scale_rounds: usize,
    out: &Path,
) -> Result<Serving, String> {
    for tool in ["taskset", "wrk", "h2load"] {
        if Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_err()
        {
            return Err(format!(
                "{tool} is not installed (Debian: apt-get install util-linux wrk nghttp2-client)"
            ));
        }
    }
    let machine = Machine::describe();
    let previous = Previous::read(&out.join(RATIOS), &machine);
    let load_before = machine::load();
    let body = std::env::temp_dir().join(format!("graceful-bench-grpc-{}", std::process::id()));
    std::fs::write(&body, grpc_body()).map_err(|e| format!("{}: {e}", body.display()))?;

    let pairs: Vec<(Scenario, Server)> = Scenario::ALL
        .iter()
        .flat_map(|&s| s.servers().iter().map(move |&server| (s, server)))
        .collect();
    let mut samples = Vec::new();
    let mut calls = 0;
    let failures = rounds::interleaved("serving", &pairs, rounds_n, |(scenario, server)| {
        // `interleaved` runs each pair once a round, one round after another.
        let round = calls / pairs.len() + 1;
        calls += 1;
        let sample = run_once(bin_dir, scenario, server, &body)?;
        samples.push((scenario, server, sample, round));
        Ok(())
    });
    let _ = std::fs::remove_file(&body);
    let mut failures = failures?;

    let mut scale = Vec::new();
    if scale_rounds > 0 {
        let limit = raise_descriptor_limit()?;
        let mut sizes = SCALE_SIZES.to_vec();
        // Room for the server's own descriptors and the harness's.
        let most = usize::try_from(limit)
            .unwrap_or(usize::MAX)
            .saturating_sub(1_000);
        sizes.retain(|&n| n <= most);
        if most > *sizes.last().unwrap_or(&0) {
            sizes.push(most);
        }
        let items: Vec<(usize, Server)> = sizes
            .iter()
            .flat_map(|&n| [(n, Server::Graceful), (n, Server::Axum)])
            .collect();
        failures.extend(rounds::interleaved(
            "serving, idle connections",
            &items,
            scale_rounds,
            |(n, server)| {
                scale.push(idle_connections(bin_dir, server, n)?);
                Ok(())
            },
        )?);
    }
    let mut held = Vec::new();
    if scale_rounds > 0 {
        failures.extend(rounds::interleaved(
            "serving, held HTTP/2 streams",
            &HELD_SIZES,
            scale_rounds,
            |n| {
                held.push(held_streams(bin_dir, n)?);
                Ok(())
            },
        )?);
    }

    Ok(Serving {
        machine,
        rounds: rounds_n,
        load: (load_before, machine::load()),
        samples,
        scale,
        held,
        scale_rounds,
        failures,
        previous,
    })
}

/// A port free now, for the next server.
fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

/// Starts `server` pinned to core 0; its address.
fn start(bin_dir: &Path, server: Server) -> Result<(child::Running, SocketAddr), String> {
    start_with(bin_dir, server, &[])
}

/// Starts `server` pinned to core 0, with `env` set; its address.
fn start_with(
    bin_dir: &Path,
    server: Server,
    env: &[(&str, &str)],
) -> Result<(child::Running, SocketAddr), String> {
    let port = free_port()?;
    let mut command = Command::new("taskset");
    command
        .args(["-c", "0"])
        .arg(bin_dir.join(server.binary()))
        .env("PORT", port.to_string())
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied());
    let running = child::start(command, |line| line.starts_with(servers::LISTENING))?;
    let addr = running
        .ready_line
        .trim_start_matches(servers::LISTENING)
        .trim()
        .parse()
        .map_err(|e| format!("{:?}: {e}", running.ready_line))?;
    Ok((running, addr))
}

/// SIGTERM, and a clean exit expected.
fn stop(mut running: child::Running, server: Server) -> Result<child::Ended, String> {
    let ended = running.signal_and_reap(Signal::SIGTERM)?;
    if ended.clean() {
        Ok(ended)
    } else {
        Err(format!(
            "{} ended with {}; stderr: {}",
            server.binary(),
            ended.status,
            running.take_stderr().trim()
        ))
    }
}

fn run_once(
    bin_dir: &Path,
    scenario: Scenario,
    server: Server,
    grpc_body: &Path,
) -> Result<Sample, String> {
    let (running, addr) = start(bin_dir, server)?;
    let url = format!("http://{addr}/");
    let sample = match scenario {
        Scenario::Http1 => wrk(&url, &[]),
        Scenario::Churn => wrk(&url, &["-H", "Connection: close"]),
        Scenario::Http2 => h2load(&url, 200_000, &[]),
        Scenario::Grpc => grpc_call(addr).and_then(|()| {
            let url = format!("http://{addr}{}", servers::GRPC_PATH);
            let body = grpc_body.to_string_lossy().into_owned();
            let sample = h2load(
                &url,
                100_000,
                &[
                    "-H",
                    "content-type: application/grpc",
                    "-H",
                    "te: trailers",
                    "-d",
                    &body,
                ],
            )?;
            grpc_call(addr)?;
            Ok(sample)
        }),
    };
    let stopped = stop(running, server);
    let sample = sample?;
    stopped?;
    Ok(sample)
}

/// Runs the load generator pinned to core 1; its stdout.
fn pinned(program: &str, args: &[&str]) -> Result<String, String> {
    let output = Command::new("taskset")
        .args(["-c", "1", program])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        return Err(format!(
            "{program} {}: {}; {}{}",
            args.join(" "),
            output.status,
            stdout,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(stdout)
}

fn wrk(url: &str, extra: &[&str]) -> Result<Sample, String> {
    let mut args = vec!["-t1", "-c64", "-d5s", "--latency"];
    args.extend_from_slice(extra);
    args.push(url);
    let out = pinned("wrk", &args)?;
    parse_wrk(&out).ok_or_else(|| format!("wrk: unexpected output or errors:\n{out}"))
}

/// Requests per second and p99 from wrk's output; `None` if any request failed.
fn parse_wrk(out: &str) -> Option<Sample> {
    if out.contains("Socket errors") || out.contains("Non-2xx or 3xx responses") {
        return None;
    }
    let rps = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))?
        .trim()
        .parse()
        .ok()?;
    let p99 = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("99%"))
        .and_then(|v| duration_ms(v.trim()));
    Some(Sample { rps, p99 })
}

/// `12.5us`, `3.2ms`, `1.01s` in ms.
fn duration_ms(text: &str) -> Option<f64> {
    let (number, scale) = if let Some(n) = text.strip_suffix("us") {
        (n, 1e-3)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60_000.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1e3)
    } else {
        return None;
    };
    Some(number.parse::<f64>().ok()? * scale)
}

fn h2load(url: &str, requests: usize, extra: &[&str]) -> Result<Sample, String> {
    let n = requests.to_string();
    let log =
        std::env::temp_dir().join(format!("graceful-bench-h2load-{}.log", std::process::id()));
    let log_arg = format!("--log-file={}", log.display());
    let mut args = vec!["-c8", "-m16", "-n", &n, &log_arg];
    args.extend_from_slice(extra);
    args.push(url);
    let out = pinned("h2load", &args);
    let logged = std::fs::read_to_string(&log).map_err(|e| format!("h2load's log: {e}"));
    let _ = std::fs::remove_file(&log);
    let (out, logged) = (out?, logged?);
    let rps = parse_h2load(&out, requests)
        .ok_or_else(|| format!("h2load: unexpected output or errors:\n{out}"))?;
    let p99 = p99_of_h2load_log(&logged, requests)
        .ok_or_else(|| format!("h2load's log: not {requests} 2xx responses"))?;
    Ok(Sample {
        rps,
        p99: Some(p99),
    })
}

/// The p99, in ms, of the response times in h2load's `--log-file` (tab-separated: the
/// request's start, its status, µs to the end of its response); `None` unless it holds
/// `requests` lines, each a 2xx.
fn p99_of_h2load_log(log: &str, requests: usize) -> Option<f64> {
    let mut micros = log
        .lines()
        .map(|line| {
            let mut columns = line.split('\t').skip(1);
            let status: u16 = columns.next()?.parse().ok()?;
            let micros: u64 = columns.next()?.trim().parse().ok()?;
            (200..300).contains(&status).then_some(micros)
        })
        .collect::<Option<Vec<u64>>>()?;
    if micros.len() != requests {
        return None;
    }
    micros.sort_unstable();
    Some(stats::nearest_rank(&micros, 99)? as f64 / 1e3)
}

/// Requests per second from h2load's output; `None` unless every request succeeded with a
/// 2xx.
fn parse_h2load(out: &str, requests: usize) -> Option<f64> {
    let finished = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("finished in "))?;
    let rps = finished
        .split(", ")
        .find_map(|part| part.strip_suffix(" req/s"))?
        .parse()
        .ok()?;
    let succeeded = format!("{requests} succeeded, 0 failed, 0 errored, 0 timeout");
    let ok = format!("status codes: {requests} 2xx,");
    (out.contains(&succeeded) && out.contains(&ok)).then_some(rps)
}

/// One `SlowRequest { ms: 1 }` in gRPC's framing: no compression, the length, the message.
fn grpc_body() -> Vec<u8> {
    let message = prost::Message::encode_to_vec(&work::SlowRequest { ms: 1 });
    let mut body = vec![0];
    body.extend_from_slice(&u32::try_from(message.len()).unwrap_or(0).to_be_bytes());
    body.extend_from_slice(&message);
    body
}

/// Calls the method once through tonic's client: status OK and the answer expected.
fn grpc_call(addr: SocketAddr) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let mut client = work::work_client::WorkClient::connect(format!("http://{addr}"))
            .await
            .map_err(|e| format!("gRPC connect {addr}: {e}"))?;
        let reply = client
            .slow(work::SlowRequest { ms: 1 })
            .await
            .map_err(|status| format!("gRPC call: {status}"))?;
        if reply.get_ref().ms == 1 {
            Ok(())
        } else {
            Err(format!(
                "gRPC call: unexpected answer {:?}",
                reply.get_ref()
            ))
        }
    })
}

/// Raises this process's soft limit of descriptors to its hard limit (the servers it starts
/// inherit it); the new limit.
fn raise_descriptor_limit() -> Result<u64, String> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).map_err(|e| format!("getrlimit: {e}"))?;
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).map_err(|e| format!("setrlimit: {e}"))?;
    Ok(hard)
}

/// `VmRSS` of `pid`, KiB.
fn rss_kib(pid: nix::unistd::Pid) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Opens `n` connections to `server`, each answered once (idle keep-alive connections, not
/// unread ones), then SIGTERM: the RSS each cost the server, and its exit time.
fn idle_connections(bin_dir: &Path, server: Server, n: usize) -> Result<ScaleSample, String> {
    let (running, addr) = start(bin_dir, server)?;
    let pid = running.pid();
    // One connection answered first, so that what the first connection brings (buffers,
    // the runtime's first allocations) is not counted as the cost of every one.
    drop(keep_alive(addr)?);
    std::thread::sleep(Duration::from_millis(100));
    let before = rss_kib(pid).ok_or("no VmRSS")?;
    let mut open = Vec::with_capacity(n);
    for _ in 0..n {
        open.push(keep_alive(addr)?);
    }
    std::thread::sleep(Duration::from_millis(200));
    let after = rss_kib(pid).ok_or("no VmRSS")?;
    let ended = stop(running, server)?;
    drop(open);
    Ok(ScaleSample {
        server,
        connections: n,
        rss_per_connection_kib: (after.saturating_sub(before)) as f64 / n as f64,
        exit_ms: ended.exit_after.as_secs_f64() * 1e3,
    })
}

/// Holds `n` HTTP/2 streams in flight on `graceful::http::serve` (`/held`, from h2load on
/// [`STREAMS_PER_CONNECTION`] streams a connection), then SIGTERM: the drain waits
/// [`HELD_DRAIN_TIMEOUT`], then cuts them. The RSS each stream cost, and the exit time; the
/// exit must say that every connection was cut (exit code 1).
fn held_streams(bin_dir: &Path, n: usize) -> Result<HeldSample, String> {
    let connections = n.div_ceil(STREAMS_PER_CONNECTION);
    let streams = connections * STREAMS_PER_CONNECTION;
    let timeout = format!("{}s", HELD_DRAIN_TIMEOUT.as_secs());
    let (mut running, addr) = start_with(
        bin_dir,
        Server::Graceful,
        &[(graceful::ENV_DRAIN_TIMEOUT, &timeout)],
    )?;
    let pid = running.pid();
    drop(keep_alive(addr)?);
    std::thread::sleep(Duration::from_millis(100));
    let before = rss_kib(pid).ok_or("no VmRSS")?;
    let mut load = Command::new("taskset")
        .args(["-c", "1", "h2load"])
        .args(["-c", &connections.to_string()])
        .args(["-m", &STREAMS_PER_CONNECTION.to_string()])
        .args(["-n", &streams.to_string()])
        .arg(format!("http://{addr}/held"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("h2load: {e}"))?;
    let held = wait_until_held(addr, streams);
    let after = rss_kib(pid);
    let ended = held.and_then(|()| running.signal_and_reap(Signal::SIGTERM));
    // The cut closed every connection h2load had: it ends (or is stopped, if the server did
    // not get that far).
    let _ = load.kill();
    let _ = load.wait();
    let ended = ended?;
    let stderr = running.take_stderr();
    let cut = format!("{connections} connections cut");
    if ended.status.code() != Some(1) || !stderr.contains(&cut) {
        return Err(format!(
            "{n} held streams: exit {} without {cut:?}; stderr: {}",
            ended.status,
            stderr.trim()
        ));
    }
    let after = after.ok_or("no VmRSS")?;
    Ok(HeldSample {
        streams,
        connections,
        rss_per_stream_kib: (after.saturating_sub(before)) as f64 / streams as f64,
        exit_ms: ended.exit_after.as_secs_f64() * 1e3,
    })
}

/// Waits until the server's `/held` has taken `streams` requests.
fn wait_until_held(addr: SocketAddr, streams: usize) -> Result<(), String> {
    let deadline = Instant::now() + child::TIMEOUT;
    loop {
        let held: usize = get_body(addr, "/held/count")?
            .trim()
            .parse()
            .map_err(|e| format!("/held/count: {e}"))?;
        if held >= streams {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{held} of {streams} streams held after {:?}",
                child::TIMEOUT
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The body of `GET path` on a connection of its own.
fn get_body(addr: SocketAddr, path: &str) -> Result<String, String> {
    let mut stream = send_get(addr, path, "Connection: close\r\n")?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|e| format!("read: {e}"))?;
    response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .ok_or_else(|| format!("{path}: no body in {response:?}"))
}

/// A connection that has had one `GET /` answered, left open.
fn keep_alive(addr: SocketAddr) -> Result<TcpStream, String> {
    let mut stream = send_get(addr, "/", "")?;
    let mut response = Vec::new();
    let mut buf = [0u8; 1024];
    while !response.ends_with(servers::HELLO.as_bytes()) {
        let read = stream.read(&mut buf).map_err(|e| format!("read: {e}"))?;
        if read == 0 {
            return Err("closed before the answer".to_owned());
        }
        response.extend_from_slice(&buf[..read]);
    }
    Ok(stream)
}

/// A new connection to `addr` on which `GET path` (with `headers`, each ending in CRLF) has
/// been sent.
fn send_get(addr: SocketAddr, path: &str, headers: &str) -> Result<TcpStream, String> {
    let mut stream = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    stream
        .set_read_timeout(Some(child::TIMEOUT))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}\r\n").as_bytes())
        .map_err(|e| format!("send: {e}"))?;
    Ok(stream)
}

impl Serving {
    fn values(&self, scenario: Scenario, server: Server) -> Vec<Sample> {
        self.samples
            .iter()
            .filter(|(s, v, ..)| *s == scenario && *v == server)
            .map(|&(.., sample, _)| sample)
            .collect()
    }

    fn rps(&self, scenario: Scenario, server: Server) -> Option<Summary> {
        let v: Vec<f64> = self
            .values(scenario, server)
            .iter()
            .map(|s| s.rps)
            .collect();
        Summary::of(&v)
    }

    fn p99(&self, scenario: Scenario, server: Server) -> Option<Summary> {
        let v: Vec<f64> = self
            .values(scenario, server)
            .iter()
            .filter_map(|s| s.p99)
            .collect();
        Summary::of(&v)
    }

    /// The ratio of each round's pair (same round, so measured close together): lowest and
    /// highest.
    fn round_ratios(
        &self,
        scenario: Scenario,
        num: Server,
        den: Server,
        of: impl Fn(&Sample) -> Option<f64>,
    ) -> Option<(f64, f64)> {
        let find = |server: Server, round: usize| {
            self.samples
                .iter()
                .find(|(s, v, _, r)| *s == scenario && *v == server && *r == round)
                .and_then(|(_, _, sample, _)| of(sample))
        };
        let ratios: Vec<f64> = (1..=self.rounds)
            .filter_map(|round| Some(find(num, round)? / find(den, round)?))
            .collect();
        let low = ratios.iter().copied().reduce(f64::min)?;
        let high = ratios.iter().copied().reduce(f64::max)?;
        Some((low, high))
    }

    /// The targets: (what, ratio, limit, at least (true) or at most).
    fn targets(&self) -> Vec<(String, Option<f64>, f64, bool)> {
        let mut targets = Vec::new();
        for scenario in Scenario::ALL {
            let servers = scenario.servers();
            for &anchor in &servers[1..] {
                let ratio = |f: fn(&Serving, Scenario, Server) -> Option<Summary>| {
                    Some(f(self, scenario, servers[0])?.median / f(self, scenario, anchor)?.median)
                };
                targets.push((
                    format!("{}: req/s, graceful / {}", scenario.name(), anchor.name()),
                    ratio(Serving::rps),
                    1.0,
                    true,
                ));
                targets.push((
                    format!("{}: p99, graceful / {}", scenario.name(), anchor.name()),
                    ratio(Serving::p99),
                    1.0,
                    false,
                ));
            }
        }
        targets
    }

    /// `serving.tsv`: the machine and the date, then each ratio.
    pub fn ratios_tsv(&self) -> String {
        let m = &self.machine;
        let mut tsv = format!("{}\t{}\t{}\t{}\n", m.date, m.cores, m.cpu, self.rounds);
        for (what, ratio, ..) in self.targets() {
            if let Some(r) = ratio {
                let _ = writeln!(tsv, "{what}\t{r:.4}");
            }
        }
        tsv
    }

    /// `serving.md`.
    pub fn markdown(&self) -> String {
        let m = &self.machine;
        let mut md = String::new();
        let _ = writeln!(md, "# graceful: serving benchmark\n");
        let _ = writeln!(
            md,
            "Measured {} on {} cores ({}), Linux {}, {}. 1-minute load average {:.2} before and \
             {:.2} after. Reproduce with `cargo run --release -p graceful-bench -- --only \
             serving` ({} rounds; `--serving-rounds`, `--scale-rounds`).\n",
            m.date, m.cores, m.cpu, m.kernel, m.rustc, self.load.0, self.load.1, self.rounds
        );
        let _ = writeln!(
            md,
            "The same axum router in every HTTP server (`/` answers `hello`), release builds. \
             Each measurement starts its server afresh, pinned to core 0 (`taskset -c 0`), with \
             the load generator pinned to core 1; each round runs every (scenario, server) \
             pair once, in a random order. Medians over the rounds; a measurement counts only \
             if every response was a success (the gRPC servers: also one call through tonic's \
             client before and after the load, answered with status OK).\n"
        );
        let _ = writeln!(md, "## Targets\n");
        let _ = writeln!(
            md,
            "| target | ratio of the medians | lowest – highest ratio in one round | | previous run |"
        );
        let _ = writeln!(md, "| --- | ---: | ---: | --- | ---: |");
        for (what, ratio, limit, at_least) in self.targets() {
            let per_round = Scenario::ALL.iter().find_map(|&s| {
                let servers = s.servers();
                servers[1..].iter().find_map(|&anchor| {
                    let base = format!("{}: ", s.name());
                    let rps = format!("{base}req/s, graceful / {}", anchor.name());
                    let p99 = format!("{base}p99, graceful / {}", anchor.name());
                    if what == rps {
                        self.round_ratios(s, servers[0], anchor, |x| Some(x.rps))
                    } else if what == p99 {
                        self.round_ratios(s, servers[0], anchor, |x| x.p99)
                    } else {
                        None
                    }
                })
            });
            let met = ratio.map(|r| if at_least { r >= limit } else { r <= limit });
            let previous = self
                .previous
                .as_ref()
                .and_then(|p| p.ratio(&what))
                .map_or(String::new(), |r| format!("{r:.3}"));
            let _ = writeln!(
                md,
                "| {what} {} {limit:.2} | {} | {} | {} | {previous} |",
                if at_least { "≥" } else { "≤" },
                ratio.map_or("–".to_owned(), |r| format!("{r:.3}")),
                per_round.map_or("–".to_owned(), |(l, h)| format!("{l:.3} – {h:.3}")),
                match met {
                    Some(true) => "met",
                    Some(false) => "**missed**",
                    None => "not measured",
                },
            );
        }
        if let Some(sentence) = self.spread_sentence() {
            let _ = writeln!(md, "\n{sentence}");
        }

        let _ = writeln!(md, "\n## Throughput and latency\n");
        let _ = writeln!(
            md,
            "Requests per second, median (lowest – highest of the rounds); p99 in ms (wrk's, \
             or from h2load's log of every request), median (lowest – highest).\n"
        );
        let _ = writeln!(md, "| scenario | load | server | req/s | p99 (ms) |");
        let _ = writeln!(md, "| --- | --- | --- | ---: | ---: |");
        for scenario in Scenario::ALL {
            for &server in scenario.servers() {
                let samples = self.values(scenario, server);
                let range = |v: Vec<f64>, digits: usize| {
                    let s = Summary::of(&v)?;
                    let low = v.iter().copied().reduce(f64::min)?;
                    let high = v.iter().copied().reduce(f64::max)?;
                    Some(format!(
                        "{:.digits$} ({low:.digits$} – {high:.digits$})",
                        s.median
                    ))
                };
                let rps = range(samples.iter().map(|s| s.rps).collect(), 0);
                let p99 = range(samples.iter().filter_map(|s| s.p99).collect(), 2);
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} | {} |",
                    scenario.name(),
                    scenario.load(),
                    server.name(),
                    rps.unwrap_or_else(|| "–".to_owned()),
                    p99.unwrap_or_else(|| "–".to_owned()),
                );
            }
        }

        if !self.scale.is_empty() {
            let _ = writeln!(md, "\n## Idle keep-alive connections\n");
            let _ = writeln!(
                md,
                "N connections opened by the harness (another process), each answered once and \
                 left open; then SIGTERM. RSS per connection: the server's `VmRSS` after \
                 opening them minus before, over N. Exit: from SIGTERM to the reaped exit. \
                 Medians of {} rounds (the servers interleaved).\n",
                self.scale_rounds
            );
            let _ = writeln!(
                md,
                "| N | graceful RSS / connection (KiB) | axum RSS / connection (KiB) | ratio | graceful SIGTERM to exit (ms) | axum SIGTERM to exit (ms) | ratio |"
            );
            let _ = writeln!(md, "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
            let mut sizes: Vec<usize> = self.scale.iter().map(|s| s.connections).collect();
            sizes.sort_unstable();
            sizes.dedup();
            for n in sizes {
                let of = |server: Server, f: fn(&ScaleSample) -> f64| {
                    let v: Vec<f64> = self
                        .scale
                        .iter()
                        .filter(|s| s.connections == n && s.server == server)
                        .map(f)
                        .collect();
                    Summary::of(&v).map(|s| s.median)
                };
                let rss_g = of(Server::Graceful, |s| s.rss_per_connection_kib);
                let rss_a = of(Server::Axum, |s| s.rss_per_connection_kib);
                let exit_g = of(Server::Graceful, |s| s.exit_ms);
                let exit_a = of(Server::Axum, |s| s.exit_ms);
                let cell =
                    |v: Option<f64>, d: usize| v.map_or("–".to_owned(), |v| format!("{v:.d$}"));
                let ratio = |a: Option<f64>, b: Option<f64>| cell(a.zip(b).map(|(a, b)| a / b), 2);
                let _ = writeln!(
                    md,
                    "| {n} | {} | {} | {} | {} | {} | {} |",
                    cell(rss_g, 2),
                    cell(rss_a, 2),
                    ratio(rss_g, rss_a),
                    cell(exit_g, 1),
                    cell(exit_a, 1),
                    ratio(exit_g, exit_a),
                );
            }
        }

        if !self.held.is_empty() {
            let _ = writeln!(md, "\n## HTTP/2 streams in flight at `drain_timeout`\n");
            let _ = writeln!(
                md,
                "`graceful::http::serve` only (`axum::serve` has no drain timeout: it waits for \
                 the streams for ever). N streams held in flight by h2load (`/held`, which never \
                 answers; {STREAMS_PER_CONNECTION} streams on each connection), \
                 `GRACEFUL_DRAIN_TIMEOUT={}s`, then SIGTERM: the drain waits \
                 the timeout, then cuts every connection; a measurement counts only if the exit \
                 code is 1 and stderr says that every connection was cut. RSS per stream: the \
                 server's `VmRSS` with the streams held minus before, over N. The cut: from \
                 SIGTERM to the reaped exit, minus the timeout. Medians of {} rounds.\n",
                HELD_DRAIN_TIMEOUT.as_secs(),
                self.scale_rounds
            );
            let _ = writeln!(
                md,
                "| N streams | connections | RSS / stream (KiB) | SIGTERM to exit (ms) | the cut: exit minus the timeout (ms) | the cut per 1,000 streams (ms) |"
            );
            let _ = writeln!(md, "| ---: | ---: | ---: | ---: | ---: | ---: |");
            let timeout_ms = HELD_DRAIN_TIMEOUT.as_secs_f64() * 1e3;
            for n in HELD_SIZES {
                let rows: Vec<&HeldSample> = self
                    .held
                    .iter()
                    .filter(|s| {
                        s.streams == n.div_ceil(STREAMS_PER_CONNECTION) * STREAMS_PER_CONNECTION
                    })
                    .collect();
                let Some(first) = rows.first() else { continue };
                let median = |f: fn(&HeldSample) -> f64| {
                    let v: Vec<f64> = rows.iter().map(|s| f(s)).collect();
                    Summary::of(&v).map_or(0.0, |s| s.median)
                };
                let exit = median(|s| s.exit_ms);
                let cut = exit - timeout_ms;
                let _ = writeln!(
                    md,
                    "| {} | {} | {:.2} | {exit:.1} | {cut:.1} | {:.2} |",
                    first.streams,
                    first.connections,
                    median(|s| s.rss_per_stream_kib),
                    cut / (first.streams as f64 / 1e3),
                );
            }
        }

        if !self.failures.is_empty() {
            let _ = writeln!(md, "\n## Failed measurements (not counted)\n");
            for failure in &self.failures {
                let first = failure.lines().next().unwrap_or_default();
                let _ = writeln!(md, "- {first}");
            }
        }
        md
    }

    fn spread_sentence(&self) -> Option<String> {
        let previous = self.previous.as_ref()?;
        let mut differences: Vec<f64> = self
            .targets()
            .iter()
            .filter_map(|(what, r, ..)| Some((r.as_ref()? / previous.ratio(what)? - 1.0).abs()))
            .collect();
        let median = Summary::of(&differences)?.median;
        differences.sort_by(f64::total_cmp);
        Some(format!(
            "Spread between runs: against the previous run on this machine ({}, {} rounds), the \
             {} ratios differ by {:.1} % at the median and {:.1} % at most.",
            previous.date,
            previous.runs,
            differences.len(),
            median * 100.0,
            differences.last()? * 100.0
        ))
    }
}

/// Writes `serving.md` and `serving.tsv` in `out`; prints the page.
pub fn write(serving: &Serving, out: &Path) -> Result<PathBuf, String> {
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let page = out.join(PAGE);
    let markdown = serving.markdown();
    std::fs::write(&page, &markdown).map_err(|e| format!("{}: {e}", page.display()))?;
    let tsv = out.join(RATIOS);
    std::fs::write(&tsv, serving.ratios_tsv()).map_err(|e| format!("{}: {e}", tsv.display()))?;
    println!("{markdown}");
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wrk() {
        let out = "Running 5s test @ http://127.0.0.1:1/\n  1 threads and 64 connections\n  \
                   Latency Distribution\n     50%  512.00us\n     99%    5.98ms\n  \
                   294000 requests in 5.00s, 36.17MB read\nRequests/sec:  58824.60\n";
        let sample = parse_wrk(out).unwrap();
        assert_eq!(sample.rps, 58824.60);
        assert_eq!(sample.p99, Some(5.98));
        assert!(parse_wrk(&format!("{out}  Non-2xx or 3xx responses: 3\n")).is_none());
        assert_eq!(duration_ms("512.00us"), Some(0.512));
        assert_eq!(duration_ms("1.50s"), Some(1500.0));
    }

    #[test]
    fn reads_h2load() {
        let out = "finished in 4.09s, 24431.13 req/s, 906.98KB/s\nrequests: 100 total, 100 \
                   started, 100 done, 100 succeeded, 0 failed, 0 errored, 0 timeout\nstatus \
                   codes: 100 2xx, 0 3xx, 0 4xx, 0 5xx\n";
        assert_eq!(parse_h2load(out, 100), Some(24431.13));
        assert!(parse_h2load(out, 200).is_none());
    }

    #[test]
    fn reads_the_p99_of_h2load_s_log() {
        // 100 requests taking 1 to 100 ms: 99 % took 99 ms or less.
        let log: String = (1..=100)
            .rev()
            .map(|ms| format!("1765100000{ms:06}\t200\t{}\n", ms * 1000))
            .collect();
        assert_eq!(p99_of_h2load_log(&log, 100), Some(99.0));
        assert!(p99_of_h2load_log(&log, 101).is_none());
        let failed = log.replacen("\t200\t", "\t-1\t", 1);
        assert!(p99_of_h2load_log(&failed, 100).is_none());
    }

    #[test]
    fn frames_the_grpc_body() {
        assert_eq!(grpc_body(), [0, 0, 0, 0, 2, 0x08, 1]);
    }
}
