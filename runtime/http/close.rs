//! The service as hyper calls it: HTTP/1 responses say `Connection: close` from the trigger
//! on, and the requests a connection brought are counted, with those still in flight.
//!
//! Nothing here writes memory that other connections share: the counts are the connection's
//! own ([`Conn`]), and the shutdown is only read.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use hyper::body::Incoming;
use hyper::header::{CONNECTION, HeaderValue};
use hyper::{Request, Response, StatusCode, Version};
use hyper_util::service::TowerToHyperService;

use super::conn::Conn;
use crate::drain::{Tracked, TrackedFuture};

/// The service as hyper calls it: it counts the request on its connection and marks the
/// HTTP/1 responses `Connection: close` once the shutdown has started.
pub(super) struct CloseOnShutdown<S> {
    pub(super) inner: TowerToHyperService<S>,
    pub(super) conn: Arc<Conn>,
}

impl<S, B> hyper::service::Service<Request<Incoming>> for CloseOnShutdown<S>
where
    S: tower_service::Service<Request<Incoming>, Response = Response<B>> + Clone,
{
    type Response = Response<Tracked<B, InFlight>>;
    type Error = S::Error;
    type Future =
        CloseFuture<<TowerToHyperService<S> as hyper::service::Service<Request<Incoming>>>::Future>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let in_flight = InFlight::start(&self.conn);
        let http1 = request.version() <= Version::HTTP_11;
        CloseFuture {
            inner: TrackedFuture::new(self.inner.call(request), in_flight),
            http1,
        }
    }
}

/// A request of a connection, in flight until its response's body has been sent (or dropped),
/// or until the service failed.
pub(super) struct InFlight(Arc<Conn>);

impl InFlight {
    fn start(conn: &Arc<Conn>) -> InFlight {
        conn.request_started();
        InFlight(conn.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.request_ended();
    }
}

pin_project_lite::pin_project! {
    /// The response of [`CloseOnShutdown`].
    pub(super) struct CloseFuture<F> {
        #[pin]
        inner: TrackedFuture<F, InFlight>,
        http1: bool,
    }
}

impl<F, B, E> Future for CloseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<Tracked<B, InFlight>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.inner.poll(cx))?;
        // Decided when the response is sent, not when the request came: a request that
        // started before the trigger and ends after it closes its connection too. An upgrade
        // keeps its `Connection: upgrade`. The shutdown's state is read, never written.
        if *this.http1
            && response
                .body()
                .guard()
                .is_some_and(|in_flight| in_flight.0.shutdown().is_shutting_down())
            && response.status() != StatusCode::SWITCHING_PROTOCOLS
        {
            response
                .headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
        }
        Poll::Ready(Ok(response))
    }
}
