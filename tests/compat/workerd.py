#!/usr/bin/env python3
"""Runs the conformance corpus (fixtures/compat/) on workerd, the reference
implementation, and writes what it answered as the expected results
(fixtures/compat/expected/). With --ridge, also runs the cases on a Ridge
binary and shows where the two differ (nothing is written then).

A case is fixtures/compat/AREA/NAME.js (an ES module worker, or a
service-worker script when it has no `export default`), or a folder
fixtures/compat/AREA/NAME/ whose entry is index.js, with more modules beside
it (.js, .wasm, .txt, .json, .bin). The cases of the `node` area run with
the `nodejs_compat` flag (AREA_FLAGS). Each case is requested once:
GET http://compat.test/AREA/NAME/?q=1 (Host: compat.test).

A folder case may have a second worker, `callee.js` (a module worker of its
own), and `services.json`, the case's service bindings to it:
`[{"binding": "NAME", "entrypoint": "Class"}]` (entrypoint optional). It may
have `objects.json`, Durable Object namespaces of classes its index.js
exports: `[{"binding": "NAME", "class": "Class"}]` (SQLite-backed, stored
in the temporary folder).

workerd comes from npm (benches/peers, installed on first use). One workerd
process serves every case, each on its own port.

    python3 tests/compat/workerd.py                 # regenerate expected/
    python3 tests/compat/workerd.py --ridge target/debug/ridge [--only AREA/NAME ...]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "fixtures" / "compat"
EXPECTED = CORPUS / "expected"
PEERS = REPO / "benches" / "peers"
COMPAT_DATE = "2025-09-01"
# Compatibility flags of every case in an area (the rest run with none).
AREA_FLAGS = {"node": ["nodejs_compat"]}
HOST = "compat.test"
# Headers every runtime sets its own way; not part of a case's answer.
IGNORED_HEADERS = {"date", "content-length", "transfer-encoding", "connection", "keep-alive", "server", "alt-svc"}


def cases(only: list[str]) -> list[tuple[str, Path]]:
    """(id, path) of every case, id = AREA/NAME, sorted."""
    found = []
    for area in sorted(p for p in CORPUS.iterdir() if p.is_dir() and p.name != "expected"):
        for entry in sorted(area.iterdir()):
            name = entry.stem if entry.is_file() else entry.name
            if entry.is_file() and entry.suffix != ".js":
                continue
            case_id = f"{area.name}/{name}"
            if not only or case_id in only or area.name in only:
                found.append((case_id, entry))
    return found


def area_flags(case_id: str) -> list[str]:
    return AREA_FLAGS.get(case_id.split("/")[0], [])


# Files of a folder case that are not modules of its worker.
CALLEE = "callee.js"
SERVICES = "services.json"
OBJECTS = "objects.json"


def modules(entry: Path) -> list[tuple[str, Path]]:
    """(module name, file) of a case; the entry module first."""
    if entry.is_file():
        return [("index.js", entry)]
    files = sorted(p for p in entry.rglob("*")
                   if p.is_file() and p.relative_to(entry).as_posix() not in (CALLEE, SERVICES, OBJECTS))
    names = [(str(p.relative_to(entry)), p) for p in files]
    names.sort(key=lambda item: item[0] != "index.js")
    return names


def service_bindings(entry: Path) -> list[dict]:
    """The case's bindings to its callee worker (services.json), if any."""
    path = entry / SERVICES
    return json.loads(path.read_text()) if entry.is_dir() and path.exists() else []


def object_namespaces(entry: Path) -> list[dict]:
    """The case's Durable Object namespaces (objects.json), if any."""
    path = entry / OBJECTS
    return json.loads(path.read_text()) if entry.is_dir() and path.exists() else []


def ridge_object_config(namespaces: list[dict]) -> str:
    """ridge.toml tables for `namespaces` (after every top-level key)."""
    if not namespaces:
        return ""
    tables = "".join(f'[[durable_objects.bindings]]\nname = "{n["binding"]}"\nclass_name = "{n["class"]}"\n'
                     for n in namespaces)
    classes = ", ".join(f'"{c}"' for c in dict.fromkeys(n["class"] for n in namespaces))
    return tables + f'[[migrations]]\ntag = "v1"\nnew_sqlite_classes = [{classes}]\n'


def is_service_worker(source: str) -> bool:
    return "export default" not in source and "addEventListener" in source


def free_ports(count: int) -> list[int]:
    """`count` distinct free ports (all held open while choosing)."""
    held = []
    for _ in range(count):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        held.append(s)
    ports = [s.getsockname()[1] for s in held]
    for s in held:
        s.close()
    return ports


def workerd_binary() -> Path:
    binary = PEERS / "node_modules" / "@cloudflare" / "workerd-linux-64" / "bin" / "workerd"
    if not binary.exists():
        subprocess.run(["npm", "install", "--prefix", str(PEERS), "--no-audit", "--no-fund"],
                       check=True, stdout=subprocess.DEVNULL)
    return binary


def capnp_module(name: str, path: Path) -> str:
    kinds = {".js": "esModule", ".mjs": "esModule", ".wasm": "wasm", ".txt": "text",
             ".html": "text", ".json": "json", ".bin": "data"}
    return f'(name = "{name}", {kinds[path.suffix]} = embed "{path}")'


def start_workerd(selected: list[tuple[str, Path]], work: Path) -> tuple[subprocess.Popen, dict[str, int]]:
    services, sockets, ports = [], [], {}
    free = free_ports(len(selected))
    for index, (case_id, entry) in enumerate(selected):
        # Copies beside the config, since `embed` paths are relative to it.
        target = work / f"case{index}"
        target.mkdir()
        mods = []
        for name, path in modules(entry):
            copy = target / name
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, copy)
            mods.append((name, copy.relative_to(work)))
        source = (target / "index.js").read_text()
        if entry.is_file() and is_service_worker(source):
            worker = f'serviceWorkerScript = embed "{mods[0][1]}"'
        else:
            worker = "modules = [" + ", ".join(capnp_module(n, p) for n, p in mods) + "]"
        flags = ", ".join(f'"{flag}"' for flag in area_flags(case_id))
        bindings = []
        for binding in service_bindings(entry):
            entrypoint = f', entrypoint = "{binding["entrypoint"]}"' if "entrypoint" in binding else ""
            bindings.append(f'(name = "{binding["binding"]}", service = (name = "case{index}-callee"{entrypoint}))')
        if bindings:
            shutil.copyfile(entry / CALLEE, target / CALLEE)
            services.append(f'(name = "case{index}-callee", worker = (modules = [{capnp_module("index.js", target.relative_to(work) / CALLEE)}], '
                            f'compatibilityDate = "{COMPAT_DATE}", compatibilityFlags = [{flags}]))')
        namespaces = object_namespaces(entry)
        objects = ""
        if namespaces:
            for namespace in namespaces:
                bindings.append(f'(name = "{namespace["binding"]}", durableObjectNamespace = "{namespace["class"]}")')
            classes = dict.fromkeys(n["class"] for n in namespaces)
            objects = (", durableObjectNamespaces = [" + ", ".join(
                f'(className = "{c}", uniqueKey = "case{index}-{c}", enableSql = true)' for c in classes)
                + f'], durableObjectStorage = (localDisk = "case{index}-storage")')
            (work / f"case{index}-storage").mkdir()
            services.append(f'(name = "case{index}-storage", disk = (path = "{work / f"case{index}-storage"}", '
                            f'writable = true))')
        services.append(f'(name = "case{index}", worker = ({worker}, '
                        f'compatibilityDate = "{COMPAT_DATE}", compatibilityFlags = [{flags}], '
                        f'bindings = [{", ".join(bindings)}]{objects}))')
        port = free[index]
        ports[case_id] = port
        sockets.append(f'(name = "s{index}", address = "127.0.0.1:{port}", http = (), '
                       f'service = "case{index}")')
    config = work / "config.capnp"
    config.write_text('using Workerd = import "/workerd/workerd.capnp";\n'
                      "const config :Workerd.Config = (\n"
                      f"  services = [{', '.join(services)}],\n"
                      f"  sockets = [{', '.join(sockets)}],\n);\n")
    log = open(work / "workerd.log", "wb")
    process = subprocess.Popen([str(workerd_binary()), "serve", str(config)],
                               stdout=log, stderr=log, cwd=work)
    return process, ports


def start_ridge(binary: str, selected: list[tuple[str, Path]], work: Path) -> tuple[subprocess.Popen, int]:
    workers = work / "ridge-workers"
    for index, (case_id, entry) in enumerate(selected):
        folder = workers / f"case{index}"
        folder.mkdir(parents=True)
        for name, path in modules(entry):
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, folder / name)
        flags = ", ".join(f'"{flag}"' for flag in area_flags(case_id))
        config = (f'name = "case{index}"\nmain = "index.js"\nroutes = ["{HOST}/{case_id}/*"]\n'
                  f'compatibility_date = "{COMPAT_DATE}"\ncompatibility_flags = [{flags}]\n')
        bindings = service_bindings(entry)
        if bindings:
            callee = workers / f"case{index}-callee"
            callee.mkdir()
            shutil.copyfile(entry / CALLEE, callee / "index.js")
            (callee / "ridge.toml").write_text(
                f'name = "case{index}-callee"\nmain = "index.js"\n'
                f'compatibility_date = "{COMPAT_DATE}"\ncompatibility_flags = [{flags}]\n')
            config += "services = [" + ", ".join(
                f'{{ binding = "{b["binding"]}", service = "case{index}-callee"'
                + (f', entrypoint = "{b["entrypoint"]}"' if "entrypoint" in b else "") + " }"
                for b in bindings) + "]\n"
        (folder / "ridge.toml").write_text(config + ridge_object_config(object_namespaces(entry)))
    log = open(work / "ridge.log", "w+")
    process = subprocess.Popen([binary, "serve", "--workers", str(workers), "--listen", "127.0.0.1:0",
                                "--data-dir", str(work / "ridge-data")],
                               stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        log.seek(0)
        found = re.search(r"ready on http://127\.0\.0\.1:(\d+)", re.sub(r"\x1b\[[0-9;]*m", "", log.read()))
        if found:
            return process, int(found.group(1))
        if process.poll() is not None:
            break
        time.sleep(0.05)
    log.seek(0)
    raise SystemExit(f"ridge did not start:\n{log.read()[-3000:]}")


def fetch(port: int, case_id: str) -> dict:
    return fetch_path(port, f"/{case_id}/?q=1")


def fetch_path(port: int, path: str) -> dict:
    """GET `path` (Host: compat.test): status, headers (less IGNORED_HEADERS), body."""
    for attempt in range(100):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", path, headers={"Host": HOST})
            response = conn.getresponse()
            body = response.read()
            headers: dict[str, list[str]] = {}
            for name, value in response.getheaders():
                if name.lower() not in IGNORED_HEADERS:
                    headers.setdefault(name.lower(), []).append(value)
            return {"status": response.status,
                    "headers": {k: ", ".join(v) for k, v in sorted(headers.items())},
                    "body": body.decode("utf-8", errors="replace")}
        except (ConnectionRefusedError, ConnectionResetError):
            time.sleep(0.05)
    raise SystemExit(f"{path}: nothing answers on port {port}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ridge", metavar="BINARY", help="compare with this ridge binary instead of writing")
    parser.add_argument("--only", nargs="*", default=[], help="AREA or AREA/NAME to run")
    args = parser.parse_args()
    selected = cases(args.only)
    work = Path(tempfile.mkdtemp(prefix="ridge-compat-"))
    processes = []
    try:
        workerd, ports = start_workerd(selected, work)
        processes.append(workerd)
        time.sleep(0.5)
        if workerd.poll() is not None:
            raise SystemExit("workerd stopped:\n" + (work / "workerd.log").read_text()[-3000:])
        reference = {case_id: fetch(ports[case_id], case_id) for case_id, _ in selected}
        if not args.ridge:
            for case_id, answer in reference.items():
                target = EXPECTED / f"{case_id}.json"
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(json.dumps(answer, indent=2, ensure_ascii=False) + "\n")
            print(f"wrote {len(reference)} expected results under {EXPECTED.relative_to(REPO)}")
            return
        ridge, port = start_ridge(args.ridge, selected, work)
        processes.append(ridge)
        differing = 0
        for case_id, _ in selected:
            ours = fetch(port, case_id)
            if ours == reference[case_id]:
                print(f"same  {case_id}")
                continue
            differing += 1
            print(f"DIFF  {case_id}\n  workerd: {json.dumps(reference[case_id], ensure_ascii=False)}"
                  f"\n  ridge:   {json.dumps(ours, ensure_ascii=False)}")
        print(f"{len(selected) - differing}/{len(selected)} cases answer the same")
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
