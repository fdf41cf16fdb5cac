//! Cold start: from nothing to the first response of the hello worker, in a
//! fresh isolate restored from the startup snapshot (no isolate reuse).
//!
//! Run: `cargo bench --bench cold_start`

use std::collections::BTreeMap;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use ridge::isolate::runtime::WorkerIsolate;
use ridge::ops::{RequestHead, RequestInbox, WorkerReply};
use ridge::worker::WorkerVersion;
use tokio::sync::{mpsc, oneshot};

fn cold_start(c: &mut Criterion) {
    let worker =
        WorkerVersion::load(Path::new("workers/hello"), &BTreeMap::new()).expect("workers/hello");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    c.bench_function("cold start to first response (hello)", |b| {
        b.iter(|| {
            local.block_on(&runtime, async {
                let (inbox, requests) = mpsc::unbounded_channel();
                let (reply, answer) = oneshot::channel();
                inbox
                    .send(RequestHead {
                        request_id: 1,
                        method: "GET".into(),
                        url: "http://localhost/?name=bench".into(),
                        headers: Vec::new(),
                        body: None,
                        reply,
                        settled: None,
                    })
                    .unwrap();
                let isolate = WorkerIsolate::start(worker.clone(), RequestInbox::new(requests))
                    .await
                    .unwrap();
                tokio::select! {
                  _ = isolate.run() => panic!("the isolate stopped"),
                  answer = answer => assert!(matches!(answer, Ok(WorkerReply::Response(_)))),
                }
            })
        })
    });
}

criterion_group! {
  name = benches;
  config = Criterion::default().sample_size(50);
  targets = cold_start
}
criterion_main!(benches);
