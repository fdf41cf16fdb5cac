//! Durable Objects on one node (fixtures/workers/objects): single
//! instances, storage that outlives the process, the SQL and key-value
//! APIs, ids, and the configuration mistakes refused at startup.

use serde_json::{json, Value};

use crate::support::{fixture, http1, Ridge, TempDir};

/// `ridge dev` on the counter project, its state kept in `state`.
fn dev_counter(state: &TempDir) -> Ridge {
    Ridge::dev(
        &fixture("objects/counter"),
        &["--persist-to", &state.path().display().to_string()],
    )
}

#[tokio::test]
async fn one_instance_per_id_and_storage_that_survives_a_kill() {
    let state = TempDir::new();
    let mut ridge = dev_counter(&state);
    // 100 concurrent callers of one object: each increment is seen once.
    let client = http1();
    let calls = (0..100).map(|_| {
        let client = client.clone();
        let url = ridge.url("/increment?name=shared");
        async move {
            client
                .get(url)
                .send()
                .await
                .unwrap()
                .json::<u64>()
                .await
                .unwrap()
        }
    });
    let mut counts = futures::future::join_all(calls).await;
    counts.sort_unstable();
    assert_eq!(counts, (1..=100).collect::<Vec<u64>>());
    // Another name is another object; memory is per instance.
    assert_eq!(ridge.json("/increment?name=other").await, json!(1));
    assert_eq!(ridge.json("/memory?name=shared").await, json!(1));
    assert_eq!(ridge.json("/memory?name=shared").await, json!(2));
    // kill -9 right after the answers: the acknowledged writes are there.
    ridge.kill();
    let ridge = dev_counter(&state);
    assert_eq!(ridge.json("/increment?name=shared").await, json!(101));
    assert_eq!(ridge.json("/increment?name=other").await, json!(2));
    // The object's memory did not survive.
    assert_eq!(ridge.json("/memory?name=shared").await, json!(1));
}

#[tokio::test]
async fn another_workers_binding_reaches_the_same_objects() {
    let state = TempDir::new();
    let config = |name: &str| {
        let folder = fixture("objects").join(name);
        let file = if name == "caller" {
            "wrangler.toml"
        } else {
            "wrangler.jsonc"
        };
        folder.join(file).display().to_string()
    };
    let ridge = Ridge::start(&[
        "dev".into(),
        "--port".into(),
        "0".into(),
        "--persist-to".into(),
        state.path().display().to_string(),
        "-c".into(),
        config("caller"),
        "-c".into(),
        config("counter"),
    ]);
    assert_eq!(ridge.json("/?name=x").await, json!(1));
    assert_eq!(ridge.json("/?name=x").await, json!(2));
    // Without the counter worker, the caller does not start.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ridge"))
        .args([
            "dev",
            "--port",
            "0",
            "--no-persist",
            "-c",
            &config("caller"),
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("worker caller: Durable Object binding COUNTER names worker \"counter\", which is not among the workers run here"),
        "{stderr}"
    );
}

#[tokio::test]
async fn stubs_fetch_and_call_methods_and_ids_belong_to_their_namespace() {
    let state = TempDir::new();
    let ridge = dev_counter(&state);
    let response = http1()
        .get(ridge.url("/fetch?name=front"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-object"], "counter");
    assert_eq!(response.text().await.unwrap(), "front got POST /some/path");
    let ids = ridge.json("/ids").await;
    let id = ids["whoami"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        ids,
        json!({
            "length": 64,
            "stable": true,
            "differs": true,
            "name": "a",
            "parsedEquals": true,
            "parsedName": null,
            "uniqueDiffers": true,
            "whoami": { "name": "a", "id": id },
            "viaParsed": 1,
            "viaName": 2,
            "foreign": "TypeError: Durable Object ID is not valid for this namespace.",
            "malformed": "TypeError: Invalid Durable Object ID: must be 64 hex digits",
            "thrown": "RangeError: the object refused",
            "missing": "TypeError: The RPC receiver does not implement the method \"nope\".",
        })
    );
}

#[tokio::test]
async fn objects_store_with_sql_and_key_value_apis() {
    let state = TempDir::new();
    let ridge = dev_counter(&state);
    assert_eq!(
        ridge.json("/sql?name=n").await,
        json!({
            "rowsWritten": 2,
            "columns": ["id", "text"],
            "rows": [{ "id": 1, "text": "a" }, { "id": 2, "text": "b" }],
            "rowsRead": 2,
            "raw": [["a"], ["b"]],
            "blob": [true, [1, 2]],
            "count": 2,
            "rolledBack": "undo",
            "noRow": "Expected exactly one result from SQL query, but got no results.",
            "badSql": "no such column: nope at offset 7: SQLITE_ERROR",
            "sizeAboveZero": true,
        })
    );
    let kv: Value = ridge.json("/kv?name=n").await;
    assert_eq!(
        kv,
        json!({
            "got": [["k:a", 1], ["k:b", { "nested": [1, 2] }]],
            "listed": ["k:a", "k:b", "k:c"],
            "reversed": ["other"],
            "range": ["k:b", "k:c"],
            "deletedOne": true,
            "deletedMany": 2,
            "date": "1970-01-01T00:00:00.000Z",
            "map": [["m", 1]],
            "badValue": "TypeError: put() called with undefined value.",
            "tooLarge": "Keys cannot be larger than 2048 bytes (this one is 2049 bytes).",
            "transactionThrew": "undo",
            "left": ["k:d", "other", "t:kept"],
            "afterDeleteAll": 0,
        })
    );
}

#[test]
fn a_class_without_a_migration_stops_the_start() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ridge"))
        .args(["dev", "--port", "0", "--no-persist"])
        .arg(fixture("objects/no-migration"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("`durable_objects.bindings[0].class_name` \"Room\" is not a Durable Object class of this worker: add a migration that creates it"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_class_the_worker_does_not_export_fails_its_load() {
    let ridge = Ridge::dev(&fixture("objects/missing-class"), &["--no-persist"]);
    ridge.wait_for_log(
        "The Durable Object binding ROOM names class \"Room\", which the worker does not export",
    );
    let response = http1().get(ridge.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 500);
}

/// Polls `path` until `done` holds for its JSON answer (at most 20 s).
async fn wait_for(ridge: &Ridge, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let answer = ridge.json(path).await;
        if done(&answer) {
            return answer;
        }
        assert!(std::time::Instant::now() < deadline, "{path}: {answer}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

fn runs(answer: &Value) -> usize {
    answer["runs"].as_array().unwrap().len()
}

#[tokio::test]
async fn alarms_fire_retry_and_survive_a_kill() {
    let state = TempDir::new();
    let mut ridge = dev_counter(&state);
    // Set, seen, fired once; its handler sees no alarm of its own.
    let schedule = "/alarm/schedule?delay=1000&failures=0&name=once";
    assert_eq!(ridge.json(schedule).await, json!(true));
    let once = wait_for(&ridge, "/alarm/runs?name=once", |a| runs(a) == 1).await;
    assert_eq!(
        once,
        json!({ "runs": [{ "retryCount": 0, "isRetry": false, "alarmWhileRunning": null, "name": "once" }], "alarm": null })
    );
    // A run that throws is retried (2 s later), with its retry count.
    let schedule = "/alarm/schedule?delay=1000&failures=1&name=flaky";
    assert_eq!(ridge.json(schedule).await, json!(true));
    let flaky = wait_for(&ridge, "/alarm/runs?name=flaky", |a| runs(a) == 2).await;
    assert_eq!(flaky["runs"][1]["retryCount"], json!(1));
    assert_eq!(flaky["runs"][1]["isRetry"], json!(true));
    assert_eq!(flaky["alarm"], json!(null));
    // A deleted alarm does not run.
    assert_eq!(
        ridge.json("/alarm/cancel?name=cancelled").await,
        json!(null)
    );
    // Refusals: no alarm() handler, times that are not times.
    assert_eq!(
        ridge.json("/alarm/no-handler").await,
        json!("TypeError: Your Durable Object class must have an alarm() handler in order to call setAlarm()")
    );
    assert_eq!(
        ridge.json("/alarm/bad-times").await,
        json!([
            "TypeError: setAlarm() cannot be called with an alarm time <= 0",
            "TypeError: setAlarm() cannot be called with an alarm time <= 0",
            "TypeError: Failed to execute 'setAlarm' on 'DurableObjectStorage': parameter 1 is not of type 'date'.",
        ])
    );
    // An alarm set before a kill -9 runs after the restart.
    let schedule = "/alarm/schedule?delay=1500&failures=0&name=restart";
    assert_eq!(ridge.json(schedule).await, json!(true));
    ridge.kill();
    let ridge = dev_counter(&state);
    let restarted = wait_for(&ridge, "/alarm/runs?name=restart", |a| runs(a) == 1).await;
    assert_eq!(restarted["runs"][0]["retryCount"], json!(0));
    assert_eq!(
        ridge.json("/alarm/runs?name=cancelled").await,
        json!({ "runs": [], "alarm": null })
    );
    // The others ran exactly as often as before.
    assert_eq!(runs(&ridge.json("/alarm/runs?name=once").await), 1);
    assert_eq!(runs(&ridge.json("/alarm/runs?name=flaky").await), 2);
}

#[tokio::test]
async fn writes_of_one_turn_commit_together() {
    let state = TempDir::new();
    let ridge = dev_counter(&state);
    let response = http1()
        .get(ridge.url("/unfinished?name=turn"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(
        ridge.json("/unfinished-left?name=turn").await,
        json!({
            "key": null,
            "tables": 0,
            "begin": "To execute a transaction, please use the state.storage.transaction() or state.storage.transactionSync() APIs instead of the SQL BEGIN TRANSACTION or SAVEPOINT statements. The JavaScript API is safer because it will automatically roll back on exceptions, and because it interacts correctly with Durable Objects' automatic atomic write coalescing.",
        })
    );
}

#[tokio::test]
async fn idle_objects_leave_memory_and_keep_their_storage() {
    let state = TempDir::new();
    let ridge = Ridge::dev(
        &fixture("objects/counter"),
        &[
            "--persist-to",
            &state.path().display().to_string(),
            "--object-idle-timeout",
            "1",
        ],
    );
    assert_eq!(ridge.json("/increment?name=idle").await, json!(1));
    assert_eq!(ridge.json("/memory?name=idle").await, json!(1));
    assert_eq!(ridge.json("/memory?name=idle").await, json!(2));
    // Busy within the timeout: still the same instance.
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(ridge.json("/memory?name=idle").await, json!(3));
    // Idle past it: a new instance, the same storage.
    tokio::time::sleep(std::time::Duration::from_millis(1600)).await;
    assert_eq!(ridge.json("/memory?name=idle").await, json!(1));
    assert_eq!(ridge.json("/increment?name=idle").await, json!(2));
}

mod chat {
    //! A chat room (fixtures/workers/objects/chat): 50 members' WebSockets
    //! accepted for hibernation, the room leaving memory between bursts.

    use std::time::Duration;

    use futures::SinkExt;
    use serde_json::{json, Value};
    use tokio_tungstenite::tungstenite::Message;

    use crate::support::{fixture, Ridge, TempDir};
    use crate::websocket::{next, Socket};

    const MEMBERS: usize = 50;

    async fn join(ridge: &Ridge, path: &str) -> Socket {
        let url = format!("ws://{}{path}", ridge.addr);
        let (socket, response) = tokio_tungstenite::connect_async(url).await.unwrap();
        assert_eq!(response.status(), 101);
        socket
    }

    async fn text(socket: &mut Socket) -> String {
        match next(socket).await {
            Message::Text(text) => text.to_string(),
            other => panic!("expected text, got {other:?}"),
        }
    }

    /// Every member sends two messages; every member then gets all of
    /// them, numbered from `first`, in one order.
    async fn burst(members: &mut [Socket], round: usize, first: u64) {
        for (number, socket) in members.iter_mut().enumerate() {
            for part in 0..2 {
                let line = format!("round {round} from {number} part {part}");
                socket.send(Message::text(line)).await.unwrap();
            }
        }
        let mut orders = Vec::new();
        for socket in members.iter_mut() {
            let mut order = Vec::new();
            for _ in 0..2 * MEMBERS {
                let line: Value = serde_json::from_str(&text(socket).await).unwrap();
                order.push((line["seq"].as_u64().unwrap(), line["text"].to_string()));
            }
            orders.push(order);
        }
        let expected: Vec<u64> = (first..first + 2 * MEMBERS as u64).collect();
        for order in &orders {
            assert_eq!(
                order.iter().map(|(seq, _)| *seq).collect::<Vec<_>>(),
                expected
            );
            assert_eq!(order, &orders[0]);
        }
        // Each member's own two lines arrive in the order it sent them.
        for number in 0..MEMBERS {
            let mine: Vec<&String> = orders[0]
                .iter()
                .map(|(_, text)| text)
                .filter(|text| text.contains(&format!("from {number} part")))
                .collect();
            assert_eq!(mine.len(), 2);
            assert!(mine[0].contains("part 0"), "{mine:?}");
        }
    }

    #[tokio::test]
    async fn fifty_members_keep_one_order_while_the_room_hibernates() {
        let state = TempDir::new();
        let ridge = Ridge::dev(
            &fixture("objects/chat"),
            &[
                "--persist-to",
                &state.path().display().to_string(),
                "--object-idle-timeout",
                "1",
            ],
        );
        let mut members = Vec::new();
        for number in 0..MEMBERS {
            members.push(join(&ridge, &format!("/room/lobby?user=u{number}")).await);
        }
        let stats = ridge.json("/room/lobby/stats?tag=u7").await;
        assert_eq!(stats["members"], json!(MEMBERS));
        assert_eq!(stats["tagged"], json!(1));
        assert_eq!(stats["autoResponse"], json!("pong"));
        burst(&mut members, 1, 1).await;
        let wakes = ridge.json("/room/lobby/stats").await["wakes"]
            .as_u64()
            .unwrap();

        // Idle past the timeout: the room leaves memory, the sockets stay,
        // and the next message makes it again.
        tokio::time::sleep(Duration::from_millis(1600)).await;
        burst(&mut members, 2, 1 + 2 * MEMBERS as u64).await;
        let stats = ridge.json("/room/lobby/stats").await;
        assert!(stats["wakes"].as_u64().unwrap() > wakes, "{stats}");
        assert_eq!(stats["messages"], json!(4 * MEMBERS));
        assert_eq!(stats["members"], json!(MEMBERS));

        // The auto-response answers without an event; attachments and
        // tags outlive hibernation.
        members[3].send(Message::text("ping")).await.unwrap();
        assert_eq!(text(&mut members[3]).await, "pong");
        members[3].send(Message::text("whoami")).await.unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&text(&mut members[3]).await).unwrap(),
            json!({ "user": "u3", "tags": ["u3"], "autoResponded": true })
        );

        // A member that leaves is closed by the room and leaves its list.
        members.pop().unwrap().close(None).await.unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while ridge.json("/room/lobby/stats").await["members"] != json!(MEMBERS - 1) {
            assert!(
                std::time::Instant::now() < deadline,
                "the member did not leave"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    #[tokio::test]
    async fn a_room_with_quiet_sockets_leaves_memory_without_an_event() {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;

        use crate::control::{Backend, Node};
        use crate::observability::metric_reaches;
        let backend = Backend::sqlite();
        let node = Node::start_with(
            &backend,
            &["--base-domain", "test", "--object-idle-timeout", "1"],
            &[],
        );
        let folder = fixture("objects/chat").display().to_string();
        let (ok, out) = node.cli(&["deploy", &folder], None);
        assert!(ok, "{out}");
        let mut members = Vec::new();
        for user in ["a", "b"] {
            let url = format!(
                "{}/room/quiet?user={user}",
                node.ridge.url("").replace("http", "ws")
            );
            let mut request = url.into_client_request().unwrap();
            request
                .headers_mut()
                .insert("host", "chat.test".parse().unwrap());
            let (socket, response) = tokio_tungstenite::connect_async(request).await.unwrap();
            assert_eq!(response.status(), 101);
            members.push(socket);
        }
        let chat = [("worker", "chat")];
        metric_reaches(&node, "ridge_durable_objects_alive", &chat, 1.0).await;
        // No message, no call: the sweep's own timer lets the room go.
        metric_reaches(&node, "ridge_durable_objects_alive", &chat, 0.0).await;
        members[0].send(Message::text("back")).await.unwrap();
        for member in &mut members {
            let line: Value = serde_json::from_str(&text(member).await).unwrap();
            assert_eq!(line["text"], "back");
        }
        metric_reaches(&node, "ridge_durable_objects_alive", &chat, 1.0).await;
    }

    #[tokio::test]
    async fn an_object_with_a_socket_it_accepted_stays_in_memory() {
        let ridge = Ridge::dev(
            &fixture("objects/chat"),
            &["--no-persist", "--object-idle-timeout", "1"],
        );
        let mut socket = join(&ridge, "/echo/one").await;
        socket.send(Message::text("a")).await.unwrap();
        assert_eq!(text(&mut socket).await, "1: a");
        tokio::time::sleep(Duration::from_millis(1600)).await;
        // A new call runs the sweep, and reaches the same instance (an
        // evicted one would be made again, counting from 1).
        let mut again = join(&ridge, "/echo/one").await;
        again.send(Message::text("b")).await.unwrap();
        assert_eq!(text(&mut again).await, "2: b");
        socket.send(Message::text("c")).await.unwrap();
        assert_eq!(text(&mut socket).await, "3: c");
    }
}

#[tokio::test]
async fn operators_list_and_delete_objects_on_a_node() {
    use crate::control::{Backend, Node};
    use crate::observability::{metric_reaches, open_tail_of};
    let backend = Backend::sqlite();
    let node = Node::start_with(&backend, &["--base-domain", "test"], &[]);
    let folder = fixture("objects/counter").display().to_string();
    let (ok, out) = node.cli(&["deploy", &folder], None);
    assert!(ok, "{out}");
    let host = "counter.test";
    let mut tail = open_tail_of(&node, "counter", "").await;
    assert_eq!(node.get(host, "/increment?name=a").await.1, "1");
    // The tail shows the call on the object, with the object.
    let events = [tail.next().await, tail.next().await];
    let call = events
        .iter()
        .find(|e| e["eventType"] == "rpc")
        .unwrap_or_else(|| panic!("{events:?}"));
    assert_eq!(call["rpcMethod"], "increment");
    assert_eq!(call["object"]["class"], "Counter");
    assert_eq!(call["object"]["name"], "a");
    assert_eq!(node.get(host, "/increment?name=a").await.1, "2");
    assert_eq!(node.get(host, "/increment?name=b").await.1, "1");
    assert_eq!(
        node.get(host, "/alarm/schedule?delay=3600000&failures=0&name=later")
            .await
            .1,
        "true"
    );
    let ids = serde_json::from_str::<Value>(&node.get(host, "/ids").await.1).unwrap();
    let id_of_a = ids["whoami"]["id"].as_str().unwrap().to_string();

    let (ok, out) = node.cli(&["do", "list", "counter", "Counter"], None);
    assert!(ok, "{out}");
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.contains(&id_of_a), "{out}");
    let (ok, out) = node.cli(&["do", "list", "counter", "Reminder"], None);
    assert!(ok, "{out}");
    assert!(out.contains("  alarm "), "{out}");

    // Deleted: its storage is gone, the next call starts from nothing, and
    // the other object is untouched.
    let (ok, out) = node.cli(&["do", "delete", "counter", "Counter", &id_of_a], None);
    assert!(ok, "{out}");
    assert_eq!(
        out.trim(),
        format!("Deleted Counter object {id_of_a} of counter")
    );
    assert_eq!(node.get(host, "/increment?name=a").await.1, "1");
    assert_eq!(node.get(host, "/increment?name=b").await.1, "2");

    // Metrics: Counter a and b and Reminder "later" in memory; 11 calls
    // reached objects (3 increments and a schedule above, 5 in /ids, 2
    // increments since).
    let counter = [("worker", "counter")];
    metric_reaches(&node, "ridge_durable_objects_alive", &counter, 3.0).await;
    let calls = [("worker", "counter"), ("event", "call")];
    metric_reaches(&node, "ridge_durable_object_events_total", &calls, 11.0).await;

    // Mistakes get their reason.
    let (ok, out) = node.cli(
        &["do", "delete", "counter", "Counter", &"0".repeat(64)],
        None,
    );
    assert!(!ok);
    assert!(
        out.contains(&format!(
            "worker counter stores no Counter object with id {}",
            "0".repeat(64)
        )),
        "{out}"
    );
    let (ok, out) = node.cli(&["do", "delete", "counter", "Counter", "../../x"], None);
    assert!(!ok);
    assert!(
        out.contains("Durable Object ids are 64 hexadecimal digits"),
        "{out}"
    );
    let (ok, out) = node.cli(&["do", "list", "counter", "not-a-class"], None);
    assert!(!ok);
    assert!(
        out.contains("invalid Durable Object class name \"not-a-class\""),
        "{out}"
    );
}

#[tokio::test]
async fn sigterm_stops_the_node_with_its_object_logs_checkpointed() {
    let state = TempDir::new();
    let mut ridge = dev_counter(&state);
    // Writes in two objects: their write-ahead logs hold them.
    assert_eq!(ridge.json("/increment?name=logged").await, json!(1));
    for _ in 0..3 {
        let _ = http1()
            .get(ridge.url("/sql?name=logged"))
            .send()
            .await
            .unwrap();
    }
    ridge.signal(libc::SIGTERM);
    let status = ridge
        .wait_for_exit(std::time::Duration::from_secs(20))
        .expect("ridge stops on SIGTERM");
    assert!(status.success(), "{status}");
    assert!(ridge.logs().contains("shutting down"), "{}", ridge.logs());
    let logs: Vec<std::path::PathBuf> = walk(&state.path().join("objects"))
        .into_iter()
        .filter(|path| path.to_string_lossy().ends_with(".sqlite-wal"))
        .collect();
    for log in logs {
        assert_eq!(
            std::fs::metadata(&log).unwrap().len(),
            0,
            "{}",
            log.display()
        );
    }
    // Nothing was lost.
    let ridge = dev_counter(&state);
    assert_eq!(ridge.json("/increment?name=logged").await, json!(2));
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
