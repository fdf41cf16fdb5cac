//! What a running node records in the store besides code and KV: claims on
//! cron runs (so that each scheduled run happens once across the nodes
//! sharing a store), hourly usage totals per worker version (summed
//! across nodes), and the worker snapshots it built (shared by the nodes
//! of the same Ridge build).

use serde::Serialize;

use super::StoreError;

/// Usage of one worker version during one hour, as stored: every node adds
/// its own counts to the same row.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct UsageRow {
    pub worker: String,
    pub version: String,
    /// Start of the hour, in seconds since the Unix epoch.
    pub hour: i64,
    pub requests: i64,
    pub cpu_us: i64,
    pub wall_us: i64,
    pub subrequests: i64,
    pub kv_operations: i64,
    /// Queue messages sent by the worker and delivered to it.
    pub queue_messages: i64,
    pub bytes_in: i64,
    pub bytes_out: i64,
}

impl UsageRow {
    /// Adds `other`'s counts to this row's.
    pub fn add(&mut self, other: &UsageRow) {
        self.requests += other.requests;
        self.cpu_us += other.cpu_us;
        self.wall_us += other.wall_us;
        self.subrequests += other.subrequests;
        self.kv_operations += other.kv_operations;
        self.queue_messages += other.queue_messages;
        self.bytes_in += other.bytes_in;
        self.bytes_out += other.bytes_out;
    }
}

/// How long cron claims are kept: long enough that no node can still be
/// deciding about that run.
pub const CRON_CLAIM_RETENTION_SECONDS: i64 = 24 * 3600;

/// What became of making a version's V8 snapshot with one Ridge build.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SnapshotOutcome {
    /// The snapshot, as `isolate/worker_snapshot.rs` lays it out.
    Built(Vec<u8>),
    /// Why there is none: the version starts without one.
    Refused(String),
}

impl SnapshotOutcome {
    /// The outcome a stored row holds: its bytes, or why there are none.
    pub(super) fn from_columns(snapshot: Option<Vec<u8>>, refused: Option<String>) -> Self {
        match snapshot {
            Some(bytes) => Self::Built(bytes),
            None => Self::Refused(refused.unwrap_or_default()),
        }
    }
}

/// How long a snapshot made by another Ridge build is kept: long enough for
/// a rolling upgrade, whose old nodes still use it.
pub const FOREIGN_SNAPSHOT_RETENTION_SECONDS: i64 = 24 * 3600;

#[async_trait::async_trait]
pub trait OperationsStore: Send + Sync {
    /// Claims the run of `worker`'s `cron` scheduled for `scheduled_ms`:
    /// true for exactly one caller across every node sharing the store.
    /// Also forgets claims older than [`CRON_CLAIM_RETENTION_SECONDS`].
    async fn claim_cron_run(
        &self,
        worker: &str,
        cron: &str,
        scheduled_ms: i64,
    ) -> Result<bool, StoreError>;
    /// Adds each row's counts to the stored row of its worker, version and
    /// hour, in one transaction.
    async fn add_usage(&self, rows: &[UsageRow]) -> Result<(), StoreError>;
    /// A worker's usage rows from the hour `since` (seconds) on, oldest first.
    async fn usage(&self, worker: &str, since: i64) -> Result<Vec<UsageRow>, StoreError>;
    /// The recorded snapshot outcome of `worker`'s `version` for `build`.
    async fn worker_snapshot(
        &self,
        worker: &str,
        version: &str,
        build: &str,
    ) -> Result<Option<SnapshotOutcome>, StoreError>;
    /// Records a snapshot outcome (replacing one from the same build), and
    /// forgets the version's snapshots from other builds older than
    /// [`FOREIGN_SNAPSHOT_RETENTION_SECONDS`].
    async fn put_worker_snapshot(
        &self,
        worker: &str,
        version: &str,
        build: &str,
        outcome: &SnapshotOutcome,
    ) -> Result<(), StoreError>;
}
