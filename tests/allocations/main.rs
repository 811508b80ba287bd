//! Allocations on the request path: `graceful::http::serve` against `axum::serve` (with
//! `with_graceful_shutdown`, the anchor), for the same router and the same requests.
//!
//! The test binary's global allocator counts every allocation of the process (stats_alloc).
//! Each server runs on a runtime of its own (one thread); the client is a plain blocking
//! socket on the test's thread that writes requests and reads responses into a fixed buffer,
//! so that it allocates nothing itself: what is counted between the first and the last
//! request is the server's. Over the same keep-alive requests, graceful must not allocate
//! more than the anchor.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;

use axum::Router;
use axum::routing::get;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

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
    let (port_tx, port_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            port_tx.send(listener.local_addr().unwrap().port()).unwrap();
            match server {
                Server::Graceful => graceful::http::serve(listener, app()).await.unwrap(),
                Server::Axum => axum::serve(listener, app())
                    .with_graceful_shutdown(std::future::pending())
                    .await
                    .unwrap(),
            }
        });
    });
    port_rx.recv().unwrap()
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

/// The allocations of `REQUESTS` keep-alive requests to `server`.
fn allocations_for(server: Server) -> usize {
    let port = start(server);
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_nodelay(true).unwrap();
    let mut buffer = [0; 1024];
    for _ in 0..WARM_UP {
        request(&mut stream, &mut buffer);
    }
    let region = Region::new(GLOBAL);
    for _ in 0..REQUESTS {
        request(&mut stream, &mut buffer);
    }
    let allocations = region.change().allocations;
    println!(
        "{server:?}: {allocations} allocations for {REQUESTS} HTTP/1 keep-alive requests ({:.2} a request)",
        allocations as f64 / REQUESTS as f64
    );
    allocations
}

/// Allocations the count may hold that are no request's: the process-wide counter also sees
/// a timer wheel's level or a waker's slot taken once in the run. One allocation a request would
/// add `REQUESTS`.
const ONE_OFF: usize = 10;

#[test]
fn graceful_allocates_no_more_than_axum_per_http1_request() {
    let axum = allocations_for(Server::Axum);
    let graceful = allocations_for(Server::Graceful);
    assert!(
        graceful <= axum + ONE_OFF,
        "graceful::http::serve made {graceful} allocations for {REQUESTS} requests, axum::serve {axum}"
    );
}
