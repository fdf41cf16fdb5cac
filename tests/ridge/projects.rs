//! Workers projects as people write them (fixtures/projects/): their npm
//! packages installed from the registry at test time, run with `ridge dev`
//! from the project folder and with `ridge deploy` to a node, answering as
//! workerd answers for the same project bundled by wrangler
//! (fixtures/projects/expected/, recorded by tests/compat/projects.py).
//! Also: the mistakes a user makes with a project, and what they are told.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::conformance::IGNORED_HEADERS;
use crate::control::{Backend, Node};
use crate::support::{copy_project, http1, root, run_in, run_scratch, serve, Ridge, TempDir};

/// Every project under fixtures/projects/.
fn all_projects() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("fixtures/projects"))
        .unwrap()
        .filter_map(|entry| {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            (entry.file_type().unwrap().is_dir() && name != "expected").then_some(name)
        })
        .collect();
    names.sort();
    names
}

/// The projects compared with workerd by the tests below; those that need a
/// service (`"needs"` in their compat.json, e.g. PostgreSQL) or that workerd
/// cannot run (`"not_on_workerd"`, with the reason) have their own test.
fn projects() -> Vec<String> {
    all_projects()
        .into_iter()
        .filter(|name| {
            let compat = compat_paths(name);
            compat.get("needs").is_none() && compat.get("not_on_workerd").is_none()
        })
        .collect()
}

/// A project's compat.json: the paths it is asked for, and what it needs.
fn compat_paths(name: &str) -> Value {
    let path = root().join(format!("fixtures/projects/{name}/compat.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Runs `npm install` in `dir`, failing the test with npm's output.
fn npm_install(dir: &Path) {
    run_in(
        dir,
        &[
            "npm",
            "install",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
        ],
    );
}

/// Every project, copied and installed once for the whole test binary.
fn installed() -> &'static Path {
    static INSTALLED: OnceLock<PathBuf> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let dir = run_scratch("projects");
        for name in all_projects() {
            let folder = dir.join(&name);
            copy_project(&root().join("fixtures/projects").join(&name), &folder);
            npm_install(&folder);
        }
        dir
    })
}

/// What the project answers at each of its paths, in the shape of
/// fixtures/projects/expected/ (`host` is sent as the Host header).
async fn answers(base: &str, host: &str, name: &str) -> Vec<Value> {
    let paths = compat_paths(name);
    let mut answers = Vec::new();
    for path in paths["paths"].as_array().unwrap() {
        let path = path.as_str().unwrap();
        let response = http1()
            .get(format!("{base}{path}"))
            .header("host", host)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let mut headers = serde_json::Map::new();
        for (header, value) in response.headers() {
            if IGNORED_HEADERS.contains(&header.as_str()) {
                continue;
            }
            let value = value.to_str().unwrap().to_string();
            match headers.get_mut(header.as_str()) {
                Some(Value::String(joined)) => *joined = format!("{joined}, {value}"),
                _ => {
                    headers.insert(header.as_str().to_string(), Value::String(value));
                }
            }
        }
        let body = response.text().await.unwrap();
        answers.push(json!({ "path": path, "status": status, "headers": headers, "body": body }));
    }
    answers
}

fn expected(name: &str) -> Vec<Value> {
    let path = root().join(format!("fixtures/projects/expected/{name}.json"));
    serde_json::from_str(
        &std::fs::read_to_string(&path).unwrap_or_else(|_| {
            panic!("{name} has no expected answers: run tests/compat/projects.py")
        }),
    )
    .unwrap()
}

#[tokio::test]
async fn projects_run_with_ridge_dev_as_on_workerd() {
    for name in projects() {
        let folder = installed().join(&name);
        let args: Vec<String> = ["dev", "--port", "0"].map(String::from).to_vec();
        let ridge = Ridge::start_in(&args, &[], &folder);
        let ours = answers(&ridge.url(""), "compat.test", &name).await;
        assert_eq!(ours, expected(&name), "{name} under ridge dev");
        // The log says which configuration file was read.
        let config = std::fs::read_dir(&folder)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .find(|n| n.starts_with("wrangler."))
            .unwrap();
        ridge.wait_for_log(&format!("using {config}"));
    }
}

#[tokio::test]
async fn projects_deploy_to_a_node_and_answer_as_on_workerd() {
    let backend = Backend::sqlite();
    let node = Node::start_with(&backend, &["--base-domain", "test"], &[]);
    for name in projects() {
        let folder = installed().join(&name);
        let (ok, out) = node.cli(&["deploy", &folder.display().to_string()], None);
        assert!(ok, "{name}: {out}");
        let config: String = std::fs::read_dir(&folder)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .find(|n| n.starts_with("wrangler."))
            .unwrap();
        let worker = ridge_deploy::config::WorkerConfig::from_file(&folder.join(config), None)
            .unwrap()
            .name;
        let ours = answers(&node.ridge.url(""), &format!("{worker}.test"), &name).await;
        assert_eq!(ours, expected(&name), "{name} deployed to a node");
    }
}

/// node-postgres (pg) queries the tests' PostgreSQL through cloudflare:sockets
/// (and node:net), under `ridge dev` and on a node whose outbound policy
/// allows the server, answering as on workerd; a node that does not allow
/// it refuses the connection, and says how to allow it.
#[tokio::test]
async fn node_postgres_queries_a_real_postgresql_as_on_workerd() {
    let database = std::env::var("RIDGE_TEST_POSTGRES_URL")
        .expect("RIDGE_TEST_POSTGRES_URL names the tests' PostgreSQL (.ci/run starts one)");
    let server = database
        .split_once('@')
        .and_then(|(_, rest)| rest.split_once('/'))
        .map(|(server, _)| server.to_string())
        .expect("a database URL: postgres://USER:PASSWORD@HOST:PORT/DB");
    let folder = installed().join("node-postgres");
    let config = folder.join("wrangler.jsonc");
    let text = std::fs::read_to_string(&config).unwrap();
    let default = "postgres://ridge:ridge@127.0.0.1:5432/ridge_test";
    std::fs::write(&config, text.replace(default, &database)).unwrap();

    let args: Vec<String> = ["dev", "--port", "0"].map(String::from).to_vec();
    let dev = Ridge::start_in(&args, &[], &folder);
    let ours = answers(&dev.url(""), "compat.test", "node-postgres").await;
    assert_eq!(ours, expected("node-postgres"), "under ridge dev");
    drop(dev);

    let allowed = serve(
        &[("node-postgres", folder.clone())],
        &["--base-domain", "test", "--allow-outbound", &server],
    );
    let ours = answers(&allowed.url(""), "node-postgres.test", "node-postgres").await;
    assert_eq!(
        ours,
        expected("node-postgres"),
        "on a node that allows {server}"
    );
    drop(allowed);

    let refused = serve(&[("node-postgres", folder)], &["--base-domain", "test"]);
    let (status, body) = refused.get_host("node-postgres.test", "/query").await;
    assert_eq!(status, 500, "{body}");
    let host = server
        .rsplit_once(':')
        .map_or(server.as_str(), |(host, _)| host);
    let failed: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        failed["failed"],
        format!(
            "Error: connection to {server} refused: {host} is a loopback address \
             that workers may not reach (allow it with --allow-outbound {host})"
        ),
    );
}

/// One JSON-RPC call to an MCP server over Streamable HTTP: the message of
/// its event-stream answer.
async fn mcp_call(base: &str, call: Value) -> Value {
    let response = http1()
        .post(format!("{base}/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .body(call.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let data = text
        .lines()
        .find_map(|line| line.strip_prefix("data: "))
        .unwrap_or_else(|| panic!("no message in {text:?}"));
    serde_json::from_str(data).unwrap()
}

/// The stateless MCP server of Cloudflare's docs, built with the `agents`
/// SDK, answers an MCP client under `ridge dev`: initialize, tools/list,
/// tools/call, argument validation and an unknown method. (Open-source
/// workerd cannot load the SDK, so there is nothing recorded to compare
/// with; the answers are the MCP protocol's.)
#[tokio::test]
async fn the_agents_sdk_serves_an_mcp_server() {
    let folder = installed().join("agents-mcp");
    // The SDK's first request takes ~20 ms of the 50 ms CPU budget in a
    // debug build alone, and went over it once with the whole suite
    // loading both cores: this test is about the SDK, not the limit.
    let args: Vec<String> = ["dev", "--port", "0", "--no-limits"]
        .map(String::from)
        .to_vec();
    let ridge = Ridge::start_in(&args, &[], &folder);
    let base = ridge.url("");
    let initialized = mcp_call(
        &base,
        json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": { "name": "ridge-test", "version": "1" } } }),
    )
    .await;
    assert_eq!(
        initialized["result"]["serverInfo"],
        json!({ "name": "Calculator", "version": "1.0.0" })
    );
    assert_eq!(initialized["result"]["protocolVersion"], "2025-06-18");

    let tools = mcp_call(
        &base,
        json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list" }),
    )
    .await;
    let add = &tools["result"]["tools"][0];
    assert_eq!(add["name"], "add", "{tools}");
    assert_eq!(add["inputSchema"]["required"], json!(["a", "b"]), "{tools}");

    let call = |id: u32, a: Value| {
        json!({ "jsonrpc": "2.0", "id": id, "method": "tools/call",
                "params": { "name": "add", "arguments": { "a": a, "b": 40 } } })
    };
    let sum = mcp_call(&base, call(3, json!(2))).await;
    assert_eq!(
        sum["result"]["content"],
        json!([{ "type": "text", "text": "42" }])
    );
    let invalid = mcp_call(&base, call(4, json!("two"))).await;
    assert_eq!(invalid["result"]["isError"], true, "{invalid}");
    assert!(
        invalid["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("expected number, received string"),
        "{invalid}"
    );
    let unknown = mcp_call(
        &base,
        json!({ "jsonrpc": "2.0", "id": 5, "method": "no/such/method" }),
    )
    .await;
    assert_eq!(unknown["error"]["code"], -32601, "{unknown}");
}

/// Stack traces name the lines of the TypeScript and TSX files, not of the
/// JavaScript they became.
#[tokio::test]
async fn stack_traces_name_the_typescript_and_tsx_lines() {
    for (project, file, message) in [
        ("typescript", "src/index.ts", "thrown from TypeScript"),
        ("hono-jsx", "src/index.tsx", "thrown from TSX"),
    ] {
        let folder = installed().join(project);
        let args: Vec<String> = ["dev", "--port", "0"].map(String::from).to_vec();
        let ridge = Ridge::start_in(&args, &[], &folder);
        let response = http1().get(ridge.url("/throw")).send().await.unwrap();
        assert_eq!(response.status(), 500);
        let body = response.text().await.unwrap();
        assert!(body.contains(&format!("Error: {message}")), "{body}");
        let line = std::fs::read_to_string(folder.join(file))
            .unwrap()
            .lines()
            .position(|l| l.contains(message))
            .unwrap()
            + 1;
        assert!(
            body.contains(&format!("{file}:{line}:")),
            "the line {line} of {file} in {body}"
        );
    }
}

/// A project bundled by wrangler (`wrangler deploy --dry-run --outdir`)
/// runs as one script.
#[tokio::test]
async fn a_wrangler_bundle_runs_as_it_is() {
    let wrangler = root().join("benches/peers/node_modules/.bin/wrangler");
    assert!(
        wrangler.exists(),
        "wrangler from npm: npm install --prefix benches/peers"
    );
    let work = TempDir::new();
    copy_project(&installed().join("hono"), work.path());
    // node_modules is not copied: link the installed one.
    std::os::unix::fs::symlink(
        installed().join("hono/node_modules"),
        work.path().join("node_modules"),
    )
    .unwrap();
    let output = Command::new(&wrangler)
        .args(["deploy", "--dry-run", "--outdir", "out"])
        .env("WRANGLER_SEND_METRICS", "false")
        .env("CI", "1")
        .current_dir(work.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let script = work.path().join("out/index.js");
    let ridge = Ridge::dev(&script, &["--var", "GREETING=Hello"]);
    assert_eq!(
        answers(&ridge.url(""), "compat.test", "hono").await,
        expected("hono")
    );
    // Deployed with the project's configuration (its name and vars) and
    // the bundle as `main`.
    let backend = Backend::sqlite();
    let node = Node::start_with(&backend, &["--base-domain", "test"], &[]);
    let config = work.path().join("wrangler.jsonc");
    let (ok, out) = node.cli(
        &[
            "deploy",
            script.to_str().unwrap(),
            "-c",
            config.to_str().unwrap(),
        ],
        None,
    );
    assert!(ok, "{out}");
    assert!(out.contains("Uploading hono-app (1 modules"), "{out}");
    assert_eq!(
        answers(&node.ridge.url(""), "hono-app.test", "hono").await,
        expected("hono")
    );
}

/// Runs `ridge` to completion in `dir` with RUST_BACKTRACE set, as on many
/// developers' machines; returns whether it succeeded and its output.
pub fn ridge_in(dir: &Path, args: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_ridge"))
        .args(args)
        .current_dir(dir)
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + String::from_utf8_lossy(&output.stderr).as_ref();
    (output.status.success(), text)
}

pub fn write(dir: &Path, files: &[(&str, &str)]) {
    for (name, content) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
}

#[test]
fn configuration_mistakes_get_one_clear_message() {
    let dir = TempDir::new();
    let cases: [(&str, &str, &str); 4] = [
        (
            "wrangler.jsonc",
            "{\n  \"naem\": \"x\",\n  \"main\": \"src/index.js\"\n}\n",
            "error: wrangler.jsonc:2: unknown key `naem`, did you mean `name`?",
        ),
        (
            "wrangler.toml",
            "name = \"x\"\nmain = \"src/index.js\"\n\n[[d1_databases]]\nbinding = \"DB\"\ndatabase_name = \"db\"\ndatabase_id = \"1\"\n",
            "error: wrangler.toml:4: `d1_databases` binds D1 databases, which Ridge does not provide yet",
        ),
        (
            "wrangler.json",
            "{ \"name\": \"x\", \"main\": \"src/missing.js\" }",
            "error: the entry module ./src/missing.js does not exist (`main` in wrangler.json)",
        ),
        (
            "wrangler.toml",
            "name = \"x\"\nmain = \"src/index.js\"\n[limits]\ncpu_ms = \"fast\"\n",
            "line 4",
        ),
    ];
    for (file, text, message) in cases {
        let project = dir.path().join(format!("case-{}", text.len()));
        write(
            &project,
            &[
                (file, text),
                (
                    "src/index.js",
                    "export default { fetch() { return new Response('x') } }",
                ),
            ],
        );
        let (ok, out) = ridge_in(&project, &["deploy", "--server", "http://127.0.0.1:9"]);
        assert!(!ok, "{out}");
        assert!(out.contains(message), "{message:?} in {out}");
        assert!(!out.contains("stack backtrace"), "no backtrace: {out}");
        assert!(!out.contains("panicked"), "{out}");
    }
    // --env names an environment the file does not have.
    let project = dir.path().join("envs");
    write(
        &project,
        &[
            (
                "wrangler.toml",
                "name = \"x\"\nmain = \"src/index.js\"\n[env.staging]\nname = \"x-stage\"\n",
            ),
            ("src/index.js", "export default {}"),
        ],
    );
    let (ok, out) = ridge_in(
        &project,
        &["deploy", "--env", "prod", "--server", "http://127.0.0.1:9"],
    );
    assert!(!ok);
    assert!(
        out.contains("has no environment \"prod\" (--env); it has: staging"),
        "{out}"
    );
}

#[test]
fn unresolvable_imports_name_the_file_line_and_what_to_do() {
    let dir = TempDir::new();
    write(dir.path(), &[
        ("wrangler.toml", "name = \"x\"\nmain = \"src/index.js\"\n"),
        ("src/index.js", "import { helper } from \"./helper.js\";\nexport default { fetch() { return new Response(helper()) } };\n"),
        ("src/helper.js", "// helpers\nimport { Hono } from \"hono\";\nimport { AsyncLocalStorage } from \"node:async_hooks\";\nexport const helper = () => \"x\";\n"),
    ]);
    let (ok, out) = ridge_in(dir.path(), &["deploy", "--server", "http://127.0.0.1:9"]);
    assert!(!ok);
    assert!(
        out.contains("src/helper.js:2: cannot import \"hono\": the package \"hono\" is not installed: run `npm install`"),
        "{out}"
    );
    write(dir.path(), &[(
        "src/helper.js",
        "import { AsyncLocalStorage } from \"node:async_hooks\";\nexport const helper = () => \"x\";\n",
    )]);
    let (ok, out) = ridge_in(dir.path(), &["deploy", "--server", "http://127.0.0.1:9"]);
    assert!(!ok);
    assert!(
        out.contains("src/helper.js:1: cannot import \"node:async_hooks\": \"async_hooks\" is a Node.js built-in module"),
        "{out}"
    );
    assert!(!out.contains("./node:async_hooks"), "{out}");
    assert!(!out.contains("stack backtrace"), "{out}");
}

#[tokio::test]
async fn ridge_dev_reloads_after_npm_install() {
    let dir = TempDir::new();
    write(dir.path(), &[
        ("package.json", "{ \"name\": \"later\", \"private\": true, \"dependencies\": { \"ms\": \"2.1.3\" } }"),
        ("wrangler.jsonc", "{ \"name\": \"later\", \"main\": \"src/index.js\" }"),
        ("src/index.js", "import ms from \"ms\";\nexport default { fetch() { return new Response(String(ms(\"1m\"))) } };\n"),
    ]);
    let args: Vec<String> = ["dev", "--port", "0"].map(String::from).to_vec();
    let ridge = Ridge::start_in(&args, &[], dir.path());
    let response = http1().get(ridge.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 500);
    let body = response.text().await.unwrap();
    assert!(body.contains("run `npm install`"), "{body}");
    npm_install(dir.path());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let response = http1().get(ridge.url("/")).send().await.unwrap();
        if response.status() == 200 {
            assert_eq!(response.text().await.unwrap(), "60000");
            break;
        }
        assert!(Instant::now() < deadline, "no reload after npm install");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // An edit inside node_modules of a module the worker uses reloads it.
    let module = dir.path().join("node_modules/ms/index.js");
    let code = std::fs::read_to_string(&module).unwrap();
    std::fs::write(&module, code.replace("var m = s * 60;", "var m = s * 61;")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while ridge.text("/").await != "61000" {
        assert!(
            Instant::now() < deadline,
            "no reload after a node_modules edit"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `[build] command` runs before the modules are collected; `-c` names the
/// configuration; `--env` takes an environment's vars and name.
#[tokio::test]
async fn build_commands_config_files_and_environments() {
    let dir = TempDir::new();
    write(dir.path(), &[
        (
            "deploy/worker.toml",
            "name = \"built\"\nmain = \"../dist/worker.js\"\n\n[build]\ncommand = \"mkdir -p dist && sed s/PLACEHOLDER/built-by-command/ src/template.js > dist/worker.js\"\ncwd = \"..\"\n\n[vars]\nSTAGE = \"top\"\n\n[env.staging.vars]\nSTAGE = \"staging\"\n",
        ),
        (
            "src/template.js",
            "export default { fetch(request, env) { return new Response(`PLACEHOLDER ${env.STAGE}`) } };\n",
        ),
        // Read instead of .dev.vars under --env staging, as in wrangler.
        ("deploy/.dev.vars.staging", "STAGE=staging-secret\n"),
    ]);
    let config = dir.path().join("deploy/worker.toml");
    let config = config.to_str().unwrap();
    let args = |extra: &[&str]| {
        let mut args: Vec<String> = ["dev", "-c", config, "--port", "0"]
            .map(String::from)
            .to_vec();
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    let ridge = Ridge::start_in(&args(&[]), &[], dir.path());
    assert_eq!(ridge.text("/").await, "built-by-command top");
    drop(ridge);
    let ridge = Ridge::start_in(&args(&["--env", "staging"]), &[], dir.path());
    assert_eq!(ridge.text("/").await, "built-by-command staging-secret");
    ridge.wait_for_log("worker=built-staging");
    // A failing build command stops the start with its status.
    std::fs::write(
        dir.path().join("deploy/worker.toml"),
        "name = \"built\"\nmain = \"../dist/worker.js\"\n[build]\ncommand = \"exit 3\"\n",
    )
    .unwrap();
    let (ok, out) = ridge_in(
        dir.path(),
        &["deploy", "-c", config, "--server", "http://127.0.0.1:9"],
    );
    assert!(!ok);
    assert!(
        out.contains("the build command `exit 3` failed (exit status: 3)"),
        "{out}"
    );
}

/// `cloudflare:workers`: a `WorkerEntrypoint` class serves fetch and
/// scheduled events (an instance per event, with `this.env` and
/// `this.ctx`), the other base classes exist so modules that declare
/// Durable Objects or Workflows load, and `env` is there at the top level.
#[tokio::test]
async fn worker_entrypoint_classes_serve_fetch_and_scheduled() {
    let dir = TempDir::new();
    write(dir.path(), &[
        ("wrangler.toml", "name = \"classy\"\nmain = \"index.js\"\n[vars]\nWHO = \"class\"\n[triggers]\ncrons = [\"0 * * * *\"]\n"),
        (
            "index.js",
            r#"import { WorkerEntrypoint, DurableObject, WorkflowEntrypoint, RpcTarget, env } from "cloudflare:workers";
const atTopLevel = env.WHO;
export class Counter extends DurableObject {}
export class Flow extends WorkflowEntrypoint {}
let instances = 0;
export default class extends WorkerEntrypoint {
  constructor(ctx, env) {
    super(ctx, env);
    instances++;
  }
  fetch(request) {
    return Response.json({
      who: this.env.WHO,
      atTopLevel,
      instances,
      waitUntil: typeof this.ctx.waitUntil,
      bases: [DurableObject, WorkflowEntrypoint, RpcTarget].map((c) => typeof c),
      counter: new Counter({}, {}).env !== undefined,
    });
  }
  async scheduled(controller) {
    console.log(`scheduled by ${controller.cron} for ${this.env.WHO}`);
  }
}
"#,
        ),
    ]);
    let args: Vec<String> = ["dev", "--port", "0"].map(String::from).to_vec();
    let ridge = Ridge::start_in(&args, &[], dir.path());
    let first: Value = ridge.json("/").await;
    assert_eq!(
        first,
        json!({
            "who": "class", "atTopLevel": "class", "instances": 1, "waitUntil": "function",
            "bases": ["function", "function", "function"], "counter": true
        })
    );
    assert_eq!(
        ridge.json("/").await["instances"],
        2,
        "an instance per event"
    );
    assert_eq!(
        ridge.text("/__scheduled?cron=0+*+*+*+*").await,
        "Ran scheduled event\n"
    );
    ridge.wait_for_log("scheduled by 0 * * * * for class");
    // Its top level read `env`, which a snapshot cannot hold.
    ridge.wait_for_log("reads `env` from cloudflare:workers");
}

/// A worker that imports `cloudflare:workers` but reads `env` only in its
/// handlers starts from its own snapshot, with its bindings.
#[tokio::test]
async fn cloudflare_workers_modules_start_from_snapshots() {
    let dir = TempDir::new();
    write(
        dir.path(),
        &[
            (
                "wrangler.toml",
                "name = \"snappy\"\nmain = \"index.js\"\n[vars]\nWHO = \"snapshot\"\n",
            ),
            (
                "index.js",
                "import { WorkerEntrypoint, env } from \"cloudflare:workers\";\n\
             const table = Array.from({ length: 1000 }, (_, i) => i * i);\n\
             export default class extends WorkerEntrypoint {\n\
               fetch() { return new Response(`${env.WHO} ${this.env.WHO} ${table[30]}`); }\n\
             }\n",
            ),
        ],
    );
    let args: Vec<String> = ["dev", "--port", "0", "--snapshots", "always"]
        .map(String::from)
        .to_vec();
    let ridge = Ridge::start_in(&args, &[], dir.path());
    ridge.wait_for_log("worker snapshot made");
    assert_eq!(ridge.text("/").await, "snapshot snapshot 900");
}

/// `[dev]` in the configuration sets where `ridge dev` listens, unless its
/// flags say otherwise.
#[tokio::test]
async fn the_configurations_dev_section_sets_where_ridge_dev_listens() {
    let dir = TempDir::new();
    write(dir.path(), &[
        (
            "wrangler.toml",
            "name = \"devy\"\nmain = \"index.js\"\n[dev]\nip = \"127.0.0.1\"\nport = 0\nlocal_protocol = \"https\"\ninspector_port = 9230\n",
        ),
        ("index.js", "export default { fetch() { return new Response('over tls') } };\n"),
    ]);
    let ridge = Ridge::start_in(&["dev".to_string()], &[], dir.path());
    assert!(
        ridge.url("/").starts_with("https://127.0.0.1:"),
        "{}",
        ridge.url("/")
    );
    assert_ne!(
        ridge.url("/"),
        "https://127.0.0.1:8787/",
        "port 0 picks a free one"
    );
    let body = crate::support::https()
        .get(ridge.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "over tls");
}
