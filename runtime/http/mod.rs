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
use std::fmt;
use std::future::{Future, IntoFuture};
use std::io;
use std::pin::{Pin, pin};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Request, Response};
use tokio::net::TcpListener;

use crate::shutdown::Shutdown;

mod close;
mod conn;
mod connection;
mod protocol;

pub use crate::drain::Listener;
use crate::drain::{ACCEPT_ERROR_PAUSE, BoxError, is_connection_error};
use connection::Connections;

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
    /// connection that sends part of one and stops (a slow or stuck client), or stays idle, is
    /// closed then, at most a third of a timeout later (the server looks at its connections every
    /// third of the timeout).
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

    fn into_future(mut self) -> Self::IntoFuture {
        let settings = ConnSettings {
            header_read_timeout: self.header_read_timeout,
        };
        ready_router(&mut self.service);
        Box::pin(run(self.listener, self.service, self.shutdown, settings))
    }
}

/// An axum `Router` called as a service turns each route's handler into a service at every
/// request (an allocation each); `axum::serve` has it done once, with `with_state(())`. So does
/// `serve`, once for the server, when it is given a `Router`.
fn ready_router<S: 'static>(service: &mut S) {
    let service: &mut dyn std::any::Any = service;
    if let Some(router) = service.downcast_mut::<axum::Router>() {
        *router = router.clone().with_state(());
    }
}

/// What each connection is served with.
#[derive(Clone, Copy)]
pub(super) struct ConnSettings {
    header_read_timeout: Duration,
}

/// The accept loop, then the drain of the connections.
async fn run<S, B, L>(
    mut listener: L,
    service: S,
    shutdown: Shutdown,
    settings: ConnSettings,
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
    connections.register(listener.local_label());
    // Accepting from here on: the process is ready (an upgrade hands over, systemd hears it).
    crate::ready();
    let mut going_away = false;
    let period = connections.sweep_period();
    let mut sweep = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Made once, not at each accept: each registers with the run's token (a lock the whole
    // process shares) when first polled, and leaves it when dropped.
    let mut cancelled = pin!(shutdown.cancelled());
    let mut shutting_down = pin!(shutdown.shutting_down());
    loop {
        let accepted = tokio::select! {
            biased;
            () = cancelled.as_mut() => break,
            () = shutting_down.as_mut(), if !going_away => {
                going_away = true;
                connections.going_away();
                continue;
            }
            _ = sweep.tick() => {
                connections.sweep();
                continue;
            }
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, remote)) => connections.start(stream, remote, service.clone()),
            // The client gave up before we accepted: nothing to do with the listener.
            Err(error) if is_connection_error(&error) => {}
            Err(error) => {
                crate::log::emit!(error, target: "graceful", %error, "HTTP accept error; accepting again in 1s");
                tokio::select! {
                    () = cancelled.as_mut() => break,
                    () = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => {}
                }
            }
        }
    }
    // New connections are refused from now on, not queued.
    drop(listener);
    crate::log::emit!(debug,
        target: "graceful",
        open = connections.open(),
        "HTTP server stopped accepting; closing connections"
    );
    connections.close();
    connections.all_ended().await;
    Ok(())
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
    let cut = CutIfAborted {
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
struct CutIfAborted {
    shutdown: Option<Shutdown>,
}

impl Drop for CutIfAborted {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            crate::drain::record_cut(&shutdown, "HTTP", "http", 1);
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
        // Nothing is put in the request for it: the connection's task (and, under another
        // run than the current one, each HTTP/2 stream's) carries the server's handle as the
        // current one, so that serving costs nothing to the handlers that do not ask for it.
        Ok(parts
            .extensions
            .get::<Shutdown>()
            .cloned()
            .unwrap_or_else(Shutdown::current))
    }
}
