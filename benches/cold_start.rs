//! Cold starts with and without per-worker V8 snapshots: from a request's
//! arrival in a never-started isolate to its complete response, for four
//! workers: `workers/hello`; one importing three.js (about 1.3 MB of real
//! library JavaScript, installed from npm here); the OpenAPI project of
//! fixtures/projects (chanfana, Hono and zod from npm, TypeScript); and one
//! whose top level computes a large table
//! (`benches/workers/top-level-computation.js`).
//!
//! Each start is timed on its own, so the table shows p50 and p99:
//! - **pool + evaluate**: Ridge's path without a worker snapshot, from a
//!   pre-warmed blank isolate (restored from the runtime snapshot ahead of
//!   time), then evaluating the worker's modules;
//! - **restore + evaluate**: the same without a pre-warmed isolate;
//! - **worker snapshot**: restoring the worker's own snapshot (which cannot
//!   be pre-warmed: each is the worker's own), the path `--snapshots auto`
//!   takes when that is faster, as the last table shows;
//! - **restore only**: creating the isolate from the worker snapshot, the
//!   deserialization alone.
//!
//! Run: `cargo bench --bench cold_start [-- NAME…]` (needs npm for three.js
//! and the OpenAPI project;
//! NAME picks workers whose name contains it).

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Command;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ridge_ext::{Event, FetchRequest, Invocation, InvocationInbox, WorkerReply};
use ridge_runtime::isolate::bindings::DEFAULT_CACHE_BYTES;
use ridge_runtime::isolate::runtime::{BlankIsolate, StopReason};
use ridge_runtime::isolate::worker_snapshot::{self, WorkerSnapshot};
use ridge_runtime::isolate::Services;
use ridge_runtime::worker::WorkerVersion;
use tokio::sync::{mpsc, oneshot};

/// Starts per row (each timed alone).
const STARTS: usize = 200;
const THREE_VERSION: &str = "0.170.0";

/// The isolate, still running: returned so that tearing it down is not timed.
type Running = Pin<Box<dyn Future<Output = Result<(), StopReason>>>>;

/// Where a cold start begins.
enum Start {
    /// A pre-warmed blank isolate.
    Pooled(Box<BlankIsolate>),
    /// Restoring Ridge's runtime snapshot now.
    Restored,
    /// Restoring the worker's own snapshot now.
    WorkerSnapshot(WorkerSnapshot),
}

/// Starts `worker` and waits for its answer to one request.
async fn first_response(worker: Arc<WorkerVersion>, start: Start) -> Running {
    let (inbox, requests) = mpsc::unbounded_channel();
    let (reply, answer) = oneshot::channel();
    inbox
        .send(Invocation {
            request_id: 1,
            route: "*".into(),
            event: Event::Fetch(FetchRequest {
                method: http::Method::GET,
                url: "http://localhost/?name=bench&n=1000".into(),
                headers: http::HeaderMap::new(),
                body: None,
            }),
            received: std::time::Instant::now(),
            reply,
            trace: None,
            caller: None,
        })
        .unwrap();
    let requests = InvocationInbox::new(requests);
    let services = Services::without_kv(DEFAULT_CACHE_BYTES);
    let blank = match start {
        Start::Pooled(blank) => *blank,
        Start::Restored => BlankIsolate::new(worker.limits.memory_mb, false).unwrap(),
        Start::WorkerSnapshot(snapshot) => {
            BlankIsolate::from_worker_snapshot(snapshot, worker.limits.memory_mb).unwrap()
        }
    };
    let isolate = blank.start(worker, requests, &services).await.unwrap();
    let mut running: Running = Box::pin(isolate.run(Rc::default()));
    tokio::select! {
        _ = &mut running => panic!("the isolate stopped"),
        answer = answer => match answer {
            Ok(WorkerReply::Response(head)) => assert_eq!(head.status, 200),
            _ => panic!("no response"),
        },
    }
    running
}

/// A copy of a project under target/bench-workers/NAME with `files`
/// written into it and its npm packages installed (once).
fn npm_project(name: &str, files: &[(&str, String)]) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/bench-workers")
        .join(name);
    for (path, content) in files {
        let target = root.join(path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, content).unwrap();
    }
    if !root.join("node_modules").exists() {
        eprintln!("installing {name}'s packages from npm…");
        let status = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund"])
            .current_dir(&root)
            .status()
            .expect("run npm");
        assert!(status.success(), "npm install for {name} failed");
    }
    root
}

/// A worker that imports three.js from npm.
fn three_worker() -> PathBuf {
    npm_project(
        "three",
        &[
            (
                "package.json",
                format!("{{ \"private\": true, \"dependencies\": {{ \"three\": \"{THREE_VERSION}\" }} }}"),
            ),
            ("ridge.toml", "name = \"three\"\nmain = \"index.js\"\n".into()),
            (
                "index.js",
                "import * as THREE from \"three\";\n\
                 export default {\n  fetch() {\n    const v = new THREE.Vector3(1, 2, 2);\n    \
                 return new Response(`length ${v.length()}`);\n  },\n};\n"
                    .into(),
            ),
        ],
    )
}

/// The OpenAPI project of fixtures/projects (chanfana, Hono, zod).
fn openapi_worker() -> PathBuf {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/projects/openapi");
    let files: Vec<(&str, String)> = [
        "package.json",
        "wrangler.jsonc",
        "src/index.ts",
        "src/tasks.ts",
    ]
    .into_iter()
    .map(|path| (path, std::fs::read_to_string(fixture.join(path)).unwrap()))
    .collect();
    npm_project("openapi", &files)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

fn main() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let workers = [
        ("hello", manifest.join("workers/hello")),
        ("three.js (1.3 MB)", three_worker()),
        ("OpenAPI (chanfana, Hono, zod)", openapi_worker()),
        (
            "top-level computation",
            manifest.join("benches/workers/top-level-computation.js"),
        ),
    ];
    // `cargo bench --bench cold_start -- three` runs the matching rows only.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with("--"))
        .collect();
    let workers = workers.into_iter().filter(|(name, _)| {
        filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()))
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    // A node always has isolates alive (its pool, at least), and V8 shares
    // the read-only heap among the isolates alive: keep one, as a node does,
    // so that no start pays for setting that heap up again.
    let _resident = {
        let _inside_runtime = runtime.enter();
        BlankIsolate::new(128, false).unwrap()
    };
    let ridge = Path::new(env!("CARGO_BIN_EXE_ridge"));

    println!("| worker | path | p50 ms | p99 ms | mean ms |");
    println!("| --- | --- | --- | --- | --- |");
    let mut sizes = Vec::new();
    let mut choices = Vec::new();
    for (name, path) in workers {
        let project = ridge_deploy::project::ProjectLocation::at(&path)
            .open()
            .expect("worker project");
        let plain =
            WorkerVersion::load(&project, &BTreeMap::new(), &Default::default()).expect("worker");
        let built = Instant::now();
        let worker_snapshot::Built { stored, snapshot } = runtime
            .block_on(worker_snapshot::build_in_child(
                &plain,
                ridge,
                worker_snapshot::BUILD_TIMEOUT,
            ))
            .unwrap_or_else(|no| panic!("{name}: no snapshot: {}", no.reason));
        let build_ms = built.elapsed().as_secs_f64() * 1000.0;
        sizes.push((name, stored.len(), snapshot.len(), build_ms));

        let row = |label: &str, start: &mut dyn FnMut() -> Duration| {
            let mut times: Vec<Duration> = (0..STARTS).map(|_| start()).collect();
            times.sort();
            let mean = times.iter().sum::<Duration>().as_secs_f64() * 1000.0 / STARTS as f64;
            println!(
                "| {name} | {label} | {:.2} | {:.2} | {mean:.2} |",
                percentile(&times, 0.5),
                percentile(&times, 0.99),
            );
        };
        // Setting a pooled isolate up and tearing isolates down happen off
        // the clock, as they do off the request path on a node.
        let cold_start = |how: &dyn Fn() -> Start| {
            let _inside_runtime = runtime.enter();
            let start = how();
            let started = Instant::now();
            let running = local.block_on(&runtime, first_response(plain.clone(), start));
            let elapsed = started.elapsed();
            drop(running);
            elapsed
        };
        let pooled = || {
            let mut blank = BlankIsolate::new(plain.limits.memory_mb, false).unwrap();
            blank.warm_up().unwrap();
            Start::Pooled(Box::new(blank))
        };
        row("pool + evaluate", &mut || cold_start(&pooled));
        row("restore + evaluate", &mut || {
            cold_start(&|| Start::Restored)
        });
        row("worker snapshot", &mut || {
            cold_start(&|| Start::WorkerSnapshot(snapshot.clone()))
        });
        row("restore only", &mut || {
            let started = Instant::now();
            let blank =
                BlankIsolate::from_worker_snapshot(snapshot.clone(), plain.limits.memory_mb)
                    .unwrap();
            let elapsed = started.elapsed();
            drop(blank);
            elapsed
        });
        // What `--snapshots auto` picks, with this process's measurements.
        let choice = if snapshot.restore_saves_time(true) {
            "worker snapshot"
        } else {
            "pool + evaluate"
        };
        choices.push((name, choice));
    }
    println!();
    println!("| worker | stored bytes | bytes in memory | build ms (child process included) | `--snapshots auto` picks (with a pre-warmed isolate) |");
    println!("| --- | --- | --- | --- | --- |");
    for ((name, stored, memory, build_ms), (_, choice)) in sizes.into_iter().zip(choices) {
        println!("| {name} | {stored} | {memory} | {build_ms:.0} | {choice} |");
    }
}
