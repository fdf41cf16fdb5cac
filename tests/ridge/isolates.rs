//! Isolate lifecycle: one isolate per worker, dropped when idle or when the
//! node's isolates use more memory than the budget, re-created on demand.

use std::time::Duration;

use crate::support::{fixture, serve, Ridge};

async fn count(ridge: &Ridge, worker: &str) -> String {
    let (status, body) = ridge.get_host(&format!("{worker}.counter.test"), "/").await;
    assert_eq!(status, 200);
    body
}

fn counters(extra: &[&str]) -> Ridge {
    let folder = fixture("counters");
    serve(&[("a", folder.join("a")), ("b", folder.join("b"))], extra)
}

#[tokio::test]
async fn each_worker_keeps_its_own_isolate_and_state() {
    let ridge = counters(&[]);
    assert_eq!(count(&ridge, "a").await, "1");
    assert_eq!(count(&ridge, "a").await, "2");
    assert_eq!(
        count(&ridge, "b").await,
        "1",
        "worker b does not share a's isolate"
    );
    assert_eq!(count(&ridge, "a").await, "3");
}

#[tokio::test]
async fn idle_isolates_are_dropped_and_recreated_on_demand() {
    let ridge = counters(&["--isolate-idle-timeout", "1"]);
    assert_eq!(count(&ridge, "a").await, "1");
    assert_eq!(count(&ridge, "a").await, "2");
    // The eviction pass runs every second; after it the isolate is gone.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        count(&ridge, "a").await,
        "1",
        "a new isolate starts from the module again"
    );
}

#[tokio::test]
async fn the_least_recently_used_isolate_goes_when_over_the_memory_budget() {
    // A 1 MiB budget holds only the isolate in use: each new one pushes out
    // the previous.
    let ridge = counters(&["--isolate-memory-budget", "1", "--isolate-threads", "1"]);
    assert_eq!(count(&ridge, "a").await, "1");
    assert_eq!(count(&ridge, "a").await, "2");
    assert_eq!(count(&ridge, "b").await, "1");
    assert_eq!(
        count(&ridge, "a").await,
        "1",
        "a was evicted to make room for b"
    );
}
