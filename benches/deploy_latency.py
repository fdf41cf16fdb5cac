#!/usr/bin/env python3
"""Deploy latency: time from starting an upload to the first request served by the new version.

Scenarios (each starts with one untimed warm-up upload, then --iterations timed ones):
 1. sqlite-same: upload to node A (embedded SQLite store), poll node A.
 2. pg-same:     upload to node A (PostgreSQL store), poll node A.
 3. pg-other:    nodes A and B share one PostgreSQL database; upload to A, poll B
                 (B learns of the change by LISTEN/NOTIFY, or its 5 s fallback poll).

Each iteration uploads a version answering a unique token.  t0 is taken right
before the upload is sent; the upload runs in a background thread while the main
thread polls the relevant node (keep-alive http.client connection, ~1 ms sleep
between tries, Host: bench.test) until the body is the new token.  Reported:
upload call duration and time-to-first-served (response received), in ms.
Target: another node serves the new version within 1 s.

A fresh database is created for the run and dropped at the end; nodes run in
their own process groups and are stopped (SIGTERM, then SIGKILL) on exit, errors
and Ctrl-C.  Python 3.11 stdlib only; Markdown on stdout, progress on stderr.
Example:
  python3 benches/deploy_latency.py --ridge-bin target/release/ridge --iterations 30
"""

from __future__ import annotations

import argparse, datetime, http.client, json, math, os, re, shlex, shutil, signal
import subprocess, sys, tempfile, threading, time, uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO_DIR = Path(__file__).resolve().parent.parent
TOKEN = "bench-admin-token"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def log(msg: str) -> None:
    print(f"[deploy_latency] {msg}", file=sys.stderr, flush=True)


def _on_signal(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


class Node:
    """`ridge serve` with a store and admin API, in its own process group."""

    def __init__(self, ridge: str, store_args: list[str], log_path: Path):
        self.cmd = [ridge, "serve", *store_args, "--listen", "127.0.0.1:0",
                    "--admin-listen", "127.0.0.1:0"]
        self.log_path = log_path
        with open(log_path, "wb") as err:
            self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=err,
                                         env={**os.environ, "RIDGE_ADMIN_TOKEN": TOKEN},
                                         start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            text = ANSI.sub("", log_path.read_text(errors="replace"))
            admin = re.search(r"admin API on http://127\.0\.0\.1:(\d+)", text)
            ready = re.search(r"ready on http://127\.0\.0\.1:(\d+)", text)
            if admin and ready:
                self.admin_port, self.port = int(admin.group(1)), int(ready.group(1))
                return
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"ridge did not become ready:\n{text[-2000:]}")
            time.sleep(0.05)

    def stop(self, grace: float = 5.0) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if self.proc.poll() is not None:
                return
            try:
                os.killpg(self.proc.pid, sig)
                self.proc.wait(timeout=grace)
            except ProcessLookupError:
                return
            except subprocess.TimeoutExpired:
                continue

    def problems(self) -> list[str]:
        """WARN/ERROR lines of the node's stderr."""
        lines = ANSI.sub("", self.log_path.read_text(errors="replace")).splitlines()
        return [l for l in lines if re.search(r"\b(WARN|ERROR|panicked)\b", l)]


def upload(conn: http.client.HTTPConnection, body_text: str) -> dict:
    """PUT /workers/bench with a hand-built multipart body; returns the JSON answer."""
    boundary = "ridge-bench-" + uuid.uuid4().hex
    meta = json.dumps({"main_module": "index.js", "routes": ["bench.test/*"]})
    module = f'export default {{ fetch: () => new Response("{body_text}") }};\n'
    body = (f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="metadata"\r\n'
            "Content-Type: application/json\r\n\r\n"
            f"{meta}\r\n--{boundary}\r\n"
            'Content-Disposition: form-data; name="index.js"; filename="index.js"\r\n'
            "Content-Type: application/javascript\r\n\r\n"
            f"{module}\r\n--{boundary}--\r\n").encode()
    conn.request("PUT", "/workers/bench", body=body, headers={
        "Authorization": f"Bearer {TOKEN}",
        "Content-Type": f"multipart/form-data; boundary={boundary}"})
    resp = conn.getresponse()
    data = resp.read()
    if resp.status != 200:
        raise RuntimeError(f"upload failed: HTTP {resp.status}: {data[:500]!r}")
    return json.loads(data)


def poll_until(conn: http.client.HTTPConnection, token: str, deadline: float,
               failed: dict) -> float | None:
    """GET until the body is `token`; returns perf_counter() of that response,
    None on timeout or once the upload has failed (`"error" in failed`)."""
    while time.perf_counter() < deadline and "error" not in failed:
        try:
            conn.request("GET", "/", headers={"Host": "bench.test"})
            resp = conn.getresponse()
            data = resp.read()
            now = time.perf_counter()
            if resp.status == 200 and data.decode(errors="replace").strip() == token:
                return now
        except (http.client.HTTPException, OSError):
            conn.close()  # reconnects on the next request
        time.sleep(0.001)
    return None


def measure(name: str, up: Node, poll: Node, iterations: int, timeout: float) -> dict:
    """Warm-up upload, then `iterations` timed ones; returns durations (ms) and failures."""
    admin = http.client.HTTPConnection("127.0.0.1", up.admin_port, timeout=60)
    data = http.client.HTTPConnection("127.0.0.1", poll.port, timeout=10)
    nonce = uuid.uuid4().hex[:8]
    uploads, served, failures = [], [], []
    for i in range(-1, iterations):  # i == -1: untimed warm-up
        token = f"{name}-{nonce}-v{i + 1}"
        box: dict = {}

        def do_upload():
            try:
                box["answer"] = upload(admin, token)
            except Exception as e:  # reported by the main thread
                box["error"] = e
            box["t"] = time.perf_counter()

        t0 = time.perf_counter()
        th = threading.Thread(target=do_upload)
        th.start()
        t_served = poll_until(data, token, t0 + timeout, box)
        th.join()
        if "error" in box:
            failures.append(f"v{i + 1}: {box['error']}")
            admin.close()
            continue
        if t_served is None:
            failures.append(f"v{i + 1}: not served within {timeout:.0f} s")
            continue
        if i >= 0:
            uploads.append((box["t"] - t0) * 1000)
            served.append((t_served - t0) * 1000)
    admin.close(); data.close()
    log(f"{name}: {len(served)} ok, {len(failures)} failed")
    return {"uploads": uploads, "served": served, "failures": failures}


def pct(xs: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    s = sorted(xs)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)] if s else float("nan")


def psql(url: str, sql: str) -> None:
    subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-qc", sql], check=True,
                   stdout=subprocess.DEVNULL)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ridge-bin", default=str(REPO_DIR / "target/release/ridge"))
    ap.add_argument("--iterations", type=int, default=30)
    ap.add_argument("--timeout", type=float, default=30.0,
                    help="seconds to wait for one version to be served")
    ap.add_argument("--postgres-url", default=os.environ.get(
        "RIDGE_TEST_POSTGRES_URL", "postgres://ridge:ridge@127.0.0.1:5432/ridge_test"),
        help="database to connect to for CREATE/DROP DATABASE (env RIDGE_TEST_POSTGRES_URL)")
    args = ap.parse_args()
    for sig in (signal.SIGINT, signal.SIGTERM):  # SIGINT may arrive ignored (background job)
        signal.signal(sig, _on_signal)

    command = " ".join(shlex.quote(a) for a in ["python3", *sys.argv])
    model = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text()
                  .splitlines() if l.startswith("model name")), "unknown")
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    db = f"ridge_bench_{os.getpid()}_{int(time.time())}"
    parts = urlsplit(args.postgres_url)
    db_url = urlunsplit(parts._replace(path="/" + db))
    tmp = Path(tempfile.mkdtemp(prefix="ridge-deploy-latency-"))
    nodes: list[tuple[str, Node]] = []
    results: dict[str, dict] = {}
    db_created = False
    try:
        def start(label: str, store_args: list[str]) -> Node:
            node = Node(args.ridge_bin, store_args, tmp / f"{label}.log")
            nodes.append((label, node))
            log(f"{label}: data :{node.port}, admin :{node.admin_port}")
            return node

        # 1. embedded SQLite, same node
        a = start("sqlite-A", ["--data-dir", str(tmp / "data-a")])
        results["sqlite-same"] = measure("sqlite-same", a, a, args.iterations, args.timeout)
        a.stop()
        # 2. PostgreSQL, same node (only A running)
        psql(args.postgres_url, f"CREATE DATABASE {db}")
        db_created = True
        a = start("pg-A", ["--store", db_url])
        results["pg-same"] = measure("pg-same", a, a, args.iterations, args.timeout)
        # 3. PostgreSQL, upload to A, poll B
        b = start("pg-B", ["--store", db_url])
        results["pg-other"] = measure("pg-other", a, b, args.iterations, args.timeout)
        problems = {label: n.problems() for label, n in nodes}
    finally:
        for _, node in nodes:
            node.stop()
        if db_created:
            try:
                psql(args.postgres_url, f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
            except Exception as e:
                log(f"cannot drop database {db}: {e}")
        shutil.rmtree(tmp, ignore_errors=True)

    # ------------------------------------------------------------ report
    f = lambda x: f"{x:.1f}"
    print("# Deploy latency: upload to first request served by the new version\n")
    print(f"- Date: {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
    print(f"- Machine: {os.cpu_count()} × {model}; load average before the run: {load}")
    print(f"- Command: `{command}`")
    print(f"- Binary: `{args.ridge_bin}`")
    print(f"- PostgreSQL: fresh database `{db}` on {parts.hostname}:{parts.port or 5432} (dropped after)")
    print(f"- {args.iterations} timed uploads per scenario after 1 warm-up; nearest-rank "
          "percentiles (p99 = max below 100 samples); times in ms from t0 = just before the "
          "upload is sent\n")
    print("'ok' counts timed iterations served; 'failed' includes the warm-up (v0).\n")
    print("| scenario | ok | failed | upload p50 | upload p90 | upload max "
          "| served p50 | served p90 | served p99 | served max | ≤ 1 s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        up, sv = r["uploads"], r["served"]
        within = sum(1 for x in sv if x <= 1000)
        print(f"| {name} | {len(sv)} | {len(r['failures'])} | {f(pct(up, 50))} | "
              f"{f(pct(up, 90))} | {f(max(up, default=math.nan))} | {f(pct(sv, 50))} | "
              f"{f(pct(sv, 90))} | {f(pct(sv, 99))} | {f(max(sv, default=math.nan))} | "
              f"{within}/{len(sv)} |")
    print("\nScenarios: **sqlite-same** upload to and poll one node on the embedded store; "
          "**pg-same** the same on PostgreSQL; **pg-other** upload to node A, poll node B "
          "on the same database (target: served within 1 s by LISTEN/NOTIFY).")
    for name, r in results.items():
        for failure in r["failures"]:
            print(f"\n- {name} failure: {failure}")
    print("\n## ridge stderr warnings/errors\n")
    for label, lines in problems.items():
        print(f"- {label}: {len(lines)} line(s)" + ("" if not lines else ":"))
        for line in lines[:5]:
            print(f"  - `{line.strip()[:300]}`")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt as e:  # cleanup already ran in main's `finally`
        log(f"interrupted ({e or 'Ctrl-C'}); cleaned up")
        sys.exit(130)
