#!/usr/bin/env python3
"""Records what Cloudflare's reference stack answers for the Workers Static
Assets fixtures under fixtures/assets/ (fixtures/assets/expected/
FIXTURE.RUN.json): `wrangler dev`, i.e. miniflare and workerd running
Cloudflare's router-worker and asset-worker in front of the project's
Worker, if it has one. The Ridge integration tests run the same fixtures
with Ridge and compare.

A fixture is a folder with a `compat.json`:

    {"build": "npm run build" | null,
     "template": {"package": "create-cloudflare@VERSION", "path": "templates/NAME/ts",
                  "compatibility_date": "YYYY-MM-DD"},   (optional)
     "runs": [{"name": "RUN", "config": "wrangler.RUN.jsonc",
               "requests": [{"method": "GET", "path": "/about",
                             "headers": {"sec-fetch-mode": "navigate"},
                             "body": "optional request body"}, ...]}]}

For each fixture (all of them, or the NAMEs given), the folder is copied to
a temporary folder (without node_modules/, dist/, .wrangler/ and VitePress'
cache and output), `npm install` runs there when it has a package.json,
then the build command. A fixture with a `template` is instead made from
that template of the npm package, as `npm create cloudflare` makes a
project: the template's files, `__dot__` names renamed to dot files, and
the placeholders <WORKER_NAME>, <PACKAGE_NAME> (the fixture's name) and
<COMPATIBILITY_DATE> filled in; its only dependency is wrangler, so nothing
is installed. Then for each run, `wrangler dev --config CONFIG
--port PORT --ip 127.0.0.1` starts (its log in the temporary folder, shown
when something fails) and each request is sent in order, on a new
connection, with http.client:

  * the path is sent exactly as written (http.client puts it on the request
    line as it is: no normalisation, no percent-encoding; it must be ASCII);
  * the headers sent are the request's `headers` and Host (127.0.0.1:PORT),
    plus Content-Length when there is a body: no Accept-Encoding unless the
    request has one, no other default header;
  * a header value of exactly "$ETAG" is replaced by the `etag` response
    header of the previous request of the same run (an error if it had
    none);
  * redirects are not followed and bodies are not decompressed;
  * when wrangler dev answers for itself because one of its internal
    connections broke (TRANSIENT: 503 "Your worker restarted mid-request",
    500 "Network connection lost"; it happens now and then, mostly to
    requests with a body), the request is sent again, up to ATTEMPTS times.

Each answer is recorded as
{"method", "path", "request_headers", "status", "headers", "body"}:

  * request_headers: the request's headers as written in compat.json (so
    with "$ETAG", not the value sent; without Host and Content-Length);
  * headers: the response headers named in RECORDED_HEADERS, and every
    header whose name starts with "x-" except those in IGNORED_X_HEADERS and
    those starting with "x-mf-" (miniflare's internals); names lowercased,
    values as received, several fields of one name joined with ", ". Not
    recorded: date, content-length, transfer-encoding, connection, server,
    cf-cache-status (miniflare says HIT or MISS depending on how long its
    KV read took) and every other header;
  * body: "" when empty; the text when the content-type is text-ish
    (text/*, application/json, application/javascript, image/svg+xml, or any
    type containing "xml" or "json") and the body is valid UTF-8, except
    text/html bodies over HTML_TEXT_LIMIT bytes; otherwise
    {"sha256": hex, "length": bytes}. A body with a Content-Encoding (gzip,
    deflate or br; `content-encoding` is among the recorded headers) is
    recorded decoded, since compressors differ in their bytes: this script
    decodes it itself (br with node's zlib, Python having no brotli).

The `etag` recorded is wrangler dev's: a hash of the file's absolute path
and modification time, not of its content, so it changes from one
recording to the next; compare it as an opaque quoted string (strong, or
weak with W/).

wrangler comes from npm (benches/peers, installed when missing). wrangler
and everything it starts run in their own process group, stopped as a
whole after each run (benches/http_load.py's track/stop).

    python3 tests/compat/assets.py [FIXTURE ...] [--keep]
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benches"))
import workerd as compat  # noqa: E402  (REPO, PEERS, free_ports)
from http_load import on_signal, stop, stop_all, track  # noqa: E402

FIXTURES = compat.REPO / "fixtures" / "assets"
EXPECTED = FIXTURES / "expected"
WRANGLER = compat.PEERS / "node_modules" / ".bin" / "wrangler"
# Not copied to the temporary folder: installed, built or wrangler's state.
SKIPPED_ANYWHERE = {"node_modules", ".wrangler", ".ridge"}
SKIPPED_AT_TOP = {"dist", "expected"}
SKIPPED_IN_VITEPRESS = {"dist", "cache"}
RECORDED_HEADERS = {
    "content-type", "location", "cache-control", "etag", "content-range", "content-encoding",
    "vary", "allow", "accept-ranges", "x-frame-options",
}
IGNORED_X_HEADERS = {"x-powered-by"}
HTML_TEXT_LIMIT = 2048
START_TIMEOUT = 120.0  # seconds for wrangler dev to listen
REQUEST_TIMEOUT = 10.0
# Now and then (mostly for requests with a body) a connection inside
# wrangler dev breaks under a request: its proxy then answers 503 "Your
# worker restarted mid-request..." (it retries GET and HEAD itself), or
# miniflare's entry worker 500 "Error: Network connection lost.". Neither
# is an answer of the assets or the Worker: such requests are sent again.
TRANSIENT = ((503, b"Your worker restarted mid-request."), (500, b"Error: Network connection lost."))
ATTEMPTS = 5
# wrangler dev sometimes exits after such a broken connection ("Error inside
# ProxyWorker ... Network connection lost"): it is started again (on the same
# copy, so the ETags stay the same) and the run goes on.
MAX_STARTS = 4
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def log(message: str) -> None:
    print(f"[assets] {message}", file=sys.stderr, flush=True)


def wrangler_env() -> dict[str, str]:
    return {
        **os.environ,
        "WRANGLER_SEND_METRICS": "false",
        "CI": "1",
        "CLOUDFLARE_CF_FETCH_ENABLED": "false",  # no download of Request.cf
        "WRANGLER_HIDE_BANNER": "true",
        "NO_COLOR": "1",
        "FORCE_COLOR": "0",
    }


def wrangler() -> Path:
    if not WRANGLER.exists():
        log("installing the pinned peers (benches/peers)")
        subprocess.run(["npm", "install", "--prefix", str(compat.PEERS), "--no-audit", "--no-fund"],
                       check=True, stdout=subprocess.DEVNULL)
    return WRANGLER


def run_step(cmd: list[str], cwd: Path, what: str) -> None:
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=wrangler_env())
    if result.returncode != 0:
        raise SystemExit(f"{what}: `{shlex.join(cmd)}` exited {result.returncode}:\n"
                         f"{(result.stdout + result.stderr)[-4000:]}")


def from_template(template: dict, work: Path, name: str) -> None:
    """The project `npm create cloudflare` makes from `template`, in `work`."""
    unpacked = work.parent / f"{name}-template"
    unpacked.mkdir()
    run_step(["npm", "pack", template["package"], "--silent"], unpacked, name)
    tarball = next(unpacked.glob("*.tgz"))
    run_step(["tar", "xzf", tarball.name], unpacked, name)
    shutil.copytree(unpacked / "package" / template["path"], work)
    for path in list(work.rglob("__dot__*")):
        path.rename(path.with_name("." + path.name[len("__dot__"):]))
    for path in work.glob("*.json*"):
        text = path.read_text()
        for placeholder, value in (("<WORKER_NAME>", name), ("<PACKAGE_NAME>", name),
                                   ("<COMPATIBILITY_DATE>", template["compatibility_date"])):
            text = text.replace(placeholder, value)
        path.write_text(text)


def prepare(fixture: Path, work: Path, build: str | None, template: dict | None = None) -> None:
    """A copy of `fixture` in `work` (or the project its template makes),
    installed and built."""
    if template is not None:
        from_template(template, work, fixture.name)
        return
    def skipped(folder: str, names: list[str]) -> set[str]:
        here = Path(folder)
        drop = SKIPPED_ANYWHERE | (SKIPPED_AT_TOP if here == fixture else set()) | (
            SKIPPED_IN_VITEPRESS if here.name == ".vitepress" else set())
        return {name for name in names if name in drop}

    shutil.copytree(fixture, work, ignore=skipped)
    if (work / "package.json").exists():
        log(f"{fixture.name}: npm install")
        run_step(["npm", "install", "--no-audit", "--no-fund"], work, fixture.name)
    if build:
        log(f"{fixture.name}: {build}")
        run_step(shlex.split(build), work, fixture.name)


def tail(path: Path, chars: int = 4000) -> str:
    try:
        return ANSI.sub("", path.read_text(errors="replace"))[-chars:]
    except OSError:
        return "(no log)"


class WranglerDev:
    """`wrangler dev` serving one run; started again when it dies."""

    def __init__(self, work: Path, config: str, log_stem: Path):
        self.work, self.config, self.log_stem = work, config, log_stem
        self.process: subprocess.Popen | None = None
        self.port = 0
        self.starts = 0

    @property
    def log_path(self) -> Path:
        return self.log_stem.with_name(f"{self.log_stem.name}.{self.starts}.log")

    def start(self) -> None:
        self.starts += 1
        self.port, inspector_port = compat.free_ports(2)
        cmd = [str(wrangler()), "dev", "--config", self.config, "--port", str(self.port), "--ip", "127.0.0.1",
               "--inspector-port", str(inspector_port), "--show-interactive-dev-session=false"]
        env = dict(wrangler_env(), WRANGLER_LOG_PATH=str(self.log_stem.parent / "wrangler-logs"))
        with open(self.log_path, "wb") as output:
            self.process = subprocess.Popen(cmd, cwd=self.work, env=env, stdin=subprocess.DEVNULL,
                                            stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        track(self.process)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"wrangler dev exited with {self.process.returncode}:\n{tail(self.log_path)}")
            if re.search(rf"Ready on http://127\.0\.0\.1:{self.port}", tail(self.log_path, 100_000)):
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                    return
                except OSError:
                    pass
            time.sleep(0.1)
        self.stop()
        raise SystemExit(f"wrangler dev did not get ready in {START_TIMEOUT:g}s:\n{tail(self.log_path)}")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def restart(self) -> None:
        self.stop()
        if self.starts > MAX_STARTS:
            raise SystemExit(f"wrangler dev died {self.starts} times:\n{tail(self.log_path)}")
        self.start()

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None


def send(port: int, method: str, path: str, headers: dict[str, str], body: bytes | None
         ) -> tuple[int, list[tuple[str, str]], bytes]:
    """One request on a new connection; (status, headers, raw body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        data = response.read()
        return response.status, response.getheaders(), data
    finally:
        conn.close()


def recorded_headers(headers: list[tuple[str, str]]) -> dict[str, str]:
    kept: dict[str, list[str]] = {}
    for name, value in headers:
        name = name.lower()
        if name in RECORDED_HEADERS or (
                name.startswith("x-") and name not in IGNORED_X_HEADERS and not name.startswith("x-mf-")):
            kept.setdefault(name, []).append(value)
    return {name: ", ".join(values) for name, values in sorted(kept.items())}


def is_textual(content_type: str) -> bool:
    essence = content_type.split(";")[0].strip().lower()
    return (essence.startswith("text/") or essence in ("application/json", "application/javascript", "image/svg+xml")
            or "xml" in essence or "json" in essence)


def recorded_body(content_type: str, body: bytes) -> str | dict:
    if not body:
        return ""
    digest = {"sha256": hashlib.sha256(body).hexdigest(), "length": len(body)}
    if not is_textual(content_type):
        return digest
    if content_type.split(";")[0].strip().lower() == "text/html" and len(body) > HTML_TEXT_LIMIT:
        return digest
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return digest


def decoded(encoding: str, body: bytes, label: str) -> bytes:
    """`body` without its Content-Encoding."""
    codings = [c.strip().lower() for c in encoding.split(",") if c.strip()]
    for coding in reversed(codings):
        if coding in ("gzip", "x-gzip"):
            body = zlib.decompress(body, 16 + zlib.MAX_WBITS)
        elif coding == "deflate":
            try:
                body = zlib.decompress(body)
            except zlib.error:
                body = zlib.decompress(body, -zlib.MAX_WBITS)
        elif coding == "br":
            body = subprocess.run(
                ["node", "-e", "process.stdout.write(require('zlib').brotliDecompressSync(require('fs').readFileSync(0)))"],
                input=body, capture_output=True, check=True).stdout
        elif coding != "identity":
            raise SystemExit(f"{label}: cannot decode Content-Encoding {encoding!r}")
    return body


def run_requests(dev: WranglerDev, run: dict, label: str) -> list[dict]:
    answers = []
    previous_etag: str | None = None
    for index, request in enumerate(run["requests"]):
        method = request.get("method", "GET")
        path = request["path"]
        written = dict(request.get("headers", {}))
        sent = {}
        for name, value in written.items():
            if value == "$ETAG":
                if previous_etag is None:
                    raise SystemExit(f"{label}: request {index} ({method} {path}) wants $ETAG "
                                     "but the previous answer had no etag")
                value = previous_etag
            sent[name] = value
        body = request.get("body")
        for attempt in range(1, ATTEMPTS + 1):
            what = f"{label}: {method} {path}"
            try:
                status, headers, data = send(dev.port, method, path, sent,
                                             body.encode() if body is not None else None)
            except (ConnectionError, http.client.RemoteDisconnected, socket.timeout) as error:
                if attempt == ATTEMPTS:
                    raise SystemExit(f"{what}: {error!r}\n{tail(dev.log_path)}")
                log(f"{what}: {error!r}; sending it again")
            else:
                if not any(status == code and data.startswith(text) for code, text in TRANSIENT) or attempt == ATTEMPTS:
                    break
                log(f"{what}: wrangler dev lost it ({status}); sending it again")
            time.sleep(0.2 * attempt)
            if not dev.alive():
                log(f"{label}: wrangler dev died (log {dev.log_path}); starting it again")
                dev.restart()
        kept = recorded_headers(headers)
        if data and "content-encoding" in kept:
            data = decoded(kept["content-encoding"], data, f"{label}: {method} {path}")
        answers.append({"method": method, "path": path, "request_headers": written, "status": status,
                        "headers": kept, "body": recorded_body(kept.get("content-type", ""), data)})
        previous_etag = kept.get("etag")
    return answers


def record_fixture(fixture: Path, keep: bool) -> None:
    spec = json.loads((fixture / "compat.json").read_text())
    scratch = Path(tempfile.mkdtemp(prefix=f"ridge-assets-{fixture.name}-"))
    work = scratch / fixture.name
    try:
        prepare(fixture, work, spec.get("build"), spec.get("template"))
        for run in spec["runs"]:
            label = f"{fixture.name}.{run['name']}"
            dev = WranglerDev(work, run["config"], scratch / f"{label}.wrangler")
            started = time.monotonic()
            try:
                dev.start()
                answers = run_requests(dev, run, label)
            finally:
                dev.stop()
            target = EXPECTED / f"{label}.json"
            target.write_text(json.dumps(answers, indent=2, ensure_ascii=False) + "\n")
            log(f"wrote {target.relative_to(compat.REPO)} ({len(answers)} requests, "
                f"{time.monotonic() - started:.1f}s)")
    finally:
        if keep:
            log(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("fixtures", nargs="*", metavar="FIXTURE", help="folders of fixtures/assets/ to record")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders (builds, wrangler logs)")
    args = parser.parse_args()
    available = sorted(p.name for p in FIXTURES.iterdir() if (p / "compat.json").is_file())
    unknown = [name for name in args.fixtures if name not in available]
    if unknown:
        raise SystemExit(f"unknown fixtures {unknown}; there are {available}")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    EXPECTED.mkdir(exist_ok=True)
    log(f"wrangler {subprocess.run([str(wrangler()), '--version'], capture_output=True, text=True, env=wrangler_env()).stdout.strip()}")
    try:
        for name in args.fixtures or available:
            record_fixture(FIXTURES / name, args.keep)
    finally:
        stop_all()


if __name__ == "__main__":
    main()
