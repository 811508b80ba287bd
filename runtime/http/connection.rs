//! The open connections of a server, each on a task of its own: hyper's builder, the header
//! read timeout (a sweep of the table), the wait for a first request at the cancel, the linger
//! after an upgrade, the table of those open and the executor of their HTTP/2 streams.

use std::collections::BTreeMap;
use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::task::AbortHandle;
use tokio_util::either::Either;
use tokio_util::task::TaskTracker;

use super::ConnSettings;
use super::close::CloseOnShutdown;
use super::conn::{CLOSING, Conn, GOING_AWAY, HTTP1, HTTP2, LINGER, TIMED_OUT, UNKNOWN};
use super::protocol::Sniffed;
use crate::drain::BoxError;
use crate::reason::Reason;
use crate::servers::{self, Registered, Watched};
use crate::shutdown::Shutdown;
use crate::util::sync::lock;

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
/// The count of those with a request in flight then is recorded at once, in `drop`, so that it
/// is in the report whoever drops the server and whenever its tasks are finally dropped.
pub(super) struct Connections {
    /// Counts the tasks that still run, without a lock: the drain waits for none to be left
    /// with one wake-up at the end, instead of joining each task as it ends (a wake-up of the
    /// server's task, and on a loaded machine a thread switch, per connection).
    running: TaskTracker,
    /// Each open connection: how the server signals it, what `drop` counts and aborts, what
    /// a snapshot reads. The server's task adds a connection as it accepts it; the
    /// connection's task removes it as it ends, so that an ended connection is freed where
    /// it ended, not by the server (at the end of a drain, one thread would free them all).
    /// Locked once at each connection's open and close, and by a snapshot; never per request.
    table: Arc<ConnTable>,
    /// The key of the next connection in `table`.
    next: u64,
    /// The server, registered with its run while it serves.
    _registered: Option<Registered>,
    /// How the server is named (the snapshot, the metrics).
    label: Arc<str>,
    pub(super) shutdown: Shutdown,
    pub(super) settings: ConnSettings,
    /// Whether the connections were told the shutdown started (GOAWAY for HTTP/2).
    told_going_away: bool,
}

impl Connections {
    pub(super) fn new(shutdown: Shutdown, settings: ConnSettings) -> Self {
        Connections {
            running: TaskTracker::new(),
            table: Arc::default(),
            next: 0,
            _registered: None,
            label: Arc::from("http"),
            shutdown,
            settings,
            told_going_away: false,
        }
    }

    /// Registers the server with its run, as `http` and where it listens, until this drops.
    pub(super) fn register(&mut self, local: Option<String>) {
        let label = servers::label("http", local);
        self.label = Arc::from(label.as_str());
        let table: Arc<dyn Watched> = self.table.clone();
        self._registered = Some(servers::register(
            self.shutdown.inner.servers(),
            label,
            table,
        ));
    }

    /// Connections whose task has not ended.
    pub(super) fn open(&self) -> usize {
        lock(&self.table.0).len()
    }

    /// How often [`sweep`](Self::sweep) runs: a third of the header read timeout.
    pub(super) fn sweep_period(&self) -> Duration {
        (self.settings.header_read_timeout / 3).max(Duration::from_millis(1))
    }

    /// hyper's header read timeout, kept by the server rather than by hyper (which allocates
    /// a timer for every request head) or by each connection (a timer each, set and cleared
    /// with the connection): run every [`sweep_period`](Self::sweep_period), it closes each
    /// HTTP/1 connection that had no request in flight, and brought none, at four sweeps in a
    /// row, so between one and one and a third timeouts after its last request (or its
    /// accept): a head that never ends, or an idle keep-alive connection, as hyper's does.
    /// A walk of the table, without a write to a connection that is not timed out.
    pub(super) fn sweep(&mut self) {
        for Entry {
            conn,
            requests,
            idle_sweeps,
            ..
        } in lock(&self.table.0).values_mut()
        {
            let now = conn.requests();
            if conn.protocol() == HTTP2 || conn.busy() || now != *requests {
                *idle_sweeps = 0;
                *requests = now;
            } else {
                *idle_sweeps += 1;
                if *idle_sweeps == 4 {
                    conn.raise(TIMED_OUT);
                }
            }
        }
    }

    /// The drain: waits until every connection's task has ended.
    pub(super) async fn all_ended(&self) {
        self.running.close();
        self.running.wait().await;
    }

    /// From the trigger on: every HTTP/2 connection sends its GOAWAY (the later ones are told
    /// as they are accepted).
    pub(super) fn going_away(&mut self) {
        if !self.told_going_away {
            self.told_going_away = true;
            // Only HTTP/2 connections act on it (a GOAWAY); waking every HTTP/1 connection's
            // task for nothing would cost a poll per idle connection. One whose protocol is not
            // known yet is woken when it is.
            for Entry { conn, .. } in lock(&self.table.0).values() {
                if conn.protocol() == HTTP1 {
                    conn.mark(GOING_AWAY);
                } else {
                    conn.raise(GOING_AWAY);
                }
            }
        }
    }

    /// At the cancel: every connection shuts down gracefully (after a linger, if the shutdown
    /// is an upgrade's). The reason is read once here, not by each connection.
    pub(super) fn close(&mut self) {
        let mut flags = GOING_AWAY | CLOSING;
        if self.shutdown.reason() == Some(Reason::Upgrade) {
            flags |= LINGER;
        }
        for Entry { conn, .. } in lock(&self.table.0).values() {
            conn.raise(flags);
        }
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
        let conn = Arc::new(Conn::new(self.shutdown.clone()));
        // The handlers of HTTP/2 streams run on tasks of their own; they are given the
        // server's handle only if `graceful::shutdown()` would not find it anyway.
        let ambient = self.shutdown.is_ambient();
        let streams = Streams {
            scope: (!ambient).then(|| self.shutdown.clone()),
        };
        let service = CloseOnShutdown {
            inner: TowerToHyperService::new(service),
            conn: conn.clone(),
        };
        let task_conn = conn.clone();
        let open = OpenConnection::new(self.label.clone());
        let key = self.next;
        self.next += 1;
        let leave = Leave {
            table: self.table.clone(),
            key,
        };
        let connection = async move {
            let _leave = leave;
            let _open = open;
            let conn = task_conn;
            let builder = connection_builder(streams);
            let io = TokioIo::new(Sniffed::new(stream, conn.clone()));
            let mut connection = pin!(builder.serve_connection_with_upgrades(io, service));
            let mut registered = None;
            let mut seen = UNKNOWN;
            let mut going_away = false;
            let mut ended = loop {
                let state = poll_fn(|cx| {
                    if let Poll::Ready(ended) = connection.as_mut().poll(cx) {
                        return Poll::Ready(Err(ended));
                    }
                    if conn.poll_noticed(cx, &mut registered) {
                        let state = conn.state();
                        if state != seen {
                            return Poll::Ready(Ok(state));
                        }
                    }
                    Poll::Pending
                })
                .await;
                let state = match state {
                    Ok(state) => state,
                    Err(ended) => break Some(ended),
                };
                seen = state;
                if state & TIMED_OUT != 0 {
                    crate::log::emit!(debug, target: "graceful", ?remote, "HTTP connection closed: no whole request head within the header read timeout");
                    return;
                }
                if state & CLOSING != 0 {
                    break None;
                }
                // An HTTP/2 connection gets its GOAWAY from the trigger on, as HTTP/1
                // responses say `Connection: close`: the client opens its next streams on a
                // new connection, the streams in flight complete.
                if state & GOING_AWAY != 0 && conn.protocol() == HTTP2 && !going_away {
                    going_away = true;
                    connection.as_mut().graceful_shutdown();
                }
            };
            if ended.is_none() && conn.requests() == 0 {
                match first_request_within_grace(connection.as_mut(), &conn).await {
                    Some(ended_now) => ended = ended_now,
                    None => {
                        crate::log::emit!(debug, target: "graceful", ?remote, "HTTP connection closed at the cancel: no whole request within the grace");
                        return;
                    }
                }
            }
            if ended.is_none() && seen & LINGER != 0 {
                ended = linger_after_upgrade(connection.as_mut(), &conn).await;
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
            if let Err(error) = ended {
                crate::log::emit!(debug, target: "graceful", ?remote, %error, "HTTP connection ended with an error");
            }
        };
        if self.told_going_away {
            conn.raise(GOING_AWAY);
        }
        // The connection's task carries the server's handle only if `graceful::shutdown()`
        // would not find it anyway: a task-local is entered and left at every poll.
        let connection = if ambient {
            Either::Left(connection)
        } else {
            Either::Right(self.shutdown.scope(connection))
        };
        // In before the task exists: a snapshot taken while the connection's first request
        // runs already counts it, and the task, which removes the entry as it ends, cannot
        // end before it is in. Not locked across the spawn: a runtime that is shutting down
        // drops the task's future at once, and its `Leave` takes the lock.
        lock(&self.table.0).insert(
            key,
            Entry {
                conn,
                task: None,
                requests: 0,
                idle_sweeps: 0,
            },
        );
        let task = tokio::spawn(self.running.track_future(connection)).abort_handle();
        if let Some(entry) = lock(&self.table.0).get_mut(&key) {
            entry.task = Some(task);
        }
    }
}

impl Drop for Connections {
    fn drop(&mut self) {
        // A connection with nothing in flight (idle keep-alive, or no whole request yet) loses
        // nothing when it closes: only those with a request in flight are cut. Every task
        // still running is aborted (its socket closes as the runtime drops it).
        let (cut, tasks): (usize, Vec<AbortHandle>) = {
            let table = lock(&self.table.0);
            let cut = table
                .values()
                .filter(|Entry { conn, .. }| conn.busy())
                .count();
            (
                cut,
                table
                    .values()
                    .filter_map(|entry| entry.task.clone())
                    .collect(),
            )
        };
        // Outside the lock: a runtime that is shutting down may drop an aborted task's future
        // at once, and its `Leave` takes the lock.
        for task in tasks {
            task.abort();
        }
        crate::drain::record_cut(&self.shutdown, "HTTP", &self.label, cut);
    }
}

/// An open connection in its server's table.
struct Entry {
    conn: Arc<Conn>,
    /// Set once the task is spawned, right after the entry is in.
    task: Option<AbortHandle>,
    /// Its requests at the last sweep.
    requests: usize,
    /// The sweeps in a row that found it without a request in flight or a new one.
    idle_sweeps: u8,
}

/// Held by a connection's task: removes the connection from its server's table as the task
/// ends, however it ends (returned, aborted, panicked: said).
struct Leave {
    table: Arc<ConnTable>,
    key: u64,
}

impl Drop for Leave {
    fn drop(&mut self) {
        if std::thread::panicking() {
            crate::log::emit!(error, target: "graceful", "an HTTP connection's task panicked");
        }
        lock(&self.table.0).remove(&self.key);
    }
}

/// A connection counted in the `graceful_connections_open` gauge while its task lives (ended
/// or aborted).
struct OpenConnection(Arc<str>);

impl OpenConnection {
    fn new(server: Arc<str>) -> Self {
        crate::metrics::connection_opened(&server);
        OpenConnection(server)
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        crate::metrics::connection_closed(&self.0);
    }
}

/// The table of a server's open connections, by their key: in the order they were accepted,
/// which is the order their memory was allocated in, here and in the kernel. The cancel wakes
/// them in that order; in a hash's order, each step of the walk (the wake-up, the connection's
/// task, its socket's close) would miss the caches, and thousands of idle connections would
/// take longer to close than under `axum::serve` (the serving benchmark's idle rows).
#[derive(Default)]
struct ConnTable(Mutex<BTreeMap<u64, Entry>>);

impl Watched for ConnTable {
    fn open_connections(&self) -> usize {
        lock(&self.0).len()
    }

    fn requests_in_flight(&self) -> Option<usize> {
        Some(
            lock(&self.0)
                .values()
                .map(|Entry { conn, .. }| conn.in_flight())
                .sum(),
        )
    }
}

/// hyper's builder for one connection: HTTP/1, HTTP/2 with extended CONNECT (WebSockets over
/// HTTP/2) and tokio's timer.
pub(super) fn connection_builder(streams: Streams) -> auto::Builder<Streams> {
    let mut builder = auto::Builder::new(streams);
    // The header read timeout is the connection task's (`HeadTimer`): no timer for hyper's
    // HTTP/1, which would then allocate one for every request.
    builder.http1().header_read_timeout(None);
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
    conn: &Conn,
) -> Option<Option<C::Output>> {
    tokio::select! {
        ended = connection => Some(Some(ended)),
        () = conn.more_requests_than(0) => Some(None),
        () = tokio::time::sleep(FIRST_REQUEST_GRACE) => None,
    }
}

/// An upgrade moves no client away first: a balancer may send its next request on an idle
/// keep-alive connection at any instant, and closing it then would cross that request. Until
/// the linger ends, a request that comes is answered with `Connection: close`, after which
/// the connection closes on our terms. The connection's end, if it ended meanwhile.
pub(super) async fn linger_after_upgrade<C: Future>(
    connection: Pin<&mut C>,
    conn: &Conn,
) -> Option<C::Output> {
    let count = conn.requests();
    tokio::select! {
        ended = connection => Some(ended),
        () = conn.more_requests_than(count) => None,
        () = tokio::time::sleep(UPGRADE_IDLE_LINGER) => None,
    }
}

/// The executor of a connection's HTTP/2 streams: tokio tasks, as hyper-util's
/// `TokioExecutor`. A stream does not outlive its connection: when the connection's task is
/// dropped (cut), h2 ends every stream's wait on it with an error, and hyper's stream task
/// ends, dropping its handler.
#[derive(Clone)]
pub(super) struct Streams {
    /// The server's handle, when the handlers would not find it as the current one.
    scope: Option<Shutdown>,
}

impl<F> hyper::rt::Executor<F> for Streams
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, stream: F) {
        match &self.scope {
            None => drop(tokio::spawn(stream)),
            Some(shutdown) => drop(tokio::spawn(shutdown.scope(stream))),
        }
    }
}
