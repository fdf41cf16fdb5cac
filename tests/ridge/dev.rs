//! `ridge dev` follows the worker's files: edits reload it, broken code
//! keeps the server up with a precise error until fixed, `.dev.vars`
//! reaches `env`, and old isolates go away.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::{http1, Ridge, TempDir};

fn write_worker(dir: &Path, body: &str) {
    std::fs::write(
        dir.join("index.js"),
        format!("export default {{\n  fetch(request, env) {{\n    {body}\n  }},\n}};\n"),
    )
    .unwrap();
}

fn dev_in(dir: &TempDir) -> Ridge {
    std::fs::write(
        dir.path().join("ridge.toml"),
        "name = \"live\"\nmain = \"index.js\"\n",
    )
    .unwrap();
    Ridge::dev(dir.path(), &[])
}

async fn get(ridge: &Ridge) -> (u16, String) {
    let response = http1().get(ridge.url("/")).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// Waits until the answer satisfies `done`; returns it and how long it took.
async fn wait_for(
    ridge: &Ridge,
    done: impl Fn(&(u16, String)) -> bool,
) -> ((u16, String), Duration) {
    let started = Instant::now();
    loop {
        let answer = get(ridge).await;
        if done(&answer) {
            return (answer, started.elapsed());
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "still {answer:?}; logs:\n{}",
            ridge.logs()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn resident_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024
}

#[tokio::test]
async fn an_edit_is_served_within_a_second() {
    let dir = TempDir::new();
    write_worker(dir.path(), "return new Response(\"first\");");
    let ridge = dev_in(&dir);
    assert_eq!(get(&ridge).await, (200, "first".to_string()));
    write_worker(dir.path(), "return new Response(\"second\");");
    let (_, took) = wait_for(&ridge, |a| a.1 == "second").await;
    assert!(
        took < Duration::from_secs(1),
        "the edit took {took:?} to be served"
    );
    ridge.wait_for_log("reloaded");
}

#[tokio::test]
async fn edits_reload_when_started_with_a_relative_path() {
    let dir = TempDir::new();
    write_worker(dir.path(), "return new Response(\"before\");");
    std::fs::write(
        dir.path().join("ridge.toml"),
        "name = \"here\"\nmain = \"index.js\"\n",
    )
    .unwrap();
    let args: Vec<String> = ["dev", ".", "--port", "0"].map(String::from).to_vec();
    let ridge = Ridge::start_in(&args, &[], dir.path());
    assert_eq!(get(&ridge).await.1, "before");
    write_worker(dir.path(), "return new Response(\"after\");");
    wait_for(&ridge, |a| a.1 == "after").await;
}

#[tokio::test]
async fn broken_code_keeps_the_server_up_until_it_is_fixed() {
    let dir = TempDir::new();
    write_worker(dir.path(), "return new Response(\"ok\");");
    let ridge = dev_in(&dir);
    assert_eq!(get(&ridge).await.0, 200);

    write_worker(dir.path(), "return new Response(1 +);");
    let ((status, body), _) = wait_for(&ridge, |a| a.0 == 500).await;
    assert_eq!(status, 500);
    assert!(body.contains("SyntaxError"), "{body}");
    assert!(body.contains("index.js:3:"), "file:line:col in {body}");
    assert!(
        body.contains("> 3 |     return new Response(1 +);"),
        "a code frame in {body}"
    );
    assert!(
        ridge.logs().contains("index.js:3:"),
        "the terminal shows it too"
    );
    // Still broken on the next request, not a crash.
    assert_eq!(get(&ridge).await.0, 500);
    // Other files changing (a log written in the project) reload it, but
    // the same failure is not logged again.
    for n in 0..3 {
        std::fs::write(dir.path().join("ridge.log"), format!("line {n}\n")).unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    assert_eq!(
        ridge.logs().matches("index.js:3:").count(),
        1,
        "{}",
        ridge.logs()
    );

    write_worker(dir.path(), "return new Response(\"fixed\");");
    wait_for(&ridge, |a| *a == (200, "fixed".to_string())).await;
}

#[tokio::test]
async fn dev_vars_reach_env_and_reload_on_change() {
    let dir = TempDir::new();
    write_worker(
        dir.path(),
        "return new Response(`${env.API_KEY} ${env.MODE}`);",
    );
    std::fs::write(
        dir.path().join(".dev.vars"),
        "# local secrets\nAPI_KEY=\"sk_test_1\"\nMODE=dev\n",
    )
    .unwrap();
    let ridge = dev_in(&dir);
    assert_eq!(get(&ridge).await, (200, "sk_test_1 dev".to_string()));
    std::fs::write(
        dir.path().join(".dev.vars"),
        "API_KEY=sk_test_2\nMODE=dev\n",
    )
    .unwrap();
    wait_for(&ridge, |a| a.1 == "sk_test_2 dev").await;
}

#[tokio::test]
async fn two_hundred_reloads_do_not_pile_up_isolates() {
    let dir = TempDir::new();
    write_worker(dir.path(), "return new Response(\"v0\");");
    let ridge = dev_in(&dir);
    assert_eq!(get(&ridge).await.1, "v0");
    let mut baseline = 0;
    for version in 1..=200 {
        // A big constant makes each isolate's heap noticeable.
        write_worker(
            dir.path(),
            &format!("const table = new Array(20000).fill({version}); return new Response(\"v{version} \" + table.length);"),
        );
        let expected = format!("v{version} 20000");
        wait_for(&ridge, |a| a.1 == expected).await;
        if version == 20 {
            baseline = resident_bytes(ridge.pid());
        }
    }
    let grown = resident_bytes(ridge.pid()).saturating_sub(baseline);
    assert!(
        grown < 48 * 1024 * 1024,
        "resident memory grew by {} MiB over 180 reloads",
        grown / 1024 / 1024
    );
}

#[tokio::test]
async fn test_scheduled_runs_the_scheduled_handler() {
    let ridge = Ridge::dev(&crate::support::fixture("scheduled"), &[]);
    let response = http1()
        .get(ridge.url("/__scheduled?cron=*/5+*+*+*+*"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "Ran scheduled event\n");
    assert_eq!(
        ridge.json("/runs").await,
        serde_json::json!([{ "cron": "*/5 * * * *", "hasTime": true, "greeting": "hi" }])
    );
    // A cron run is a typed event, not a request: no method a client
    // sends runs the scheduled handler (this one reaches the fetch handler).
    let forged = http1()
        .request(
            reqwest::Method::from_bytes(b"RIDGE-SCHEDULED").unwrap(),
            ridge.url("/runs"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 200);
    assert_eq!(
        forged
            .json::<serde_json::Value>()
            .await
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // A worker without a scheduled handler says so.
    let hello = Ridge::dev(&crate::support::root().join("workers/hello"), &[]);
    let response = http1().get(hello.url("/__scheduled")).send().await.unwrap();
    assert_eq!(response.status(), 500);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("no scheduled handler"));
}

#[tokio::test]
async fn typescript_runs_without_a_build_step_and_traces_name_ts_lines() {
    let ridge = Ridge::dev(&crate::support::fixture("typescript"), &[]);
    assert_eq!(get(&ridge).await, (200, "Hello, TypeScript!".to_string()));
    let response = http1().get(ridge.url("/throw")).send().await.unwrap();
    assert_eq!(response.status(), 500);
    let body = response.text().await.unwrap();
    // Line 12, column 13 of the .ts file (the transpiled JavaScript differs).
    assert!(body.contains("src/index.ts:12:13"), "{body}");
}

#[tokio::test]
async fn init_scaffolds_a_worker_that_runs() {
    let dir = TempDir::new();
    let target = dir.path().join("my-worker");
    let output = run_ridge(&["init", target.to_str().unwrap()]);
    assert!(output.status.success(), "{output:?}");
    for file in [
        "wrangler.jsonc",
        "src/index.ts",
        "package.json",
        ".gitignore",
    ] {
        assert!(target.join(file).is_file(), "{file} was not created");
    }
    let config = std::fs::read_to_string(target.join("wrangler.jsonc")).unwrap();
    assert!(config.contains("\"name\": \"my-worker\""), "{config}");
    let ridge = Ridge::dev(&target, &[]);
    assert_eq!(get(&ridge).await, (200, "Hello, world!\n".to_string()));
    let again = run_ridge(&["init", target.to_str().unwrap()]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already has a"));
    assert!(String::from_utf8_lossy(&again.stderr).contains("wrangler.jsonc"));

    let toml = dir.path().join("with-toml");
    let output = run_ridge(&[
        "init",
        toml.to_str().unwrap(),
        "--ridge-toml",
        "--template",
        "hello-js",
    ]);
    assert!(output.status.success(), "{output:?}");
    assert!(toml.join("ridge.toml").is_file() && toml.join("src/index.js").is_file());
    let ridge = Ridge::dev(&toml, &[]);
    assert_eq!(get(&ridge).await, (200, "Hello, world!\n".to_string()));
}

/// The templates with npm dependencies run after `npm install`, as the
/// message `ridge init` ends with says.
#[tokio::test]
async fn init_templates_with_packages_run_after_npm_install() {
    let dir = TempDir::new();
    for (template, path, expected) in [
        ("hono", "/?name=Hono", "Hello, Hono!\n"),
        (
            "openapi",
            "/api/tasks/clean-room",
            "\"slug\":\"clean-room\"",
        ),
    ] {
        let target = dir.path().join(template);
        let output = run_ridge(&["init", target.to_str().unwrap(), "--template", template]);
        assert!(output.status.success(), "{output:?}");
        assert!(
            String::from_utf8_lossy(&output.stdout).contains("npm install && ridge dev"),
            "{output:?}"
        );
        let install = std::process::Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&target)
            .output()
            .unwrap();
        assert!(install.status.success(), "{install:?}");
        let args: Vec<String> = ["dev", "--port", "0"].map(String::from).to_vec();
        let ridge = Ridge::start_in(&args, &[], &target);
        let response = http1().get(ridge.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{template}");
        let body = response.text().await.unwrap();
        assert!(body.contains(expected), "{template}: {body}");
    }
}

fn run_ridge(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_ridge"))
        .args(args)
        .output()
        .unwrap()
}

#[tokio::test]
async fn the_inspector_speaks_the_devtools_protocol() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let ridge = Ridge::dev(
        &crate::support::root().join("workers/hello"),
        &["--inspect=127.0.0.1:0"],
    );
    let list_url = ridge.announced_url("inspector on ");
    // The worker's isolate (and its inspector) starts with the first request.
    assert_eq!(get(&ridge).await, (200, "Hello, world!\n".to_string()));
    let targets: serde_json::Value = http1()
        .get(&list_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let target = &targets[0];
    assert_eq!(target["title"], "hello");
    let ws_url = target["webSocketDebuggerUrl"].as_str().unwrap();

    let (mut socket, _) = tokio_tungstenite::connect_async(ws_url).await.unwrap();
    socket
        .send(Message::Text(
            r#"{"id":1,"method":"Debugger.enable"}"#.into(),
        ))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let (mut enabled, mut worker_script) = (false, false);
    while !(enabled && worker_script) {
        assert!(
            Instant::now() < deadline,
            "enabled {enabled}, script seen {worker_script}"
        );
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let Message::Text(text) = message else {
            continue;
        };
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        if value["id"] == 1 {
            enabled = true;
        }
        if value["method"] == "Debugger.scriptParsed"
            && value["params"]["url"]
                .as_str()
                .unwrap_or("")
                .ends_with("src/index.js")
        {
            worker_script = true;
        }
    }
}

#[tokio::test]
async fn inspect_brk_waits_for_the_debugger() {
    use futures::SinkExt;
    use tokio_tungstenite::tungstenite::Message;

    let ridge = Ridge::dev(
        &crate::support::root().join("workers/hello"),
        &["--inspect-brk=127.0.0.1:0"],
    );
    let list_url = ridge.announced_url("inspector on ");
    let first = tokio::spawn({
        let url = ridge.url("/?name=brk");
        async move { http1().get(url).send().await.unwrap().text().await.unwrap() }
    });
    // The isolate registers, then waits: the request must not be answered.
    let ws_url = loop {
        let targets: serde_json::Value = http1()
            .get(&list_url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if let Some(url) = targets[0]["webSocketDebuggerUrl"].as_str() {
            break url.to_string();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !first.is_finished(),
        "the request ran before a debugger attached"
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(ws_url.as_str())
        .await
        .unwrap();
    socket
        .send(Message::Text(
            r#"{"id":1,"method":"Runtime.runIfWaitingForDebugger"}"#.into(),
        ))
        .await
        .unwrap();
    let body = tokio::time::timeout(Duration::from_secs(10), first)
        .await
        .expect("the request ran once the debugger said go")
        .unwrap();
    assert_eq!(body, "Hello, brk!\n");
}
