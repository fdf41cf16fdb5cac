//! Broken workers: errors reach the developer, the process survives.

use crate::support::{fixture, http1, serve, Ridge};

/// The body of the answer to `path`, which must be a 500.
async fn error_body(ridge: &Ridge, path: &str) -> String {
    let response = http1().get(ridge.url(path)).send().await.unwrap();
    assert_eq!(response.status(), 500, "{path}");
    response.text().await.unwrap()
}

#[tokio::test]
async fn handler_errors_are_500s_with_the_stack_in_dev() {
    let ridge = Ridge::dev(&fixture("errors"), &[]);
    let cases = [
        ("/throw", "Error: thrown from the handler"),
        ("/reject", "TypeError: rejected promise"),
        (
            "/not-a-response",
            "returned an object (Object) instead of a Response",
        ),
        ("/undefined", "returned undefined instead of a Response"),
        ("/throw-string", "a bare string"),
    ];
    for (path, expected) in cases {
        let body = error_body(&ridge, path).await;
        assert!(body.contains(expected), "{path}: {body}");
        if path == "/throw" {
            assert!(
                body.contains("index.js:6:"),
                "stack trace with file and line: {body}"
            );
            assert!(
                !body.contains("ext:"),
                "Ridge's internal frames are hidden: {body}"
            );
        }
    }
    // The isolate survived all of it.
    assert_eq!(ridge.text("/").await, "ok");
    assert!(ridge.logs().contains("thrown from the handler"));
}

#[tokio::test]
async fn a_synchronous_handler_fails_and_answers_like_an_async_one() {
    // Ridge sends a Response returned synchronously without awaiting it;
    // everything else still goes through a promise.
    let ridge = Ridge::dev(&fixture("sync-handler"), &[]);
    let failures = [
        ("/throw", "Error: thrown synchronously"),
        ("/not-a-response", "returned a string instead of a Response"),
        ("/undefined", "returned undefined instead of a Response"),
        ("/then-getter-throws", "then getter threw"),
        ("/proxy", "getPrototypeOf trap threw"),
    ];
    for (path, expected) in failures {
        let body = error_body(&ridge, path).await;
        assert!(body.contains(expected), "{path}: {body}");
    }
    assert_eq!(ridge.text("/thenable").await, "from a thenable");
    assert_eq!(
        ridge.text("/wait-until").await,
        "answered before the waitUntil work"
    );
    ridge.wait_for_log("waitUntil done");
    // The isolate survived all of it.
    assert_eq!(ridge.text("/").await, "ok");
}

#[tokio::test]
async fn unhandled_rejections_and_timer_exceptions_are_logged_not_fatal() {
    let ridge = Ridge::dev(&fixture("errors"), &[]);
    let client = http1();
    assert_eq!(ridge.text("/unhandled").await, "still fine");
    ridge.wait_for_log("nobody awaits this");
    let response = client.get(ridge.url("/timer-throws")).send().await.unwrap();
    assert_eq!(response.text().await.unwrap(), "timer threw; isolate alive");
    ridge.wait_for_log("thrown in a timer");
    assert_eq!(ridge.text("/").await, "ok");
}

#[tokio::test]
async fn console_output_is_tagged_with_worker_and_request() {
    let ridge = Ridge::dev(&fixture("errors"), &[]);
    http1().get(ridge.url("/warn")).send().await.unwrap();
    let line = ridge.wait_for_log("handling /warn");
    assert!(line.contains("worker=\"errors\""), "{line}");
    assert!(line.contains("request="), "{line}");
    assert!(ridge.wait_for_log("careful").contains("WARN"));
    assert!(ridge.wait_for_log("bad things").contains("ERROR"));
}

#[tokio::test]
async fn syntax_errors_name_module_line_and_column() {
    let ridge = Ridge::dev(&fixture("syntax-error.js"), &[]);
    let response = http1().get(ridge.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 500);
    let body = response.text().await.unwrap();
    assert!(body.contains("SyntaxError"), "{body}");
    assert!(
        body.contains("syntax-error.js:4:"),
        "module, line and column: {body}"
    );
}

#[tokio::test]
async fn a_missing_import_is_named() {
    let ridge = Ridge::dev(&fixture("missing-import"), &[]);
    let body = ridge.text("/").await;
    assert!(
        body.contains("index.js:1: cannot import \"./helpers/missing.js\": no such file"),
        "{body}"
    );
}

#[tokio::test]
async fn workers_without_a_handler_or_with_a_failing_top_level_are_reported() {
    let ridge = Ridge::dev(&fixture("no-handler.js"), &[]);
    let body = ridge.text("/").await;
    assert!(body.contains("no fetch handler"), "{body}");

    let ridge = Ridge::dev(&fixture("top-level-throw.js"), &[]);
    let response = http1().get(ridge.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 500);
    let body = response.text().await.unwrap();
    assert!(
        body.contains("SyntaxError") && body.contains("top-level-throw.js:1:"),
        "{body}"
    );
}

#[tokio::test]
async fn serve_mode_hides_error_details_from_clients() {
    let ridge = serve(&[("errors", fixture("errors"))], &[]);
    let response = http1()
        .get(ridge.url("/throw"))
        .header("host", "errors.test")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    let body = response.text().await.unwrap();
    assert_eq!(body, "Internal Server Error\n");
    ridge.wait_for_log("thrown from the handler");
    assert!(
        ridge.logs().contains("index.js:6:"),
        "the log has the stack trace"
    );
}
