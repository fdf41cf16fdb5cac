//! Queues (fixtures/workers/queues): batching by size and by timeout,
//! ack and retry per message and per batch, retry delays, dead letters,
//! delays on send, Cloudflare's limits, messages that outlive a killed
//! process, pull consumers, `ridge queues`, and two nodes sharing one
//! queue on PostgreSQL.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::control::{Backend, Node};
use crate::support::{fixture, http1, Ridge, TempDir};

/// `ridge dev` on the probe worker, its queues kept in `state`.
fn dev_probe(state: &TempDir) -> Ridge {
    Ridge::dev(
        &fixture("queues"),
        &["--persist-to", &state.path().display().to_string()],
    )
}

/// POSTs `body` to the probe's `path`: "sent", or the error it threw.
async fn post(ridge: &Ridge, path: &str, body: &Value) -> String {
    http1()
        .post(ridge.url(path))
        .json(body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// What the probe's queue handler received so far.
async fn deliveries(ridge: &Ridge) -> Vec<Value> {
    let list = ridge.json("/deliveries").await;
    list.as_array().unwrap().clone()
}

/// Polls the deliveries until `done` holds of them (or fails after 20 s).
async fn wait_for(ridge: &Ridge, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let list = deliveries(ridge).await;
        if done(&list) {
            return list;
        }
        assert!(
            Instant::now() < deadline,
            "waited 20 s for {what}; deliveries: {list:#?}\n{}",
            ridge.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The deliveries of message `n` (of queue "jobs" unless `queue` says).
fn of<'a>(list: &'a [Value], queue: &str, n: i64) -> Vec<&'a Value> {
    list.iter()
        .filter(|d| d["queue"] == queue && d["n"] == n)
        .collect()
}

#[tokio::test]
async fn batches_fill_up_to_their_size_or_wait_for_the_timeout() {
    let state = TempDir::new();
    let ridge = dev_probe(&state);
    // Three messages fill a batch (max_batch_size 3): delivered at once.
    for n in 1..=3 {
        assert_eq!(post(&ridge, "/send", &json!({ "n": n })).await, "sent");
    }
    let list = wait_for(&ridge, "a full batch", |list| list.len() == 3).await;
    assert!(list.iter().all(|d| d["batch"] == 3), "{list:#?}");
    assert!(list.iter().all(|d| d["attempts"] == 1), "{list:#?}");
    // Two more wait for the batch timeout (2 s) from the first of them.
    let sent = Instant::now();
    for n in 4..=5 {
        post(&ridge, "/send", &json!({ "n": n })).await;
    }
    let list = wait_for(&ridge, "a partial batch", |list| list.len() == 5).await;
    let waited = sent.elapsed();
    assert!(waited >= Duration::from_millis(1900), "{waited:?}");
    assert!(list[3..].iter().all(|d| d["batch"] == 2), "{list:#?}");
    // Ids are 32 hex digits; each message's own; the timestamp is its send.
    let ids: std::collections::HashSet<&str> =
        list.iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 5);
    assert!(ids
        .iter()
        .all(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())));
    assert!(list.iter().all(|d| d["sent"].as_i64() <= d["at"].as_i64()));
}

#[tokio::test]
async fn verdicts_per_message_and_per_batch() {
    let state = TempDir::new();
    let ridge = dev_probe(&state);
    // One batch: an explicit ack survives the handler's throw; the
    // others are retried (retry_delay 1 s) and come back with attempts 2.
    let batch = json!([
        { "body": { "n": 1, "action": "ack" } },
        { "body": { "n": 2, "action": "throw" } },
        { "body": { "n": 3 } },
    ]);
    assert_eq!(post(&ridge, "/send-batch", &batch).await, "sent");
    let list = wait_for(&ridge, "the retries", |list| {
        of(list, "jobs", 2).len() == 2 && of(list, "jobs", 3).len() == 2
    })
    .await;
    assert_eq!(of(&list, "jobs", 1).len(), 1, "an acked message came back");
    assert_eq!(of(&list, "jobs", 3)[1]["attempts"], 2);
    let retried_after = of(&list, "jobs", 3)[1]["at"].as_i64().unwrap()
        - of(&list, "jobs", 3)[0]["at"].as_i64().unwrap();
    assert!(
        retried_after >= 900,
        "retry_delay is 1 s: {retried_after} ms"
    );
    // The retried batch failed again (n = 2 throws): both used their
    // last retry (max_retries 1) and went to the dead-letter queue, where
    // their attempts start over and their ids stay.
    let list = wait_for(&ridge, "the dead letters", |list| {
        !of(list, "dead", 2).is_empty() && !of(list, "dead", 3).is_empty()
    })
    .await;
    assert_eq!(of(&list, "dead", 2)[0]["attempts"], 1);
    assert_eq!(of(&list, "dead", 2)[0]["id"], of(&list, "jobs", 2)[0]["id"]);
    assert_eq!(
        of(&list, "jobs", 2).len(),
        2,
        "delivered max_retries + 1 times"
    );
    assert!(of(&list, "dead", 1).is_empty());
}

#[tokio::test]
async fn first_call_wins_and_retry_delays_are_kept() {
    let state = TempDir::new();
    let ridge = dev_probe(&state);
    let batch = json!([
        // ack() then retry(): the ack counts.
        { "body": { "n": 1, "action": "ack-then-retry" } },
        // retry() with its own delay, in a batch that succeeds.
        { "body": { "n": 2, "action": "retry", "delay": 3 } },
        // ackAll() then a throw: acknowledged all the same.
        { "body": { "n": 3, "action": "ack-all-then-throw" } },
    ]);
    assert_eq!(post(&ridge, "/send-batch", &batch).await, "sent");
    let list = wait_for(&ridge, "the delayed retry", |list| {
        of(list, "jobs", 2).len() == 2
    })
    .await;
    let first = of(&list, "jobs", 2)[0]["at"].as_i64().unwrap();
    let second = of(&list, "jobs", 2)[1]["at"].as_i64().unwrap();
    assert!(
        second - first >= 2900,
        "retry({{delaySeconds: 3}}): {} ms",
        second - first
    );
    // Nothing else came back by then.
    assert_eq!(of(&list, "jobs", 1).len(), 1);
    assert_eq!(of(&list, "jobs", 3).len(), 1);
    assert!(
        ridge
            .logs()
            .contains("Calling retry() on a message after calling ack() has no effect"),
        "{}",
        ridge.logs()
    );
}

#[tokio::test]
async fn a_batch_stopped_by_its_wall_clock_limit_is_retried() {
    let state = TempDir::new();
    let ridge = dev_probe(&state);
    assert_eq!(
        post(
            &ridge,
            "/send-batch",
            &json!([{ "body": { "n": 1, "action": "hang" } }])
        )
        .await,
        "sent"
    );
    // Delivered, stopped after 2 s, retried after 1 s, stopped again,
    // then dead-lettered.
    let list = wait_for(&ridge, "the dead letter", |list| {
        !of(list, "dead", 1).is_empty()
    })
    .await;
    assert_eq!(of(&list, "jobs", 1).len(), 2, "{list:#?}");
    assert!(
        ridge.logs().contains("exceeded wall clock"),
        "{}",
        ridge.logs()
    );
}

#[tokio::test]
async fn delays_on_send_and_on_the_binding() {
    let state = TempDir::new();
    let ridge = dev_probe(&state);
    let sent = Instant::now();
    let options = "?options=%7B%22delaySeconds%22%3A3%7D";
    assert_eq!(
        post(&ridge, &format!("/send{options}"), &json!({ "n": 1 })).await,
        "sent"
    );
    // The binding's delivery_delay (2 s) applies when the send names none.
    assert_eq!(
        post(&ridge, "/send-later", &json!({ "n": 2 })).await,
        "sent"
    );
    // `delaySeconds: 0` overrides the binding's delay.
    let zero = "?options=%7B%22delaySeconds%22%3A0%7D";
    assert_eq!(
        post(&ridge, &format!("/send-later{zero}"), &json!({ "n": 3 })).await,
        "sent"
    );
    let list = wait_for(&ridge, "all three", |list| list.len() == 3).await;
    let at = |n| of(&list, "jobs", n)[0]["at"].as_i64().unwrap();
    let sent_at = of(&list, "jobs", 1)[0]["sent"].as_i64().unwrap();
    assert!(at(1) - sent_at >= 2900, "{}", at(1) - sent_at);
    assert!(at(2) - sent_at >= 1900, "{}", at(2) - sent_at);
    assert!(sent.elapsed() >= Duration::from_millis(2900));
}

#[tokio::test]
async fn sends_over_the_limits_are_refused_with_cloudflares_errors() {
    let state = TempDir::new();
    let ridge = dev_probe(&state);
    let cases: Vec<(String, Value, &str)> = vec![
        (
            "/send-bytes?size=128001".into(),
            json!(null),
            "Error: Queue send failed: message length of 128001 bytes exceeds limit of 128000",
        ),
        (
            "/send-batch".into(),
            json!((0..101).map(|n| json!({ "body": n })).collect::<Vec<_>>()),
            "Error: Queue sendBatch failed: batch message count of 101 exceeds limit of 100",
        ),
        (
            "/send-batch".into(),
            json!((0..3).map(|_| json!({ "body": "x".repeat(100_000), "contentType": "text" })).collect::<Vec<_>>()),
            "Error: Queue sendBatch failed: batch size of 300000 bytes exceeds limit of 288000",
        ),
        (
            "/send-batch".into(),
            json!([]),
            "TypeError: sendBatch() requires at least one message",
        ),
        (
            "/send?options=%7B%22contentType%22%3A%22yaml%22%7D".into(),
            json!(1),
            "TypeError: Unsupported queue message content type: yaml",
        ),
        (
            "/send?options=%7B%22contentType%22%3A%22text%22%7D".into(),
            json!(1),
            "TypeError: Content Type \"text\" requires a value of type string, but received: number",
        ),
        (
            "/send-function".into(),
            json!(null),
            "TypeError: A function cannot be sent as JSON",
        ),
        (
            "/send?options=%7B%22delaySeconds%22%3A86401%7D".into(),
            json!(1),
            "Error: Queue send failed: message delay 86401 is invalid: it must be a whole number of seconds from 0 to 86400",
        ),
    ];
    for (path, body, expected) in cases {
        assert_eq!(post(&ridge, &path, &body).await, expected, "{path}");
    }
    // At the limit, it is sent; so are the bytes a DataView shows.
    assert_eq!(
        post(&ridge, "/send-bytes?size=128000", &json!(null)).await,
        "sent"
    );
    assert_eq!(post(&ridge, "/send-data-view", &json!(null)).await, "sent");
    // Nothing refused reached the queue: only those two are delivered.
    let list = wait_for(&ridge, "the two messages", |list| list.len() == 2).await;
    let mut sizes: Vec<&str> = list.iter().map(|d| d["n"].as_str().unwrap()).collect();
    sizes.sort_unstable();
    assert_eq!(sizes, ["128000 bytes", "4 bytes"]);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(deliveries(&ridge).await.len(), 2, "{list:#?}");
}

#[tokio::test]
async fn sent_messages_survive_a_kill_and_a_killed_batch_is_delivered_again() {
    let state = TempDir::new();
    let mut ridge = dev_probe(&state);
    // Delayed past the kill: acknowledged by send(), then kill -9.
    let options = "?options=%7B%22delaySeconds%22%3A1%7D";
    for n in 1..=2 {
        assert_eq!(
            post(&ridge, &format!("/send{options}"), &json!({ "n": n })).await,
            "sent"
        );
    }
    ridge.kill();
    let mut ridge = dev_probe(&state);
    let list = wait_for(&ridge, "the messages sent before the kill", |list| {
        list.len() == 2
    })
    .await;
    assert!(list.iter().all(|d| d["attempts"] == 1), "{list:#?}");
    // A batch in progress when the node is killed: leased, never settled.
    let slow = json!([{ "body": { "n": 3, "action": "hang" } }]);
    assert_eq!(post(&ridge, "/send-batch", &slow).await, "sent");
    wait_for(&ridge, "the batch to start", |list| list.len() == 3).await;
    ridge.kill();
    // The lease ends (wall-clock limit and margin) and it comes back.
    let ridge = dev_probe(&state);
    let list = wait_for(&ridge, "the killed batch again", |list| !list.is_empty()).await;
    assert_eq!(list[0]["n"], 3);
    assert_eq!(list[0]["attempts"], 2);
}

/// The admin API of `node`: a JSON call.
async fn admin(
    node: &Node,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = node.admin(method, path).await;
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn pull_consumers_lease_ack_and_retry_over_http() {
    let backend = Backend::sqlite();
    let node = Node::start(&backend);
    assert_eq!(
        admin(&node, reqwest::Method::PUT, "/queues/pulled", None)
            .await
            .0,
        201
    );
    let batch = json!({ "messages": [
        { "body": { "n": 1 } },
        { "body": "two", "content_type": "text" },
        { "body": { "n": 3 } },
    ] });
    let (status, _) = admin(
        &node,
        reqwest::Method::POST,
        "/queues/pulled/messages/batch",
        Some(batch),
    )
    .await;
    assert_eq!(status, 200);
    let pull = |body: Value| {
        admin(
            &node,
            reqwest::Method::POST,
            "/queues/pulled/messages/pull",
            Some(body),
        )
    };
    let (status, pulled) = pull(json!({ "batch_size": 2, "visibility_timeout_ms": 60000 })).await;
    assert_eq!(status, 200, "{pulled}");
    let messages = pulled["messages"].as_array().unwrap().clone();
    assert_eq!(messages.len(), 2, "{pulled}");
    // JSON bodies in base64, text as it is, as Cloudflare's pull API.
    use base64::Engine;
    let first = base64::engine::general_purpose::STANDARD
        .decode(messages[0]["body"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&first).unwrap(),
        json!({ "n": 1 })
    );
    assert_eq!(messages[0]["metadata"]["CF-Content-Type"], "json");
    assert_eq!(messages[1]["body"], "two");
    assert_eq!(messages[1]["attempts"], 1);
    // Ack the first, retry the second now.
    let acks = json!({
        "acks": [{ "lease_id": messages[0]["lease_id"] }],
        "retries": [{ "lease_id": messages[1]["lease_id"], "delay_seconds": 0 }],
    });
    let (status, answer) = admin(
        &node,
        reqwest::Method::POST,
        "/queues/pulled/messages/ack",
        Some(acks),
    )
    .await;
    assert_eq!(
        (
            status,
            answer["ackCount"].clone(),
            answer["retryCount"].clone()
        ),
        (200, json!(1), json!(1))
    );
    // A short lease that runs out makes its message deliverable again.
    let (_, pulled) = pull(json!({ "batch_size": 10, "visibility_timeout_ms": 300 })).await;
    let mut bodies: Vec<(Value, Value)> = pulled["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["body"].clone(), m["attempts"].clone()))
        .collect();
    bodies.sort_by_key(|(body, _)| body.to_string());
    assert_eq!(bodies.len(), 2, "{pulled}");
    assert!(bodies.contains(&(json!("two"), json!(2))), "{bodies:?}");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (_, again) = pull(json!({ "batch_size": 10 })).await;
    assert_eq!(again["messages"].as_array().unwrap().len(), 2, "{again}");
    let (_, info) = admin(&node, reqwest::Method::GET, "/queues/pulled", None).await;
    assert_eq!(
        (info["backlog"].clone(), info["in_flight"].clone()),
        (json!(2), json!(2))
    );
    // Acknowledging under the lease that ran out changes nothing (the
    // messages are another pull's now), and the answer says so.
    let stale: Vec<Value> = pulled["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| json!({ "lease_id": m["lease_id"] }))
        .collect();
    let acks = json!({ "acks": stale });
    let path = "/queues/pulled/messages/ack";
    let (status, answer) = admin(&node, reqwest::Method::POST, path, Some(acks)).await;
    assert_eq!(
        (status, answer["ackCount"].clone()),
        (200, json!(0)),
        "{answer}"
    );
    let (_, info) = admin(&node, reqwest::Method::GET, "/queues/pulled", None).await;
    assert_eq!(info["backlog"], 2, "{info}");
    // Bad requests say what is wrong.
    let (status, answer) = pull(json!({ "batch_size": 101 })).await;
    assert_eq!(status, 400);
    assert!(
        answer["error"].as_str().unwrap().contains("batch_size"),
        "{answer}"
    );
    let (status, _) = admin(
        &node,
        reqwest::Method::POST,
        "/queues/nowhere/messages/pull",
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 404);
    let bad = json!({ "acks": [{ "lease_id": "not-a-lease" }] });
    let (status, answer) = admin(
        &node,
        reqwest::Method::POST,
        "/queues/pulled/messages/ack",
        Some(bad),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
}

#[tokio::test]
async fn ridge_queues_and_deploys_that_name_missing_queues() {
    let backend = Backend::sqlite();
    let node = Node::start_with(&backend, &["--usage-flush-interval", "1"], &[]);
    let (ok, output) = node.cli(&["queues", "create", "jobs"], None);
    assert!(ok, "{output}");
    assert_eq!(output.trim(), "Created queue jobs");
    let (ok, output) = node.cli(&["queues", "create", "jobs"], None);
    assert!(!ok && output.contains("queue \"jobs\" exists"), "{output}");
    let (ok, output) = node.cli(&["queues", "create", "Bad Name"], None);
    assert!(!ok && output.contains("invalid queue name"), "{output}");
    // A version sending to a queue that does not exist is refused.
    let metadata = json!({
        "main_module": "index.js",
        "queue_producers": [{ "binding": "OUT", "queue": "missing" }],
    })
    .to_string();
    let script = b"export default { fetch() { return new Response('x') } }";
    let (status, answer) = node
        .upload("producer", &metadata, &[("index.js", script)])
        .await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains("`queue_producers[0]` names queue \"missing\", which does not exist; create it with `ridge queues create missing`"), "{answer}");
    // A consumer, then another worker consuming the same queue: refused.
    let metadata = json!({
        "main_module": "index.js",
        "queue_consumers": [{ "queue": "jobs" }],
    })
    .to_string();
    let consumer = b"export default { queue(batch) {} }";
    assert_eq!(
        node.upload("first", &metadata, &[("index.js", consumer)])
            .await
            .0,
        200
    );
    let (status, answer) = node
        .upload("second", &metadata, &[("index.js", consumer)])
        .await;
    assert_eq!(status, 409, "{answer}");
    // A producer's sends count in its usage.
    let metadata = json!({
        "main_module": "index.js",
        "routes": ["producer.test/*"],
        "queue_producers": [{ "binding": "OUT", "queue": "jobs" }],
    })
    .to_string();
    let producer = br#"export default { async fetch(request, env) {
        await env.OUT.sendBatch([{ body: 1, delaySeconds: 3600 }, { body: 2, delaySeconds: 3600 }]);
        return new Response("sent");
    } }"#;
    assert_eq!(
        node.upload("producer", &metadata, &[("index.js", producer)])
            .await
            .0,
        200
    );
    assert_eq!(
        node.get("producer.test", "/").await,
        (200, "sent".to_string())
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (ok, output) = node.cli(&["usage", "producer", "--json"], None);
        assert!(ok, "{output}");
        let usage: Value = serde_json::from_str(&output).unwrap();
        if usage["total"]["queue_messages"] == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "{usage}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Messages sent through the API show in the counts, then are purged.
    let send = json!({ "body": { "hello": 1 }, "delay_seconds": 3600 });
    assert_eq!(
        admin(
            &node,
            reqwest::Method::POST,
            "/queues/jobs/messages",
            Some(send)
        )
        .await
        .0,
        200
    );
    let (ok, output) = node.cli(&["queues", "info", "jobs"], None);
    assert!(ok, "{output}");
    assert!(output.contains("Backlog:         3 messages"), "{output}");
    assert!(output.contains("Delayed:         3 messages"), "{output}");
    let (ok, output) = node.cli(&["queues", "list"], None);
    assert!(
        ok && output.lines().any(|l| l.starts_with("jobs ")),
        "{output}"
    );
    let (ok, output) = node.cli(&["queues", "purge", "jobs"], None);
    assert!(ok && output.contains("Purged 3 messages"), "{output}");
    // A queue workers use is not deleted under them.
    let (ok, output) = node.cli(&["queues", "delete", "jobs"], None);
    assert!(
        !ok && output.contains("queue \"jobs\" is in use"),
        "{output}"
    );
    for worker in ["first", "producer"] {
        let (ok, output) = node.cli(&["delete", "--name", worker], None);
        assert!(ok, "{output}");
    }
    let (ok, output) = node.cli(&["queues", "delete", "jobs"], None);
    assert!(ok, "{output}");
    let (ok, output) = node.cli(&["queues", "info", "jobs"], None);
    assert!(!ok && output.contains("no queue \"jobs\""), "{output}");
}

/// The consumer of the cluster tests: records each message it processed
/// in KV under its number and a random suffix, so that a message processed
/// twice shows as two keys.
const CLUSTER_CONSUMER: &str = r#"
export default {
  async queue(batch, env) {
    for (const message of batch.messages) {
      if (message.body.hang) await new Promise((resolve) => setTimeout(resolve, 60000));
      await env.SEEN.put(`n${message.body.n}:${crypto.randomUUID()}`, "");
    }
  },
};
"#;

/// Deploys the cluster consumer of `queue` on `node` (wall-clock limit
/// `wall_ms`), with KV namespace `seen`.
async fn deploy_cluster_consumer(node: &Node, queue: &str, wall_ms: u64) {
    assert!(node.cli(&["kv", "namespace", "create", "seen"], None).0);
    let metadata = json!({
        "main_module": "index.js",
        "kv_namespaces": [{ "binding": "SEEN", "id": "seen" }],
        "queue_consumers": [{ "queue": queue, "max_batch_size": 100, "max_batch_timeout": 0 }],
        "limits": { "wall_ms": wall_ms },
    })
    .to_string();
    let (status, answer) = node
        .upload(
            "consumer",
            &metadata,
            &[("index.js", CLUSTER_CONSUMER.as_bytes())],
        )
        .await;
    assert_eq!(status, 200, "{answer}");
}

/// How many times each message number was processed (from the KV keys).
async fn processed(node: &Node) -> std::collections::BTreeMap<u64, usize> {
    let mut counts = std::collections::BTreeMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/kv/namespaces/seen/keys?cursor={cursor}"),
            None => "/kv/namespaces/seen/keys".to_string(),
        };
        let (status, page) = admin(node, reqwest::Method::GET, &path, None).await;
        assert_eq!(status, 200, "{page}");
        for key in page["keys"].as_array().unwrap() {
            let name = key["name"].as_str().unwrap();
            let n: u64 = name[1..name.find(':').unwrap()].parse().unwrap();
            *counts.entry(n).or_default() += 1;
        }
        match page["cursor"].as_str() {
            Some(next) if page["list_complete"] == false => cursor = Some(next.to_string()),
            _ => return counts,
        }
    }
}

/// Sends messages numbered `range` through node's admin API, 100 a batch.
async fn send_numbered(node: &Node, queue: &str, range: std::ops::Range<u64>, extra: Value) {
    let numbers: Vec<u64> = range.collect();
    for chunk in numbers.chunks(100) {
        let messages: Vec<Value> = chunk
            .iter()
            .map(|n| {
                let mut body = extra.clone();
                body["n"] = json!(n);
                json!({ "body": body })
            })
            .collect();
        let path = format!("/queues/{queue}/messages/batch");
        let (status, answer) = admin(
            node,
            reqwest::Method::POST,
            &path,
            Some(json!({ "messages": messages })),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
    }
}

/// The node's count of messages it acknowledged.
async fn acked_by(node: &Node) -> u64 {
    let text = node.admin_text("/metrics").await;
    text.lines()
        .filter(|line| {
            line.starts_with("ridge_queue_messages_total") && line.contains("event=\"acked\"")
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test]
async fn two_nodes_on_postgresql_share_a_queue_without_processing_twice() {
    let backend = Backend::postgres();
    let flush = ["--usage-flush-interval", "1"];
    let first = Node::start_with(&backend, &flush, &[]);
    let second = Node::start_with(&backend, &flush, &[]);
    assert!(first.cli(&["queues", "create", "work"], None).0);
    deploy_cluster_consumer(&first, "work", 30_000).await;
    // The second node hears of the deploy through PostgreSQL.
    tokio::time::sleep(Duration::from_secs(1)).await;
    send_numbered(&first, "work", 0..10_000, json!({})).await;
    queue_info_when(&first, "work", Duration::from_secs(120), |info| {
        info["backlog"] == 0
    })
    .await;
    let counts = processed(&first).await;
    assert_eq!(counts.len(), 10_000, "every message processed");
    let twice: Vec<_> = counts.iter().filter(|(_, count)| **count != 1).collect();
    assert!(twice.is_empty(), "processed more than once: {twice:?}");
    let (a, b) = (acked_by(&first).await, acked_by(&second).await);
    assert_eq!(a + b, 10_000);
    assert!(a > 0 && b > 0, "both nodes consumed: {a} and {b}");
    // Usage counts each delivery, summed across the nodes.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (ok, output) = first.cli(&["usage", "consumer", "--json"], None);
        assert!(ok, "{output}");
        let usage: Value = serde_json::from_str(&output).unwrap();
        if usage["total"]["queue_messages"] == 10_000 {
            break;
        }
        assert!(Instant::now() < deadline, "{}", usage["total"]);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn a_killed_consumer_nodes_batch_is_processed_by_the_other() {
    let backend = Backend::postgres();
    let mut doomed = Node::start(&backend);
    assert!(doomed.cli(&["queues", "create", "work"], None).0);
    // A short wall-clock limit: the lease of a killed node's batch ends
    // after it and the margin.
    deploy_cluster_consumer(&doomed, "work", 1_000).await;
    // The first messages hang: the batch is in progress when it is killed.
    send_numbered(&doomed, "work", 0..5, json!({ "hang": true })).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, info) = admin(&doomed, reqwest::Method::GET, "/queues/work", None).await;
    assert_eq!(info["in_flight"], 5, "{info}");
    doomed.ridge.kill();
    // Another node, whose handler does not hang: the messages come to it
    // once the lease ends; none was acknowledged, none is lost.
    let survivor = Node::start(&backend);
    let patched = CLUSTER_CONSUMER.replace("message.body.hang", "false");
    let metadata = json!({
        "main_module": "index.js",
        "kv_namespaces": [{ "binding": "SEEN", "id": "seen" }],
        "queue_consumers": [{ "queue": "work", "max_batch_size": 100, "max_batch_timeout": 0 }],
    })
    .to_string();
    let (status, answer) = survivor
        .upload("consumer", &metadata, &[("index.js", patched.as_bytes())])
        .await;
    assert_eq!(status, 200, "{answer}");
    queue_info_when(&survivor, "work", Duration::from_secs(30), |info| {
        info["backlog"] == 0
    })
    .await;
    let counts = processed(&survivor).await;
    assert_eq!(
        counts.keys().copied().collect::<Vec<_>>(),
        vec![0, 1, 2, 3, 4]
    );
}

#[tokio::test]
async fn batches_show_in_the_tail_and_the_metrics() {
    let backend = Backend::sqlite();
    let node = Node::start(&backend);
    assert!(node.cli(&["queues", "create", "watched"], None).0);
    let metadata = json!({
        "main_module": "index.js",
        "queue_consumers": [{ "queue": "watched", "max_batch_timeout": 0 }],
    })
    .to_string();
    let consumer = br#"export default { queue(batch) {
        console.log(`got ${batch.messages.map((m) => m.body).join(",")}`);
    } }"#;
    assert_eq!(
        node.upload("watcher", &metadata, &[("index.js", consumer)])
            .await
            .0,
        200
    );
    let mut tail = crate::observability::open_tail_of(&node, "watcher", "").await;
    let batch = json!({ "messages": [{ "body": "a", "content_type": "text" }, { "body": "b", "content_type": "text" }] });
    let path = "/queues/watched/messages/batch";
    assert_eq!(
        admin(&node, reqwest::Method::POST, path, Some(batch))
            .await
            .0,
        200
    );
    let event = tail.next().await;
    assert_eq!(event["eventType"], "queue", "{event}");
    assert_eq!(event["queue"], "watched");
    assert_eq!(event["batchSize"], 2);
    assert_eq!(event["outcome"], "ok");
    assert_eq!(event["logs"][0]["message"], "got a,b");
    // The batch is settled (and counted) just after its invocation ends.
    let expected = [
        "ridge_queue_batches_total{worker=\"watcher\",outcome=\"ok\"} 1",
        "ridge_queue_messages_total{queue=\"watched\",event=\"acked\"} 2",
    ];
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let metrics = node.admin_text("/metrics").await;
        if expected.iter().all(|line| metrics.contains(line)) {
            break;
        }
        assert!(Instant::now() < deadline, "{expected:?} in {metrics}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `queue`'s counts on `node` once `done` holds of them (or fails after
/// `limit`).
pub async fn queue_info_when(
    node: &Node,
    queue: &str,
    limit: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let path = format!("/queues/{queue}");
        let (status, info) = admin(node, reqwest::Method::GET, &path, None).await;
        if status == 200 && done(&info) {
            return info;
        }
        assert!(
            Instant::now() < deadline,
            "{queue}: {info}\n{}",
            node.ridge.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn retries_dead_letters_and_drops_on_postgresql() {
    let backend = Backend::postgres();
    let node = Node::start(&backend);
    for queue in ["work", "doomed"] {
        assert!(node.cli(&["queues", "create", queue], None).0);
    }
    // "work": the first message of each batch is acknowledged and the
    // handler throws, so the rest are retried, and after one retry go to
    // "dead" (created then). "doomed": no retries and no dead-letter queue.
    let metadata = json!({
        "main_module": "index.js",
        "queue_consumers": [
            { "queue": "work", "max_batch_timeout": 0, "max_retries": 1, "dead_letter_queue": "dead" },
            { "queue": "doomed", "max_batch_timeout": 0, "max_retries": 0 },
        ],
    })
    .to_string();
    let consumer = br#"export default { queue(batch) {
        if (batch.queue === "work") batch.messages[0].ack();
        throw new Error("the batch failed");
    } }"#;
    assert_eq!(
        node.upload("failing", &metadata, &[("index.js", consumer)])
            .await
            .0,
        200
    );
    send_numbered(&node, "work", 0..3, json!({})).await;
    send_numbered(&node, "doomed", 0..2, json!({})).await;
    // Batch 1 acks message 0 and retries 1 and 2; batch 2 acks 1; 2 has
    // used its retry and moves.
    let work = queue_info_when(&node, "work", Duration::from_secs(20), |info| {
        info["dead_lettered"] == 1
    })
    .await;
    assert_eq!(work["backlog"], 0, "{work}");
    let dead = queue_info_when(&node, "dead", Duration::from_secs(20), |info| {
        info["backlog"] == 1
    })
    .await;
    assert_eq!(dead["in_flight"], 0, "{dead}");
    let doomed = queue_info_when(&node, "doomed", Duration::from_secs(20), |info| {
        info["dead_lettered"] == 2
    })
    .await;
    assert_eq!(doomed["backlog"], 0, "{doomed}");
    // The dead letter is the third message, its attempts starting over.
    let pulled = json!({ "batch_size": 10 });
    let (_, pulled) = admin(
        &node,
        reqwest::Method::POST,
        "/queues/dead/messages/pull",
        Some(pulled),
    )
    .await;
    let messages = pulled["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "{pulled}");
    assert_eq!(messages[0]["attempts"], 1);
    use base64::Engine;
    let body = base64::engine::general_purpose::STANDARD
        .decode(messages[0]["body"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap(),
        json!({ "n": 2 })
    );
    node.ridge
        .wait_for_log("messages dropped after 1 failed attempts");
}
