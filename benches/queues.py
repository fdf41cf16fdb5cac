#!/usr/bin/env python3
"""Queues: messages per second end to end and the latency from `send()` to
the consumer's handler, Ridge on SQLite and on PostgreSQL (one node and
two), side by side with `wrangler dev` (miniflare's queue broker on
workerd, which keeps messages in memory).

One worker everywhere: `GET /send?count=N` sends N messages with one
`sendBatch()` (each body `{ t: Date.now() }`), `GET /one` sends one, and
its `queue()` handler counts the messages and keeps `Date.now() - t` of
each at the handler's start; `GET /stats` answers both. The consumer has
`max_batch_size = 100`, `max_batch_timeout = 0`.

  throughput   --messages messages sent as `/send?count=100` requests over
               4 connections (to both nodes in turn, for two), timed from
               the first send to the last message counted by the handlers
               (polled every 20 ms); CPU is the server processes' (utime +
               stime, the process tree for wrangler) over that time, per
               message.
  latency      --samples single `/one` sends, one every 25 ms (so each is a
               batch of its own), then the handlers' p50 and p99.

Ridge: `ridge serve` with the store (`--data-dir` for SQLite, `--store URL`
for PostgreSQL), the worker deployed with `ridge deploy` after `ridge
queues create`. PostgreSQL from --postgres (a database the script may
create databases in; default $RIDGE_TEST_POSTGRES_URL). wrangler from
benches/peers (npm).

Markdown on stdout, progress on stderr. Example:
  python3 benches/queues.py --ridge-bin target/release/ridge
"""

from __future__ import annotations

import argparse
import datetime as _dt
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
from http_load import cpu_seconds, free_port, log, machine_info, stop, stop_all, track  # noqa: E402
from node_compat import get as http_get  # noqa: E402

TOKEN = "bench-token"
WORKER = """\
let processed = 0;
const latencies = [];

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/send") {
      const count = Number(url.searchParams.get("count"));
      const messages = [];
      for (let i = 0; i < count; i++) messages.push({ body: { t: Date.now() } });
      await env.Q.sendBatch(messages);
      return new Response("sent");
    }
    if (url.pathname === "/one") {
      await env.Q.send({ t: Date.now() });
      return new Response("sent");
    }
    if (url.pathname === "/stats") return Response.json({ processed, latencies });
    if (url.pathname === "/reset") {
      processed = 0;
      latencies.length = 0;
      return new Response("reset");
    }
    return new Response("ready");
  },
  async queue(batch) {
    const now = Date.now();
    for (const message of batch.messages) latencies.push(now - message.body.t);
    processed += batch.messages.length;
  },
};
"""
CONFIG = {
    "name": "qbench",
    "main": "index.js",
    # The newest date wrangler's workerd (benches/peers) supports.
    "compatibility_date": "2026-05-01",
    "routes": ["qbench.test/*"],
    "queues": {
        "producers": [{"binding": "Q", "queue": "bench"}],
        "consumers": [{"queue": "bench", "max_batch_size": 100, "max_batch_timeout": 0}],
    },
}


def get(port: int, path: str) -> bytes:
    """The body of `GET path` on the bench worker; raises unless it is a 200."""
    status, body = http_get(port, path, host="qbench.test")
    if status != 200:
        raise RuntimeError(f"GET {path}: {status} {body[:200]!r}")
    return body


def wait_ready(port: int, proc: subprocess.Popen, log_path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited: {log_path.read_text()[-2000:]}")
        try:
            if get(port, "/") == b"ready":
                return
        except (OSError, RuntimeError, http.client.HTTPException):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"not ready in {timeout}s: {log_path.read_text()[-2000:]}")


class Target:
    """One setup under test: its processes and the edge ports to send to."""

    def __init__(self, name: str):
        self.name = name
        self.procs: list[subprocess.Popen] = []
        self.ports: list[int] = []

    def cpu(self) -> float:
        return sum(cpu_seconds(p.pid)[0] for p in self.procs)

    def stats(self) -> tuple[int, list[float]]:
        processed, latencies = 0, []
        for port in self.ports:
            answer = json.loads(get(port, "/stats"))
            processed += answer["processed"]
            latencies += answer["latencies"]
        return processed, latencies

    def reset(self) -> None:
        for port in self.ports:
            get(port, "/reset")

    def close(self) -> None:
        for proc in self.procs:
            stop(proc)


def spawn(cmd: list[str], cwd: Path, log_path: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    with open(log_path, "wb") as logf:
        proc = subprocess.Popen(cmd, cwd=cwd, env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL,
                                stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
    track(proc)
    return proc


def project(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "index.js").write_text(WORKER)
    (folder / "wrangler.json").write_text(json.dumps(CONFIG, indent=2))
    return folder


def ridge_target(name: str, ridge: str, scratch: Path, store: list[str], nodes: int) -> Target:
    target = Target(name)
    folder = project(scratch / "project")
    admins = []
    for index in range(nodes):
        port, admin = free_port(), free_port()
        log_path = scratch / f"node{index}.log"
        cmd = [ridge, "serve", "--listen", f"127.0.0.1:{port}", "--admin-listen", f"127.0.0.1:{admin}",
               "--data-dir", str(scratch / f"data{index}")] + store
        proc = spawn(cmd, scratch, log_path, {"RIDGE_ADMIN_TOKEN": TOKEN, "RUST_LOG": "warn"})
        target.procs.append(proc)
        target.ports.append(port)
        admins.append(admin)
    # The CLI is retried until the first node's admin API answers.
    env = {"RIDGE_SERVER": f"http://127.0.0.1:{admins[0]}", "RIDGE_ADMIN_TOKEN": TOKEN}
    for args in (["queues", "create", "bench"], ["deploy", str(folder)]):
        for _ in range(100):
            done = subprocess.run([ridge] + args, env={**os.environ, **env}, capture_output=True, text=True)
            if done.returncode == 0:
                break
            time.sleep(0.1)
        else:
            raise RuntimeError(f"ridge {' '.join(args)}: {done.stdout}{done.stderr}")
    for proc, port, index in zip(target.procs, target.ports, range(nodes)):
        wait_ready(port, proc, scratch / f"node{index}.log")
    return target


def wrangler_target(scratch: Path) -> Target:
    target = Target("wrangler dev")
    folder = project(scratch / "project")
    port = free_port()
    wrangler = BENCH_DIR / "peers" / "node_modules" / ".bin" / "wrangler"
    log_path = scratch / "wrangler.log"
    proc = spawn([str(wrangler), "dev", "--port", str(port), "--ip", "127.0.0.1", "--inspector-port",
                  str(free_port())], folder, log_path, {"WRANGLER_SEND_METRICS": "false", "CI": "1"})
    target.procs.append(proc)
    target.ports.append(port)
    wait_ready(port, proc, log_path, timeout=120)
    return target


def throughput(target: Target, messages: int) -> tuple[float, float]:
    """Messages per second end to end, and server CPU µs per message."""
    target.reset()
    requests = messages // 100
    next_request = iter(range(requests))
    lock = threading.Lock()

    refused = [0]

    def sender() -> None:
        while True:
            with lock:
                index = next(next_request, None)
            if index is None:
                return
            # A refused sendBatch stored nothing: it is sent again (the
            # local broker of wrangler dev refuses some under load).
            for attempt in range(5):
                try:
                    get(target.ports[index % len(target.ports)], "/send?count=100")
                    break
                except RuntimeError:
                    if attempt == 4:
                        raise
                    with lock:
                        refused[0] += 1

    cpu_before = target.cpu()
    started = time.monotonic()
    threads = [threading.Thread(target=sender) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    deadline = time.monotonic() + 600
    while True:
        processed, _ = target.stats()
        if processed >= requests * 100:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"{target.name}: {processed} of {requests * 100} processed")
        time.sleep(0.02)
    elapsed = time.monotonic() - started
    cpu = target.cpu() - cpu_before
    if refused[0]:
        log(f"[queues] {target.name}: {refused[0]} sends refused and sent again")
    return requests * 100 / elapsed, cpu / (requests * 100) * 1e6


def latency(target: Target, samples: int) -> tuple[float, float]:
    """p50 and p99 of send → handler start, in ms."""
    target.reset()
    for index in range(samples):
        get(target.ports[index % len(target.ports)], "/one")
        time.sleep(0.025)
    deadline = time.monotonic() + 60
    while True:
        processed, latencies = target.stats()
        if processed >= samples:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"{target.name}: {processed} of {samples} latencies")
        time.sleep(0.05)
    latencies.sort()
    return statistics.median(latencies), latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ridge-bin", default="target/release/ridge")
    parser.add_argument("--postgres", default=os.environ.get("RIDGE_TEST_POSTGRES_URL"))
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--only", help="comma-separated: sqlite, pg1, pg2, wrangler (default: all)")
    args = parser.parse_args()
    started = _dt.datetime.now(_dt.timezone.utc)
    ridge = str(Path(args.ridge_bin).resolve())
    rows = []
    setups = [("sqlite", "Ridge, SQLite", None, 1), ("wrangler", "wrangler dev (in memory)", "wrangler", 1)]
    if args.postgres:
        setups[1:1] = [("pg1", "Ridge, PostgreSQL, 1 node", "pg", 1), ("pg2", "Ridge, PostgreSQL, 2 nodes", "pg", 2)]
    if args.only:
        chosen = args.only.split(",")
        setups = [setup for setup in setups if setup[0] in chosen]
    base = args.postgres.rsplit("/", 1)[0] if args.postgres else None
    for index, (_, name, kind, nodes) in enumerate(setups):
        scratch = Path(tempfile.mkdtemp(prefix="ridge-queues-bench-"))
        database = None
        try:
            log(f"[queues] {name}: starting")
            if kind == "wrangler":
                target = wrangler_target(scratch)
            elif kind == "pg":
                database = f"ridge_queue_bench_{os.getpid()}_{index}"
                subprocess.run(["psql", args.postgres, "-qc", f"CREATE DATABASE {database}"], check=True)
                target = ridge_target(name, ridge, scratch, ["--store", f"{base}/{database}"], nodes)
            else:
                target = ridge_target(name, ridge, scratch, [], nodes)
            try:
                log(f"[queues] {name}: throughput")
                get(target.ports[0], "/send?count=100")  # warm-up
                time.sleep(1)
                rate, cpu = throughput(target, args.messages)
                log(f"[queues] {name}: latency")
                p50, p99 = latency(target, args.samples)
                rows.append((name, rate, cpu, p50, p99))
                log(f"[queues] {name}: {rate:.0f} msg/s, {cpu:.1f} µs CPU/msg, p50 {p50:.1f} ms, p99 {p99:.1f} ms")
            finally:
                target.close()
        finally:
            if database:
                subprocess.run(["psql", args.postgres, "-qc", f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"])
    info = machine_info()
    print(f"Queues, {started:%Y-%m-%d %H:%M} UTC, {info['cpu']} ({info['nproc']} cores, {info['mem']})\n")
    print(f"`python3 benches/queues.py --messages {args.messages} --samples {args.samples}`\n")
    print("| setup | messages/s | server CPU µs/message | send → handler p50 | p99 |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, rate, cpu, p50, p99 in rows:
        print(f"| {name} | {rate:,.0f} | {cpu:.1f} | {p50:.1f} ms | {p99:.1f} ms |")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        stop_all()
