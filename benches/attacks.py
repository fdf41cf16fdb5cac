#!/usr/bin/env python3
"""Healthy-worker latency while a node is attacked: two Ridge builds side by side.

`ridge serve --workers` runs three workers: `healthy` (answers "ok"),
`hostile` (fixtures/workers/adversarial, whose paths misbehave) and
`looping` (top-level `while (true) {}`: it never starts).  For each attack
class, an attacker process runs against the node while a probe sends
sequential keep-alive requests to `healthy` for a fixed time; reported are
the probe's p50/p99/max latency, the requests it completed, and the node's
CPU use during the attack.  Each class runs against each build in turn, in
alternating order per round, on a fresh node.

Classes (issue 20's numbering):
  none        no attack: the reference
  slowloris   (1) 1,000 connections dribbling header bytes
  cpu-hog     (15) two clients requesting /spin (an endless loop) back to back
  timer-loop  (3) two clients requesting /timer-loop (CPU after the response)
  start-fail  (8) two clients requesting the worker that never starts
  log-flood   (9) two clients requesting /log-flood (10,000 console lines each)
  kv-flood    (11) two clients requesting /kv-flood (2,000 KV puts each)
  memory      (4) two clients requesting /big-buffer (a 1 GiB ArrayBuffer)

Python 3.11 standard library only.  Markdown to stdout, progress to stderr.

Example:
  python3 benches/attacks.py --ridge-bin target/release/ridge \
      --baseline-ridge-bin /tmp/ridge-base --duration 5 --rounds 2
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
from http_load import cpu_seconds, free_port, machine_info  # noqa: E402

CLASSES = ("none", "slowloris", "cpu-hog", "timer-loop", "start-fail", "log-flood", "kv-flood", "memory")
ATTACK_PATHS = {
    "cpu-hog": ("hostile.test", "/spin"),
    "timer-loop": ("hostile.test", "/timer-loop"),
    "start-fail": ("looping.test", "/"),
    "log-flood": ("hostile.test", "/log-flood"),
    "kv-flood": ("hostile.test", "/kv-flood"),
    "memory": ("hostile.test", "/big-buffer"),
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def workers_folder() -> Path:
    """The three workers, in a fresh temporary folder."""
    root = Path(tempfile.mkdtemp(prefix="ridge-attacks-"))
    healthy = root / "healthy"
    healthy.mkdir()
    (healthy / "ridge.toml").write_text('name = "healthy"\nmain = "index.js"\nroutes = ["healthy.test/*"]\n')
    (healthy / "index.js").write_text('export default { fetch: () => new Response("ok") };\n')
    hostile = root / "hostile"
    shutil.copytree(REPO_DIR / "fixtures/workers/adversarial", hostile)
    config = (hostile / "ridge.toml").read_text()
    (hostile / "ridge.toml").write_text(
        config.replace('main = "index.js"', 'main = "index.js"\nroutes = ["hostile.test/*"]')
    )
    looping = root / "looping"
    looping.mkdir()
    (looping / "ridge.toml").write_text('name = "looping"\nmain = "index.js"\nroutes = ["looping.test/*"]\n')
    shutil.copy(REPO_DIR / "fixtures/workers/top-level-loop.js", looping / "index.js")
    return root


def start_node(binary: str, folder: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    data = folder / f".data-{port}"
    proc = subprocess.Popen(
        [binary, "serve", "--workers", str(folder), "--listen", f"127.0.0.1:{port}",
         "--data-dir", str(data), "--snapshots", "never"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            if get("healthy.test", "/", port)[0] == 200:
                return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{binary} did not start")


def get(host: str, path: str, port: int, timeout: float = 10.0) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Host": host})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def attacker(kind: str, port: int) -> None:
    """Runs one attack until killed (a child process of the benchmark)."""
    if kind == "slowloris":
        sockets = []
        for _ in range(1000):
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
                s.sendall(b"GET / HTTP/1.1\r\nHost: healthy.test\r\n")
                sockets.append(s)
            except OSError:
                pass
        while True:
            for s in list(sockets):
                try:
                    s.sendall(b"X")
                except OSError:
                    sockets.remove(s)
            time.sleep(1)
    host, path = ATTACK_PATHS[kind]
    while True:
        try:
            get(host, path, port, timeout=30)
        except OSError:
            time.sleep(0.05)


def probe(port: int, duration: float) -> list[float]:
    """Sequential keep-alive requests to the healthy worker: latencies in ms."""
    latencies = []
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    end = time.perf_counter() + duration
    while time.perf_counter() < end:
        started = time.perf_counter()
        try:
            connection.request("GET", "/", headers={"Host": "healthy.test"})
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise OSError(f"status {response.status}")
        except (OSError, http.client.HTTPException):
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            continue
        latencies.append((time.perf_counter() - started) * 1000)
    connection.close()
    return latencies


def measure(binary: str, kind: str, duration: float) -> dict:
    folder = workers_folder()
    proc, port = start_node(binary, folder)
    attackers = []
    try:
        probe(port, 0.5)  # warm-up
        count = 1 if kind == "slowloris" else 2
        if kind != "none":
            for _ in range(count):
                attackers.append(subprocess.Popen(
                    [sys.executable, __file__, "--attacker", kind, "--port", str(port)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                ))
            time.sleep(1.0)  # let the attack start
        cpu_before, _ = cpu_seconds(proc.pid)
        started = time.perf_counter()
        latencies = probe(port, duration)
        elapsed = time.perf_counter() - started
        cpu_after, _ = cpu_seconds(proc.pid)
        alive = proc.poll() is None
    finally:
        for a in attackers:
            a.kill()
            a.wait()
        proc.kill()
        proc.wait()
        shutil.rmtree(folder, ignore_errors=True)
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else float("nan")
    return {
        "p50": pick(0.50), "p99": pick(0.99), "max": latencies[-1] if latencies else float("nan"),
        "requests": len(latencies),
        "cpu": (cpu_after - cpu_before) / elapsed, "alive": alive,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ridge-bin", default=str(REPO_DIR / "target/release/ridge"))
    parser.add_argument("--baseline-ridge-bin", required=False,
                        help="an earlier build, measured side by side as 'baseline'")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of probing per class (default 5)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds; medians are reported (default 1)")
    parser.add_argument("--classes", default=",".join(CLASSES), help="comma-separated attack classes")
    parser.add_argument("--attacker", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.attacker:
        attacker(args.attacker, args.port)
        return 0
    builds = [("ridge", args.ridge_bin)]
    if args.baseline_ridge_bin:
        builds.append(("baseline", args.baseline_ridge_bin))
    classes = args.classes.split(",")
    results: dict[tuple[str, str], list[dict]] = {}
    for round_index in range(args.rounds):
        order = builds if round_index % 2 == 0 else list(reversed(builds))
        for kind in classes:
            for name, binary in order:
                log(f"round {round_index + 1}: {kind} on {name}")
                results.setdefault((kind, name), []).append(measure(binary, kind, args.duration))
    info = machine_info()
    print(f"Machine: {info['nproc']} cores, {info['cpu']}, {info['mem']}, Linux {info['kernel']}; "
          f"{args.rounds} round(s) of {args.duration:g} s per class and build.\n")
    print("| attack | build | healthy p50 | healthy p99 | healthy max | healthy requests | node CPU (cores) | node alive |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for kind in classes:
        for name, _ in builds:
            samples = results[(kind, name)]
            med = lambda key: statistics.median(s[key] for s in samples)
            alive = all(s["alive"] for s in samples)
            print(f"| {kind} | {name} | {med('p50'):.2f} ms | {med('p99'):.2f} ms | {med('max'):.0f} ms | "
                  f"{med('requests'):.0f} | {med('cpu'):.2f} | {'yes' if alive else 'NO'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
