//! Worker formats, env, ctx.waitUntil, and modules.

use std::time::{Duration, Instant};

use crate::support::{fixture, http1, root, Ridge};

#[tokio::test]
async fn service_worker_scripts_run_unchanged() {
    let ridge = Ridge::dev(&fixture("service-worker.js"), &[]);
    let response = http1().post(ridge.url("/hello")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.text().await.unwrap(),
        "service worker saw POST /hello"
    );
}

#[tokio::test]
async fn env_carries_string_and_json_vars_and_cli_overrides() {
    let ridge = Ridge::dev(
        &fixture("env"),
        &["--var", "GREETING=overridden", "--var", "EXTRA=1"],
    );
    let body: serde_json::Value = ridge.json("/").await;
    assert_eq!(body["env"]["GREETING"], "overridden");
    assert_eq!(body["env"]["EXTRA"], "1");
    assert_eq!(body["env"]["COUNT"], 3);
    assert_eq!(body["env"]["FEATURES"]["regions"][1], "us");
    assert_eq!(body["env"]["FEATURES"]["beta"], true);
    assert_eq!(body["ctx"]["waitUntil"], "function");
    assert_eq!(body["ctx"]["passThroughOnException"], "function");
}

#[tokio::test]
async fn wait_until_work_completes_after_the_response() {
    let ridge = Ridge::dev(&fixture("wait-until.js"), &[]);
    let client = http1();
    // The waitUntil work cannot finish before /release, so getting this
    // response proves the response did not wait for it.
    assert_eq!(ridge.text("/start").await, "scheduled");
    assert_eq!(ridge.text("/status").await, "0");
    client.get(ridge.url("/release")).send().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let done = ridge.text("/status").await;
        if done == "1" {
            break;
        }
        assert!(Instant::now() < deadline, "waitUntil work never completed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_failing_wait_until_is_logged_without_affecting_the_response() {
    let ridge = Ridge::dev(&fixture("wait-until.js"), &[]);
    let response = http1().get(ridge.url("/failing")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "responded anyway");
    let line = ridge.wait_for_log("background task failed");
    assert!(line.contains("waitUntil"), "{line}");
}

#[tokio::test]
async fn multi_module_worker_with_text_and_json_imports() {
    let ridge = Ridge::dev(&root().join("workers/multi-module"), &[]);
    let response = http1().get(ridge.url("/")).send().await.unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    let html = response.text().await.unwrap();
    assert!(html.contains("<title>Ridge example</title>"), "{html}");
    assert!(
        html.contains("<li>this list comes from JSON &lt;3</li>"),
        "{html}"
    );
}

#[tokio::test]
async fn wasm_imports_are_webassembly_modules() {
    let ridge = Ridge::dev(&root().join("workers/wasm"), &[]);
    let body = ridge.text("/?a=20&b=22").await;
    assert_eq!(body, "42\n");
}
