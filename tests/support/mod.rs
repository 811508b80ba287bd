//! The harness of the load tests: starts an example binary as a real process, reads its
//! output line by line, sends it real signals, and talks to it over real sockets on
//! 127.0.0.1 with a real HTTP client (hyper).
//!
//! Nothing here sleeps and hopes: every wait is for a line, a status or a response, and has a
//! deadline; past it the child is killed and the test fails with everything the child printed.
//! A [`Service`] dropped while its child still runs (a failed assertion) kills the child.

#![allow(dead_code)] // each test file uses a part of it

use std::fmt;
use std::io::ErrorKind;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::client::conn::http1;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use nix::sys::signal::kill;
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::timeout;

pub use nix::sys::signal::Signal;

/// How long an example may take to print its first line (generous: the tests run in parallel
/// on a small, loaded machine).
pub const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long to wait for a line once the example runs.
pub const LINE_TIMEOUT: Duration = Duration::from_secs(20);
/// How long one request may take before the client calls it hanging.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// The variables of the contract, removed from the child's environment unless a test sets
/// them, so that the developer's shell cannot change a test's outcome.
const INHERITED_OUT: [&str; 5] = [
    "GRACEFUL_TIMEOUT",
    "GRACEFUL_DRAIN_TIMEOUT",
    "GRACEFUL_DRAIN_DELAY",
    "RUST_LOG",
    "PORT",
];

/// The path of the example binary `name`, built by `cargo test` next to the test binaries:
/// `target/<profile>/deps/<test>` → `target/<profile>/examples/<name>`.
pub fn example(name: &str) -> PathBuf {
    let test = std::env::current_exe().expect("the test binary knows its path");
    let profile_dir = test
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps");
    let path = profile_dir.join("examples").join(name);
    assert!(
        path.is_file(),
        "example binary {name:?} not found at {}: `cargo test` builds the examples before it \
         runs the tests; when running one test file alone, build them first with \
         `cargo build --examples` (same profile)",
        path.display()
    );
    path
}

/// A port that was free a moment ago: bind 127.0.0.1:0, read the port, let it go.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("a bound address").port()
}

/// A fresh directory under the system's temporary directory, removed (with its content)
/// when dropped.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("the clock is after 1970")
            .as_nanos();
        let unique = format!(
            "graceful-{label}-{}-{nanos}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(unique);
        std::fs::create_dir(&path)
            .unwrap_or_else(|error| panic!("cannot create {}: {error}", path.display()));
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A small deterministic random generator (splitmix64): the seed is printed by the tests so a
/// failing run can be replayed.
pub struct Rng(u64);

impl Rng {
    /// Seeded from `seed_var` if set (to replay a run), else from the clock.
    pub fn from_env(seed_var: &str) -> Rng {
        let seed = match std::env::var(seed_var) {
            Ok(text) => text
                .parse()
                .unwrap_or_else(|_| panic!("{seed_var}={text:?} is not a u64")),
            Err(_) => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .expect("the clock is after 1970")
                .as_nanos() as u64,
        };
        println!("random seed: {seed} (replay with {seed_var}={seed})");
        Rng(seed)
    }

    /// A generator seeded with `seed` (one per task, from a generator seeded by
    /// [`from_env`](Self::from_env)).
    pub fn seeded(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `low..=high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next_u64() % (high - low + 1)
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next_u64() % items.len() as u64) as usize]
    }
}

/// One line of output and when the harness read it.
#[derive(Clone, Debug)]
pub struct Line {
    pub at: Instant,
    pub text: String,
}

#[derive(Default)]
struct StreamState {
    lines: Vec<Line>,
    closed: bool,
}

/// The lines read so far from one pipe of the child.
struct Stream {
    state: watch::Sender<StreamState>,
}

impl Stream {
    fn new() -> Arc<Stream> {
        Arc::new(Stream {
            state: watch::Sender::new(StreamState::default()),
        })
    }

    fn read_from(self: Arc<Self>, pipe: impl AsyncRead + Unpin + Send + 'static) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut reader = BufReader::new(pipe);
            let mut buffer = Vec::new();
            loop {
                buffer.clear();
                match reader.read_until(b'\n', &mut buffer).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let text = String::from_utf8_lossy(&buffer);
                        let text = text.strip_suffix('\n').unwrap_or(&text).to_owned();
                        let line = Line {
                            at: Instant::now(),
                            text,
                        };
                        self.state.send_modify(|state| state.lines.push(line));
                    }
                }
            }
            self.state.send_modify(|state| state.closed = true);
        })
    }

    fn lines(&self) -> Vec<Line> {
        self.state.borrow().lines.clone()
    }

    fn texts(&self) -> Vec<String> {
        self.state
            .borrow()
            .lines
            .iter()
            .map(|line| line.text.clone())
            .collect()
    }

    /// Waits for a line satisfying `wanted`; `None` if the pipe closed or the time ran out.
    async fn wait_for(&self, wanted: impl Fn(&str) -> bool, limit: Duration) -> Option<Line> {
        let until = tokio::time::Instant::now() + limit;
        let mut changes = self.state.subscribe();
        loop {
            {
                let state = changes.borrow_and_update();
                if let Some(line) = state.lines.iter().find(|line| wanted(&line.text)) {
                    return Some(line.clone());
                }
                if state.closed {
                    return None;
                }
            }
            match tokio::time::timeout_at(until, changes.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return None,
            }
        }
    }

    /// Waits until `count` lines satisfy `wanted`; the last of them, or `None` if the pipe
    /// closed or the time ran out first.
    async fn wait_for_count(
        &self,
        wanted: impl Fn(&str) -> bool,
        count: usize,
        limit: Duration,
    ) -> Option<Line> {
        let until = tokio::time::Instant::now() + limit;
        let mut changes = self.state.subscribe();
        loop {
            {
                let state = changes.borrow_and_update();
                let mut matching = state.lines.iter().filter(|line| wanted(&line.text));
                if let Some(line) = matching.nth(count.saturating_sub(1)) {
                    return Some(line.clone());
                }
                if state.closed {
                    return None;
                }
            }
            match tokio::time::timeout_at(until, changes.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return None,
            }
        }
    }

    async fn wait_closed(&self, limit: Duration) -> bool {
        let mut changes = self.state.subscribe();
        timeout(limit, changes.wait_for(|state| state.closed))
            .await
            .is_ok()
    }
}

/// A running example.
pub struct Service {
    name: String,
    child: Child,
    pid: Pid,
    stdout: Arc<Stream>,
    stderr: Arc<Stream>,
    readers: Vec<JoinHandle<()>>,
    /// The port it listens on, for the HTTP examples.
    pub port: u16,
}

impl Service {
    /// Starts the example `name` with `env` on top of a clean environment (no `GRACEFUL_*`,
    /// `RUST_LOG` or `PORT` from the developer's shell). It is killed if dropped while running.
    pub fn start(name: &str, env: &[(&str, &str)]) -> Service {
        Service::start_command(name, &example(name), &[], env)
    }

    /// [`start`](Self::start) for the program at `path`, with `args`; `name` names it in
    /// messages.
    pub fn start_command(name: &str, path: &Path, args: &[&str], env: &[(&str, &str)]) -> Service {
        let mut command = Command::new(path);
        command.args(args);
        for var in INHERITED_OUT {
            command.env_remove(var);
        }
        command
            .env("RUST_BACKTRACE", "0")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", path.display()));
        let pid = Pid::from_raw(
            i32::try_from(child.id().expect("a child just spawned has a pid"))
                .expect("a pid fits in i32"),
        );
        let stdout = Stream::new();
        let stderr = Stream::new();
        let readers = vec![
            stdout
                .clone()
                .read_from(child.stdout.take().expect("stdout is piped")),
            stderr
                .clone()
                .read_from(child.stderr.take().expect("stderr is piped")),
        ];
        Service {
            name: name.to_owned(),
            child,
            pid,
            stdout,
            stderr,
            readers,
            port: 0,
        }
    }

    /// Starts an HTTP example on a free port (`PORT`) and waits until it prints
    /// `listening on http://127.0.0.1:PORT`. If another process took the port between the
    /// pick and the bind (tests run in parallel), tries again with another port.
    pub async fn start_http(name: &str, env: &[(&str, &str)]) -> Service {
        Service::start_listening(name, "http", env).await
    }

    /// [`start_http`](Self::start_http) for an example that prints `listening on
    /// {scheme}://127.0.0.1:PORT`.
    pub async fn start_listening(name: &str, scheme: &str, env: &[(&str, &str)]) -> Service {
        Service::start_listening_at(name, &example(name), scheme, env).await
    }

    /// [`start_listening`](Self::start_listening) for the program at `path` (e.g. a copy of
    /// an example).
    pub async fn start_listening_at(
        name: &str,
        path: &Path,
        scheme: &str,
        env: &[(&str, &str)],
    ) -> Service {
        const ATTEMPTS: usize = 5;
        for attempt in 1..=ATTEMPTS {
            let port = free_port();
            let port_text = port.to_string();
            let mut with_port = env.to_vec();
            with_port.push(("PORT", &port_text));
            let mut service = Service::start_command(name, path, &[], &with_port);
            service.port = port;
            let expected = format!("listening on {scheme}://127.0.0.1:{port}");
            if service
                .stdout
                .wait_for(|line| line == expected, START_TIMEOUT)
                .await
                .is_some()
            {
                return service;
            }
            let lost_the_port = service
                .stderr
                .texts()
                .iter()
                .any(|line| line.contains("Address already in use"));
            if lost_the_port && attempt < ATTEMPTS {
                eprintln!("{name}: port {port} was taken before the example bound it; retrying");
                continue;
            }
            service.fail(format_args!(
                "no line {expected:?} within {START_TIMEOUT:?}"
            ));
        }
        unreachable!("the last attempt returns or fails")
    }

    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Waits for a stdout line satisfying `wanted`; fails the test (killing the child) if the
    /// child ends or `limit` passes first.
    pub async fn wait_for_line(&self, wanted: impl Fn(&str) -> bool, limit: Duration) -> Line {
        match self.stdout.wait_for(wanted, limit).await {
            Some(line) => line,
            None => self.fail(format_args!(
                "the awaited line did not come on stdout within {limit:?}"
            )),
        }
    }

    /// Waits until `count` stdout lines satisfy `wanted`; the last of them. Fails the test
    /// (killing the child) if the child ends or `limit` passes first.
    pub async fn wait_for_lines(
        &self,
        wanted: impl Fn(&str) -> bool,
        count: usize,
        limit: Duration,
    ) -> Line {
        match self.stdout.wait_for_count(wanted, count, limit).await {
            Some(line) => line,
            None => self.fail(format_args!(
                "fewer than {count} of the awaited lines on stdout within {limit:?}"
            )),
        }
    }

    /// Waits for a stderr line satisfying `wanted` (the examples log there); fails the test
    /// (killing the child) if the child ends or `limit` passes first.
    pub async fn wait_for_stderr(&self, wanted: impl Fn(&str) -> bool, limit: Duration) -> Line {
        match self.stderr.wait_for(wanted, limit).await {
            Some(line) => line,
            None => self.fail(format_args!(
                "the awaited line did not come on stderr within {limit:?}"
            )),
        }
    }

    /// Waits for the stdout line `text` exactly.
    pub async fn wait_for_stdout(&self, text: &str, limit: Duration) -> Line {
        match self.stdout.wait_for(|line| line == text, limit).await {
            Some(line) => line,
            None => self.fail(format_args!("no line {text:?} on stdout within {limit:?}")),
        }
    }

    /// Waits for a stderr line satisfying `wanted`; fails the test (killing the child) if the
    /// child's output ends or `limit` passes first.
    pub async fn wait_for_stderr_line(
        &self,
        wanted: impl Fn(&str) -> bool,
        limit: Duration,
    ) -> Line {
        match self.stderr.wait_for(wanted, limit).await {
            Some(line) => line,
            None => self.fail(format_args!(
                "the awaited line did not come on stderr within {limit:?}"
            )),
        }
    }

    /// Every stdout line read so far.
    pub fn stdout_lines(&self) -> Vec<Line> {
        self.stdout.lines()
    }

    /// Sends `signal` to the child; returns when the signal was sent.
    pub fn signal(&self, signal: Signal) -> Instant {
        if let Err(error) = kill(self.pid, signal) {
            self.fail(format_args!(
                "cannot send {signal} to {}: {error}",
                self.name
            ));
        }
        Instant::now()
    }

    /// Whether the child has exited (without reaping the status for good: `wait` still works).
    pub fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Waits for the exit, at most `limit`; past it, kills the child and fails the test.
    pub async fn wait(&mut self, limit: Duration) -> Exited {
        let started = Instant::now();
        let status = match timeout(limit, self.child.wait()).await {
            Ok(Ok(status)) => status,
            Ok(Err(error)) => self.fail(format_args!("cannot wait for the child: {error}")),
            Err(_) => {
                let _ = self.child.start_kill();
                let _ = self.child.wait().await;
                self.fail(format_args!("still running {limit:?} after the wait began"))
            }
        };
        self.exited(status, started.elapsed()).await
    }

    /// Waits for the exit at most `limit`; `None` if the child still runs then (it is left
    /// running).
    pub async fn wait_at_most(&mut self, limit: Duration) -> Option<Exited> {
        let started = Instant::now();
        match timeout(limit, self.child.wait()).await {
            Ok(Ok(status)) => Some(self.exited(status, started.elapsed()).await),
            Ok(Err(error)) => self.fail(format_args!("cannot wait for the child: {error}")),
            Err(_) => None,
        }
    }

    async fn exited(&mut self, status: ExitStatus, waited: Duration) -> Exited {
        // The pipes close with the process (the examples start no other process).
        let closed = self.stdout.wait_closed(LINE_TIMEOUT).await
            && self.stderr.wait_closed(LINE_TIMEOUT).await;
        if !closed {
            self.fail(format_args!(
                "output still open after the exit ({status:?})"
            ));
        }
        for reader in self.readers.drain(..) {
            reader.await.expect("a reader task does not panic");
        }
        Exited {
            name: self.name.clone(),
            status,
            waited,
            stdout: self.stdout.lines(),
            stderr: self.stderr.texts(),
        }
    }

    /// Everything printed so far.
    pub fn dump(&self) -> String {
        let stdout: Vec<String> = self.stdout.texts();
        format_output(&stdout, &self.stderr.texts())
    }

    /// Fails the test with everything printed so far (the child is killed on drop).
    pub fn fail(&self, what: fmt::Arguments<'_>) -> ! {
        panic!("{}: {what}\n{}", self.name, self.dump())
    }
}

fn format_output(stdout: &[String], stderr: &[String]) -> String {
    // A load test's output can be long: keep the head and the tail of each stream.
    fn push(text: &mut String, lines: &[String]) {
        const KEEP: usize = 60;
        if lines.len() <= 2 * KEEP {
            for line in lines {
                text.push_str(line);
                text.push('\n');
            }
        } else {
            for line in &lines[..KEEP] {
                text.push_str(line);
                text.push('\n');
            }
            text.push_str(&format!("[... {} lines ...]\n", lines.len() - 2 * KEEP));
            for line in &lines[lines.len() - KEEP..] {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    let mut text = String::from("--- stdout\n");
    push(&mut text, stdout);
    text.push_str("--- stderr\n");
    push(&mut text, stderr);
    text.push_str("---");
    text
}

/// An example that has exited: its status and everything it printed.
pub struct Exited {
    name: String,
    pub status: ExitStatus,
    /// From the start of the wait to the exit.
    pub waited: Duration,
    pub stdout: Vec<Line>,
    pub stderr: Vec<String>,
}

impl Exited {
    /// Fails the test unless the process exited with `code`.
    pub fn assert_code(&self, code: i32) {
        assert_eq!(
            self.status.code(),
            Some(code),
            "{}: expected exit code {code}, got {:?}\n{self}",
            self.name,
            self.status
        );
    }

    /// Fails the test unless the process was killed by `signal`.
    pub fn assert_killed_by(&self, signal: Signal) {
        assert_eq!(
            self.status.signal(),
            Some(signal as i32),
            "{}: expected death by {signal}, got {:?}\n{self}",
            self.name,
            self.status
        );
    }

    /// The stdout lines, as text.
    pub fn stdout_texts(&self) -> Vec<&str> {
        self.stdout.iter().map(|line| line.text.as_str()).collect()
    }

    /// The stdout line `text`; fails the test if there is none.
    pub fn stdout_line(&self, text: &str) -> &Line {
        self.stdout
            .iter()
            .find(|line| line.text == text)
            .unwrap_or_else(|| panic!("{}: no line {text:?} on stdout\n{self}", self.name))
    }

    /// The one stdout line starting with `prefix`; fails the test unless there is exactly one.
    pub fn stdout_starting(&self, prefix: &str) -> &str {
        let found: Vec<&str> = self
            .stdout
            .iter()
            .map(|line| line.text.as_str())
            .filter(|line| line.starts_with(prefix))
            .collect();
        match found[..] {
            [line] => line,
            _ => panic!(
                "{}: expected one stdout line starting with {prefix:?}, found {}\n{self}",
                self.name,
                found.len()
            ),
        }
    }
}

impl fmt::Display for Exited {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stdout: Vec<String> = self.stdout.iter().map(|line| line.text.clone()).collect();
        write!(
            f,
            "status {:?} after {:?}\n{}",
            self.status,
            self.waited,
            format_output(&stdout, &self.stderr)
        )
    }
}

/// Why a request got no response.
#[derive(Debug)]
pub enum ClientError {
    /// The connection was refused: nothing listens on the port.
    Refused,
    /// The connection was made, then closed or reset before a response came.
    Closed(String),
    /// No response within [`REQUEST_TIMEOUT`]: the server left the client hanging.
    Hung,
    /// Anything else.
    Other(String),
}

impl ClientError {
    fn from_io(error: std::io::Error) -> ClientError {
        match error.kind() {
            ErrorKind::ConnectionRefused => ClientError::Refused,
            ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::BrokenPipe
            | ErrorKind::UnexpectedEof => ClientError::Closed(error.to_string()),
            _ => ClientError::Other(error.to_string()),
        }
    }

    fn from_hyper(error: hyper::Error) -> ClientError {
        if error.is_closed() || error.is_incomplete_message() || error.is_canceled() {
            return ClientError::Closed(error.to_string());
        }
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
        while let Some(cause) = source {
            if let Some(io) = cause.downcast_ref::<std::io::Error>() {
                return ClientError::from_io(std::io::Error::new(io.kind(), error.to_string()));
            }
            source = cause.source();
        }
        ClientError::Other(error.to_string())
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Refused => f.write_str("connection refused"),
            ClientError::Closed(why) => write!(f, "closed before a response: {why}"),
            ClientError::Hung => write!(f, "no response within {REQUEST_TIMEOUT:?}"),
            ClientError::Other(why) => f.write_str(why),
        }
    }
}

/// A response with its whole body.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: String,
}

/// One HTTP/1.1 connection to 127.0.0.1 (hyper's client), used for one request or, kept
/// alive, for many in a row.
pub struct Connection {
    port: u16,
    sender: http1::SendRequest<Full<Bytes>>,
    driver: JoinHandle<()>,
}

impl Connection {
    /// Connects to 127.0.0.1:`port`, at most [`REQUEST_TIMEOUT`].
    pub async fn open(port: u16) -> Result<Connection, ClientError> {
        let connect = async {
            let stream = TcpStream::connect(("127.0.0.1", port))
                .await
                .map_err(ClientError::from_io)?;
            stream.set_nodelay(true).map_err(ClientError::from_io)?;
            let (sender, connection) = http1::handshake(TokioIo::new(stream))
                .await
                .map_err(ClientError::from_hyper)?;
            let driver = tokio::spawn(async move {
                let _ = connection.await;
            });
            Ok(Connection {
                port,
                sender,
                driver,
            })
        };
        timeout(REQUEST_TIMEOUT, connect)
            .await
            .unwrap_or(Err(ClientError::Hung))
    }

    /// Sends a request and waits for the head of the response (the body is left to stream).
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: &str,
    ) -> Result<hyper::Response<Incoming>, ClientError> {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, format!("127.0.0.1:{}", self.port))
            .body(Full::new(Bytes::from(body.to_owned())))
            .expect("a valid request");
        let exchange = async {
            self.sender.ready().await.map_err(ClientError::from_hyper)?;
            self.sender
                .send_request(request)
                .await
                .map_err(ClientError::from_hyper)
        };
        timeout(REQUEST_TIMEOUT, exchange)
            .await
            .unwrap_or(Err(ClientError::Hung))
    }

    /// Sends a request and reads the whole response.
    pub async fn request(
        &mut self,
        method: Method,
        path: &str,
        body: &str,
    ) -> Result<Reply, ClientError> {
        let response = self.send(method, path, body).await?;
        let status = response.status();
        let body = timeout(REQUEST_TIMEOUT, response.into_body().collect())
            .await
            .map_err(|_| ClientError::Hung)?
            .map_err(ClientError::from_hyper)?
            .to_bytes();
        Ok(Reply {
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
}

impl Connection {
    /// Waits until the server closes the connection (the client's side of it has ended), at
    /// most `limit`; when that was seen, or `None` if it is still open then.
    pub async fn closed(&mut self, limit: Duration) -> Option<Instant> {
        match timeout(limit, &mut self.driver).await {
            Ok(_) => Some(Instant::now()),
            Err(_) => None,
        }
    }

    /// Whether the client considers the connection closed (it would not send on it).
    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// `GET path` on a fresh connection.
pub async fn get(port: u16, path: &str) -> Result<Reply, ClientError> {
    Connection::open(port)
        .await?
        .request(Method::GET, path, "")
        .await
}

/// One server-sent event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Event {
    pub event: String,
    pub data: String,
}

/// An open `text/event-stream` response.
pub struct EventStream {
    body: Incoming,
    buffer: String,
    _connection: Connection,
}

impl EventStream {
    /// Opens `path` on a fresh connection and checks that it is an event stream.
    pub async fn open(port: u16, path: &str) -> Result<EventStream, ClientError> {
        let mut connection = Connection::open(port).await?;
        let response = connection.send(Method::GET, path, "").await?;
        let content_type = response
            .headers()
            .get(hyper::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        if response.status() != StatusCode::OK || content_type != "text/event-stream" {
            return Err(ClientError::Other(format!(
                "expected a 200 text/event-stream, got {} {content_type:?}",
                response.status()
            )));
        }
        Ok(EventStream {
            body: response.into_body(),
            buffer: String::new(),
            _connection: connection,
        })
    }

    /// The next event; `Ok(None)` when the stream has ended cleanly (the last chunk came), an
    /// error if the connection broke, `Hung` if nothing came within `limit`.
    pub async fn next(&mut self, limit: Duration) -> Result<Option<Event>, ClientError> {
        let until = tokio::time::Instant::now() + limit;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = Event::default();
                let mut data = Vec::new();
                for line in block.lines() {
                    if let Some(value) = line.strip_prefix("event:") {
                        event.event = value.trim_start().to_owned();
                    } else if let Some(value) = line.strip_prefix("data:") {
                        data.push(value.trim_start().to_owned());
                    }
                }
                if event.event.is_empty() && data.is_empty() {
                    continue; // a comment (keep-alive)
                }
                event.data = data.join("\n");
                return Ok(Some(event));
            }
            let frame = match tokio::time::timeout_at(until, self.body.frame()).await {
                Err(_) => return Err(ClientError::Hung),
                Ok(None) => {
                    return if self.buffer.trim().is_empty() {
                        Ok(None)
                    } else {
                        Err(ClientError::Other(format!(
                            "the stream ended inside an event: {:?}",
                            self.buffer
                        )))
                    };
                }
                Ok(Some(frame)) => frame.map_err(ClientError::from_hyper)?,
            };
            if let Ok(data) = frame.into_data() {
                self.buffer.push_str(&String::from_utf8_lossy(&data));
            }
        }
    }
}

/// Counts, for the figures a test prints.
pub fn count<T>(items: &[T], wanted: impl Fn(&T) -> bool) -> usize {
    items.iter().filter(|item| wanted(item)).count()
}
