//! Watching a node: live tail (admin API and `ridge tail`), Prometheus
//! metrics, usage metering, and a slow tail client that must not slow
//! requests down.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::control::{Backend, Node, TOKEN};
use crate::support::{fixture, http1};

const HOST: &str = "observed.localhost";

/// A node serving the `observed` fixture, with usage flushed every second.
fn observed_node(backend: &Backend) -> Node {
    let node = Node::start_with(backend, &["--usage-flush-interval", "1"], &[]);
    let (ok, output) = node.cli(&["kv", "namespace", "create", "observed"], None);
    assert!(ok, "{output}");
    let (ok, output) = node.cli(&["deploy", fixture("observed").to_str().unwrap()], None);
    assert!(ok, "{output}");
    node
}

async fn request(node: &Node, method: reqwest::Method, path: &str, body: &str) -> u16 {
    http1()
        .request(method, node.ridge.url(path))
        .header("host", HOST)
        .body(body.to_string())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Reads a streamed response line by line.
pub struct Lines {
    response: reqwest::Response,
    pending: Vec<u8>,
}

impl Lines {
    pub async fn next(&mut self) -> serde_json::Value {
        loop {
            if let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=end).collect();
                return serde_json::from_slice(&line).unwrap();
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.response.chunk())
                .await
                .expect("a tail line within 10 s")
                .unwrap()
                .expect("the tail is still open");
            self.pending.extend_from_slice(&chunk);
        }
    }
}

async fn open_tail(node: &Node, query: &str) -> Lines {
    open_tail_of(node, "observed", query).await
}

/// The live tail of `worker`, past its "connected" line.
pub async fn open_tail_of(node: &Node, worker: &str, query: &str) -> Lines {
    let response = node
        .admin(
            reqwest::Method::GET,
            &format!("/workers/{worker}/tail{query}"),
        )
        .await
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut lines = Lines {
        response,
        pending: Vec::new(),
    };
    assert_eq!(lines.next().await["type"], "connected");
    lines
}

#[tokio::test]
async fn tail_streams_each_request_with_its_console_output_and_exceptions() {
    let backend = Backend::sqlite();
    let node = observed_node(&backend);
    let mut tail = open_tail(&node, "").await;

    assert_eq!(
        request(&node, reqwest::Method::GET, "/log?n=1", "").await,
        200
    );
    let event = tail.next().await;
    assert_eq!(event["type"], "event");
    assert_eq!(event["method"], "GET");
    assert_eq!(event["url"], format!("http://{HOST}/log?n=1"));
    assert_eq!(event["status"], 200);
    assert_eq!(event["outcome"], "ok");
    let logs = event["logs"].as_array().unwrap();
    assert_eq!(logs[0]["level"], "log");
    assert_eq!(logs[0]["message"], "hello from ?n=1");
    assert_eq!(logs[1]["level"], "warn");

    assert_eq!(request(&node, reqwest::Method::GET, "/fail", "").await, 500);
    let event = tail.next().await;
    assert_eq!(event["status"], 500);
    assert_eq!(event["outcome"], "exception");
    assert!(
        event["exceptions"][0].as_str().unwrap().contains("boom"),
        "{event}"
    );

    // Filters: only failures, only POST.
    let mut failures = open_tail(&node, "?status=error").await;
    let mut posts = open_tail(&node, "?method=post").await;
    request(&node, reqwest::Method::GET, "/log", "").await;
    request(&node, reqwest::Method::POST, "/echo", "hi").await;
    request(&node, reqwest::Method::GET, "/fail", "").await;
    assert_eq!(failures.next().await["url"], format!("http://{HOST}/fail"));
    assert_eq!(posts.next().await["method"], "POST");

    // Bad filters and unknown workers are refused.
    let response = node
        .admin(
            reqwest::Method::GET,
            "/workers/observed/tail?sampling_rate=2",
        )
        .await
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let response = node
        .admin(reqwest::Method::GET, "/workers/nobody/tail")
        .await
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn ridge_tail_prints_live_requests() {
    let backend = Backend::sqlite();
    let node = observed_node(&backend);
    let mut child = Command::new(env!("CARGO_BIN_EXE_ridge"))
        .args(["tail", "observed", "--format", "json", "--status", "error"])
        .env("RIDGE_SERVER", &node.admin)
        .env("RIDGE_ADMIN_TOKEN", TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (lines, received) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let connected = received.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(connected.contains("\"connected\""), "{connected}");
    request(&node, reqwest::Method::GET, "/log", "").await;
    request(&node, reqwest::Method::GET, "/fail", "").await;
    let line = received.recv_timeout(Duration::from_secs(10)).unwrap();
    let event: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(event["url"], format!("http://{HOST}/fail"), "{line}");
    assert_eq!(event["status"], 500);
    child.kill().unwrap();
    let _ = child.wait();
}

/// The value of one sample in the node's /metrics, 0 if absent.
pub async fn metric(node: &Node, name: &str, labels: &[(&str, &str)]) -> f64 {
    let response = node
        .admin(reqwest::Method::GET, "/metrics")
        .await
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
        .unwrap_or_else(|e| panic!("/metrics is not Prometheus text: {e}\n{text}"));
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => panic!("{name} is not a single value"),
        })
        .sum()
}

/// Waits (up to 5 s) for a sample to reach `expected`: a request is
/// counted when its isolate finishes with it, which can come a moment after
/// the client has the whole response.
pub async fn metric_reaches(node: &Node, name: &str, labels: &[(&str, &str)], expected: f64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let value = metric(node, name, labels).await;
        if value == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name} {labels:?} is {value}, not {expected}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn metrics_parse_as_prometheus_text_and_count_what_happens() {
    let backend = Backend::sqlite();
    let node = observed_node(&backend);
    let ok = [("worker", "observed"), ("status", "200")];
    let before = metric(&node, "ridge_requests_total", &ok).await;
    for _ in 0..5 {
        assert_eq!(request(&node, reqwest::Method::GET, "/log", "").await, 200);
    }
    request(&node, reqwest::Method::GET, "/fail", "").await;
    request(&node, reqwest::Method::GET, "/kv", "").await;
    metric_reaches(&node, "ridge_requests_total", &ok, before + 6.0).await;
    let failed = [("worker", "observed"), ("status", "500")];
    assert_eq!(metric(&node, "ridge_requests_total", &failed).await, 1.0);
    let worker = [("worker", "observed")];
    metric_reaches(
        &node,
        "ridge_request_duration_seconds_count",
        &worker,
        before + 7.0,
    )
    .await;
    assert!(metric(&node, "ridge_request_cpu_seconds_sum", &worker).await > 0.0);
    assert!(metric(&node, "ridge_cold_starts_total", &worker).await >= 1.0);
    assert!(metric(&node, "ridge_isolates_alive", &[]).await >= 1.0);
    // The /kv request reads what it just wrote: a cache miss then nothing
    // else, or a hit, but one read either way.
    let reads = metric(&node, "ridge_kv_reads_total", &[]).await;
    assert_eq!(reads, 1.0);
    assert!(metric(&node, "ridge_connections_total", &[("protocol", "http1")]).await >= 1.0);
}

#[tokio::test]
async fn usage_totals_match_the_requests_sent() {
    let backend = Backend::postgres();
    let node = observed_node(&backend);
    let body = "x".repeat(100);
    for _ in 0..7 {
        assert_eq!(
            request(&node, reqwest::Method::POST, "/echo", &body).await,
            200
        );
    }
    for _ in 0..3 {
        assert_eq!(request(&node, reqwest::Method::GET, "/kv", "").await, 200);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let total = loop {
        let (ok, output) = node.cli(&["usage", "observed", "--json"], None);
        assert!(ok, "{output}");
        let answer: serde_json::Value = serde_json::from_str(&output).unwrap();
        if answer["total"]["requests"] == 10 {
            break answer["total"].clone();
        }
        assert!(
            Instant::now() < deadline,
            "usage never reached 10 requests: {answer}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(total["bytes_in"], 700);
    assert_eq!(total["bytes_out"], 700 + 3 * "value".len());
    assert_eq!(total["kv_operations"], 6);
    assert!(total["cpu_us"].as_i64().unwrap() > 0);
    assert!(total["wall_us"].as_i64().unwrap() >= total["cpu_us"].as_i64().unwrap());
    // The table view shows the same total.
    let (ok, output) = node.cli(&["usage", "observed", "--since", "1h"], None);
    assert!(ok, "{output}");
    let total_line = output.lines().find(|l| l.starts_with("total")).unwrap();
    assert!(
        total_line.split_whitespace().nth(1) == Some("10"),
        "{output}"
    );
}

#[tokio::test]
async fn a_tail_client_that_stops_reading_does_not_slow_requests() {
    let backend = Backend::sqlite();
    let node = observed_node(&backend);
    // A tail client that never reads what it is sent.
    let admin = node.admin.trim_start_matches("http://").to_string();
    let mut stalled = std::net::TcpStream::connect(&admin).unwrap();
    write!(
        stalled,
        "GET /workers/observed/tail HTTP/1.1\r\nhost: {admin}\r\nauthorization: Bearer {TOKEN}\r\n\r\n"
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));

    // Each event carries a 16 KiB log line: far more than the socket and
    // the tail's buffer hold.
    let started = Instant::now();
    for _ in 0..600 {
        assert_eq!(
            request(&node, reqwest::Method::GET, "/log?size=16384", "").await,
            200
        );
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(60),
        "600 requests took {elapsed:?} with a stalled tail"
    );
    assert!(metric(&node, "ridge_tail_dropped_events_total", &[]).await > 0.0);

    // Once the client reads again, it is told how many events it missed.
    stalled
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let reader = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buffer = vec![0u8; 64 * 1024];
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            match stalled.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buffer[..n]),
            }
            if String::from_utf8_lossy(&seen).contains("\"type\":\"dropped\"") {
                return true;
            }
        }
        false
    });
    // Events after the drop carry the notice.
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        request(&node, reqwest::Method::GET, "/log", "").await;
    }
    assert!(
        reader.join().unwrap(),
        "no dropped notice reached the client"
    );
}
