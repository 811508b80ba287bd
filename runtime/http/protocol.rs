//! The protocol of a connection, as its first bytes tell: HTTP/2 with prior knowledge starts
//! with the client preface, and an HTTP/2 connection gets its GOAWAY from the trigger on.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite};

use crate::shutdown::Shutdown;

/// The protocol of a connection, as its first bytes tell: HTTP/2 with prior knowledge starts
/// with the client preface.
#[derive(Default)]
pub(super) struct Protocol {
    /// [`UNKNOWN`], [`HTTP1`] or [`HTTP2`].
    state: std::sync::atomic::AtomicU8,
    known: tokio::sync::Notify,
}

pub(super) const UNKNOWN: u8 = 0;
pub(super) const HTTP1: u8 = 1;
pub(super) const HTTP2: u8 = 2;

/// What an HTTP/2 connection sends first (RFC 9113, section 3.4).
pub(super) const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

impl Protocol {
    pub(super) fn set(&self, state: u8) {
        self.state.store(state, Ordering::Release);
        self.known.notify_waiters();
    }

    /// Resolves once the shutdown has started on a connection known to be HTTP/2, by then
    /// served as such (the whole preface has been read); never on HTTP/1.
    pub(super) async fn http2_after(&self, shutdown: &Shutdown) {
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
pub(super) struct Sniffed<I> {
    stream: I,
    protocol: Arc<Protocol>,
    /// How many bytes of the preface have been read so far, while unknown.
    matched: usize,
}

impl<I> Sniffed<I> {
    pub(super) fn new(stream: I, protocol: Arc<Protocol>) -> Self {
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
