//! Service bindings and JavaScript RPC between workers of one node
//! (fixtures/workers/services): `ridge dev` with several `-c`, and
//! `ridge serve --workers`, and nodes sharing PostgreSQL.

use std::time::{Duration, Instant};

use futures::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

use crate::control::{Backend, Node};
use crate::support::{fixture, http1, serve, Ridge};
use crate::websocket::{close_code, next};

/// `ridge dev` running the front worker on the port and the others beside it.
fn dev_services() -> Ridge {
    dev_services_with(&[])
}

fn dev_services_with(extra: &[&str]) -> Ridge {
    let config = |name: &str| {
        fixture("services")
            .join(name)
            .join("wrangler.toml")
            .display()
            .to_string()
    };
    let mut args = vec!["dev".to_string(), "--port".into(), "0".into()];
    for name in ["front", "auth", "handlers"] {
        args.extend(["-c".to_string(), config(name)]);
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    Ridge::start(&args)
}

#[tokio::test]
async fn fetch_over_a_service_binding_streams_both_ways() {
    let ridge = dev_services();
    assert_eq!(
        ridge.text("/hello").await,
        "200 yes: GET /hello?x=1 from front"
    );
    // A binding to a named entrypoint reaches that class's fetch().
    assert_eq!(ridge.text("/admin").await, "200 yes: admin got POST hi");
    // 16 MiB up to the front worker, on to auth, and back: both bodies
    // stream through the two isolates.
    let body: Vec<u8> = (0..16u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let response = http1()
        .post(ridge.url("/echo"))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-auth"], "echo");
    assert_eq!(response.headers()["x-seen-from"], "front");
    let echoed = response.bytes().await.unwrap();
    assert_eq!(echoed.len(), body.len());
    assert!(echoed == body, "the echoed body differs");
    // The callee's record names its caller; the caller's counts the call.
    let callee = ridge.wait_for_log_with(&["POST /echo 200", "worker=auth"]);
    assert!(
        callee.contains("route=service binding of front"),
        "{callee}"
    );
    let caller = ridge.wait_for_log_with(&["POST /echo 200", "worker=front"]);
    assert!(caller.contains("subrequests=1"), "{caller}");
}

#[tokio::test]
async fn a_failing_callee_is_a_500_for_the_caller() {
    let ridge = dev_services();
    let response = http1().get(ridge.url("/throws")).send().await.unwrap();
    assert_eq!(response.status(), 500);
    assert_eq!(response.text().await.unwrap(), "Worker threw exception");
    ridge.wait_for_log("the callee failed");
    // Both workers serve on.
    assert_eq!(
        ridge.text("/hello").await,
        "200 yes: GET /hello?x=1 from front"
    );
}

#[tokio::test]
async fn rpc_calls_the_callees_methods() {
    let ridge = dev_services();
    let answers = ridge.json("/rpc").await;
    assert_eq!(
        answers,
        json!({
            "verify": {
                "ok": true,
                "extra": { "roles": ["a", "b"] },
                "role": "auth-var",
                "date": "1970-01-01T00:00:00.000Z",
                "map": [["k", 1]],
                "bytes": [1, 2, 3],
            },
            "thrown": "RangeError: out of range in the callee",
            "missing": "TypeError: The RPC receiver does not implement the method \"nope\".",
            "ownField": "TypeError: The RPC receiver does not implement the method \"field\".",
            "private": "TypeError: The RPC receiver does not implement the method \"#secret\".",
            "reserved": "TypeError: 'alarm' is a reserved method and cannot be called over RPC.",
            "pipelined": { "name": "user 7", "id": 7, "tags": "a-b", "calls": 1 },
            "messages": {
                "method": "PUT",
                "url": "https://example.com/submit?x=1",
                "type": "text/plain",
                "body": "the body",
                "extra": "yes",
                "status": 201,
                "made": "auth",
                "text": "made by auth",
            },
            "property": "v1 of auth-var",
            "ownProperty": "TypeError: The RPC receiver does not implement the method \"field\".",
            "returnsFunction": 42,
            "session": ["session of ann", "ann"],
            "pipelinedStub": "session of bo",
            "dup": "session of cy",
            "disposedStub": "Error: RPC stub used after being disposed.",
            "resultDisposal": ["hello x", "RPC stub used after being disposed."],
            "entrypoint": "admin, ROLE=auth-var, props={\"tier\":\"gold\"}",
            "handler": 42,
            "handlerArgs": "TypeError: Attempted to call RPC function \"double\" with the wrong number of arguments. When calling a top-level handler function that is not declared as part of a class, you must always send exactly one argument. In order to support variable numbers of arguments, the server must use class-based syntax (extending WorkerEntrypoint) instead.",
            "callback": 41,
            "asyncCallback": 401,
            "target": 5,
            "callbackThrows": "TypeError: thrown by the caller's callback",
            "staleStub": "Error: RPC stub used after being disposed.",
            "handlerArity": "TypeError: Cannot call handler function \"add\" over RPC because it has the wrong number of arguments. A simple function handler can only be called over RPC if it has exactly the arguments (arg, env, ctx), where only the first argument comes from the client. To support multi-argument RPC functions, use class-based syntax (extending WorkerEntrypoint) instead.",
        })
    );
    let call = ridge.wait_for_log("RPC verify ok");
    assert!(
        call.contains("worker=auth") && call.contains("event=\"rpc\""),
        "{call}"
    );
}

#[tokio::test]
async fn a_services_websocket_is_passed_on_to_the_client() {
    let ridge = dev_services();
    let (mut socket, response) =
        tokio_tungstenite::connect_async(format!("ws://{}/ws", ridge.addr))
            .await
            .expect("WebSocket handshake");
    assert_eq!(response.status(), 101);
    assert_eq!(response.headers()["x-auth"], "ws");
    for text in ["one", "two"] {
        socket.send(Message::text(text)).await.unwrap();
        assert_eq!(
            next(&mut socket).await,
            Message::text(format!("auth got {text}"))
        );
    }
    // The service closes.
    socket.send(Message::text("close")).await.unwrap();
    assert_eq!(
        close_code(next(&mut socket).await),
        (4001, "auth closes".into())
    );
    // The client closes: the service hears it.
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws", ridge.addr))
        .await
        .expect("WebSocket handshake");
    socket
        .close(Some(CloseFrame {
            code: CloseCode::from(4002),
            reason: "client done".into(),
        }))
        .await
        .unwrap();
    ridge.wait_for_log("auth saw close 4002 client done");
}

#[tokio::test]
async fn stubs_in_results_live_until_disposed_of_or_the_request_ends() {
    let ridge = dev_services();
    // Disposed of by the caller (`using`, dup(), the result's disposer),
    // or, for the pipelined call's session ("bo"), when its request ended.
    assert_eq!(ridge.json("/rpc").await["dup"], "session of cy");
    wait_for_disposals(&ridge, &["a", "ann", "b", "bo", "cy", "di"]).await;
    // Never disposed of: released when the request holding it ends.
    assert_eq!(ridge.text("/hold?user=held").await, "session of held");
    wait_for_disposals(&ridge, &["a", "ann", "b", "bo", "cy", "di", "held"]).await;
}

/// Waits until the callee has disposed of exactly the sessions `users`
/// (its disposals happen as the caller's messages arrive, after the
/// caller's response).
async fn wait_for_disposals(ridge: &Ridge, users: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut disposed: Vec<String> =
            serde_json::from_value(ridge.json("/disposed").await).unwrap();
        disposed.sort();
        if disposed == users {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "disposed {disposed:?}, expected {users:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn streams_cross_rpc_both_ways_as_they_are_made() {
    // Debug builds spend more CPU per chunk than the limit allows for 50 MiB.
    let ridge = dev_services_with(&["--no-limits"]);
    assert_eq!(
        ridge.json("/stream?mib=50").await,
        json!({ "made": 800, "label": "upload", "bytes": 50 << 20, "misplaced": 0 })
    );
    // A WritableStream passed to the callee gets what it writes.
    assert_eq!(
        ridge.json("/writable?mib=8").await,
        json!({ "written": 128, "bytes": 8 << 20, "misplaced": 0 })
    );
    // And one a method returns, streamed on to the client.
    let body = http1()
        .get(ridge.url("/download?mib=16"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(body.len(), 16 << 20);
    let misplaced = body
        .chunks(65536)
        .enumerate()
        .filter(|(k, chunk)| chunk.iter().any(|&b| b != ((k * 7) & 255) as u8))
        .count();
    assert_eq!(misplaced, 0);
}

#[tokio::test]
async fn calls_nest_at_most_32_deep() {
    let ridge = serve(&[("recursive", fixture("services/recursive"))], &[]);
    let (status, body) = ridge.get_host("recursive.test", "/").await;
    assert_eq!(status, 200, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        answer,
        json!({
            "deepest": 32,
            "error": "Subrequest depth limit exceeded: service bindings may call each other at most 32 deep",
        })
    );
}

#[test]
fn a_binding_to_a_worker_not_run_stops_the_start() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ridge"))
        .args(["dev", "--port", "0", "-c"])
        .arg(fixture("services/front/wrangler.toml"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("error: worker front: service binding AUTH names worker \"auth\", which is not among the workers run here"),
        "{stderr}"
    );
}

#[tokio::test]
async fn workers_deployed_on_one_node_call_each_other_on_another_through_postgres() {
    let backend = Backend::postgres();
    let (a, b) = (Node::start(&backend), Node::start(&backend));
    let deploy = |name: &str| {
        let dir = fixture("services").join(name).display().to_string();
        a.cli(&["deploy", &dir], None)
    };
    // A binding to a worker the store does not have is refused at upload.
    let (ok, out) = deploy("front");
    assert!(!ok, "{out}");
    assert!(
        out.contains(
            "`services[0]` binds AUTH to worker \"auth\", which does not exist; deploy it first"
        ),
        "{out}"
    );
    for name in ["auth", "handlers", "front"] {
        let (ok, out) = deploy(name);
        assert!(ok, "{name}: {out}");
    }
    // Node B serves them from the shared store, and the calls stay on it.
    let deployed = Instant::now();
    loop {
        let (status, body) = b.get("front.localhost", "/hello").await;
        if status == 200 {
            assert_eq!(body, "200 yes: GET /hello?x=1 from front");
            break;
        }
        assert!(
            deployed.elapsed() < Duration::from_secs(5),
            "{status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, body) = b.get("front.localhost", "/rpc").await;
    assert_eq!(status, 200, "{body}");
    let answers: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        answers["entrypoint"],
        "admin, ROLE=auth-var, props={\"tier\":\"gold\"}"
    );
    assert_eq!(answers["thrown"], "RangeError: out of range in the callee");
}
