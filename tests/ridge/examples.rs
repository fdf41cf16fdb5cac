//! The example workers in `workers/` do what their comments say.

use crate::support::{http1, root, Ridge};

#[tokio::test]
async fn hello() {
    let ridge = Ridge::dev(&root().join("workers/hello"), &[]);
    let body = ridge.text("/?name=Ridge").await;
    assert_eq!(body, "Hello, Ridge!\n");
}

#[tokio::test]
async fn json_api_routes_by_method_and_path() {
    let ridge = Ridge::dev(&root().join("workers/json-api"), &[]);
    let client = http1();
    let created = client
        .post(ridge.url("/todos"))
        .body(r#"{"title":"write tests"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    assert_eq!(created.headers()["location"], "/todos/2");
    let todo: serde_json::Value = ridge.json("/todos/2").await;
    assert_eq!(todo["title"], "write tests");
    let list: serde_json::Value = ridge.json("/todos").await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    let bad = client
        .post(ridge.url("/todos"))
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(
        client
            .get(ridge.url("/nope"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

#[tokio::test]
async fn streaming_sends_every_line() {
    let ridge = Ridge::dev(&root().join("workers/streaming"), &[]);
    let body = ridge.text("/?lines=3").await;
    assert_eq!(body, "line 1 of 3\nline 2 of 3\nline 3 of 3\n");
}

#[tokio::test]
async fn echo_returns_the_body_and_logs_its_size() {
    let ridge = Ridge::dev(&root().join("workers/echo"), &[]);
    let payload = vec![7u8; 1_000_000];
    let body = http1()
        .post(ridge.url("/"))
        .body(payload.clone())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(body.as_ref(), payload.as_slice());
    ridge.wait_for_log("echoed 1000000 bytes");
}

#[tokio::test]
async fn kv_counter_counts_visits_per_path() {
    let ridge = Ridge::dev(&root().join("workers/kv-counter"), &["--no-persist"]);
    assert_eq!(ridge.text("/a").await, "/a has been visited 1 time\n");
    assert_eq!(ridge.text("/a").await, "/a has been visited 2 times\n");
    assert_eq!(ridge.text("/b").await, "/b has been visited 1 time\n");
    assert_eq!(
        ridge.json("/__counts").await,
        serde_json::json!({ "/a": 2, "/b": 1 })
    );
}

#[tokio::test]
async fn websocket_echo_answers_and_runs_its_cron_on_demand() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let ridge = Ridge::dev(&root().join("workers/websocket-echo"), &[]);
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://{}/", ridge.addr))
        .await
        .unwrap();
    socket.send(Message::text("hi")).await.unwrap();
    let reply = tokio::time::timeout(std::time::Duration::from_secs(10), socket.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(reply, Message::text("echo: hi"));
    socket.close(None).await.unwrap();
    ridge.wait_for_log("client left: 1005");
    assert_eq!(
        ridge.text("/__scheduled?cron=*+*+*+*+*").await,
        "Ran scheduled event\n"
    );
    ridge.wait_for_log("heartbeat for * * * * * at ");
}

#[tokio::test]
async fn jobs_are_queued_and_done_in_the_background() {
    let ridge = Ridge::dev(&root().join("workers/jobs"), &["--no-persist"]);
    let client = crate::support::http1();
    let queued = client
        .post(ridge.url("/jobs?text=count%20these%20four%20words"))
        .send()
        .await
        .unwrap();
    assert_eq!(queued.status(), 202);
    let queued: serde_json::Value = queued.json().await.unwrap();
    assert_eq!(queued["status"], "queued");
    let id = queued["id"].as_str().unwrap();
    // The consumer takes the batch after its timeout (1 s).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let job = ridge.json(&format!("/jobs/{id}")).await;
        if job["status"] == "done" {
            assert_eq!(job["words"], 4);
            assert_eq!(job["attempts"], 1);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{job}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
