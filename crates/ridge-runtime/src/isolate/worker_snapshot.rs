//! Per-worker V8 snapshots: a worker's modules evaluated once, at deploy,
//! and serialized with their top-level state, so that a cold start
//! deserializes them instead of parsing, compiling and running them again.
//!
//! A snapshot is built in a child process (`ridge __build-snapshot`, see
//! [`build_in_child`]): V8 must be set up differently to create snapshots,
//! and a crash or runaway there must never touch the node. The child starts
//! from Ridge's runtime snapshot, hides Deno's internals, evaluates the
//! worker, refuses if its top level left anything pending (timers, I/O,
//! resources), puts the internals back, and serializes the heap, compiled
//! code included. `env` is attached only at start (after restore), so
//! secrets never enter a snapshot.
//!
//! Stored snapshots carry the key of the build that made them
//! ([`build_key`]: Ridge's version, V8's, and a hash of the runtime
//! snapshot); one from another build is ignored.

use std::io::Write as _;
use std::path::Path;
use std::process::Stdio;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use deno_core::{v8, JsRuntimeForSnapshot, ModuleId, PollEventLoopOptions};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use super::loader::{module_specifier, BundleLoader};
use super::runtime::{prepare_runtime, runtime_options, take_start, warm_up};
use super::snapshot::RUNTIME_SNAPSHOT;
use super::snapshot_sidecar::keep_runtime_sources;
use crate::worker::WorkerVersion;
use ridge_deploy::{Bundle, ModuleKind};
use ridge_store::operations::{OperationsStore, SnapshotOutcome};

/// The first line of a stored snapshot: what it is, and its layout's version.
const MAGIC: &[u8] = b"RIDGE-WORKER-SNAPSHOT 3\n";
/// After the build key's line: SHA-256 of the blob, main module id (u32
/// LE), top-level evaluation time in µs (u64 LE); then the blob: V8's and
/// deno_core's sidecar, as `JsRuntimeForSnapshot::snapshot` made it.
const HEADER_BYTES: usize = 32 + 4 + 8;
/// Largest snapshot kept (Ridge's own runtime is about 2 MiB of it).
pub const MAX_SNAPSHOT_BYTES: usize = 64 * 1024 * 1024;
/// Heap for the snapshot-building isolate.
const BUILD_HEAP_MB: u64 = 256;
/// How long a snapshot build may take, all told (process start included).
pub const BUILD_TIMEOUT: Duration = Duration::from_secs(30);

/// A worker snapshot for this build, ready to restore: the V8 blob with
/// deno_core's sidecar, and the worker's main module in it.
#[derive(Clone)]
pub struct WorkerSnapshot {
    /// What V8 restores. The stored form leaves out the runtime snapshot's
    /// extension sources (0.8 MiB, the same in every snapshot of a build);
    /// they are put back here, see `snapshot_sidecar.rs`.
    restorable: Arc<[u8]>,
    main_module: ModuleId,
    /// How long loading and evaluating the worker's modules took when the
    /// snapshot was made: what a start without the snapshot would spend.
    evaluate_us: u64,
}

impl std::fmt::Debug for WorkerSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WorkerSnapshot({} bytes)", self.restorable.len())
    }
}

/// Why a stored snapshot cannot be used by this build.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotFormatError {
    #[error("not a Ridge worker snapshot")]
    NotASnapshot,
    #[error("truncated snapshot")]
    Truncated,
    #[error("corrupt snapshot key")]
    CorruptKey,
    #[error("made by another build ({found}; this is {this})")]
    OtherBuild { found: String, this: String },
    #[error("the snapshot is damaged (checksum mismatch)")]
    Damaged,
    #[error(transparent)]
    Sidecar(#[from] super::snapshot_sidecar::SidecarError),
}

impl WorkerSnapshot {
    /// Reads a stored snapshot; `Err` says why it cannot be used here.
    pub fn parse(stored: &[u8]) -> Result<Self, SnapshotFormatError> {
        let rest = stored
            .strip_prefix(MAGIC)
            .ok_or(SnapshotFormatError::NotASnapshot)?;
        let key_end = rest
            .iter()
            .position(|b| *b == b'\n')
            .ok_or(SnapshotFormatError::Truncated)?;
        let key =
            std::str::from_utf8(&rest[..key_end]).map_err(|_| SnapshotFormatError::CorruptKey)?;
        if key != build_key() {
            return Err(SnapshotFormatError::OtherBuild {
                found: key.to_string(),
                this: build_key().to_string(),
            });
        }
        // V8 aborts the process on a damaged snapshot: check it first.
        let header = MAGIC.len() + key_end + 1;
        let fields = stored
            .get(header..header + HEADER_BYTES)
            .ok_or(SnapshotFormatError::Truncated)?;
        let (digest, rest) = fields.split_at(32);
        let (id, evaluate_us) = rest.split_at(4);
        let blob = &stored[header + HEADER_BYTES..];
        if Sha256::digest(blob).as_slice() != digest {
            return Err(SnapshotFormatError::Damaged);
        }
        Ok(Self {
            restorable: keep_runtime_sources(blob)?.into(),
            main_module: u32::from_le_bytes(id.try_into().expect("4 bytes")) as ModuleId,
            evaluate_us: u64::from_le_bytes(evaluate_us.try_into().expect("8 bytes")),
        })
    }

    /// Whether restoring this snapshot beats evaluating the worker's
    /// modules: in a pre-warmed isolate (`pooled`), whose runtime snapshot
    /// was restored ahead of need, or in one restored now. Restoring costs
    /// about what restoring Ridge's runtime snapshot costs on this machine
    /// (measured by every blank isolate), scaled by size; a small worker
    /// evaluates faster than that. Always true with `--snapshots always`.
    pub fn restore_saves_time(&self, pooled: bool) -> bool {
        ALWAYS_RESTORE.load(Ordering::Relaxed)
            || restore_beats_evaluation(
                runtime_restore_us(),
                self.restorable.len(),
                self.evaluate_us,
                pooled,
            )
    }

    pub(super) fn v8_bytes(&self) -> &[u8] {
        &self.restorable
    }

    pub(super) fn main_module(&self) -> ModuleId {
        self.main_module
    }

    /// Size in memory, in bytes.
    pub fn len(&self) -> usize {
        self.restorable.len()
    }

    pub fn is_empty(&self) -> bool {
        self.restorable.is_empty()
    }
}

/// When cold starts restore a worker's snapshot (`--snapshots`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotUse {
    /// When restoring it is faster than evaluating the worker's modules.
    Auto,
    /// Whenever the worker has one.
    Always,
    /// Never: no snapshot is made.
    Never,
}

impl std::str::FromStr for SnapshotUse {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "auto" => Ok(Self::Auto),
            "always" => Ok(Self::Always),
            "never" => Ok(Self::Never),
            _ => Err(format!("{text:?} is not one of auto, always, never")),
        }
    }
}

/// Set once at startup from the command line (`--snapshots`).
static ALWAYS_RESTORE: AtomicBool = AtomicBool::new(false);

/// Sets how this process uses worker snapshots.
pub fn set_use(snapshots: SnapshotUse) {
    ALWAYS_RESTORE.store(snapshots == SnapshotUse::Always, Ordering::Relaxed);
}

/// Microseconds a restore of Ridge's runtime snapshot takes on this
/// machine: a moving average over the blank isolates made so far (5 ms
/// until the first).
static RUNTIME_RESTORE_US: AtomicU64 = AtomicU64::new(5_000);

/// Records how long restoring the runtime snapshot took (`BlankIsolate::new`).
pub(super) fn record_runtime_restore(elapsed: Duration) {
    let sample = elapsed.as_micros() as u64;
    let _ = RUNTIME_RESTORE_US.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |average| {
        Some((average * 7 + sample) / 8)
    });
}

fn runtime_restore_us() -> u64 {
    RUNTIME_RESTORE_US.load(Ordering::Relaxed)
}

/// The cost model behind [`WorkerSnapshot::restore_saves_time`]: a snapshot
/// of `snapshot_bytes` restores in the runtime snapshot's restore time,
/// scaled by size.
fn restore_beats_evaluation(
    runtime_restore_us: u64,
    snapshot_bytes: usize,
    evaluate_us: u64,
    pooled: bool,
) -> bool {
    let runtime_us = runtime_restore_us as f64;
    let restore_us = runtime_us * snapshot_bytes as f64 / RUNTIME_SNAPSHOT.len() as f64;
    let evaluate_us = evaluate_us as f64;
    if pooled {
        restore_us < evaluate_us
    } else {
        restore_us < runtime_us + evaluate_us
    }
}

/// What identifies a build for snapshots: they are only loaded by the same
/// Ridge version, on the same V8, with the same runtime snapshot (JS glue
/// and ops).
pub fn build_key() -> &'static str {
    static KEY: OnceLock<String> = OnceLock::new();
    KEY.get_or_init(|| {
        let runtime = hex::encode(&Sha256::digest(RUNTIME_SNAPSHOT)[..8]);
        format!(
            "ridge {} v8 {} runtime {runtime}",
            env!("CARGO_PKG_VERSION"),
            v8::VERSION_STRING
        )
    })
}

/// Why a worker is not snapshotted, when that is a property of the worker
/// rather than a failure: such workers start normally.
pub fn unsupported(version: &WorkerVersion) -> Option<&'static str> {
    if version.bundle.classic_script().is_some() {
        return Some("service-worker scripts start without a snapshot");
    }
    if version
        .bundle
        .modules
        .values()
        .any(|m| m.kind == ModuleKind::Wasm)
    {
        return Some("V8 cannot snapshot WebAssembly modules");
    }
    None
}

/// A snapshot just made: as stored, and ready to restore.
pub struct Built {
    pub stored: Vec<u8>,
    pub snapshot: WorkerSnapshot,
}

/// Why a build made no snapshot.
#[derive(Debug)]
pub struct NoSnapshot {
    pub reason: String,
    /// The worker's doing (its code, what its top level does): another try
    /// would end the same, so the outcome may be recorded. Otherwise the
    /// failure was the machine's (a timeout, a crash, a missing binary).
    pub lasting: bool,
}

impl NoSnapshot {
    fn worker(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            lasting: true,
        }
    }

    fn failure(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            lasting: false,
        }
    }
}

/// How the builder child process exits without a snapshot: the worker's
/// doing, or a failure of its own.
const EXIT_REFUSED: i32 = 2;
const EXIT_FAILED: i32 = 3;

/// Builds `version`'s snapshot in a child process (`ridge` at `exe`, run
/// as `ridge __build-snapshot`), within `timeout`. `Err` is the reason
/// there is none.
pub async fn build_in_child(
    version: &WorkerVersion,
    exe: &Path,
    timeout: Duration,
) -> Result<Built, NoSnapshot> {
    if let Some(reason) = unsupported(version) {
        return Err(NoSnapshot::worker(reason));
    }
    let mut child = tokio::process::Command::new(exe)
        .arg("__build-snapshot")
        .arg(&version.bundle.main)
        .arg(version.limits.startup_cpu_ms.to_string())
        .arg(
            serde_json::json!({
                "compatibility_date": version.compatibility_date,
                "compatibility_flags": version.compatibility_flags,
            })
            .to_string(),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| NoSnapshot::failure(format!("cannot start the snapshot builder: {e}")))?;
    let bundle = version.bundle.encode();
    let mut stdin = child.stdin.take().expect("piped");
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let work = async {
        let write = async move {
            let result = tokio::io::AsyncWriteExt::write_all(&mut stdin, &bundle).await;
            drop(stdin);
            result
        };
        let mut snapshot = Vec::new();
        let mut message = String::new();
        let read = async {
            // One byte over the limit is enough to know it is too large.
            (&mut stdout)
                .take(MAX_SNAPSHOT_BYTES as u64 + 1)
                .read_to_end(&mut snapshot)
                .await
        };
        let (written, read, _) = tokio::join!(write, read, stderr.read_to_string(&mut message));
        let status = child.wait().await;
        (written, read, status, snapshot, message)
    };
    let (written, read, status, snapshot, message) =
        tokio::time::timeout(timeout, work).await.map_err(|_| {
            NoSnapshot::failure(format!("building the snapshot took more than {timeout:?}"))
        })?;
    let status =
        status.map_err(|e| NoSnapshot::failure(format!("the snapshot builder failed: {e}")))?;
    if !status.success() {
        let message = message.trim();
        let reason = match message.lines().last() {
            Some(line) => line.to_string(),
            None => format!("the snapshot builder failed ({status})"),
        };
        return Err(if status.code() == Some(EXIT_REFUSED) {
            NoSnapshot::worker(reason)
        } else {
            NoSnapshot::failure(reason)
        });
    }
    written.map_err(|e| {
        NoSnapshot::failure(format!(
            "cannot send the bundle to the snapshot builder: {e}"
        ))
    })?;
    read.map_err(|e| NoSnapshot::failure(format!("cannot read the snapshot: {e}")))?;
    if snapshot.len() > MAX_SNAPSHOT_BYTES {
        return Err(NoSnapshot::worker(format!(
            "the snapshot is larger than {} MiB",
            MAX_SNAPSHOT_BYTES / (1024 * 1024)
        )));
    }
    Ok(Built {
        snapshot: WorkerSnapshot::parse(&snapshot)
            .map_err(|error| NoSnapshot::failure(error.to_string()))?,
        stored: snapshot,
    })
}

/// Builds `version`'s snapshot, logging how it went.
async fn build_logged(version: &WorkerVersion) -> Result<Built, NoSnapshot> {
    let started = std::time::Instant::now();
    let built = match std::env::current_exe() {
        Ok(exe) => build_in_child(version, &exe, BUILD_TIMEOUT).await,
        Err(error) => Err(NoSnapshot::failure(format!(
            "cannot find Ridge's executable: {error}"
        ))),
    };
    match &built {
        Ok(built) => tracing::info!(
            worker = %version.name,
            version = %version.version_id,
            bytes = built.stored.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "worker snapshot made"
        ),
        Err(NoSnapshot { reason, .. }) => tracing::info!(
            worker = %version.name,
            version = %version.version_id,
            "starting without a snapshot: {reason}"
        ),
    }
    built
}

/// `version` with its snapshot, read from `dir` (`<name>-<version id>.bin`),
/// or built and written there (replacing the worker's older ones); without
/// one (logged with the reason) if it cannot be had. Used by `ridge dev`,
/// whose snapshots live in `.ridge/`, and `ridge serve --workers`.
pub async fn attach_from_dir(version: Arc<WorkerVersion>, dir: &Path) -> Arc<WorkerVersion> {
    let file_name = format!("{}-{}.bin", version.name, version.version_id);
    let path = dir.join(&file_name);
    if let Ok(bytes) = tokio::fs::read(&path).await {
        match WorkerSnapshot::parse(&bytes) {
            Ok(snapshot) => return with_snapshot_if_faster(version, snapshot),
            Err(reason) => {
                tracing::info!(path = %path.display(), "rebuilding the worker snapshot: {reason}")
            }
        }
    }
    let Ok(Built { stored, snapshot }) = build_logged(&version).await else {
        return version;
    };
    if let Err(error) = tokio::fs::create_dir_all(dir).await {
        tracing::warn!(dir = %dir.display(), %error, "cannot keep the worker snapshot");
    } else if let Err(error) = write_atomically(&path, &stored).await {
        tracing::warn!(path = %path.display(), %error, "cannot keep the worker snapshot");
    } else {
        remove_older_snapshots(dir, &version.name, &file_name).await;
    }
    with_snapshot_if_faster(version, snapshot)
}

/// Writes `bytes` to `path` through a temporary file and a rename, so that
/// another process loading the same worker never reads half a snapshot.
async fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let temporary = path.with_extension(format!("tmp{}", std::process::id()));
    tokio::fs::write(&temporary, bytes).await?;
    tokio::fs::rename(&temporary, path).await
}

/// Removes `worker`'s snapshots in `dir` other than `current`: each edit in
/// `ridge dev` makes a new version, and only the newest is ever loaded.
async fn remove_older_snapshots(dir: &Path, worker: &str, current: &str) {
    let Ok(mut entries) = tokio::fs::read_dir(dir).await else {
        return;
    };
    while let Ok(Some(entry)) = entries.next_entry().await {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        // `<worker>-<version id>.bin`, the id being hex: another worker whose
        // name starts with this one's leaves a non-hex rest.
        let is_older = name != current
            && name
                .strip_prefix(worker)
                .and_then(|rest| rest.strip_prefix('-'))
                .and_then(|rest| rest.strip_suffix(".bin"))
                .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit()));
        if is_older {
            let _ = tokio::fs::remove_file(entry.path()).await;
        }
    }
}

/// `version`'s snapshot for this build from `store`, where any node of the
/// same build may have recorded it; built here and recorded when none has.
/// `None` (logged with the reason) when it cannot be had. Used by
/// `ridge serve` (see `node.rs`).
pub async fn from_store(
    version: &WorkerVersion,
    store: &dyn OperationsStore,
) -> Option<WorkerSnapshot> {
    let key = build_key();
    let recorded = store
        .worker_snapshot(&version.name, &version.version_id, key)
        .await;
    let snapshot = match recorded {
        Ok(Some(SnapshotOutcome::Built(bytes))) => match WorkerSnapshot::parse(&bytes) {
            Ok(snapshot) => snapshot,
            Err(reason) => {
                tracing::warn!(worker = %version.name, "ignoring the stored worker snapshot: {reason}");
                return None;
            }
        },
        Ok(Some(SnapshotOutcome::Refused(_))) => return None,
        Ok(None) => {
            // A failure of this machine's is not recorded: another node, or
            // this one after a restart, tries again.
            let (outcome, built) = match build_logged(version).await {
                Ok(Built { stored, snapshot }) => {
                    (Some(SnapshotOutcome::Built(stored)), Some(snapshot))
                }
                Err(NoSnapshot { reason, lasting }) => {
                    (lasting.then_some(SnapshotOutcome::Refused(reason)), None)
                }
            };
            if let Some(outcome) = outcome {
                if let Err(error) = store
                    .put_worker_snapshot(&version.name, &version.version_id, key, &outcome)
                    .await
                {
                    tracing::warn!(worker = %version.name, %error, "cannot record the worker snapshot");
                }
            }
            built?
        }
        Err(error) => {
            tracing::warn!(worker = %version.name, %error, "cannot read the worker snapshot");
            return None;
        }
    };
    faster_to_restore(version, snapshot)
}

/// `snapshot`, if restoring it beats evaluating `version` in a pre-warmed
/// isolate (see [`WorkerSnapshot::restore_saves_time`]). One that does not
/// is dropped rather than kept in memory for the rare cold start without a
/// pre-warmed isolate: a node may serve thousands of small workers.
fn faster_to_restore(version: &WorkerVersion, snapshot: WorkerSnapshot) -> Option<WorkerSnapshot> {
    if snapshot.restore_saves_time(true) {
        return Some(snapshot);
    }
    tracing::info!(
        worker = %version.name,
        version = %version.version_id,
        evaluate_us = snapshot.evaluate_us,
        "starting without a snapshot: the worker evaluates faster than a snapshot restores"
    );
    None
}

fn with_snapshot_if_faster(
    version: Arc<WorkerVersion>,
    snapshot: WorkerSnapshot,
) -> Arc<WorkerVersion> {
    match faster_to_restore(&version, snapshot) {
        Some(snapshot) => with_snapshot(version, snapshot),
        None => version,
    }
}

/// `version` restored from `snapshot` at its cold starts.
pub fn with_snapshot(version: Arc<WorkerVersion>, snapshot: WorkerSnapshot) -> Arc<WorkerVersion> {
    let mut version = Arc::unwrap_or_clone(version);
    version.snapshot = Some(snapshot);
    Arc::new(version)
}

/// The child process's side: reads a bundle whose main module is `main`
/// from standard input and writes the snapshot to standard output; on
/// failure prints the reason to standard error and exits with
/// [`EXIT_REFUSED`] or [`EXIT_FAILED`]. `compatibility` is the version's
/// date and flags as JSON (they decide what its modules may import).
pub fn build_to_stdout(main: &str, startup_cpu_ms: u64, compatibility: &str) -> ! {
    // A panic here (deno_core panics in ops that make cppgc objects, which a
    // snapshotting isolate cannot hold) is a reason for the node's log, and
    // often one that cannot unwind: say it and leave at once.
    std::panic::set_hook(Box::new(|info| {
        let cppgc = info
            .location()
            .is_some_and(|location| location.file().ends_with("cppgc.rs"));
        if cppgc {
            eprintln!(
                "its top-level code made a Web API object that cannot be snapshotted \
                 (CryptoKey, CompressionStream, DOMMatrix, …)"
            );
        } else {
            eprintln!("the snapshot builder failed: {info}");
            std::process::exit(EXIT_FAILED);
        }
        std::process::exit(EXIT_REFUSED);
    }));
    let result = (|| {
        let mut encoded = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut encoded)
            .map_err(|e| NoSnapshot::failure(format!("cannot read the bundle: {e}")))?;
        let bundle = Bundle::decode(main.to_string(), &encoded)
            .map_err(|e| NoSnapshot::failure(e.to_string()))?;
        let compatibility: serde_json::Value = serde_json::from_str(compatibility)
            .map_err(|e| NoSnapshot::failure(format!("bad compatibility argument: {e}")))?;
        build(bundle, startup_cpu_ms, compatibility)
    })();
    match result {
        Ok(snapshot) => {
            let mut stdout = std::io::stdout().lock();
            if stdout
                .write_all(&snapshot)
                .and_then(|_| stdout.flush())
                .is_err()
            {
                std::process::exit(1);
            }
            std::process::exit(0)
        }
        Err(NoSnapshot { reason, lasting }) => {
            eprintln!("{reason}");
            std::process::exit(if lasting { EXIT_REFUSED } else { EXIT_FAILED })
        }
    }
}

/// Evaluates `bundle` in a snapshot-making isolate and serializes it.
fn build(
    bundle: Bundle,
    startup_cpu_ms: u64,
    compatibility: serde_json::Value,
) -> Result<Vec<u8>, NoSnapshot> {
    // Top-level code sees no `env` (module workers get it per call), so the
    // snapshot is made without vars or secrets.
    let metadata = serde_json::from_value(serde_json::json!({
        "main_module": bundle.main,
        "compatibility_date": compatibility["compatibility_date"],
        "compatibility_flags": compatibility["compatibility_flags"],
    }))
    .map_err(|e| NoSnapshot::failure(e.to_string()))?;
    let version = Arc::new(WorkerVersion::new(
        "snapshot",
        "snapshot",
        &metadata,
        bundle,
        &Default::default(),
    ));
    // (`build_in_child` has already refused unsupported workers.)
    let loader = Rc::new(BundleLoader::default());
    loader.set_version(version.clone());
    // Layered on Ridge's runtime snapshot: the isolates alive in a process
    // share one read-only heap, taken from the first snapshot loaded, so a
    // worker snapshot must carry exactly the runtime snapshot's read-only
    // heap. One made from scratch promotes its own objects into
    // read-only space, and restoring it beside the runtime snapshot
    // corrupts the heap. V8 extends a read-only heap it will serialize
    // (objects it can prove immutable are promoted into it) unless told
    // not to; this process exists only to make this snapshot.
    v8::V8::set_flags_from_string("--no-extensible-ro-snapshot");
    let mut runtime = JsRuntimeForSnapshot::try_new(runtime_options(
        loader,
        Some(RUNTIME_SNAPSHOT),
        BUILD_HEAP_MB,
        false,
    ))
    .map_err(|e| NoSnapshot::failure(format!("cannot create a snapshot isolate: {e}")))?;
    let controls = prepare_runtime(&mut runtime, BUILD_HEAP_MB, None);
    // Compiled now, the request path is kept compiled in the snapshot.
    warm_up(&mut runtime).map_err(|e| NoSnapshot::failure(e.to_string()))?;
    let bridge = take_start(&mut runtime, true, version.node_compat().v2)
        .map_err(|e| NoSnapshot::failure(e.to_string()))?;
    let activity = runtime.runtime_activity_stats_factory();
    let filter = deno_core::stats::RuntimeActivityStatsFilter::all();
    let before = activity.clone().capture(&filter);

    let watch = controls.limits.guard_startup(startup_cpu_ms);
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| NoSnapshot::failure(e.to_string()))?;
    let main = module_specifier(&version.bundle.main);
    let evaluating = std::time::Instant::now();
    let mut evaluate_us = 0;
    let evaluated: Result<ModuleId, String> = tokio.block_on(async {
        let id = runtime
            .load_main_es_module(&main)
            .await
            .map_err(|e| e.to_string())?;
        let evaluation = runtime.mod_evaluate(id);
        runtime
            .with_event_loop_future(evaluation, PollEventLoopOptions::default())
            .await
            .map_err(|e| e.to_string())?;
        evaluate_us = evaluating.elapsed().as_micros() as u64;
        // Let promise jobs and ops the top level started come forward, so
        // they are seen below.
        let _ = tokio::time::timeout(
            Duration::from_millis(1),
            runtime.run_event_loop(PollEventLoopOptions::default()),
        )
        .await;
        Ok(id)
    });
    drop(watch);
    if let Some(limit) = controls.limits.take_exceeded() {
        return Err(NoSnapshot::worker(limit.to_string()));
    }
    // The worker's modules failed to load or to run.
    let main_module = evaluated.map_err(NoSnapshot::worker)?;
    let after = activity.capture(&filter);
    let pending = deno_core::stats::RuntimeActivityStats::diff(&before, &after);
    if !pending.appeared.is_empty() {
        let what: Vec<String> = pending
            .appeared
            .iter()
            .map(|activity| format!("{activity:?}"))
            .collect();
        return Err(NoSnapshot::worker(format!(
            "its top-level code left work pending ({})",
            what.join(", ")
        )));
    }
    // `env` holds no bindings here: a top level that read it would keep
    // what it saw (nothing) in the snapshot.
    let read_env = runtime.call_with_args(&bridge.env_read_early, &[]);
    let read_env = tokio
        .block_on(read_env)
        .map_err(|e| NoSnapshot::failure(e.to_string()))?;
    let read_env = {
        deno_core::scope!(scope, runtime);
        v8::Local::new(scope, read_env).is_true()
    };
    if read_env {
        return Err(NoSnapshot::worker(
            "its top-level code reads `env` from cloudflare:workers, which has no bindings while a snapshot is made",
        ));
    }
    let reinstate = runtime.call_with_args(&bridge.reinstate, &[]);
    tokio
        .block_on(reinstate)
        .map_err(|e| NoSnapshot::failure(format!("cannot put Deno's internals back: {e}")))?;
    drop(bridge);
    // Stored without the runtime's extension sources; `parse` adds them.
    let blob = runtime.snapshot();
    let key = build_key();
    // Layout: see MAGIC and HEADER_BYTES.
    let mut snapshot = Vec::with_capacity(MAGIC.len() + key.len() + 1 + HEADER_BYTES + blob.len());
    snapshot.extend_from_slice(MAGIC);
    snapshot.extend_from_slice(key.as_bytes());
    snapshot.push(b'\n');
    snapshot.extend_from_slice(&Sha256::digest(&blob));
    snapshot.extend_from_slice(&(main_module as u32).to_le_bytes());
    snapshot.extend_from_slice(&evaluate_us.to_le_bytes());
    snapshot.extend_from_slice(&blob);
    Ok(snapshot)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restore_is_chosen_only_when_it_saves_time() {
        let runtime = RUNTIME_SNAPSHOT.len();
        // A small worker: evaluating it in a pre-warmed isolate is quicker
        // than restoring anything; without one, its snapshot (barely larger
        // than the runtime's) spares the evaluation.
        assert!(!restore_beats_evaluation(
            4_000,
            runtime + runtime / 20,
            300,
            true
        ));
        assert!(restore_beats_evaluation(
            4_000,
            runtime + runtime / 20,
            300,
            false
        ));
        // A heavy one (three.js: 2.7 times the bytes, 20 ms to evaluate).
        assert!(restore_beats_evaluation(
            4_000,
            runtime * 27 / 10,
            20_000,
            true
        ));
        // A huge snapshot of a quickly evaluated worker is never worth it.
        assert!(!restore_beats_evaluation(4_000, runtime * 10, 5_000, false));
    }
}
