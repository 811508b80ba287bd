//! The service as hyper calls it: the handlers get the [`Shutdown`](crate::Shutdown), and
//! HTTP/1 responses say `Connection: close` from the trigger on; the requests a connection
//! brought are counted.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};

use hyper::body::Incoming;
use hyper::header::{CONNECTION, HeaderValue};
use hyper::{Request, Response, StatusCode, Version};
use hyper_util::service::TowerToHyperService;

use crate::shutdown::Shutdown;

/// The service as hyper calls it: it hands the handlers the [`Shutdown`] (in the request's
/// extensions, for the axum extractor) and marks the HTTP/1 responses `Connection: close`
/// once the shutdown has started.
pub(super) struct CloseOnShutdown<S> {
    pub(super) inner: TowerToHyperService<S>,
    pub(super) shutdown: Shutdown,
    pub(super) requests: Arc<Requests>,
}

/// How many requests a connection has brought.
#[derive(Default)]
pub(super) struct Requests {
    count: AtomicUsize,
    arrived: tokio::sync::Notify,
}

impl Requests {
    pub(super) fn count(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    pub(super) fn seen(&self) -> bool {
        self.count() > 0
    }

    pub(super) fn saw(&self) {
        self.count.fetch_add(1, Ordering::AcqRel);
        self.arrived.notify_waiters();
    }

    /// Resolves once the connection has brought more than `count` requests.
    pub(super) async fn more_than(&self, count: usize) {
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
    pub(super) async fn arrived(&self) {
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
    pub(super) struct CloseFuture<F> {
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
