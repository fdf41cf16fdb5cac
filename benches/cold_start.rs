//! Cold start: from nothing to the first response of the hello worker in a
//! new isolate, (1) restoring the startup snapshot as part of the start, and
//! (2) starting from a pre-warmed blank isolate, as isolate threads do when
//! their pool has one ready.
//!
//! Run: `cargo bench --bench cold_start`

use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use ridge::isolate::bindings::DEFAULT_CACHE_BYTES;
use ridge::isolate::runtime::{BlankIsolate, StopReason, WorkerIsolate};
use ridge::isolate::Services;
use ridge::ops::{RequestHead, RequestInbox, WorkerReply};
use ridge::worker::WorkerVersion;
use tokio::sync::{mpsc, oneshot};

/// The isolate, still running: returned so that tearing it down is not timed.
type Running = Pin<Box<dyn Future<Output = Result<(), StopReason>>>>;

/// Starts `worker` (in `blank`, or in a new isolate) and waits for its
/// answer to one request.
async fn first_response(worker: Arc<WorkerVersion>, blank: Option<BlankIsolate>) -> Running {
    let (inbox, requests) = mpsc::unbounded_channel();
    let (reply, answer) = oneshot::channel();
    inbox
        .send(RequestHead {
            request_id: 1,
            route: "*".into(),
            method: "GET".into(),
            url: "http://localhost/?name=bench".into(),
            headers: Vec::new(),
            body: None,
            reply,
            trace: None,
        })
        .unwrap();
    let requests = RequestInbox::new(requests);
    let services = Services::without_kv(DEFAULT_CACHE_BYTES);
    let isolate = match blank {
        Some(blank) => blank.start(worker, requests, &services).await.unwrap(),
        None => WorkerIsolate::start(worker, requests, &services)
            .await
            .unwrap(),
    };
    let mut running: Running = Box::pin(isolate.run(Rc::default()));
    tokio::select! {
        _ = &mut running => panic!("the isolate stopped"),
        answer = answer => assert!(matches!(answer, Ok(WorkerReply::Response(_)))),
    }
    running
}

fn cold_start(c: &mut Criterion) {
    let worker =
        WorkerVersion::load(Path::new("workers/hello"), &BTreeMap::new()).expect("workers/hello");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    // Times only start + first response: setting a blank isolate up for the
    // second benchmark, and tearing isolates down, happen off the clock.
    let measure = |iters: u64, warm: bool| {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            let _inside_runtime = runtime.enter();
            let blank = warm.then(|| {
                let mut blank = BlankIsolate::new(worker.limits.memory_mb, false).unwrap();
                blank.warm_up().unwrap();
                blank
            });
            let started = Instant::now();
            let running = local.block_on(&runtime, first_response(worker.clone(), blank));
            total += started.elapsed();
            drop(running);
        }
        total
    };
    c.bench_function("cold start, snapshot restore included (hello)", |b| {
        b.iter_custom(|iters| measure(iters, false))
    });
    c.bench_function("cold start from a pre-warmed isolate (hello)", |b| {
        b.iter_custom(|iters| measure(iters, true))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50);
    targets = cold_start
}
criterion_main!(benches);
