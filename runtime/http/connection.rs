//! The open connections of a server, each on a task of its own: hyper's builder, the wait
//! for a first request at the cancel, the linger after an upgrade, the count of those open and
//! the executor of their HTTP/2 streams.

use std::fmt;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::task::JoinSet;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::close::{CloseOnShutdown, Requests};
use super::protocol::{Protocol, Sniffed};
use super::{BoxError, Settings};
use crate::reason::Reason;
use crate::shutdown::Shutdown;

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

/// The open connections, each on a task of its own, owned here: dropping this aborts them.
/// The count of those still open then is recorded at once, in `drop`, so that it is in the
/// report whoever drops the server and whenever its tasks are finally dropped.
pub(super) struct Connections {
    pub(super) tasks: JoinSet<()>,
    /// Connections whose task has not ended.
    pub(super) open: Arc<AtomicUsize>,
    /// Cancelled once the listener is dropped: every connection shuts down gracefully.
    pub(super) close: CancellationToken,
    pub(super) shutdown: Shutdown,
    pub(super) settings: Settings,
}

impl Connections {
    pub(super) fn new(shutdown: Shutdown, settings: Settings) -> Self {
        Connections {
            tasks: JoinSet::new(),
            open: Arc::default(),
            close: CancellationToken::new(),
            shutdown,
            settings,
        }
    }

    pub(super) fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    pub(super) fn start<S, B, I, A>(&mut self, stream: I, remote: A, service: S)
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
pub(super) fn connection_builder(streams: Streams, settings: Settings) -> auto::Builder<Streams> {
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
pub(super) async fn first_request_within_grace<C: Future>(
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
pub(super) async fn linger_after_upgrade<C: Future>(
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

/// Counts a connection as open until its task ends (or panics, or is aborted).
pub(super) struct Open(Arc<AtomicUsize>);

impl Open {
    pub(super) fn enter(open: &Arc<AtomicUsize>) -> Open {
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
pub(super) struct Streams {
    cut: CancellationToken,
    shutdown: Shutdown,
}

impl Streams {
    /// The executor, and the guard that cuts its streams when dropped armed.
    pub(super) fn new(shutdown: Shutdown) -> (Self, DropGuard) {
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
