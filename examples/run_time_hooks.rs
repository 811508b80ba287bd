//! Hooks registered at run time for values that only exist in `main` (a listener, a client
//! pool), interleaved by `order` with the static `#[graceful::on_shutdown]` hooks.
//!
//! `main` opens two things: a pool of connections to an upstream (a line protocol: `PING n`
//! → `PONG n`, `QUIT` → `BYE`; the example runs its own upstream unless `UPSTREAM=host:port`
//! names one), used by a tracked task that pings every 50 ms; and a status listener on
//! `127.0.0.1:PORT` (default 3000) that answers each connection with one line. Neither exists
//! before `main` runs, so `graceful::register` closes them. On SIGTERM or SIGINT:
//!
//! | order | hook | kind |
//! | --- | --- | --- |
//! | 0 | `announce_stop`: says why and how much time is left | static |
//! | 10 | close the status listener: new connections are refused from then on | run time |
//! | 20 | close the upstream pool: each connection says `QUIT` and waits for `BYE` | run time |
//! | 30 | `final_report`: pings answered, status requests served | static |
//!
//! Try it:
//!
//! ```text
//! cargo run --example run_time_hooks       # PORT=8080, POOL_SIZE=8, UPSTREAM=host:port
//! nc 127.0.0.1 3000                        # the status line
//! kill -TERM <pid>                         # or Ctrl-C: the four hooks, in order
//! ```

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tracing_subscriber::EnvFilter;

static PINGS_ANSWERED: AtomicU64 = AtomicU64::new(0);
static STATUS_SERVED: AtomicU64 = AtomicU64::new(0);

#[graceful::main(timeout = "15s")]
async fn main(shutdown: graceful::Shutdown) -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let port: u16 = env_number("PORT", 3000)?;
    let pool_size: usize = env_number("POOL_SIZE", 4)?;

    // The upstream: the one named, or our own.
    let upstream = match std::env::var("UPSTREAM") {
        Ok(address) => address.parse()?,
        Err(_) => start_upstream().await?,
    };

    // The client pool, opened here; a tracked task uses it until the cancel.
    let pool = std::sync::Arc::new(Pool::connect(upstream, pool_size).await?);
    let pinger = pool.clone();
    let pinging = shutdown.clone();
    graceful::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_millis(50));
        let mut n = 0_u64;
        loop {
            tokio::select! {
                biased;
                () = pinging.cancelled() => break,
                _ = every.tick() => {}
            }
            n += 1;
            if let Err(error) = pinger.ping(n).await {
                tracing::warn!(%error, "ping failed");
            }
        }
    });

    // The status listener, opened here; it answers until the hook closes it (through the
    // drain: an admin port stays up while the service stops).
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on tcp://{}", listener.local_addr()?);
    println!(
        "pid {0}: stop with Ctrl-C or kill -TERM {0}",
        std::process::id()
    );
    let status = shutdown.clone();
    let serving = tokio::spawn(async move {
        loop {
            let mut socket = match listener.accept().await {
                Ok((socket, _)) => socket,
                Err(error) => {
                    // E.g. out of file descriptors: wait a little rather than spin.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let state = if status.is_shutting_down() {
                "stopping"
            } else {
                "serving"
            };
            let pings = PINGS_ANSWERED.load(Ordering::Acquire);
            STATUS_SERVED.fetch_add(1, Ordering::AcqRel);
            let line = format!("{state}, {pings} pings answered\n");
            tokio::spawn(async move {
                let _ = socket.write_all(line.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });

    // Closed at run time, between the static hooks of order 0 and 30.
    graceful::register(10, "close the status listener", async move {
        serving.abort();
        // Dropping the accept task drops the listener: wait for it, so the port is closed
        // when this hook ends.
        let _ = serving.await;
        println!("hook 10 (run time): status listener closed");
    });
    graceful::register_with_timeout(
        20,
        "close the upstream pool",
        Duration::from_secs(5),
        async move {
            let closed = pool.close().await?;
            println!("hook 20 (run time): upstream pool closed: {closed} connections said BYE");
            Ok::<(), std::io::Error>(())
        },
    );

    shutdown.cancelled().await;
    Ok(())
}

/// First: say why we stop and how much time is left (where a service would deregister from
/// its discovery service).
#[graceful::on_shutdown(order = 0)]
async fn announce_stop(ctx: graceful::HookContext) {
    println!(
        "hook 0 (static): stopping ({}), {} s left",
        ctx.reason(),
        ctx.time_left().as_secs()
    );
}

/// Last: the final figures, once everything is closed.
#[graceful::on_shutdown(order = 30)]
fn final_report() {
    println!(
        "hook 30 (static): pings answered: {}, status requests served: {}",
        PINGS_ANSWERED.load(Ordering::Acquire),
        STATUS_SERVED.load(Ordering::Acquire)
    );
}

/// A fixed set of connections to the upstream, used in turn.
struct Pool {
    connections: Vec<Mutex<Option<BufReader<TcpStream>>>>,
    next: AtomicUsize,
}

impl Pool {
    async fn connect(upstream: SocketAddr, size: usize) -> std::io::Result<Pool> {
        let mut connections = Vec::with_capacity(size);
        for _ in 0..size {
            let stream = TcpStream::connect(upstream).await?;
            connections.push(Mutex::new(Some(BufReader::new(stream))));
        }
        Ok(Pool {
            connections,
            next: AtomicUsize::new(0),
        })
    }

    /// `PING n` on the next connection; waits for `PONG n`.
    async fn ping(&self, n: u64) -> std::io::Result<()> {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.connections.len();
        let mut connection = self.connections[index].lock().await;
        let Some(connection) = connection.as_mut() else {
            return Err(std::io::Error::other("the pool is closed"));
        };
        let answer = exchange(connection, &format!("PING {n}")).await?;
        if answer != format!("PONG {n}") {
            return Err(std::io::Error::other(format!(
                "upstream answered {answer:?}"
            )));
        }
        PINGS_ANSWERED.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// Says `QUIT` on every connection, waits for `BYE`, closes it; how many said `BYE`.
    async fn close(&self) -> std::io::Result<usize> {
        let mut closed = 0;
        for connection in &self.connections {
            let Some(mut connection) = connection.lock().await.take() else {
                continue;
            };
            let answer = exchange(&mut connection, "QUIT").await?;
            if answer != "BYE" {
                return Err(std::io::Error::other(format!(
                    "upstream answered {answer:?}"
                )));
            }
            connection.get_mut().shutdown().await?;
            closed += 1;
        }
        Ok(closed)
    }
}

/// Sends one line, reads one line.
async fn exchange(connection: &mut BufReader<TcpStream>, line: &str) -> std::io::Result<String> {
    connection
        .get_mut()
        .write_all(format!("{line}\n").as_bytes())
        .await?;
    let mut answer = String::new();
    if connection.read_line(&mut answer).await? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(answer.trim_end().to_owned())
}

/// Our own upstream, when none is named: answers `PING n` with `PONG n`, `QUIT` with `BYE`.
/// It lives as long as the process (not tracked: it must outlive the pool).
async fn start_upstream() -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut socket = BufReader::new(socket);
                let mut line = String::new();
                loop {
                    line.clear();
                    if socket.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let answer = match line.trim_end() {
                        "QUIT" => "BYE".to_owned(),
                        ping => match ping.strip_prefix("PING ") {
                            Some(n) => format!("PONG {n}"),
                            None => "ERR unknown command".to_owned(),
                        },
                    };
                    let reply = format!("{answer}\n");
                    let sent = socket.get_mut().write_all(reply.as_bytes()).await;
                    if sent.is_err() || answer == "BYE" {
                        return;
                    }
                }
            });
        }
    });
    Ok(address)
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
