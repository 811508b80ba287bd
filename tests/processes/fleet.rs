//! The fleet test: three instances behind a real HAProxy on 127.0.0.1, restarted or upgraded
//! one after the other while `hey` sends a few hundred requests a second through the balancer.
//!
//! - A rolling restart with a 1 s `drain_delay`: each `http_server` instance gets SIGTERM, its
//!   `/healthz` turns 503, HAProxy's health check takes it out of rotation while it still
//!   serves, it drains and exits 0, and it is started again and waited for until HAProxy sees
//!   it UP. No request fails, and HAProxy never had to retry or redispatch one.
//! - The control: the same without the delay, behind a balancer that neither retries nor
//!   redispatches. The instance stops accepting while HAProxy still routes to it: requests
//!   fail, and the test fails if none does (the counting can see a loss).
//! - Rolling SIGHUP upgrades of `zero_downtime` instances behind the same balancer: every
//!   request answered, every upgrade to a new process, every old one gone, HAProxy never saw an
//!   instance down. A keep-alive connection of an old process is closed after the cancel only
//!   once it has answered the request its client may already be sending (or after a short
//!   linger): a request HAProxy sends on a pooled connection does not cross the close. Should
//!   one still get an empty response, HAProxy closes the client's connection without an answer
//!   and the client (a Go client does, for a GET) sends the request again: the test counts
//!   those, requires each to have been sent again, and the figures say how many.
//!
//! - Ten SIGHUP upgrades of a `zero_downtime` instance that serves on a Unix-domain socket
//!   (`UNIX_SOCKET`, `graceful::listen_unix`), behind a real nginx that proxies to the socket's
//!   path (`proxy_pass http://unix:PATH:`) under the same load: every request answered, as
//!   `hey` and nginx's access log both count, no upstream error in nginx's error log, a new
//!   process each time, the old one gone, the socket file never replaced. The control stops and
//!   starts the instance instead: nginx answers 502 while nothing listens.
//!
//! Failures are counted on both sides: from `hey`'s status codes and errors, and from
//! HAProxy's own counters (requests received that got no 2xx, connection and response errors,
//! retries, redispatches), read on its stats socket. A Go client silently sends a request again
//! when a reused connection closes before the response: HAProxy counts both attempts, `hey`
//! reports one, and the difference is what was resent.
//!
//! These tests need `haproxy`, `nginx` and `hey` on the PATH (nginx also in `/usr/sbin`), so
//! they are `#[ignore]`d: `.ci/fleet` installs them (Debian packages) and runs them with
//! `--ignored`, or says why it cannot. They take a lock: run in parallel, their loads and
//! timings would mix.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use graceful_test_support::{
    Exited, LINE_TIMEOUT, Process, Rng, START_TIMEOUT, Signal, TempDir, example, free_port, get,
    get_unix,
};
use nix::sys::signal::kill;
use nix::unistd::Pid;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

/// Instances behind the balancer.
const INSTANCES: usize = 3;
/// HAProxy's active health checks: one every 200 ms; two failures take an instance out of
/// rotation, two successes bring it back.
const CHECK_INTER: &str = "200ms";
const CHECK_FALL: u32 = 2;
const CHECK_RISE: u32 = 2;
/// The delay of the rolling restart: longer than the health checks take to put an instance out
/// of rotation (the next check within 200 ms, the second failing one 200 ms later: about
/// 400 ms, plus the checks' own time).
const DRAIN_DELAY: &str = "1s";
/// The load, two `hey` processes: short requests, `FAST_WORKERS` workers each sending at most
/// `FAST_QPS` a second, and 300 ms requests that are in flight whenever an instance stops.
const FAST_PATH: &str = "/slow?ms=5";
const FAST_WORKERS: u32 = 10;
const FAST_QPS: u32 = 30;
const SLOW_PATH: &str = "/slow?ms=300";
const SLOW_WORKERS: u32 = 6;
const SLOW_QPS: u32 = 3;
/// `hey`'s own bound on its run, whatever happens to the test.
const LOAD_LIMIT: &str = "90s";
/// Requests each instance must have served after it came back (or was upgraded) before the
/// next step: the balancer really sends it traffic.
const SERVED_AFTER_STEP: u64 = 100;
/// The fewest requests a scenario must have sent for its figures to mean something.
const MIN_REQUESTS: u64 = 2000;
/// Rounds of rolling upgrades: each instance is upgraded this many times.
const UPGRADE_ROUNDS: usize = 3;
/// How long HAProxy may take to see an instance change state, a process to exit, an upgrade to
/// complete (generous: the machine is small and shared).
const STATE_LIMIT: Duration = Duration::from_secs(15);
const EXIT_LIMIT: Duration = Duration::from_secs(20);
/// How often the stats socket is read while waiting for a state.
const STATS_PACE: Duration = Duration::from_millis(10);
/// Upgrades in a row behind nginx.
const NGINX_UPGRADES: usize = 10;

/// One scenario at a time (see the module's documentation).
static FLEET: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs haproxy and hey: run by .ci/fleet"]
async fn a_rolling_restart_with_drain_delay_loses_no_request() {
    let _one_at_a_time = FLEET.lock().await;
    let started = Instant::now();
    let run = rolling_restart(DRAIN_DELAY, Balancing::RETRY).await;
    run.figures.print(
        &format!("rolling restart, drain_delay {DRAIN_DELAY}"),
        started,
    );
    for step in &run.steps {
        step.exited.assert_code(0);
    }
    run.figures.assert_no_failure(&run.balancer);
}

/// Not a failure of the library: the reason `drain_delay` exists, and the proof that the
/// counting above can see a lost request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs haproxy and hey: run by .ci/fleet"]
async fn control_without_drain_delay_or_retries_requests_are_lost() {
    let _one_at_a_time = FLEET.lock().await;
    let started = Instant::now();
    let run = rolling_restart("0s", Balancing::NO_RETRY).await;
    run.figures.print(
        "control: rolling restart, no drain_delay, no retries",
        started,
    );
    // The instances still stop cleanly: what is lost is lost on the way, not in the process.
    for step in &run.steps {
        step.exited.assert_code(0);
    }
    let figures = &run.figures;
    assert!(
        figures.client.failed() > 0 && figures.proxy.failed() > 0,
        "the control lost nothing (client: {}, HAProxy: {}): without a drain delay or retries \
         a restart should lose the requests routed to a stopped instance, so the counting \
         cannot be trusted\n{}",
        figures.client,
        figures.proxy,
        run.balancer.process.dump()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs haproxy and hey: run by .ci/fleet"]
async fn rolling_upgrades_lose_no_request() {
    let _one_at_a_time = FLEET.lock().await;
    let started = Instant::now();
    let dir = TempDir::new("fleet");
    let mut instances = Vec::new();
    let mut everyone = Pids(Vec::new());
    for index in 0..INSTANCES {
        let service = Process::start_listening("zero_downtime", "http", &[]).await;
        let pid = service.pid().as_raw() as u32;
        everyone.0.push(pid);
        instances.push(Upgraded {
            server: server_name(index),
            port: service.port,
            service,
            pids: vec![pid],
        });
    }
    let ports: Vec<u16> = instances.iter().map(|instance| instance.port).collect();
    let balancer = Balancer::start(&dir, Balancing::RETRY, "/pid", &ports).await;
    let load = Load::start(balancer.port);
    balancer.wait_for_traffic().await;

    let mut rng = Rng::from_env("GRACEFUL_TEST_SEED");
    let mut steps = Vec::new();
    for _ in 0..UPGRADE_ROUNDS {
        for instance in &mut instances {
            random_moment(&mut rng).await;
            let step = instance.upgrade(&balancer).await;
            everyone.0.push(step.new);
            steps.push(step);
        }
    }
    let client = load.stop().await;
    let proxy = ProxyCount::read(&balancer.stats().await);
    let figures = Figures {
        client,
        proxy,
        steps: steps.iter().map(ToString::to_string).collect(),
    };
    figures.print(
        &format!(
            "{} rolling SIGHUP upgrades of zero_downtime",
            UPGRADE_ROUNDS * INSTANCES
        ),
        started,
    );

    // Through the balancer, only the last processes answer.
    let current: BTreeSet<u32> = instances.iter().map(Upgraded::current).collect();
    let answered = balancer.pids_answering(&current).await;
    assert_eq!(answered, current, "/pid through the balancer");
    let stats = balancer.stats().await;
    for instance in &instances {
        assert_eq!(
            stats.count(BACKEND, &instance.server, "chkdown"),
            0,
            "HAProxy saw {} down during its upgrades\n{}",
            instance.server,
            balancer.process.dump()
        );
    }
    figures.assert_nothing_lost(&balancer);

    // Each instance's processes all exited 0: the first (the harness's child) by its status,
    // every one by its summary line.
    for instance in &mut instances {
        let current = instance.current();
        let _ = kill(Pid::from_raw(current as i32), Signal::SIGTERM);
        let exited = instance.service.wait(EXIT_LIMIT).await;
        exited.assert_code(0);
        let summaries = exited.stderr_lines_with(&["exit code "]);
        assert_eq!(
            summaries.len(),
            instance.pids.len(),
            "one summary line per process of {}\n{exited}",
            instance.server
        );
        assert!(
            summaries.iter().all(|line| line.contains("exit code 0")),
            "{exited}"
        );
        for old in &instance.pids[..instance.pids.len() - 1] {
            exited.stdout_line(&format!("pid {old}: handed over to the new process"));
        }
        exited.stdout_line(&format!("pid {current}: stopped (received SIGTERM)"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs nginx and hey: run by .ci/fleet"]
async fn ten_upgrades_behind_nginx_on_a_unix_socket_lose_no_request() {
    use std::os::unix::fs::MetadataExt;

    let _one_at_a_time = FLEET.lock().await;
    let started = Instant::now();
    let dir = TempDir::new("nginx");
    let socket = dir.join("app.sock");
    let socket_text = socket.display().to_string();
    let mut service =
        Process::start_listening("zero_downtime", "http", &[("UNIX_SOCKET", &socket_text)]).await;
    service
        .wait_for_stdout(&format!("also serving on unix:{socket_text}"), LINE_TIMEOUT)
        .await;
    let file = std::fs::symlink_metadata(&socket).expect("the socket file");
    let mut pids = vec![service.pid().as_raw() as u32];
    let mut everyone = Pids(pids.clone());
    let proxy = Nginx::start(&dir, &socket).await;
    let load = Load::start(proxy.port);
    proxy.wait_for_logged(SERVED_AFTER_STEP).await;

    let mut rng = Rng::from_env("GRACEFUL_TEST_SEED");
    let mut steps = Vec::new();
    for round in 1..=NGINX_UPGRADES {
        random_moment(&mut rng).await;
        let old = *pids.last().expect("a process");
        let sent = Instant::now();
        if let Err(error) = kill(Pid::from_raw(old as i32), Signal::SIGHUP) {
            service.fail(format_args!("cannot send SIGHUP to {old}: {error}"));
        }
        let line = service
            .wait_for_lines(
                |line| line.starts_with("pid ") && line.contains(": upgrade with kill -HUP"),
                pids.len() + 1,
                STATE_LIMIT,
            )
            .await;
        let new = pid_in(&line.text);
        assert!(!pids.contains(&new), "{new} again\n{}", service.dump());
        pids.push(new);
        everyone.0.push(new);
        let listening = line.at.saturating_duration_since(sent);
        let until = Instant::now() + STATE_LIMIT;
        while !is_gone(old) {
            if Instant::now() > until {
                service.fail(format_args!(
                    "process {old} still runs {STATE_LIMIT:?} after its upgrade"
                ));
            }
            tokio::time::sleep(STATS_PACE).await;
        }
        let gone = sent.elapsed();
        let answering = match get_unix(&socket, "/pid").await {
            Ok(reply) => reply.body.trim().parse().unwrap_or(0),
            Err(error) => service.fail(format_args!("/pid on {socket_text}: {error}")),
        };
        assert_eq!(answering, new, "{}", service.dump());
        let now = std::fs::symlink_metadata(&socket).expect("the socket file");
        assert_eq!(
            (now.ino(), now.ctime(), now.ctime_nsec(), now.mode()),
            (file.ino(), file.ctime(), file.ctime_nsec(), file.mode()),
            "upgrade {round} changed the socket file"
        );
        let logged = proxy.logged();
        proxy.wait_for_logged(logged + SERVED_AFTER_STEP).await;
        steps.push(format!(
            "upgrade {round}: {old} -> {new}, new process listening after {}, old one gone \
             after {}",
            ms(listening),
            ms(gone)
        ));
    }
    // Enough load to tell, however quickly the upgrades went: the load runs on until nginx has
    // passed the minimum (its log also holds the test's own probes).
    proxy
        .wait_for_logged(MIN_REQUESTS + proxy.access_log().probes)
        .await;
    let client = load.stop().await;
    let logged = proxy.access_log();
    let proxy = proxy.stop().await;
    // nginx logs an upstream that refused, reset or closed a connection at `error` level.
    let upstream_errors: Vec<&String> = proxy
        .stderr
        .iter()
        .filter(|line| {
            ["[error]", "[crit]", "[alert]", "[emerg]"]
                .iter()
                .any(|level| line.contains(level))
        })
        .collect();
    println!(
        "fleet figures, {NGINX_UPGRADES} SIGHUP upgrades of zero_downtime on a Unix socket \
         behind nginx: took {:.1} s\n  hey: {client}\n  nginx: {logged}; {} errors in its \
         error log",
        started.elapsed().as_secs_f64(),
        upstream_errors.len()
    );
    for step in &steps {
        println!("  {step}");
    }
    assert!(
        client.failed() == 0 && logged.failed() == 0 && upstream_errors.is_empty(),
        "requests failed: hey: {client}; nginx: {logged}; its errors: {upstream_errors:?}"
    );
    assert_eq!(
        logged.load(),
        client.requests(),
        "nginx logged another number of requests than hey sent: hey: {client}; nginx: {logged}"
    );
    assert!(
        client.requests() >= MIN_REQUESTS,
        "too little load to tell: {client}"
    );

    let current = *pids.last().expect("a process");
    let _ = kill(Pid::from_raw(current as i32), Signal::SIGTERM);
    let exited = service.wait(EXIT_LIMIT).await;
    exited.assert_code(0);
    for old in &pids[..pids.len() - 1] {
        exited.stdout_line(&format!("pid {old}: handed over to the new process"));
    }
    exited.stdout_line(&format!("pid {current}: stopped (received SIGTERM)"));
    assert!(socket.exists(), "the socket file was removed at an exit");
}

/// The control: the same instance and nginx, stopped and started again instead of upgraded.
/// Between the stop and the new process's bind nothing listens on the socket file (each new
/// process replaces it as stale): nginx answers 502, and the test fails if it never does (the
/// counting can see a loss).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs nginx and hey: run by .ci/fleet"]
async fn control_stop_then_start_behind_nginx_loses_requests() {
    let _one_at_a_time = FLEET.lock().await;
    let started = Instant::now();
    let dir = TempDir::new("nginx-control");
    let socket = dir.join("app.sock");
    let socket_text = socket.display().to_string();
    let env = [("UNIX_SOCKET", socket_text.as_str())];
    let serving = format!("also serving on unix:{socket_text}");
    let mut service = Process::start_listening("zero_downtime", "http", &env).await;
    service.wait_for_stdout(&serving, LINE_TIMEOUT).await;
    let proxy = Nginx::start(&dir, &socket).await;
    let load = Load::start(proxy.port);
    proxy.wait_for_logged(SERVED_AFTER_STEP).await;
    let mut rng = Rng::from_env("GRACEFUL_TEST_SEED");
    for _ in 0..3 {
        random_moment(&mut rng).await;
        service.signal(Signal::SIGTERM);
        service.wait(EXIT_LIMIT).await.assert_code(0);
        service = Process::start_listening("zero_downtime", "http", &env).await;
        service.wait_for_stdout(&serving, LINE_TIMEOUT).await;
        let logged = proxy.logged();
        proxy.wait_for_logged(logged + SERVED_AFTER_STEP).await;
    }
    let client = load.stop().await;
    let logged = proxy.access_log();
    proxy.stop().await;
    println!(
        "fleet figures, control: 3 stop-then-start restarts of zero_downtime on a Unix socket \
         behind nginx: took {:.1} s\n  hey: {client}\n  nginx: {logged}",
        started.elapsed().as_secs_f64()
    );
    assert!(
        client.failed() > 0 && logged.failed() > 0,
        "the control lost nothing (hey: {client}; nginx: {logged}): a stop then a start leaves \
         the socket without a listener, so the counting cannot be trusted"
    );
    service.signal(Signal::SIGTERM);
    service.wait(EXIT_LIMIT).await.assert_code(0);
}

/// A real nginx on 127.0.0.1 in front of a Unix-domain socket, as the current user, in the
/// foreground, with its configuration, pid file, logs and temporary files in the scenario's
/// directory.
struct Nginx {
    process: Process,
    port: u16,
    access_log: PathBuf,
}

impl Nginx {
    /// Starts nginx, and waits until a request through it is answered.
    async fn start(dir: &TempDir, socket: &Path) -> Nginx {
        let program = nginx();
        require(&program, &["-v"]);
        let port = free_port();
        let prefix = dir.join("nginx");
        std::fs::create_dir_all(&prefix).expect("create nginx's directory");
        let access_log = prefix.join("access.log");
        let config = prefix.join("nginx.conf");
        let text = nginx_config(port, &prefix, &access_log, socket);
        std::fs::write(&config, &text).expect("write nginx's configuration");
        let prefix_text = format!("{}/", prefix.display());
        let process = Process::start_command(
            "nginx",
            Path::new(&program),
            &[
                "-p",
                &prefix_text,
                "-c",
                &config.display().to_string(),
                "-e",
                "stderr",
            ],
            &[],
        );
        let until = Instant::now() + START_TIMEOUT;
        while !matches!(get(port, "/pid").await, Ok(reply) if reply.status == 200) {
            if Instant::now() > until {
                process.fail(format_args!(
                    "nginx answered no /pid on port {port} within {START_TIMEOUT:?}"
                ));
            }
            tokio::time::sleep(STATS_PACE).await;
        }
        println!("nginx on port {port}, configuration:\n{text}");
        Nginx {
            process,
            port,
            access_log,
        }
    }

    /// The lines of the access log so far.
    fn logged(&self) -> u64 {
        std::fs::read_to_string(&self.access_log).map_or(0, |text| text.lines().count() as u64)
    }

    /// Waits until the access log has `count` lines.
    async fn wait_for_logged(&self, count: u64) {
        let until = Instant::now() + STATE_LIMIT;
        while self.logged() < count {
            if Instant::now() > until {
                self.process.fail(format_args!(
                    "fewer than {count} requests through nginx within {STATE_LIMIT:?}"
                ));
            }
            tokio::time::sleep(STATS_PACE).await;
        }
    }

    fn access_log(&self) -> NginxCount {
        let text = std::fs::read_to_string(&self.access_log).expect("nginx's access log");
        NginxCount::parse(&text)
    }

    /// SIGQUIT (nginx's graceful stop), and its exit.
    async fn stop(mut self) -> Exited {
        self.process.signal(Signal::SIGQUIT);
        let exited = self.process.wait(EXIT_LIMIT).await;
        exited.assert_code(0);
        exited
    }
}

/// nginx's path: on the PATH, or where Debian puts it (`/usr/sbin`, not on every user's PATH).
fn nginx() -> String {
    let debian = Path::new("/usr/sbin/nginx");
    let on_path = std::process::Command::new("nginx")
        .arg("-v")
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok();
    if !on_path && debian.is_file() {
        debian.display().to_string()
    } else {
        "nginx".to_owned()
    }
}

/// nginx's configuration: one process (no master, no daemon), listening on 127.0.0.1:`port`
/// only, every request proxied to the Unix-domain socket at `socket` and logged with its status
/// and the upstream's; nothing retried, nothing outside `prefix`.
fn nginx_config(port: u16, prefix: &Path, access_log: &Path, socket: &Path) -> String {
    let prefix = prefix.display();
    format!(
        "daemon off;
master_process off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log stderr warn;

events {{
    worker_connections 512;
}}

http {{
    log_format upgrades '$status $upstream_status \"$request\" $request_time';
    access_log {access_log} upgrades;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;

    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://unix:{socket}:;
            proxy_next_upstream off;
            proxy_connect_timeout 1s;
            proxy_read_timeout 30s;
        }}
    }}
}}
",
        access_log = access_log.display(),
        socket = socket.display(),
    )
}

/// What nginx's access log says: every request, with its status and the upstream's.
struct NginxCount {
    /// Every line: the load's requests and the test's own `/pid` probes.
    requests: u64,
    /// Of them, the probes.
    probes: u64,
    /// Lines by `status upstream_status`.
    by_status: BTreeMap<String, u64>,
}

impl NginxCount {
    fn parse(text: &str) -> NginxCount {
        let mut by_status = BTreeMap::new();
        let mut probes = 0;
        for line in text.lines() {
            let mut fields = line.split(' ');
            let status = fields.next().unwrap_or("");
            let upstream = fields.next().unwrap_or("");
            *by_status.entry(format!("{status} {upstream}")).or_default() += 1;
            if line.contains("\"GET /pid ") {
                probes += 1;
            }
        }
        NginxCount {
            requests: by_status.values().sum(),
            probes,
            by_status,
        }
    }

    /// The requests of the load (`hey`'s).
    fn load(&self) -> u64 {
        self.requests - self.probes
    }

    /// Requests not answered 200 by nginx after a single 200 from the upstream.
    fn failed(&self) -> u64 {
        self.requests - self.by_status.get("200 200").copied().unwrap_or(0)
    }
}

impl fmt::Display for NginxCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} requests logged ({} of them the test's /pid probes), {} failed; by status and \
             upstream status {:?}",
            self.requests,
            self.probes,
            self.failed(),
            self.by_status
        )
    }
}

/// HAProxy's names: the frontend the clients reach, the backend holding the instances.
const FRONTEND: &str = "fleet";
const BACKEND: &str = "instances";

fn server_name(index: usize) -> String {
    format!("i{}", index + 1)
}

/// What a rolling restart saw.
struct Restarted {
    balancer: Balancer,
    steps: Vec<Restart>,
    figures: Figures,
}

/// Starts three `http_server` instances with `drain_delay` behind HAProxy, starts the load,
/// restarts each instance in turn, then stops the load and reads the counters.
async fn rolling_restart(drain_delay: &str, balancing: Balancing) -> Restarted {
    let dir = TempDir::new("fleet");
    let mut instances = Vec::new();
    for index in 0..INSTANCES {
        instances.push(Instance::start(&dir, index, drain_delay).await);
    }
    let ports: Vec<u16> = instances.iter().map(|instance| instance.port).collect();
    let balancer = Balancer::start(&dir, balancing, "/healthz", &ports).await;
    let load = Load::start(balancer.port);
    balancer.wait_for_traffic().await;

    let mut rng = Rng::from_env("GRACEFUL_TEST_SEED");
    let mut steps = Vec::new();
    for instance in &mut instances {
        random_moment(&mut rng).await;
        steps.push(instance.restart(&balancer).await);
    }
    let client = load.stop().await;
    let proxy = ProxyCount::read(&balancer.stats().await);

    // The last instances stop as the ones before them did.
    for instance in &instances {
        instance.service.signal(Signal::SIGTERM);
    }
    for instance in &mut instances {
        instance.service.wait(EXIT_LIMIT).await.assert_code(0);
    }
    let figures = Figures {
        client,
        proxy,
        steps: steps.iter().map(ToString::to_string).collect(),
    };
    Restarted {
        balancer,
        steps,
        figures,
    }
}

/// One `http_server` instance: a process on a port that stays the same across its restarts.
struct Instance {
    server: String,
    port: u16,
    env: Vec<(String, String)>,
    service: Process,
}

impl Instance {
    async fn start(dir: &TempDir, index: usize, drain_delay: &str) -> Instance {
        let server = server_name(index);
        let log = dir.join(&format!("access-{server}.log"));
        let env = vec![
            ("GRACEFUL_DRAIN_DELAY".to_owned(), drain_delay.to_owned()),
            ("ACCESS_LOG".to_owned(), log.display().to_string()),
        ];
        let service = Process::start_listening("http_server", "http", &borrowed(&env)).await;
        Instance {
            server,
            port: service.port,
            env,
            service,
        }
    }

    /// SIGTERM, the exit, a new process on the same port, and HAProxy seeing it UP again.
    async fn restart(&mut self, balancer: &Balancer) -> Restart {
        let before = balancer.stats().await;
        let in_flight = before.count(BACKEND, &self.server, "scur");
        let sigterm = self.service.signal(Signal::SIGTERM);
        let (exited, down) = tokio::join!(
            self.service.wait(EXIT_LIMIT),
            balancer.wait_for_status(&self.server, "DOWN")
        );
        let exit = sigterm + exited.waited;

        let port = self.port.to_string();
        let mut env = borrowed(&self.env);
        env.push(("PORT", &port));
        let restarted = Instant::now();
        self.service = Process::start_command("http_server", &example("http_server"), &[], &env);
        self.service.port = self.port;
        let ready = self
            .service
            .wait_for_stdout(
                &format!("listening on http://127.0.0.1:{}", self.port),
                START_TIMEOUT,
            )
            .await;
        let up = balancer.wait_for_status(&self.server, "UP").await;
        let served = balancer.stats().await.count(BACKEND, &self.server, "lbtot");
        balancer
            .wait_for_served(&self.server, served + SERVED_AFTER_STEP)
            .await;
        Restart {
            server: self.server.clone(),
            in_flight,
            down: down.saturating_duration_since(sigterm),
            exit: exit.saturating_duration_since(sigterm),
            ready: ready.at.saturating_duration_since(restarted),
            up: up.saturating_duration_since(ready.at),
            exited,
        }
    }
}

/// One restart, timed from its SIGTERM and from the new process's start.
struct Restart {
    server: String,
    in_flight: u64,
    down: Duration,
    exit: Duration,
    ready: Duration,
    up: Duration,
    exited: Exited,
}

impl fmt::Display for Restart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} in flight at SIGTERM, DOWN in HAProxy after {}, exit {:?} after {}; \
             restarted, ready in {}, UP {} later",
            self.server,
            self.in_flight,
            ms(self.down),
            self.exited.status.code(),
            ms(self.exit),
            ms(self.ready),
            ms(self.up),
        )
    }
}

/// One `zero_downtime` instance: the harness's child is its first process; each upgrade
/// starts the next, which takes over the socket (and the child's stdout and stderr).
struct Upgraded {
    server: String,
    port: u16,
    service: Process,
    /// Every process of the instance, the serving one last.
    pids: Vec<u32>,
}

impl Upgraded {
    fn current(&self) -> u32 {
        *self.pids.last().expect("an instance has a process")
    }

    /// SIGHUP to the serving process; the new one's pid from the line it prints once it
    /// listens; the old one gone; the new one answering, directly and through the balancer.
    async fn upgrade(&mut self, balancer: &Balancer) -> Upgrade {
        let old = self.current();
        let in_flight = balancer.stats().await.count(BACKEND, &self.server, "scur");
        let sent = Instant::now();
        if let Err(error) = kill(Pid::from_raw(old as i32), Signal::SIGHUP) {
            self.service
                .fail(format_args!("cannot send SIGHUP to {old}: {error}"));
        }
        let line = self
            .service
            .wait_for_lines(
                |line| line.starts_with("pid ") && line.contains(": upgrade with kill -HUP"),
                self.pids.len() + 1,
                STATE_LIMIT,
            )
            .await;
        let new = pid_in(&line.text);
        self.pids.push(new);
        assert_ne!(new, old, "{}", self.service.dump());
        let started = line.at.saturating_duration_since(sent);
        let until = Instant::now() + STATE_LIMIT;
        while !is_gone(old) {
            if Instant::now() > until {
                self.service.fail(format_args!(
                    "process {old} still runs {STATE_LIMIT:?} after its upgrade"
                ));
            }
            tokio::time::sleep(STATS_PACE).await;
        }
        let gone = sent.elapsed();
        let answering: u32 = match get(self.port, "/pid").await {
            Ok(reply) => reply.body.trim().parse().unwrap_or(0),
            Err(error) => self
                .service
                .fail(format_args!("/pid after the upgrade: {error}")),
        };
        assert_eq!(answering, new, "{}", self.service.dump());
        let served = balancer.stats().await.count(BACKEND, &self.server, "lbtot");
        balancer
            .wait_for_served(&self.server, served + SERVED_AFTER_STEP)
            .await;
        Upgrade {
            server: self.server.clone(),
            in_flight,
            old,
            new,
            started,
            gone,
        }
    }
}

/// One upgrade, timed from its SIGHUP.
struct Upgrade {
    server: String,
    in_flight: u64,
    old: u32,
    new: u32,
    started: Duration,
    gone: Duration,
}

impl fmt::Display for Upgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} in flight at SIGHUP, {} -> {}, new process listening after {}, old one \
             gone after {}",
            self.server,
            self.in_flight,
            self.old,
            self.new,
            ms(self.started),
            ms(self.gone)
        )
    }
}

/// Kills every process of an upgrade test that fails half-way (the later ones are not the
/// harness's children).
struct Pids(Vec<u32>);

impl Drop for Pids {
    fn drop(&mut self) {
        for pid in &self.0 {
            if !is_gone(*pid) {
                let _ = kill(Pid::from_raw(*pid as i32), Signal::SIGKILL);
            }
        }
    }
}

/// Whether `pid` has exited (a zombie counts: a later generation's parent is gone, and
/// whatever adopts it may not reap it at once).
fn is_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name, which is in parentheses.
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X')),
        Err(_) => true,
    }
}

/// The pid in `pid N: ...`.
fn pid_in(line: &str) -> u32 {
    line.strip_prefix("pid ")
        .and_then(|rest| rest.split(':').next())
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {line:?}"))
}

/// How HAProxy treats a request whose instance fails it.
#[derive(Clone, Copy)]
struct Balancing {
    /// `retries`: new attempts at connecting, after a connection failure.
    retries: u32,
    /// `option redispatch`: the last retry goes to another instance.
    redispatch: bool,
}

impl Balancing {
    /// What an operator would write: three retries, the last one elsewhere.
    const RETRY: Balancing = Balancing {
        retries: 3,
        redispatch: true,
    };
    /// The control's balancer: a failure is the client's.
    const NO_RETRY: Balancing = Balancing {
        retries: 0,
        redispatch: false,
    };
}

/// A real HAProxy in front of the instances, with a generated configuration and a stats socket
/// in the scenario's directory.
struct Balancer {
    process: Process,
    port: u16,
    socket: PathBuf,
}

impl Balancer {
    /// Starts HAProxy in the foreground, and waits until its stats socket answers and it has
    /// seen every instance UP.
    async fn start(dir: &TempDir, balancing: Balancing, check: &str, ports: &[u16]) -> Balancer {
        require("haproxy", &["-v"]);
        let port = free_port();
        let socket = dir.join("haproxy.sock");
        let config = dir.join("haproxy.cfg");
        let text = haproxy_config(port, &socket, balancing, check, ports);
        std::fs::write(&config, &text).expect("write the HAProxy configuration");
        let config = config.display().to_string();
        let process = Process::start_command(
            "haproxy",
            Path::new("haproxy"),
            &["-db", "-f", &config],
            &[],
        );
        let balancer = Balancer {
            process,
            port,
            socket,
        };
        for index in 0..ports.len() {
            balancer.wait_for_status(&server_name(index), "UP").await;
        }
        println!("HAProxy on port {port}, configuration:\n{text}");
        balancer
    }

    /// `show stat` on the stats socket.
    async fn try_stats(&self) -> std::io::Result<Stats> {
        let mut stream = UnixStream::connect(&self.socket).await?;
        stream.write_all(b"show stat\n").await?;
        let mut text = String::new();
        stream.read_to_string(&mut text).await?;
        Stats::parse(&text)
            .ok_or_else(|| std::io::Error::other(format!("not a stats table: {text:?}")))
    }

    async fn stats(&self) -> Stats {
        match tokio::time::timeout(LINE_TIMEOUT, self.try_stats()).await {
            Ok(Ok(stats)) => stats,
            Ok(Err(error)) => self
                .process
                .fail(format_args!("cannot read the stats socket: {error}")),
            Err(_) => self
                .process
                .fail(format_args!("no stats within {LINE_TIMEOUT:?}")),
        }
    }

    /// Reads the stats until `check` finds what it wants; fails the test after
    /// [`STATE_LIMIT`]. Before the socket exists (HAProxy starting), a failed read is retried.
    async fn wait_until<T>(&self, what: &str, mut check: impl FnMut(&Stats) -> Option<T>) -> T {
        let until = Instant::now() + STATE_LIMIT;
        loop {
            let last = match self.try_stats().await {
                Ok(stats) => {
                    if let Some(found) = check(&stats) {
                        return found;
                    }
                    stats.text
                }
                Err(error) => format!("stats socket: {error}"),
            };
            if Instant::now() > until {
                self.process.fail(format_args!(
                    "{what}: not within {STATE_LIMIT:?}; last stats:\n{last}"
                ));
            }
            tokio::time::sleep(STATS_PACE).await;
        }
    }

    /// Waits until HAProxy's status for `server` is `status` (`UP` or `DOWN`, not one of the
    /// states in between such as `UP 1/2`), after a check that agrees; when it was seen.
    async fn wait_for_status(&self, server: &str, status: &str) -> Instant {
        let what = format!("HAProxy seeing {server} {status}");
        self.wait_until(&what, |stats| {
            let now = stats.field(BACKEND, server, "status") == status
                && stats.field(BACKEND, server, "check_status") != "INI";
            now.then(Instant::now)
        })
        .await
    }

    /// Waits until `server` has been sent `count` requests in all (`lbtot`).
    async fn wait_for_served(&self, server: &str, count: u64) {
        let what = format!("{server} sent {count} requests");
        self.wait_until(&what, |stats| {
            (stats.count(BACKEND, server, "lbtot") >= count).then_some(())
        })
        .await;
    }

    /// Waits until the load reaches every instance.
    async fn wait_for_traffic(&self) {
        let servers = self.wait_until("the stats list the instances", |stats| {
            let servers = stats.servers();
            (!servers.is_empty()).then_some(servers)
        });
        for server in servers.await {
            self.wait_for_served(&server, SERVED_AFTER_STEP).await;
        }
    }

    /// Asks `/pid` through the balancer on fresh connections until each of `expected` has
    /// answered, or a process outside it has; the pids that answered.
    async fn pids_answering(&self, expected: &BTreeSet<u32>) -> BTreeSet<u32> {
        let mut answered = BTreeSet::new();
        let until = Instant::now() + STATE_LIMIT;
        while !expected.is_subset(&answered) && Instant::now() < until {
            let reply = get(self.port, "/pid").await.unwrap_or_else(|error| {
                self.process
                    .fail(format_args!("/pid through the balancer: {error}"))
            });
            let pid = reply.body.trim().parse().unwrap_or_else(|_| {
                self.process
                    .fail(format_args!("/pid answered {reply:?} through the balancer"))
            });
            answered.insert(pid);
            if !expected.contains(&pid) {
                break;
            }
        }
        answered
    }
}

/// HAProxy's configuration: the frontend on `port`, the instances on `ports` with active
/// health checks on `check`, the errors logged on stderr, the stats socket at `socket`.
fn haproxy_config(
    port: u16,
    socket: &Path,
    balancing: Balancing,
    check: &str,
    ports: &[u16],
) -> String {
    let redispatch = if balancing.redispatch {
        "    option redispatch 1\n"
    } else {
        ""
    };
    let mut servers = String::new();
    for (index, server_port) in ports.iter().enumerate() {
        servers.push_str(&format!(
            "    server {} 127.0.0.1:{server_port}\n",
            server_name(index)
        ));
    }
    format!(
        "global
    stats socket {socket} mode 600 level admin
    log stderr format raw local0

defaults
    mode http
    log global
    option httplog
    option dontlog-normal
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    timeout check 2s
    retries {retries}
{redispatch}
frontend {FRONTEND}
    bind 127.0.0.1:{port}
    default_backend {BACKEND}

backend {BACKEND}
    balance roundrobin
    option httpchk GET {check}
    http-check expect status 200
    default-server check inter {CHECK_INTER} fall {CHECK_FALL} rise {CHECK_RISE}
{servers}",
        socket = socket.display(),
        retries = balancing.retries,
    )
}

/// The answer to `show stat`: HAProxy's counters, one row per frontend, server and backend.
struct Stats {
    text: String,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Stats {
    fn parse(text: &str) -> Option<Stats> {
        let mut lines = text.lines();
        let header = lines.next()?.strip_prefix("# ")?;
        let header = header.split(',').map(str::to_owned).collect();
        let rows = lines
            .filter(|line| !line.is_empty())
            .map(|line| line.split(',').map(str::to_owned).collect())
            .collect();
        Some(Stats {
            text: text.to_owned(),
            header,
            rows,
        })
    }

    /// The field `name` of the row of `proxy` and `server` (`FRONTEND`, `BACKEND` or a
    /// server's name); empty if there is none.
    fn field(&self, proxy: &str, server: &str, name: &str) -> &str {
        let Some(column) = self.header.iter().position(|field| field == name) else {
            panic!("no field {name:?} in HAProxy's stats:\n{}", self.text);
        };
        let row = self
            .rows
            .iter()
            .find(|row| row.first().map(String::as_str) == Some(proxy) && row[1] == server);
        row.and_then(|row| row.get(column))
            .map_or("", String::as_str)
    }

    /// A counter (an empty field counts 0).
    fn count(&self, proxy: &str, server: &str, name: &str) -> u64 {
        self.field(proxy, server, name).parse().unwrap_or(0)
    }

    /// The servers of the backend.
    fn servers(&self) -> Vec<String> {
        let rows = self.rows.iter().filter(|row| row[0] == BACKEND);
        let names = rows.map(|row| row[1].clone());
        names.filter(|name| name != "BACKEND").collect()
    }
}

/// The failures HAProxy counted.
struct ProxyCount {
    /// Requests the frontend received.
    requests: u64,
    /// Of them, answered 2xx.
    ok: u64,
    /// Answered 5xx (its own 502, 503 and 504 among them).
    status_5xx: u64,
    /// The backend's connection errors, response errors, retries, redispatches.
    connection_errors: u64,
    response_errors: u64,
    retries: u64,
    redispatches: u64,
    /// Failed health checks, all instances together.
    failed_checks: u64,
    /// Requests each instance was sent.
    per_server: BTreeMap<String, u64>,
}

impl ProxyCount {
    fn read(stats: &Stats) -> ProxyCount {
        ProxyCount {
            requests: stats.count(FRONTEND, "FRONTEND", "req_tot"),
            ok: stats.count(FRONTEND, "FRONTEND", "hrsp_2xx"),
            status_5xx: stats.count(FRONTEND, "FRONTEND", "hrsp_5xx"),
            connection_errors: stats.count(BACKEND, "BACKEND", "econ"),
            response_errors: stats.count(BACKEND, "BACKEND", "eresp"),
            retries: stats.count(BACKEND, "BACKEND", "wretr"),
            redispatches: stats.count(BACKEND, "BACKEND", "wredis"),
            failed_checks: stats
                .servers()
                .iter()
                .map(|server| stats.count(BACKEND, server, "chkfail"))
                .sum(),
            per_server: stats
                .servers()
                .into_iter()
                .map(|server| {
                    let sent = stats.count(BACKEND, &server, "lbtot");
                    (server, sent)
                })
                .collect(),
        }
    }

    /// Requests received that got no 2xx answer.
    fn failed(&self) -> u64 {
        self.requests - self.ok.min(self.requests)
    }

    /// Everything that counts as a failure, or as a failure HAProxy hid from the client.
    fn troubles(&self) -> u64 {
        self.failed()
            + self.status_5xx
            + self.connection_errors
            + self.response_errors
            + self.retries
            + self.redispatches
    }
}

impl fmt::Display for ProxyCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} requests, {} failed (not 2xx), {} 5xx, {} connection errors, {} response \
             errors, {} retries, {} redispatches; {} failed health checks; requests per \
             instance {:?}",
            self.requests,
            self.failed(),
            self.status_5xx,
            self.connection_errors,
            self.response_errors,
            self.retries,
            self.redispatches,
            self.failed_checks,
            self.per_server
        )
    }
}

/// The load: two `hey` processes through the balancer, each bounded by [`LOAD_LIMIT`] and
/// stopped by SIGINT (on which `hey` lets its requests in flight finish and prints its summary).
struct Load {
    fast: Process,
    slow: Process,
}

impl Load {
    fn start(port: u16) -> Load {
        require("hey", &[]);
        let hey = |path: &str, workers: u32, qps: u32| {
            let url = format!("http://127.0.0.1:{port}{path}");
            let workers = workers.to_string();
            let qps = qps.to_string();
            let args = [
                "-z", LOAD_LIMIT, "-c", &workers, "-q", &qps, "-t", "10", &url,
            ];
            Process::start_command("hey", Path::new("hey"), &args, &[])
        };
        Load {
            fast: hey(FAST_PATH, FAST_WORKERS, FAST_QPS),
            slow: hey(SLOW_PATH, SLOW_WORKERS, SLOW_QPS),
        }
    }

    async fn stop(mut self) -> ClientCount {
        self.fast.signal(Signal::SIGINT);
        self.slow.signal(Signal::SIGINT);
        let fast = self.fast.wait(EXIT_LIMIT).await;
        let slow = self.slow.wait(EXIT_LIMIT).await;
        let mut count = ClientCount::parse(&fast);
        let slow = ClientCount::parse(&slow);
        count.slow = slow.requests();
        count.add(slow);
        count
    }
}

/// What `hey` saw: responses by status, errors by message.
#[derive(Default)]
struct ClientCount {
    statuses: BTreeMap<u16, u64>,
    errors: BTreeMap<String, u64>,
    /// Of the requests, how many were the 300 ms ones.
    slow: u64,
}

impl ClientCount {
    /// Reads `hey`'s summary: `Status code distribution:` then lines `  [200]\t4648 responses`,
    /// and `Error distribution:` then lines `  [3]\tGet "...": EOF`.
    fn parse(exited: &Exited) -> ClientCount {
        exited.assert_code(0);
        let lines = exited.stdout_texts();
        assert!(
            lines.iter().any(|line| line.trim() == "Summary:"),
            "no summary from hey\n{exited}"
        );
        let mut count = ClientCount::default();
        let mut section = "";
        for line in lines {
            let trimmed = line.trim();
            if trimmed.ends_with("distribution:") {
                section = trimmed;
                continue;
            }
            let Some((number, rest)) = trimmed
                .strip_prefix('[')
                .and_then(|line| line.split_once(']'))
            else {
                continue;
            };
            let rest = rest.trim();
            match section {
                "Status code distribution:" => {
                    let status = number.parse().expect("a status code");
                    let responses = rest.split_whitespace().next().unwrap_or("");
                    let responses: u64 = responses.parse().expect("a number of responses");
                    *count.statuses.entry(status).or_default() += responses;
                }
                "Error distribution:" => {
                    let times: u64 = number.parse().expect("a number of errors");
                    *count.errors.entry(rest.to_owned()).or_default() += times;
                }
                _ => {}
            }
        }
        count
    }

    fn add(&mut self, other: ClientCount) {
        for (status, responses) in other.statuses {
            *self.statuses.entry(status).or_default() += responses;
        }
        for (error, times) in other.errors {
            *self.errors.entry(error).or_default() += times;
        }
    }

    fn requests(&self) -> u64 {
        self.statuses.values().sum::<u64>() + self.errors.values().sum::<u64>()
    }

    /// Requests without a 200.
    fn failed(&self) -> u64 {
        self.requests() - self.statuses.get(&200).copied().unwrap_or(0)
    }
}

impl fmt::Display for ClientCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} requests ({} of {SLOW_PATH}), {} failed; statuses {:?}",
            self.requests(),
            self.slow,
            self.failed(),
            self.statuses
        )?;
        if !self.errors.is_empty() {
            let first: Vec<_> = self.errors.iter().take(5).collect();
            write!(f, "; errors {first:?}")?;
        }
        Ok(())
    }
}

/// A scenario's figures, as the README's table gives them.
struct Figures {
    client: ClientCount,
    proxy: ProxyCount,
    steps: Vec<String>,
}

impl Figures {
    fn print(&self, scenario: &str, started: Instant) {
        // A Go client sends a request again, without a word, when a reused connection closes
        // before the response: HAProxy then counts more requests than `hey` reports.
        let resent = self.resent();
        println!(
            "fleet figures, {scenario}: took {:.1} s\n  hey: {}\n  HAProxy: {}\n  seen by \
             HAProxy and not reported by hey (resent by the client): {resent}",
            started.elapsed().as_secs_f64(),
            self.client,
            self.proxy
        );
        for step in &self.steps {
            println!("  {step}");
        }
    }

    /// How many requests the client sent again without a word: HAProxy counted them and
    /// `hey` did not.
    fn resent(&self) -> u64 {
        self.proxy.requests.saturating_sub(self.client.requests())
    }

    /// No failure on either side, no retry or redispatch by HAProxy, nothing resent by the
    /// client, and enough load.
    fn assert_no_failure(&self, balancer: &Balancer) {
        assert!(
            self.client.failed() == 0 && self.proxy.troubles() == 0 && self.resent() == 0,
            "requests failed, or were retried or resent: hey: {}; HAProxy: {}\n{}",
            self.client,
            self.proxy,
            balancer.process.dump()
        );
        self.assert_enough_load();
    }

    /// No request lost: no failure at the client; at HAProxy no 5xx, no connection error, no
    /// retry or redispatch, and every request it failed is one the client sent again. That is
    /// an empty response on a reused keep-alive connection to an instance, closed by the
    /// instance as the request came (an old process closes its idle connections at the cancel):
    /// HAProxy then closes the client's connection without an answer and without a log line,
    /// which tells the client the request was not processed, and a Go client resends it.
    fn assert_nothing_lost(&self, balancer: &Balancer) {
        let proxy = &self.proxy;
        assert!(
            self.client.failed() == 0
                && proxy.status_5xx + proxy.connection_errors + proxy.retries + proxy.redispatches
                    == 0
                && proxy.failed() == proxy.response_errors
                && proxy.failed() == self.resent(),
            "requests were lost, or failed at HAProxy and were not sent again by the client: \
             hey: {}; HAProxy: {}\n{}",
            self.client,
            self.proxy,
            balancer.process.dump()
        );
        self.assert_enough_load();
    }

    fn assert_enough_load(&self) {
        assert!(
            self.client.requests() >= MIN_REQUESTS,
            "too little load to tell: {}",
            self.client
        );
    }
}

/// Fails the test, saying how to get `program`, if it cannot be run.
fn require(program: &str, args: &[&str]) {
    let found = std::process::Command::new(program)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    if let Err(error) = found {
        panic!(
            "cannot run {program}: {error}. These tests need haproxy, nginx and hey on the \
             PATH: `.ci/fleet` installs them (Debian: apt-get install haproxy nginx hey) and \
             runs them"
        );
    }
}

/// Waits a random part of the slow requests' period before a signal. The load runs on a clock
/// (each `hey` worker sends at most `qps` requests a second, on a ticker, all workers in step),
/// and a step that starts once a number of requests has been served would otherwise fall at the
/// same point of that clock every time, e.g. always just after the 300 ms requests ended.
async fn random_moment(rng: &mut Rng) {
    let period_ms = 1000 / u64::from(SLOW_QPS);
    tokio::time::sleep(Duration::from_millis(rng.between(0, period_ms))).await;
}

/// `env` as the harness takes it.
fn borrowed(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect()
}

fn ms(duration: Duration) -> String {
    format!("{} ms", duration.as_millis())
}
