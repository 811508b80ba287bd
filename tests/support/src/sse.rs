//! Server-sent events: an open `text/event-stream` response, read event by event.

use std::time::Duration;

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Method, StatusCode};

use crate::http::{ClientError, Connection};

/// One server-sent event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Event {
    /// The `event:` field; empty if the event had none.
    pub event: String,
    /// The `data:` lines, joined by newlines.
    pub data: String,
}

/// An open `text/event-stream` response.
pub struct EventStream {
    body: Incoming,
    buffer: String,
    _connection: Connection,
}

impl EventStream {
    /// Opens `path` on a fresh connection and checks that it is an event stream.
    pub async fn open(port: u16, path: &str) -> Result<EventStream, ClientError> {
        let mut connection = Connection::open(port).await?;
        let response = connection.send(Method::GET, path, "").await?;
        let content_type = response
            .headers()
            .get(hyper::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        if response.status() != StatusCode::OK || content_type != "text/event-stream" {
            return Err(ClientError::Other(format!(
                "expected a 200 text/event-stream, got {} {content_type:?}",
                response.status()
            )));
        }
        Ok(EventStream {
            body: response.into_body(),
            buffer: String::new(),
            _connection: connection,
        })
    }

    /// The next event; `Ok(None)` when the stream has ended cleanly (the last chunk came), an
    /// error if the connection broke, `Hung` if nothing came within `limit`.
    pub async fn next(&mut self, limit: Duration) -> Result<Option<Event>, ClientError> {
        let until = tokio::time::Instant::now() + limit;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = Event::default();
                let mut data = Vec::new();
                for line in block.lines() {
                    if let Some(value) = line.strip_prefix("event:") {
                        event.event = value.trim_start().to_owned();
                    } else if let Some(value) = line.strip_prefix("data:") {
                        data.push(value.trim_start().to_owned());
                    }
                }
                if event.event.is_empty() && data.is_empty() {
                    continue; // a comment (keep-alive)
                }
                event.data = data.join("\n");
                return Ok(Some(event));
            }
            let frame = match tokio::time::timeout_at(until, self.body.frame()).await {
                Err(_) => return Err(ClientError::Hung),
                Ok(None) => {
                    return if self.buffer.trim().is_empty() {
                        Ok(None)
                    } else {
                        Err(ClientError::Other(format!(
                            "the stream ended inside an event: {:?}",
                            self.buffer
                        )))
                    };
                }
                Ok(Some(frame)) => frame.map_err(ClientError::from_hyper)?,
            };
            if let Ok(data) = frame.into_data() {
                self.buffer.push_str(&String::from_utf8_lossy(&data));
            }
        }
    }
}
