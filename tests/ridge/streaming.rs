//! Bodies stream both ways, without being buffered whole.

use std::time::{Duration, Instant};

use futures::StreamExt;

use crate::support::{fixture, h2c, http1, peak_rss, Ridge};

#[tokio::test]
async fn the_first_chunk_arrives_before_the_worker_makes_the_last() {
    let ridge = Ridge::dev(&fixture("streaming"), &[]);
    for (id, client) in [("h1", http1()), ("h2", h2c())] {
        let response = client
            .get(ridge.url(&format!("/stream?id={id}")))
            .send()
            .await
            .unwrap();
        let mut body = response.bytes_stream();
        // The worker only makes "last" after /release, which we send after
        // reading "first": a server that buffered the response would hang here.
        let first = tokio::time::timeout(Duration::from_secs(10), body.next())
            .await
            .expect("first chunk")
            .unwrap()
            .unwrap();
        assert_eq!(&first[..], b"first\n");
        let released = ridge.text(&format!("/release?id={id}")).await;
        assert_eq!(released, "released");
        let mut rest = Vec::new();
        while let Some(chunk) = body.next().await {
            rest.extend_from_slice(&chunk.unwrap());
        }
        assert_eq!(rest, b"last\n");
    }
}

#[tokio::test]
async fn a_client_disconnect_cancels_the_worker_stream() {
    let ridge = Ridge::dev(&fixture("streaming"), &[]);
    let client = http1();
    let response = client
        .get(ridge.url("/endless?id=gone"))
        .send()
        .await
        .unwrap();
    let mut body = response.bytes_stream();
    body.next().await.unwrap().unwrap();
    drop(body);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let cancelled = ridge.text("/cancelled?id=gone").await;
        if cancelled == "true" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the worker's stream was never cancelled"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_100_mib_upload_streams_through_without_being_buffered() {
    const TOTAL: usize = 100 * 1024 * 1024;
    const CHUNK: usize = 256 * 1024;
    // No pre-warmed spare isolates: their memory would blur the measurement.
    let ridge = Ridge::dev(&fixture("streaming"), &["--warm-isolates", "0"]);
    // Warm the isolate up so the baseline includes V8's own memory.
    http1()
        .get(ridge.url("/cancelled?id=warm"))
        .send()
        .await
        .unwrap();
    let baseline = peak_rss(ridge.pid());

    let chunks = futures::stream::iter(
        (0..TOTAL / CHUNK).map(|i| Ok::<_, std::io::Error>(vec![(i % 251) as u8; CHUNK])),
    );
    let response = http1()
        .post(ridge.url("/count"))
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    let counted: serde_json::Value = response.json().await.unwrap();
    assert_eq!(counted["bytes"], TOTAL);
    assert!(
        counted["chunks"].as_u64().unwrap() > 100,
        "the worker saw the body in many chunks: {counted}"
    );

    // Garbage chunks wait for V8's next GC, so some growth is expected; a
    // buffered body would add all 100 MiB.
    let growth = peak_rss(ridge.pid()).saturating_sub(baseline);
    assert!(
        growth < 64 * 1024 * 1024,
        "peak memory grew by {} MiB for a 100 MiB upload",
        growth / 1024 / 1024
    );
}

#[tokio::test]
async fn request_bodies_echo_back_over_h2() {
    let ridge = Ridge::dev(&fixture("streaming"), &[]);
    let payload: Vec<u8> = (0..3_000_000u32).map(|i| (i % 256) as u8).collect();
    let response = h2c()
        .post(ridge.url("/echo"))
        .body(payload.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.bytes().await.unwrap().as_ref(), payload.as_slice());
}
