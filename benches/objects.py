#!/usr/bin/env python3
"""Durable Objects: Ridge side by side with workerd, the same worker on each
(a class `Bench`, SQLite-backed, bound as BENCH; workerd keeps its storage
on local disk, Ridge in its data folder).

Four measurements:

  RPC calls to one object   GET /rpc?n=N: N sequential `await stub.ping()`
                            to one object; per call = (request − GET /) ÷ N.
  SQL INSERT                GET /insert-each?n=N: one call to the object,
                            which runs N INSERTs with an `await` between
                            them (a commit each); /insert-batch: N INSERTs
                            in one turn (one commit). Per insert =
                            (request − GET /rpc?n=1) ÷ N.
  cold start, 10 MB         objects filled with 10 MB of rows, the runtime
                            restarted, the worker warmed with GET /; then
                            the first call to each object (open its
                            database, construct it, read one row) and a
                            second one, wall time at the client.
  hibernated WebSockets     RSS of the server with one WebSocket open to
                            one object, then with --sockets more, each
                            accepted with `ctx.acceptWebSocket()` and
                            idle; per socket = the difference ÷ sockets.
                            The clients connect from many loopback
                            addresses (Ridge allows 128 WebSockets per
                            client address and worker), and one echoes a
                            message at the end to show they are live.

One keep-alive connection sends requests back to back for --duration
seconds after a warm-up; CPU is the server's (utime + stime), on CPU 0,
the client on CPU 1. Ridge: `ridge serve --workers DIR --isolate-threads 1`
(the worker's `[limits] cpu_ms = 300000`, for the 10 MB fill); workerd: a
generated config with the namespace and a disk service.

Python 3.11 standard library; workerd from benches/peers (npm). Markdown on
stdout, progress on stderr. Example:
  python3 benches/objects.py --ridge-bin target/release/ridge
"""

from __future__ import annotations

import argparse
import base64
import datetime as _dt
import os
import resource
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
from http_load import SkipRuntime, machine_info, stop, stop_all  # noqa: E402
from node_compat import (  # noqa: E402
    CLIENT_CPU,
    COMPAT_DATE,
    Failed,
    get,
    log,
    runtime_of,
    start,
    wait_idle,
)
from services import measure  # noqa: E402  (wall and CPU µs per request)

WORKER = """\
import { DurableObject } from "cloudflare:workers";

export class Bench extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, v TEXT)");
  }
  ping() {
    return 1;
  }
  async insertEach(n) {
    for (let i = 0; i < n; i++) {
      this.ctx.storage.sql.exec("INSERT INTO rows (v) VALUES (?)", "value");
      await Promise.resolve();
    }
    return n;
  }
  insertBatch(n) {
    for (let i = 0; i < n; i++) this.ctx.storage.sql.exec("INSERT INTO rows (v) VALUES (?)", "value");
    return n;
  }
  fill(megabytes) {
    const row = "x".repeat(1000);
    for (let i = 0; i < megabytes * 1024; i++) this.ctx.storage.sql.exec("INSERT INTO rows (v) VALUES (?)", row);
    return this.ctx.storage.sql.databaseSize > megabytes * 1000 * 1000 ? 1 : 0;
  }
  first() {
    return this.ctx.storage.sql.exec("SELECT length(v) AS n FROM rows WHERE id = 1").one().n;
  }
  fetch() {
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server);
    return new Response(null, { status: 101, webSocket: client });
  }
  webSocketMessage(ws, message) {
    ws.send(message);
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const n = Number(url.searchParams.get("n") ?? "0");
    const stub = env.BENCH.getByName(url.searchParams.get("name") ?? "bench");
    switch (url.pathname) {
      case "/rpc": {
        let sum = 0;
        for (let i = 0; i < n; i++) sum += await stub.ping();
        return new Response(String(sum));
      }
      case "/insert-each":
        return new Response(String(await stub.insertEach(n)));
      case "/insert-batch":
        return new Response(String(await stub.insertBatch(n)));
      case "/fill":
        return new Response(String(await stub.fill(n)));
      case "/first":
        return new Response(String(await stub.first()));
      case "/ws":
        return stub.fetch(request);
      default:
        return new Response("ok\\n");
    }
  },
};
"""

RIDGE_TOML = f"""\
name = "bench"
main = "index.js"
compatibility_date = "{COMPAT_DATE}"
routes = ["127.0.0.1/*"]

[[durable_objects.bindings]]
name = "BENCH"
class_name = "Bench"

[[migrations]]
tag = "v1"
new_sqlite_classes = ["Bench"]

[limits]
cpu_ms = 300000
"""

WORKERD_CONFIG = """\
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [ (name = "main", worker = .main), (name = "storage", disk = (path = "@STORAGE@", writable = true)) ],
  sockets = [ (name = "http", address = "@ADDRESS@", http = (), service = "main") ],
);

const main :Workerd.Worker = (
  modules = [ (name = "worker.js", esModule = embed "worker.js") ],
  compatibilityDate = "@DATE@",
  bindings = [ (name = "BENCH", durableObjectNamespace = "Bench") ],
  durableObjectNamespaces = [ (className = "Bench", uniqueKey = "bench-Bench", enableSql = true) ],
  durableObjectStorage = (localDisk = "storage"),
);
"""

COLD_OBJECTS = 5
FILL_MB = 10


def write_worker(runtime: str, folder: Path) -> None:
    if runtime == "ridge":
        worker = folder / "workers" / "bench"
        worker.mkdir(parents=True)
        (worker / "index.js").write_text(WORKER)
        (worker / "ridge.toml").write_text(RIDGE_TOML)
        return
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "storage").mkdir()
    (folder / "worker.js").write_text(WORKER)
    (folder / "config.template").write_text(
        WORKERD_CONFIG.replace("@DATE@", COMPAT_DATE).replace("@STORAGE@", str(folder / "storage")))


def timed_get(port: int, path: str, expect: bytes) -> float:
    t0 = time.perf_counter()
    status, body = get(port, path)
    ms = (time.perf_counter() - t0) * 1000
    if status != 200 or body != expect:
        raise Failed(f"{path}: HTTP {status} {body[:200]!r}")
    return ms


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise Failed(f"no VmRSS for {pid}")


def open_websocket(port: int, source: str) -> socket.socket:
    """A WebSocket to the room object, from loopback address `source`."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30, source_address=(source, 0))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /ws?name=room HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            raise Failed(f"the server closed a WebSocket handshake: {head[:200]!r}")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        raise Failed(f"WebSocket handshake answered {head[:200]!r}")
    return sock


def echo(sock: socket.socket, text: bytes) -> bytes:
    """Sends a masked text frame and reads the server's unmasked answer."""
    mask = os.urandom(4)
    sock.sendall(bytes([0x81, 0x80 | len(text)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(text)))
    frame = sock.recv(2 + len(text))
    return frame[2:]


def websocket_memory(proc, port: int, count: int) -> tuple[float, float, int]:
    """(KiB of server RSS per hibernated WebSocket, MiB for all of them,
    how many opened: fewer than `count` when the server refused one)."""
    sockets = [open_websocket(port, "127.0.0.1")]
    if echo(sockets[0], b"warm") != b"warm":
        raise Failed("the first WebSocket does not echo")
    time.sleep(1)
    before = rss_kib(proc.pid)
    for i in range(count):
        source = f"127.1.{i // 100 // 250}.{i // 100 % 250 + 1}"
        try:
            sockets.append(open_websocket(port, source))
        except (Failed, OSError) as refused:
            log(f"  WebSocket {i + 1} refused ({refused}); measuring the {i} open")
            break
        if i and i % 2000 == 0:
            log(f"  {i} WebSockets open")
    opened = len(sockets) - 1
    time.sleep(2)
    after = rss_kib(proc.pid)
    if echo(sockets[-1], b"live") != b"live":
        raise Failed("the last WebSocket does not echo")
    for sock in sockets:
        sock.close()
    return (after - before) / opened, (after - before) / 1024, opened


def run_round(runtime, scratch: Path, args) -> dict[str, tuple[float, float]]:
    folder = scratch / f"{runtime.name}-{len(list(scratch.iterdir()))}"
    write_worker(runtime.name, folder)
    results: dict[str, tuple[float, float]] = {}
    proc, port, _ = start(runtime, folder, b"ok\n", 60)
    try:
        wait_idle(proc.pid)
        n = args.calls
        base = measure(proc, port, "/", b"ok\n", args)
        wall, cpu = measure(proc, port, f"/rpc?n={n}", str(n).encode(), args)
        results["rpc"] = ((wall - base[0]) / n, (cpu - base[1]) / n)
        one_call = measure(proc, port, "/rpc?n=1", b"1", args)
        for op in ("insert-each", "insert-batch"):
            wall, cpu = measure(proc, port, f"/{op}?n={args.inserts}", str(args.inserts).encode(), args)
            results[op] = ((wall - one_call[0]) / args.inserts, (cpu - one_call[1]) / args.inserts)
        for k in range(COLD_OBJECTS):
            timed_get(port, f"/fill?n={FILL_MB}&name=cold{k}", b"1")
        for op, (wall, cpu) in results.items():
            log(f"{runtime.name} {op}: {wall:.1f} µs wall, {cpu:.1f} µs CPU")
    finally:
        stop(proc)
    # Cold starts: a new process, the worker warm, the objects not.
    proc, port, _ = start(runtime, folder, b"ok\n", 60)
    try:
        wait_idle(proc.pid)
        cold, warm = [], []
        for k in range(COLD_OBJECTS):
            cold.append(timed_get(port, f"/first?name=cold{k}", b"1000"))
            warm.append(timed_get(port, f"/first?name=cold{k}", b"1000"))
        results["cold"] = (statistics.median(cold), statistics.median(warm))
        log(f"{runtime.name} cold start of a {FILL_MB} MB object: {results['cold'][0]:.1f} ms "
            f"(then {results['cold'][1]:.2f} ms)")
        results["websockets"] = websocket_memory(proc, port, args.sockets)
        log(f"{runtime.name} hibernated WebSockets: {results['websockets'][0]:.2f} KiB each")
    finally:
        stop(proc)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ridge-bin", default=None, help="the ridge binary [default: target/release/ridge]")
    parser.add_argument("--calls", type=int, default=20, help="RPC calls per request [default: 20]")
    parser.add_argument("--inserts", type=int, default=100, help="INSERTs per request [default: 100]")
    parser.add_argument("--sockets", type=int, default=10000, help="hibernated WebSockets [default: 10000]")
    parser.add_argument("--duration", type=float, default=5, help="seconds of load per measurement")
    parser.add_argument("--warmup", type=float, default=1, help="seconds of warm-up per measurement")
    parser.add_argument("--rounds", type=int, default=2, help="rounds, runtimes alternating")
    args = parser.parse_args()
    os.sched_setaffinity(0, {CLIENT_CPU})
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if args.sockets + 1000 > hard:
        raise SystemExit(f"--sockets {args.sockets} needs a descriptor limit above {args.sockets + 1000} (hard {hard})")
    runtimes = []
    for name in ("ridge", "workerd"):
        try:
            runtimes.append(runtime_of(name, args.ridge_bin))
        except SkipRuntime as skipped:
            log(f"{name}: not run ({skipped})")
    started = _dt.datetime.now(_dt.timezone.utc)
    results: dict[str, list[dict]] = {rt.name: [] for rt in runtimes}
    with tempfile.TemporaryDirectory(prefix="ridge-bench-objects-") as tmp:
        try:
            for round_no in range(args.rounds):
                for rt in runtimes:
                    log(f"round {round_no + 1}/{args.rounds}: {rt.name}")
                    results[rt.name].append(run_round(rt, Path(tmp), args))
        finally:
            stop_all()
    print(f"### Durable Objects ({started:%Y-%m-%d %H:%M} UTC)\n")
    print(f"- Command: `python3 benches/objects.py {' '.join(sys.argv[1:])}`")
    print(f"- Machine: {', '.join(f'{k} {v}' for k, v in machine_info().items())}")
    for rt in runtimes:
        print(f"- {rt.name}: {rt.version}")
    print(f"\n{args.rounds} rounds, runtimes alternating, medians; ratios ÷ workerd, per round in "
          "parentheses. Per-call and per-insert rows: one connection, "
          f"{args.duration:g} s per measurement after {args.warmup:g} s of warm-up.\n")
    print("| measurement | runtime | wall | CPU | wall ÷ workerd | CPU ÷ workerd |")
    print("|---|---|---:|---:|---:|---:|")
    labels = {
        "rpc": (f"RPC call to one object ({args.calls} per request), per call", "µs"),
        "insert-each": (f"SQL INSERT, an `await` between ({args.inserts} per call), per insert", "µs"),
        "insert-batch": (f"SQL INSERT, {args.inserts} in one turn, per insert", "µs"),
    }

    def ratio(rt, key, k):
        if rt.name == "workerd" or "workerd" not in results:
            return "–"
        per = [r[key][k] / w[key][k] for r, w in zip(results[rt.name], results["workerd"])]
        return f"**{statistics.median(per):.2f}×** ({', '.join(f'{p:.2f}' for p in per)})"

    for key, (label, unit) in labels.items():
        for rt in runtimes:
            rounds = results[rt.name]
            wall = statistics.median(r[key][0] for r in rounds)
            cpu = statistics.median(r[key][1] for r in rounds)
            print(f"| {label} | {rt.name} | {wall:.1f} {unit} | {cpu:.1f} {unit} | {ratio(rt, key, 0)} | "
                  f"{ratio(rt, key, 1)} |")
    print("\n| measurement | runtime | value | ÷ workerd |")
    print("|---|---|---:|---:|")
    for rt in runtimes:
        rounds = results[rt.name]
        cold = statistics.median(r["cold"][0] for r in rounds)
        warm = statistics.median(r["cold"][1] for r in rounds)
        print(f"| first call to an object with {FILL_MB} MB of rows (warm worker, new process) | {rt.name} | "
              f"{cold:.1f} ms (next call {warm:.2f} ms) | {ratio(rt, 'cold', 0)} |")
    for rt in runtimes:
        rounds = results[rt.name]
        each = statistics.median(r["websockets"][0] for r in rounds)
        total = statistics.median(r["websockets"][1] for r in rounds)
        opened = min(r["websockets"][2] for r in rounds)
        print(f"| server memory per hibernated WebSocket ({opened} open) | {rt.name} | "
              f"{each:.2f} KiB ({total:.0f} MiB) | {ratio(rt, 'websockets', 0)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
