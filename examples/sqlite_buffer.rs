//! Writes acknowledged from memory, and not one lost on a graceful stop: an HTTP service
//! buffers records and a background task moves them into SQLite in batches; at shutdown a
//! hook writes what is left and checkpoints the WAL.
//!
//! - `POST /records` with a decimal integer body answers 200 once the record is in the
//!   in-memory buffer: that answer is the acknowledgement. A malformed body gets 400 and is
//!   not stored.
//! - `GET /records` says how many records are in the database and in the buffer.
//! - A tracked task moves the buffer into SQLite (`DB_PATH`, default `records.db`; table
//!   `records(id INTEGER PRIMARY KEY)`, WAL mode) every `FLUSH_MS` (default 200) or as soon as
//!   `FLUSH_BATCH` records (default 1000) wait, one transaction per batch.
//!
//! # Why an acknowledged record is in the database after a graceful stop
//!
//! By construction, not by timing:
//! 1. A record is acknowledged only once it is in the buffer.
//! 2. The drain stops the HTTP server first: `main` returns when axum has stopped accepting
//!    and every request has been answered, and the hooks start only then. No acknowledgement
//!    can follow. (Should a drain be cut short by `drain_timeout`, a late handler finds the
//!    buffer closed by the hook and answers 503, never 200.)
//! 3. A flush takes the database lock before it empties the buffer and commits before it lets
//!    go, so a batch in the flusher's hands is in the database before the hook can look.
//! 4. The `flush_and_checkpoint` hook closes the buffer, writes what is left in one
//!    transaction, checkpoints the WAL into the database file (`TRUNCATE`, synced) and closes
//!    the connection. If any of it fails, the hook fails and the exit code is 1: a lost write
//!    is never silent.
//!
//! A SIGKILL skips steps 2 to 4: whatever sits in the buffer is lost. The `nothing_lost` test
//! shows both.
//!
//! Try it:
//!
//! ```text
//! cargo run --example sqlite_buffer                 # PORT, DB_PATH, FLUSH_MS, FLUSH_BATCH
//! for i in $(seq 1 300); do curl -s -d $i localhost:3000/records >/dev/null; done
//! curl localhost:3000/records                       # e.g. 200 in the database, 100 in the buffer
//! kill -TERM <pid>                                  # the hook says how many it flushed
//! ```
//!
//! then `sqlite3 records.db 'select count(*) from records'`, or start it again and
//! `curl localhost:3000/records`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use rusqlite::Connection;
use tokio::sync::Notify;
use tracing_subscriber::EnvFilter;

/// The store the hook flushes: set once, in `main`.
static STORE: OnceLock<Arc<Store>> = OnceLock::new();

#[graceful::main(timeout = "20s", drain_timeout = "10s")]
async fn main(shutdown: graceful::Shutdown) -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let port: u16 = env_number("PORT", 3000)?;
    let flush_every = Duration::from_millis(env_number("FLUSH_MS", 200)?);
    let batch: usize = env_number("FLUSH_BATCH", 1000)?;
    let path = std::env::var_os("DB_PATH").map_or_else(|| "records.db".into(), PathBuf::from);

    let store = Arc::new(Store::open(path, batch)?);
    if STORE.set(store.clone()).is_err() {
        unreachable!("main runs once");
    }
    // Tracked: the drain waits for the batch in hand before the hook runs.
    graceful::spawn(flush_periodically(
        store.clone(),
        shutdown.clone(),
        flush_every,
    ));

    let app = Router::new()
        .route("/records", post(add_record).get(count_records))
        .with_state(store);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    println!(
        "pid {0}: stop with Ctrl-C or kill -TERM {0}",
        std::process::id()
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await?;
    Ok(())
}

/// `POST /records`: a decimal integer (surrounding whitespace allowed); 200 once buffered.
async fn add_record(State(store): State<Arc<Store>>, body: String) -> (StatusCode, String) {
    let id: i64 = match body.trim().parse() {
        Ok(id) => id,
        Err(error) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("expected a decimal integer: {error}\n"),
            );
        }
    };
    if store.push(id) {
        (StatusCode::OK, format!("buffered {id}\n"))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting down\n".to_owned(),
        )
    }
}

/// `GET /records`: how many records are in the database and in the buffer.
async fn count_records(State(store): State<Arc<Store>>) -> (StatusCode, String) {
    let counting = store.clone();
    match tokio::task::spawn_blocking(move || counting.count()).await {
        Ok(Ok((stored, buffered))) => (
            StatusCode::OK,
            format!("{stored} in the database, {buffered} in the buffer\n"),
        ),
        Ok(Err(error)) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{error}\n")),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{error}\n")),
    }
}

/// Flushes every `every`, or as soon as a batch is full, until the cancel. The batch in hand
/// when the cancel comes is committed first; the hook writes the rest.
async fn flush_periodically(store: Arc<Store>, shutdown: graceful::Shutdown, every: Duration) {
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(every) => {}
            () = store.full.notified() => {}
        }
        let flushing = store.clone();
        match tokio::task::spawn_blocking(move || flushing.flush()).await {
            Ok(Ok(0)) => {}
            Ok(Ok(records)) => tracing::debug!(records, "flushed"),
            Ok(Err(error)) => {
                tracing::warn!(%error, "flush failed; the records stay in the buffer");
            }
            Err(error) => tracing::error!(%error, "the flush panicked"),
        }
    }
}

/// The buffer and the database.
struct Store {
    path: PathBuf,
    batch: usize,
    buffer: Mutex<Buffer>,
    /// The buffer holds a full batch.
    full: Notify,
    /// `None` once the hook has closed it. Always locked before `buffer` when both are.
    db: Mutex<Option<Connection>>,
}

struct Buffer {
    records: Vec<i64>,
    /// False once the hook has closed it: nothing is acknowledged after that.
    open: bool,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Store {
    fn open(path: PathBuf, batch: usize) -> rusqlite::Result<Store> {
        let db = Connection::open(&path)?;
        let mode: String =
            db.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(mode, "the database is not in WAL mode");
        }
        // In WAL mode, a commit survives a crash of the process; the checkpoint at shutdown
        // syncs the database file.
        db.pragma_update(None, "synchronous", "NORMAL")?;
        db.execute_batch("CREATE TABLE IF NOT EXISTS records (id INTEGER PRIMARY KEY)")?;
        Ok(Store {
            path,
            batch,
            buffer: Mutex::new(Buffer {
                records: Vec::new(),
                open: true,
            }),
            full: Notify::new(),
            db: Mutex::new(Some(db)),
        })
    }

    /// Buffers a record; `false` once the buffer has closed.
    fn push(&self, id: i64) -> bool {
        let mut buffer = lock(&self.buffer);
        if !buffer.open {
            return false;
        }
        buffer.records.push(id);
        if buffer.records.len() >= self.batch {
            self.full.notify_one();
        }
        true
    }

    /// Moves the buffer into the database in one transaction; how many records it moved. On
    /// failure the records go back into the buffer.
    fn flush(&self) -> rusqlite::Result<usize> {
        let mut db = lock(&self.db);
        let Some(db) = db.as_mut() else {
            return Ok(0); // closed by the hook, after its own flush
        };
        let records = std::mem::take(&mut lock(&self.buffer).records);
        if records.is_empty() {
            return Ok(0);
        }
        match insert(db, &records) {
            Ok(()) => Ok(records.len()),
            Err(error) => {
                lock(&self.buffer).records.extend(records);
                Err(error)
            }
        }
    }

    /// Records in the database, records in the buffer.
    fn count(&self) -> rusqlite::Result<(i64, usize)> {
        let db = lock(&self.db);
        let stored = match db.as_ref() {
            Some(db) => db.query_row("SELECT count(*) FROM records", [], |row| row.get(0))?,
            None => 0,
        };
        Ok((stored, lock(&self.buffer).records.len()))
    }

    /// Refuses every record from now on.
    fn close_buffer(&self) {
        lock(&self.buffer).open = false;
    }

    /// Checkpoints the WAL into the database file and closes the connection; the number of
    /// records in the database.
    fn checkpoint_and_close(&self) -> Result<i64, String> {
        let Some(db) = lock(&self.db).take() else {
            return Err("the database was already closed".to_owned());
        };
        let (busy, _, _): (i64, i64, i64) = db
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })
            .map_err(|error| format!("checkpoint: {error}"))?;
        if busy != 0 {
            return Err("checkpoint: the database was busy".to_owned());
        }
        let stored = db
            .query_row("SELECT count(*) FROM records", [], |row| row.get(0))
            .map_err(|error| format!("count: {error}"))?;
        db.close().map_err(|(_, error)| format!("close: {error}"))?;
        Ok(stored)
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

fn insert(db: &mut Connection, records: &[i64]) -> rusqlite::Result<()> {
    let transaction = db.transaction()?;
    {
        let mut insert = transaction.prepare("INSERT OR IGNORE INTO records (id) VALUES (?1)")?;
        for id in records {
            insert.execute([id])?;
        }
    }
    transaction.commit()
}

/// Runs after the drain: the server has stopped, the flusher has committed its last batch.
/// A plain `fn`, so it runs on a blocking thread, as SQLite calls should.
#[graceful::on_shutdown(order = 10, timeout = "10s")]
fn flush_and_checkpoint() -> Result<(), String> {
    let Some(store) = STORE.get() else {
        return Ok(());
    };
    store.close_buffer();
    let flushed = store
        .flush()
        .map_err(|error| format!("the last flush failed: {error}"))?;
    let stored = store.checkpoint_and_close()?;
    println!(
        "flushed {flushed} buffered records at shutdown; WAL checkpointed; {stored} records in {}",
        store.path().display()
    );
    Ok(())
}

fn env_number<T: std::str::FromStr>(name: &str, default: T) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .map_err(|error| format!("{name}={text:?} is not a number: {error}")),
        Err(_) => Ok(default),
    }
}
