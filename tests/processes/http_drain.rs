//! HTTP drain under load: the `http_server` example, a real process on a real socket, with
//! hundreds of requests and twenty event streams in flight when SIGTERM arrives.
//!
//! What must hold: every request in flight completes with 200; every event stream sends its
//! `shutdown` event and ends cleanly; `/healthz` answers 503 during `drain_delay`; once the
//! server has cancelled, new connections are refused (not left hanging) while the requests in
//! flight still finish; the process exits 0 within `GRACEFUL_TIMEOUT`; and the access log the
//! shutdown hook closed holds exactly the requests the client saw answered.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use graceful_test_support::{
    ClientError, Connection, EventStream, LINE_TIMEOUT, Process, Reply, Signal, TempDir, count, get,
};
use hyper::Method;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// `/slow?ms=500` requests in flight at the signal.
const SLOW: usize = 250;
const SLOW_MS: u64 = 500;
/// `/slow?ms=2500` requests in flight at the signal: still running well after the cancel, so
/// the refusal of new connections is observed while the server drains.
const LONG: usize = 20;
const LONG_MS: u64 = 2500;
/// Open `/events` streams.
const STREAMS: usize = 20;
/// `GRACEFUL_TIMEOUT`: the bound on the whole stop.
const TIMEOUT: Duration = Duration::from_secs(15);
const CANCEL_LINE: &str = "cancelled: no longer accepting connections";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_drain_delay_healthz_turns_503_then_every_request_and_stream_completes() {
    drain_under_load("drain-delay", Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_drain_delay_the_requests_in_flight_at_the_cancel_complete() {
    drain_under_load("no-drain-delay", Duration::ZERO).await;
}

/// What a `/slow` request saw.
struct Slow {
    ms: u64,
    done: Instant,
    result: Result<Reply, ClientError>,
}

/// What an `/events` stream saw.
struct Stream {
    ticks: usize,
    last: Option<String>,
    ended: Instant,
    end: Result<(), ClientError>,
}

/// The `/healthz` body: `ok: 12 requests in flight, 3400 started`.
struct Health {
    in_flight: usize,
    started: usize,
}

fn health(reply: &Reply) -> Health {
    let parse = || {
        let (_, counts) = reply.body.trim_end().split_once(": ")?;
        let (in_flight, started) = counts.split_once(" requests in flight, ")?;
        let started = started.strip_suffix(" started")?;
        Some(Health {
            in_flight: in_flight.parse().ok()?,
            started: started.parse().ok()?,
        })
    };
    parse().unwrap_or_else(|| panic!("unexpected /healthz body {:?}", reply.body))
}

/// Responses the client received, by access-log key (`GET /slow?ms=500 200`).
#[derive(Default)]
struct Tally(BTreeMap<String, usize>);

impl Tally {
    fn add(&mut self, path: &str, reply: &Reply) {
        *self
            .0
            .entry(format!("GET {path} {}", reply.status.as_u16()))
            .or_default() += 1;
    }
}

async fn drain_under_load(label: &str, drain_delay: Duration) {
    let dir = TempDir::new(label);
    let log_path = dir.join("access.log");
    let delay = format!("{}ms", drain_delay.as_millis());
    let timeout = format!("{}s", TIMEOUT.as_secs());
    let mut service = Process::start_http(
        "http_server",
        &[
            ("GRACEFUL_DRAIN_DELAY", &delay),
            ("GRACEFUL_DRAIN_TIMEOUT", "10s"),
            ("GRACEFUL_TIMEOUT", &timeout),
            ("ACCESS_LOG", log_path.to_str().expect("a UTF-8 path")),
        ],
    )
    .await;
    let port = service.port;
    let mut tally = Tally::default();

    let before = get(port, "/healthz")
        .await
        .unwrap_or_else(|error| service.fail(format_args!("/healthz before the load: {error}")));
    assert_eq!(before.status, 200, "{before:?}");
    tally.add("/healthz", &before);

    // The streams, each past its first event.
    let mut streams: Vec<JoinHandle<Stream>> = Vec::new();
    for _ in 0..STREAMS {
        let mut events = EventStream::open(port, "/events")
            .await
            .unwrap_or_else(|error| service.fail(format_args!("opening /events: {error}")));
        match events.next(LINE_TIMEOUT).await {
            Ok(Some(event)) if event.event == "tick" => {}
            other => service.fail(format_args!("first event of a stream: {other:?}")),
        }
        streams.push(tokio::spawn(read_to_end(events)));
    }

    // The requests: connections first, then every request at once.
    let (go, ready) = watch::channel(false);
    let mut slow: Vec<JoinHandle<Slow>> = Vec::new();
    for index in 0..SLOW + LONG {
        let mut connection = Connection::open(port)
            .await
            .unwrap_or_else(|error| service.fail(format_args!("connection {index}: {error}")));
        let ms = if index < SLOW { SLOW_MS } else { LONG_MS };
        let mut ready = ready.clone();
        slow.push(tokio::spawn(async move {
            let _ = ready.wait_for(|go| *go).await;
            let result = connection
                .request(Method::GET, &format!("/slow?ms={ms}"), "")
                .await;
            Slow {
                ms,
                done: Instant::now(),
                result,
            }
        }));
    }
    go.send(true).expect("the requests wait for the go");

    // Every request has reached its handler (the server counts them) before the signal.
    let wanted = STREAMS + SLOW + LONG;
    let until = Instant::now() + LINE_TIMEOUT;
    let mut pace = tokio::time::interval(Duration::from_millis(5));
    let at_signal = loop {
        pace.tick().await;
        let reply = get(port, "/healthz")
            .await
            .unwrap_or_else(|error| service.fail(format_args!("/healthz under load: {error}")));
        tally.add("/healthz", &reply);
        let counts = health(&reply);
        if counts.started >= wanted {
            break counts;
        }
        if Instant::now() > until {
            service.fail(format_args!(
                "only {} of {wanted} requests started within {LINE_TIMEOUT:?}",
                counts.started
            ));
        }
    };
    let sigterm = service.signal(Signal::SIGTERM);

    // During the delay: /healthz answers 503 (after, perhaps, a 200 to a probe that beat the
    // signal handler); probed until the server says it has cancelled.
    let (stop_probing, stop) = watch::channel(false);
    let probes = tokio::spawn(probe_health(port, stop));
    let cancel = service.wait_for_stdout(CANCEL_LINE, LINE_TIMEOUT).await;
    // The prober may have stopped already, on its first refusal.
    let _ = stop_probing.send(true);
    let probes = probes.await.expect("the prober does not panic");
    let mut statuses = Vec::new();
    for probe in &probes {
        match probe {
            Ok(reply) => {
                tally.add("/healthz", reply);
                statuses.push(reply.status.as_u16());
            }
            // Only around the cancel, which the prober may see before this task reads it.
            Err(ClientError::Refused | ClientError::Closed(_)) => {}
            Err(error) => panic!("/healthz during the drain delay: {error}"),
        }
    }
    let first_503 = statuses
        .iter()
        .position(|s| *s == 503)
        .unwrap_or(statuses.len());
    assert!(
        statuses[..first_503].iter().all(|s| *s == 200)
            && statuses[first_503..].iter().all(|s| *s == 503),
        "/healthz went 200 -> 503 and never back: {statuses:?}"
    );
    if !drain_delay.is_zero() {
        assert!(
            first_503 < statuses.len(),
            "no 503 from /healthz during the {drain_delay:?} drain delay: {statuses:?}"
        );
    }

    // After the cancel: new connections fail fast (refused, or closed unanswered in the moment
    // the listener is being dropped), never hang, while the long requests still run.
    let mut refused = 0;
    let mut closed_unanswered = 0;
    let mut answered_after_cancel = Vec::new();
    let refusals_wanted = 5;
    let probing = Instant::now();
    while refused < refusals_wanted {
        assert!(
            probing.elapsed() < Duration::from_secs(2),
            "new connections were not refused within 2 s of the cancel: {refused} refused, \
             {closed_unanswered} closed unanswered, answered: {answered_after_cancel:?}"
        );
        let attempt = tokio::time::timeout(Duration::from_secs(2), get(port, "/healthz")).await;
        match attempt.unwrap_or(Err(ClientError::Hung)) {
            Err(ClientError::Refused) => refused += 1,
            Err(ClientError::Closed(_)) => closed_unanswered += 1,
            Err(ClientError::Hung) => panic!("a connection after the cancel was left hanging"),
            Err(ClientError::Other(error)) => panic!("a connection after the cancel: {error}"),
            Ok(reply) => {
                tally.add("/healthz", &reply);
                answered_after_cancel.push(reply);
            }
        }
    }
    let refused_at = Instant::now();

    let mut slow_results = Vec::new();
    for task in slow {
        slow_results.push(task.await.expect("a request task does not panic"));
    }
    let mut stream_results = Vec::new();
    for task in streams {
        stream_results.push(task.await.expect("a stream task does not panic"));
    }
    let exited = service.wait(TIMEOUT + Duration::from_secs(10)).await;
    let stopped_after = sigterm.elapsed();

    // Every request completed with 200 and its full body.
    let mut failures = Vec::new();
    for request in &slow_results {
        match &request.result {
            Ok(reply)
                if reply.status == 200 && reply.body == format!("slept {} ms\n", request.ms) =>
            {
                tally.add(&format!("/slow?ms={}", request.ms), reply);
            }
            Ok(reply) => failures.push(format!("/slow?ms={}: {reply:?}", request.ms)),
            Err(error) => failures.push(format!("/slow?ms={}: {error}", request.ms)),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} requests in flight failed: {failures:?}\n{exited}",
        failures.len(),
        slow_results.len()
    );
    let in_flight_at_signal = count(&slow_results, |r| r.ms == SLOW_MS && r.done > sigterm);
    assert!(
        in_flight_at_signal >= 200,
        "only {in_flight_at_signal} of the {SLOW} /slow?ms={SLOW_MS} answers came after the signal\n{exited}"
    );
    let long_after_refusal = count(&slow_results, |r| r.ms == LONG_MS && r.done > refused_at);
    assert_eq!(
        long_after_refusal, LONG,
        "the refusals were seen while the long requests still ran (the server was draining, \
         not gone)\n{exited}"
    );

    // Every stream ended cleanly on its `shutdown` event, no earlier than the cancel can be.
    for (index, stream) in stream_results.iter().enumerate() {
        assert!(
            stream.end.is_ok(),
            "stream {index} did not end cleanly: {:?}\n{exited}",
            stream.end
        );
        assert_eq!(
            stream.last.as_deref(),
            Some("shutdown"),
            "stream {index}\n{exited}"
        );
        assert!(
            stream.ended >= sigterm + drain_delay,
            "stream {index} ended {:?} after the signal, before the drain delay was over",
            stream.ended - sigterm
        );
    }
    *tally.0.entry("GET /events 200".to_owned()).or_default() += STREAMS;

    exited.assert_code(0);
    assert!(
        stopped_after < TIMEOUT,
        "stopped {stopped_after:?} after the signal, past GRACEFUL_TIMEOUT\n{exited}"
    );
    assert!(
        stopped_after >= drain_delay,
        "stopped before the drain delay was over\n{exited}"
    );
    let texts = exited.stdout_texts();
    let closed = exited.stdout_starting("access log closed: ");
    let index = |line: &str| {
        texts
            .iter()
            .position(|t| *t == line)
            .unwrap_or_else(|| panic!("no line {line:?}\n{exited}"))
    };
    assert!(
        index(CANCEL_LINE) < index("server stopped: every connection closed")
            && index("server stopped: every connection closed") < index(closed),
        "cancel, then the server stops, then the hook closes the log\n{exited}"
    );

    // The hook flushed every line: the log holds exactly the answers the client received.
    let log = std::fs::read_to_string(&log_path).expect("the access log exists");
    let mut logged = Tally::default();
    for line in log.lines() {
        *logged.0.entry(line.to_owned()).or_default() += 1;
    }
    assert_eq!(
        closed,
        format!(
            "access log closed: {} lines in {}",
            log.lines().count(),
            log_path.display()
        ),
        "{exited}"
    );
    assert_eq!(
        logged.0, tally.0,
        "access log (left) against the client's answers (right)"
    );

    let health_503 = count(&statuses, |s| *s == 503);
    println!(
        "drain delay {drain_delay:?}: at the signal the server had {} requests in flight \
         ({} started); {} of {} /slow answers came after the signal, all {} with 200; \
         {STREAMS} streams ended cleanly after {}..={} ticks; /healthz 503 during the delay: {health_503}; after the \
         cancel (seen {:?} after the signal) {refused} connections refused, {closed_unanswered} \
         closed unanswered; exit 0 {stopped_after:?} after the signal",
        at_signal.in_flight,
        at_signal.started,
        count(&slow_results, |r| r.done > sigterm),
        slow_results.len(),
        slow_results.len(),
        stream_results.iter().map(|s| s.ticks).min().unwrap_or(0),
        stream_results.iter().map(|s| s.ticks).max().unwrap_or(0),
        cancel.at - sigterm,
    );
}

/// Polls `/healthz` every 20 ms, each time on a new connection, until told to stop or refused.
async fn probe_health(
    port: u16,
    mut stop: watch::Receiver<bool>,
) -> Vec<Result<Reply, ClientError>> {
    let mut replies = Vec::new();
    let mut pace = tokio::time::interval(Duration::from_millis(20));
    loop {
        tokio::select! {
            biased;
            _ = stop.wait_for(|stop| *stop) => break,
            _ = pace.tick() => {}
        }
        let reply = get(port, "/healthz").await;
        let refused = matches!(reply, Err(ClientError::Refused));
        replies.push(reply);
        if refused {
            break;
        }
    }
    replies
}

/// Reads a stream to its end.
async fn read_to_end(mut events: EventStream) -> Stream {
    let mut ticks = 1; // the first, read by the caller
    let mut last = None;
    let end = loop {
        match events.next(Duration::from_secs(30)).await {
            Ok(Some(event)) => {
                if event.event == "tick" {
                    ticks += 1;
                }
                last = Some(event.event);
            }
            Ok(None) => break Ok(()),
            Err(error) => break Err(error),
        }
    };
    Stream {
        ticks,
        last,
        ended: Instant::now(),
        end,
    }
}
