//! The servers that serve now, registered with their run while they do, so that a
//! [`Snapshot`](crate::Snapshot) counts their connections and requests.
//!
//! A server registers once, when it starts, and is removed when its registration drops. What
//! the snapshot reads is the server's own (its table of connections, its counters): nothing is
//! written here per connection or per request.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::snapshot::ServerSnapshot;
use crate::util::sync::lock;

/// What a server tells a snapshot, read at snapshot time.
pub(crate) trait Watched: Send + Sync {
    /// The connections open.
    fn open_connections(&self) -> usize;
    /// The requests in flight, if the server counts them.
    fn requests_in_flight(&self) -> Option<usize>;
}

/// A server registered: its id, its label and what it tells.
type Serving = (u64, String, Arc<dyn Watched>);

#[derive(Default)]
pub(crate) struct Servers {
    next_id: AtomicU64,
    /// Shared with each registration, which removes its server when it drops.
    serving: Arc<Mutex<Vec<Serving>>>,
}

impl Servers {
    /// Each server, read now, in the order they registered.
    pub(crate) fn snapshot(&self) -> Vec<ServerSnapshot> {
        lock(&self.serving)
            .iter()
            .map(|(_, label, watched)| ServerSnapshot {
                label: label.clone(),
                open_connections: watched.open_connections(),
                requests_in_flight: watched.requests_in_flight(),
            })
            .collect()
    }
}

/// A server registered with its run, until this drops.
#[allow(dead_code)] // used by the integrations, behind their features
pub(crate) struct Registered {
    serving: Arc<Mutex<Vec<Serving>>>,
    id: u64,
}

/// How a server is named: `protocol` and where it listens (`local`), `http 127.0.0.1:3000`.
#[allow(dead_code)] // used by the integrations, behind their features
pub(crate) fn label(protocol: &str, local: Option<String>) -> String {
    match local {
        Some(local) => format!("{protocol} {local}"),
        None => protocol.to_owned(),
    }
}

/// Registers a server, named `label`.
#[allow(dead_code)] // used by the integrations, behind their features
pub(crate) fn register(servers: &Servers, label: String, watched: Arc<dyn Watched>) -> Registered {
    let id = servers.next_id.fetch_add(1, Ordering::Relaxed);
    lock(&servers.serving).push((id, label, watched));
    Registered {
        serving: servers.serving.clone(),
        id,
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        let mut serving = lock(&self.serving);
        if let Some(at) = serving.iter().position(|(id, _, _)| *id == self.id) {
            let (_, label, _) = serving.remove(at);
            crate::metrics::server_ended(&label);
        }
    }
}
