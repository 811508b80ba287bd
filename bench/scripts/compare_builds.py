#!/usr/bin/env python3
"""Start-up and shutdown of two builds of the lifecycle variants, side by side.

Usage: compare_builds.py OLD_DIR NEW_DIR [RUNS]

OLD_DIR and NEW_DIR each hold the release binaries `floor`, `graceful_0`, `graceful_10` and
`graceful_1000` of graceful-bench, built from the two commits compared (a worktree each,
`cargo build --release -p graceful-bench --bin ...` with its own CARGO_TARGET_DIR). As the
harness does (bench/src/child.rs, lifecycle.rs): stdin null, stdout and stderr piped, the
GRACEFUL_* settings removed; the time from the spawn to the first whole "ready" line, 50 ms
to settle, the peak resident memory so far (VmHWM), then SIGTERM and the time until the
process is reaped, with its exit code (0 expected). Every round runs each (binary, build) once,
in a fresh random order, so that a busy moment of a shared machine falls on both builds.
Prints a Markdown table: medians, p90 and the ratio new/old of the medians.
"""
import os
import random
import select
import signal
import statistics
import subprocess
import sys
import time

BINARIES = ["floor", "graceful_0", "graceful_10", "graceful_1000"]
SETTLE = 0.050
TIMEOUT = 30.0
ENV = {k: v for k, v in os.environ.items() if not k.startswith("GRACEFUL_")}


def peak_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None


def run_once(path):
    start = time.perf_counter()
    child = subprocess.Popen([path], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, bufsize=0, env=ENV)
    poller = select.poll()
    poller.register(child.stdout.fileno(), select.POLLIN)
    seen = b""
    while b"ready" not in seen.split(b"\n")[:-1]:
        left = start + TIMEOUT - time.perf_counter()
        if left <= 0:
            child.kill()
            child.wait()
            raise RuntimeError(f"{path}: no ready line within {TIMEOUT} s")
        if poller.poll(left * 1000):
            chunk = os.read(child.stdout.fileno(), 4096)
            if not chunk:
                child.wait()
                raise RuntimeError(f"{path}: exited {child.returncode} before ready")
            seen += chunk
    ready = time.perf_counter() - start
    time.sleep(SETTLE)
    peak = peak_kib(child.pid)
    sent = time.perf_counter()
    os.kill(child.pid, signal.SIGTERM)
    _, status, _ = os.wait4(child.pid, 0)
    reaped = time.perf_counter()
    child.returncode = os.waitstatus_to_exitcode(status)
    child.stdout.close()
    child.stderr.close()
    return {"ready": ready * 1e3, "exit": (reaped - sent) * 1e3, "code": child.returncode,
            "peak": peak}


def p90(values):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(0.9 * (len(values) - 1))))]


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    dirs = {"old": sys.argv[1], "new": sys.argv[2]}
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 40
    pairs = [(binary, build) for binary in BINARIES for build in dirs]
    samples = {pair: [] for pair in pairs}
    for _ in range(runs):
        random.shuffle(pairs)
        for binary, build in pairs:
            samples[(binary, build)].append(run_once(os.path.join(dirs[build], binary)))
    print("| binary | ready, median old / new (ms) | p90 | ratio | SIGTERM to reaped, median "
          "old / new (ms) | p90 | ratio | peak RSS at ready, median old / new (KiB) | "
          "non-zero exits |")
    print("|---|---|---|---|---|---|---|---|---|")
    for binary in BINARIES:
        old, new = samples[(binary, "old")], samples[(binary, "new")]
        row = [binary]
        for key in ("ready", "exit"):
            a = statistics.median(s[key] for s in old)
            b = statistics.median(s[key] for s in new)
            row += [f"{a:.2f} / {b:.2f}",
                    f"{p90([s[key] for s in old]):.2f} / {p90([s[key] for s in new]):.2f}",
                    f"{b / a:.2f}"]
        row.append(f"{statistics.median(s['peak'] for s in old):.0f} / "
                   f"{statistics.median(s['peak'] for s in new):.0f}")
        row.append(f"{sum(s['code'] != 0 for s in old)} / {sum(s['code'] != 0 for s in new)}")
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
