//! HTTP/3 versus HTTP/2 on one Ridge node: requests per second and server
//! CPU time per request for a small response, and the throughput of a
//! 100 MiB streamed download, with in-repo clients on both sides (quinn + h3
//! for HTTP/3, reqwest/hyper for HTTP/2 over TLS), so the comparison is of
//! the protocols, not of client tools.
//!
//! Starts `ridge dev benches/workers/h3.js --https`, then runs interleaved
//! rounds (h2, h3, h2, h3, ...) of a closed-loop load: C connections, each
//! with S requests in flight, for D seconds. Server CPU is read from
//! /proc/PID/stat around each round. Markdown on stdout.
//!
//!   cargo bench --bench h3_load -- --ridge-bin target/release/ridge \
//!       --connections 4 --streams 16 --duration 10 --rounds 3

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};

// The nodes here have self-signed certificates.
#[path = "../tests/ridge/accept_any_tls.rs"]
mod accept_any_tls;
use accept_any_tls::client_tls;

#[derive(Clone)]
struct Options {
    ridge_bin: String,
    connections: usize,
    streams: usize,
    duration: Duration,
    rounds: usize,
    download_mb: u64,
}

impl Options {
    fn parse() -> Self {
        let mut options = Self {
            ridge_bin: "target/release/ridge".into(),
            connections: 4,
            streams: 16,
            duration: Duration::from_secs(10),
            rounds: 3,
            download_mb: 100,
        };
        let mut args = std::env::args().skip(1);
        while let Some(flag) = args.next() {
            let mut value = || {
                args.next()
                    .unwrap_or_else(|| panic!("{flag} needs a value"))
            };
            match flag.as_str() {
                "--ridge-bin" => options.ridge_bin = value(),
                "--connections" => options.connections = value().parse().expect("a number"),
                "--streams" => options.streams = value().parse().expect("a number"),
                "--duration" => {
                    options.duration = Duration::from_secs(value().parse().expect("seconds"))
                }
                "--rounds" => options.rounds = value().parse().expect("a number"),
                "--download-mb" => options.download_mb = value().parse().expect("a number"),
                "--bench" => {}
                other => panic!("unknown flag {other}"),
            }
        }
        options
    }
}

/// The node under test, killed when dropped.
struct Node {
    child: Child,
    tcp: SocketAddr,
    udp: SocketAddr,
}

impl Node {
    fn start(ridge: &str) -> Self {
        let worker = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/workers/h3.js");
        let mut child = Command::new(ridge)
            .args(["dev", worker, "--https", "--port", "0"])
            .env("RIDGE_LOG", "warn,ridge=info")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("start ridge");
        let (mut tcp, mut udp) = (None, None);
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        while tcp.is_none() || udp.is_none() {
            let line = lines.next().expect("ridge exited").unwrap();
            let after = |marker: &str| {
                line.split(marker).nth(1).map(|rest| {
                    rest.split_whitespace()
                        .next()
                        .unwrap()
                        .parse::<SocketAddr>()
                        .unwrap()
                })
            };
            udp = udp.or(after("HTTP/3 on udp://"));
            tcp = tcp.or(after("ready on https://"));
        }
        std::thread::spawn(move || lines.for_each(drop));
        Self {
            child,
            tcp: tcp.unwrap(),
            udp: udp.unwrap(),
        }
    }

    /// User + system CPU seconds of the server so far.
    fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .collect();
        let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
        ticks / 100.0
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

type H3Sender = h3::client::SendRequest<h3_quinn::OpenStreams, Bytes>;

async fn h3_connect(addr: SocketAddr) -> (quinn::Endpoint, H3Sender) {
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(client_tls(b"h3")).unwrap();
    let mut endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    endpoint.set_default_client_config(quinn::ClientConfig::new(Arc::new(crypto)));
    let connection = endpoint.connect(addr, "localhost").unwrap().await.unwrap();
    let (mut driver, sender) = h3::client::new(h3_quinn::Connection::new(connection))
        .await
        .unwrap();
    tokio::spawn(async move {
        let _ = std::future::poll_fn(|cx| driver.poll_close(cx)).await;
    });
    (endpoint, sender)
}

/// One GET over HTTP/3; the number of body bytes.
async fn h3_get(sender: &mut H3Sender, url: &str) -> u64 {
    let request = http::Request::get(url).body(()).unwrap();
    let mut stream = sender.send_request(request).await.unwrap();
    stream.finish().await.unwrap();
    let response = stream.recv_response().await.unwrap();
    assert_eq!(response.status(), 200);
    let mut bytes = 0;
    while let Some(chunk) = stream.recv_data().await.unwrap() {
        bytes += chunk.remaining() as u64;
    }
    bytes
}

fn h2_client() -> reqwest::Client {
    reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .http2_prior_knowledge()
        .build()
        .unwrap()
}

/// One GET over HTTP/2; the number of body bytes.
async fn h2_get(client: &reqwest::Client, url: &str) -> u64 {
    let mut response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    let mut bytes = 0;
    while let Some(chunk) = response.chunk().await.unwrap() {
        bytes += chunk.len() as u64;
    }
    bytes
}

#[derive(Clone, Copy, PartialEq)]
enum Protocol {
    H2,
    H3,
}

impl Protocol {
    fn name(self) -> &'static str {
        match self {
            Protocol::H2 => "HTTP/2 (TLS)",
            Protocol::H3 => "HTTP/3",
        }
    }
}

struct Round {
    requests_per_second: f64,
    cpu_us_per_request: f64,
}

/// A closed-loop load of small GETs.
async fn load(node: &Node, protocol: Protocol, options: &Options) -> Round {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + options.duration;
    let url = format!("https://localhost:{}/", node.tcp.port());
    let mut tasks = Vec::new();
    let mut endpoints = Vec::new();
    let cpu_before = node.cpu_seconds();
    let started = Instant::now();
    for _ in 0..options.connections {
        match protocol {
            Protocol::H2 => {
                let client = h2_client();
                for _ in 0..options.streams {
                    let (client, url, done) = (client.clone(), url.clone(), done.clone());
                    tasks.push(tokio::spawn(async move {
                        while Instant::now() < deadline {
                            h2_get(&client, &url).await;
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                    }));
                }
            }
            Protocol::H3 => {
                let (endpoint, sender) = h3_connect(node.udp).await;
                endpoints.push(endpoint);
                for _ in 0..options.streams {
                    let (mut sender, url, done) = (sender.clone(), url.clone(), done.clone());
                    tasks.push(tokio::spawn(async move {
                        while Instant::now() < deadline {
                            h3_get(&mut sender, &url).await;
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                    }));
                }
            }
        }
    }
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = node.cpu_seconds() - cpu_before;
    let requests = done.load(Ordering::Relaxed) as f64;
    Round {
        requests_per_second: requests / elapsed,
        cpu_us_per_request: cpu / requests * 1e6,
    }
}

/// Seconds to download `mb` MiB on a fresh connection.
async fn download(node: &Node, protocol: Protocol, mb: u64) -> f64 {
    let url = format!("https://localhost:{}/download?mb={mb}", node.tcp.port());
    let started = Instant::now();
    let bytes = match protocol {
        Protocol::H2 => h2_get(&h2_client(), &url).await,
        Protocol::H3 => {
            let (_endpoint, mut sender) = h3_connect(node.udp).await;
            h3_get(&mut sender, &url).await
        }
    };
    assert_eq!(bytes, mb * 1024 * 1024);
    started.elapsed().as_secs_f64()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let options = Options::parse();
    let node = Node::start(&options.ridge_bin);
    let protocols = [Protocol::H2, Protocol::H3];
    // Warm-up: JIT, connections, pools.
    for protocol in protocols {
        let warm = Options {
            duration: Duration::from_secs(2),
            ..options.clone()
        };
        load(&node, protocol, &warm).await;
    }
    let mut results: Vec<(Protocol, Vec<Round>, Vec<f64>)> = protocols
        .iter()
        .map(|p| (*p, Vec::new(), Vec::new()))
        .collect();
    for round in 0..options.rounds {
        for (protocol, rounds, downloads) in results.iter_mut() {
            let measured = load(&node, *protocol, &options).await;
            eprintln!(
                "[h3_load] round {} {}: {:.0} req/s, {:.1} µs CPU/request",
                round + 1,
                protocol.name(),
                measured.requests_per_second,
                measured.cpu_us_per_request
            );
            rounds.push(measured);
            downloads.push(download(&node, *protocol, options.download_mb).await);
        }
    }
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    println!("# HTTP/3 vs HTTP/2 on one node\n");
    println!(
        "- Machine: {} × {model}",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "- Load: {} connections × {} requests in flight, {} s per round, {} rounds (medians); download: {} MiB on a fresh connection\n",
        options.connections,
        options.streams,
        options.duration.as_secs(),
        options.rounds,
        options.download_mb
    );
    println!(
        "| protocol | requests/s | server CPU µs/request | {} MiB download, s | MiB/s |",
        options.download_mb
    );
    println!("|---|---|---|---|---|");
    let mut rps = Vec::new();
    for (protocol, rounds, downloads) in &results {
        let requests = median(rounds.iter().map(|r| r.requests_per_second).collect());
        let cpu = median(rounds.iter().map(|r| r.cpu_us_per_request).collect());
        let seconds = median(downloads.clone());
        rps.push(requests);
        println!(
            "| {} | {requests:.0} | {cpu:.1} | {seconds:.2} | {:.0} |",
            protocol.name(),
            options.download_mb as f64 / seconds
        );
    }
    println!("\nHTTP/3 ÷ HTTP/2 throughput: {:.2}×", rps[1] / rps[0]);
}
