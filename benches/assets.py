#!/usr/bin/env python3
"""Static assets: Ridge side by side with nginx and workerd (`wrangler dev`).

One assets-only project (no `main`):

    {"name": "site", "compatibility_date": "2025-09-01",
     "assets": {"directory": "./public"}}

whose `public/` holds `style.css` (1,024 bytes of CSS) and `big.bin`
(1 MiB of random bytes), generated in a temporary folder.  The same files
are served by

  * ridge        `ridge serve --workers DIR --base-domain test` (DIR/site is
                 the project; wrk sends `Host: site.test`), one isolate
                 thread: assets are answered from Rust, no isolate runs;
  * ridge-dev    `ridge dev --port PORT` in a copy of the project, for
                 reference (it logs a line per request);
  * nginx        /usr/sbin/nginx in the foreground with a generated minimal
                 config (`daemon off; worker_processes 1; access_log off;
                 sendfile on; etag on;`, `root` = the public folder, and
                 `keepalive_requests 1000000` so that nginx, like the
                 others, does not close a keep-alive connection every 1,000
                 requests);
  * wrangler     `wrangler dev --port PORT --ip 127.0.0.1` (npm wrangler,
                 pinned in benches/peers/package.json, installed with
                 `npm install --prefix benches/peers` when missing) in a copy
                 of the project: node, plus workerd running wrangler's proxy
                 worker, plus workerd running miniflare's entry worker,
                 Cloudflare's router-worker and asset-worker.

Each server is started pinned to CPU 0 (`taskset -c 0`, inherited by
everything it spawns) and wrk runs pinned to CPU 1, as
`benches/http_load.py --pin` does.  Before any load, every asset is fetched
once without Accept-Encoding and checked: status 200, the exact bytes, no
Content-Encoding.  Then for each asset and each connection count: a warm-up,
then `wrk -t1 -cN -dD --latency -H 'Host: site.test' URL` (HTTP/1.1
keep-alive, no Accept-Encoding, so no compression), checking that every
answer was 2xx and that the bytes read per response cover the body.  After
the load the assets are checked again.

Reported per server and load (medians over rounds): requests/s, latency
p50/p99, and server CPU time per request: utime+stime of the server's whole
process tree (from /proc, before and after the load, see http_load.py)
divided by the requests wrk completed.  For wrangler, the tree (node and
both workerd processes) is also split: the two workerd processes alone, and
the one that serves the assets.  Ratios are taken within the same run:
ridge ÷ nginx (goal: at most 1.5×) and wrangler ÷ ridge (goal: at least 5×).
Servers are started once per round and serve every load of that round;
the order of the servers rotates from round to round.

Python 3.11 standard library only; process handling, /proc reading and
machine facts come from benches/http_load.py.  Markdown goes to stdout,
progress to stderr.

Example:
  python3 benches/assets.py --ridge-bin target/release/ridge
  python3 benches/assets.py --duration 10 --connections 10,64 --rounds 3 \\
      --servers ridge,nginx,wrangler
"""

from __future__ import annotations

import argparse
import datetime as _dt
import http.client
import json
import os
import random
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
from http_load import (  # noqa: E402
    CLK_TCK,
    _read_stat,
    _to_us,
    cpu_seconds,
    ensure_wrk,
    fmt_us,
    free_port,
    loadavg,
    machine_info,
    npm_version,
    on_signal,
    process_tree,
    ridge_binary,
    stop,
    stop_all,
    track,
)
from projects import WRANGLER, wrangler_binary, wrangler_dev_command, wrangler_env  # noqa: E402

NGINX = "/usr/sbin/nginx"
ALL_SERVERS = ("ridge", "ridge-dev", "nginx", "nginx-cached", "wrangler", "miniflare")
MINIFLARE = WRANGLER.parent.parent / "miniflare"
HOST = "site.test"  # <project name>.<--base-domain>
COMPAT_DATE = "2025-09-01"
PROJECT_CONFIG = {"name": "site", "compatibility_date": COMPAT_DATE, "assets": {"directory": "./public"}}
SERVER_CPU, WRK_CPU = 0, 1


def log(msg: str) -> None:
    print(f"[assets] {msg}", file=sys.stderr, flush=True)


class Failed(Exception):
    """A server did not start, or answered wrongly."""


# --------------------------------------------------------------------------
# The files
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Asset:
    path: str  # URL path, also the file's name under public/
    label: str
    content: bytes


def make_assets() -> list[Asset]:
    rules = "/* Ridge static-assets benchmark: 1,024 bytes of CSS */\n"
    i = 0
    while True:
        rule = f".c{i} {{ color: #{(i * 40993) % 0xFFFFFF:06x}; margin: {i % 16}px; }}\n"
        if len(rules) + len(rule) > 1024 - 3:
            break
        rules += rule
        i += 1
    css = (rules + " " * (1024 - 1 - len(rules)) + "\n").encode()
    assert len(css) == 1024
    big = random.Random(20261207).randbytes(1 << 20)  # incompressible, and the same every run
    return [
        Asset("/style.css", "style.css (1 KiB)", css),
        Asset("/big.bin", "big.bin (1 MiB)", big),
    ]


def write_project(folder: Path, assets: list[Asset]) -> None:
    public = folder / "public"
    public.mkdir(parents=True)
    for a in assets:
        (public / a.path.lstrip("/")).write_bytes(a.content)
    (folder / "wrangler.jsonc").write_text(json.dumps(PROJECT_CONFIG, indent=2) + "\n")


# --------------------------------------------------------------------------
# Servers
# --------------------------------------------------------------------------

# nginx-cached: keeps open descriptors (and sizes, mtimes) of the files served,
# so a request costs no open/fstat/close; the nearest to Ridge's in-memory
# manifest.
NGINX_CACHED = "open_file_cache max=1000 inactive=60s; open_file_cache_valid 60s;"
NGINX_CONFIG = """\
daemon off;
worker_processes 1;
@USER@
pid @DIR@/nginx.pid;
error_log @DIR@/error.log warn;
events { worker_connections 1024; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    etag on;
    keepalive_requests 1000000;
    @EXTRA@
    client_body_temp_path @DIR@/tmp/body;
    proxy_temp_path @DIR@/tmp/proxy;
    fastcgi_temp_path @DIR@/tmp/fastcgi;
    uwsgi_temp_path @DIR@/tmp/uwsgi;
    scgi_temp_path @DIR@/tmp/scgi;
    server {
        listen 127.0.0.1:@PORT@;
        root @ROOT@;
    }
}
"""


@dataclass
class Server:
    name: str
    version: str
    cwd: Path  # where it runs; holds its project copy / config
    binary: Path | None = None

    def command(self, port: int | str, scratch: Path) -> tuple[list[str], dict[str, str]]:
        env = dict(os.environ)
        if self.name == "ridge":
            cmd = [str(self.binary), "serve", "--workers", str(self.cwd / "workers"),
                   "--listen", f"127.0.0.1:{port}", "--base-domain", "test",
                   "--isolate-threads", "1", "--data-dir", str(self.cwd / "data")]
        elif self.name == "ridge-dev":
            cmd = [str(self.binary), "dev", "--port", str(port)]
        elif self.name in ("nginx", "nginx-cached"):
            conf = self.cwd / "nginx.conf"
            if isinstance(port, int):
                user = "user nobody nogroup;" if os.geteuid() == 0 else ""
                extra = NGINX_CACHED if self.name == "nginx-cached" else ""
                conf.write_text(NGINX_CONFIG.replace("@DIR@", str(self.cwd)).replace("@USER@", user)
                                .replace("@EXTRA@", extra).replace("@PORT@", str(port))
                                .replace("@ROOT@", str(self.cwd / "public")))
            cmd = [str(self.binary), "-p", str(self.cwd), "-c", str(conf), "-e", str(self.cwd / "error.log")]
        elif self.name == "wrangler":
            cmd = wrangler_dev_command(self.binary, port, free_port() if isinstance(port, int) else "PORT2")
            env = wrangler_env()
        elif self.name == "miniflare":
            index = (MINIFLARE / "dist" / "src" / "index.js").as_uri()
            cmd = ["node", str(self.cwd / "miniflare.mjs"), index, str(self.cwd / "public"), str(port)]
        else:
            raise ValueError(self.name)
        return cmd, env

    def display(self, scratch: Path) -> str:
        cmd, _ = self.command("PORT", scratch)
        text = shlex.join(cmd).replace("file://" + str(REPO_DIR) + "/", "").replace(str(REPO_DIR) + "/", "")
        text = text.replace(str(scratch) + "/", "")
        if self.name == "ridge":
            text += f" (workers/site: the project; requests carry Host: {HOST})"
        elif self.name in ("ridge-dev", "wrangler"):
            text += " (in a copy of the project)"
        elif self.name == "nginx":
            text += " (generated config, see the script)"
        elif self.name == "nginx-cached":
            text += f" (the same config plus `{NGINX_CACHED}`)"
        elif self.name == "miniflare":
            text += " (miniflare.mjs: `new Miniflare({ assets: { directory }, logRequests: false, ... })`, see the script)"
        return text


def prepare(name: str, scratch: Path, assets: list[Asset], ridge: Path | None) -> Server:
    cwd = scratch / name
    if name == "ridge":
        write_project(cwd / "workers" / "site", assets)
        return Server(name, "", cwd, ridge)
    if name == "ridge-dev":
        write_project(cwd, assets)
        return Server(name, "", cwd, ridge)
    if name in ("nginx", "nginx-cached"):
        if not os.access(NGINX, os.X_OK):
            raise Failed(f"{NGINX} is not installed (apt-get install nginx)")
        write_project(cwd, assets)
        (cwd / "tmp").mkdir()
        if os.geteuid() == 0:  # the worker process runs as nobody: it must read the files
            for p in [scratch, cwd, cwd / "public", *(cwd / "public").iterdir()]:
                p.chmod(0o755 if p.is_dir() else 0o644)
        r = subprocess.run([NGINX, "-v"], capture_output=True, text=True)
        return Server(name, (r.stderr or r.stdout).strip(), cwd, Path(NGINX))
    if name == "wrangler":
        wrangler, version = wrangler_binary()
        if wrangler is None:
            raise Failed(version)
        write_project(cwd, assets)
        return Server(name, f"{version}, miniflare {npm_version('miniflare')}, {workerd_version()}", cwd, wrangler)
    if name == "miniflare":
        if not (MINIFLARE / "dist" / "src" / "index.js").is_file():
            if wrangler_binary()[0] is None:  # installs benches/peers
                raise Failed("miniflare is not installed (npm install --prefix benches/peers)")
        if shutil.which("node") is None:
            raise Failed("node is not installed")
        write_project(cwd, assets)
        (cwd / "miniflare.mjs").write_text(MINIFLARE_SCRIPT)
        node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
        return Server(name, f"miniflare {npm_version('miniflare')} (the one wrangler uses), {workerd_version()}, "
                            f"node {node}", cwd, None)
    raise ValueError(name)


def workerd_version() -> str:
    pkg = "miniflare/node_modules/@cloudflare/workerd-linux-64"
    return f"workerd {npm_version(pkg)}" if (WRANGLER.parent.parent / pkg).is_dir() else "miniflare's workerd"


# workerd running what `wrangler dev` runs for an assets-only project, minus
# wrangler: miniflare's entry worker, Cloudflare's router-worker and
# asset-worker, and the user worker (never reached here).  No proxy worker in
# front, no inspector attached, no log line per request (`logRequests`).
MINIFLARE_SCRIPT = """\
const [, , miniflareUrl, directory, port] = process.argv;
const { Miniflare } = await import(miniflareUrl);
const mf = new Miniflare({
  host: "127.0.0.1",
  port: Number(port),
  logRequests: false,
  compatibilityDate: "%s",
  modules: true,
  script: "export default { fetch() { return new Response(null, { status: 404 }); } }",
  assets: { directory, routerConfig: { has_user_worker: false } },
});
await mf.ready;
console.log(`ready on ${port}`);
const stop = async () => { await mf.dispose(); process.exit(0); };
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
""" % COMPAT_DATE


def get(port: int, path: str, timeout: float = 5.0) -> tuple[int, dict[str, str], bytes]:
    """GET path with Host: site.test and no Accept-Encoding."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", HOST)
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def check(port: int, asset: Asset) -> dict[str, str]:
    """Raises Failed unless the asset comes back whole and uncompressed."""
    status, headers, body = get(port, asset.path)
    if status != 200:
        raise Failed(f"GET {asset.path}: HTTP {status} {body[:200]!r}")
    if "content-encoding" in headers:
        raise Failed(f"GET {asset.path}: Content-Encoding {headers['content-encoding']} without Accept-Encoding")
    if body != asset.content:
        raise Failed(f"GET {asset.path}: {len(body)} bytes, not the file's {len(asset.content)}")
    return headers


def start(server: Server, scratch: Path, assets: list[Asset], timeout: float) -> tuple[subprocess.Popen, int, Path]:
    port = free_port()
    cmd, env = server.command(port, scratch)
    log_path = server.cwd / f"server-{port}.log"
    with open(log_path, "wb") as logf:
        # taskset execs the server (same pid); what it spawns inherits the CPU.
        proc = subprocess.Popen(["taskset", "-c", str(SERVER_CPU)] + cmd, cwd=server.cwd, env=env,
                                stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                                start_new_session=True)
    track(proc)
    deadline = time.monotonic() + timeout
    last = "no answer"
    while True:
        if proc.poll() is not None:
            stop(proc)
            raise Failed(f"{server.name} exited with code {proc.returncode} at startup; log:\n"
                         + log_path.read_text(errors="replace")[-2000:])
        try:
            check(port, assets[0])
            break
        except (OSError, http.client.HTTPException, Failed) as e:
            last = str(e)
        if time.monotonic() > deadline:
            stop(proc)
            raise Failed(f"{server.name} did not serve {assets[0].path} within {timeout:g}s ({last}); log:\n"
                         + log_path.read_text(errors="replace")[-2000:])
        time.sleep(0.05)
    # Belt and braces: every thread of every process of the tree on SERVER_CPU.
    for pid in process_tree(proc.pid):
        subprocess.run(["taskset", "-a", "-p", "-c", str(SERVER_CPU), str(pid)], capture_output=True)
    return proc, port, log_path


# --------------------------------------------------------------------------
# CPU, split by process
# --------------------------------------------------------------------------


def cpu_by_process(server: str, root: int, port: int) -> dict[str, float]:
    """CPU seconds (utime+stime, all threads) of each live process of the
    tree, by role: for wrangler, "workerd-proxy" (the workerd running
    wrangler's proxy worker, which owns the public port) and
    "workerd-assets" (the workerd running the entry, router and asset
    workers); otherwise the process's command name."""
    out: dict[str, float] = {}
    for pid in process_tree(root):
        st = _read_stat(pid)
        if st is None:
            continue
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
            args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        role = comm
        if server == "wrangler" and comm == "workerd":
            mine = f"--socket-addr=entry=127.0.0.1:{port}".encode()
            role = "workerd-proxy" if mine in args else "workerd-assets"
        out[role] = out.get(role, 0.0) + (int(st[11]) + int(st[12])) / CLK_TCK
    return out


# --------------------------------------------------------------------------
# wrk
# --------------------------------------------------------------------------

_SIZE = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}


@dataclass
class Load:
    requests: int
    bytes_read: float
    rps: float
    p50_us: float
    p99_us: float
    errors: str  # wrk's "Socket errors: ..." line, empty when there were none
    non2xx: int


def run_wrk(wrk: str, port: int, path: str, connections: int, duration: int) -> Load:
    """http_load.run_wrk for a path and a Host header (its URL is always /)."""
    # --timeout 10s: a slow peer's late answers are counted, not dropped as
    # socket errors (wrk's default is 2 s).
    cmd = ["taskset", "-c", str(WRK_CPU), wrk, "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "10s",
           "--latency",
           "-H", f"Host: {HOST}", f"http://127.0.0.1:{port}{path}"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    out = r.stdout
    if r.returncode != 0:
        raise Failed(f"wrk failed ({r.returncode}): {r.stderr.strip()}\n{out}")
    m_req = re.search(r"^\s*(\d+) requests in \S+, ([\d.]+)([KMGT]?B) read", out, re.M)
    m_rps = re.search(r"^Requests/sec:\s*([\d.]+)", out, re.M)
    m_50 = re.search(r"^\s*50%\s+(\S+)", out, re.M)
    m_99 = re.search(r"^\s*99%\s+(\S+)", out, re.M)
    if not (m_req and m_rps and m_50 and m_99):
        raise Failed(f"could not parse wrk output:\n{out}\n{r.stderr}")
    m_err = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    m_non = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return Load(
        requests=int(m_req.group(1)),
        bytes_read=float(m_req.group(2)) * _SIZE[m_req.group(3)],
        rps=float(m_rps.group(1)),
        p50_us=_to_us(m_50.group(1)),
        p99_us=_to_us(m_99.group(1)),
        errors=m_err.group(0) if m_err else "",
        non2xx=int(m_non.group(1)) if m_non else 0,
    )


@dataclass
class Sample:
    rps: float
    p50_us: float
    p99_us: float
    cpu_us: float  # whole process tree, per request
    cpu_use: float  # tree CPU seconds per wall second
    parts_us: dict[str, float]  # per role, per request
    bytes_per_response: float
    errors: str  # wrk's socket errors, reported as warnings


def measure(server: str, proc: subprocess.Popen, port: int, asset: Asset, connections: int, args, wrk: str) -> Sample:
    if args.warmup:
        run_wrk(wrk, port, asset.path, connections, args.warmup)
    cpu0, _ = cpu_seconds(proc.pid)
    parts0 = cpu_by_process(server, proc.pid, port)
    t0 = time.monotonic()
    load = run_wrk(wrk, port, asset.path, connections, args.duration)
    t1 = time.monotonic()
    cpu1, _ = cpu_seconds(proc.pid)
    parts1 = cpu_by_process(server, proc.pid, port)
    if proc.poll() is not None:
        raise Failed("the server died during the load")
    if load.requests == 0:
        raise Failed("wrk completed no request")
    if load.non2xx:
        raise Failed(f"{load.non2xx} non-2xx answers under load")
    per_response = load.bytes_read / load.requests
    # wrk rounds the bytes it read to 2 decimals of its unit: allow 1%.
    if not (len(asset.content) * 0.99 <= per_response <= (len(asset.content) + 2048) * 1.01):
        raise Failed(f"{per_response:,.0f} bytes read per response for a {len(asset.content):,}-byte file")
    return Sample(
        rps=load.rps,
        p50_us=load.p50_us,
        p99_us=load.p99_us,
        cpu_us=(cpu1 - cpu0) * 1e6 / load.requests,
        cpu_use=(cpu1 - cpu0) / (t1 - t0),
        parts_us={k: (parts1[k] - parts0.get(k, 0.0)) * 1e6 / load.requests for k in parts1},
        bytes_per_response=per_response,
        errors=load.errors,
    )


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------


def med(xs: list[float]) -> float:
    return statistics.median(xs)


@dataclass
class Results:
    samples: dict[tuple[str, str, int], list[Sample]] = field(default_factory=dict)
    headers: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)

    def get(self, server: str, asset: Asset, conns: int) -> list[Sample]:
        return self.samples.get((server, asset.path, conns), [])


def ratio_text(num: list[Sample], den: list[Sample], key) -> str:
    if not num or not den:
        return "–"
    n = min(len(num), len(den))
    rounds = ", ".join(f"{key(num[i]) / key(den[i]):.2f}" for i in range(n))
    overall = med([key(s) for s in num]) / med([key(s) for s in den])
    return f"**{overall:.2f}×**" + (f" ({rounds})" if n > 1 else "")


def report(args, started: _dt.datetime, info: dict[str, str], wrk_version: str, servers: list[Server],
           skipped: dict[str, str], assets: list[Asset], res: Results, scratch: Path) -> str:
    out: list[str] = []
    w = out.append
    cmdline = shlex.join(["python3", os.path.relpath(Path(sys.argv[0]).resolve(), Path.cwd())] + sys.argv[1:])
    names = [s.name for s in servers]
    w(f"### Static assets: Ridge vs nginx vs workerd (`wrangler dev`) ({started.strftime('%Y-%m-%d %H:%M UTC')})")
    w("")
    w(f"- Command: `{cmdline}`")
    w(f"- Machine: {info['nproc']} CPUs (nproc), {info['cpu']}, {info['mem']} RAM, Linux {info['kernel']}")
    w(f"- Load average (1/5/15 min) at start: {info['loadavg']}, at end: {loadavg()}")
    w(f"- Load: `{wrk_version}`, `wrk -t1 -cN -d{args.duration}s --timeout 10s --latency -H 'Host: {HOST}'` "
      f"after a {args.warmup}s warm-up, HTTP/1.1 keep-alive, no Accept-Encoding; "
      f"server pinned to CPU {SERVER_CPU}, wrk to CPU {WRK_CPU}; {args.rounds} round(s), medians shown")
    for s in servers:
        w(f"- {s.name}: {s.version} — `{s.display(scratch)}`")
    for name, why in skipped.items():
        w(f"- {name}: **skipped** — {why.splitlines()[0]}")
    w("")
    w("| asset | connections | server | requests/s | p50 | p99 | CPU/request | CPU use |")
    w("|---|---:|---|---:|---:|---:|---:|---:|")
    for a in assets:
        for c in args.connections:
            for name in names:
                ss = res.get(name, a, c)
                if not ss:
                    continue
                w(f"| {a.label} | {c} | {name} | {med([s.rps for s in ss]):,.0f} "
                  f"| {fmt_us(med([s.p50_us for s in ss]))} | {fmt_us(med([s.p99_us for s in ss]))} "
                  f"| {med([s.cpu_us for s in ss]):.1f} µs | {med([s.cpu_use for s in ss]) * 100:.0f}% |")
    w("")
    w("Ratios, same run (CPU per request: lower is better; per-round values in parentheses; "
      "\"workerd (assets)\" is wrangler's workerd process that runs the router and asset workers, alone):")
    w("")
    w("| asset | connections | ridge ÷ nginx CPU/request | ridge ÷ nginx-cached CPU/request "
      "| ridge ÷ nginx requests/s | wrangler ÷ ridge CPU/request | workerd (assets) ÷ ridge "
      "| miniflare ÷ ridge CPU/request | ridge ÷ wrangler requests/s |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    cpu = lambda s: s.cpu_us  # noqa: E731
    rps = lambda s: s.rps  # noqa: E731
    for a in assets:
        for c in args.connections:
            r = res.get("ridge", a, c)
            wr = res.get("wrangler", a, c)
            wa = [_with_cpu(s, s.parts_us.get("workerd-assets", 0.0)) for s in wr]
            w(f"| {a.label} | {c} | {ratio_text(r, res.get('nginx', a, c), cpu)} "
              f"| {ratio_text(r, res.get('nginx-cached', a, c), cpu)} "
              f"| {ratio_text(r, res.get('nginx', a, c), rps)} | {ratio_text(wr, r, cpu)} "
              f"| {ratio_text(wa, r, cpu)} | {ratio_text(res.get('miniflare', a, c), r, cpu)} "
              f"| {ratio_text(r, wr, rps)} |")
    w("")
    if "wrangler" in names:
        w("wrangler dev's CPU per request by process (µs, medians): node (wrangler), workerd running the "
          "proxy worker (it owns the port), workerd running the entry, router and asset workers:")
        w("")
        w("| asset | connections | node | workerd (proxy) | workerd (assets) | total |")
        w("|---|---:|---:|---:|---:|---:|")
        for a in assets:
            for c in args.connections:
                ss = res.get("wrangler", a, c)
                if not ss:
                    continue
                node = med([sum(v for k, v in s.parts_us.items() if not k.startswith("workerd")) for s in ss])
                proxy = med([s.parts_us.get("workerd-proxy", 0.0) for s in ss])
                assets_ = med([s.parts_us.get("workerd-assets", 0.0) for s in ss])
                w(f"| {a.label} | {c} | {node:.1f} | {proxy:.1f} | {assets_:.1f} | {med([s.cpu_us for s in ss]):.1f} |")
        w("")
    warnings = [f"- {name} {path} c={c}, round {i + 1}: {s.errors}"
                for (name, path, c), ss in res.samples.items() for i, s in enumerate(ss) if s.errors]
    if warnings:
        w("Warnings (wrk socket errors; the requests that completed are counted):")
        w("")
        out.extend(warnings)
        w("")
    w("Response headers of each server (GET without Accept-Encoding, before the load):")
    w("")
    for (name, path), h in res.headers.items():
        keep = ", ".join(f"{k}: {v}" for k, v in h.items()
                         if k in ("content-type", "content-length", "etag", "cache-control", "last-modified",
                                  "accept-ranges"))
        w(f"- {name} {path}: {keep}")
    w("")
    w("CPU/request = utime+stime of the server's process tree (all threads), after − before the measured "
      "load, ÷ requests completed; CPU use 100% = one core busy.")
    return "\n".join(out)


def _with_cpu(s: Sample, cpu_us: float) -> Sample:
    return Sample(s.rps, s.p50_us, s.p99_us, cpu_us, s.cpu_use, s.parts_us, s.bytes_per_response, s.errors)


# --------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ridge-bin", "--ridge", dest="ridge", default=str(REPO_DIR / "target" / "release" / "ridge"),
                    help="Ridge binary (default: target/release/ridge)")
    ap.add_argument("--servers", default=",".join(ALL_SERVERS),
                    help="comma-separated subset of " + ",".join(ALL_SERVERS) + " (default all)")
    ap.add_argument("--connections", default="10,64", help="comma-separated wrk connection counts (default 10,64)")
    ap.add_argument("--duration", type=int, default=10, help="seconds of measured load (default 10)")
    ap.add_argument("--warmup", type=int, default=2, help="seconds of warm-up before each load (default 2)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds; servers restart each round (default 3)")
    ap.add_argument("--start-timeout", type=float, default=60.0, help="seconds a server may take to start")
    args = ap.parse_args()

    args.connections = [int(c) for c in args.connections.split(",") if c.strip()]
    wanted = [s.strip() for s in args.servers.split(",") if s.strip()]
    for s in wanted:
        if s not in ALL_SERVERS:
            ap.error(f"unknown server {s!r}")
    if args.duration < 1 or args.warmup < 0 or args.rounds < 1 or not args.connections:
        ap.error("--duration and --rounds must be >= 1, --warmup >= 0")
    if (os.cpu_count() or 1) < 2 or not shutil.which("taskset"):
        ap.error("needs 2+ CPUs and taskset (server and wrk are pinned apart)")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    started = _dt.datetime.now(_dt.timezone.utc)
    info = machine_info()
    wrk = ensure_wrk()
    wrk_version = re.sub(r"\s*Copyright.*", "", subprocess.run([wrk, "--version"], capture_output=True,
                                                               text=True).stdout.strip().splitlines()[0])
    ridge = version = None
    if any(s.startswith("ridge") for s in wanted):
        ridge, version = ridge_binary(args.ridge)

    assets = make_assets()
    scratch = Path(tempfile.mkdtemp(prefix="ridge-bench-assets-"))
    servers: list[Server] = []
    skipped: dict[str, str] = {}
    res = Results()
    try:
        for name in wanted:
            try:
                s = prepare(name, scratch, assets, ridge)
            except Failed as e:
                if name.startswith("ridge"):
                    raise
                log(f"SKIPPING {name}: {e}")
                skipped[name] = str(e)
                continue
            if name.startswith("ridge"):
                s.version = version
            servers.append(s)
            log(f"{name}: {s.version}")
        for rnd in range(args.rounds):
            order = servers[rnd % len(servers):] + servers[:rnd % len(servers)]
            for server in order:
                if server.name in skipped:
                    continue
                log(f"round {rnd + 1}/{args.rounds}: starting {server.name}")
                try:
                    proc, port, log_path = start(server, scratch, assets, args.start_timeout)
                    try:
                        for a in assets:
                            res.headers.setdefault((server.name, a.path), check(port, a))
                        for a in assets:
                            for c in args.connections:
                                s = measure(server.name, proc, port, a, c, args, wrk)
                                res.samples.setdefault((server.name, a.path, c), []).append(s)
                                parts = ", ".join(f"{k} {v:.1f}" for k, v in sorted(s.parts_us.items()))
                                log(f"round {rnd + 1}: {server.name} {a.path} c={c}: {s.rps:,.0f} req/s, "
                                    f"p50 {fmt_us(s.p50_us)}, p99 {fmt_us(s.p99_us)}, {s.cpu_us:.1f} µs CPU/req "
                                    f"({parts}), CPU use {s.cpu_use * 100:.0f}%, "
                                    f"{s.bytes_per_response:,.0f} B/response"
                                    + (f"; {s.errors}" if s.errors else ""))
                        for a in assets:
                            check(port, a)
                    finally:
                        stop(proc)
                except (Failed, OSError, http.client.HTTPException) as e:
                    if server.name.startswith("ridge"):
                        raise Failed(f"{server.name}: {e}")
                    log(f"SKIPPING {server.name}: {e}")
                    skipped[server.name] = str(e)
                    for key in [k for k in res.samples if k[0] == server.name]:
                        del res.samples[key]
        servers = [s for s in servers if s.name not in skipped]
        print(report(args, started, info, wrk_version, servers, skipped, assets, res, scratch))
        return 0
    except KeyboardInterrupt:
        log("interrupted; stopping servers")
        return 130
    except Failed as e:
        log(f"error: {e}")
        return 1
    finally:
        stop_all()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
