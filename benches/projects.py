#!/usr/bin/env python3
"""Workers projects: `ridge dev` side by side with `wrangler dev`, cold starts.

Two measurements, both on this machine in one run:

1. Time to first answer.  For each project under fixtures/projects/ (default
   `hono` and `openapi`): the time from starting the dev server in the
   project's folder to the first HTTP answer with a status below 500 on the
   project's first path (`paths[0]` of its compat.json, else `/`).  The URL is
   polled every ~10 ms with http.client; a printed "ready" line is not enough,
   the answer must arrive.  Measured for
     * `ridge dev --port PORT` (the binary given by --ridge), and
     * `wrangler dev --port PORT --ip 127.0.0.1 ...` (npm wrangler, pinned in
       benches/peers/package.json, installed with
       `npm install --prefix benches/peers` when missing).
   Every run is a cold first start: `.ridge/` (Ridge's local state and its
   worker snapshots, .ridge/snapshots) and `.wrangler/` (wrangler's state and
   build output) are deleted from the project folder before each run.

2. Module graph.  A synthetic project is generated in a temporary folder:
   `src/index.js` imports 600 local modules `src/m/NN/mNNN.js` (spread over
   folders of 50), each importing two modules of lower number (a DAG; m000
   and m001 fewer) and exporting a function, plus `{ Hono }` from the real
   `hono` package.  Timed:
     * `ridge dev --port 0`: from start to its `ready on` line (the whole
       graph resolved, loaded and evaluated, the worker listening), and
     * `wrangler deploy --dry-run --outdir OUT`: wrangler bundling the same
       graph with esbuild, for reference.  This is not the same work (no
       server is started, the bundle is written to disk), so read the ratio
       as "resolving the graph and starting" versus "resolving and bundling".
   The number of modules is taken from esbuild's metafile (one extra, untimed
   bundle), so it includes hono's own files.

Projects are copied into a temporary folder (without node_modules, .ridge,
.wrangler) and `npm install --no-audit --no-fund` runs there first, untimed:
npm dependencies are not committed.  Runs are interleaved (ridge then
wrangler, then wrangler then ridge, ...) so slow drifts of the machine hit
both alike.  Wrangler runs with WRANGLER_SEND_METRICS=false, CI=1 and, so
that no network round trip is timed, CLOUDFLARE_CF_FETCH_ENABLED=false (no
download of the `Request.cf` object) and WRANGLER_HIDE_BANNER=true (the
banner waits up to 100 ms for an npm update check); Ridge makes no network
calls at startup.  The page cache is warm for both (each binary is run once
with --version first; the project files were just written).

Python 3.11 standard library only.  Markdown goes to stdout (paste it into
BENCHMARKS.md), progress to stderr.

Example:
  python3 benches/projects.py --ridge target/release/ridge
  python3 benches/projects.py --ridge target/release/ridge --runs 10 --projects hono
"""

from __future__ import annotations

import argparse
import datetime as _dt
import http.client
import json
import os
import random
import re
import selectors
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
PROJECTS_DIR = REPO_DIR / "fixtures" / "projects"
PEERS_DIR = BENCH_DIR / "peers"
WRANGLER = PEERS_DIR / "node_modules" / ".bin" / "wrangler"
sys.path.insert(0, str(BENCH_DIR))
from http_load import free_port, loadavg, machine_info, on_signal, stop, stop_all, track  # noqa: E402

DEFAULT_PROJECTS = ("hono", "openapi")
GRAPH_MODULES = 600
GRAPH_FOLDER_SIZE = 50  # modules per folder under src/m/
HONO_VERSION = "4.10.4"  # the version fixtures/projects pin
COMPAT_DATE = "2025-09-01"  # the date fixtures/projects use
POLL_INTERVAL = 0.010  # seconds between HTTP polls
STATE_DIRS = (".ridge", ".wrangler")
READY_LINE = re.compile(r"ready on http://127\.0\.0\.1:(\d+)")
# `ridge dev` logs how long collecting the module graph took.
COLLECTED_LINE = re.compile(r"collected (\d+) modules \(([\d.]+) KiB\) in ([\d.]+) ms")
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def log(msg: str) -> None:
    print(f"[projects] {msg}", file=sys.stderr, flush=True)


class RunFailed(Exception):
    """One start of a server (or one bundle) did not succeed."""


# --------------------------------------------------------------------------
# Processes: each server runs in its own process group (start_new_session),
# so stopping the group also stops what it spawned (wrangler's workerd).
# --------------------------------------------------------------------------


def start(cmd: list[str], cwd: Path, env: dict[str, str], output) -> subprocess.Popen:
    """Starts cmd; output is a log file (stdout and stderr go there) or
    subprocess.PIPE (stderr readable from proc.stderr, stdout discarded)."""
    piped = output is subprocess.PIPE
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL if piped else output,
        stderr=subprocess.PIPE if piped else subprocess.STDOUT,
        start_new_session=True,
    )
    track(proc)
    return proc


def tail(path: Path, chars: int = 2000) -> str:
    try:
        return ANSI.sub("", path.read_text(errors="replace"))[-chars:]
    except OSError:
        return "(no log)"


# --------------------------------------------------------------------------
# Tools: Ridge, wrangler, npm
# --------------------------------------------------------------------------


def first_line(cmd: list[str]) -> str:
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RunFailed(f"`{shlex.join(cmd)}` exited {r.returncode}: {(r.stderr or r.stdout).strip()[:300]}")
    lines = [l.strip() for l in ANSI.sub("", r.stdout or r.stderr).splitlines() if l.strip()]
    return lines[0] if lines else "?"


def ridge_binary(path: str) -> tuple[Path, str]:
    """The Ridge binary to measure and a description of its version."""
    binary = Path(path).resolve()
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        sys.exit(f"error: Ridge binary {binary} not found; build it (cargo build --release) or pass --ridge")
    try:
        version = first_line([str(binary), "--version"])  # also warms the page cache
    except (RunFailed, OSError, subprocess.TimeoutExpired) as e:
        sys.exit(f"error: {e}")
    version = f"{version} ({os.path.relpath(binary, REPO_DIR)})"
    if "/debug/" in str(binary):
        version += " **debug build**"
    return binary, version


def npm() -> str:
    found = shutil.which("npm")
    if found is None:
        sys.exit("error: npm is required (projects' dependencies are installed with it)")
    return found


def wrangler_env() -> dict[str, str]:
    return {
        **os.environ,
        "WRANGLER_SEND_METRICS": "false",
        "CI": "1",
        # No network during the timed start (Ridge makes none): no download
        # of Request.cf, no npm update check behind the banner.
        "CLOUDFLARE_CF_FETCH_ENABLED": "false",
        "WRANGLER_HIDE_BANNER": "true",
        "NO_COLOR": "1",
    }


def wrangler_binary() -> tuple[Path | None, str]:
    """wrangler from benches/peers (installed when missing) and its version,
    or None and the reason it cannot be used."""
    if not WRANGLER.exists():
        cmd = [npm(), "install", "--no-audit", "--no-fund", "--prefix", str(PEERS_DIR)]
        log(f"installing pinned peers: {shlex.join(cmd)}")
        r = subprocess.run(cmd, cwd=REPO_DIR, stdout=sys.stderr, stderr=sys.stderr)
        if r.returncode != 0 or not WRANGLER.exists():
            return None, f"`{shlex.join(cmd)}` failed with exit code {r.returncode}"
    try:
        version = first_line([str(WRANGLER), "--version"])  # also warms the page cache
        node = first_line(["node", "--version"])
    except (RunFailed, OSError, subprocess.TimeoutExpired) as e:
        return None, str(e)
    return WRANGLER, f"wrangler {version} (npm, benches/peers), node {node}"


def npm_install(folder: Path) -> None:
    cmd = [npm(), "install", "--no-audit", "--no-fund"]
    r = subprocess.run(cmd, cwd=folder, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"`{shlex.join(cmd)}` in {folder} failed ({r.returncode}):\n{r.stderr[-2000:]}")


def prepare_project(name: str, scratch: Path) -> Path:
    """A copy of fixtures/projects/NAME with its npm dependencies installed."""
    source = PROJECTS_DIR / name
    work = scratch / name
    shutil.copytree(source, work, ignore=shutil.ignore_patterns("node_modules", *STATE_DIRS))
    log(f"{name}: npm install (untimed) in {work}")
    npm_install(work)
    return work


def first_path(project: Path) -> str:
    try:
        paths = json.loads((project / "compat.json").read_text())["paths"]
        return paths[0] if paths else "/"
    except (OSError, ValueError, KeyError):
        return "/"


def clear_state(folder: Path) -> None:
    """Delete Ridge's and wrangler's local state, so the next start is cold."""
    for name in STATE_DIRS:
        shutil.rmtree(folder / name, ignore_errors=True)


# --------------------------------------------------------------------------
# Part 1: time to first answer
# --------------------------------------------------------------------------


def ridge_dev_command(ridge: Path, port: int | str) -> list[str]:
    return [str(ridge), "dev", "--port", str(port)]


def wrangler_dev_command(wrangler: Path, port: int | str, inspector_port: int | str) -> list[str]:
    # --show-interactive-dev-session=false: no hotkeys UI, nothing read from
    # the terminal.  An explicit inspector port: the default (9229) may be
    # taken by something else on a shared machine.
    return [
        str(wrangler), "dev", "--port", str(port), "--ip", "127.0.0.1",
        "--inspector-port", str(inspector_port), "--show-interactive-dev-session=false",
    ]


def http_status(port: int, path: str, timeout: float) -> int | None:
    """Status of GET path, or None when nothing answers yet."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def time_to_first_answer(cmd: list[str], cwd: Path, env: dict[str, str], port: int, path: str,
                         timeout: float, log_path: Path) -> float:
    """Milliseconds from starting cmd to the first answer below 500 on path."""
    last = "no answer"
    with open(log_path, "wb") as logf:
        t0 = time.perf_counter()
        proc = start(cmd, cwd, env, logf)
    try:
        deadline = t0 + timeout
        while True:
            status = http_status(port, path, timeout=max(0.1, deadline - time.perf_counter()))
            if status is not None and status < 500:
                return (time.perf_counter() - t0) * 1000
            if status is not None:
                last = f"HTTP {status}"
            if proc.poll() is not None:
                raise RunFailed(f"exited with code {proc.returncode} before answering; log:\n{tail(log_path)}")
            if time.perf_counter() > deadline:
                raise RunFailed(f"no answer below 500 within {timeout:g}s ({last}); log:\n{tail(log_path)}")
            time.sleep(POLL_INTERVAL)
    finally:
        stop(proc)


# --------------------------------------------------------------------------
# Part 2: a project with a large module graph
# --------------------------------------------------------------------------


def graph_module(n: int) -> str:
    return f"m/{n // GRAPH_FOLDER_SIZE:02d}/m{n:03d}.js"


def graph_dependencies(n: int, rng: random.Random) -> list[int]:
    """Two modules of lower number (fewer for the first two): a DAG."""
    return rng.sample(range(n), min(2, n))


def write_graph_project(root: Path, modules: int) -> None:
    """The synthetic project: wrangler.toml, package.json, src/index.js and
    `modules` modules under src/m/."""
    rng = random.Random(20261207)  # fixed: every run measures the same graph
    src = root / "src"
    for n in range(modules):
        path = src / graph_module(n)
        path.parent.mkdir(parents=True, exist_ok=True)
        deps = graph_dependencies(n, rng)
        # From src/m/AA/ to src/m/BB/mNNN.js: "../BB/mNNN.js".
        lines = [f'import {{ f{d:03d} }} from "../{graph_module(d)[2:]}";' for d in deps]
        # Calls its imports (to the given depth) so the bindings are really used.
        calls = " + ".join(f"f{d:03d}(depth - 1)" for d in deps) or "0"
        lines += [
            "",
            f"export function f{n:03d}(depth) {{",
            f"  return depth > 0 ? {calls} + {n} : {n};",
            "}",
            "",
        ]
        path.write_text("\n".join(lines))
    index = ['import { Hono } from "hono";']
    index += [f'import {{ f{n:03d} }} from "./{graph_module(n)}";' for n in range(modules)]
    index += [
        "",
        "const all = [" + ", ".join(f"f{n:03d}" for n in range(modules)) + "];",
        "const app = new Hono();",
        'app.get("/", (c) => c.text(`${all.length} modules, checksum ${all.reduce((s, f) => s + f(1), 0)}\\n`));',
        "",
        "export default app;",
        "",
    ]
    (src / "index.js").write_text("\n".join(index))
    (root / "wrangler.toml").write_text(
        f'name = "graph"\nmain = "src/index.js"\ncompatibility_date = "{COMPAT_DATE}"\n'
    )
    (root / "package.json").write_text(json.dumps(
        {"name": "graph", "private": True, "type": "module", "dependencies": {"hono": HONO_VERSION}},
        indent=2) + "\n")


def time_to_ready_line(ridge: Path, cwd: Path, timeout: float, log_path: Path) -> tuple[float, float]:
    """Milliseconds from starting `ridge dev --port 0` to its `ready on` line,
    and the collection time it logged; then (untimed) checks that it answers `/`."""
    cmd = ridge_dev_command(ridge, 0)
    t0 = time.perf_counter()
    proc = start(cmd, cwd, dict(os.environ), subprocess.PIPE)
    output = b""
    try:
        sel = selectors.DefaultSelector()
        sel.register(proc.stderr, selectors.EVENT_READ)
        deadline = t0 + timeout
        while True:
            # Read whatever is there without blocking past the deadline, and
            # stop the clock as soon as the line has arrived.
            if sel.select(timeout=max(0.0, deadline - time.perf_counter())):
                chunk = os.read(proc.stderr.fileno(), 65536)
                output += chunk
                m = READY_LINE.search(ANSI.sub("", output.decode(errors="replace")))
                if m:
                    elapsed = (time.perf_counter() - t0) * 1000
                    break
                if not chunk:
                    proc.wait(timeout=5)
                    raise RunFailed(f"ridge exited with code {proc.returncode} before `ready on`")
            if time.perf_counter() > deadline:
                raise RunFailed(f"no `ready on` line within {timeout:g}s")
        status = http_status(int(m.group(1)), "/", timeout=30)
        if status is None or status >= 500:
            raise RunFailed(f"ready, but GET / answered {status}")
        collected = COLLECTED_LINE.search(ANSI.sub("", output.decode(errors="replace")))
        if not collected:
            raise RunFailed("no `collected N modules` line before `ready on`")
        return elapsed, float(collected.group(3))
    except RunFailed as e:
        raise RunFailed(f"{e}; log:\n{ANSI.sub('', output.decode(errors='replace'))[-2000:]}")
    finally:
        stop(proc)
        log_path.write_bytes(output)


def wrangler_bundle_command(wrangler: Path, outdir: str, metafile: bool = False) -> list[str]:
    cmd = [str(wrangler), "deploy", "--dry-run", "--outdir", outdir]
    return cmd + ["--metafile"] if metafile else cmd


def time_wrangler_bundle(wrangler: Path, cwd: Path, timeout: float, log_path: Path) -> float:
    """Milliseconds `wrangler deploy --dry-run --outdir OUT` takes."""
    outdir = cwd / "out"
    shutil.rmtree(outdir, ignore_errors=True)
    with open(log_path, "wb") as logf:
        t0 = time.perf_counter()
        r = subprocess.run(wrangler_bundle_command(wrangler, str(outdir)), cwd=cwd, env=wrangler_env(),
                           stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                           timeout=timeout, start_new_session=True)
        elapsed = (time.perf_counter() - t0) * 1000
    if r.returncode != 0:
        raise RunFailed(f"exited with code {r.returncode}; log:\n{tail(log_path)}")
    return elapsed


def count_bundled_modules(wrangler: Path, cwd: Path, log_path: Path) -> tuple[int, int]:
    """(all modules, those from node_modules) per esbuild's metafile, from one
    untimed bundle."""
    outdir = cwd / "out-meta"
    with open(log_path, "wb") as logf:
        r = subprocess.run(wrangler_bundle_command(wrangler, str(outdir), metafile=True), cwd=cwd,
                           env=wrangler_env(), stdin=subprocess.DEVNULL, stdout=logf,
                           stderr=subprocess.STDOUT, timeout=300, start_new_session=True)
    if r.returncode != 0:
        raise RunFailed(f"exited with code {r.returncode}; log:\n{tail(log_path)}")
    inputs = json.loads((outdir / "bundle-meta.json").read_text())["inputs"]
    shutil.rmtree(outdir, ignore_errors=True)
    shutil.rmtree(cwd / ".wrangler", ignore_errors=True)
    return len(inputs), sum(1 for name in inputs if "node_modules/" in name)


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------


@dataclass
class Series:
    """The timings (ms) of one thing measured, or why it was skipped."""
    samples: list[float] = field(default_factory=list)
    skipped: str | None = None

    def cells(self) -> str:
        if self.skipped or not self.samples:
            return "– | – | –"
        s = self.samples
        return f"{min(s):,.0f} | {statistics.median(s):,.0f} | {max(s):,.0f}"


def ratio(peer: Series, ridge: Series) -> str:
    if peer.skipped or ridge.skipped or not peer.samples or not ridge.samples:
        return "–"
    return f"**{statistics.median(peer.samples) / statistics.median(ridge.samples):.2f}×**"


def display(cmd: list[str]) -> str:
    """A command as the reader would type it from the repository root."""
    return shlex.join(cmd).replace(str(REPO_DIR) + "/", "")


def report(args, started: _dt.datetime, info: dict[str, str], ridge: Path, ridge_version: str,
           wrangler: Path | None, wrangler_version: str, first: dict[str, tuple[str, Series, Series]],
           graph: dict | None) -> str:
    out: list[str] = []
    w = out.append
    cmdline = shlex.join(["python3", os.path.relpath(Path(sys.argv[0]).resolve(), Path.cwd())] + sys.argv[1:])
    wr = wrangler or Path("wrangler")
    w(f"### Workers projects: `ridge dev` vs `wrangler dev` ({started.strftime('%Y-%m-%d %H:%M UTC')})")
    w("")
    w(f"- Command: `{cmdline}`")
    w(f"- Machine: {info['nproc']} CPUs (nproc), {info['cpu']}, {info['mem']} RAM, Linux {info['kernel']}")
    w(f"- Load average (1/5/15 min) at start: {info['loadavg']}, at end: {loadavg()}"
      " (well above 0 means other work shared the CPUs)")
    w(f"- ridge: {ridge_version} — `{display(ridge_dev_command(ridge, 'PORT'))}`")
    w(f"- wrangler: {wrangler_version} — `{display(wrangler_dev_command(wr, 'PORT', 'PORT2'))}` "
      "with WRANGLER_SEND_METRICS=false CI=1 CLOUDFLARE_CF_FETCH_ENABLED=false WRANGLER_HIDE_BANNER=true")
    w(f"- {args.runs} run(s) per runtime and project, interleaved; times in ms, from process start")
    w("- **Cold starts**: `.ridge/` (Ridge's state and worker snapshots) and `.wrangler/` are deleted "
      "from the project folder before every run; `npm install` ran once per project beforehand, untimed")
    w("")
    w("Time to first answer (first HTTP status < 500, polled every 10 ms):")
    w("")
    w("| project | path | runtime | min | median | max | wrangler ÷ ridge (medians) |")
    w("|---|---|---|---:|---:|---:|---:|")
    for name, (path, r, p) in first.items():
        w(f"| {name} | `{path}` | ridge | {r.cells()} | {ratio(p, r)} |")
        w(f"| {name} | `{path}` | wrangler | {p.cells()} | |")
    w("")
    if graph is not None:
        r, p = graph["ridge"], graph["wrangler"]
        w(f"Module graph: a generated project, `src/index.js` importing {graph['local']:,} local modules "
          f"(each importing two of lower number, a DAG, in folders of {GRAPH_FOLDER_SIZE}) and `{{ Hono }}` from hono "
          f"{HONO_VERSION}; {graph['modules']} modules in all per esbuild's metafile "
          f"({graph['npm_modules']} of them from node_modules):")
        w("")
        w("| what | command | min | median | max | ÷ ridge (medians) |")
        w("|---|---|---:|---:|---:|---:|")
        w(f"| ridge dev, start to `ready on` | `{display(ridge_dev_command(ridge, 0))}` | {r.cells()} | |")
        w(f"| of which collecting the graph (resolve, read, analyze, rewrite; from its log) | "
          f"`{display(ridge_dev_command(ridge, 0))}` | {graph['collect'].cells()} | {ratio(p, graph['collect'])} |")
        w(f"| wrangler bundle (esbuild), not the same work | "
          f"`{display(wrangler_bundle_command(wr, 'OUT'))}` | {p.cells()} | {ratio(p, r)} |")
        w("")
    problems = [f"- {what}: **skipped** — {s.skipped.splitlines()[0]}"
                for what, s in _all_series(first, graph) if s.skipped]
    if problems:
        w("Skipped:")
        w("")
        out.extend(problems)
        w("")
    return "\n".join(out)


def _all_series(first, graph):
    for name, (_, r, p) in first.items():
        yield f"{name} ridge", r
        yield f"{name} wrangler", p
    if graph is not None:
        yield "graph ridge", graph["ridge"]
        yield "graph wrangler", graph["wrangler"]


# --------------------------------------------------------------------------


def measure_first_answers(args, ridge: Path, wrangler: Path | None, wrangler_why: str,
                          scratch: Path) -> dict[str, tuple[str, Series, Series]]:
    results: dict[str, tuple[str, Series, Series]] = {}
    folders: dict[str, Path] = {}
    for name in args.projects:
        folders[name] = prepare_project(name, scratch)
        results[name] = (first_path(folders[name]), Series(), Series(skipped=None if wrangler else wrangler_why))
    for run in range(1, args.runs + 1):
        # Alternate which runtime goes first, so neither always follows the other.
        order = ("ridge", "wrangler") if run % 2 else ("wrangler", "ridge")
        for name, folder in folders.items():
            path, ridge_series, wrangler_series = results[name]
            for runtime in order:
                series = ridge_series if runtime == "ridge" else wrangler_series
                if series.skipped:
                    continue
                clear_state(folder)
                port = free_port()
                if runtime == "ridge":
                    cmd, env = ridge_dev_command(ridge, port), dict(os.environ)
                else:
                    cmd, env = wrangler_dev_command(wrangler, port, free_port()), wrangler_env()
                log_path = scratch / f"{name}-{runtime}-{run}.log"
                try:
                    ms = time_to_first_answer(cmd, folder, env, port, path, args.timeout, log_path)
                except RunFailed as e:
                    if runtime == "ridge":
                        raise RuntimeError(f"{name}: ridge dev: {e}")
                    log(f"{name}: SKIPPING wrangler: {e}")
                    series.skipped = str(e)
                    continue
                series.samples.append(ms)
                log(f"run {run}/{args.runs}: {name}: {runtime}: first answer on {path} after {ms:,.0f} ms")
        for folder in folders.values():
            clear_state(folder)
    return results


def measure_graph(args, ridge: Path, wrangler: Path | None, wrangler_why: str, scratch: Path) -> dict:
    root = scratch / "graph"
    write_graph_project(root, args.modules)
    log(f"graph: {args.modules} modules written to {root}; npm install (untimed)")
    npm_install(root)
    result = {"local": args.modules, "modules": "?", "npm_modules": "?",
              "ridge": Series(), "collect": Series(),
              "wrangler": Series(skipped=None if wrangler else wrangler_why)}
    if wrangler:
        try:
            result["modules"], result["npm_modules"] = count_bundled_modules(
                wrangler, root, scratch / "graph-metafile.log")
            log(f"graph: {result['modules']} modules per esbuild's metafile")
        except (RunFailed, OSError, ValueError, KeyError, subprocess.TimeoutExpired) as e:
            log(f"graph: SKIPPING wrangler: {e}")
            result["wrangler"].skipped = str(e)
    for run in range(1, args.runs + 1):
        order = ("ridge", "wrangler") if run % 2 else ("wrangler", "ridge")
        for runtime in order:
            series = result[runtime]
            if series.skipped:
                continue
            clear_state(root)
            log_path = scratch / f"graph-{runtime}-{run}.log"
            try:
                if runtime == "ridge":
                    ms, collect_ms = time_to_ready_line(ridge, root, args.timeout, log_path)
                    result["collect"].samples.append(collect_ms)
                else:
                    ms = time_wrangler_bundle(wrangler, root, args.timeout, log_path)
            except subprocess.TimeoutExpired:
                series.skipped = f"took more than {args.timeout:g}s"
                continue
            except RunFailed as e:
                if runtime == "ridge":
                    raise RuntimeError(f"graph: ridge dev: {e}")
                log(f"graph: SKIPPING wrangler: {e}")
                series.skipped = str(e)
                continue
            series.samples.append(ms)
            what = "ready on" if runtime == "ridge" else "bundled"
            log(f"run {run}/{args.runs}: graph: {runtime}: {what} after {ms:,.0f} ms")
    clear_state(root)
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ridge", "--ridge-bin", dest="ridge", default=str(REPO_DIR / "target" / "release" / "ridge"),
                    help="Ridge binary (default: target/release/ridge)")
    ap.add_argument("--runs", type=int, default=5, help="runs per runtime and project (default 5)")
    ap.add_argument("--projects", default=",".join(DEFAULT_PROJECTS),
                    help="comma-separated folders of fixtures/projects (default hono,openapi); "
                         "empty to skip part 1")
    ap.add_argument("--modules", type=int, default=GRAPH_MODULES,
                    help=f"local modules in the generated project (default {GRAPH_MODULES}); 0 to skip part 2")
    ap.add_argument("--timeout", type=float, default=120.0,
                    help="seconds one start or bundle may take (default 120)")
    args = ap.parse_args()

    if args.runs < 1:
        ap.error("--runs must be >= 1")
    if args.modules < 0:
        ap.error("--modules must be >= 0")
    args.projects = [p.strip() for p in args.projects.split(",") if p.strip()]
    for name in args.projects:
        if not (PROJECTS_DIR / name / "package.json").is_file():
            ap.error(f"no project {name!r} in {PROJECTS_DIR.relative_to(REPO_DIR)}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    started = _dt.datetime.now(_dt.timezone.utc)
    info = machine_info()
    ridge, ridge_version = ridge_binary(args.ridge)
    npm()
    wrangler, wrangler_version = wrangler_binary()
    wrangler_why = "" if wrangler else wrangler_version
    if wrangler is None:
        log(f"SKIPPING wrangler: {wrangler_version}")
        wrangler_version = "not available"
    log(f"ridge: {ridge_version}; {wrangler_version}")

    scratch = Path(tempfile.mkdtemp(prefix="ridge-bench-projects-"))
    try:
        first = measure_first_answers(args, ridge, wrangler, wrangler_why, scratch)
        graph = measure_graph(args, ridge, wrangler, wrangler_why, scratch) if args.modules else None
        print(report(args, started, info, ridge, ridge_version, wrangler, wrangler_version, first, graph))
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
