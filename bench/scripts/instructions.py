#!/usr/bin/env python3
"""Instructions per request: what each server of the serving benchmark executes to serve one
request, counted by valgrind rather than timed, so that a busy moment of a shared machine does
not move the figure.

Usage, from the repository's root:

    cargo build --release -p graceful-bench --bin serve_graceful --bin serve_axum \\
        --bin serve_hyper --bin grpc_graceful --bin grpc_tonic
    bench/scripts/instructions.py [ROUNDS] [OUT]

Needs valgrind and h2load (`apt-get install valgrind nghttp2-client`). Each server runs under
cachegrind (no cache simulation: instructions only) twice per round, driven by h2load for a
fixed number of requests, LOW then HIGH, and is stopped with SIGTERM once the load is done; the
difference of the two totals over HIGH - LOW is the count per request, start-up, shutdown and
the load's own set-up cancelling out. A run counts only if every request succeeded.

- HTTP/1 keep-alive: `h2load --h1 -c8 -m1`;
- HTTP/2: `h2load -c8 -m16`;
- connection churn: `h2load --h1 -c8 -m1 -H 'Connection: close'`;
- gRPC unary: `h2load -c8 -m16`, one framed `SlowRequest { ms: 0 }` per call;
- idle connections: N keep-alive connections opened by this script, each answered once and
  left open, then SIGTERM: instructions per connection from its accept to the exit, the
  difference between N and no connection over N.

Valgrind runs the threads one at a time: the counts are the work done, not how it spreads over
cores. Writes OUT (default benches/results/instructions.md): medians over ROUNDS (default 3),
and the lowest and highest.
"""
import datetime
import os
import platform
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile

TARGET = "target/release"
LOW, HIGH = 2_000, 12_000
IDLE = 4_000
LISTENING = "listening on http://"
GRPC_PATH = "/graceful.example.Work/Slow"
# gRPC's framing of `SlowRequest { ms: 0 }`: not compressed, a length of 0, no field.
GRPC_BODY = bytes([0, 0, 0, 0, 0])

HTTP = ["serve_graceful", "serve_axum", "serve_hyper"]
GRPC = ["grpc_graceful", "grpc_tonic"]
NAMES = {
    "serve_graceful": "`graceful::http::serve`",
    "serve_axum": "`axum::serve` + `with_graceful_shutdown`",
    "serve_hyper": "hyper-util `GracefulShutdown`",
    "grpc_graceful": "`graceful::grpc::Server`",
    "grpc_tonic": "tonic `serve_with_shutdown`",
}


def start(server, out):
    """The server under cachegrind, and its address once it listens."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRACEFUL_")}
    env["PORT"] = "0"
    process = subprocess.Popen(
        [
            "valgrind",
            "--tool=cachegrind",
            "--cache-sim=no",
            f"--cachegrind-out-file={out}",
            f"{TARGET}/{server}",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    while True:
        line = process.stdout.readline()
        if not line:
            raise SystemExit(f"{server} exited before it listened")
        if LISTENING in line:
            return process, line.strip().split(LISTENING)[1]


def stop(process, out):
    """SIGTERM, the exit, and the instructions the process executed."""
    process.send_signal(signal.SIGTERM)
    if process.wait(timeout=300) != 0:
        raise SystemExit(f"exit code {process.returncode}")
    with open(out) as counts:
        for line in counts:
            if line.startswith("summary:"):
                os.unlink(out)
                return int(line.split()[1])
    raise SystemExit(f"no summary in {out}")


def load(scenario, addr, requests, body):
    url = f"http://{addr}/"
    args = {
        "http1": ["--h1", "-c8", "-m1"],
        "http2": ["-c8", "-m16"],
        "churn": ["--h1", "-c8", "-m1", "-H", "Connection: close"],
        "grpc": ["-c8", "-m16", "-H", "content-type: application/grpc", "-H", "te: trailers",
                 "-d", body],
    }[scenario]
    if scenario == "grpc":
        url = f"http://{addr}{GRPC_PATH}"
    done = subprocess.run(["h2load", f"-n{requests}", *args, url], capture_output=True, text=True)
    wanted = f"{requests} succeeded, 0 failed"
    if wanted not in done.stdout:
        raise SystemExit(f"h2load {args} {url}: not every request succeeded\n{done.stdout}")


def total(server, scenario, requests, body):
    out = tempfile.mktemp(prefix="cachegrind.", dir=tempfile.gettempdir())
    process, addr = start(server, out)
    try:
        load(scenario, addr, requests, body)
    except BaseException:
        process.kill()
        raise
    return stop(process, out)


def idle_total(server, connections):
    out = tempfile.mktemp(prefix="cachegrind.", dir=tempfile.gettempdir())
    process, addr = start(server, out)
    host, port = addr.rsplit(":", 1)
    sockets = []
    try:
        for _ in range(connections):
            client = socket.create_connection((host, int(port)))
            client.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
            sockets.append(client)
        for client in sockets:
            answer = b""
            while not answer.endswith(b"hello"):
                chunk = client.recv(4096)
                if not chunk:
                    raise SystemExit(f"{server} closed a connection before answering")
                answer += chunk
        return stop(process, out)
    finally:
        if process.poll() is None:
            process.kill()
        for client in sockets:
            client.close()


def per_request(server, scenario, body):
    low = total(server, scenario, LOW, body)
    high = total(server, scenario, HIGH, body)
    return (high - low) / (HIGH - LOW)


def per_connection(server):
    return (idle_total(server, IDLE) - idle_total(server, 0)) / IDLE


def version(command):
    try:
        return subprocess.run(command, capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    out = sys.argv[2] if len(sys.argv) > 2 else "benches/results/instructions.md"
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, IDLE + 100)), hard))
    with tempfile.NamedTemporaryFile(suffix=".grpc", delete=False) as body:
        body.write(GRPC_BODY)
    rows = [
        ("HTTP/1 keep-alive", "http1", HTTP),
        ("HTTP/2", "http2", HTTP),
        ("connection churn", "churn", HTTP),
        ("gRPC unary", "grpc", GRPC),
        (f"{IDLE} idle connections, per connection to the exit", "idle", HTTP),
    ]
    counts = {}
    for round_ in range(rounds):
        for title, scenario, servers in rows:
            for server in servers:
                if scenario == "idle":
                    count = per_connection(server)
                else:
                    count = per_request(server, scenario, body.name)
                counts.setdefault((scenario, server), []).append(count)
                print(f"round {round_ + 1}: {title}: {server}: {count:.0f}", flush=True)
    os.unlink(body.name)

    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# graceful: instructions per request",
        "",
        f"Measured {now} on {platform.machine()}, Linux {platform.release()}, "
        f"{version(['rustc', '--version'])}, {version(['valgrind', '--version'])}; "
        f"{rounds} rounds. Reproduce with `bench/scripts/instructions.py` (its docstring has "
        "the build command and the method).",
        "",
        "What each server executes per request, counted by cachegrind: two runs of the same "
        f"server with {LOW} and {HIGH} requests from h2load, the difference of their totals "
        f"over {HIGH - LOW}, so that start-up and shutdown cancel out. Unlike a rate, the "
        "count does not move with the load of a shared machine: the rounds of a scenario "
        "differ by under 1 %. It counts work, not waiting: a lock two threads contend for, or "
        "a cache "
        "line they both write, costs time the count does not show (the serving benchmark, "
        "`serving.md`, and the allocation test cover those). Median (lowest – highest).",
        "",
        "| scenario | server | instructions | graceful / this |",
        "| --- | --- | ---: | ---: |",
    ]
    for title, scenario, servers in rows:
        ours = statistics.median(counts[(scenario, servers[0])])
        for server in servers:
            values = counts[(scenario, server)]
            median = statistics.median(values)
            ratio = "" if server == servers[0] else f"{ours / median:.3f}"
            lines.append(
                f"| {title} | {NAMES[server]} | {median:,.0f} "
                f"({min(values):,.0f} – {max(values):,.0f}) | {ratio} |"
            )
    with open(out, "w") as results:
        results.write("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
