//! What a server accepts connections from.

use std::fmt;
use std::future::Future;
use std::io;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;

/// What `graceful::http::serve` and `graceful::grpc::Server::serve` accept connections from:
/// a TCP listener (`tokio::net::TcpListener`), a Unix-domain one (`tokio::net::UnixListener`,
/// on Unix), or your own (a TLS acceptor over either, say). The same trait under both names,
/// `graceful::http::Listener` and `graceful::grpc::Listener`.
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

    /// Where the listener accepts, as the [`Snapshot`](crate::Snapshot) names the server
    /// (`http 127.0.0.1:3000`); `None` (the default) names it by its protocol alone.
    ///
    /// ```
    /// # use graceful::http::Listener;
    /// # async fn f() -> std::io::Result<()> {
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// assert!(listener.local_label().unwrap().starts_with("127.0.0.1:"));
    /// # Ok(()) }
    /// ```
    fn local_label(&self) -> Option<String> {
        None
    }
}

impl Listener for TcpListener {
    type Io = tokio::net::TcpStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> io::Result<(Self::Io, Self::Addr)> {
        TcpListener::accept(self).await
    }

    fn local_label(&self) -> Option<String> {
        self.local_addr().ok().map(|addr| addr.to_string())
    }
}

#[cfg(unix)]
impl Listener for tokio::net::UnixListener {
    type Io = tokio::net::UnixStream;
    type Addr = tokio::net::unix::SocketAddr;

    async fn accept(&mut self) -> io::Result<(Self::Io, Self::Addr)> {
        tokio::net::UnixListener::accept(self).await
    }

    fn local_label(&self) -> Option<String> {
        let addr = self.local_addr().ok()?;
        Some(addr.as_pathname()?.display().to_string())
    }
}
