//! Durable storage: the control plane (workers, their immutable versions,
//! which version is active, secrets), KV namespaces (`kv.rs`), queues and
//! their messages (`queues.rs`) and static asset content (`assets.rs`).
//! Running nodes also record cron claims and usage there (`operations.rs`).
//! `sqlite.rs` is the embedded default; `postgres.rs` is shared by several
//! nodes. Nothing here touches V8.

pub mod assets;
pub mod kv;
pub mod operations;
pub mod postgres;
pub mod queues;
pub mod sqlite;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;
use tokio::sync::broadcast;

use ridge_deploy::{Bundle, BundleError, VersionMetadata};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no worker named {0:?}")]
    WorkerNotFound(String),
    #[error("worker {worker:?} has no version {version:?}")]
    VersionNotFound { worker: String, version: String },
    #[error("no KV namespace {0:?}")]
    NamespaceNotFound(String),
    #[error("no queue {0:?}: create it with `ridge queues create {0}`")]
    QueueNotFound(String),
    #[error("worker {worker:?} has no secret {name:?}")]
    SecretNotFound { worker: String, name: String },
    #[error("unsupported store URL {0:?}: use postgres://… or sqlite:PATH (or a plain path)")]
    UnsupportedUrl(String),
    #[error("storage failed: {0}")]
    Backend(String),
    #[error(transparent)]
    Bundle(#[from] BundleError),
}

/// A version as uploaded, with what the store adds.
#[derive(Clone, Debug)]
pub struct StoredVersion {
    pub worker: String,
    pub id: String,
    /// Seconds since the Unix epoch.
    pub created_at: i64,
    pub metadata: VersionMetadata,
    pub bundle: Bundle,
}

/// What the API shows of a version.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct VersionInfo {
    pub id: String,
    pub created_at: i64,
    /// Total size of the modules, in bytes.
    pub size: u64,
    pub main_module: String,
    pub routes: Vec<String>,
    pub author: Option<String>,
    pub message: Option<String>,
    pub active: bool,
}

impl VersionInfo {
    fn new(version: &StoredVersion, active: bool) -> Self {
        Self {
            id: version.id.clone(),
            created_at: version.created_at,
            size: version.bundle.size(),
            main_module: version.metadata.main_module.clone(),
            routes: version.metadata.routes.clone(),
            author: version.metadata.author.clone(),
            message: version.metadata.message.clone(),
            active,
        }
    }
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct WorkerInfo {
    pub name: String,
    pub active_version: Option<String>,
    pub versions: usize,
    /// Names only: secret values are never returned.
    pub secrets: Vec<String>,
}

/// A worker's active version (without its bundle, which can be large:
/// nodes re-read this list often and load only the bundles they lack,
/// with [`Store::version`]) and the secrets it runs with.
#[derive(Clone, Debug)]
pub struct ActiveWorker {
    pub worker: String,
    pub version_id: String,
    pub metadata: VersionMetadata,
    pub secrets: BTreeMap<String, String>,
}

/// The control-plane store, which also keeps KV. Every write is atomic: a
/// failed or interrupted write leaves nothing half-done behind.
#[async_trait::async_trait]
pub trait Store:
    kv::KvStore + queues::QueueStore + operations::OperationsStore + assets::AssetStore
{
    /// Stores a version (a no-op if that id exists already) and makes it the
    /// worker's active version, in one transaction.
    async fn deploy(&self, version: StoredVersion) -> Result<VersionInfo, StoreError>;
    /// Makes an existing version active (rollback, or forward again).
    async fn activate(&self, worker: &str, version: &str) -> Result<VersionInfo, StoreError>;
    async fn workers(&self) -> Result<Vec<WorkerInfo>, StoreError>;
    /// A worker's versions, newest first.
    async fn versions(&self, worker: &str) -> Result<Vec<VersionInfo>, StoreError>;
    /// Every worker's active version, with its secrets.
    async fn active_workers(&self) -> Result<Vec<ActiveWorker>, StoreError>;
    /// One version with its bundle; `None` if it does not exist (any more).
    async fn version(&self, worker: &str, id: &str) -> Result<Option<StoredVersion>, StoreError>;
    /// Deletes a worker with all its versions and secrets.
    async fn delete_worker(&self, worker: &str) -> Result<(), StoreError>;
    async fn put_secret(&self, worker: &str, name: &str, value: &str) -> Result<(), StoreError>;
    async fn delete_secret(&self, worker: &str, name: &str) -> Result<(), StoreError>;
    /// Fires after every change that could alter what is served.
    fn changes(&self) -> broadcast::Receiver<()>;
}

/// Opens the store a URL names: `postgres://…`, `sqlite:PATH`, or a plain
/// file path (empty: `ridge.db` in `data_dir`).
pub async fn open(url: &str, data_dir: &Path) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Arc::new(postgres::PostgresStore::open(url).await?));
    }
    if let Some(path) = url.strip_prefix("sqlite:") {
        let path = path.trim_start_matches("//");
        return Ok(Arc::new(sqlite::SqliteStore::open(Path::new(path))?));
    }
    if url.contains("://") {
        return Err(StoreError::UnsupportedUrl(url.to_string()));
    }
    let path = if url.is_empty() {
        data_dir.join("ridge.db")
    } else {
        Path::new(url).to_path_buf()
    };
    Ok(Arc::new(sqlite::SqliteStore::open(&path)?))
}
