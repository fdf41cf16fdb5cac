//! What recording a finished request costs the isolate thread: the
//! Prometheus counters and histograms, the usage meter (enabled, as on a
//! node with a store) and the tail check, for one request.
//!
//! `cargo bench --bench observe`

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};

use ridge_core::Outcome;
use ridge_runtime::observe::{Observers, WorkerMeters};
use ridge_store::sqlite::SqliteStore;
use ridge_store::Store;

fn record_a_request(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("ridge-observe-bench-{}", std::process::id()));
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.join("ridge.db")).unwrap());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let observers = Observers::new(None);
    let flushing = {
        let _in_runtime = runtime.enter();
        observers
            .usage
            .start_flushing(store, Duration::from_secs(1))
    };
    let (wall, cpu) = (Duration::from_micros(850), Duration::from_micros(120));
    // An isolate looks its worker's series up once, when it starts.
    let mut meters = WorkerMeters::new(&observers.metrics, "hello");
    c.bench_function(
        "record one finished request (metrics + usage + tail check)",
        |b| {
            b.iter(|| {
                meters.request_finished(Some(200), Outcome::Ok, wall, cpu);
                observers
                    .usage
                    .record("hello", "3220faeade3c3239b26b", |row| {
                        row.requests += 1;
                        row.cpu_us += cpu.as_micros() as i64;
                        row.wall_us += wall.as_micros() as i64;
                    });
                std::hint::black_box(observers.tail.is_watched("hello"));
            })
        },
    );
    flushing.abort();
    drop(runtime);
    let _ = std::fs::remove_dir_all(dir);
}

criterion_group!(benches, record_a_request);
criterion_main!(benches);
