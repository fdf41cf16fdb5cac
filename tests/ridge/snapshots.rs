//! Per-worker V8 snapshots: a worker restored from its snapshot answers as
//! one that evaluated its modules, with fresh randomness and the current
//! time, without secrets in the stored bytes; workers that cannot be
//! snapshotted, and snapshots of another build, fall back to a normal start.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::control::{Backend, Node};
use crate::support::{fixture, serve, Ridge, TempDir};

const TOP_LEVEL_LINE: &str = "evaluating the top level";

/// A copy of `fixture` in a fresh folder, so that its `.ridge/` is new.
fn copy_of(fixture_path: &Path, dir: &TempDir) -> PathBuf {
    let target = dir.path().join("worker");
    std::fs::create_dir_all(&target).unwrap();
    for entry in std::fs::read_dir(fixture_path).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), target.join(entry.file_name())).unwrap();
    }
    target
}

/// The snapshots `ridge dev` keeps for the worker in `worker_dir`.
fn dev_snapshots(worker_dir: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(worker_dir.join(".ridge/snapshots")) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

/// A copy of the `snapshot-state` fixture in `dir`, and the snapshot a first
/// `ridge dev` run made and kept for it.
fn worker_with_kept_snapshot(dir: &TempDir) -> (PathBuf, PathBuf) {
    let worker = copy_of(&fixture("snapshot-state"), dir);
    let ridge = Ridge::dev(&worker, &[]);
    ridge.wait_for_log("worker snapshot made");
    drop(ridge);
    let [path] = dev_snapshots(&worker).try_into().unwrap();
    (worker, path)
}

/// How many times the worker's top level has run in `ridge`'s process.
fn top_level_runs(ridge: &Ridge) -> usize {
    ridge.logs().matches(TOP_LEVEL_LINE).count()
}

fn without_time(mut answer: Value) -> Value {
    answer.as_object_mut().unwrap().remove("now");
    answer
}

fn now_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as f64
}

#[tokio::test]
async fn a_snapshot_start_answers_as_a_normal_start() {
    let dir = TempDir::new();
    let worker = copy_of(&fixture("snapshot-state"), &dir);

    let from_snapshot = Ridge::dev(&worker, &["--snapshots", "always"]);
    from_snapshot.wait_for_log("worker snapshot made");
    assert_eq!(dev_snapshots(&worker).len(), 1, "kept in .ridge/snapshots");
    // (`ridge dev` runs the top level once itself, to check the worker.)
    let runs = top_level_runs(&from_snapshot);
    // Long enough after the snapshot that its time cannot pass for now.
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let asked_at = now_ms();
    let restored = from_snapshot.json("/").await;
    assert_eq!(from_snapshot.json("/").await["counter"], 43);
    assert_eq!(
        top_level_runs(&from_snapshot),
        runs,
        "the isolate was restored, not evaluated:\n{}",
        from_snapshot.logs()
    );
    // Date.now() is the time of the request, not of the snapshot.
    let now = restored["now"].as_f64().unwrap();
    assert!(
        now >= asked_at - 50.0 && now <= now_ms() + 50.0,
        "now = {now}, asked at {asked_at}"
    );
    drop(from_snapshot);

    let evaluated = Ridge::dev(&worker, &["--snapshots", "never"]);
    let runs = top_level_runs(&evaluated);
    let normal = evaluated.json("/").await;
    evaluated.wait_for_logs(TOP_LEVEL_LINE, runs + 1);

    assert_eq!(without_time(restored.clone()), without_time(normal));
    assert_eq!(restored["counter"], 42);
    assert_eq!(restored["counterIsACounter"], true);
    assert_eq!(restored["square"], 1234.0 * 1234.0);
    assert_eq!(
        restored["capitals"],
        serde_json::json!([["fr", "Paris"], ["jp", "Tokyo"]])
    );
}

#[tokio::test]
async fn a_worker_that_evaluates_faster_than_a_restore_keeps_no_snapshot() {
    let dir = TempDir::new();
    let script = dir.path().join("small.js");
    std::fs::write(
        &script,
        "export default { fetch: () => new Response(\"small\") };\n",
    )
    .unwrap();
    let ridge = Ridge::dev(&script, &[]);
    let line = ridge.wait_for_log("starting without a snapshot");
    assert!(
        line.contains("evaluates faster than a snapshot restores"),
        "{line}"
    );
    assert_eq!(ridge.text("/").await, "small");
}

#[tokio::test]
async fn state_of_every_kind_survives_a_snapshot() {
    let dir = TempDir::new();
    let script = dir.path().join("exotic.js");
    std::fs::copy(fixture("snapshot-exotic.js"), &script).unwrap();
    let restored = {
        let ridge = Ridge::dev(&script, &["--snapshots", "always"]);
        ridge.wait_for_log("worker snapshot made");
        ridge.json("/").await
    };
    let evaluated = Ridge::dev(&script, &["--snapshots", "never"])
        .json("/")
        .await;
    assert_eq!(restored, evaluated);
    // A weak reference, a generator mid-way, a settled promise, a BigInt.
    assert_eq!(restored["weak"], "t");
    assert_eq!(restored["gen"], 2);
    assert_eq!(restored["asyncResult"], 42);
    assert_eq!(restored["big"], "1267650600228229401496703205376");
}

#[tokio::test]
async fn random_values_differ_between_snapshot_starts() {
    let dir = TempDir::new();
    let worker = copy_of(&fixture("snapshot-state"), &dir);
    let mut answers = Vec::new();
    for start in 0..2 {
        let ridge = Ridge::dev(&worker, &["--snapshots", "always"]);
        if start == 0 {
            ridge.wait_for_log("worker snapshot made");
        }
        let runs = top_level_runs(&ridge);
        answers.push(ridge.json("/random").await);
        assert_eq!(top_level_runs(&ridge), runs, "{}", ridge.logs());
        if start == 1 {
            assert!(
                !ridge.logs().contains("worker snapshot made"),
                "the second start reuses the kept snapshot:\n{}",
                ridge.logs()
            );
        }
    }
    for field in ["math", "crypto", "uuid"] {
        assert_ne!(answers[0][field], answers[1][field], "{field}: {answers:?}");
    }
}

#[tokio::test]
async fn top_level_work_left_pending_falls_back_with_the_reason() {
    let ridge = Ridge::dev(&fixture("snapshot-pending.js"), &[]);
    let line = ridge.wait_for_log("starting without a snapshot");
    assert!(
        line.contains("left work pending") && line.contains("Timer"),
        "{line}"
    );
    // The timer fires: the worker runs as it would without snapshots.
    assert_eq!(ridge.text("/").await, "ticked false");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(ridge.text("/").await, "ticked true");
}

#[tokio::test]
async fn a_snapshot_from_another_build_is_ignored() {
    let dir = TempDir::new();
    let (worker, path) = worker_with_kept_snapshot(&dir);
    // Another Ridge build's key: its snapshot must never reach V8.
    let bytes = std::fs::read(&path).unwrap();
    // The build key is the second line (after the format line).
    let key_start = bytes.iter().position(|b| *b == b'\n').unwrap() + 1;
    let key_end = key_start + bytes[key_start..].iter().position(|b| *b == b'\n').unwrap();
    let mut foreign = bytes[..key_start].to_vec();
    foreign.extend_from_slice(b"ridge 0.0.1 v8 1.0 runtime 0000000000000000");
    foreign.extend_from_slice(&bytes[key_end..]);
    std::fs::write(&path, &foreign).unwrap();

    let ridge = Ridge::dev(&worker, &["--snapshots", "always"]);
    let line = ridge.wait_for_log("rebuilding the worker snapshot");
    assert!(line.contains("made by another build"), "{line}");
    ridge.wait_for_log("worker snapshot made");
    assert_eq!(ridge.json("/").await["counter"], 42);
    assert_ne!(std::fs::read(&path).unwrap(), foreign, "replaced");
}

#[tokio::test]
async fn an_edit_replaces_the_kept_snapshot() {
    let dir = TempDir::new();
    let worker = copy_of(&fixture("snapshot-state"), &dir);
    let ridge = Ridge::dev(&worker, &["--snapshots", "always"]);
    ridge.wait_for_log("worker snapshot made");
    let [first] = dev_snapshots(&worker).try_into().unwrap();
    let source = worker.join("index.js");
    let edited = std::fs::read_to_string(&source).unwrap() + "\n// edited\n";
    std::fs::write(&source, edited).unwrap();
    ridge.wait_for_logs("worker snapshot made", 2);
    ridge.wait_for_log("reloaded");
    let [second] = dev_snapshots(&worker).try_into().unwrap();
    assert_ne!(first, second, "the new version's snapshot replaced the old");
    assert_eq!(ridge.json("/").await["counter"], 42);
}

#[tokio::test]
async fn a_served_folder_restores_its_workers_from_snapshots() {
    let ridge = serve(
        &[("state", fixture("snapshot-state"))],
        &["--snapshots", "always"],
    );
    ridge.wait_for_log("cold starts restore the worker snapshot");
    let runs = top_level_runs(&ridge);
    let (status, body) = ridge.get_host("snapshot-state.test", "/").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(top_level_runs(&ridge), runs, "{}", ridge.logs());
}

#[tokio::test]
async fn a_damaged_snapshot_is_rebuilt_not_loaded() {
    let dir = TempDir::new();
    let (worker, path) = worker_with_kept_snapshot(&dir);
    // One flipped byte in the V8 blob would abort the process in V8.
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();

    let ridge = Ridge::dev(&worker, &["--snapshots", "always"]);
    let line = ridge.wait_for_log("rebuilding the worker snapshot");
    assert!(line.contains("damaged"), "{line}");
    ridge.wait_for_log("worker snapshot made");
    assert_eq!(ridge.json("/").await["counter"], 42);
}

/// What a node recorded in its store's snapshot table: `column` (`snapshot`
/// or `refused`) of every row where it is set, as bytes.
fn stored(backend: &Backend, column: &str) -> Vec<Vec<u8>> {
    match backend {
        Backend::Sqlite(dir) => {
            let db = rusqlite::Connection::open(dir.path().join("ridge.db")).unwrap();
            let sql = format!(
                "SELECT CAST({column} AS BLOB) FROM worker_snapshots WHERE {column} IS NOT NULL"
            );
            let mut query = db.prepare(&sql).unwrap();
            let rows = query.query_map([], |row| row.get(0)).unwrap();
            rows.map(Result::unwrap).collect()
        }
        Backend::Postgres(db) => {
            let bytes = match column {
                "snapshot" => column.to_string(),
                _ => format!("convert_to({column}, 'UTF8')"),
            };
            db.query_bytes(&format!(
                "SELECT {bytes} FROM ridge_worker_snapshots WHERE {column} IS NOT NULL"
            ))
        }
    }
}

async fn uploads_are_served_from_a_stored_snapshot_without_their_secrets(backend: Backend) {
    let node = Node::start_with(&backend, &["--snapshots", "always"], &[]);
    let (ok, out) = node.cli(
        &["deploy", &fixture("snapshot-state").display().to_string()],
        None,
    );
    assert!(ok, "{out}");
    node.ridge.wait_for_log("worker snapshot made");
    let (ok, out) = node.cli(
        &["secret", "put", "API_KEY", "--name", "snapshot-state"],
        Some("s3cr3t-value\n"),
    );
    assert!(ok, "{out}");
    // New secrets make a new isolate key (with a hash of the secrets after
    // a `+`); it finds the snapshot recorded for the version.
    node.ridge.wait_for_log_with(&[
        "cold starts restore the worker snapshot",
        "isolate=snapshot-state@",
        "+",
    ]);
    let runs = top_level_runs(&node.ridge);

    let (status, body) = node.get("snapshot-state.test", "/").await;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        answer["secret"], "s3cr3t-value",
        "env is attached per start"
    );
    assert_eq!(answer["counter"], 42);
    assert_eq!(
        top_level_runs(&node.ridge),
        runs,
        "served from the snapshot:\n{}",
        node.ridge.logs()
    );

    let snapshots = stored(&backend, "snapshot");
    assert_eq!(snapshots.len(), 1);
    let contains = |needle: &[u8]| snapshots[0].windows(needle.len()).any(|w| w == needle);
    assert!(
        contains(TOP_LEVEL_LINE.as_bytes()),
        "the worker's own snapshot"
    );
    assert!(
        !contains(b"s3cr3t-value"),
        "no secret in the stored snapshot"
    );
}

async fn a_refusal_is_recorded_for_every_node(backend: Backend) {
    let node = Node::start(&backend);
    let (ok, out) = node.cli(
        &[
            "deploy",
            &fixture("snapshot-pending.js").display().to_string(),
        ],
        None,
    );
    assert!(ok, "{out}");
    node.ridge.wait_for_log("starting without a snapshot");
    // The builder's verdict is logged first and recorded just after.
    let recorded_by = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let refusals = loop {
        let refusals = stored(&backend, "refused");
        if !refusals.is_empty() || std::time::Instant::now() > recorded_by {
            break refusals;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(refusals.len(), 1, "{}", node.ridge.logs());
    let reason = String::from_utf8(refusals[0].clone()).unwrap();
    assert!(reason.contains("left work pending"), "{reason}");
    assert!(stored(&backend, "snapshot").is_empty());
}

on_both_stores!(
    uploads_are_served_from_a_stored_snapshot_without_their_secrets,
    a_refusal_is_recorded_for_every_node,
);
