//! HTTP fidelity over h1, h2c and h2 with TLS: URLs, headers, status codes,
//! HEAD, and protocol negotiation.

use std::time::Duration;

use reqwest::Version;

use crate::support::{fixture, h2c, http1, https, raw_http1, Ridge};

#[tokio::test]
async fn request_reaches_the_worker_faithfully_over_h1_h2c_and_h2() {
    let plain = Ridge::dev(&fixture("http.js"), &[]);
    let tls = Ridge::dev(&fixture("http.js"), &["--https"]);
    for (client, ridge, version, scheme) in [
        (http1(), &plain, Version::HTTP_11, "http"),
        (h2c(), &plain, Version::HTTP_2, "http"),
        (https(), &tls, Version::HTTP_2, "https"),
    ] {
        let response = client
            .put(ridge.url("/reflect?x=1&y=two%20words"))
            .header("x-repeated", "a")
            .header("x-custom", "Value With Case")
            .header("cookie", "session=1")
            .body("payload")
            .send()
            .await
            .unwrap();
        assert_eq!(response.version(), version);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["method"], "PUT");
        assert_eq!(
            body["url"],
            format!("{scheme}://{}/reflect?x=1&y=two%20words", ridge.addr),
            "{version:?}"
        );
        assert_eq!(body["body"], "payload");
        let headers = body["headers"].as_array().unwrap();
        let has = |name: &str, value: &str| headers.iter().any(|h| h[0] == name && h[1] == value);
        assert!(has("x-custom", "Value With Case"), "{headers:?}");
        assert!(has("cookie", "session=1"), "{headers:?}");
    }
}

#[tokio::test]
async fn repeated_request_headers_reach_the_worker() {
    let ridge = Ridge::dev(&fixture("http.js"), &[]);
    let response = http1()
        .get(ridge.url("/reflect"))
        .header("x-multi", "one")
        .header("x-multi", "two")
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = response.json().await.unwrap();
    let headers = body["headers"].as_array().unwrap();
    assert!(
        headers
            .iter()
            .any(|h| h[0] == "x-multi" && h[1] == "one, two"),
        "{headers:?}"
    );
}

#[tokio::test]
async fn repeated_response_headers_and_several_set_cookies_reach_the_client() {
    let ridge = Ridge::dev(&fixture("http.js"), &[]);
    for client in [http1(), h2c()] {
        let response = client.get(ridge.url("/cookies")).send().await.unwrap();
        let cookies: Vec<_> = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(cookies, ["a=1; Path=/", "b=2; HttpOnly"]);
        assert_eq!(response.headers()["x-list"], "one, two");
    }
}

#[tokio::test]
async fn status_codes_and_status_text() {
    let ridge = Ridge::dev(&fixture("http.js"), &[]);
    let client = http1();
    for code in [200u16, 201, 204, 304, 400, 404, 418, 451, 503, 599] {
        let response = client
            .get(ridge.url(&format!("/status?code={code}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), code);
        let body = response.text().await.unwrap();
        if [204, 304].contains(&code) {
            assert_eq!(body, "");
        } else {
            assert_eq!(body, format!("status {code}"));
        }
    }
    // A custom reason phrase reaches HTTP/1.1 clients on the status line.
    let raw = raw_http1(
        ridge.addr,
        "GET /status?code=299&text=Quite%20Fine HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(raw.starts_with("HTTP/1.1 299 "), "{raw}");
    let redirect = crate::support::client()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = redirect.get(ridge.url("/redirect")).send().await.unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(
        response.headers()["location"],
        "https://example.com/elsewhere"
    );
}

#[tokio::test]
async fn static_responses_keep_their_body_type_and_status_text() {
    // Text or bytes with at most a content type go out without building a
    // header list (js/10_worker.js, sendStaticResponse): each detail must
    // still reach the client, and a body must still go out only once.
    let ridge = Ridge::dev(&fixture("http.js"), &[]);
    let client = http1();
    let cases = [
        ("/static/text", "plain", Some("text/plain;charset=UTF-8")),
        ("/static/json-type", "{}", Some("application/json")),
        ("/static/bytes", "hi", None),
        ("/static/json", "{\"ok\":true}", Some("application/json")),
        ("/static/headers-changed", "changed", Some("text/plain")),
    ];
    for (path, body, content_type) in cases {
        let response = client.get(ridge.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let seen = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string());
        assert_eq!(seen.as_deref(), content_type, "{path}");
        if path == "/static/headers-changed" {
            assert_eq!(response.headers()["x-added"], "after");
        }
        assert_eq!(response.text().await.unwrap(), body, "{path}");
    }
    let raw = raw_http1(
        ridge.addr,
        "GET /static/reason HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(raw.starts_with("HTTP/1.1 200 Quite Fine\r\n"), "{raw}");
    assert!(raw.ends_with("\r\n\r\nfine"), "{raw}");
    for path in ["/static/read-first", "/static/reused"] {
        let response = client.get(ridge.url(path)).send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        if path == "/static/reused" {
            // The first time it goes out whole.
            assert_eq!((status, text.as_str()), (200, "sent once"));
            let response = client.get(ridge.url(path)).send().await.unwrap();
            assert_eq!(response.status(), 500);
            let text = response.text().await.unwrap();
            assert!(text.contains("already been used"), "{text}");
        } else {
            assert_eq!(status, 500, "{path}");
            assert!(text.contains("already been used"), "{path}: {text}");
        }
    }
}

#[tokio::test]
async fn head_responses_have_headers_but_no_body() {
    let ridge = Ridge::dev(&fixture("http.js"), &[]);
    let raw = raw_http1(
        ridge.addr,
        "HEAD /length HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("x-kind: fixed"),
        "{head}"
    );
    assert!(
        head.to_ascii_lowercase().contains("content-length: 12"),
        "{head}"
    );
    assert_eq!(body, "");
    let response = h2c().head(ridge.url("/length")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap().len(), 0);
}

#[tokio::test]
async fn tls_negotiates_http1_when_the_client_asks_for_it() {
    let ridge = Ridge::dev(&fixture("http.js"), &["--https"]);
    let client = crate::support::client().http1_only().build().unwrap();
    let response = client.get(ridge.url("/length")).send().await.unwrap();
    assert_eq!(response.version(), Version::HTTP_11);
    assert_eq!(response.text().await.unwrap(), "twelve bytes");
}

#[tokio::test]
async fn incoming_requests_clone_and_derive_like_any_request() {
    let ridge = Ridge::dev(&fixture("http.js"), &[]);
    let response = http1()
        .post(ridge.url("/clone?q=1"))
        .body("payload")
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["method"], "POST");
    assert_eq!(body["url"], ridge.url("/clone?q=1"));
    assert_eq!(body["body"], "payload");
    assert_eq!(body["derivedHeader"], "yes");
    assert_eq!(body["derivedMethod"], "POST");
    assert_eq!(body["aborted"], false);
}

// Multi-threaded: the requests go on while the test waits for the logs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_lets_requests_in_flight_finish_over_h1_and_h2() {
    let mut ridge = Ridge::dev(&fixture("http.js"), &[]);
    let slow = ridge.url("/slow?ms=1500");
    let over_h1 = tokio::spawn(http1().get(slow.clone()).send());
    let over_h2 = tokio::spawn(h2c().get(slow).send());
    ridge.wait_for_logs("slow request started", 2);
    ridge.interrupt();
    for (protocol, request) in [("h1", over_h1), ("h2", over_h2)] {
        let response = request
            .await
            .unwrap()
            .unwrap_or_else(|error| panic!("{protocol}: the request in flight failed: {error}"));
        assert_eq!(response.status(), 200, "{protocol}");
        assert_eq!(response.text().await.unwrap(), "answered after 1500 ms");
    }
    let status = ridge
        .wait_for_exit(Duration::from_secs(15))
        .expect("ridge exits once its requests are done");
    assert!(status.success(), "{status}");
    assert!(
        std::net::TcpStream::connect(ridge.addr).is_err(),
        "nothing listens after shutdown"
    );
}
