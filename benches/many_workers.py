#!/usr/bin/env python3
"""Many workers on one Ridge node: memory per idle worker, cold starts, throughput.

One run measures, against `ridge serve` with N generated hello-style workers
(`ridge.toml` + `index.js`, routed by Host header `wK.bench.test`):

 1. Memory per idle worker, for each N in --counts: server VmRSS right after
    start (pre-warmed pool filled), then one request to every worker in turn
    (each now has a live isolate), ~2 s pause, VmRSS again.  Reported as
    (after - before) / N.  Eviction is disabled (huge idle timeout and memory
    budget) so every isolate stays alive.
 2. Cold-start latency of never-seen workers, timed client-side over ONE
    keep-alive HTTP/1.1 connection (no connect cost): the first requests of
    step 1, plus --cold-workers runs with the pre-warmed pool on/off and with
    or without a pause between cold requests (the pool refills in the
    background, so back-to-back cold starts may outrun it).  Second requests
    to the same workers give the warm latency for comparison.
 3. Throughput: wrk (-t1 -cC) with 1 worker loaded vs --tp-workers loaded, the
    load spread round-robin over all hosts by a wrk Lua script (the same script
    with one host is used for the 1-worker case, so client cost is equal), plus
    a diagnostic row: --tp-workers loaded, load on one host only.
    Server CPU per request = utime+stime of the server pid over the run / requests.

Python 3.11 stdlib only; Markdown on stdout, progress on stderr.
Example:
  python3 benches/many_workers.py --ridge-bin target/release/ridge --counts 100,1000
"""

from __future__ import annotations

import argparse, datetime, http.client, math, os, re, shlex, shutil, signal
import subprocess, sys, tempfile, time
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
NO_EVICT = ["--isolate-idle-timeout", "100000", "--isolate-memory-budget", "100000"]


def log(msg: str) -> None:
    print(f"[many_workers] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- processes
# Every server runs in its own process group; all are torn down at exit,
# on errors, Ctrl-C and SIGTERM (turned into KeyboardInterrupt).

_live: list[subprocess.Popen] = []


def stop(proc: subprocess.Popen, grace: float = 5.0) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if proc.poll() is not None:
            break
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            continue
    if proc in _live:
        _live.remove(proc)


def _on_signal(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


class Server:
    """`ridge serve` on a free port; stderr kept in a log file for the report."""

    def __init__(self, ridge: str, workers: Path, log_path: Path, extra: list[str]):
        self.cmd = [ridge, "serve", "--workers", str(workers),
                    "--listen", "127.0.0.1:0", *extra]
        self.log_path = log_path
        with open(log_path, "wb") as err:
            self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=err,
                                         start_new_session=True)
        _live.append(self.proc)
        deadline = time.monotonic() + 120
        while True:
            m = re.search(r"ready on http://127\.0\.0\.1:(\d+)", log_path.read_text())
            if m:
                self.port = int(m.group(1))
                return
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ridge did not become ready:\n{log_path.read_text()[-2000:]}")
            time.sleep(0.05)

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def cpu_s(self) -> float:  # utime + stime of all threads (fields 14, 15)
        raw = Path(f"/proc/{self.proc.pid}/stat").read_text()
        rest = raw[raw.rindex(")") + 2:].split()
        return (int(rest[11]) + int(rest[12])) / CLK_TCK

    def close(self) -> None:
        stop(self.proc)


# ---------------------------------------------------------------- helpers

def make_workers(root: Path, n: int) -> Path:
    for k in range(n):
        d = root / f"w{k}"
        d.mkdir(parents=True)
        (d / "ridge.toml").write_text(
            f'name = "w{k}"\nmain = "index.js"\nroutes = ["w{k}.bench.test/*"]\n')
        (d / "index.js").write_text(
            f'export default {{ fetch() {{ return new Response("Hello from w{k}\\n"); }} }};\n')
    return root


def pct(xs: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    s = sorted(xs)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)] if s else float("nan")


def request_each(port: int, n: int, pause_s: float) -> tuple[list[float], int, int]:
    """One GET per worker, in order, on one keep-alive connection.
    Returns (latencies ms, failures, reconnects)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.connect()
    lat, fails, reconnects = [], 0, 0
    try:
        for k in range(n):
            if pause_s:
                time.sleep(pause_s)
            if conn.sock is None:  # server closed the connection: reconnect untimed
                conn.connect()
                reconnects += 1
            t0 = time.perf_counter()
            conn.request("GET", "/", headers={"Host": f"w{k}.bench.test"})
            resp = conn.getresponse()
            body = resp.read()
            lat.append((time.perf_counter() - t0) * 1000)
            if resp.status != 200 or body != f"Hello from w{k}\n".encode():
                fails += 1
                if fails <= 3:
                    log(f"w{k}: HTTP {resp.status} {body[:200]!r}")
    finally:
        conn.close()
    return lat, fails, reconnects


def lat_cells(lat: list[float]) -> str:
    return " | ".join(f"{pct(lat, p):.2f}" for p in (50, 90, 99)) + f" | {max(lat):.2f}"


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def run_wrk(port: int, lua: Path, conns: int, duration: int) -> dict:
    cmd = ["wrk", "-t1", f"-c{conns}", f"-d{duration}s", "--latency", "-s", str(lua),
           f"http://127.0.0.1:{port}/"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    def lat(p: str) -> float:
        v, u = re.search(rf"^\s*{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(v) * _UNITS[u]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: (.*)", out)
    return {"requests": int(re.search(r"(\d+) requests in", out).group(1)),
            "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50": lat("50"), "p99": lat("99"),
            "errors": (int(bad.group(1)) if bad else 0),
            "socket": sock.group(1) if sock else "none"}


def write_lua(path: Path, n: int) -> Path:
    hosts = ", ".join(f'"w{k}.bench.test"' for k in range(n))
    path.write_text(f"""local hosts = {{ {hosts} }}
local i = 0
request = function()
  i = (i % #hosts) + 1
  return wrk.format("GET", "/", {{ ["Host"] = hosts[i] }})
end
""")
    return path


def machine() -> tuple[str, str]:
    model = next((l.split(":", 1)[1].strip() for l in
                  Path("/proc/cpuinfo").read_text().splitlines()
                  if l.startswith("model name")), "unknown")
    return f"{os.cpu_count()} × {model}", " ".join(Path("/proc/loadavg").read_text().split()[:3])


# ---------------------------------------------------------------- main

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ridge-bin", default=str(REPO_DIR / "target/release/ridge"))
    ap.add_argument("--counts", default="100,1000", help="worker counts for memory runs")
    ap.add_argument("--duration", type=int, default=10, help="wrk seconds per run")
    ap.add_argument("--isolate-threads", type=int, default=2)
    ap.add_argument("--cold-workers", type=int, default=200, help="workers per cold-start run")
    ap.add_argument("--pause-ms", type=float, default=30, help="pause between cold requests")
    ap.add_argument("--tp-workers", type=int, default=100, help="workers loaded in step 3")
    ap.add_argument("--connections", type=int, default=32)
    args = ap.parse_args()
    counts = [int(c) for c in args.counts.split(",") if c.strip()]
    ridge = str(Path(args.ridge_bin).resolve())
    if not shutil.which("wrk"):
        sys.exit("error: wrk not found (apt-get install -y wrk)")
    threads = ["--isolate-threads", str(args.isolate_threads)]
    pause = args.pause_ms / 1000

    mach, load_start = machine()
    st = os.stat(ridge)
    version = subprocess.run([ridge, "--version"], capture_output=True, text=True).stdout.strip()
    tmp = Path(tempfile.mkdtemp(prefix="ridge-many-"))
    logs: list[tuple[str, Path]] = []
    mem_rows, cold_rows, tp = [], [], {}

    def serve(label: str, n: int, extra: list[str]) -> Server:
        d = tmp / f"workers-{n}"
        if not d.exists():
            log(f"generating {n} workers")
            make_workers(d, n)
        logp = tmp / f"{label}.log"
        logs.append((label, logp))
        s = Server(ridge, d, logp, threads + NO_EVICT + extra)
        log(f"{label}: ridge ready on port {s.port} (pid {s.proc.pid})")
        return s

    try:
        # 1 + 2a: memory per idle worker; cold starts with default pool, paused.
        for n in counts:
            s = serve(f"memory-{n}", n, [])
            try:
                time.sleep(1.5)  # let the pre-warmed pool fill
                before = s.rss_mib()
                log(f"memory-{n}: RSS {before:.1f} MiB; first request to each worker")
                cold, fails, rc = request_each(s.port, n, pause)
                time.sleep(2)
                after = s.rss_mib()
                warm, wfails, wrc = request_each(s.port, n, 0)
                mem_rows.append((n, before, after, (after - before) / n, fails + wfails))
                cold_rows.append((f"memory run, {n} workers", n, "2 (default)",
                                  f"{args.pause_ms:g} ms", cold, warm, fails + wfails, rc + wrc))
            finally:
                s.close()

        # 2b: cold starts with the pool on/off, paused or back-to-back.
        for warm_n, p in ((2, 0.0), (0, pause), (0, 0.0)):
            label = f"cold-warm{warm_n}-{'pause' if p else 'b2b'}"
            s = serve(label, args.cold_workers, ["--warm-isolates", str(warm_n)])
            try:
                time.sleep(1.5)
                cold, fails, rc = request_each(s.port, args.cold_workers, p)
                warm, wfails, wrc = request_each(s.port, args.cold_workers, 0)
                cold_rows.append((label, args.cold_workers, str(warm_n),
                                  f"{args.pause_ms:g} ms" if p else "none (back-to-back)",
                                  cold, warm, fails + wfails, rc + wrc))
            finally:
                s.close()

        # 3: throughput, 1 worker vs tp-workers, all hosts touched and warmed first.
        # Diagnostic extra row: tp-workers loaded but the load on w0 only, which
        # separates "many isolates exist" from "requests switch between isolates".
        for n in (1, args.tp_workers):
            s = serve(f"throughput-{n}", n, [])
            try:
                for _ in range(2):
                    request_each(s.port, n, 0)
                for hit in sorted({n, 1}, reverse=True):
                    lua = write_lua(tmp / f"hosts-{hit}.lua", hit)
                    run_wrk(s.port, lua, args.connections, 2)  # warm-up pass
                    log(f"throughput-{n}: wrk {args.duration}s over {hit} host(s)")
                    c0 = s.cpu_s()
                    r = run_wrk(s.port, lua, args.connections, args.duration)
                    r["cpu_us"] = (s.cpu_s() - c0) / max(1, r["requests"]) * 1e6
                    r["rss"] = s.rss_mib()
                    tp[(n, hit)] = r
            finally:
                s.close()
    finally:
        for proc in list(_live):
            try:
                stop(proc)
            except Exception as e:
                log(f"could not stop pid {proc.pid}: {e}")
        # Summarise ridge's stderr (also on errors), then drop the temp dir.
        stderr_notes = []
        for label, p in logs:
            bad = [l for l in p.read_text(errors="replace").splitlines()
                   if re.search(r"\b(WARN|ERROR)\b|panic", l)]
            stderr_notes.append(f"- `{label}`: {len(bad)} WARN/ERROR lines"
                                + "".join(f"\n  - `{l[:200]}`" for l in bad[:3]))
            if sys.exc_info()[0] is not None:
                log(f"{label} stderr tail:\n{p.read_text(errors='replace')[-1500:]}")
        shutil.rmtree(tmp, ignore_errors=True)

    # ------------------------------------------------------------ report

    P = print
    P("## Many workers on one node\n")
    P(f"- Date: {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
    P(f"- Machine: {mach}; load average at start {load_start}, at end {machine()[1]}")
    P(f"- Ridge binary: `{ridge}` ({version}, {st.st_size / 2**20:.0f} MiB, "
      f"built {datetime.datetime.fromtimestamp(st.st_mtime):%Y-%m-%d %H:%M})")
    P(f"- Command: `python3 {shlex.join([os.path.relpath(sys.argv[0], REPO_DIR), *sys.argv[1:]])}`")
    P(f"- Servers: `ridge serve --workers DIR --listen 127.0.0.1:0 {shlex.join(threads + NO_EVICT)}` "
      "(+ `--warm-isolates N` where stated)\n")

    P("### 1. Memory per idle worker (target ≤ 3 MiB/worker)\n")
    P("Server VmRSS after start (pool filled), then after one request to each worker "
      "(every worker holds a live isolate) and a 2 s pause.\n")
    P("| workers | RSS after start (MiB) | RSS, all isolates live (MiB) | per worker (MiB) | failed requests |")
    P("|---:|---:|---:|---:|---:|")
    for n, b, a, per, f in mem_rows:
        P(f"| {n} | {b:.1f} | {a:.1f} | **{per:.2f}** | {f} |")

    P("\n### 2. Cold start of a never-seen worker (target p50 < 2 ms with the pool)\n")
    P("Client-side time of the first request to each worker over one keep-alive "
      "HTTP/1.1 connection (`http.client`, no connect cost). The pre-warmed pool refills "
      f"in the background, so paused rows sleep {args.pause_ms:g} ms before each cold "
      "request; back-to-back rows do not. Warm = second request to the same workers.\n")
    P("| run | workers | warm isolates/thread | pause | cold p50 | p90 | p99 | max | "
      "warm p50 | warm p99 | failed | reconnects |")
    P("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, n, w, p, cold, warm, f, rc in cold_rows:
        P(f"| {label} | {n} | {w} | {p} | {lat_cells(cold)} | {pct(warm, 50):.2f} | "
          f"{pct(warm, 99):.2f} | {f} | {rc} |")
    P("\n(all latencies in ms)")

    P(f"\n### 3. Throughput: 1 worker vs {args.tp_workers} workers loaded\n")
    P(f"`wrk -t1 -c{args.connections} -d{args.duration}s --latency -s hosts.lua`; the Lua "
      "script sets the Host header round-robin over all loaded workers. Before measuring, "
      "every worker got two requests and a 2 s wrk warm-up ran. CPU = server utime+stime / requests.\n")
    P("| workers loaded | hosts loaded by wrk | requests/s | p50 (ms) | p99 (ms) | "
      "server CPU/request (µs) | RSS after (MiB) | non-2xx | socket errors |")
    P("|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for (n, hit), r in tp.items():
        P(f"| {n} | {hit} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | "
          f"{r['cpu_us']:.1f} | {r['rss']:.1f} | {r['errors']} | {r['socket']} |")
    many, one = tp.get((args.tp_workers, args.tp_workers)), tp.get((1, 1))
    if many and one and args.tp_workers > 1:
        P(f"\nRatio {args.tp_workers} workers / 1 worker (all loaded hosts hit): requests/s "
          f"×{many['rps'] / one['rps']:.2f}, CPU/request ×{many['cpu_us'] / one['cpu_us']:.2f}, "
          f"p99 ×{many['p99'] / one['p99']:.2f}. The row with {args.tp_workers} loaded but one "
          "host hit is a diagnostic: idle isolates present, no switching between them.")

    P("\n### Ridge stderr\n")
    P("\n".join(stderr_notes))


if __name__ == "__main__":
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)
    try:
        main()
    except KeyboardInterrupt as e:
        sys.exit(f"interrupted ({e})")
