//! Attacks on a running node, one class per test (issue 20's list): each
//! asserts that the attack is contained — the status and message it gets,
//! the process alive, other clients served, and CPU, memory and log
//! volume within stated bounds. Bounds are generous for a noisy machine
//! and far below what the unprotected behaviour produced.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::control::{Backend, Node};
use crate::observability::metric;
use crate::support::{cpu_time, fixture, http1, peak_rss, raw_http1, serve, Ridge, TempDir};

/// A connection to `addr` from the loopback address `from` (any of
/// 127.0.0.0/8 works on Linux), so that tests can be several clients.
async fn connect_from(from: [u8; 4], addr: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((from, 0)))?;
    socket.connect(addr).await
}

/// Whether the server closes `stream` within `within`, reading (and
/// discarding) what it sends until then.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buffer = [0u8; 4096];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

/// A plain GET over a fresh connection from `from`: the status line.
async fn get_from(from: [u8; 4], addr: SocketAddr, path: &str) -> std::io::Result<String> {
    let mut stream = connect_from(from, addr).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let text = String::from_utf8_lossy(&response).into_owned();
    Ok(text.lines().next().unwrap_or_default().to_string())
}

// ---- 1. connections: caps, timeouts, accept back-off --------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_and_idle_connections_are_closed() {
    let ridge = Ridge::dev(
        &fixture("adversarial"),
        &["--header-timeout", "1", "--idle-timeout", "1"],
    );
    // Slowloris: a byte of headers every 200 ms, never the end of them.
    let mut slow = TcpStream::connect(ridge.addr).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .unwrap();
    let dripping = async {
        for _ in 0..30 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if slow.write_all(b"X").await.is_err() {
                return;
            }
        }
    };
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(5), dripping)
        .await
        .unwrap();
    let mut slow = slow;
    assert!(closed_within(&mut slow, Duration::from_secs(1)).await);
    assert!(started.elapsed() < Duration::from_secs(4));

    // An HTTP/2 connection that says nothing after its preface, and an
    // HTTP/1.1 keep-alive connection idle after its request.
    let mut h2 = TcpStream::connect(ridge.addr).await.unwrap();
    h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .unwrap();
    let mut keep_alive = TcpStream::connect(ridge.addr).await.unwrap();
    keep_alive
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    // Idle is noticed within two checks (2 s); the HTTP/2 client never
    // answers the GOAWAY, so it is dropped two checks later.
    assert!(closed_within(&mut keep_alive, Duration::from_secs(3)).await);
    assert!(closed_within(&mut h2, Duration::from_secs(4)).await);
    // Still serving.
    assert_eq!(ridge.text("/").await, "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_client_cannot_take_every_connection() {
    let backend = Backend::sqlite();
    let node = Node::start_with(&backend, &["--max-connections-per-client", "50"], &[]);
    let addr = node.ridge.addr;
    // The attacker, 127.0.0.1, holds 200 idle connections: 50 stay open,
    // the rest are closed at once.
    let mut attacker = Vec::new();
    for _ in 0..200 {
        attacker.push(connect_from([127, 0, 0, 1], addr).await.unwrap());
    }
    // Let the listener take them all before looking.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut closed = 0;
    for stream in &mut attacker {
        if closed_within(stream, Duration::from_millis(20)).await {
            closed += 1;
        }
    }
    assert_eq!(closed, 150);
    // Another client is served meanwhile (no worker is routed: a 404).
    let status = get_from([127, 0, 0, 2], addr, "/").await.unwrap();
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    let refused = metric(
        &node,
        "ridge_connections_refused_total",
        &[("reason", "max_per_client")],
    )
    .await;
    assert_eq!(refused, 150.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_out_of_file_descriptors_backs_off_instead_of_spinning() {
    // 128 descriptors, and a connection cap above that, so that accept
    // itself fails.
    let args: Vec<String> = [
        "dev",
        "fixtures/workers/adversarial",
        "--port",
        "0",
        "--max-connections",
        "100000",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let ridge = Ridge::start_with_fd_limit(&args, 128);
    let mut attacker = Vec::new();
    for _ in 0..200 {
        match TcpStream::connect(ridge.addr).await {
            Ok(stream) => attacker.push(stream),
            Err(_) => break,
        }
    }
    let cpu_before = cpu_time(ridge.pid());
    tokio::time::sleep(Duration::from_secs(3)).await;
    let cpu_used = cpu_time(ridge.pid()) - cpu_before;
    // Unprotected, the accept loop spun a whole core (3 s here).
    assert!(cpu_used < Duration::from_millis(600), "{cpu_used:?}");
    let failures = ridge
        .logs()
        .lines()
        .filter(|line| line.contains("cannot accept connections"))
        .count();
    assert!((1..=2).contains(&failures), "{failures} log lines");
    // Once the descriptors are back, new clients are served within the
    // longest back-off.
    drop(attacker);
    let started = Instant::now();
    let status = loop {
        match tokio::time::timeout(Duration::from_secs(3), ridge.text("/")).await {
            Ok(text) => break text,
            Err(_) if started.elapsed() < Duration::from_secs(10) => continue,
            Err(_) => panic!("not served after the attack ended"),
        }
    };
    assert_eq!(status, "ok");
}

// ---- 5. the Host header -----------------------------------------------

#[tokio::test]
async fn hosts_that_would_rewrite_the_url_are_refused() {
    let ridge = serve(
        &[("wildcard", fixture("routes/wildcard"))],
        &["--base-domain", "workers.test"],
    );
    for host in [
        "evil.com#.example.test",
        "evil.com/.example.test",
        "evil.com?.example.test",
        "evil.com\\.example.test",
        "evil.com .example.test",
        "user@a.example.test",
    ] {
        let request = format!("GET /x HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        let raw = raw_http1(ridge.addr, &request).await;
        assert!(raw.starts_with("HTTP/1.1 400 "), "{host}: {raw}");
        assert!(
            raw.ends_with("The Host header is not a valid host\n"),
            "{raw}"
        );
    }
    let two_hosts =
        "GET /x HTTP/1.1\r\nHost: a.example.test\r\nHost: b.example.test\r\nConnection: close\r\n\r\n";
    let raw = raw_http1(ridge.addr, two_hosts).await;
    assert!(raw.starts_with("HTTP/1.1 400 "), "{raw}");
    assert!(
        raw.ends_with("The request has more than one Host header\n"),
        "{raw}"
    );
    let no_host = "GET /x HTTP/1.1\r\nConnection: close\r\n\r\n";
    let raw = raw_http1(ridge.addr, no_host).await;
    assert!(raw.ends_with("The request has no Host header\n"), "{raw}");
    // A well-formed one with a port still routes.
    let good = "GET /x HTTP/1.1\r\nHost: A.Example.Test:8080\r\nConnection: close\r\n\r\n";
    let raw = raw_http1(ridge.addr, good).await;
    assert!(raw.ends_with("wildcard /x"), "{raw}");
}

// ---- 6. the status on the wire -----------------------------------------

#[tokio::test]
async fn a_worker_cannot_put_an_informational_status_on_the_wire() {
    let ridge = Ridge::dev(&fixture("adversarial"), &[]);
    // Pipelined: the second request must still be answered.
    let raw = raw_http1(
        ridge.addr,
        "GET /status-101 HTTP/1.1\r\nHost: localhost\r\n\r\nGET /url HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(raw.starts_with("HTTP/1.1 500 "), "{raw}");
    assert!(
        raw.contains("The worker returned status 101; a response's status is 200 to 599\n"),
        "{raw}"
    );
    assert!(raw.ends_with("http://localhost/url"), "{raw}");
}

// ---- 7. errors that throw when described -------------------------------

#[tokio::test]
async fn errors_that_throw_when_described_fail_the_request_at_once() {
    let ridge = Ridge::dev(&fixture("adversarial"), &[]);
    for (path, expected) in [
        (
            "/throw-to-string",
            "a thrown object that cannot be described",
        ),
        ("/throw-proxy", "a thrown object that cannot be described"),
        ("/reject-proxy", "a thrown object that cannot be described"),
        // Asking whether it is a Response throws its trap's error.
        ("/return-proxy", "Error: trap"),
    ] {
        let started = Instant::now();
        let response = http1().get(ridge.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 500, "{path}");
        let body = response.text().await.unwrap();
        assert!(body.contains(expected), "{path}: {body}");
        // Unprotected, these waited out the 30 s wall clock.
        assert!(started.elapsed() < Duration::from_secs(5), "{path}");
    }
}

// ---- 13. HTTP/1.1 parsing ----------------------------------------------

#[tokio::test]
async fn malformed_http1_requests_get_a_4xx_or_501() {
    let ridge = Ridge::dev(&fixture("adversarial"), &[]);
    let bad_chunk = "POST /body HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\nhello\r\n0\r\n\r\n";
    let raw = raw_http1(ridge.addr, bad_chunk).await;
    assert!(raw.starts_with("HTTP/1.1 400 "), "{raw}");
    assert!(raw.contains("The request body could not be read"), "{raw}");

    let gzip_chunked = "POST /body HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    let raw = raw_http1(ridge.addr, gzip_chunked).await;
    assert!(raw.starts_with("HTTP/1.1 501 "), "{raw}");
    assert!(
        raw.ends_with("The request uses a transfer coding other than chunked\n"),
        "{raw}"
    );

    let long_method = format!(
        "{} / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        "A".repeat(100 * 1024)
    );
    let raw = raw_http1(ridge.addr, &long_method).await;
    assert!(raw.starts_with("HTTP/1.1 501 "), "{raw}");
    assert!(
        raw.ends_with("The request method is longer than 32 bytes\n"),
        "{raw}"
    );
    // A good request after all that.
    assert_eq!(ridge.text("/").await, "ok");
}

// ---- 2. Web Crypto work outside the CPU clock --------------------------

#[tokio::test]
async fn costly_crypto_is_refused_before_it_runs() {
    let ridge = Ridge::dev(&fixture("adversarial"), &[]);
    assert_eq!(
        ridge.text("/pbkdf2?iterations=200000000").await,
        "NotSupportedError: Pbkdf2 failed: iteration counts above 100000 are not supported (requested 200000000)."
    );
    assert_eq!(
        ridge.text("/pbkdf2?iterations=1000").await,
        "derived 32 bytes"
    );
    assert_eq!(
        ridge.text("/rsa?bits=16384").await,
        "NotSupportedError: RSA keys longer than 4096 bits are not supported (requested 16384)."
    );
}

// ---- 3. CPU after the response -----------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_left_running_after_the_response_is_stopped() {
    let ridge = Ridge::dev(&fixture("adversarial"), &[]);
    assert_eq!(ridge.text("/timer-loop").await, "answered");
    let before = cpu_time(ridge.pid());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let used = cpu_time(ridge.pid()) - before;
    // Unprotected, the timer loop kept 0.83 of a core busy (1.7 s here);
    // now it gets one request's CPU budget (the fixture's 500 ms), then its
    // isolate stops.
    assert!(used < Duration::from_millis(900), "{used:?}");
    let line = ridge.wait_for_log("isolate discarded");
    assert!(line.contains("exceeded its CPU time limit"), "{line}");
    assert_eq!(ridge.text("/").await, "ok");
}

// ---- 8 and 15. workers that keep failing are backed off ----------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_fails_to_start_is_not_restarted_for_every_request() {
    // `ridge dev` shows a worker that does not start without starting it
    // again; `ridge serve` with a folder starts it when a request comes.
    let dir = TempDir::new();
    let worker = dir.path().join("looping");
    std::fs::create_dir_all(&worker).unwrap();
    std::fs::write(
        worker.join("ridge.toml"),
        "name = \"looping\"\nmain = \"index.js\"\nroutes = [\"loop.test/*\"]\n",
    )
    .unwrap();
    std::fs::copy(fixture("top-level-loop.js"), worker.join("index.js")).unwrap();
    let ridge = serve(&[("looping", worker)], &["--isolate-threads", "1"]);
    let started = Instant::now();
    let mut answers = 0;
    while started.elapsed() < Duration::from_secs(3) {
        let (status, body) = ridge.get_host("loop.test", "/").await;
        assert_eq!(status, 503);
        assert!(body.contains("startup CPU time limit (400 ms)"), "{body}");
        answers += 1;
    }
    let starts = ridge
        .logs()
        .lines()
        .filter(|line| line.contains("worker failed to start"))
        .count();
    // Unprotected: a start (0.4 s of CPU) per request, 7 in 3 s. Backed
    // off 250 ms, 500 ms, 1 s, 2 s: at most 4 starts, and every other
    // request is answered from the cached error at once.
    assert!((2..=4).contains(&starts), "{starts} starts");
    assert!(answers >= 50, "{answers} answers");
}

#[tokio::test]
async fn a_worker_that_keeps_exceeding_its_limits_is_backed_off() {
    let ridge = Ridge::dev(&fixture("adversarial"), &[]);
    for attempt in 1..=4 {
        let response = http1().get(ridge.url("/spin")).send().await.unwrap();
        assert_eq!(response.status(), 503);
        let body = response.text().await.unwrap();
        assert!(
            body.starts_with("worker exceeded its CPU time limit (500 ms)"),
            "{attempt}: {body}"
        );
    }
    let response = http1().get(ridge.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    let body = response.text().await.unwrap();
    assert!(
        body.starts_with("worker is backed off for ")
            && body.contains("after exceeding its limits repeatedly"),
        "{body}"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(ridge.text("/").await, "ok");
}

// ---- 9. log amplification ----------------------------------------------

#[tokio::test]
async fn one_request_cannot_flood_the_log() {
    let ridge = Ridge::dev(&fixture("adversarial"), &[]);
    assert_eq!(ridge.text("/log-flood").await, "logged");
    ridge.wait_for_log("console output over 512 lines or 256 KiB in one request");
    let flood_lines = ridge
        .logs()
        .lines()
        .filter(|l| l.contains("flood flood"))
        .count();
    // 10,000 lines of 1.2 KB were asked for: 12 MB of log.
    assert!(flood_lines <= 512, "{flood_lines} lines");
    assert_eq!(ridge.text("/reject-flood").await, "rejected");
    ridge.wait_for_log("Uncaught (in promise) Error: rejected 0");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rejection_lines = ridge
        .logs()
        .lines()
        .filter(|l| l.contains("Uncaught (in promise) Error: rejected"))
        .count();
    assert!(rejection_lines <= 1024, "{rejection_lines} lines");
}

// ---- 11. KV operations per request -------------------------------------

#[tokio::test]
async fn kv_operations_are_capped_per_request_without_a_thread_each() {
    let ridge = Ridge::dev(&fixture("adversarial"), &[]);
    let result = ridge.json("/kv-flood").await;
    assert_eq!(result["fulfilled"], 1000, "{result}");
    assert_eq!(result["refused"], 1000, "{result}");
    assert_eq!(
        result["message"],
        "Too many API requests by single worker invocation: a worker may make at most 1000 KV operations per request"
    );
    let status = std::fs::read_to_string(format!("/proc/{}/status", ridge.pid())).unwrap();
    let threads: usize = status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // Unprotected, 2,000 puts made 520 threads.
    assert!(threads < 100, "{threads} threads");
}

// ---- 12. admin API input -------------------------------------------------

#[tokio::test]
async fn kv_keys_that_are_not_utf8_are_refused_not_merged() {
    let backend = Backend::sqlite();
    let node = Node::start(&backend);
    let create = node
        .admin(reqwest::Method::PUT, "/kv/namespaces/bytes")
        .await
        .send()
        .await
        .unwrap();
    assert_eq!(create.status(), 201);
    for key in ["%FF", "%FE"] {
        let response = node
            .admin(
                reqwest::Method::PUT,
                &format!("/kv/namespaces/bytes/values/{key}"),
            )
            .await
            .body("x")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{key}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .contains("is not UTF-8 once percent-decoded"),
            "{body}"
        );
    }
}

// ---- 4. memory asked for in one native call ------------------------------

/// Asserts that `response` is the 503 of a worker stopped at the
/// fixture's memory limit.
async fn assert_memory_limit(response: reqwest::Response) {
    assert_eq!(response.status(), 503);
    let body = response.text().await.unwrap();
    assert!(
        body.starts_with("worker exceeded its memory limit (128 MiB)"),
        "{body}"
    );
}

/// Asserts that the node's resident memory never went past `mib` MiB.
fn assert_peak_rss_below(ridge: &Ridge, mib: u64) {
    let peak = peak_rss(ridge.pid());
    assert!(peak < mib * 1024 * 1024, "peak RSS {} MiB", peak >> 20);
}

#[tokio::test]
async fn one_huge_array_buffer_is_refused_when_asked_for() {
    let ridge = Ridge::dev(&fixture("adversarial"), &[]);
    let response = http1().get(ridge.url("/big-buffer")).send().await.unwrap();
    assert_memory_limit(response).await;
    // Unprotected, the gigabyte was allocated and filled (1.09 GB peak).
    assert_peak_rss_below(&ridge, 500);
    assert_eq!(ridge.text("/").await, "ok");
}

#[tokio::test]
async fn a_gzip_bomb_stops_at_the_memory_limit() {
    let ridge = Ridge::dev(&fixture("adversarial"), &[]);
    // 1 GiB of zeros, gzipped to about 1 MiB.
    let bomb = std::process::Command::new("python3")
        .args([
            "-c",
            "import gzip, sys; sys.stdout.buffer.write(gzip.compress(bytes(1 << 30), 6))",
        ])
        .output()
        .unwrap()
        .stdout;
    assert!(bomb.len() < 2 * 1024 * 1024, "{} bytes", bomb.len());
    let response = http1()
        .post(ridge.url("/inflate"))
        .body(bomb)
        .send()
        .await
        .unwrap();
    assert_memory_limit(response).await;
    // Unprotected, this reached 2.1 GB.
    assert_peak_rss_below(&ridge, 600);
    assert_eq!(ridge.text("/").await, "ok");
}

#[tokio::test]
async fn wasm_memories_count_against_the_memory_limit() {
    let ridge = Ridge::dev(&fixture("adversarial"), &[]);
    // 16 MiB is fine.
    assert_eq!(
        ridge.text("/wasm-memory?pages=256").await,
        "wasm memory of 16777216 bytes"
    );
    // 1 GiB is refused before V8 reserves it, with the RangeError V8
    // throws for a memory it cannot allocate (which the worker could catch).
    let response = http1()
        .get(ridge.url("/wasm-memory?pages=16384"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    let body = response.text().await.unwrap();
    assert!(
        body.starts_with("RangeError: WebAssembly.Memory: the worker exceeded its memory limit"),
        "{body}"
    );
    assert_peak_rss_below(&ridge, 500);
    assert_eq!(ridge.text("/").await, "ok");
}

// ---- 11. WebSockets per client -------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_client_cannot_take_every_websocket_of_a_worker() {
    let ridge = Ridge::dev(&fixture("websocket"), &[]);
    let url = format!("ws://{}/", ridge.addr);
    let mut open = Vec::new();
    for _ in 0..128 {
        let (socket, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        open.push(socket);
    }
    // The 129th from the same client is refused; another client is not.
    match tokio_tungstenite::connect_async(&url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 429);
            let body = String::from_utf8(response.body().clone().unwrap_or_default()).unwrap();
            assert_eq!(
                body,
                "This client has 128 WebSockets open to this worker, the most it may; close one first\n"
            );
        }
        other => panic!("expected a 429, got {other:?}"),
    }
    let mut other = connect_from([127, 0, 0, 2], ridge.addr).await.unwrap();
    other
        .write_all(
            b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        .await
        .unwrap();
    let mut head = [0u8; 12];
    other.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 101");
    // Closing one makes room again.
    open.pop().unwrap().close(None).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while tokio_tungstenite::connect_async(&url).await.is_err() {
        assert!(Instant::now() < deadline, "no room after closing one");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn filling_the_array_buffer_budget_stops_the_isolate_not_the_process() {
    let ridge = Ridge::dev(&fixture("adversarial"), &[]);
    // 1 MiB buffers until the budget is spent, then small ones, which V8
    // must get: a small allocation refused inside V8 aborts the process.
    let response = http1()
        .get(ridge.url("/fill-then-small"))
        .send()
        .await
        .unwrap();
    assert_memory_limit(response).await;
    assert_eq!(ridge.text("/").await, "ok");
}

// ---- 10. reloads read only what changed ----------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloads_do_not_read_bundles_again() {
    let backend = Backend::postgres();
    let Backend::Postgres(database) = &backend else {
        unreachable!()
    };
    let toast_reads = || {
        // Bundles are large bytea values, kept in the table's TOAST: any
        // read of one shows up here.
        let rows = database.query_bytes(
            "SELECT convert_to((coalesce(toast_blks_read, 0) + coalesce(toast_blks_hit, 0))::text, 'UTF8')
             FROM pg_statio_user_tables WHERE relname = 'ridge_versions'",
        );
        String::from_utf8(rows[0].clone())
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    let node = Node::start(&backend);
    // 256 KiB of incompressible text, so that the bundle is stored apart.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let filler: String = (0..256 * 1024)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from(b'a' + (state % 26) as u8)
        })
        .collect();
    let module = format!("// {filler}\nexport default {{ fetch: () => new Response('big') }};\n");
    let (status, body) = node
        .upload(
            "big",
            r#"{"main_module":"index.js","routes":["big.test/*"]}"#,
            &[("index.js", module.as_bytes())],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(node.get("big.test", "/").await, (200, "big".to_string()));
    // A PostgreSQL backend reports its statistics within 10 s of its last
    // transaction (the upload's, and this node's load of the new version).
    tokio::time::sleep(Duration::from_secs(12)).await;
    let before = toast_reads();
    // Two store polls (every 5 s) later.
    tokio::time::sleep(Duration::from_secs(11)).await;
    let after = toast_reads();
    assert_eq!(after, before, "bundles were read again by reloads");
}

#[tokio::test]
async fn a_secret_cannot_take_a_kv_bindings_name() {
    let backend = Backend::sqlite();
    let node = Node::start(&backend);
    let create = node
        .admin(reqwest::Method::PUT, "/kv/namespaces/shared")
        .await
        .send()
        .await
        .unwrap();
    assert_eq!(create.status(), 201);
    let (status, body) = node
        .upload(
            "bound",
            r#"{"main_module":"index.js","routes":["bound.test/*"],"kv_namespaces":[{"binding":"STORE","id":"shared"}]}"#,
            &[("index.js", b"export default { fetch: (r, env) => new Response(typeof env.STORE.get) };")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let response = node
        .admin(reqwest::Method::PUT, "/workers/bound/secrets/STORE")
        .await
        .body("s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 409);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body["error"],
        "bound's active version binds KV namespace \"shared\" as STORE; a secret cannot take a binding's name"
    );
    // The binding is still the namespace.
    assert_eq!(
        node.get("bound.test", "/").await,
        (200, "function".to_string())
    );
}
