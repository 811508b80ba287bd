//! The HTTP client side: one HTTP/1.1 connection to 127.0.0.1 (hyper's client), a request on
//! it with a deadline, and why a request got no response.

use std::fmt;
use std::io::ErrorKind;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::client::conn::http1;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio::time::timeout;

/// How long one request may take before the client calls it hanging.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// A port that was free a moment ago: bind 127.0.0.1:0, read the port, let it go.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("a bound address").port()
}

/// Why a request got no response.
#[derive(Debug)]
pub enum ClientError {
    /// The connection was refused: nothing listens on the port.
    Refused,
    /// The connection was made, then closed or reset before a response came.
    Closed(String),
    /// No response within [`REQUEST_TIMEOUT`]: the server left the client hanging.
    Hung,
    /// Anything else.
    Other(String),
}

impl ClientError {
    fn from_io(error: std::io::Error) -> ClientError {
        match error.kind() {
            ErrorKind::ConnectionRefused => ClientError::Refused,
            ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::BrokenPipe
            | ErrorKind::UnexpectedEof => ClientError::Closed(error.to_string()),
            _ => ClientError::Other(error.to_string()),
        }
    }

    pub(crate) fn from_hyper(error: hyper::Error) -> ClientError {
        if error.is_closed() || error.is_incomplete_message() || error.is_canceled() {
            return ClientError::Closed(error.to_string());
        }
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
        while let Some(cause) = source {
            if let Some(io) = cause.downcast_ref::<std::io::Error>() {
                return ClientError::from_io(std::io::Error::new(io.kind(), error.to_string()));
            }
            source = cause.source();
        }
        ClientError::Other(error.to_string())
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Refused => f.write_str("connection refused"),
            ClientError::Closed(why) => write!(f, "closed before a response: {why}"),
            ClientError::Hung => write!(f, "no response within {REQUEST_TIMEOUT:?}"),
            ClientError::Other(why) => f.write_str(why),
        }
    }
}

/// A response with its whole body.
#[derive(Debug)]
pub struct Reply {
    /// The status code.
    pub status: StatusCode,
    /// The body, as text (invalid UTF-8 replaced).
    pub body: String,
}

/// One HTTP/1.1 connection to 127.0.0.1 (hyper's client), used for one request or, kept
/// alive, for many in a row.
pub struct Connection {
    port: u16,
    sender: http1::SendRequest<Full<Bytes>>,
    driver: JoinHandle<()>,
}

impl Connection {
    /// Connects to 127.0.0.1:`port`, at most [`REQUEST_TIMEOUT`].
    pub async fn open(port: u16) -> Result<Connection, ClientError> {
        let connect = async {
            let stream = TcpStream::connect(("127.0.0.1", port))
                .await
                .map_err(ClientError::from_io)?;
            stream.set_nodelay(true).map_err(ClientError::from_io)?;
            let (sender, connection) = http1::handshake(TokioIo::new(stream))
                .await
                .map_err(ClientError::from_hyper)?;
            let driver = tokio::spawn(async move {
                let _ = connection.await;
            });
            Ok(Connection {
                port,
                sender,
                driver,
            })
        };
        timeout(REQUEST_TIMEOUT, connect)
            .await
            .unwrap_or(Err(ClientError::Hung))
    }

    /// Sends a request and waits for the head of the response (the body is left to stream).
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: &str,
    ) -> Result<hyper::Response<Incoming>, ClientError> {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, format!("127.0.0.1:{}", self.port))
            .body(Full::new(Bytes::from(body.to_owned())))
            .expect("a valid request");
        let exchange = async {
            self.sender.ready().await.map_err(ClientError::from_hyper)?;
            self.sender
                .send_request(request)
                .await
                .map_err(ClientError::from_hyper)
        };
        timeout(REQUEST_TIMEOUT, exchange)
            .await
            .unwrap_or(Err(ClientError::Hung))
    }

    /// Sends a request and reads the whole response.
    pub async fn request(
        &mut self,
        method: Method,
        path: &str,
        body: &str,
    ) -> Result<Reply, ClientError> {
        let response = self.send(method, path, body).await?;
        let status = response.status();
        let body = timeout(REQUEST_TIMEOUT, response.into_body().collect())
            .await
            .map_err(|_| ClientError::Hung)?
            .map_err(ClientError::from_hyper)?
            .to_bytes();
        Ok(Reply {
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }

    /// Waits until the server closes the connection (the client's side of it has ended), at
    /// most `limit`; when that was seen, or `None` if it is still open then.
    pub async fn closed(&mut self, limit: Duration) -> Option<Instant> {
        match timeout(limit, &mut self.driver).await {
            Ok(_) => Some(Instant::now()),
            Err(_) => None,
        }
    }

    /// Whether the client considers the connection closed (it would not send on it).
    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// `GET path` on a fresh connection.
pub async fn get(port: u16, path: &str) -> Result<Reply, ClientError> {
    Connection::open(port)
        .await?
        .request(Method::GET, path, "")
        .await
}

/// `GET path` on a fresh connection to the Unix-domain socket at `socket`.
#[cfg(unix)]
pub async fn get_unix(socket: &std::path::Path, path: &str) -> Result<Reply, ClientError> {
    let exchange = async {
        let stream = tokio::net::UnixStream::connect(socket)
            .await
            .map_err(ClientError::from_io)?;
        let (mut sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(ClientError::from_hyper)?;
        let driver = tokio::spawn(async move {
            let _ = connection.await;
        });
        let request = Request::builder()
            .method(Method::GET)
            .uri(path)
            .header(hyper::header::HOST, "localhost")
            .body(Full::new(Bytes::new()))
            .expect("a valid request");
        let response = sender
            .send_request(request)
            .await
            .map_err(ClientError::from_hyper)?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(ClientError::from_hyper)?
            .to_bytes();
        driver.abort();
        Ok(Reply {
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    };
    timeout(REQUEST_TIMEOUT, exchange)
        .await
        .unwrap_or(Err(ClientError::Hung))
}
