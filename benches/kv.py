#!/usr/bin/env python3
"""KV benchmark: the cost of a KV read inside a worker, cached and not, and
the throughput and cache hit rate of a read-heavy worker.

For each store (embedded SQLite, then PostgreSQL) this starts `ridge serve`
with the admin API, creates the namespace, deploys benches/workers/kv and
writes --keys keys of --value-size bytes. Then:

  hot   On the node that wrote: 5000 `await KV.get("hot")` per request, timed
        inside the worker (µs per get); median of 9 requests.
  cold  On a freshly started node (empty cache): 2000 sequential gets of
        keys that node never read, so each goes to the store; median of 5.
  zipf  wrk drives `/zipf` (10 gets per request of keys drawn from a Zipf
        distribution, s = --zipf-s) for --duration seconds; reported:
        requests/s, gets/s, server CPU µs per request, and the node's cache
        hit rate (from each get's cacheStatus), with --kv-cache-mb of cache.

Python 3.11 standard library, `wrk`, and the `ridge` CLI. Markdown on stdout,
progress on stderr. Example:
  python3 benches/kv.py --ridge-bin target/release/ridge
"""

from __future__ import annotations

import argparse, datetime, http.client, json, os, re, shlex, shutil, signal
import statistics, subprocess, sys, tempfile, time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from deploy_latency import TOKEN, Node, psql

BENCH_DIR = Path(__file__).resolve().parent
WORKER = BENCH_DIR / "workers" / "kv"
HOST = "kvbench.localhost"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg: str) -> None:
    print(f"[kv] {msg}", file=sys.stderr, flush=True)


def get(node: Node, path: str) -> bytes:
    conn = http.client.HTTPConnection("127.0.0.1", node.port, timeout=300)
    conn.request("GET", path, headers={"Host": HOST})
    resp = conn.getresponse()
    body = resp.read()
    if resp.status != 200:
        raise RuntimeError(f"GET {path}: HTTP {resp.status}: {body[:300]!r}")
    return body


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def prepare(ridge: str, node: Node, keys: int, size: int) -> None:
    admin = http.client.HTTPConnection("127.0.0.1", node.admin_port, timeout=60)
    admin.request("PUT", "/kv/namespaces/kvbench", headers={"Authorization": f"Bearer {TOKEN}"})
    admin.getresponse().read()
    env = {**os.environ, "RIDGE_SERVER": f"http://127.0.0.1:{node.admin_port}",
           "RIDGE_ADMIN_TOKEN": TOKEN}
    subprocess.run([ridge, "deploy", str(WORKER)], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started = time.monotonic()
    for start in range(0, keys, 500):
        get(node, f"/fill?from={start}&to={min(keys, start + 500)}&size={size}")
    log(f"wrote {keys} keys in {time.monotonic() - started:.1f} s")


def timed(node: Node, paths: list[str]) -> float:
    return statistics.median(json.loads(get(node, p))["us_per_get"] for p in paths)


def zipf_load(node: Node, args) -> dict:
    path = f"/zipf?n=10&keys={args.keys}&s={args.zipf_s}"
    get(node, path)  # builds the sampler
    get(node, "/stats")
    cpu_before = cpu_seconds(node.proc.pid)
    out = subprocess.run(["wrk", "-t2", f"-c{args.connections}", f"-d{args.duration}s",
                          "-H", f"Host: {HOST}", f"http://127.0.0.1:{node.port}{path}"],
                         check=True, capture_output=True, text=True).stdout
    cpu = cpu_seconds(node.proc.pid) - cpu_before
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    stats = json.loads(get(node, "/stats"))
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "cpu_us": cpu / max(requests, 1) * 1e6,
            "hit_rate": stats["hits"] / max(stats["gets"], 1),
            "errors": int(errors.group(1)) if errors else 0}


def run_store(label: str, store_args: list[str], args, tmp: Path) -> dict:
    extra = ["--kv-cache-mb", str(args.kv_cache_mb)]
    writer = Node(args.ridge_bin, store_args + extra, tmp / f"{label}-writer.log")
    try:
        prepare(args.ridge_bin, writer, args.keys, args.value_size)
        hot = timed(writer, ["/hot?n=5000"] * 9)
        log(f"{label}: hot get {hot:.2f} µs")
    finally:
        writer.stop()
    reader = Node(args.ridge_bin, store_args + extra, tmp / f"{label}-reader.log")
    try:
        get(reader, "/stats")  # starts the isolate
        cold = timed(reader, [f"/cold?from={i * 2000}&n=2000" for i in range(5)])
        log(f"{label}: cold get {cold:.1f} µs")
        load = zipf_load(reader, args)
        log(f"{label}: zipf {load}")
    finally:
        reader.stop()
    return {"hot": hot, "cold": cold, **load}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ridge-bin", default=str(BENCH_DIR.parent / "target/release/ridge"))
    ap.add_argument("--keys", type=int, default=20000)
    ap.add_argument("--value-size", type=int, default=100)
    ap.add_argument("--kv-cache-mb", type=int, default=1)
    ap.add_argument("--zipf-s", type=float, default=1.0)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--postgres-url", default=os.environ.get(
        "RIDGE_TEST_POSTGRES_URL", "postgres://ridge:ridge@127.0.0.1:5432/ridge_test"))
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    if args.keys < 10000:
        ap.error("--keys must be at least 10000 (the cold reads use 10000 distinct keys)")
    command = " ".join(shlex.quote(a) for a in ["python3", *sys.argv])
    model = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text()
                  .splitlines() if l.startswith("model name")), "unknown")
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    db = f"ridge_kvbench_{os.getpid()}"
    db_url = urlunsplit(urlsplit(args.postgres_url)._replace(path="/" + db))
    tmp = Path(tempfile.mkdtemp(prefix="ridge-kv-bench-"))
    results = {}
    try:
        results["SQLite"] = run_store("sqlite", ["--data-dir", str(tmp / "data")], args, tmp)
        psql(args.postgres_url, f"CREATE DATABASE {db}")
        try:
            results["PostgreSQL"] = run_store("postgres", ["--store", db_url], args, tmp)
        finally:
            psql(args.postgres_url, f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print("# KV: reads inside a worker\n")
    print(f"- Date: {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
    print(f"- Machine: {os.cpu_count()} × {model}; load average before the run: {load}")
    print(f"- Command: `{command}`")
    print(f"- {args.keys} keys of {args.value_size} bytes; KV cache {args.kv_cache_mb} MiB; "
          f"Zipf s = {args.zipf_s}; wrk {args.connections} connections, {args.duration} s\n")
    print("| store | hot get (cache hit), µs | cold get (store), µs | zipf req/s | gets/s "
          "| CPU µs/request | cache hit rate | errors |")
    print("|---|---|---|---|---|---|---|---|")
    for store, r in results.items():
        print(f"| {store} | {r['hot']:.2f} | {r['cold']:.1f} | {r['rps']:.0f} | "
              f"{r['rps'] * 10:.0f} | {r['cpu_us']:.0f} | {r['hit_rate'] * 100:.1f}% | "
              f"{r['errors']} |")


if __name__ == "__main__":
    main()
