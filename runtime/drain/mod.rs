//! The drain's rules that both servers follow (features `http` and `grpc`), written once: what
//! a server accepts connections from ([`Listener`]), which accept errors are a connection's
//! and which the listener's (after which the server rests before accepting again), how the
//! connections cut at the end of the drain are counted, and the response body that keeps a
//! request counted in flight until it has been sent.

mod listener;

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

pub use listener::Listener;

use crate::shutdown::Shutdown;

/// A service's error, boxed, as hyper and tonic write it.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How long a server rests after an accept error such as `EMFILE` (too many open files), as
/// axum and hyper do: the connections that end meanwhile free descriptors, and the server does
/// not spin on the error.
pub(crate) const ACCEPT_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// Whether an accept error is one connection's (the client gave up before it was accepted):
/// nothing to do with the listener, the server accepts again at once. Any other error is the
/// listener's, and the server rests [`ACCEPT_ERROR_PAUSE`] first.
pub(crate) fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Counts `count` connections of `server` ("HTTP", "gRPC"; named `label` as in the snapshot,
/// `http 127.0.0.1:3000`) cut: closed with a request in flight. The report counts them, the
/// drain's line says so, the exit code is 1.
pub(crate) fn record_cut(shutdown: &Shutdown, server: &'static str, label: &str, count: usize) {
    if count > 0 {
        shutdown.inner.record_cut(count);
        crate::metrics::connections_cut(label, count);
        crate::log::emit!(warn, target: "graceful", connections = count, server, "connections cut: a request still in flight when the server was dropped");
    }
}

pin_project_lite::pin_project! {
    /// A response's body that keeps `guard` until it has been sent to its end or dropped: what
    /// keeps a request (HTTP) or a call (gRPC) counted in flight while its body streams.
    pub(crate) struct Tracked<B, G> {
        #[pin]
        body: B,
        guard: Option<G>,
    }
}

impl<B, G> Tracked<B, G> {
    /// What keeps the request counted, until the body is sent.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn guard(&self) -> Option<&G> {
        self.guard.as_ref()
    }
}

pin_project_lite::pin_project! {
    /// A service's response future whose body, once there is one, keeps `guard` ([`Tracked`]);
    /// an error ends the request at once (the guard drops with the future).
    pub(crate) struct TrackedFuture<F, G> {
        #[pin]
        inner: F,
        guard: Option<G>,
    }
}

impl<F, G> TrackedFuture<F, G> {
    pub(crate) fn new(inner: F, guard: G) -> Self {
        TrackedFuture {
            inner,
            guard: Some(guard),
        }
    }
}

impl<F, B, E, G> Future for TrackedFuture<F, G>
where
    F: Future<Output = Result<http::Response<B>, E>>,
{
    type Output = Result<http::Response<Tracked<B, G>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = ready!(this.inner.poll(cx))?;
        let guard = this.guard.take();
        Poll::Ready(Ok(response.map(|body| Tracked { body, guard })))
    }
}

impl<B: http_body::Body, G> http_body::Body for Tracked<B, G> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        self.project().body.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
