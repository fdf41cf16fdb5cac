//! Workers KV through real workers (fixtures/workers/kv): every method and
//! value type, the limits, expiration, pagination, streaming, concurrency,
//! persistence, the admin API and CLI, and cross-node cache invalidation.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::control::{Backend, Node};
use crate::support::{fixture, http1, Ridge, TempDir};

/// `ridge dev` on the KV fixture, its state in a fresh folder.
fn dev_kv(state: &TempDir, env: &[(&str, &str)]) -> Ridge {
    dev_kv_with(state, env, &[])
}

fn dev_kv_with(state: &TempDir, env: &[(&str, &str)], extra: &[&str]) -> Ridge {
    let mut args: Vec<String> = [
        "dev",
        &fixture("kv").display().to_string(),
        "--port",
        "0",
        "--persist-to",
        &state.path().display().to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    Ridge::start_with_env(&args, env)
}

async fn send(ridge: &Ridge, method: reqwest::Method, path: &str, body: Vec<u8>) -> (u16, String) {
    let response = http1()
        .request(method, ridge.url(path))
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn put(ridge: &Ridge, query: &str, body: &str) -> Value {
    let (_, text) = send(
        ridge,
        reqwest::Method::POST,
        &format!("/put?{query}"),
        body.into(),
    )
    .await;
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}

#[tokio::test]
async fn every_method_and_value_type() {
    let state = TempDir::new();
    let ridge = dev_kv(&state, &[]);

    assert_eq!(
        ridge.json("/get?key=nothing").await,
        json!({ "value": null })
    );
    assert_eq!(
        ridge.json("/meta?key=nothing").await,
        json!({ "value": null, "metadata": null, "cacheStatus": null })
    );

    assert_eq!(put(&ridge, "key=text", "héllo").await["threw"], false);
    assert_eq!(ridge.json("/get?key=text").await["value"], "héllo");
    assert_eq!(
        ridge.json("/get?key=text&type=arrayBuffer").await["value"],
        json!({ "arrayBuffer": true, "bytes": [104, 195, 169, 108, 108, 111] })
    );
    assert_eq!(
        ridge.json("/get?key=text&type=stream").await["value"],
        json!({ "stream": true, "text": "héllo" })
    );

    put(&ridge, "key=doc", r#"{"n":[1,2]}"#).await;
    assert_eq!(
        ridge.json("/get?key=doc&type=json").await["value"],
        json!({ "n": [1, 2] })
    );

    // ArrayBuffer, a typed-array view into a larger buffer, and a stream.
    put(&ridge, "key=buf&as=buffer", "buffer value").await;
    put(&ridge, "key=view&as=typed", "view value").await;
    put(&ridge, "key=streamed&as=stream", "stream value").await;
    assert_eq!(ridge.json("/get?key=buf").await["value"], "buffer value");
    assert_eq!(ridge.json("/get?key=view").await["value"], "view value");
    assert_eq!(
        ridge.json("/get?key=streamed").await["value"],
        "stream value"
    );

    // Metadata round-trips; cacheTtl is accepted.
    put(
        &ridge,
        "key=tagged&metadata=%7B%22v%22%3A3%7D",
        "with metadata",
    )
    .await;
    let read = ridge.json("/meta?key=tagged").await;
    assert_eq!(read["value"], "with metadata");
    assert_eq!(read["metadata"], json!({ "v": 3 }));
    // A write drops the node's cached copy: the first read goes to the
    // store, the next one is answered by the cache.
    assert_eq!(read["cacheStatus"], "MISS", "{read}");
    assert_eq!(ridge.json("/meta?key=tagged").await["cacheStatus"], "HIT");
    assert_eq!(
        ridge.json("/get?key=tagged&cacheTtl=300").await["value"],
        "with metadata"
    );

    // Overwrite, then delete.
    put(&ridge, "key=text", "second").await;
    assert_eq!(ridge.json("/get?key=text").await["value"], "second");
    assert_eq!(ridge.text("/delete?key=text").await, "deleted");
    assert_eq!(ridge.json("/get?key=text").await["value"], Value::Null);
    assert_eq!(
        ridge.text("/write-then-read?key=ryw&value=fresh").await,
        "fresh"
    );

    // Keys list in UTF-8 byte order: é (C3 A9) after z.
    put(&ridge, "key=%C3%A9", "e acute").await;
    put(&ridge, "key=z", "zed").await;
    let page = ridge.json("/list").await;
    let names: Vec<&str> = page["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["buf", "doc", "ryw", "streamed", "tagged", "view", "z", "é"]
    );
}

#[tokio::test]
async fn invalid_keys_values_and_options_are_refused_clearly() {
    let state = TempDir::new();
    // About the refusals, not the limits: building the 25 MiB value takes
    // a debug build near the CPU budget when the suite loads both cores.
    let ridge = dev_kv_with(&state, &[], &["--no-limits"]);
    let cases = [
        ("emptyKey", "TypeError", "must not be empty"),
        ("dotKey", "TypeError", "\".\" is not allowed"),
        ("dotDotKey", "TypeError", "\"..\" is not allowed"),
        ("longKey", "RangeError", "513 bytes"),
        (
            "bigValue",
            "RangeError",
            "more than the 26214400-byte (25 MiB) limit",
        ),
        ("bigMetadata", "RangeError", "more than the 1024-byte limit"),
        (
            "shortTtl",
            "RangeError",
            "expirationTtl is 30, it must be at least 60",
        ),
        ("pastExpiration", "RangeError", "is in the past"),
        (
            "soonExpiration",
            "RangeError",
            "at least 60 seconds in the future",
        ),
        ("nanTtl", "TypeError", "expirationTtl must be a number"),
        ("badType", "TypeError", "Unknown KV value type \"blob\""),
        (
            "badValue",
            "TypeError",
            "accepts only strings, ArrayBuffers",
        ),
        (
            "lowCacheTtl",
            "RangeError",
            "cacheTtl is 5, it must be at least 30",
        ),
        ("zeroLimit", "RangeError", "between 1 and 1000"),
        ("bigLimit", "RangeError", "between 1 and 1000"),
        ("badCursor", "TypeError", "invalid list cursor"),
    ];
    for (case, class, message) in cases {
        let outcome = ridge.json(&format!("/invalid?case={case}")).await;
        assert_eq!(outcome["threw"], true, "{case}: {outcome}");
        assert_eq!(outcome["name"], class, "{case}: {outcome}");
        let text = outcome["message"].as_str().unwrap();
        assert!(text.contains(message), "{case}: {text}");
    }
    // Nothing was written by the refused calls.
    assert_eq!(ridge.json("/list").await["keys"], json!([]));
}

#[tokio::test]
async fn expired_keys_are_never_returned() {
    let state = TempDir::new();
    let clock = state.path().join("clock-offset");
    std::fs::write(&clock, "0").unwrap();
    let ridge = dev_kv(
        &state,
        &[("RIDGE_TEST_CLOCK_OFFSET_FILE", clock.to_str().unwrap())],
    );
    let far = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    put(&ridge, "key=short&ttl=60", "brief").await;
    put(&ridge, &format!("key=long&expiration={far}"), "lasting").await;
    put(&ridge, "key=forever", "always").await;
    assert_eq!(ridge.json("/get?key=short").await["value"], "brief");
    let listed = ridge.json("/list").await;
    let short = listed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "short")
        .unwrap()
        .clone();
    assert!(short["expiration"].as_u64().unwrap() >= far - 3600 + 60);
    assert_eq!(listed["keys"][1]["expiration"], far, "{listed}");

    // Two minutes later by KV's clock: the short-lived key is gone from
    // reads (cached or not) and from listings.
    std::fs::write(&clock, "120").unwrap();
    assert_eq!(ridge.json("/get?key=short").await["value"], Value::Null);
    assert_eq!(ridge.json("/get?key=long").await["value"], "lasting");
    let names: Vec<Value> = ridge.json("/list").await["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("forever"), json!("long")]);
}

#[tokio::test]
async fn expired_keys_are_deleted_from_the_store_in_the_background() {
    let state = TempDir::new();
    let clock = state.path().join("clock-offset");
    std::fs::write(&clock, "0").unwrap();
    let env = [("RIDGE_TEST_CLOCK_OFFSET_FILE", clock.to_str().unwrap())];
    let mut ridge = dev_kv(&state, &env);
    put(&ridge, "key=brief&ttl=60", "soon gone").await;
    put(&ridge, "key=kept", "stays").await;
    ridge.kill();
    let rows = || {
        let db = rusqlite::Connection::open(state.path().join("ridge.db")).unwrap();
        let mut keys: Vec<Vec<u8>> = db
            .prepare("SELECT key FROM kv_entries ORDER BY key")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        keys.sort();
        keys
    };
    assert_eq!(rows(), [b"brief".to_vec(), b"kept".to_vec()]);

    // The node purges at start and every minute after.
    std::fs::write(&clock, "120").unwrap();
    let ridge = dev_kv(&state, &env);
    ridge.wait_for_log("expired KV entries deleted");
    assert_eq!(rows(), [b"kept".to_vec()]);
    assert_eq!(ridge.json("/get?key=kept").await["value"], "stays");
}

#[tokio::test]
async fn list_pages_through_2500_keys_with_stable_cursors() {
    let state = TempDir::new();
    let ridge = dev_kv(&state, &[]);
    for start in (0..2500).step_by(250) {
        let end = start + 250;
        assert_eq!(
            ridge
                .text(&format!("/fill?prefix=item-&from={start}&to={end}"))
                .await,
            "wrote 250"
        );
    }
    put(&ridge, "key=other", "not in the prefix").await;

    let mut seen = Vec::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let page = ridge
            .json(&format!("/list?prefix=item-&cursor={cursor}"))
            .await;
        pages += 1;
        for key in page["keys"].as_array().unwrap() {
            seen.push(key["name"].as_str().unwrap().to_string());
        }
        if page["list_complete"] == true {
            assert!(page.get("cursor").is_none(), "{page}");
            break;
        }
        cursor = page["cursor"].as_str().unwrap().to_string();
        // Writes behind and ahead of the cursor meanwhile: the keys already
        // seen are not repeated, and later pages pick up new keys ahead.
        if pages == 1 {
            ridge.text("/fill?prefix=item-&from=0&to=10").await;
            put(&ridge, "key=item-00000a", "behind the cursor").await;
            put(&ridge, "key=item-99999", "ahead of the cursor").await;
        }
    }
    assert_eq!(pages, 3, "1000 keys per page by default");
    let expected: Vec<String> = (0..2500)
        .map(|i| format!("item-{i:05}"))
        .chain(["item-99999".to_string()])
        .collect();
    assert_eq!(seen, expected);

    // An explicit limit.
    let page = ridge.json("/list?prefix=item-0249&limit=5").await;
    assert_eq!(page["keys"].as_array().unwrap().len(), 5);
    assert_eq!(page["list_complete"], false);
}

#[tokio::test]
async fn large_values_stream_in_and_out() {
    let state = TempDir::new();
    let ridge = dev_kv(&state, &[]);
    let value: Vec<u8> = (0..20 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let (status, text) = send(
        &ridge,
        reqwest::Method::POST,
        "/put?key=large&as=stream",
        value.clone(),
    )
    .await;
    assert_eq!((status, text.as_str()), (200, r#"{"threw":false}"#));
    let body = http1()
        .get(ridge.url("/raw?key=large"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(body.len(), value.len());
    assert_eq!(Sha256::digest(&body), Sha256::digest(&value));

    // A stream over 25 MiB is refused, and the old value stays.
    let oversized = vec![b'x'; 25 * 1024 * 1024 + 10];
    let (status, text) = send(
        &ridge,
        reqwest::Method::POST,
        "/put?key=large&as=stream",
        oversized,
    )
    .await;
    assert_eq!(status, 400, "{text}");
    assert!(
        text.contains("RangeError") && text.contains("25 MiB"),
        "{text}"
    );
    let body = http1()
        .get(ridge.url("/raw?key=large"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(Sha256::digest(&body), Sha256::digest(&value));
}

#[tokio::test]
async fn concurrent_writers_lose_nothing() {
    let state = TempDir::new();
    let ridge = dev_kv(&state, &[]);
    let writes = (0..64).map(|i| {
        let ridge = &ridge;
        async move {
            let outcome = put(ridge, &format!("key=writer-{i:02}"), &format!("from {i}")).await;
            assert_eq!(outcome["threw"], false);
            // Everyone also writes the same key: one of them wins, whole.
            put(ridge, "key=shared", &format!("shared from {i}")).await;
        }
    });
    futures::future::join_all(writes).await;
    let page = ridge.json("/list?prefix=writer-").await;
    assert_eq!(page["keys"].as_array().unwrap().len(), 64);
    for i in 0..64 {
        assert_eq!(
            ridge.json(&format!("/get?key=writer-{i:02}")).await["value"],
            format!("from {i}")
        );
    }
    let shared = ridge.json("/get?key=shared").await;
    assert!(
        shared["value"]
            .as_str()
            .unwrap()
            .starts_with("shared from "),
        "{shared}"
    );
}

#[tokio::test]
async fn dev_state_survives_a_restart() {
    let state = TempDir::new();
    let mut ridge = dev_kv(&state, &[]);
    put(&ridge, "key=kept&metadata=%5B1%5D", "across restarts").await;
    ridge.kill();
    let ridge = dev_kv(&state, &[]);
    let read = ridge.json("/meta?key=kept").await;
    assert_eq!(read["value"], "across restarts");
    assert_eq!(read["metadata"], json!([1]));

    // --no-persist starts empty and leaves the persisted state alone.
    let fresh = Ridge::dev(&fixture("kv"), &["--no-persist"]);
    assert_eq!(fresh.json("/get?key=kept").await["value"], Value::Null);
    assert_eq!(
        ridge.json("/get?key=kept").await["value"],
        "across restarts"
    );
}

/// Deploys the KV fixture to a node whose store has its namespace.
fn deploy_kv_worker(node: &Node) {
    let (ok, out) = node.cli(&["deploy", &fixture("kv").display().to_string()], None);
    assert!(ok, "{out}");
}

async fn namespaces_and_keys_through_the_cli(backend: Backend) {
    let node = Node::start(&backend);

    // A worker bound to a namespace that does not exist is refused.
    let (ok, out) = node.cli(&["deploy", &fixture("kv").display().to_string()], None);
    assert!(!ok);
    assert!(
        out.contains("kv_namespaces[0]") && out.contains("ridge kv namespace create kv-tests"),
        "{out}"
    );
    let (ok, out) = node.cli(&["kv", "namespace", "create", "bad id!"], None);
    assert!(!ok && out.contains("invalid KV namespace id"), "{out}");

    let (ok, out) = node.cli(&["kv", "namespace", "create", "kv-tests"], None);
    assert!(ok && out.contains("Created KV namespace kv-tests"), "{out}");
    let (ok, out) = node.cli(&["kv", "namespace", "list"], None);
    assert!(ok && out.contains("kv-tests"), "{out}");
    deploy_kv_worker(&node);

    // Written by the CLI (argument, stdin, file), read by the worker.
    let kv = |args: &[&str], stdin: Option<&str>| {
        let mut full = vec!["kv"];
        full.extend_from_slice(args);
        full.extend_from_slice(&["--namespace", "kv-tests"]);
        node.cli(&full, stdin)
    };
    let (ok, out) = kv(
        &[
            "put",
            "from-arg",
            "argument value",
            "--metadata",
            r#"{"a":1}"#,
        ],
        None,
    );
    assert!(ok, "{out}");
    let (ok, out) = kv(&["put", "dir/from stdin"], Some("piped value"));
    assert!(ok && out.contains("11 bytes"), "{out}");
    let dir = TempDir::new();
    let file = dir.path().join("value.bin");
    std::fs::write(&file, [0u8, 1, 2, 255]).unwrap();
    let (ok, out) = kv(
        &["put", "from-file", "--path", file.to_str().unwrap()],
        None,
    );
    assert!(ok, "{out}");

    let read = node.get("kv.localhost", "/meta?key=from-arg").await;
    let read: Value = serde_json::from_str(&read.1).unwrap();
    assert_eq!(read["value"], "argument value");
    assert_eq!(read["metadata"], json!({ "a": 1 }));
    let (_, body) = node
        .get("kv.localhost", "/get?key=dir%2Ffrom%20stdin")
        .await;
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["value"],
        "piped value"
    );

    // Written by the worker, read by the CLI.
    let response = http1()
        .post(node.ridge.url("/put?key=by-worker"))
        .header("host", "kv.localhost")
        .body("worker wrote this")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (ok, out) = kv(&["get", "by-worker"], None);
    assert!(ok && out == "worker wrote this", "{out}");
    let (ok, out) = kv(&["list"], None);
    assert!(ok, "{out}");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["by-worker", "dir/from stdin", "from-arg", "from-file"]
    );
    let (ok, out) = kv(&["delete", "from-arg"], None);
    assert!(ok, "{out}");
    let (ok, out) = kv(&["get", "from-arg"], None);
    assert!(!ok && out.contains("has no key \"from-arg\""), "{out}");
    let (ok, out) = kv(&["put", "short", "x", "--ttl", "10"], None);
    assert!(!ok && out.contains("at least 60"), "{out}");

    // A namespace in use cannot be deleted; once unbound it can.
    let (ok, out) = node.cli(&["kv", "namespace", "delete", "kv-tests"], None);
    assert!(
        !ok && out.contains("bound by the active version of kv"),
        "{out}"
    );
    let (ok, out) = node.cli(&["delete", "--name", "kv"], None);
    assert!(ok, "{out}");
    let (ok, out) = node.cli(&["kv", "namespace", "delete", "kv-tests"], None);
    assert!(ok, "{out}");
    let (ok, out) = kv(&["list"], None);
    assert!(
        !ok && out.contains("KV namespace \"kv-tests\" does not exist"),
        "{out}"
    );
}

on_both_stores!(namespaces_and_keys_through_the_cli);

#[tokio::test]
async fn writes_on_one_node_reach_another_nodes_cache_promptly() {
    // A notice arrives in milliseconds; the bound leaves room for a CI
    // machine busy with other tests.
    const PROPAGATION_BOUND: Duration = Duration::from_secs(1);
    let backend = Backend::postgres();
    let a = Node::start(&backend);
    let b = Node::start(&backend);
    let (ok, out) = a.cli(&["kv", "namespace", "create", "kv-tests"], None);
    assert!(ok, "{out}");
    deploy_kv_worker(&a);
    let value_on = |node: &Node| {
        let node_url = node.ridge.url("/get?key=shared&cacheTtl=3600");
        async move {
            let response = http1()
                .get(node_url)
                .header("host", "kv.localhost")
                .send()
                .await
                .unwrap();
            let body: Value = response.json().await.unwrap();
            body["value"].clone()
        }
    };
    let write_on = |node: &Node, value: &'static str| {
        let url = node.ridge.url("/put?key=shared");
        async move {
            let response = http1()
                .post(url)
                .header("host", "kv.localhost")
                .body(value)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
        }
    };
    // B must serve the worker first (it learns of the deploy by NOTIFY).
    let deployed = Instant::now();
    while b.get("kv.localhost", "/get?key=none").await.0 != 200 {
        assert!(deployed.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    write_on(&a, "v1").await;
    assert_eq!(value_on(&a).await, "v1", "read-your-writes on A");
    // B caches v1 for an hour.
    assert_eq!(value_on(&b).await, "v1");
    assert_eq!(value_on(&b).await, "v1");
    // A change that sends no notice (made behind Ridge's back) is not seen
    // while the cached value is fresh: B keeps its cache and its LISTEN
    // connection rather than dropping and re-opening them.
    let Backend::Postgres(database) = &backend else {
        unreachable!("the test runs on PostgreSQL")
    };
    database.execute("UPDATE ridge_kv_entries SET value = 'unnoticed'::bytea");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(value_on(&b).await, "v1", "B dropped its cache unprompted");

    for next in ["v2", "v3"] {
        write_on(&a, next).await;
        let written = Instant::now();
        loop {
            if value_on(&b).await == next {
                break;
            }
            assert!(
                written.elapsed() < PROPAGATION_BOUND,
                "node B still served a stale value {PROPAGATION_BOUND:?} after the write"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    // Deletes travel the same way.
    let response = http1()
        .get(a.ridge.url("/delete?key=shared"))
        .header("host", "kv.localhost")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let deleted = Instant::now();
    while value_on(&b).await != Value::Null {
        assert!(
            deleted.elapsed() < PROPAGATION_BOUND,
            "node B still served a deleted key {PROPAGATION_BOUND:?} after the delete"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
