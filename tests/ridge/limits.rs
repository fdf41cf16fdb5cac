//! A worker that exceeds a limit is stopped with a 503 naming the limit, its
//! isolate is replaced, and nothing else is affected.

use crate::support::{fixture, http1, serve, Ridge, TempDir};

async fn get(ridge: &Ridge, path: &str) -> (u16, String) {
    ridge.get_host("limits.test", path).await
}

#[tokio::test]
async fn an_endless_loop_hits_the_cpu_limit_and_the_next_request_succeeds() {
    let ridge = Ridge::dev(&fixture("limits"), &[]);
    for path in ["/spin", "/spin-async"] {
        let (status, body) = get(&ridge, path).await;
        assert_eq!(status, 503, "{path}: {body}");
        assert_eq!(
            body,
            "worker exceeded its CPU time limit (50 ms) \
             (limits are as in production; ridge dev --no-limits relaxes them)\n",
            "{path}"
        );
        assert_eq!(
            get(&ridge, "/ok").await,
            (200, "ok".to_string()),
            "a fresh isolate serves the next request"
        );
        // The request's record has the status the client got.
        let line = ridge.wait_for_log(&format!("GET {path} 503"));
        assert!(line.contains("exceeded CPU"), "{line}");
    }
}

#[tokio::test]
async fn heap_bombs_hit_the_memory_limit_without_killing_the_process() {
    // The fixture's CPU limit is far above what filling 64 MiB takes, so
    // only the memory check can stop these. (Wasm memory is not counted
    // yet: V8 allocates it outside both the heap and the ArrayBuffer
    // allocator; bounding its growth is part of the hardening work.)
    let ridge = Ridge::dev(&fixture("heap-bombs"), &[]);
    for path in ["/objects", "/strings", "/arraybuffers"] {
        let (status, body) = ridge.get_host("bombs.test", path).await;
        assert_eq!(status, 503, "{path}: {body}");
        assert_eq!(
            body,
            "worker exceeded its memory limit (64 MiB) \
             (limits are as in production; ridge dev --no-limits relaxes them)\n",
            "{path}"
        );
        assert_eq!(
            ridge.get_host("bombs.test", "/ok").await,
            (200, "ok".to_string()),
            "after {path}"
        );
    }
}

#[tokio::test]
async fn a_handler_that_never_responds_hits_the_wall_clock_limit() {
    let ridge = Ridge::dev(&fixture("limits"), &[]);
    let (status, body) = get(&ridge, "/never").await;
    assert_eq!(status, 503);
    assert_eq!(
        body,
        "worker exceeded its wall-clock time limit (1500 ms) \
         (limits are as in production; ridge dev --no-limits relaxes them)\n"
    );
    // The request is over for the isolate too: logged, not kept open.
    let line = ridge.wait_for_log("GET /never 503");
    assert!(line.contains("exceeded wall clock"), "{line}");
    assert_eq!(get(&ridge, "/ok").await, (200, "ok".to_string()));
}

#[tokio::test]
async fn a_top_level_infinite_loop_fails_the_start_with_a_clear_message() {
    let ridge = Ridge::dev(&fixture("top-level-loop.js"), &[]);
    let (status, body) = get(&ridge, "/").await;
    assert_eq!(status, 503);
    assert!(
        body.contains("worker exceeded its startup CPU time limit (400 ms)"),
        "{body}"
    );
}

#[tokio::test]
async fn a_subrequest_limit_of_zero_refuses_every_fetch() {
    let dir = TempDir::new();
    std::fs::write(
        dir.path().join("ridge.toml"),
        "name = \"no-fetch\"\nmain = \"index.js\"\n[limits]\nsubrequests = 0\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("index.js"),
        "export default { async fetch() {\n\
           try { await fetch('http://127.0.0.1:9/'); return new Response('fetched'); }\n\
           catch (error) { return new Response(error.message); }\n\
         } };\n",
    )
    .unwrap();
    let ridge = Ridge::dev(dir.path(), &[]);
    assert_eq!(
        ridge.text("/").await,
        "Too many subrequests: a worker may call fetch() at most 0 times per request"
    );
}

#[tokio::test]
async fn the_51st_subrequest_fails() {
    let ridge = Ridge::dev(&fixture("limits"), &[]);
    let (status, body) = get(&ridge, "/subrequests").await;
    assert_eq!(status, 200, "{body}");
    let errors: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        !errors["first"]
            .as_str()
            .unwrap()
            .contains("Too many subrequests"),
        "{errors}"
    );
    assert_eq!(
        errors["last"],
        "Too many subrequests: a worker may call fetch() at most 50 times per request"
    );
}

#[tokio::test]
async fn eval_and_new_function_throw() {
    let ridge = Ridge::dev(&fixture("limits"), &[]);
    let (_, body) = get(&ridge, "/eval").await;
    let attempts: serde_json::Value = serde_json::from_str(&body).unwrap();
    for name in ["eval", "Function"] {
        let outcome = attempts[name].as_str().unwrap();
        assert!(
            outcome.starts_with("EvalError: Code generation from strings disallowed"),
            "{name}: {outcome}"
        );
    }
}

#[tokio::test]
async fn no_shared_memory_and_the_clock_stands_still_while_js_runs() {
    let ridge = Ridge::dev(&fixture("limits"), &[]);
    let (_, body) = get(&ridge, "/shared-memory").await;
    assert_eq!(
        body,
        r#"{"SharedArrayBuffer":"undefined","wait":"undefined"}"#
    );
    let (_, body) = get(&ridge, "/clock").await;
    assert_eq!(body, r#"{"sameTurn":true,"advanced":true,"x":true}"#);
}

#[tokio::test]
async fn oversized_requests_get_413_414_and_431() {
    let ridge = Ridge::dev(&fixture("limits"), &[]);
    let client = http1();
    let long_url = ridge.url(&format!("/ok?{}", "a".repeat(17 * 1024)));
    assert_eq!(client.get(long_url).send().await.unwrap().status(), 414);
    let big_header = "h".repeat(130 * 1024);
    assert_eq!(
        client
            .get(ridge.url("/ok"))
            .header("x-big", big_header)
            .send()
            .await
            .unwrap()
            .status(),
        431
    );
    // Declared too large: refused before the worker runs.
    let response = client
        .post(ridge.url("/upload"))
        .body(vec![0u8; 2 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert!(response.text().await.unwrap().contains("1 MiB limit"));
    // Streamed without a length: cut off once it passes the limit.
    let chunks =
        futures::stream::iter((0..40).map(|_| Ok::<_, std::io::Error>(vec![1u8; 64 * 1024])));
    let response = client
        .post(ridge.url("/upload"))
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    // Within the limit it is fine.
    let response = client
        .post(ridge.url("/upload"))
        .body(vec![0u8; 1000])
        .send()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "got 1000 bytes");
}

#[tokio::test]
async fn serve_refuses_fetches_to_private_and_metadata_addresses() {
    let ridge = serve(&[("limits", fixture("limits"))], &[]);
    for target in [
        "http://127.0.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost/",
        "http://[::1]/",
        "http://10.0.0.1/",
    ] {
        let (status, body) = get(&ridge, &format!("/outbound?to={target}")).await;
        assert_eq!(status, 502, "{target}: {body}");
        assert!(
            body.contains("refused") && body.contains("workers may not reach"),
            "{target}: {body}"
        );
    }
}

#[tokio::test]
async fn the_outbound_allow_list_opens_a_private_host() {
    let target = Ridge::dev(&fixture("limits"), &[]);
    let ridge = serve(
        &[("limits", fixture("limits"))],
        &["--allow-outbound", "127.0.0.1"],
    );
    let (status, body) = get(
        &ridge,
        &format!("/outbound?to=http://127.0.0.1:{}/ok", target.addr.port()),
    )
    .await;
    assert_eq!(
        (status, body.as_str()),
        (
            200,
            format!("reached http://127.0.0.1:{}/ok: 200", target.addr.port()).as_str()
        )
    );
}

#[tokio::test]
async fn another_worker_keeps_answering_while_one_spins() {
    let ridge = serve(
        &[
            ("limits", fixture("limits")),
            ("hello", crate::support::root().join("workers/hello")),
        ],
        &["--isolate-threads", "2"],
    );
    let client = http1();
    let spinner = {
        let (client, url) = (client.clone(), ridge.url("/spin"));
        tokio::spawn(async move {
            for _ in 0..5 {
                let response = client
                    .get(&url)
                    .header("host", "limits.test")
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 503);
            }
        })
    };
    for _ in 0..20 {
        let response = client
            .get(ridge.url("/?name=neighbour"))
            .header("host", "hello.localhost")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await.unwrap(), "Hello, neighbour!\n");
    }
    spinner.await.unwrap();
}

#[tokio::test]
async fn no_limits_lets_a_busy_request_finish_in_dev() {
    let limited = Ridge::dev(&fixture("limits"), &[]);
    assert_eq!(get(&limited, "/busy").await.0, 503);
    let relaxed = Ridge::dev(&fixture("limits"), &["--no-limits"]);
    assert_eq!(get(&relaxed, "/busy").await, (200, "busy true".to_string()));
}
