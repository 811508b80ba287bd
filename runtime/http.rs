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
//! close frame, and run it with [`spawn_upgraded`] so that the drain waits for it, and cuts
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
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::header::{CONNECTION, HeaderValue};
use hyper::{Request, Response, StatusCode, Version};
use hyper_util::rt::TokioIo;
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::shutdown::Shutdown;

type BoxError = Box<dyn StdError + Send + Sync>;

/// How long the accept loop rests after an accept error such as `EMFILE` (too many open
/// files), as axum and hyper do: the connections that end meanwhile free descriptors.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// How long a connection accepted but not yet read from may take, after the cancel, to
/// bring its first request. The client sent it before the listener closed (or, across an
/// upgrade, while this process still held the listener): closing the connection unread
/// would fail a request that was never refused. An idle keep-alive connection that has
/// served a request closes at once.
const FIRST_REQUEST_GRACE: Duration = Duration::from_secs(1);

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
pub fn serve<S>(listener: TcpListener, service: S) -> Serve<S> {
    Serve {
        listener,
        service,
        shutdown: Shutdown::current(),
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
pub struct Serve<S> {
    listener: TcpListener,
    service: S,
    shutdown: Shutdown,
}

impl<S> Serve<S> {
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
}

impl<S> fmt::Debug for Serve<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Serve")
            .field("listener", &self.listener)
            .field("shutdown", &self.shutdown)
            .finish_non_exhaustive()
    }
}

impl<S, B> IntoFuture for Serve<S>
where
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
        Box::pin(run(self.listener, self.service, self.shutdown))
    }
}

/// The accept loop, then the drain of the connections.
async fn run<S, B>(listener: TcpListener, service: S, shutdown: Shutdown) -> io::Result<()>
where
    S: tower_service::Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let mut connections = Connections::new(shutdown.clone());
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
}

impl Connections {
    fn new(shutdown: Shutdown) -> Self {
        Connections {
            tasks: JoinSet::new(),
            open: Arc::default(),
            close: CancellationToken::new(),
            shutdown,
        }
    }

    fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    fn start<S, B>(&mut self, stream: TcpStream, remote: SocketAddr, service: S)
    where
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
        let first = Arc::new(FirstRequest::default());
        let service = CloseOnShutdown {
            inner: TowerToHyperService::new(service),
            shutdown: self.shutdown.clone(),
            first: first.clone(),
        };
        let connection = async move {
            let _open = open;
            // Cut, its HTTP/2 streams (on tasks of their own) end with it.
            let (streams, cut_streams) = Streams::new(shutdown);
            let mut builder = auto::Builder::new(streams);
            builder.http2().enable_connect_protocol();
            let mut connection =
                pin!(builder.serve_connection_with_upgrades(TokioIo::new(stream), service));
            let mut ended = tokio::select! {
                ended = connection.as_mut() => Some(ended),
                () = close.cancelled() => None,
            };
            if ended.is_none() && !first.seen() {
                // Accepted, never read from: its first request may be on its way.
                ended = tokio::select! {
                    ended = connection.as_mut() => Some(ended),
                    () = first.arrived() => None,
                    () = tokio::time::sleep(FIRST_REQUEST_GRACE) => None,
                };
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
                tracing::debug!(target: "graceful", %remote, %error, "HTTP connection ended with an error");
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
    first: Arc<FirstRequest>,
}

/// Whether a connection has brought its first request yet.
#[derive(Default)]
struct FirstRequest {
    seen: std::sync::atomic::AtomicBool,
    arrived: tokio::sync::Notify,
}

impl FirstRequest {
    fn seen(&self) -> bool {
        self.seen.load(Ordering::Acquire)
    }

    fn saw(&self) {
        if !self.seen.swap(true, Ordering::AcqRel) {
            self.arrived.notify_waiters();
        }
    }

    /// Resolves once the first request has come.
    async fn arrived(&self) {
        let arrived = self.arrived.notified();
        tokio::pin!(arrived);
        arrived.as_mut().enable();
        if !self.seen() {
            arrived.await;
        }
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
        self.first.saw();
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

/// Runs an upgraded connection (a websocket, once axum's `on_upgrade` hands it over) as a
/// tracked task, as [`graceful::spawn`](crate::spawn) does: the drain waits for it; if it still
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
/// // ws.on_upgrade(move |socket| async move { graceful::http::spawn_upgraded(run(socket, shutdown)); })
/// # async fn f(shutdown: graceful::Shutdown) {
/// graceful::http::spawn_upgraded(socket(shutdown));
/// # }
/// ```
///
/// # Panics
/// Outside a tokio runtime, as `tokio::spawn` does.
#[track_caller]
pub fn spawn_upgraded<F>(connection: F) -> tokio::task::JoinHandle<F::Output>
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
