#!/usr/bin/env python3
"""Records what workerd answers for each Workers project under
fixtures/projects/ (fixtures/projects/expected/NAME.json), the project
bundled the way Cloudflare's tooling does it: `npm install`, then
`wrangler deploy --dry-run --outdir`, then the bundle served by workerd.
tests/ridge/projects.rs runs the same projects with Ridge, from their
folders, and compares.

wrangler and workerd come from npm (benches/peers).

    python3 tests/compat/projects.py [NAME ...]
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import workerd as compat  # noqa: E402  (the corpus runner's helpers)

PROJECTS = compat.REPO / "fixtures" / "projects"
EXPECTED = PROJECTS / "expected"


def read_config(folder: Path) -> dict:
    """The project's wrangler configuration, whichever file it is."""
    for name in ("wrangler.json", "wrangler.jsonc", "wrangler.toml"):
        path = folder / name
        if not path.exists():
            continue
        if name.endswith(".toml"):
            return tomllib.loads(path.read_text())
        text = re.sub(r"/\*.*?\*/", "", path.read_text(), flags=re.S)
        text = "\n".join(line for line in text.splitlines() if not line.strip().startswith("//"))
        return json.loads(re.sub(r",(\s*[}\]])", r"\1", text))
    raise SystemExit(f"{folder} has no wrangler configuration")


def wrangler() -> Path:
    binary = compat.PEERS / "node_modules" / ".bin" / "wrangler"
    if not binary.exists():
        subprocess.run(["npm", "install", "--prefix", str(compat.PEERS), "--no-audit", "--no-fund"],
                       check=True, stdout=subprocess.DEVNULL)
    return binary


def bundle(project: Path, work: Path) -> tuple[Path, dict]:
    """Installs and bundles a copy of `project`; returns the bundle folder."""
    shutil.copytree(project, work, ignore=shutil.ignore_patterns("node_modules", ".ridge", ".wrangler"))
    subprocess.run(["npm", "install", "--no-audit", "--no-fund"], cwd=work, check=True,
                   stdout=subprocess.DEVNULL)
    out = work / "out"
    env = dict(os.environ, WRANGLER_SEND_METRICS="false", CI="1")
    subprocess.run([str(wrangler()), "deploy", "--dry-run", "--outdir", str(out)], cwd=work, check=True,
                   env=env, stdout=subprocess.DEVNULL)
    return out, read_config(project)


def serve(out: Path, config: dict, port: int, needs: str | None) -> subprocess.Popen:
    mods = []
    for path in sorted(p for p in out.rglob("*") if p.is_file() and p.suffix not in (".map", ".md")):
        name = str(path.relative_to(out))
        mods.append((name, Path(name)))
    mods.sort(key=lambda item: item[0] != "index.js")
    modules = ", ".join(compat.capnp_module(name, path) for name, path in mods)
    variables = dict(config.get("vars", {}))
    # A project that needs PostgreSQL talks to the tests' server, on
    # loopback, which workerd's default network refuses.
    network = ""
    if needs == "postgres":
        variables["DATABASE_URL"] = os.environ.get("RIDGE_TEST_POSTGRES_URL", variables["DATABASE_URL"])
        network = ', (name = "internet", network = (allow = ["public", "local"]))'
    bindings = ", ".join(
        f'(name = {json.dumps(k)}, text = {json.dumps(v)})' if isinstance(v, str)
        else f'(name = {json.dumps(k)}, json = {json.dumps(json.dumps(v))})'
        for k, v in variables.items())
    flags = ", ".join(json.dumps(f) for f in config.get("compatibility_flags", []))
    capnp = out / "config.capnp"
    capnp.write_text(
        'using Workerd = import "/workerd/workerd.capnp";\n'
        "const config :Workerd.Config = (\n"
        f'  services = [(name = "main", worker = (modules = [{modules}], bindings = [{bindings}], '
        f'compatibilityDate = "{config["compatibility_date"]}", compatibilityFlags = [{flags}])){network}],\n'
        f'  sockets = [(name = "http", address = "127.0.0.1:{port}", http = (), service = "main")],\n);\n')
    log = open(out / "workerd.log", "wb")
    return subprocess.Popen([str(compat.workerd_binary()), "serve", str(capnp)], stdout=log, stderr=log, cwd=out)


def main() -> None:
    only = sys.argv[1:]
    # A project workerd cannot run has its own test (compat.json says why).
    projects = sorted(p for p in PROJECTS.iterdir()
                      if p.is_dir() and p.name != "expected" and (not only or p.name in only)
                      and "not_on_workerd" not in json.loads((p / "compat.json").read_text()))
    EXPECTED.mkdir(exist_ok=True)
    for project in projects:
        work = Path(tempfile.mkdtemp(prefix=f"ridge-project-{project.name}-"))
        try:
            out, config = bundle(project, work / "project")
            port = compat.free_ports(1)[0]
            paths = json.loads((project / "compat.json").read_text())
            process = serve(out, config, port, paths.get("needs"))
            time.sleep(0.5)
            try:
                answers = []
                for path in paths["paths"]:
                    answer = compat.fetch_path(port, path)
                    answers.append({"path": path, **answer})
            except SystemExit:
                print((out / "workerd.log").read_text()[-3000:], file=sys.stderr)
                raise
            finally:
                process.terminate()
                process.wait(timeout=10)
            target = EXPECTED / f"{project.name}.json"
            target.write_text(json.dumps(answers, indent=2, ensure_ascii=False) + "\n")
            print(f"wrote {target.relative_to(compat.REPO)}")
        finally:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
