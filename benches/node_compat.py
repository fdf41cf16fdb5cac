#!/usr/bin/env python3
"""Node.js compatibility (`nodejs_compat`): Ridge side by side with workerd and deno.

Three runtimes, the same worker modules, the same machine, one run:

  * ridge    `ridge serve --workers DIR --isolate-threads 1` (the binary
             given with --ridge-bin; the worker's ridge.toml sets
             compatibility_date 2025-09-01, `compatibility_flags =
             ["nodejs_compat"]`, and for the throughput workers
             `[limits] cpu_ms = 300000`, since one request does tens of
             milliseconds of work and the default limit is 50 ms);
  * workerd  `workerd serve config.capnp` (npm workerd, pinned in
             benches/peers/package.json), a generated config: one ES-module
             worker, the same date and flags;
  * deno     `deno serve` (npm deno, pinned there too) on the same module;
             its `node:` imports need no flag.

Every server runs pinned to CPU 0 (`taskset -c 0`, with all its threads and
children); the client (this script's threads) runs on CPU 1.

1. Throughput: MiB/s and server CPU per request.  Timers cannot measure this
   inside a worker (workerd and Ridge stop the clock while JavaScript runs),
   so it is measured from outside, like the other benches: each request does
   a fixed amount of work and answers a few bytes, and

     - MiB/s      = requests completed × MiB per request ÷ wall seconds,
                    with --connections keep-alive connections sending
                    requests back to back (the server's one JavaScript
                    thread stays busy: this is one core's throughput);
     - CPU/request = (utime+stime of the server's process tree, all threads,
                    from /proc, after − before the load) ÷ requests
                    completed.  The load stops sending at the deadline and
                    waits for the answers in flight before the second
                    reading, so every CPU tick counted belongs to a counted
                    request;
     - MiB per CPU-second = MiB per request ÷ CPU seconds per request,
                    which does not depend on how busy the server was kept
                    (time other work takes from CPU 0 is not counted): on
                    the shared machines, quote this and CPU/request; MiB/s
                    moves with the server's "CPU use".

   The load is a small closed-loop client in this script (http.client, one
   thread per connection) instead of wrk: requests take milliseconds, so the
   client's cost does not matter, and the accounting above is exact.  A
   warm-up load of the same request runs first (JIT tiers, caches).

   Work per request, n = --mib (default 8), all on 1 MiB (1,048,576-byte)
   inputs built at the module's top level, the same bytes on every runtime
   (a xorshift32 stream; the script checks them):

     - sha256         n × `createHash("sha256").update(buf).digest("hex")`
                      over a 1 MiB Buffer of pseudo-random bytes;
     - base64-encode  n × `buf.toString("base64")` of that Buffer;
     - base64-decode  n × `Buffer.from(str, "base64")` of its base64 text
                      (1.33 MiB of text; counted as the 1 MiB it decodes to);
     - gzip           n × `zlib.gzipSync(text)` at the default level, on
                      1 MiB of JSON log lines (compressible text, about
                      7.5:1 with zlib's default level);
     - HTTP only      GET / answering "ok": the per-request overhead the
                      figures above include (a reference; at this size the
                      client, not the server, limits its requests/s).

   Before each load, each operation's output is checked against Python's
   hashlib/base64/gzip on the same input (gzip output is decompressed and
   compared); the bytes gzip produces per MiB are reported, since each
   runtime brings its own zlib.  node:zlib lives in a worker of its own: a
   runtime that cannot import it (or fails any check) gets "not available"
   or "failed" with the reason in the table, and the run goes on.

2. Cold start, for three workers: "plain" (no import, no flag),
   "nodejs_compat" (no import, the flag on) and "node imports" (imports
   node:crypto, node:buffer and node:stream, and touches them at top level).

   a. Process start to first response, all three runtimes: the server
      process is started (caches warm: one untimed start of each first,
      which for Ridge also leaves its worker snapshot in the data folder),
      then GET / is tried every 0.5 ms until the first correct answer.
      Reported: the wall time from spawning to that answer, and the server's
      user+system CPU from exec to a SIGKILL right after it (getrusage of
      the reaped child, µs precision).  --cold-starts starts per worker and
      runtime, interleaved.

   b. Ridge only, the method of benches/many_workers.py ("Cold start of a
      never-seen worker"): one `ridge serve --workers` node with
      --cold-workers workers of each kind (interleaved: w0 plain, w1
      nodejs_compat, w2 node imports, w3 plain, …), started and left until
      idle (worker snapshots made, pre-warmed pool filled), then the first
      request to each worker in turn over one keep-alive HTTP/1.1
      connection, 30 ms apart so the pool refills, timed client-side; then a
      second pass gives the warm latency.  workerd and deno have no
      equivalent (workerd instantiates every worker of its config at start;
      deno serves one program per process).

Python 3.11 standard library only; process handling, /proc reading and
machine facts come from benches/http_load.py, the never-seen-worker timing
from benches/many_workers.py.  Markdown goes to stdout, progress to stderr.

Example:
  python3 benches/node_compat.py --ridge-bin target/release/ridge
  python3 benches/node_compat.py --runtimes workerd,deno --duration 5 --rounds 1
"""

from __future__ import annotations

import argparse
import base64
import datetime as _dt
import gzip
import hashlib
import http.client
import os
import re
import resource
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
from http_load import (  # noqa: E402
    SkipRuntime,
    _live,
    binary_version,
    cpu_seconds,
    find_peer_binary,
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
from many_workers import NO_EVICT, pct, request_each  # noqa: E402

ALL_RUNTIMES = ("ridge", "workerd", "deno")
COMPAT_DATE = "2025-09-01"
SERVER_CPU, CLIENT_CPU = 0, 1
MIB = 1 << 20


def log(msg: str) -> None:
    print(f"[node_compat] {msg}", file=sys.stderr, flush=True)


class Failed(Exception):
    """A server did not start, or answered wrongly."""


class NotAvailable(Failed):
    """The worker did not load (e.g. a `node:` module it imports is missing)."""


# --------------------------------------------------------------------------
# The workers
# --------------------------------------------------------------------------

# Shared by the throughput workers: the inputs, and the fetch handler.
# /          "ok"
# /input     the operation's 1 MiB input
# /OP?n=N    runs OP N times, answers a short summary (with &out, OP's output)
COMMON_JS = r"""
const MIB = 1 << 20;

// xorshift32: the same numbers on every runtime (and in the bench script).
function xorshift(seed) {
  let x = seed >>> 0;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

function randomBytes(size, seed) {
  const next = xorshift(seed);
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = next() & 255;
  return bytes;
}

const WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
               "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa"];
const STATUSES = [200, 200, 200, 200, 200, 201, 204, 301, 304, 400, 404, 500];

// JSON log lines, cut to `size` characters (all ASCII).
function logText(size, seed) {
  const next = xorshift(seed);
  const lines = [];
  let length = 0;
  for (let i = 0; length < size; i++) {
    const r = next();
    const line = `{"id":${i},"level":"${r & 1 ? "info" : "debug"}","user":"u${(r >>> 1) % 1000}",` +
      `"path":"/api/${WORDS[(r >>> 11) & 15]}/${WORDS[(r >>> 15) & 15]}",` +
      `"status":${STATUSES[(r >>> 19) % 12]},"ms":${(r >>> 23) % 500}}\n`;
    lines.push(line);
    length += line.length;
  }
  return lines.join("").slice(0, size);
}

function handler(ops, input) {
  return {
    fetch(request) {
      const url = new URL(request.url);
      if (url.pathname === "/") return new Response("ok\n");
      if (url.pathname === "/input") return new Response(new Uint8Array(input));
      const op = ops[url.pathname.slice(1)];
      if (op === undefined) return new Response("no such operation\n", { status: 404 });
      const n = Number(url.searchParams.get("n") ?? "1");
      return new Response(op(n, url.searchParams.has("out")));
    },
  };
}
"""

CRYPTO_WORKER = """\
import { createHash } from "node:crypto";
import { Buffer } from "node:buffer";
""" + COMMON_JS + """
const BIN = randomBytes(MIB, 2463534242);
const B64 = BIN.toString("base64");

export default handler({
  sha256(n) {
    let digest;
    for (let i = 0; i < n; i++) digest = createHash("sha256").update(BIN).digest("hex");
    return digest;
  },
  "base64-encode"(n, out) {
    let text;
    for (let i = 0; i < n; i++) text = BIN.toString("base64");
    return out ? text : String(text.length);
  },
  "base64-decode"(n, out) {
    let bytes;
    for (let i = 0; i < n; i++) bytes = Buffer.from(B64, "base64");
    return out ? bytes : String(bytes.length);
  },
}, BIN);
"""

ZLIB_WORKER = """\
import { gzipSync } from "node:zlib";
import { Buffer } from "node:buffer";
""" + COMMON_JS + """
const TEXT = Buffer.from(logText(MIB, 2654435769));

export default handler({
  gzip(n, out) {
    let gz;
    for (let i = 0; i < n; i++) gz = gzipSync(TEXT);
    return out ? gz : String(gz.length);
  },
}, TEXT);
"""

# The cold-start workers: name -> (compatibility flags, imports node modules).
VARIANTS = {
    "plain": ([], False),
    "nodejs_compat": (["nodejs_compat"], False),
    "node imports": (["nodejs_compat"], True),
}


def cold_worker(variant: str, name: str) -> str:
    """A worker answering "Hello from NAME" (the body many_workers.py expects)."""
    _, imports = VARIANTS[variant]
    head = ""
    if imports:
        head = (
            'import { createHash } from "node:crypto";\n'
            'import { Buffer } from "node:buffer";\n'
            'import { Readable } from "node:stream";\n\n'
            'if (typeof createHash !== "function" || typeof Buffer.from !== "function" ||\n'
            '    typeof Readable.from !== "function") {\n'
            '  throw new Error("node modules missing");\n'
            "}\n\n"
        )
    return head + f'export default {{ fetch() {{ return new Response("Hello from {name}\\n"); }} }};\n'


# --------------------------------------------------------------------------
# The same inputs in Python, to check the workers' answers
# --------------------------------------------------------------------------


def xorshift(seed: int):
    x = seed
    while True:
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        yield x


def random_bytes(size: int, seed: int) -> bytes:
    nxt = xorshift(seed)
    return bytes(next(nxt) & 255 for _ in range(size))


WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
         "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa"]
STATUSES = [200, 200, 200, 200, 200, 201, 204, 301, 304, 400, 404, 500]


def log_text(size: int, seed: int) -> bytes:
    nxt = xorshift(seed)
    lines, length, i = [], 0, 0
    while length < size:
        r = next(nxt)
        line = (f'{{"id":{i},"level":"{"info" if r & 1 else "debug"}","user":"u{(r >> 1) % 1000}",'
                f'"path":"/api/{WORDS[(r >> 11) & 15]}/{WORDS[(r >> 15) & 15]}",'
                f'"status":{STATUSES[(r >> 19) % 12]},"ms":{(r >> 23) % 500}}}\n')
        lines.append(line)
        length += len(line)
        i += 1
    return "".join(lines)[:size].encode()


@dataclass(frozen=True)
class Op:
    name: str
    label: str
    server: str  # which worker serves it: "crypto" or "zlib"
    mib: bool  # False: the HTTP-only reference (no work, GET /)


OPS = [
    Op("http-only", "HTTP only (GET /, reference)", "crypto", False),
    Op("sha256", "sha256 (`createHash`)", "crypto", True),
    Op("base64-encode", "base64 encode (`buf.toString`)", "crypto", True),
    Op("base64-decode", "base64 decode (`Buffer.from`)", "crypto", True),
    Op("gzip", "gzip (`zlib.gzipSync`)", "zlib", True),
]
SERVERS = {"crypto": CRYPTO_WORKER, "zlib": ZLIB_WORKER}


class Inputs:
    def __init__(self) -> None:
        self.bin = random_bytes(MIB, 2463534242)
        self.text = log_text(MIB, 2654435769)
        self.sha256 = hashlib.sha256(self.bin).hexdigest()
        self.b64 = base64.b64encode(self.bin)

    def input_of(self, server: str) -> bytes:
        return self.bin if server == "crypto" else self.text

    def summary_ok(self, op: str, n: int, body: bytes) -> bool:
        """Whether a load answer (no &out) is right."""
        if op == "http-only":
            return body == b"ok\n"
        if op == "sha256":
            return body == self.sha256.encode()
        if op == "base64-encode":
            return body == str(len(self.b64)).encode()
        if op == "base64-decode":
            return body == str(MIB).encode()
        return body.isdigit()  # gzip: its output's length, which varies by zlib


# --------------------------------------------------------------------------
# Runtimes
# --------------------------------------------------------------------------

WORKERD_CONFIG = """\
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [ (name = "main", worker = .benchWorker) ],
  sockets = [ (name = "http", address = "@ADDRESS@", http = (), service = "main") ],
);

const benchWorker :Workerd.Worker = (
  modules = [ (name = "worker.js", esModule = embed "worker.js") ],
  compatibilityDate = "@DATE@",
  compatibilityFlags = [@FLAGS@],
);
"""


def ridge_toml(name: str, flags: list[str], routes: list[str], heavy: bool) -> str:
    quoted = lambda xs: "[" + ", ".join(f'"{x}"' for x in xs) + "]"  # noqa: E731
    text = (f'name = "{name}"\nmain = "index.js"\ncompatibility_date = "{COMPAT_DATE}"\n'
            f"compatibility_flags = {quoted(flags)}\nroutes = {quoted(routes)}\n")
    if heavy:
        text += "\n[limits]\ncpu_ms = 300000\n"
    return text


@dataclass
class Runtime:
    name: str
    binary: Path
    version: str

    def write_worker(self, folder: Path, source: str, flags: list[str], heavy: bool) -> None:
        """Puts the worker module (and the runtime's configuration) in folder."""
        if self.name == "ridge":
            worker = folder / "workers" / "bench"
            worker.mkdir(parents=True, exist_ok=True)
            (worker / "index.js").write_text(source)
            (worker / "ridge.toml").write_text(ridge_toml("bench", flags, ["127.0.0.1/*"], heavy))
            return
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "worker.js").write_text(source)
        if self.name == "workerd":
            (folder / "config.template").write_text(
                WORKERD_CONFIG.replace("@DATE@", COMPAT_DATE)
                .replace("@FLAGS@", ", ".join(f'"{f}"' for f in flags)))

    def command(self, folder: Path, port: int | str) -> tuple[list[str], dict[str, str]]:
        env = dict(os.environ)
        if self.name == "ridge":
            cmd = [str(self.binary), "serve", "--workers", str(folder / "workers"),
                   "--listen", f"127.0.0.1:{port}", "--isolate-threads", "1",
                   "--data-dir", str(folder / "data")]
        elif self.name == "workerd":
            if isinstance(port, int):
                (folder / "config.capnp").write_text(
                    (folder / "config.template").read_text().replace("@ADDRESS@", f"127.0.0.1:{port}"))
            cmd = [str(self.binary), "serve", str(folder / "config.capnp")]
        elif self.name == "deno":
            env.update(DENO_DIR=str(folder / "deno_dir"), DENO_NO_UPDATE_CHECK="1",
                       DENO_NO_PROMPT="1", NO_COLOR="1")
            cmd = [str(self.binary), "serve", "--host", "127.0.0.1", "--port", str(port),
                   str(folder / "worker.js")]
        else:
            raise ValueError(self.name)
        return cmd, env

    def display(self, folder: Path) -> str:
        cmd, _ = self.command(folder, "PORT")
        text = shlex.join(cmd).replace(str(folder) + "/", "").replace(str(REPO_DIR) + "/", "")
        if self.name == "ridge":
            text += (" (workers/bench: the worker and a ridge.toml routing 127.0.0.1/*, "
                     "`[limits] cpu_ms = 300000` for the throughput workers)")
        elif self.name == "workerd":
            text += " (generated config: one ES-module worker, HTTP socket on 127.0.0.1:PORT)"
        elif self.name == "deno":
            text += " (DENO_DIR in the scratch folder)"
        return text


def runtime_of(name: str, ridge_bin: str | None) -> Runtime:
    """Raises SkipRuntime for a peer that cannot run here."""
    if name == "ridge":
        path, version = ridge_binary(ridge_bin)
        return Runtime(name, path, version)
    binary = find_peer_binary(name)
    version = binary_version([str(binary), "--version"]) + f" (npm {name}@{npm_version(name)})"
    return Runtime(name, binary, version)


# --------------------------------------------------------------------------
# Servers
# --------------------------------------------------------------------------


def get(port: int, path: str, timeout: float = 60.0, host: str | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Host": host} if host else {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_SCRATCH = re.compile(r"/\S*/ridge-bench-node-compat-\w+/")


def short(text: str) -> str:
    """text without the scratch folder's path (for the report)."""
    return _SCRATCH.sub("", text)


def log_reason(log_path: Path) -> str:
    """The line of a server's log that most likely says what went wrong."""
    try:
        text = _ANSI.sub("", log_path.read_text(errors="replace"))
    except OSError:
        return "no log"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:
        if re.search(r"error|no such module|not found|cannot|uncaught|failed", line, re.I):
            return line[:300]
    return lines[-1][:300] if lines else "nothing in its log"


def pin_tree(pid: int) -> None:
    """Every thread of every process of the tree on SERVER_CPU, as assets.py does."""
    for p in process_tree(pid):
        subprocess.run(["taskset", "-a", "-p", "-c", str(SERVER_CPU), str(p)], capture_output=True)


def spawn(cmd: list[str], env: dict[str, str], cwd: Path, log_path: Path) -> subprocess.Popen:
    with open(log_path, "wb") as logf:
        # taskset execs the server (same pid); what it spawns inherits the CPU.
        proc = subprocess.Popen(["taskset", "-c", str(SERVER_CPU)] + cmd, cwd=cwd, env=env,
                                stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                                start_new_session=True)
    track(proc)
    return proc


def start(rt: Runtime, folder: Path, expect: bytes, timeout: float) -> tuple[subprocess.Popen, int, Path]:
    """Starts rt on the worker in folder; returns once GET / answers `expect`."""
    port = free_port()
    cmd, env = rt.command(folder, port)
    log_path = folder / f"server-{port}.log"
    proc = spawn(cmd, env, folder, log_path)
    deadline = time.monotonic() + timeout
    last, wrong_since = "no answer", None
    while True:
        if proc.poll() is not None:
            stop(proc)
            raise NotAvailable(f"exited with code {proc.returncode} at startup: {log_reason(log_path)}")
        try:
            status, body = get(port, "/", timeout=timeout)
            if status == 200 and body == expect:
                pin_tree(proc.pid)
                return proc, port, log_path
            last = f"HTTP {status}: {body[:200].decode(errors='replace').strip()}"
            wrong_since = wrong_since or time.monotonic()
        except (OSError, http.client.HTTPException) as e:
            last = str(e)
        # A definite wrong answer (a worker that failed to load) is given 5 s.
        if time.monotonic() > deadline or (wrong_since and time.monotonic() - wrong_since > 5):
            stop(proc)
            raise NotAvailable(f"no correct answer within {timeout:g}s ({last}); log: {log_reason(log_path)}")
        time.sleep(0.05)


def wait_idle(pid: int, limit: float = 300.0) -> float:
    """Waits until the server's process tree uses under 5% of a CPU for 0.5 s
    (Ridge makes worker snapshots in the background after it starts).
    Returns the seconds waited."""
    t0 = time.monotonic()
    prev, _ = cpu_seconds(pid)
    while time.monotonic() - t0 < limit:
        time.sleep(0.5)
        cur, _ = cpu_seconds(pid)
        if cur - prev < 0.025:
            break
        prev = cur
    else:
        log(f"pid {pid} still busy after {limit:g}s; measuring anyway")
    return time.monotonic() - t0


# --------------------------------------------------------------------------
# 1. Throughput
# --------------------------------------------------------------------------


@dataclass
class Load:
    requests: int
    seconds: float
    errors: int
    first_error: str


def run_load(port: int, path: str, connections: int, seconds: float, ok) -> Load:
    """`connections` keep-alive connections sending GET path back to back
    until the deadline; returns once every answer in flight has arrived."""
    deadline = time.monotonic() + seconds
    done = [0] * connections
    errors = [0] * connections
    first_error: list[str] = []

    def client(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        try:
            while time.monotonic() < deadline:
                conn.request("GET", path)
                resp = conn.getresponse()
                body = resp.read()
                if resp.status == 200 and ok(body):
                    done[i] += 1
                else:
                    errors[i] += 1
                    first_error.append(f"HTTP {resp.status}: {body[:200]!r}")
        except (OSError, http.client.HTTPException) as e:
            errors[i] += 1
            first_error.append(repr(e))
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(connections)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return Load(sum(done), time.monotonic() - t0, sum(errors), first_error[0] if first_error else "")


@dataclass
class Sample:
    rps: float
    mib_s: float
    cpu_us: float  # per request
    cpu_use: float  # server CPU seconds per wall second


def measure(proc: subprocess.Popen, port: int, op: Op, inputs: Inputs, args) -> Sample:
    n = args.mib if op.mib else 0
    path = f"/{op.name}?n={n}" if op.mib else "/"
    ok = lambda body: inputs.summary_ok(op.name, n, body)  # noqa: E731
    if args.warmup:
        run_load(port, path, args.connections, args.warmup, ok)
    cpu0, _ = cpu_seconds(proc.pid)
    load = run_load(port, path, args.connections, args.duration, ok)
    cpu1, _ = cpu_seconds(proc.pid)
    if proc.poll() is not None:
        raise Failed("the server died during the load")
    if load.errors:
        raise Failed(f"{load.errors} wrong answers or errors under load, first: {load.first_error}")
    if load.requests == 0:
        raise Failed("no request completed")
    return Sample(rps=load.requests / load.seconds, mib_s=load.requests * n / load.seconds,
                  cpu_us=(cpu1 - cpu0) * 1e6 / load.requests, cpu_use=(cpu1 - cpu0) / load.seconds)


def check(port: int, op: Op, inputs: Inputs) -> int | None:
    """Raises Failed unless op's output is right; returns gzip's output size."""
    if not op.mib:
        return None
    status, body = get(port, f"/{op.name}?n=1&out")
    if status != 200:
        raise Failed(f"GET /{op.name}: HTTP {status}: {body[:300].decode(errors='replace').strip()}")
    if op.name == "sha256":
        good = body.decode(errors="replace") == inputs.sha256
    elif op.name == "base64-encode":
        good = body == inputs.b64
    elif op.name == "base64-decode":
        good = body == inputs.bin
    else:
        try:
            good = body[:2] == b"\x1f\x8b" and gzip.decompress(body) == inputs.text
        except (OSError, EOFError, ValueError):
            good = False
    if not good:
        raise Failed(f"wrong output from {op.name} ({len(body):,} bytes: {body[:60]!r}…)")
    return len(body)


@dataclass
class Results:
    samples: dict[tuple[str, str], list[Sample]] = field(default_factory=dict)  # (op, runtime)
    failed: dict[tuple[str, str], str] = field(default_factory=dict)
    gzip_bytes: dict[str, int] = field(default_factory=dict)

    def fail(self, op: str, runtime: str, why: str) -> None:
        log(f"{runtime} {op}: {why}")
        self.failed.setdefault((op, runtime), short(why))


def throughput_round(rt: Runtime, ops: list[Op], folders: dict[str, Path], inputs: Inputs,
                     res: Results, args, rnd: int) -> None:
    for server in SERVERS:
        todo = [op for op in ops if op.server == server and (op.name, rt.name) not in res.failed]
        if not todo:
            continue
        folder = folders[server]
        try:
            proc, port, _ = start(rt, folder, b"ok\n", args.start_timeout)
        except NotAvailable as e:
            for op in todo:
                res.fail(op.name, rt.name, f"not available: {e}")
            continue
        try:
            idle = wait_idle(proc.pid)
            if idle > 1:
                log(f"{rt.name} {server}: busy for {idle:.1f}s after starting")
            status, body = get(port, "/input")
            if status != 200 or body != inputs.input_of(server):
                for op in todo:
                    res.fail(op.name, rt.name, f"failed: /input is not the expected 1 MiB (HTTP {status}, "
                                               f"{len(body):,} bytes)")
                continue
            for op in todo:
                try:
                    size = check(port, op, inputs)
                    if size is not None and op.name == "gzip":
                        res.gzip_bytes[rt.name] = size
                    s = measure(proc, port, op, inputs, args)
                    check(port, op, inputs)
                except (Failed, OSError, http.client.HTTPException) as e:
                    res.fail(op.name, rt.name, f"failed: {e}")
                    continue
                res.samples.setdefault((op.name, rt.name), []).append(s)
                log(f"round {rnd}: {rt.name} {op.name}: "
                    + (f"{s.mib_s:,.1f} MiB/s, " if op.mib else "")
                    + f"{s.rps:,.1f} req/s, {fmt_us(s.cpu_us)} CPU/request, CPU use {s.cpu_use * 100:.0f}%")
        finally:
            stop(proc)


# --------------------------------------------------------------------------
# 2a. Cold start: process start to first response
# --------------------------------------------------------------------------


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def first_response(rt: Runtime, folder: Path, expect: bytes, timeout: float) -> tuple[float, float]:
    """Spawns rt; returns (ms to the first correct answer to GET /, server
    CPU ms from exec to SIGKILL right after it)."""
    port = free_port()
    cmd, env = rt.command(folder, port)
    log_path = folder / "cold.log"
    cpu0 = children_cpu()
    t0 = time.perf_counter()
    proc = spawn(cmd, env, folder, log_path)
    ms, last = None, "no answer"
    try:
        while ms is None:
            if proc.poll() is not None:
                raise Failed(f"exited with code {proc.returncode}: {log_reason(log_path)}")
            try:
                status, body = get(port, "/", timeout=timeout)
                if status == 200 and body == expect:
                    ms = (time.perf_counter() - t0) * 1000
                    break
                last = f"HTTP {status}: {body[:200]!r}"
            except (OSError, http.client.HTTPException) as e:
                last = str(e)
            if time.perf_counter() - t0 > timeout:
                raise Failed(f"no correct answer within {timeout:g}s ({last}); log: {log_reason(log_path)}")
            time.sleep(0.0005)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        _live.remove(proc)
    return ms, (children_cpu() - cpu0) * 1000


def cold_starts(runtimes: list[Runtime], scratch: Path, args) -> tuple[dict, dict]:
    """{(runtime, variant): [(ms, cpu ms)]}, {(runtime, variant): failure}."""
    times: dict[tuple[str, str], list[tuple[float, float]]] = {}
    failed: dict[tuple[str, str], str] = {}
    expect = b"Hello from w0\n"
    folders = {}
    for rt in runtimes:
        for variant, (flags, _) in VARIANTS.items():
            folder = scratch / rt.name / f"cold-{variant.replace(' ', '-')}"
            rt.write_worker(folder, cold_worker(variant, "w0"), flags, heavy=False)
            folders[(rt.name, variant)] = folder
            try:  # untimed: caches, and Ridge's worker snapshot
                proc, _, _ = start(rt, folder, expect, args.start_timeout)
                wait_idle(proc.pid)
                stop(proc)
            except Failed as e:
                failed[(rt.name, variant)] = short(str(e))
                log(f"cold start {rt.name} {variant}: {e}")
    for i in range(args.cold_starts):
        order = runtimes[i % len(runtimes):] + runtimes[:i % len(runtimes)]
        for rt in order:
            for variant in VARIANTS:
                key = (rt.name, variant)
                if key in failed:
                    continue
                try:
                    times.setdefault(key, []).append(first_response(rt, folders[key], expect, args.start_timeout))
                except Failed as e:
                    failed[key] = short(str(e))
                    log(f"cold start {rt.name} {variant}: {e}")
        log(f"cold starts: {i + 1}/{args.cold_starts} done")
    return times, failed


# --------------------------------------------------------------------------
# 2b. Ridge: a never-seen worker on a running node (many_workers.py's method)
# --------------------------------------------------------------------------


@dataclass
class NodeColdStarts:
    cold: dict[str, list[float]]  # variant -> ms
    warm: dict[str, list[float]]
    failures: int
    reconnects: int
    restored: dict[str, int]  # variant -> workers whose cold starts restore their snapshot
    cmd: str
    idle_s: float


def ridge_node_cold_starts(ridge: Runtime, scratch: Path, args) -> NodeColdStarts:
    root = scratch / "ridge-node"
    variants = list(VARIANTS)
    count = args.cold_workers * len(variants)
    for k in range(count):
        variant = variants[k % len(variants)]
        d = root / "workers" / f"w{k}"
        d.mkdir(parents=True)
        (d / "index.js").write_text(cold_worker(variant, f"w{k}"))
        (d / "ridge.toml").write_text(
            ridge_toml(f"w{k}", VARIANTS[variant][0], [f"w{k}.bench.test/*"], heavy=False))
    cmd = [str(ridge.binary), "serve", "--workers", str(root / "workers"), "--listen", "127.0.0.1:0",
           "--isolate-threads", "1", "--data-dir", str(root / "data"), *NO_EVICT]
    log_path = root / "serve.log"
    proc = spawn(cmd, dict(os.environ), root, log_path)
    try:
        deadline = time.monotonic() + 120
        while True:
            m = re.search(r"ready on http://127\.0\.0\.1:(\d+)", _ANSI.sub("", log_path.read_text(errors="replace")))
            if m:
                port = int(m.group(1))
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise Failed(f"ridge did not become ready: {log_reason(log_path)}")
            time.sleep(0.05)
        pin_tree(proc.pid)
        log(f"ridge node with {count} workers ready; waiting until idle (worker snapshots, pool)")
        idle_s = wait_idle(proc.pid)
        cold, fails, rc = request_each(port, count, args.pause_ms / 1000)
        warm, wfails, wrc = request_each(port, count, 0)
        text = _ANSI.sub("", log_path.read_text(errors="replace"))
    finally:
        stop(proc)
    restored = {v: 0 for v in variants}
    # e.g. "INFO ridge_node::node: cold starts restore the worker snapshot worker=w7 version=…"
    for m in re.finditer(r"cold starts restore the worker snapshot.*\bworker=w(\d+)\b", text):
        k = int(m.group(1))
        restored[variants[k % len(variants)]] += 1
    shown = shlex.join(cmd).replace(str(root) + "/", "").replace(str(REPO_DIR) + "/", "")
    return NodeColdStarts(
        cold={v: cold[i::len(variants)] for i, v in enumerate(variants)},
        warm={v: warm[i::len(variants)] for i, v in enumerate(variants)},
        failures=fails + wfails, reconnects=rc + wrc, restored=restored, cmd=shown, idle_s=idle_s)


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def ratio_text(num: list[float], den: list[float], per_round: bool = True) -> str:
    """Median ÷ median, with the per-round ratios when there are several."""
    if not num or not den:
        return "–"
    n = min(len(num), len(den))
    rounds = ", ".join(f"{num[i] / den[i]:.2f}" for i in range(n))
    return f"**{med(num) / med(den):.2f}×**" + (f" ({rounds})" if per_round and n > 1 else "")


def report(args, started: _dt.datetime, info: dict[str, str], runtimes: list[Runtime],
           skipped: dict[str, str], folders: dict[str, Path], ops: list[Op], res: Results,
           cold: tuple[dict, dict] | None, node: NodeColdStarts | str | None) -> str:
    out: list[str] = []
    w = out.append
    cmdline = shlex.join(["python3", os.path.relpath(Path(sys.argv[0]).resolve(), Path.cwd())] + sys.argv[1:])
    names = [rt.name for rt in runtimes]
    w(f"### Node.js compatibility: Ridge vs workerd vs deno ({started.strftime('%Y-%m-%d %H:%M UTC')})")
    w("")
    w(f"- Command: `{cmdline}`")
    w(f"- Machine: {info['nproc']} CPUs (nproc), {info['cpu']}, {info['mem']} RAM, Linux {info['kernel']}")
    w(f"- Load average (1/5/15 min) at start: {info['loadavg']}, at end: {loadavg()}")
    w(f"- Servers pinned to CPU {SERVER_CPU}, the client to CPU {CLIENT_CPU}; compatibility date {COMPAT_DATE}")
    for rt in runtimes:
        w(f"- {rt.name}: {rt.version} — `{rt.display(folders[rt.name])}`")
    for name, why in skipped.items():
        w(f"- {name}: **skipped** — {why.splitlines()[0]}")
    if any("debug build" in rt.version for rt in runtimes):
        w("- **Ridge is a debug build: a smoke run, not figures to report.**")
    w("")

    if ops:
        w(f"#### Throughput: {args.mib} MiB of work per request")
        w("")
        w(f"{args.connections} keep-alive connections sending requests back to back, {args.duration:g} s "
          f"after a {args.warmup:g} s warm-up, {args.rounds} round(s), medians. MiB/s = requests × "
          f"{args.mib} MiB ÷ wall seconds; CPU/request = the server's utime+stime (all threads) ÷ "
          "requests; MiB per CPU-s = MiB per request ÷ CPU per request, the steadier figure on a "
          "shared machine (MiB/s also depends on how much of its CPU the server got: \"CPU use\"). "
          "The HTTP-only row is limited by the client, so its CPU/request is an upper bound of what "
          "HTTP adds to the rows below it. Ratios ÷ workerd, same run (MiB/s: higher is faster; "
          "CPU/request: lower is better), per round in parentheses.")
        w("")
        w("| operation | runtime | MiB/s | CPU/request | MiB per CPU-s | requests/s | CPU use "
          "| MiB/s ÷ workerd | CPU/request ÷ workerd |")
        w("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for op in ops:
            base = res.samples.get((op.name, "workerd"), [])
            for name in names:
                why = res.failed.get((op.name, name))
                ss = res.samples.get((op.name, name), [])
                if why:
                    w(f"| {op.label} | {name} | {why.splitlines()[0][:200]} | | | | | | |")
                    continue
                if not ss:
                    continue
                cpu = med([s.cpu_us for s in ss])
                if op.mib:
                    mib_s = f"{med([s.mib_s for s in ss]):,.1f}"
                    per_cpu_s = f"{args.mib / (cpu / 1e6):,.0f}"
                    mib_ratio = ratio_text([s.mib_s for s in ss], [b.mib_s for b in base])
                else:
                    mib_s = per_cpu_s = mib_ratio = "–"
                cpu_ratio = ratio_text([s.cpu_us for s in ss], [b.cpu_us for b in base])
                w(f"| {op.label} | {name} | {mib_s} | {fmt_us(cpu)} | {per_cpu_s} "
                  f"| {med([s.rps for s in ss]):,.1f} | {med([s.cpu_use for s in ss]) * 100:.0f}% "
                  f"| {mib_ratio if name != 'workerd' else '–'} | {cpu_ratio if name != 'workerd' else '–'} |")
        w("")
        if res.gzip_bytes:
            w("gzip output for the 1 MiB of text (each runtime's own zlib, default level): "
              + "; ".join(f"{name} {size:,} bytes ({MIB / size:.2f}:1)"
                          for name, size in res.gzip_bytes.items()) + ".")
            w("")

    if cold is not None:
        times, failed = cold
        w(f"#### Cold start: process start to first response ({args.cold_starts} starts each)")
        w("")
        w("From spawning the server (caches warm) to the first correct answer to GET /, tried every "
          "0.5 ms; server CPU = user+system of the server process from exec to a SIGKILL right after "
          "that answer. \"plain\": no import, no flag; \"nodejs_compat\": the flag, no import (deno: "
          "the same worker as plain); \"node imports\": node:crypto, node:buffer, node:stream. "
          "Milliseconds, medians (p90 beside).")
        w("")
        w("| worker | runtime | first response | p90 | − plain | server CPU | − plain | first response ÷ workerd |")
        w("|---|---|---:|---:|---:|---:|---:|---:|")
        for variant in VARIANTS:
            for name in names:
                key = (name, variant)
                if key in failed:
                    w(f"| {variant} | {name} | failed: {failed[key].splitlines()[0][:200]} | | | | | |")
                    continue
                ts = times.get(key)
                if not ts:
                    continue
                plain = times.get((name, "plain"), [])
                wall, cpu = [t[0] for t in ts], [t[1] for t in ts]
                dwall = f"{med(wall) - med([t[0] for t in plain]):+.2f}" if plain and variant != "plain" else "–"
                dcpu = f"{med(cpu) - med([t[1] for t in plain]):+.2f}" if plain and variant != "plain" else "–"
                wd = [t[0] for t in times.get(("workerd", variant), [])]
                w(f"| {variant} | {name} | {med(wall):.2f} | {pct(wall, 90):.2f} | {dwall} | {med(cpu):.2f} "
                  f"| {dcpu} | {ratio_text(wall, wd, per_round=False) if name != 'workerd' else '–'} |")
        w("")

    if isinstance(node, str):
        w(f"#### Ridge: cold start of a never-seen worker on a running node: failed — {node}")
        w("")
    elif node is not None:
        w(f"#### Ridge: cold start of a never-seen worker on a running node ({args.cold_workers} workers of each kind)")
        w("")
        w(f"`{node.cmd}` (server pinned to CPU {SERVER_CPU}), left until idle ({node.idle_s:.1f} s: worker "
          "snapshots made, pre-warmed pool filled); then, as benches/many_workers.py does, the first "
          "request to each worker in turn over one keep-alive HTTP/1.1 connection, "
          f"{args.pause_ms:g} ms apart (the pool refills), timed client-side; warm = a second pass. "
          "The kinds are interleaved (w0 plain, w1 nodejs_compat, w2 node imports, …). Milliseconds.")
        w("")
        w("| worker | cold p50 | p90 | p99 | max | − plain p50 | warm p50 | warm p99 | workers restoring a snapshot |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        plain = node.cold.get("plain", [])
        for variant in VARIANTS:
            c, wm = node.cold.get(variant, []), node.warm.get(variant, [])
            if not c:
                continue
            d = f"{pct(c, 50) - pct(plain, 50):+.2f}" if plain and variant != "plain" else "–"
            w(f"| {variant} | {pct(c, 50):.2f} | {pct(c, 90):.2f} | {pct(c, 99):.2f} | {max(c):.2f} | {d} "
              f"| {pct(wm, 50):.2f} | {pct(wm, 99):.2f} | {node.restored.get(variant, 0)} of {len(c)} |")
        w("")
        w(f"Failed requests: {node.failures}; reconnects: {node.reconnects}. workerd and deno have no "
          "equivalent: workerd instantiates every worker of its config when it starts, deno serves one "
          "program per process.")
        w("")
    return "\n".join(out)


# --------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ridge-bin", "--ridge", dest="ridge", default=None,
                    help="Ridge binary (default: target/release/ridge if it exists, else Ridge is skipped)")
    ap.add_argument("--runtimes", default=",".join(ALL_RUNTIMES),
                    help="comma-separated subset of " + ",".join(ALL_RUNTIMES) + " (default all)")
    ap.add_argument("--ops", default=",".join(op.name for op in OPS),
                    help="comma-separated subset of " + ",".join(op.name for op in OPS)
                         + " (default all; empty: no throughput part)")
    ap.add_argument("--mib", type=int, default=8, help="MiB of work per request (default 8)")
    ap.add_argument("--connections", type=int, default=2, help="client connections (default 2)")
    ap.add_argument("--duration", type=float, default=10, help="seconds of measured load (default 10)")
    ap.add_argument("--warmup", type=float, default=2, help="seconds of warm-up before each load (default 2)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds; servers restart each round (default 3)")
    ap.add_argument("--cold-starts", type=int, default=15,
                    help="process starts per worker and runtime (default 15; 0 skips them)")
    ap.add_argument("--cold-workers", type=int, default=50,
                    help="Ridge: workers of each kind on one node (default 50; 0 skips this part)")
    ap.add_argument("--pause-ms", type=float, default=30, help="pause between cold requests on the node (default 30)")
    ap.add_argument("--start-timeout", type=float, default=60.0, help="seconds a server may take to start")
    args = ap.parse_args()

    wanted = [r.strip() for r in args.runtimes.split(",") if r.strip()]
    for r in wanted:
        if r not in ALL_RUNTIMES:
            ap.error(f"unknown runtime {r!r}")
    op_names = [o.strip() for o in args.ops.split(",") if o.strip()]
    for o in op_names:
        if o not in [op.name for op in OPS]:
            ap.error(f"unknown operation {o!r}")
    ops = [op for op in OPS if op.name in op_names]
    if args.mib < 1 or args.connections < 1 or args.duration <= 0 or args.warmup < 0 or args.rounds < 1:
        ap.error("--mib, --connections, --duration and --rounds must be positive, --warmup >= 0")
    if (os.cpu_count() or 1) < 2 or not shutil.which("taskset"):
        ap.error("needs 2+ CPUs and taskset (servers and the client are pinned apart)")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    started = _dt.datetime.now(_dt.timezone.utc)
    info = machine_info()
    # The client threads (and anything not started through taskset) on CLIENT_CPU.
    os.sched_setaffinity(0, {CLIENT_CPU})

    runtimes: list[Runtime] = []
    skipped: dict[str, str] = {}
    for name in wanted:
        if name == "ridge" and args.ridge is None:
            default = REPO_DIR / "target" / "release" / "ridge"
            if not default.is_file():
                skipped[name] = "no binary given (--ridge-bin) and no target/release/ridge"
                log(f"SKIPPING ridge: {skipped[name]}")
                continue
            args.ridge = str(default)
        try:
            rt = runtime_of(name, args.ridge)
        except SkipRuntime as e:
            skipped[name] = str(e)
            log(f"SKIPPING {name}: {e}")
            continue
        runtimes.append(rt)
        log(f"{name}: {rt.version}")
    if not runtimes:
        log("error: no runtime to measure")
        return 1

    inputs = Inputs()
    scratch = Path(tempfile.mkdtemp(prefix="ridge-bench-node-compat-"))
    res = Results()
    cold = node = None
    folders = {rt.name: scratch / rt.name for rt in runtimes}
    try:
        server_folders = {}
        for rt in runtimes:
            server_folders[rt.name] = {}
            for server, source in SERVERS.items():
                folder = scratch / rt.name / server
                rt.write_worker(folder, source, ["nodejs_compat"], heavy=True)
                server_folders[rt.name][server] = folder
            folders[rt.name] = server_folders[rt.name]["crypto"]
        if ops:
            for rnd in range(1, args.rounds + 1):
                order = runtimes[(rnd - 1) % len(runtimes):] + runtimes[:(rnd - 1) % len(runtimes)]
                for rt in order:
                    log(f"round {rnd}/{args.rounds}: {rt.name}")
                    throughput_round(rt, ops, server_folders[rt.name], inputs, res, args, rnd)
        if args.cold_starts > 0:
            cold = cold_starts(runtimes, scratch, args)
        ridge = next((rt for rt in runtimes if rt.name == "ridge"), None)
        if ridge is not None and args.cold_workers > 0:
            try:
                node = ridge_node_cold_starts(ridge, scratch, args)
            except (Failed, OSError, http.client.HTTPException) as e:
                log(f"ridge node cold starts: {e}")
                node = short(str(e))
        print(report(args, started, info, runtimes, skipped, folders, ops, res, cold, node))
        return 0
    except KeyboardInterrupt:
        log("interrupted; stopping servers")
        return 130
    finally:
        stop_all()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
