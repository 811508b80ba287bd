//! HTTP servers that drain well (feature `http`): [`serve`] runs an axum `Router`, or any tower
//! service, over HTTP/1 and HTTP/2 with a shutdown that knows the protocol.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//!
//! #[graceful::main(drain_delay = "5s", drain_timeout = "10s")]
//! async fn main() -> std::io::Result<()> {
//!     let app = Router::new().route("/", get(|| async { "hello\n" }));
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//!     graceful::http::serve(listener, app).await
//! }
//! ```
//!
//! What the server does at each step of the shutdown:
//! 1. **From the trigger on** ([`Shutdown::is_shutting_down`]), through `drain_delay`, it still
//!    accepts and serves, but every HTTP/1 response carries `Connection: close`: a keep-alive
//!    client opens its next connection anew, and the load balancer sends it elsewhere.
//! 2. **At the cancel** ([`Shutdown::cancelled`]) it stops accepting (the listener is dropped,
//!    so new connections are refused rather than left waiting) and shuts every connection down
//!    gracefully: idle keep-alive connections close at once, HTTP/2 clients get a GOAWAY, and
//!    the requests in flight run on.
//! 3. **The drain** waits for the future returned by `serve` (it ends once the last connection
//!    has closed), at most `drain_timeout`. The connections still open then are cut: they
//!    close, the [`Report`](crate::Report) counts them ([`connections_cut`]), the drain's line
//!    says `1 connection cut`, and the exit code is 1.
//!
//! The connections belong to the future `serve` returns: dropping it closes them all (and
//! counts them as cut), whether the drain ran out of time or the program dropped it.
//!
//! # Streams: server-sent events, websockets
//! A response that never ends (an event stream) keeps its connection open past the cancel, and
//! so the drain waits for it until `drain_timeout`. End such streams at the cancel: handlers
//! get the server's [`Shutdown`] as an axum extractor (or from [`crate::shutdown()`]):
//!
//! ```no_run
//! use std::convert::Infallible;
//! use std::time::Duration;
//!
//! use axum::response::sse::{Event, Sse};
//! use futures_util::stream::{self, Stream};
//!
//! async fn events(shutdown: graceful::Shutdown) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
//!     let ticks = stream::unfold(0_u64, |n| async move {
//!         tokio::time::sleep(Duration::from_secs(1)).await;
//!         Some((Ok(Event::default().data(n.to_string())), n + 1))
//!     });
//!     // The stream ends at the cancel, and its connection can close.
//!     Sse::new(futures_util::StreamExt::take_until(ticks, shutdown.cancelled_owned()))
//! }
//! # let _: axum::Router = axum::Router::new().route("/events", axum::routing::get(events));
//! ```
//!
//! An upgraded connection (a websocket) is no longer the server's once the upgrade is done:
//! axum runs its callback on a task of its own. Watch [`Shutdown::cancelled`] in it to send a
//! close frame, and run it with [`spawn_connection`] so that the drain waits for it, and cuts
//! and counts it at its end as it does the server's own connections.
//!
//! [`Shutdown`]: crate::Shutdown
//! [`Shutdown::is_shutting_down`]: crate::Shutdown::is_shutting_down
//! [`Shutdown::cancelled`]: crate::Shutdown::cancelled
//! [`connections_cut`]: crate::Report::connections_cut

use std::convert::Infallible;
use std::error::Error as StdError;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::io;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::header::{CONNECTION, HeaderValue};
use hyper::{Request, Response, StatusCode, Version};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::reason::Reason;
use crate::shutdown::Shutdown;

type BoxError = Box<dyn StdError + Send + Sync>;

/// How long the accept loop rests after an accept error such as `EMFILE` (too many open
/// files), as axum and hyper do: the connections that end meanwhile free descriptors.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// How long a connection that has not brought a whole request yet may take, after the cancel,
/// to bring it: one accepted but not read from, or whose request head is still arriving. The
/// client sent it before the listener closed (or, across an upgrade, while this process still
/// held the listener): closing the connection at once would fail a request that was never
/// refused. Past it the connection closes, and does not hold the drain: a client that sends
/// half a head and stops is not a request in flight. An idle keep-alive connection that has
/// served a request closes at once.
const FIRST_REQUEST_GRACE: Duration = Duration::from_secs(1);

/// How long, after the cancel of an upgrade, a keep-alive connection stays open for the
/// next request its client may already be sending (see where it is used).
const UPGRADE_IDLE_LINGER: Duration = Duration::from_secs(1);

/// How long a client may take to send a whole request head, in normal operation, before its
/// connection is closed (as hyper's default; see [`Serve::header_read_timeout`]).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves `service` on `listener` until the shutdown, then drains: `Connection: close` on
/// every HTTP/1 response from the trigger on, no new connection from the cancel on, idle
/// connections closed at the cancel, and the rest cut (and counted) if the future is dropped
/// by the end of the drain. See [the module](self).
///
/// `service` is an axum `Router` (or `MethodRouter`, or any tower `Service` of
/// `Request<hyper::body::Incoming>`, e.g. wrapped in tower-http layers), cloned for every
/// connection as `axum::serve` does. HTTP/1 and HTTP/2 (prior knowledge) are both served,
/// with upgrades (websockets).
///
/// The shutdown followed is the current one ([`graceful::shutdown()`](crate::shutdown())) at
/// the call; [`Serve::with_shutdown`] picks another.
///
/// The future resolves once the shutdown was cancelled and every connection has closed. Accept
/// errors do not end it: those of one connection are skipped, others (`EMFILE`) are logged and
/// the loop rests a second before accepting again. Binding is the caller's, so that a port in
/// use is the caller's error.
///
/// ```no_run
/// use axum::{Router, routing::get};
///
/// #[graceful::main]
/// async fn main() -> std::io::Result<()> {
///     let app = Router::new().route("/", get(|| async { "hello\n" }));
///     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
///     println!("listening on http://{}", listener.local_addr()?);
///     graceful::http::serve(listener, app).await
/// }
/// ```
pub fn serve<L: Listener, S>(listener: L, service: S) -> Serve<S, L> {
    Serve {
        listener,
        service,
        shutdown: Shutdown::current(),
        header_read_timeout: HEADER_READ_TIMEOUT,
    }
}

/// The server of [`serve`]: await it (it is [`IntoFuture`]), or configure it first.
///
/// ```no_run
/// # async fn f(listener: tokio::net::TcpListener, app: axum::Router) -> std::io::Result<()> {
/// let server: graceful::http::Serve<axum::Router> = graceful::http::serve(listener, app);
/// server.await
/// # }
/// ```
#[must_use = "a server does nothing until it is awaited"]
pub struct Serve<S, L = TcpListener> {
    listener: L,
    service: S,
    shutdown: Shutdown,
    header_read_timeout: Duration,
}

impl<S, L> Serve<S, L> {
    /// Follows `shutdown` instead of the current one: for a handle of a run other than the
    /// process-wide one, e.g. in a test.
    ///
    /// ```no_run
    /// # async fn f(listener: tokio::net::TcpListener, app: axum::Router) -> std::io::Result<()> {
    /// let shutdown = graceful::shutdown();
    /// graceful::http::serve(listener, app).with_shutdown(shutdown).await
    /// # }
    /// ```
    pub fn with_shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// How long an HTTP/1 client may take to send a whole request head (default 30 s): a
    /// connection that sends part of one and stops (a slow or stuck client) is closed then,
    /// whether or not the shutdown has started.
    ///
    /// ```no_run
    /// # async fn f(listener: tokio::net::TcpListener, app: axum::Router) -> std::io::Result<()> {
    /// use std::time::Duration;
    ///
    /// graceful::http::serve(listener, app)
    ///     .header_read_timeout(Duration::from_secs(10))
    ///     .await
    /// # }
    /// ```
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }
}

impl<S, L: fmt::Debug> fmt::Debug for Serve<S, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Serve")
            .field("listener", &self.listener)
            .field("shutdown", &self.shutdown)
            .finish_non_exhaustive()
    }
}

impl<S, B, L> IntoFuture for Serve<S, L>
where
    L: Listener,
    S: tower_service::Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Output = io::Result<()>;
    type IntoFuture = Pin<Box<dyn Future<Output = io::Result<()>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        let settings = Settings {
            header_read_timeout: self.header_read_timeout,
        };
        Box::pin(run(self.listener, self.service, self.shutdown, settings))
    }
}

/// What [`serve`] accepts connections from: a TCP listener (`tokio::net::TcpListener`), a
/// Unix-domain one (`tokio::net::UnixListener`, on Unix), or your own (a TLS acceptor over
/// either, say).
///
/// ```no_run
/// # #[cfg(unix)]
/// # async fn f(app: axum::Router) -> std::io::Result<()> {
/// // Behind a proxy on the same machine: nginx's `proxy_pass http://unix:/run/app.sock;`.
/// let listener = tokio::net::UnixListener::bind("/run/app.sock")?;
/// graceful::http::serve(listener, app).await
/// # }
/// ```
pub trait Listener: Send + 'static {
    /// A connection.
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// Where a connection comes from, for the log.
    type Addr: fmt::Debug + Send + 'static;

    /// Accepts the next connection.
    fn accept(&mut self) -> impl Future<Output = io::Result<(Self::Io, Self::Addr)>> + Send;
}

impl Listener for TcpListener {
    type Io = tokio::net::TcpStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> io::Result<(Self::Io, Self::Addr)> {
        TcpListener::accept(self).await
    }
}

#[cfg(unix)]
impl Listener for tokio::net::UnixListener {
    type Io = tokio::net::UnixStream;
    type Addr = tokio::net::unix::SocketAddr;

    async fn accept(&mut self) -> io::Result<(Self::Io, Self::Addr)> {
        tokio::net::UnixListener::accept(self).await
    }
}

/// What each connection is served with.
#[derive(Clone, Copy)]
struct Settings {
    header_read_timeout: Duration,
}

/// The accept loop, then the drain of the connections.
async fn run<S, B, L>(
    mut listener: L,
    service: S,
    shutdown: Shutdown,
    settings: Settings,
) -> io::Result<()>
where
    L: Listener,
    S: tower_service::Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let mut connections = Connections::new(shutdown.clone(), settings);
    // Accepting from here on: the process is ready (an upgrade hands over, systemd hears it).
    crate::ready();
    loop {
        let accepted = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            Some(ended) = connections.tasks.join_next() => {
                ended_task(ended);
                continue;
            }
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, remote)) => connections.start(stream, remote, service.clone()),
            // The client gave up before we accepted: nothing to do with the listener.
            Err(error) if is_connection_error(&error) => {}
            Err(error) => {
                tracing::error!(target: "graceful", %error, "HTTP accept error; accepting again in 1s");
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => {}
                }
            }
        }
    }
    // New connections are refused from now on, not queued.
    drop(listener);
    tracing::debug!(
        target: "graceful",
        open = connections.open(),
        "HTTP server stopped accepting; closing connections"
    );
    connections.close.cancel();
    while let Some(ended) = connections.tasks.join_next().await {
        ended_task(ended);
    }
    Ok(())
}

fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

fn ended_task(ended: Result<(), tokio::task::JoinError>) {
    if let Err(error) = ended {
        if error.is_panic() {
            tracing::error!(target: "graceful", "an HTTP connection's task panicked");
        }
    }
}

/// The open connections, each on a task of its own, owned here: dropping this aborts them.
/// The count of those still open then is recorded at once, in `drop`, so that it is in the
/// report whoever drops the server and whenever its tasks are finally dropped.
struct Connections {
    tasks: JoinSet<()>,
    /// Connections whose task has not ended.
    open: Arc<AtomicUsize>,
    /// Cancelled once the listener is dropped: every connection shuts down gracefully.
    close: CancellationToken,
    shutdown: Shutdown,
    settings: Settings,
}

impl Connections {
    fn new(shutdown: Shutdown, settings: Settings) -> Self {
        Connections {
            tasks: JoinSet::new(),
            open: Arc::default(),
            close: CancellationToken::new(),
            shutdown,
            settings,
        }
    }

    fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    fn start<S, B, I, A>(&mut self, stream: I, remote: A, service: S)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        A: fmt::Debug + Send + 'static,
        S: tower_service::Service<Request<Incoming>, Response = Response<B>>
            + Clone
            + Send
            + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        let open = Open::enter(&self.open);
        let close = self.close.clone();
        let shutdown = self.shutdown.clone();
        let settings = self.settings;
        let requests = Arc::new(Requests::default());
        let protocol = Arc::new(Protocol::default());
        let service = CloseOnShutdown {
            inner: TowerToHyperService::new(service),
            shutdown: self.shutdown.clone(),
            requests: requests.clone(),
        };
        let connection = async move {
            let _open = open;
            // Cut, its HTTP/2 streams (on tasks of their own) end with it.
            let (streams, cut_streams) = Streams::new(shutdown.clone());
            let builder = connection_builder(streams, settings);
            let io = TokioIo::new(Sniffed::new(stream, protocol.clone()));
            let mut connection = pin!(builder.serve_connection_with_upgrades(io, service));
            let mut going_away = false;
            let mut ended = loop {
                tokio::select! {
                    ended = connection.as_mut() => break Some(ended),
                    () = close.cancelled() => break None,
                    // An HTTP/2 connection gets its GOAWAY from the trigger on, as HTTP/1
                    // responses say `Connection: close`: the client opens its next streams on
                    // a new connection, the streams in flight complete.
                    () = protocol.http2_after(&shutdown), if !going_away => {
                        going_away = true;
                        connection.as_mut().graceful_shutdown();
                    }
                }
            };
            if ended.is_none() && !requests.seen() {
                match first_request_within_grace(connection.as_mut(), &requests).await {
                    Some(ended_now) => ended = ended_now,
                    None => {
                        tracing::debug!(target: "graceful", ?remote, "HTTP connection closed at the cancel: no whole request within the grace");
                        cut_streams.disarm();
                        return;
                    }
                }
            }
            if ended.is_none() && shutdown.reason() == Some(Reason::Upgrade) {
                ended = linger_after_upgrade(connection.as_mut(), &requests).await;
            }
            let ended = match ended {
                Some(ended) => ended,
                None => {
                    // Idle: closes now. Busy: after the response in hand (HTTP/1), or the
                    // streams open (HTTP/2 GOAWAY).
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            // Ended by itself: streams still finishing are not cut.
            cut_streams.disarm();
            if let Err(error) = ended {
                tracing::debug!(target: "graceful", ?remote, %error, "HTTP connection ended with an error");
            }
        };
        self.tasks.spawn(self.shutdown.scope(connection));
    }
}

impl Drop for Connections {
    fn drop(&mut self) {
        let cut = self.open();
        if cut > 0 {
            self.shutdown.inner.record_cut(cut);
            tracing::warn!(target: "graceful", connections = cut, "HTTP connections cut: still open when the server was dropped");
        }
        // `tasks` drops next: every connection's task is aborted, and its socket closed.
    }
}

/// hyper's builder for one connection: HTTP/1 with a bound on the time a request head may
/// take, HTTP/2 with extended CONNECT (WebSockets over HTTP/2), both with tokio's timer.
fn connection_builder(streams: Streams, settings: Settings) -> auto::Builder<Streams> {
    let mut builder = auto::Builder::new(streams);
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .enable_connect_protocol();
    builder
}

/// At the cancel, a connection accepted with no whole request yet: it may be on its way.
/// `None` if none came within the grace (nothing was sent, or half a head): the connection
/// closes then, without holding the drain, as it had nothing in flight. Otherwise
/// `Some(the connection's end, if it ended meanwhile)`.
async fn first_request_within_grace<C: Future>(
    connection: Pin<&mut C>,
    requests: &Requests,
) -> Option<Option<C::Output>> {
    tokio::select! {
        ended = connection => Some(Some(ended)),
        () = requests.arrived() => Some(None),
        () = tokio::time::sleep(FIRST_REQUEST_GRACE) => None,
    }
}

/// An upgrade moves no client away first: a balancer may send its next request on an idle
/// keep-alive connection at any instant, and closing it then would cross that request. Until
/// the linger ends, a request that comes is answered with `Connection: close`, after which
/// the connection closes on our terms. The connection's end, if it ended meanwhile.
async fn linger_after_upgrade<C: Future>(
    connection: Pin<&mut C>,
    requests: &Requests,
) -> Option<C::Output> {
    let count = requests.count();
    tokio::select! {
        ended = connection => Some(ended),
        () = requests.more_than(count) => None,
        () = tokio::time::sleep(UPGRADE_IDLE_LINGER) => None,
    }
}

/// The protocol of a connection, as its first bytes tell: HTTP/2 with prior knowledge starts
/// with the client preface.
#[derive(Default)]
struct Protocol {
    /// [`UNKNOWN`], [`HTTP1`] or [`HTTP2`].
    state: std::sync::atomic::AtomicU8,
    known: tokio::sync::Notify,
}

const UNKNOWN: u8 = 0;
const HTTP1: u8 = 1;
const HTTP2: u8 = 2;

/// What an HTTP/2 connection sends first (RFC 9113, section 3.4).
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

impl Protocol {
    fn set(&self, state: u8) {
        self.state.store(state, Ordering::Release);
        self.known.notify_waiters();
    }

    /// Resolves once the shutdown has started on a connection known to be HTTP/2, by then
    /// served as such (the whole preface has been read); never on HTTP/1.
    async fn http2_after(&self, shutdown: &Shutdown) {
        shutdown.shutting_down().await;
        loop {
            let known = self.known.notified();
            tokio::pin!(known);
            known.as_mut().enable();
            match self.state.load(Ordering::Acquire) {
                HTTP2 => return,
                HTTP1 => std::future::pending::<()>().await,
                _ => known.await,
            }
        }
    }
}

/// A connection's stream, watching the first bytes the server reads to tell its
/// [`Protocol`].
struct Sniffed<I> {
    stream: I,
    protocol: Arc<Protocol>,
    /// How many bytes of the preface have been read so far, while unknown.
    matched: usize,
}

impl<I> Sniffed<I> {
    fn new(stream: I, protocol: Arc<Protocol>) -> Self {
        Sniffed {
            stream,
            protocol,
            matched: 0,
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Sniffed<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.stream).poll_read(cx, buf))?;
        if this.matched < PREFACE.len() && this.protocol.state.load(Ordering::Relaxed) == UNKNOWN {
            let read = &buf.filled()[before..];
            let wanted = &PREFACE[this.matched..];
            let length = read.len().min(wanted.len());
            if read[..length] != wanted[..length] {
                this.protocol.set(HTTP1);
            } else {
                this.matched += length;
                if this.matched == PREFACE.len() {
                    this.protocol.set(HTTP2);
                }
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Sniffed<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// Counts a connection as open until its task ends (or panics, or is aborted).
struct Open(Arc<AtomicUsize>);

impl Open {
    fn enter(open: &Arc<AtomicUsize>) -> Open {
        open.fetch_add(1, Ordering::AcqRel);
        Open(open.clone())
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The executor of a connection's HTTP/2 streams: tokio tasks that end when the connection's
/// task is dropped before it ended (cut), so that no handler outlives its connection. The
/// streams hold clones of the executor (hyper's), so what cuts them is a guard that only the
/// connection's task holds.
#[derive(Clone)]
struct Streams {
    cut: CancellationToken,
    shutdown: Shutdown,
}

impl Streams {
    /// The executor, and the guard that cuts its streams when dropped armed.
    fn new(shutdown: Shutdown) -> (Self, DropGuard) {
        let cut = CancellationToken::new();
        let guard = cut.clone().drop_guard();
        (Streams { cut, shutdown }, guard)
    }
}

impl<F> hyper::rt::Executor<F> for Streams
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, stream: F) {
        let cut = self.cut.clone();
        tokio::spawn(self.shutdown.scope(async move {
            tokio::select! {
                _ = stream => {}
                () = cut.cancelled() => {}
            }
        }));
    }
}

/// The service as hyper calls it: it hands the handlers the [`Shutdown`] (in the request's
/// extensions, for the axum extractor) and marks the HTTP/1 responses `Connection: close`
/// once the shutdown has started.
struct CloseOnShutdown<S> {
    inner: TowerToHyperService<S>,
    shutdown: Shutdown,
    requests: Arc<Requests>,
}

/// How many requests a connection has brought.
#[derive(Default)]
struct Requests {
    count: AtomicUsize,
    arrived: tokio::sync::Notify,
}

impl Requests {
    fn count(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    fn seen(&self) -> bool {
        self.count() > 0
    }

    fn saw(&self) {
        self.count.fetch_add(1, Ordering::AcqRel);
        self.arrived.notify_waiters();
    }

    /// Resolves once the connection has brought more than `count` requests.
    async fn more_than(&self, count: usize) {
        loop {
            let arrived = self.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            if self.count() > count {
                return;
            }
            arrived.await;
        }
    }

    /// Resolves once the first request has come.
    async fn arrived(&self) {
        self.more_than(0).await;
    }
}

impl<S, B> hyper::service::Service<Request<Incoming>> for CloseOnShutdown<S>
where
    S: tower_service::Service<Request<Incoming>, Response = Response<B>> + Clone,
{
    type Response = Response<B>;
    type Error = S::Error;
    type Future =
        CloseFuture<<TowerToHyperService<S> as hyper::service::Service<Request<Incoming>>>::Future>;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        self.requests.saw();
        let http1 = request.version() <= Version::HTTP_11;
        request.extensions_mut().insert(self.shutdown.clone());
        CloseFuture {
            inner: self.inner.call(request),
            http1,
            shutdown: self.shutdown.clone(),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response of [`CloseOnShutdown`].
    struct CloseFuture<F> {
        #[pin]
        inner: F,
        http1: bool,
        shutdown: Shutdown,
    }
}

impl<F, B, E> Future for CloseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.inner.poll(cx))?;
        // Decided when the response is sent, not when the request came: a request that
        // started before the trigger and ends after it closes its connection too. An upgrade
        // keeps its `Connection: upgrade`.
        if *this.http1
            && this.shutdown.is_shutting_down()
            && response.status() != StatusCode::SWITCHING_PROTOCOLS
        {
            response
                .headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
        }
        Poll::Ready(Ok(response))
    }
}

/// Runs a connection the server handed over after a protocol switch (a websocket, once axum's
/// `on_upgrade` hands it over) as a tracked task, as [`graceful::spawn`](crate::spawn) does: the drain waits for it; if it still
/// runs at `drain_timeout`, it is aborted (reported by where it was spawned) and its
/// connection counted as cut (`1 connection cut`, exit code 1).
///
/// End it at the cancel, e.g. with a close frame, so that nothing is cut:
///
/// ```no_run
/// # async fn recv() -> Option<String> { None }
/// # async fn send_close() {}
/// async fn socket(shutdown: graceful::Shutdown) {
///     loop {
///         tokio::select! {
///             () = shutdown.cancelled() => return send_close().await,
///             message = recv() => match message {
///                 Some(message) => println!("{message}"),
///                 None => return,
///             },
///         }
///     }
/// }
///
/// // In a handler, with axum's `ws` feature:
/// // ws.on_upgrade(move |socket| async move { graceful::http::spawn_connection(run(socket, shutdown)); })
/// # async fn f(shutdown: graceful::Shutdown) {
/// graceful::http::spawn_connection(socket(shutdown));
/// # }
/// ```
///
/// # Panics
/// Outside a tokio runtime, as `tokio::spawn` does.
#[track_caller]
pub fn spawn_connection<F>(connection: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let shutdown = Shutdown::current();
    let cut = CutOnDrop {
        shutdown: Some(shutdown.clone()),
    };
    shutdown.spawn(async move {
        let mut cut = cut;
        let output = connection.await;
        cut.shutdown = None;
        output
    })
}

/// The name of [`spawn_connection`] in 0.2.
///
/// ```no_run
/// # #![allow(deprecated)]
/// # async fn f() {
/// graceful::http::spawn_upgraded(async {});
/// # }
/// ```
#[deprecated(
    since = "0.3.0",
    note = "renamed to `spawn_connection`: \"upgrade\" now only means the zero-downtime upgrade"
)]
#[track_caller]
pub fn spawn_upgraded<F>(connection: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    spawn_connection(connection)
}

/// Counts one connection cut when dropped armed: an upgraded connection's task aborted.
struct CutOnDrop {
    shutdown: Option<Shutdown>,
}

impl Drop for CutOnDrop {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            shutdown.inner.record_cut(1);
        }
    }
}

/// The server's [`Shutdown`] as an axum extractor (feature `http`): the handle of the
/// [`serve`] that runs the handler, or [`graceful::shutdown()`](crate::shutdown()) under
/// another server.
///
/// ```
/// use axum::http::StatusCode;
///
/// async fn healthz(shutdown: graceful::Shutdown) -> StatusCode {
///     if shutdown.is_shutting_down() {
///         StatusCode::SERVICE_UNAVAILABLE
///     } else {
///         StatusCode::OK
///     }
/// }
/// let app: axum::Router = axum::Router::new().route("/healthz", axum::routing::get(healthz));
/// ```
impl<S: Send + Sync> axum_core::extract::FromRequestParts<S> for Shutdown {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut hyper::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Shutdown>()
            .cloned()
            .unwrap_or_else(Shutdown::current))
    }
}
