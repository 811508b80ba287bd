//! Allocations on the request path: `graceful::http::serve` against `axum::serve` (with
//! `with_graceful_shutdown`, the anchor), for the same router and the same requests; and
//! `graceful::grpc::Server` against tonic's.
//!
//! The test binary's global allocator counts every allocation of the process (stats_alloc).
//! Each server runs on a runtime of its own (one thread); the client is a plain blocking
//! socket on the test's thread that writes requests and reads responses into a fixed buffer,
//! so that it allocates nothing itself: what is counted between the first and the last
//! request is the server's. Over the same keep-alive requests, graceful must not allocate
//! more than the anchor. The same over HTTP/2 with prior knowledge: the client writes frames
//! encoded by hand (each request a HEADERS frame of indexed HPACK fields, on a stream of its
//! own) and reads the server's frames until each stream's end. And `graceful::grpc::Server`
//! against tonic's own server (the anchor), for the same service and the same unary calls
//! (a HEADERS frame, then a DATA frame with the call's message), over HTTP/2 the same way.

use std::fmt;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Mutex, MutexGuard, mpsc};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use work::work_server::{Work, WorkServer};

/// The gRPC service's code, generated from `examples/proto/work.proto`.
mod work {
    include!("../../examples/proto/graceful.example.rs");
}

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

/// Requests sent before counting: the connection's buffers and the router are warm.
const WARM_UP: usize = 200;
/// Requests counted.
const REQUESTS: usize = 2_000;

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

fn app() -> Router {
    Router::new().route("/", get(|| async { "hello" }))
}

/// Which server runs the router.
#[derive(Clone, Copy, Debug)]
enum Server {
    Graceful,
    Axum,
}

/// Starts `server` on a runtime of its own thread; the port it listens on.
fn start(server: Server) -> u16 {
    start_with(move |listener| async move {
        match server {
            Server::Graceful => graceful::http::serve(listener, app()).await.unwrap(),
            Server::Axum => axum::serve(listener, app())
                .with_graceful_shutdown(std::future::pending())
                .await
                .unwrap(),
        }
    })
}

/// Runs what `serve` makes of a listener on 127.0.0.1, on a runtime of its own thread (one
/// thread); the port it listens on.
fn start_with<F: Future<Output = ()>>(
    serve: impl FnOnce(tokio::net::TcpListener) -> F + Send + 'static,
) -> u16 {
    let (port_tx, port_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            port_tx.send(listener.local_addr().unwrap().port()).unwrap();
            serve(listener).await;
        });
    });
    port_rx.recv().unwrap()
}

/// How long the client waits for a byte: a server that never answers fails the test.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Connections whose measurement is done, open until the process ends: a server tearing one
/// down while another server is measured would add its allocations to the other's count.
static DONE: Mutex<Vec<TcpStream>> = Mutex::new(Vec::new());

/// A connection of the test's client to 127.0.0.1:`port`.
fn connect(port: u16) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_nodelay(true).unwrap();
    stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    stream
}

/// Keeps `stream` open until the process ends (see [`DONE`]).
fn keep_open(stream: TcpStream) {
    DONE.lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .push(stream);
}

/// Sends one request on `stream` and reads its whole response (`hello`, five bytes of body),
/// without allocating.
fn request(stream: &mut TcpStream, buffer: &mut [u8; 1024]) {
    stream.write_all(REQUEST).unwrap();
    let mut filled = 0;
    loop {
        let read = stream.read(&mut buffer[filled..]).unwrap();
        assert!(read > 0, "the server closed the connection");
        filled += read;
        let response = &buffer[..filled];
        if let Some(end) = response.windows(4).position(|w| w == b"\r\n\r\n") {
            if filled >= end + 4 + b"hello".len() {
                assert!(response.starts_with(b"HTTP/1.1 200 OK\r\n"));
                assert!(response.ends_with(b"hello"));
                return;
            }
        }
    }
}

/// The allocations of `REQUESTS` calls of `send` (after `WARM_UP` not counted), printed with
/// `server` and `what` they are.
fn count(server: impl fmt::Debug, what: &str, mut send: impl FnMut()) -> usize {
    for _ in 0..WARM_UP {
        send();
    }
    let region = Region::new(GLOBAL);
    for _ in 0..REQUESTS {
        send();
    }
    let allocations = region.change().allocations;
    println!(
        "{server:?}: {allocations} allocations for {REQUESTS} {what} ({:.2} each)",
        allocations as f64 / REQUESTS as f64
    );
    allocations
}

/// The allocations of `REQUESTS` keep-alive HTTP/1 requests to `server`.
fn allocations_for(server: Server) -> usize {
    let mut stream = connect(start(server));
    let mut buffer = [0; 1024];
    let allocations = count(server, "HTTP/1 keep-alive requests", || {
        request(&mut stream, &mut buffer);
    });
    keep_open(stream);
    allocations
}

/// The counter is the process's: one measurement at a time, whatever the test threads.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// This test's turn to count, until the guard drops.
fn alone() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Allocations the count may hold that are no request's: the process-wide counter also sees
/// a timer wheel's level or a waker's slot taken once in the run. One allocation a request would
/// add `REQUESTS`.
const ONE_OFF: usize = 10;

#[test]
fn graceful_allocates_no_more_than_axum_per_http1_request() {
    let _alone = alone();
    let axum = allocations_for(Server::Axum);
    let graceful = allocations_for(Server::Graceful);
    assert!(
        graceful <= axum + ONE_OFF,
        "graceful::http::serve made {graceful} allocations for {REQUESTS} requests, axum::serve {axum}"
    );
}

/// HTTP/2's connection preface, then an empty SETTINGS frame.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0";

/// The header block of `GET /` over `http`, for `127.0.0.1`: `:method GET`, `:scheme http`,
/// `:path /` indexed from HPACK's static table, `:authority` a literal with its name indexed,
/// not added to the dynamic table (so that every request's block is the same bytes).
const HEADER_BLOCK: &[u8] = b"\x82\x86\x84\x01\x09127.0.0.1";

const HEADERS: u8 = 0x1;
const DATA: u8 = 0x0;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const GOAWAY: u8 = 0x7;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const ACK: u8 = 0x1;

/// Writes a frame's 9-byte header and `payload` into `out`; the length written.
fn frame(out: &mut [u8], kind: u8, flags: u8, stream: u32, payload: &[u8]) -> usize {
    let length = payload.len();
    out[..3].copy_from_slice(&(length as u32).to_be_bytes()[1..]);
    out[3] = kind;
    out[4] = flags;
    out[5..9].copy_from_slice(&stream.to_be_bytes());
    out[9..9 + length].copy_from_slice(payload);
    9 + length
}

/// An HTTP/2 connection of the test's client: a socket and a fixed buffer of what it read.
struct H2 {
    stream: TcpStream,
    buffer: [u8; 16 * 1024],
    filled: usize,
    next_stream: u32,
}

impl H2 {
    fn connect(port: u16) -> H2 {
        let mut stream = connect(port);
        stream.write_all(PREFACE).unwrap();
        H2 {
            stream,
            buffer: [0; 16 * 1024],
            filled: 0,
            next_stream: 1,
        }
    }

    /// Sends `GET /` on a new stream and reads its response, `hello`.
    fn request(&mut self) {
        self.exchange(HEADER_BLOCK, None, b"hello");
    }

    /// Sends `block` as a new stream's headers, then `data` if any (ending the stream), and
    /// reads frames until the server ends that stream, checking that its DATA is `expected`;
    /// acknowledges the server's SETTINGS on the way; allocates nothing.
    fn exchange(&mut self, block: &[u8], data: Option<&[u8]>, expected: &[u8]) {
        let id = self.next_stream;
        self.next_stream += 2;
        let mut out = [0u8; 128];
        let flags = if data.is_some() {
            END_HEADERS
        } else {
            END_STREAM | END_HEADERS
        };
        let mut written = frame(&mut out, HEADERS, flags, id, block);
        if let Some(data) = data {
            written += frame(&mut out[written..], DATA, END_STREAM, id, data);
        }
        self.stream.write_all(&out[..written]).unwrap();
        let mut body = 0;
        loop {
            while self.filled >= 9 {
                let length = usize::from(self.buffer[0]) << 16
                    | usize::from(self.buffer[1]) << 8
                    | usize::from(self.buffer[2]);
                if self.filled < 9 + length {
                    break;
                }
                let (kind, flags) = (self.buffer[3], self.buffer[4]);
                let stream =
                    u32::from_be_bytes(self.buffer[5..9].try_into().unwrap()) & 0x7fff_ffff;
                assert!(
                    !(kind == RST_STREAM && stream == id || kind == GOAWAY),
                    "the server sent {} on stream {stream}",
                    if kind == GOAWAY {
                        "GOAWAY"
                    } else {
                        "RST_STREAM"
                    }
                );
                if kind == SETTINGS && flags & ACK == 0 {
                    let written = frame(&mut out, SETTINGS, ACK, 0, &[]);
                    self.stream.write_all(&out[..written]).unwrap();
                }
                if kind == DATA && stream == id {
                    assert_eq!(&self.buffer[9..9 + length], &expected[body..body + length]);
                    body += length;
                }
                let done =
                    stream == id && (kind == DATA || kind == HEADERS) && flags & END_STREAM != 0;
                self.buffer.copy_within(9 + length..self.filled, 0);
                self.filled -= 9 + length;
                if done {
                    assert_eq!(body, expected.len(), "the whole body");
                    return;
                }
            }
            let read = self.stream.read(&mut self.buffer[self.filled..]).unwrap();
            assert!(read > 0, "the server closed the connection");
            self.filled += read;
        }
    }
}

/// The allocations of `REQUESTS` HTTP/2 requests to `server`, each on a stream of its own, on
/// one connection.
fn h2_allocations_for(server: Server) -> usize {
    let mut connection = H2::connect(start(server));
    let allocations = count(server, "HTTP/2 requests", || connection.request());
    keep_open(connection.stream);
    allocations
}

#[test]
fn graceful_allocates_no_more_than_axum_per_http2_request() {
    let _alone = alone();
    let axum = h2_allocations_for(Server::Axum);
    let graceful = h2_allocations_for(Server::Graceful);
    assert!(
        graceful <= axum + ONE_OFF,
        "graceful::http::serve made {graceful} allocations for {REQUESTS} HTTP/2 requests, axum::serve {axum}"
    );
}

/// The gRPC service of the test: `Slow` answers at once with the `ms` it was given.
struct Answer;

#[tonic::async_trait]
impl Work for Answer {
    async fn slow(
        &self,
        request: tonic::Request<work::SlowRequest>,
    ) -> Result<tonic::Response<work::SlowReply>, tonic::Status> {
        let ms = request.into_inner().ms;
        Ok(tonic::Response::new(work::SlowReply { ms }))
    }

    type TicksStream = futures_util::stream::Empty<Result<work::Tick, tonic::Status>>;

    async fn ticks(
        &self,
        _request: tonic::Request<work::TicksRequest>,
    ) -> Result<tonic::Response<Self::TicksStream>, tonic::Status> {
        Err(tonic::Status::unimplemented("not in this test"))
    }
}

/// Which gRPC server serves `Answer`.
#[derive(Clone, Copy, Debug)]
enum GrpcServer {
    Graceful,
    Tonic,
}

/// Starts `server` on a runtime of its own thread; the port it listens on.
fn start_grpc(server: GrpcServer) -> u16 {
    start_with(move |listener| async move {
        match server {
            GrpcServer::Graceful => graceful::grpc::Server::new()
                .add_service(WorkServer::new(Answer))
                .serve(listener)
                .await
                .unwrap(),
            GrpcServer::Tonic => {
                let incoming =
                    tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
                tonic::transport::Server::builder()
                    .add_service(WorkServer::new(Answer))
                    .serve_with_incoming_shutdown(incoming, std::future::pending())
                    .await
                    .unwrap();
            }
        }
    })
}

/// The header block of a unary call of `graceful.example.Work/Slow`: `:method POST` and
/// `:scheme http` indexed, `:path`, `:authority` and `content-type` literals with their names
/// indexed, `te: trailers` a literal with its name; none added to the dynamic table.
const GRPC_HEADER_BLOCK: &[u8] = b"\x83\x86\x04\x1b/graceful.example.Work/Slow\x01\x09127.0.0.1\x0f\x10\x10application/grpc\x00\x02te\x08trailers";

/// A call's one message, `SlowRequest { ms: 0 }` (no field: zero bytes), and the reply's,
/// `SlowReply { ms: 0 }`: uncompressed, of length 0.
const EMPTY_MESSAGE: &[u8] = b"\0\0\0\0\0";

/// The allocations of `REQUESTS` unary gRPC calls to `server`, each on a stream of its own,
/// on one connection.
fn grpc_allocations_for(server: GrpcServer) -> usize {
    let mut connection = H2::connect(start_grpc(server));
    let allocations = count(server, "unary gRPC calls", || {
        connection.exchange(GRPC_HEADER_BLOCK, Some(EMPTY_MESSAGE), EMPTY_MESSAGE);
    });
    keep_open(connection.stream);
    allocations
}

#[test]
fn graceful_allocates_no_more_than_tonic_per_grpc_call() {
    let _alone = alone();
    let tonic = grpc_allocations_for(GrpcServer::Tonic);
    let graceful = grpc_allocations_for(GrpcServer::Graceful);
    assert!(
        graceful <= tonic + ONE_OFF,
        "graceful::grpc::Server made {graceful} allocations for {REQUESTS} calls, tonic's server {tonic}"
    );
}
