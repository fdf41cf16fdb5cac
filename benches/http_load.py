#!/usr/bin/env python3
"""HTTP load benchmark: Ridge side by side with `deno serve` and `workerd serve`.

All three runtimes serve the SAME worker module (benches/workers/hello.js,
`export default { fetch(request) { ... } }`).  For each round and each
runtime, a fresh server is started on a free 127.0.0.1 port, checked for the
expected body, warmed up, then loaded with `wrk` for a fixed duration at a
fixed concurrency.  Rounds are interleaved (ridge, deno, workerd, ridge, ...)
so slow drifts of the machine hit every runtime alike.

Reported per runtime (medians over rounds):
  * requests/s and latency p50/p99 as printed by `wrk --latency`;
  * server CPU time per request (µs): utime+stime of the real server process
    (all its threads, plus any child processes it has), read from
    /proc/<pid>/stat right before and right after the load;
  * server RSS after the load and its thread count.
Ratios relative to deno are computed within the same run.

The peers are pinned in benches/peers/package.json and installed with
`npm install --prefix benches/peers` when missing.  The NATIVE binaries inside
node_modules are launched directly (never the node wrappers), so the pid that
is measured is the server itself.  A peer that cannot be installed or run is
skipped with a message; Ridge failing is an error.

Python 3.11 standard library only.  Markdown goes to stdout, progress to
stderr.

Example:
  python3 benches/http_load.py --ridge-bin target/release/ridge \
      --duration 10 --connections 32 --rounds 3
"""

from __future__ import annotations

import argparse
import datetime as _dt
import http.client
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
PEERS_DIR = BENCH_DIR / "peers"
NODE_MODULES = PEERS_DIR / "node_modules"
DEFAULT_WORKER = BENCH_DIR / "workers" / "hello.js"
EXPECTED_BODY = b"Hello, world!\n"
ALL_RUNTIMES = ("ridge", "deno", "workerd")
# "ridge-baseline" is another build of Ridge (--baseline-ridge-bin), measured
# in the same rounds to compare two builds side by side.
RIDGE_RUNTIMES = ("ridge", "ridge-baseline")
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def log(msg: str) -> None:
    print(f"[http_load] {msg}", file=sys.stderr, flush=True)


class SkipRuntime(Exception):
    """A peer runtime cannot be benchmarked here; it is skipped, not fatal."""


# --------------------------------------------------------------------------
# Process bookkeeping: every server we start is tracked and torn down at the
# end, on errors, on Ctrl-C and on SIGTERM.
# --------------------------------------------------------------------------

_live: list[subprocess.Popen] = []


def track(proc: subprocess.Popen) -> None:
    """Has `stop_all` stop `proc` (started with start_new_session=True)."""
    _live.append(proc)


def stop(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """Stops the process group `proc` leads: SIGTERM, then SIGKILL."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if proc.poll() is not None:
            break
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=grace)
        except ProcessLookupError:
            break
        except subprocess.TimeoutExpired:
            continue
    # The leader may be gone while others in its group live on (wrangler's
    # workerd); a last SIGKILL to the group makes sure nothing outlives a run.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if proc in _live:
        _live.remove(proc)


def stop_all() -> None:
    for proc in list(_live):
        try:
            stop(proc)
        except Exception as e:  # keep going: every server must be stopped
            log(f"could not stop pid {proc.pid}: {e}")


def on_signal(signum, frame):  # turn SIGTERM/SIGHUP into a normal unwind
    raise KeyboardInterrupt(f"signal {signum}")


# --------------------------------------------------------------------------
# /proc helpers
# --------------------------------------------------------------------------


def _read_stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # comm (field 2) may contain spaces/parens: split after the last ')'.
    rest = raw[raw.rindex(")") + 2 :].split()
    return rest  # rest[0] is field 3 (state)


def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        st = _read_stat(int(entry))
        if st is None:
            continue
        kids.setdefault(int(st[1]), []).append(int(entry))  # field 4: ppid
    return kids


def process_tree(pid: int) -> list[int]:
    kids = _children_map()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def cpu_seconds(pid: int) -> tuple[float, int]:
    """utime+stime (all threads) of pid and its live descendants, plus the
    cutime+cstime of children it already reaped.  Returns (seconds, nprocs)."""
    ticks = 0
    pids = process_tree(pid)
    for i, p in enumerate(pids):
        st = _read_stat(p)
        if st is None:
            continue
        # fields 14..17: utime stime cutime cstime -> rest[11..14]
        ticks += int(st[11]) + int(st[12])
        if i == 0:
            ticks += int(st[13]) + int(st[14])
    return ticks / CLK_TCK, len(pids)


def rss_mib_and_threads(pid: int) -> tuple[float, int]:
    st = _read_stat(pid)
    if st is None:
        return float("nan"), 0
    # field 20: num_threads -> rest[17]; field 24: rss pages -> rest[21]
    return int(st[21]) * PAGE_SIZE / (1024 * 1024), int(st[17])


# --------------------------------------------------------------------------
# Environment discovery
# --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def is_elf(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def machine_info() -> dict[str, str]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem_kib = int(
            next(
                l.split()[1]
                for l in Path("/proc/meminfo").read_text().splitlines()
                if l.startswith("MemTotal:")
            )
        )
        mem = f"{mem_kib / 1024 / 1024:.1f} GiB"
    except Exception:
        mem = "unknown"
    return {
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "mem": mem,
        "kernel": platform.release(),
        "loadavg": loadavg(),
    }


def ensure_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk:
        return wrk
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log("wrk not found; installing it with apt-get")
        r = subprocess.run(
            ["apt-get", "install", "-y", "wrk"], stdout=sys.stderr, stderr=sys.stderr
        )
        if r.returncode != 0:
            subprocess.run(["apt-get", "update"], stdout=sys.stderr, stderr=sys.stderr)
            subprocess.run(
                ["apt-get", "install", "-y", "wrk"], stdout=sys.stderr, stderr=sys.stderr
            )
        wrk = shutil.which("wrk")
        if wrk:
            return wrk
    sys.exit("error: wrk is required (apt-get install -y wrk)")


def _arch_names() -> tuple[str, str]:
    m = platform.machine().lower()
    if m in ("x86_64", "amd64"):
        return "linux-x64-glibc", "workerd-linux-64"
    if m in ("aarch64", "arm64"):
        return "linux-arm64-glibc", "workerd-linux-arm64"
    raise SkipRuntime(f"no npm build of the peers for machine {m!r}")


def _peer_candidates(name: str) -> list[Path]:
    deno_pkg, workerd_pkg = _arch_names()
    if name == "deno":
        return [
            NODE_MODULES / "@deno" / deno_pkg / "deno",
            NODE_MODULES / "deno" / "deno",  # postinstall hard-links it here
        ]
    return [
        NODE_MODULES / "@cloudflare" / workerd_pkg / "bin" / "workerd",
        NODE_MODULES / "workerd" / "bin" / "workerd",
    ]


_npm_tried = False


def find_peer_binary(name: str) -> Path:
    global _npm_tried

    def lookup() -> Path | None:
        for c in _peer_candidates(name):
            if c.is_file() and os.access(c, os.X_OK) and is_elf(c):
                return c
        return None

    found = lookup()
    if found is None and not _npm_tried:
        _npm_tried = True
        npm = shutil.which("npm")
        if npm is None:
            raise SkipRuntime("npm is not installed, so the pinned peers cannot be installed")
        cmd = [npm, "install", "--no-audit", "--no-fund", "--prefix", str(PEERS_DIR)]
        log(f"installing pinned peers: {shlex.join(cmd)}")
        r = subprocess.run(cmd, cwd=REPO_DIR, stdout=sys.stderr, stderr=sys.stderr)
        if r.returncode != 0:
            raise SkipRuntime(f"`{shlex.join(cmd)}` failed with exit code {r.returncode}")
        found = lookup()
    if found is None:
        raise SkipRuntime(
            f"no native {name} binary in {NODE_MODULES} (looked at "
            + ", ".join(str(c.relative_to(BENCH_DIR)) for c in _peer_candidates(name))
            + ")"
        )
    return found


def npm_version(pkg: str) -> str:
    try:
        return json.loads((NODE_MODULES / pkg / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return "?"


def binary_version(cmd: list[str]) -> str:
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise SkipRuntime(f"`{shlex.join(cmd)}` could not run: {e}")
    if r.returncode != 0:
        raise SkipRuntime(
            f"`{shlex.join(cmd)}` exited {r.returncode}: {(r.stderr or r.stdout).strip()[:300]}"
        )
    return (r.stdout or r.stderr).strip().splitlines()[0].strip()


# --------------------------------------------------------------------------
# Runtimes
# --------------------------------------------------------------------------


@dataclass
class Runtime:
    name: str
    binary: Path
    version: str
    workdir: Path  # scratch dir for this runtime's logs/config/cache
    worker: Path

    def command(self, port: int | str) -> tuple[list[str], dict[str, str]]:
        env = dict(os.environ)
        if self.name in RIDGE_RUNTIMES:
            # Production mode, like `deno serve` and `workerd serve`: a folder
            # holding the worker (routed at 127.0.0.1, where wrk connects),
            # served without `ridge dev`'s per-request log line.
            workers = self.workdir / "workers"
            (workers / "hello").mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.worker, workers / "hello" / "index.js")
            (workers / "hello" / "ridge.toml").write_text(
                'name = "hello"\nmain = "index.js"\nroutes = ["127.0.0.1/*"]\n'
            )
            cmd = [
                str(self.binary), "serve", "--workers", str(workers),
                "--listen", f"127.0.0.1:{port}", "--isolate-threads", "1",
                "--data-dir", str(self.workdir / "data"),
            ]
        elif self.name == "deno":
            env["DENO_DIR"] = str(self.workdir / "deno_dir")
            env["DENO_NO_UPDATE_CHECK"] = "1"
            env["DENO_NO_PROMPT"] = "1"
            env["NO_COLOR"] = "1"
            cmd = [
                str(self.binary), "serve", "--host", "127.0.0.1", "--port", str(port),
                str(self.worker),
            ]
        elif self.name == "workerd":
            cfg = self.workdir / "config.capnp"
            # Copy the module next to the config so `embed` resolves locally.
            shutil.copyfile(self.worker, self.workdir / "worker.js")
            cfg.write_text(
                WORKERD_CONFIG.replace("@ADDRESS@", f"127.0.0.1:{port}")
                .replace("@COMPAT_DATE@", WORKERD_COMPAT_DATE)
            )
            cmd = [str(self.binary), "serve", str(cfg)]
        else:
            raise ValueError(self.name)
        return cmd, env

    def display_command(self) -> str:
        cmd, _ = self.command("PORT")
        text = shlex.join(cmd).replace(str(REPO_DIR) + "/", "")
        if self.name == "workerd":
            text = text.replace(str(self.workdir) + "/", "")
            text += (" (generated config: one ES-module worker, compatibilityDate "
                     f"{WORKERD_COMPAT_DATE}, HTTP socket on 127.0.0.1:PORT)")
        if self.name in RIDGE_RUNTIMES:
            text = text.replace(str(self.workdir) + "/", "")
            text += " (workers/hello: the worker with a ridge.toml routing 127.0.0.1/*)"
        return text


WORKERD_COMPAT_DATE = "2025-01-01"
WORKERD_CONFIG = """\
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [ (name = "main", worker = .helloWorker) ],
  sockets = [ (name = "http", address = "@ADDRESS@", http = (), service = "main") ],
);

const helloWorker :Workerd.Worker = (
  modules = [ (name = "worker.js", esModule = embed "worker.js") ],
  compatibilityDate = "@COMPAT_DATE@",
);
"""


def probe(port: int, timeout: float = 2.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/")
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def start_server(rt: Runtime, start_timeout: float) -> tuple[subprocess.Popen, int, Path]:
    port = free_port()
    cmd, env = rt.command(port)
    log_path = rt.workdir / f"server-{port}.log"
    logf = open(log_path, "wb")
    try:
        proc = subprocess.Popen(
            cmd,
            cwd=rt.workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=logf,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: cleaned up by killpg
        )
    finally:
        logf.close()
    track(proc)
    deadline = time.monotonic() + start_timeout
    last_err = "no answer"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            stop(proc)
            raise SkipRuntime(f"{rt.name} exited with code {proc.returncode} at startup:\n{tail}")
        try:
            status, body = probe(port)
            if status == 200 and body == EXPECTED_BODY:
                return proc, port, log_path
            last_err = f"HTTP {status} body {body[:200]!r}"
        except (OSError, http.client.HTTPException) as e:
            last_err = str(e)
        time.sleep(0.05)
    tail = log_path.read_text(errors="replace")[-2000:]
    stop(proc)
    raise SkipRuntime(
        f"{rt.name} did not answer correctly within {start_timeout:.0f}s ({last_err}); log:\n{tail}"
    )


# --------------------------------------------------------------------------
# wrk
# --------------------------------------------------------------------------

_UNIT_US = {"us": 1.0, "ms": 1000.0, "s": 1_000_000.0, "m": 60_000_000.0, "h": 3_600_000_000.0}


def _to_us(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text.strip())
    if not m:
        raise ValueError(f"cannot parse wrk duration {text!r}")
    return float(m.group(1)) * _UNIT_US[m.group(2)]


@dataclass
class WrkResult:
    requests: int
    rps: float
    p50_us: float
    p99_us: float
    errors: int
    non2xx: int
    raw: str


def run_wrk(wrk: str, port: int, threads: int, connections: int, duration: int,
            cpu: int | None) -> WrkResult:
    cmd = [
        wrk, "-t", str(threads), "-c", str(connections), "-d", f"{duration}s",
        "--latency", f"http://127.0.0.1:{port}/",
    ]
    if cpu is not None:
        cmd = ["taskset", "-c", str(cpu)] + cmd
    # subprocess.run kills wrk if we are interrupted while it runs.
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    out = r.stdout
    if r.returncode != 0:
        raise RuntimeError(f"wrk failed ({r.returncode}): {r.stderr.strip()}\n{out}")
    m_req = re.search(r"^\s*(\d+) requests in", out, re.M)
    m_rps = re.search(r"^Requests/sec:\s*([\d.]+)", out, re.M)
    m_50 = re.search(r"^\s*50%\s+(\S+)", out, re.M)
    m_99 = re.search(r"^\s*99%\s+(\S+)", out, re.M)
    if not (m_req and m_rps and m_50 and m_99):
        raise RuntimeError(f"could not parse wrk output:\n{out}\n{r.stderr}")
    errors = 0
    m_err = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    if m_err:
        errors = sum(int(x) for x in m_err.groups())
    m_non = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return WrkResult(
        requests=int(m_req.group(1)),
        rps=float(m_rps.group(1)),
        p50_us=_to_us(m_50.group(1)),
        p99_us=_to_us(m_99.group(1)),
        errors=errors,
        non2xx=int(m_non.group(1)) if m_non else 0,
        raw=out,
    )


@dataclass
class Sample:
    rps: float
    p50_us: float
    p99_us: float
    cpu_us_per_req: float
    cpu_util: float  # server CPU seconds per wall second (1.0 = one core)
    rss_mib: float
    threads: int
    nprocs: int
    errors: int
    non2xx: int


def measure(rt: Runtime, wrk: str, args) -> Sample:
    server_cpu = 0 if args.pin else None
    wrk_cpu = 1 if args.pin else None
    proc, port, log_path = start_server(rt, args.start_timeout)
    try:
        if server_cpu is not None:
            subprocess.run(["taskset", "-a", "-p", "-c", str(server_cpu), str(proc.pid)],
                           check=True, capture_output=True)
        if args.warmup > 0:
            run_wrk(wrk, port, args.threads, args.connections, args.warmup, wrk_cpu)
        cpu0, _ = cpu_seconds(proc.pid)
        t0 = time.monotonic()
        res = run_wrk(wrk, port, args.threads, args.connections, args.duration, wrk_cpu)
        t1 = time.monotonic()
        cpu1, nprocs = cpu_seconds(proc.pid)
        if proc.poll() is not None:
            raise RuntimeError(f"{rt.name} died during the load; see {log_path}")
        rss, threads = rss_mib_and_threads(proc.pid)
        status, body = probe(port)
        if status != 200 or body != EXPECTED_BODY:
            raise RuntimeError(f"{rt.name} answered HTTP {status} {body[:100]!r} after the load")
    finally:
        stop(proc)
    if res.requests == 0:
        raise RuntimeError(f"{rt.name}: wrk completed no request\n{res.raw}")
    return Sample(
        rps=res.rps,
        p50_us=res.p50_us,
        p99_us=res.p99_us,
        cpu_us_per_req=(cpu1 - cpu0) * 1e6 / res.requests,
        cpu_util=(cpu1 - cpu0) / (t1 - t0),
        rss_mib=rss,
        threads=threads,
        nprocs=nprocs,
        errors=res.errors,
        non2xx=res.non2xx,
    )


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------


def fmt_us(us: float) -> str:
    if us >= 1000:
        return f"{us / 1000:.2f} ms"
    return f"{us:.0f} µs"


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def report(args, runtimes: list[Runtime], samples: dict[str, list[Sample]],
           skipped: dict[str, str], info: dict[str, str], wrk_version: str,
           started: _dt.datetime) -> str:
    out: list[str] = []
    w = out.append
    cmdline = shlex.join([os.path.relpath(sys.argv[0], Path.cwd())] + sys.argv[1:])
    w("### HTTP hello-world: Ridge vs deno serve vs workerd serve")
    w("")
    w(f"- Date: {started.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    w(f"- Machine: {info['nproc']} CPUs, {info['cpu']}, {info['mem']} RAM, Linux {info['kernel']}")
    w(f"- Load average (1/5/15 min) at start: {info['loadavg']}, at end: {loadavg()}"
      " (anything well above 0 means other work shared the CPUs)")
    w(f"- Command: `python3 {cmdline}`")
    w(
        f"- Load: `{wrk_version}`, {args.threads} thread(s), {args.connections} connections, "
        f"{args.duration:g}s per measurement after {args.warmup:g}s warm-up, "
        f"{args.rounds} interleaved round(s), medians shown"
        + (" ; server pinned to CPU 0, wrk to CPU 1" if args.pin else
           " ; server and wrk share the machine's CPUs (no pinning)")
    )
    w(f"- Worker: `{os.path.relpath(args.worker, REPO_DIR)}` (same module for all runtimes)")
    for rt in runtimes:
        w(f"- {rt.name}: {rt.version} — `{rt.display_command()}`")
    for name, why in skipped.items():
        w(f"- {name}: **skipped** — {why.splitlines()[0]}")
    w("")
    w("| runtime | requests/s | p50 | p99 | server CPU/request | server CPU use | RSS after | threads |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|")
    for rt in runtimes:
        ss = samples.get(rt.name) or []
        if not ss:
            continue
        w(
            f"| {rt.name} | {median([s.rps for s in ss]):,.0f} "
            f"| {fmt_us(median([s.p50_us for s in ss]))} "
            f"| {fmt_us(median([s.p99_us for s in ss]))} "
            f"| {median([s.cpu_us_per_req for s in ss]):.1f} µs "
            f"| {median([s.cpu_util for s in ss]) * 100:.0f}% "
            f"| {median([s.rss_mib for s in ss]):.0f} MiB "
            f"| {max(s.threads for s in ss)} |"
        )
    w("")
    base = samples.get("deno")
    if base:
        lines = []
        for rt in runtimes:
            if rt.name == "deno" or not samples.get(rt.name):
                continue
            ss = samples[rt.name]
            n = min(len(ss), len(base))
            cpu_ratio = median([s.cpu_us_per_req for s in ss]) / median([b.cpu_us_per_req for b in base])
            rps_ratio = median([s.rps for s in ss]) / median([b.rps for b in base])
            per_round_cpu = ", ".join(
                f"{ss[i].cpu_us_per_req / base[i].cpu_us_per_req:.2f}" for i in range(n)
            )
            per_round_rps = ", ".join(f"{ss[i].rps / base[i].rps:.2f}" for i in range(n))
            lines.append(
                f"- {rt.name}/deno: CPU per request **{cpu_ratio:.2f}×** "
                f"(per round: {per_round_cpu}), throughput **{rps_ratio:.2f}×** "
                f"(per round: {per_round_rps})"
            )
        if lines:
            w("Ratios relative to deno, same run (lower CPU/request is better, higher throughput is better):")
            w("")
            out.extend(lines)
            w("")
    else:
        w("Ratios relative to deno: not available (deno was not measured in this run).")
        w("")
    ridge, baseline = samples.get("ridge"), samples.get("ridge-baseline")
    if ridge and baseline:
        n = min(len(ridge), len(baseline))
        cpu_ratio = median([s.cpu_us_per_req for s in ridge]) / median([b.cpu_us_per_req for b in baseline])
        per_round = ", ".join(
            f"{ridge[i].cpu_us_per_req / baseline[i].cpu_us_per_req:.2f}" for i in range(n)
        )
        w(f"ridge/ridge-baseline (this build ÷ the baseline build, same run): CPU per request "
          f"**{cpu_ratio:.2f}×** (per round: {per_round})")
        w("")
    problems = []
    for name, ss in samples.items():
        for i, s in enumerate(ss):
            if s.errors or s.non2xx:
                problems.append(
                    f"- {name} round {i + 1}: {s.errors} socket errors, {s.non2xx} non-2xx responses"
                )
            if s.nprocs > 1:
                problems.append(f"- {name} round {i + 1}: server had {s.nprocs} processes (all counted)")
    if problems:
        w("Warnings:")
        w("")
        out.extend(problems)
        w("")
    w(
        "Server CPU/request = (utime+stime of the server process, all threads, after − before "
        "the measured load) ÷ requests completed; CPU use 100% = one core busy."
    )
    return "\n".join(out)


# --------------------------------------------------------------------------


def ridge_binary(path: str) -> tuple[Path, str]:
    """A Ridge binary to measure and the version line it reports."""
    bin_path = Path(path).resolve()
    if not (bin_path.is_file() and os.access(bin_path, os.X_OK)):
        sys.exit(f"error: Ridge binary {bin_path} not found; build it "
                 f"(cargo build --release) or pass --ridge-bin")
    try:
        version = binary_version([str(bin_path), "--version"])
    except SkipRuntime as e:
        sys.exit(f"error: {e}")
    version = f"{version} ({os.path.relpath(bin_path, REPO_DIR)})"
    if "/debug/" in str(bin_path):
        version += " **debug build**"
    return bin_path, version


def main() -> int:
    ap = argparse.ArgumentParser(
        description="Load-test Ridge, deno serve and workerd serve on the same worker with wrk."
    )
    ap.add_argument("--ridge-bin", default=str(REPO_DIR / "target" / "release" / "ridge"),
                    help="Ridge binary (default: target/release/ridge)")
    ap.add_argument("--baseline-ridge-bin", default=None,
                    help="also measure this Ridge binary (e.g. a build of an earlier commit), "
                         "as 'ridge-baseline', interleaved with the others in every round")
    ap.add_argument("--duration", type=int, default=10, help="whole seconds of measured load (default 10)")
    ap.add_argument("--warmup", type=int, default=2, help="whole seconds of warm-up load, 0 for none (default 2)")
    ap.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    ap.add_argument("--threads", type=int, default=1, help="wrk threads (default 1)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    ap.add_argument("--runtimes", default=",".join(ALL_RUNTIMES),
                    help="comma-separated subset of ridge,deno,workerd (default all)")
    ap.add_argument("--worker", default=str(DEFAULT_WORKER), help="worker module (default benches/workers/hello.js)")
    ap.add_argument("--start-timeout", type=float, default=60.0, help="seconds to wait for a server (default 60)")
    ap.add_argument("--pin", action="store_true",
                    help="pin the server to CPU 0 and wrk to CPU 1 (needs 2+ CPUs and taskset)")
    args = ap.parse_args()

    if args.duration < 1 or args.warmup < 0 or args.rounds < 1:
        ap.error("--duration and --rounds must be >= 1, --warmup >= 0")
    if args.connections < args.threads:
        ap.error("--connections must be >= --threads")
    wanted = [r.strip() for r in args.runtimes.split(",") if r.strip()]
    for r in wanted:
        if r not in ALL_RUNTIMES:
            ap.error(f"unknown runtime {r!r}")
    if args.baseline_ridge_bin:
        wanted.insert(wanted.index("ridge") + 1 if "ridge" in wanted else 0, "ridge-baseline")
    args.worker = str(Path(args.worker).resolve())
    if not Path(args.worker).is_file():
        ap.error(f"worker {args.worker} not found")
    if args.pin and ((os.cpu_count() or 1) < 2 or not shutil.which("taskset")):
        ap.error("--pin needs at least 2 CPUs and taskset")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    started = _dt.datetime.now().astimezone()
    info = machine_info()
    wrk = ensure_wrk()
    wrk_version = subprocess.run([wrk, "--version"], capture_output=True, text=True).stdout.strip().splitlines()[0]
    wrk_version = re.sub(r"\s*Copyright.*", "", wrk_version)

    scratch = Path(tempfile.mkdtemp(prefix="ridge-http-load-"))
    runtimes: list[Runtime] = []
    skipped: dict[str, str] = {}
    samples: dict[str, list[Sample]] = {}
    try:
        for name in wanted:
            wd = scratch / name
            wd.mkdir()
            if name in RIDGE_RUNTIMES:
                bin_path, version = ridge_binary(args.ridge_bin if name == "ridge" else args.baseline_ridge_bin)
            else:
                try:
                    bin_path = find_peer_binary(name)
                    version = binary_version([str(bin_path), "--version"])
                    version += f" (npm {name}@{npm_version(name)})"
                except SkipRuntime as e:
                    log(f"SKIPPING {name}: {e}")
                    skipped[name] = str(e)
                    continue
            runtimes.append(Runtime(name, bin_path, version, wd, Path(args.worker)))
            log(f"{name}: {version} at {bin_path}")

        if not any(r.name == "ridge" for r in runtimes) and "ridge" in wanted:
            sys.exit("error: ridge is not runnable")

        for rnd in range(1, args.rounds + 1):
            for rt in list(runtimes):
                if rt.name in skipped:
                    continue
                log(f"round {rnd}/{args.rounds}: {rt.name} ...")
                try:
                    s = measure(rt, wrk, args)
                except SkipRuntime as e:
                    if rt.name in RIDGE_RUNTIMES:
                        raise RuntimeError(str(e))
                    log(f"SKIPPING {rt.name}: {e}")
                    skipped[rt.name] = str(e)
                    samples.pop(rt.name, None)
                    continue
                samples.setdefault(rt.name, []).append(s)
                log(
                    f"round {rnd}/{args.rounds}: {rt.name}: {s.rps:,.0f} req/s, "
                    f"p50 {fmt_us(s.p50_us)}, p99 {fmt_us(s.p99_us)}, "
                    f"{s.cpu_us_per_req:.1f} µs CPU/req, CPU use {s.cpu_util * 100:.0f}%, "
                    f"RSS {s.rss_mib:.0f} MiB, {s.threads} threads"
                    + (f", {s.errors} socket errors" if s.errors else "")
                    + (f", {s.non2xx} non-2xx" if s.non2xx else "")
                )
        runtimes = [r for r in runtimes if r.name not in skipped]
        print(report(args, runtimes, samples, skipped, info, wrk_version, started))
        return 0
    except KeyboardInterrupt:
        log("interrupted; stopping servers")
        return 130
    except RuntimeError as e:
        log(f"error: {e}")
        return 1
    finally:
        stop_all()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
