//! Kubernetes termination, simulated against the `http_server` example under load.
//!
//! What a pod deletion does, scaled down: the kubelet sends SIGTERM, waits the grace period
//! (`terminationGracePeriodSeconds`), then sends SIGKILL. Meanwhile the endpoints controller
//! and kube-proxy take a moment (the lag) to stop routing new connections to the pod, and the
//! readiness probe keeps probing. With a `drain_delay` longer than that lag, the service keeps
//! accepting until the traffic has moved away, then drains and exits on its own, well before
//! the SIGKILL: no client sees an error.
//!
//! The same without `drain_delay` is a demonstration: the clients routed to the pod during the
//! lag find it closed. It shows the zero-error check can see the endpoint race.

use std::time::{Duration, Instant};

use graceful_test_support::{
    ClientError, EventStream, Exited, LINE_TIMEOUT, Process, Reply, Signal, TempDir, count, get,
};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// `terminationGracePeriodSeconds`, scaled from the default 30 s.
const GRACE: Duration = Duration::from_secs(10);
/// `GRACEFUL_TIMEOUT`: inside the grace period, as the default 25 s is inside 30 s.
const TIMEOUT: &str = "8s";
/// How long after the SIGTERM the pod still receives new connections.
const LAG: Duration = Duration::from_millis(500);
/// Longer than the lag, with a margin for a loaded machine.
const DRAIN_DELAY: &str = "2s";
/// Clients behind the load balancer, each sending one request after another.
const CLIENTS: usize = 32;
const SLOW_MS: u64 = 200;
/// Every eighth request is long: those sent late in the lag are still running at the cancel.
const LONG_MS: u64 = 2500;
/// Clients holding an event stream open through the load balancer.
const STREAMS: usize = 5;
/// Bounds on a client, whatever happens.
const MAX_PER_CLIENT: usize = 1000;
const CLIENT_DEADLINE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_drain_delay_the_pod_exits_on_its_own_before_sigkill_and_no_client_sees_an_error() {
    let run = terminate_under_load(DRAIN_DELAY).await;
    let exited = match &run.termination {
        Termination::Exited(exited) => exited,
        Termination::Killed(exited) => panic!("the kubelet had to SIGKILL the pod\n{exited}"),
    };
    exited.assert_code(0);
    assert!(run.stopped_after < GRACE, "{exited}");

    run.assert_none_hung(exited);
    let failed: Vec<String> = run
        .requests
        .iter()
        .filter(|r| !matches!(&r.result, Ok(reply) if reply.status == 200))
        .map(|r| {
            format!(
                "/slow?ms={} sent {:?} after SIGTERM: {:?}",
                r.ms,
                r.sent_after(run.sigterm),
                r.result
            )
        })
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} requests failed: {:?}\n{exited}",
        failed.len(),
        run.requests.len(),
        &failed[..failed.len().min(10)]
    );
    let in_flight = run.in_flight_at_sigterm();
    assert!(
        in_flight >= CLIENTS / 2,
        "only {in_flight} requests in flight at SIGTERM\n{exited}"
    );
    assert!(
        run.sent_during_lag() > 0,
        "no request was routed to the pod after SIGTERM: the lag was not simulated\n{exited}"
    );
    for (index, stream) in run.streams.iter().enumerate() {
        assert!(
            matches!(stream, Ok(last) if last == "shutdown"),
            "stream {index} did not end cleanly on its shutdown event: {stream:?}\n{exited}"
        );
    }
    assert!(
        run.probes.contains(&503),
        "the readiness probe never saw 503: {:?}\n{exited}",
        run.probes
    );
    println!(
        "kubelet: SIGTERM, grace period {GRACE:?}; drain delay {DRAIN_DELAY}, endpoint lag \
         {LAG:?}: the pod exited 0 on its own {:?} after SIGTERM, no SIGKILL; {} requests, all \
         200 ({in_flight} in flight at SIGTERM, {} sent during the lag, {} completed after \
         the cancel); {STREAMS} streams ended cleanly; readiness probe: {} x 200 then {} x 503",
        run.stopped_after,
        run.requests.len(),
        run.sent_during_lag(),
        run.completed_after_cancel(),
        run.probes.iter().filter(|s| **s == 200).count(),
        run.probes.iter().filter(|s| **s == 503).count(),
    );
}

/// Demonstration: without `drain_delay`, the pod stops accepting at once while the load
/// balancer still routes to it; the clients routed there during the lag are refused. Not a
/// failure of the library: the reason `drain_delay` exists. It asserts that the check sees it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demonstration_without_drain_delay_clients_routed_during_the_lag_are_refused() {
    let run = terminate_under_load("0s").await;
    let exited = match &run.termination {
        Termination::Exited(exited) => exited,
        Termination::Killed(exited) => panic!("the kubelet had to SIGKILL the pod\n{exited}"),
    };
    exited.assert_code(0);
    let refused = run
        .requests
        .iter()
        .filter(|r| matches!(r.result, Err(ClientError::Refused)))
        .count();
    let closed = run
        .requests
        .iter()
        .filter(|r| matches!(r.result, Err(ClientError::Closed(_))))
        .count();
    run.assert_none_hung(exited);
    assert!(
        refused > 0,
        "no client was refused during the {LAG:?} lag without a drain delay: the check cannot \
         see the endpoint race\n{exited}"
    );
    println!(
        "demonstration, no drain delay: of {} requests, {refused} were refused and {closed} \
         closed unanswered (connections made in the moment of the cancel) during the {LAG:?} \
         endpoint lag, none left hanging; {} were in flight at SIGTERM; exit 0 {:?} after \
         SIGTERM",
        run.requests.len(),
        run.in_flight_at_sigterm(),
        run.stopped_after
    );
}

/// How the kubelet's termination ended.
enum Termination {
    /// The pod exited on its own within the grace period.
    Exited(Exited),
    /// The grace period ran out: SIGKILL.
    Killed(Exited),
}

/// The kubelet's part: SIGTERM, wait the grace period, SIGKILL.
async fn kubelet_terminate(service: &mut Process, grace: Duration) -> (Instant, Termination) {
    let sigterm = service.signal(Signal::SIGTERM);
    match service.wait_at_most(grace).await {
        Some(exited) => (sigterm, Termination::Exited(exited)),
        None => {
            service.signal(Signal::SIGKILL);
            let exited = service.wait(Duration::from_secs(10)).await;
            (sigterm, Termination::Killed(exited))
        }
    }
}

struct Request {
    ms: u64,
    sent: Instant,
    done: Instant,
    result: Result<Reply, ClientError>,
}

impl Request {
    fn sent_after(&self, sigterm: Instant) -> Duration {
        self.sent.saturating_duration_since(sigterm)
    }
}

struct Run {
    termination: Termination,
    sigterm: Instant,
    cancel: Option<Instant>,
    stopped_after: Duration,
    requests: Vec<Request>,
    /// How each stream ended: its last event, or the error.
    streams: Vec<Result<String, String>>,
    /// The readiness probe's statuses, in order.
    probes: Vec<u16>,
    /// Probes that got no answer within the client's timeout.
    probes_hung: usize,
}

impl Run {
    fn in_flight_at_sigterm(&self) -> usize {
        count(&self.requests, |r| {
            r.sent < self.sigterm && r.done > self.sigterm
        })
    }

    fn sent_during_lag(&self) -> usize {
        count(&self.requests, |r| r.sent > self.sigterm)
    }

    /// Fails the test if a request or a probe was left without an answer and without an
    /// error: refused or closed is what a client can act on; hanging is not.
    fn assert_none_hung(&self, exited: &Exited) {
        let hung: Vec<String> = self
            .requests
            .iter()
            .filter(|r| matches!(r.result, Err(ClientError::Hung)))
            .map(|r| {
                format!(
                    "/slow?ms={} sent {} SIGTERM",
                    r.ms,
                    match r.sent.checked_duration_since(self.sigterm) {
                        Some(after) => format!("{after:?} after"),
                        None => format!("{:?} before", self.sigterm - r.sent),
                    }
                )
            })
            .collect();
        assert!(
            hung.is_empty() && self.probes_hung == 0,
            "left hanging (no answer, no error within the client's timeout): {hung:?}, {} \
             readiness probes. Either the server left them hanging, or, once the server had \
             freed its port, another process on this machine bound it\n{exited}",
            self.probes_hung
        );
    }

    fn completed_after_cancel(&self) -> usize {
        self.cancel
            .map_or(0, |cancel| count(&self.requests, |r| r.done > cancel))
    }
}

async fn terminate_under_load(drain_delay: &str) -> Run {
    let dir = TempDir::new("kubernetes");
    let log = dir.join("access.log");
    let mut service = Process::start_http(
        "http_server",
        &[
            ("GRACEFUL_DRAIN_DELAY", drain_delay),
            ("GRACEFUL_TIMEOUT", TIMEOUT),
            ("ACCESS_LOG", log.to_str().expect("a UTF-8 path")),
        ],
    )
    .await;
    let port = service.port;
    let started = Instant::now();

    // The load balancer routes to the pod while `routed` is true.
    let (route, routed) = watch::channel(true);
    let (completions, mut completed) = watch::channel(0_usize);
    let completions = std::sync::Arc::new(completions);
    let clients: Vec<JoinHandle<Vec<Request>>> = (0..CLIENTS)
        .map(|client| {
            tokio::spawn(load(
                port,
                client,
                routed.clone(),
                completions.clone(),
                started,
            ))
        })
        .collect();
    let mut streams = Vec::new();
    for _ in 0..STREAMS {
        let mut events = EventStream::open(port, "/events")
            .await
            .unwrap_or_else(|error| service.fail(format_args!("opening /events: {error}")));
        match events.next(LINE_TIMEOUT).await {
            Ok(Some(event)) if event.event == "tick" => {}
            other => service.fail(format_args!("first event of a stream: {other:?}")),
        }
        streams.push(tokio::spawn(last_event(events)));
    }
    let probe = tokio::spawn(readiness_probe(port));

    // Steady load: two requests per client have completed.
    // (The `Ref` that `wait_for` returns is a read lock: dropped at once, or every client's
    // `send_modify` would block.)
    let steady = matches!(
        tokio::time::timeout(
            LINE_TIMEOUT,
            completed.wait_for(|done| *done >= 2 * CLIENTS)
        )
        .await,
        Ok(Ok(_))
    );
    if !steady {
        service.fail(format_args!("the load never got going"));
    }

    // The endpoints controller and kube-proxy: the pod leaves the rotation `LAG` after the
    // SIGTERM (the kubelet and the controller react to the same deletion).
    let removal = tokio::spawn(async move {
        tokio::time::sleep(LAG).await; // the simulated propagation delay, not a synchronisation
        let _ = route.send(false);
    });
    let (sigterm, termination) = kubelet_terminate(&mut service, GRACE).await;
    let stopped_after = sigterm.elapsed();
    removal.await.expect("the removal does not panic");

    let mut requests = Vec::new();
    for client in clients {
        requests.extend(client.await.expect("a client does not panic"));
    }
    let mut ended = Vec::new();
    for stream in streams {
        ended.push(stream.await.expect("a stream task does not panic"));
    }
    let (probes, probes_hung) = probe.await.expect("the probe does not panic");
    let exited = match &termination {
        Termination::Exited(exited) | Termination::Killed(exited) => exited,
    };
    let cancel = exited
        .stdout
        .iter()
        .find(|line| line.text == "cancelled: no longer accepting connections")
        .map(|line| line.at);
    Run {
        termination,
        sigterm,
        cancel,
        stopped_after,
        requests,
        streams: ended,
        probes,
        probes_hung,
    }
}

/// One client behind the load balancer: a request after another, each on a new connection,
/// while the pod is in the rotation.
async fn load(
    port: u16,
    client: usize,
    routed: watch::Receiver<bool>,
    completions: std::sync::Arc<watch::Sender<usize>>,
    started: Instant,
) -> Vec<Request> {
    let mut requests = Vec::new();
    let mut n = client; // the long requests are spread across the clients
    while *routed.borrow() && requests.len() < MAX_PER_CLIENT && started.elapsed() < CLIENT_DEADLINE
    {
        n += 1;
        let ms = if n % 8 == 0 { LONG_MS } else { SLOW_MS };
        let sent = Instant::now();
        let result = get(port, &format!("/slow?ms={ms}")).await;
        let refused = matches!(result, Err(ClientError::Refused));
        requests.push(Request {
            ms,
            sent,
            done: Instant::now(),
            result,
        });
        completions.send_modify(|done| *done += 1);
        if refused {
            // A real client would back off too; keeps a refused client from spinning.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    requests
}

/// Reads a stream to its end; its last event, or what went wrong.
async fn last_event(mut events: EventStream) -> Result<String, String> {
    let mut last = "tick".to_owned();
    loop {
        match events.next(Duration::from_secs(30)).await {
            Ok(Some(event)) => last = event.event,
            Ok(None) => return Ok(last),
            Err(error) => return Err(format!("{error} (after {last:?})")),
        }
    }
}

/// The kubelet's readiness probe: `/healthz` every 100 ms until the pod refuses connections
/// (bounded in count, so it stops by itself). The statuses, and how many probes hung.
async fn readiness_probe(port: u16) -> (Vec<u16>, usize) {
    let mut statuses = Vec::new();
    let mut hung = 0;
    let mut every = tokio::time::interval(Duration::from_millis(100));
    for _ in 0..600 {
        every.tick().await;
        match get(port, "/healthz").await {
            Ok(reply) => statuses.push(reply.status.as_u16()),
            Err(ClientError::Refused) => break,
            Err(ClientError::Hung) => hung += 1,
            Err(_) => {} // closed in the moment the listener went away
        }
    }
    (statuses, hung)
}
