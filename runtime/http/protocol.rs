//! The protocol of a connection, as its first bytes tell: HTTP/2 with prior knowledge starts
//! with the client preface (an HTTP/2 connection gets its GOAWAY from the trigger on).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite};

use super::conn::{Conn, HTTP1, HTTP2};

/// What an HTTP/2 connection sends first (RFC 9113, section 3.4).
pub(super) const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// A connection's stream, watching the first bytes the server reads to tell its protocol.
pub(super) struct Sniffed<I> {
    stream: I,
    conn: Arc<Conn>,
    /// How many bytes of the preface have been read so far, while unknown; its whole length
    /// once the protocol is known.
    matched: usize,
}

impl<I> Sniffed<I> {
    pub(super) fn new(stream: I, conn: Arc<Conn>) -> Self {
        Sniffed {
            stream,
            conn,
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
        if this.matched < PREFACE.len() {
            let read = &buf.filled()[before..];
            let wanted = &PREFACE[this.matched..];
            let length = read.len().min(wanted.len());
            if read[..length] != wanted[..length] {
                this.conn.set_protocol(HTTP1);
                // Known: the later reads are not looked at.
                this.matched = PREFACE.len();
            } else {
                this.matched += length;
                if this.matched == PREFACE.len() {
                    this.conn.set_protocol(HTTP2);
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
