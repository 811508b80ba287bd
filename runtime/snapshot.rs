//! What a run is doing, at one instant: [`Snapshot`], taken by
//! [`Shutdown::snapshot`](crate::Shutdown::snapshot), for an admin page or a log line.
//!
//! The value types only: the shutdown handle fills them from the state it reads (the
//! sequence's progress, the tracked tasks, the servers registered with the run).

use std::fmt;
use std::time::Duration;

use crate::reason::Reason;

/// How many tracked tasks a snapshot names; the others are only counted.
pub(crate) const TASKS_NAMED: usize = 16;

/// Where the shutdown sequence is.
///
/// ```
/// let snapshot = graceful::shutdown().snapshot();
/// assert_eq!(snapshot.phase(), graceful::Phase::Running);
/// assert_eq!(snapshot.phase().to_string(), "running");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Phase {
    /// No shutdown yet.
    Running,
    /// From the trigger to the cancel: `drain_delay`, while readiness says 503.
    Stopping,
    /// From the cancel: the main body, tracked tasks and servers finish.
    Draining,
    /// The shutdown hooks run.
    Hooks,
    /// The hooks have ended: the report is made and the process exits.
    Exiting,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Running => "running",
            Phase::Stopping => "stopping",
            Phase::Draining => "draining",
            Phase::Hooks => "hooks",
            Phase::Exiting => "exiting",
        })
    }
}

/// One server that serves now (`graceful::http::serve`, `graceful::grpc::Server::serve`):
/// its connections open and its requests in flight.
///
/// ```
/// let snapshot = graceful::shutdown().snapshot();
/// for server in snapshot.servers() {
///     println!("{}: {} open", server.label(), server.open_connections());
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerSnapshot {
    pub(crate) label: String,
    pub(crate) open_connections: usize,
    pub(crate) requests_in_flight: Option<usize>,
}

impl ServerSnapshot {
    /// The protocol and where it listens: `http 127.0.0.1:3000`, `grpc /run/app.sock`.
    ///
    /// ```
    /// # let snapshot = graceful::shutdown().snapshot();
    /// let labels: Vec<&str> = snapshot.servers().iter().map(|s| s.label()).collect();
    /// # assert!(labels.is_empty());
    /// ```
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The connections open (accepted, not yet closed).
    ///
    /// ```
    /// # let snapshot = graceful::shutdown().snapshot();
    /// let open: usize = snapshot.servers().iter().map(|s| s.open_connections()).sum();
    /// # assert_eq!(open, 0);
    /// ```
    pub fn open_connections(&self) -> usize {
        self.open_connections
    }

    /// The requests received whose response has not been sent yet (for gRPC, the calls whose
    /// response, a stream's last message included, has not been sent); `None` where the
    /// server does not count them.
    ///
    /// ```
    /// # let snapshot = graceful::shutdown().snapshot();
    /// for server in snapshot.servers() {
    ///     if let Some(requests) = server.requests_in_flight() {
    ///         println!("{}: {requests} in flight", server.label());
    ///     }
    /// }
    /// ```
    pub fn requests_in_flight(&self) -> Option<usize> {
        self.requests_in_flight
    }
}

/// What the run is doing at one instant: the phase, the time left to the deadline, the servers
/// with their connections and requests in flight, the tracked tasks still running, the hooks
/// done, running and left. Taken by [`Shutdown::snapshot`](crate::Shutdown::snapshot); its
/// `Display` is one block of text, for an admin page.
///
/// ```
/// let snapshot = graceful::shutdown().snapshot();
/// assert_eq!(snapshot.time_left(), None); // no shutdown yet
/// println!("{snapshot}");
/// ```
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub(crate) phase: Phase,
    pub(crate) reason: Option<Reason>,
    pub(crate) time_left: Option<Duration>,
    pub(crate) servers: Vec<ServerSnapshot>,
    pub(crate) tasks_running: usize,
    pub(crate) tasks_named: Vec<String>,
    pub(crate) hooks_done: usize,
    pub(crate) hooks_running: Vec<String>,
    pub(crate) hooks_left: Vec<String>,
}

impl Snapshot {
    /// Where the sequence is.
    ///
    /// ```
    /// let phase = graceful::shutdown().snapshot().phase();
    /// assert_eq!(phase, graceful::Phase::Running);
    /// ```
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Why the shutdown started, once it has.
    ///
    /// ```
    /// assert_eq!(graceful::shutdown().snapshot().reason(), None);
    /// ```
    pub fn reason(&self) -> Option<&Reason> {
        self.reason.as_ref()
    }

    /// The time left until the run's global deadline (`timeout` from the trigger), zero once
    /// past it; `None` before the trigger.
    ///
    /// ```
    /// assert_eq!(graceful::shutdown().snapshot().time_left(), None);
    /// ```
    pub fn time_left(&self) -> Option<Duration> {
        self.time_left
    }

    /// The servers that serve now, in the order they started.
    ///
    /// ```
    /// assert!(graceful::shutdown().snapshot().servers().is_empty());
    /// ```
    pub fn servers(&self) -> &[ServerSnapshot] {
        &self.servers
    }

    /// How many tracked tasks (of `graceful::spawn`, and services) still run.
    ///
    /// ```
    /// assert_eq!(graceful::shutdown().snapshot().tasks_running(), 0);
    /// ```
    pub fn tasks_running(&self) -> usize {
        self.tasks_running
    }

    /// The oldest of the tracked tasks still running, by name (`service worker`, `task spawned
    /// at src/main.rs:12:5`): at most 16, and at most [`tasks_running`](Self::tasks_running),
    /// which counts them all.
    ///
    /// ```
    /// assert!(graceful::shutdown().snapshot().tasks().is_empty());
    /// ```
    pub fn tasks(&self) -> &[String] {
        &self.tasks_named
    }

    /// How many shutdown hooks have ended (or were skipped).
    ///
    /// ```
    /// assert_eq!(graceful::shutdown().snapshot().hooks_done(), 0);
    /// ```
    pub fn hooks_done(&self) -> usize {
        self.hooks_done
    }

    /// The names of the hooks running now.
    ///
    /// ```
    /// assert!(graceful::shutdown().snapshot().hooks_running().is_empty());
    /// ```
    pub fn hooks_running(&self) -> &[String] {
        &self.hooks_running
    }

    /// The hooks that have not started, in the order they will run, as `name (order N)`.
    ///
    /// ```
    /// let left = graceful::shutdown().snapshot().hooks_left().len();
    /// # let _ = left;
    /// ```
    pub fn hooks_left(&self) -> &[String] {
        &self.hooks_left
    }
}

impl fmt::Display for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "phase: {}", self.phase)?;
        if let Some(reason) = &self.reason {
            write!(f, " ({reason})")?;
        }
        if let Some(left) = self.time_left {
            write!(f, ", {:.1}s left to the deadline", left.as_secs_f64())?;
        }
        writeln!(f)?;
        for server in &self.servers {
            write!(
                f,
                "server {}: {} open connection{}",
                server.label,
                server.open_connections,
                plural(server.open_connections)
            )?;
            match server.requests_in_flight {
                Some(requests) => {
                    writeln!(f, ", {requests} request{} in flight", plural(requests))?
                }
                None => writeln!(f)?,
            }
        }
        write!(f, "tasks running: {}", self.tasks_running)?;
        if !self.tasks_named.is_empty() {
            write!(f, " ({}", self.tasks_named.join(", "))?;
            if self.tasks_running > self.tasks_named.len() {
                write!(
                    f,
                    ", and {} more",
                    self.tasks_running - self.tasks_named.len()
                )?;
            }
            write!(f, ")")?;
        }
        writeln!(f)?;
        write!(f, "hooks: {} done", self.hooks_done)?;
        if self.hooks_running.is_empty() {
            write!(f, ", none running")?;
        } else {
            write!(f, ", running: {}", self.hooks_running.join(", "))?;
        }
        if self.hooks_left.is_empty() {
            write!(f, ", none left")
        } else {
            write!(f, ", left: {}", self.hooks_left.join(", "))
        }
    }
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}
