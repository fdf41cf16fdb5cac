//! Cron triggers: a worker's scheduled handler runs when the (test) clock
//! passes a point of its schedule, once, on one node of many.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{Datelike, TimeZone, Utc};

use crate::control::{Backend, Node};
use crate::support::{fixture, serve_with_env, TempDir};

/// The offset (seconds) that puts the clock just past 1 January 00:00 UTC
/// two years from now, and that point in milliseconds: the fixture's
/// yearly cron has missed two points by then.
fn two_new_years_ahead() -> (i64, i64) {
    let now = Utc::now();
    let point = Utc.with_ymd_and_hms(now.year() + 2, 1, 1, 0, 0, 0).unwrap();
    ((point - now).num_seconds() + 30, point.timestamp_millis())
}

fn set_clock(file: &Path, offset_seconds: i64) {
    std::fs::write(file, offset_seconds.to_string()).unwrap();
}

/// The runs the fixture recorded, as a node serves them.
async fn runs(get: impl std::future::Future<Output = (u16, String)>) -> Vec<serde_json::Value> {
    let (status, body) = get.await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

#[tokio::test]
async fn a_cron_runs_once_for_the_latest_point_the_clock_passed() {
    let state = TempDir::new();
    let clock = state.path().join("clock-offset");
    set_clock(&clock, 0);
    let ridge = serve_with_env(
        &[("cron", fixture("cron"))],
        &[],
        &[("RIDGE_TEST_CLOCK_OFFSET_FILE", clock.to_str().unwrap())],
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(runs(ridge.get_host("cron.localhost", "/")).await.is_empty());

    let (offset, point) = two_new_years_ahead();
    set_clock(&clock, offset);
    let deadline = Instant::now() + Duration::from_secs(10);
    while runs(ridge.get_host("cron.localhost", "/")).await.is_empty() {
        assert!(Instant::now() < deadline, "the cron did not run");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Time moves on without passing another point: nothing more runs, and
    // the point missed a year earlier is not made up.
    set_clock(&clock, offset + 30);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let runs = runs(ridge.get_host("cron.localhost", "/")).await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["cron"], "0 0 1 1 *");
    assert_eq!(runs[0]["scheduledTime"], point);
    assert!(
        ridge.logs().contains("cron \"0 0 1 1 *\" ok"),
        "{}",
        ridge.logs()
    );
}

#[tokio::test]
async fn two_nodes_on_one_postgres_run_each_cron_point_once() {
    let backend = Backend::postgres();
    let state = TempDir::new();
    let clock = state.path().join("clock-offset");
    set_clock(&clock, 0);
    let env = [("RIDGE_TEST_CLOCK_OFFSET_FILE", clock.to_str().unwrap())];
    let first = Node::start_with(&backend, &[], &env);
    let second = Node::start_with(&backend, &[], &env);
    let (ok, output) = first.cli(&["kv", "namespace", "create", "cron-runs"], None);
    assert!(ok, "{output}");
    let (ok, output) = first.cli(&["deploy", fixture("cron").to_str().unwrap()], None);
    assert!(ok, "{output}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while second.get("cron.localhost", "/").await.0 != 200 {
        assert!(
            Instant::now() < deadline,
            "the second node never served the worker"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let (offset, point) = two_new_years_ahead();
    set_clock(&clock, offset);
    let deadline = Instant::now() + Duration::from_secs(10);
    while runs(first.get("cron.localhost", "/")).await.is_empty() {
        assert!(Instant::now() < deadline, "the cron did not run");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Both nodes have looked at the clock several times since.
    tokio::time::sleep(Duration::from_millis(3000)).await;
    let runs = runs(second.get("cron.localhost", "/")).await;
    assert_eq!(runs.len(), 1, "the run happened on both nodes: {runs:?}");
    assert_eq!(runs[0]["scheduledTime"], point);
}

#[tokio::test]
async fn invalid_crons_are_refused_with_the_field_and_the_reason() {
    let dir = TempDir::new();
    std::fs::write(
        dir.path().join("ridge.toml"),
        "name = \"bad-cron\"\nmain = \"index.js\"\n[triggers]\ncrons = [\"*/5 * * * *\", \"0 25 * * *\"]\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("index.js"),
        "export default { scheduled() {} };",
    )
    .unwrap();
    let backend = Backend::sqlite();
    let node = Node::start(&backend);
    let (ok, output) = node.cli(&["deploy", dir.path().to_str().unwrap()], None);
    assert!(!ok);
    assert!(
        output.contains("`crons[1]` \"0 25 * * *\" is not a valid cron expression"),
        "{output}"
    );
}
