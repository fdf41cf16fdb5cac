#!/usr/bin/env python3
"""Service bindings: what one call from a worker to another costs, Ridge
side by side with workerd (both run the two workers in one process).

The same two workers on each runtime: `front` (routed) binds `back` as
BACK; `back` is a WorkerEntrypoint whose `ping()` returns 1 and whose
`fetch()` answers "x". Each request to front makes --calls sequential calls:

  GET /          no call (the reference: what HTTP and the handler cost)
  GET /rpc?n=N   N × `await env.BACK.ping()`
  GET /fetch?n=N N × `await (await env.BACK.fetch("http://back/")).text()`

One keep-alive connection sends requests back to back for --duration
seconds after a warm-up, so wall time per request is latency. Per call:
(request − reference) ÷ N, for wall time and for the server's CPU time
(utime + stime of all its threads). The server runs on CPU 0, the client on
CPU 1. Ridge: `ridge serve --workers DIR --isolate-threads 1`; workerd: a
generated config with two services and a service binding.

Calls never cross nodes in Ridge (every node runs every worker of its
store and calls the callee there), so there is no cross-node row.

Python 3.11 standard library; workerd from benches/peers (npm). Markdown on
stdout, progress on stderr. Example:
  python3 benches/services.py --ridge-bin target/release/ridge
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import statistics
import sys
import tempfile
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
from http_load import SkipRuntime, cpu_seconds, machine_info, stop, stop_all  # noqa: E402
from node_compat import (  # noqa: E402
    CLIENT_CPU,
    COMPAT_DATE,
    Failed,
    log,
    run_load,
    runtime_of,
    start,
    wait_idle,
)

FRONT = """\
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const n = Number(url.searchParams.get("n") ?? "0");
    let sum = 0;
    if (url.pathname === "/rpc") {
      for (let i = 0; i < n; i++) sum += await env.BACK.ping();
    } else if (url.pathname === "/fetch") {
      for (let i = 0; i < n; i++) sum += (await (await env.BACK.fetch("http://back/")).text()).length;
    } else {
      return new Response("ok\\n");
    }
    return new Response(String(sum));
  },
};
"""

BACK = """\
import { WorkerEntrypoint } from "cloudflare:workers";

export default class extends WorkerEntrypoint {
  fetch() {
    return new Response("x");
  }
  ping() {
    return 1;
  }
}
"""

WORKERD_CONFIG = """\
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [ (name = "front", worker = .front), (name = "back", worker = .back) ],
  sockets = [ (name = "http", address = "@ADDRESS@", http = (), service = "front") ],
);

const front :Workerd.Worker = (
  modules = [ (name = "front.js", esModule = embed "front.js") ],
  compatibilityDate = "@DATE@",
  bindings = [ (name = "BACK", service = "back") ],
);

const back :Workerd.Worker = (
  modules = [ (name = "back.js", esModule = embed "back.js") ],
  compatibilityDate = "@DATE@",
);
"""


def write_workers(runtime: str, folder: Path) -> None:
    if runtime == "ridge":
        for name, source, extra in [
            ("front", FRONT, 'routes = ["127.0.0.1/*"]\nservices = [{ binding = "BACK", service = "back" }]\n'),
            ("back", BACK, ""),
        ]:
            worker = folder / "workers" / name
            worker.mkdir(parents=True)
            (worker / "index.js").write_text(source)
            (worker / "ridge.toml").write_text(
                f'name = "{name}"\nmain = "index.js"\ncompatibility_date = "{COMPAT_DATE}"\n{extra}')
        return
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "front.js").write_text(FRONT)
    (folder / "back.js").write_text(BACK)
    (folder / "config.template").write_text(WORKERD_CONFIG.replace("@DATE@", COMPAT_DATE))


def measure(proc, port: int, path: str, expect: bytes, args) -> tuple[float, float]:
    """Wall and CPU microseconds per request."""
    ok = lambda body: body == expect  # noqa: E731
    run_load(port, path, 1, args.warmup, ok)
    cpu0, _ = cpu_seconds(proc.pid)
    load = run_load(port, path, 1, args.duration, ok)
    cpu1, _ = cpu_seconds(proc.pid)
    if load.errors or load.requests == 0:
        raise Failed(f"{load.errors} wrong answers, first: {load.first_error}")
    return load.seconds * 1e6 / load.requests, (cpu1 - cpu0) * 1e6 / load.requests


def run_round(runtime, scratch: Path, args) -> dict[str, tuple[float, float]]:
    folder = scratch / f"{runtime.name}-{len(list(scratch.iterdir()))}"
    write_workers(runtime.name, folder)
    proc, port, _ = start(runtime, folder, b"ok\n", 60)
    try:
        wait_idle(proc.pid)
        n = args.calls
        base = measure(proc, port, "/", b"ok\n", args)
        per_call = {}
        for op in ("rpc", "fetch"):
            wall, cpu = measure(proc, port, f"/{op}?n={n}", str(n).encode(), args)
            per_call[op] = ((wall - base[0]) / n, (cpu - base[1]) / n)
            log(f"{runtime.name} {op}: {per_call[op][0]:.1f} µs wall, {per_call[op][1]:.1f} µs CPU per call")
        return per_call
    finally:
        stop(proc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ridge-bin", default=None, help="the ridge binary [default: target/release/ridge]")
    parser.add_argument("--calls", type=int, default=20, help="calls per request [default: 20]")
    parser.add_argument("--duration", type=float, default=5, help="seconds of load per measurement")
    parser.add_argument("--warmup", type=float, default=1, help="seconds of warm-up per measurement")
    parser.add_argument("--rounds", type=int, default=2, help="rounds, runtimes alternating")
    args = parser.parse_args()
    os.sched_setaffinity(0, {CLIENT_CPU})
    runtimes = []
    for name in ("ridge", "workerd"):
        try:
            runtimes.append(runtime_of(name, args.ridge_bin))
        except SkipRuntime as skipped:
            log(f"{name}: not run ({skipped})")
    started = _dt.datetime.now(_dt.timezone.utc)
    results: dict[str, list[dict]] = {rt.name: [] for rt in runtimes}
    with tempfile.TemporaryDirectory(prefix="ridge-bench-services-") as tmp:
        try:
            for round_no in range(args.rounds):
                for rt in runtimes:
                    log(f"round {round_no + 1}/{args.rounds}: {rt.name}")
                    results[rt.name].append(run_round(rt, Path(tmp), args))
        finally:
            stop_all()
    print(f"### Service bindings ({started:%Y-%m-%d %H:%M} UTC)\n")
    print(f"- Command: `python3 benches/services.py {' '.join(sys.argv[1:])}`")
    print(f"- Machine: {', '.join(f'{k} {v}' for k, v in machine_info().items())}")
    for rt in runtimes:
        print(f"- {rt.name}: {rt.version}")
    print(f"\n{args.calls} sequential calls per request, one connection, {args.duration:g} s per "
          f"measurement after {args.warmup:g} s of warm-up, {args.rounds} rounds, medians; per call = "
          "(request − a request making no call) ÷ calls. Ratios ÷ workerd, per round in parentheses.\n")
    print("| call | runtime | wall per call | CPU per call | wall ÷ workerd | CPU ÷ workerd |")
    print("|---|---|---:|---:|---:|---:|")
    labels = {"rpc": "empty RPC call (`await env.BACK.ping()`)",
              "fetch": "service-binding `fetch` (`await (await env.BACK.fetch(url)).text()`)"}
    for op, label in labels.items():
        for rt in runtimes:
            rounds = results[rt.name]
            wall = statistics.median(r[op][0] for r in rounds)
            cpu = statistics.median(r[op][1] for r in rounds)
            ratios = ["–", "–"]
            if rt.name != "workerd" and "workerd" in results:
                ref = results["workerd"]
                for k in (0, 1):
                    per = [r[op][k] / w[op][k] for r, w in zip(rounds, ref)]
                    ratios[k] = f"**{statistics.median(per):.2f}×** ({', '.join(f'{p:.2f}' for p in per)})"
            print(f"| {label} | {rt.name} | {wall:.1f} µs | {cpu:.1f} µs | {ratios[0]} | {ratios[1]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
