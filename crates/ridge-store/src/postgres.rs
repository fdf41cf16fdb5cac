//! The shared store for several nodes: PostgreSQL. Every write notifies the
//! `ridge_changes` channel in the same transaction, so every node listening
//! reloads as soon as the write commits; nodes also poll, which covers
//! notices lost while a listener reconnects.

use std::collections::BTreeMap;
use std::time::Duration;

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{broadcast, Mutex, RwLock};
use tokio_postgres::{Client, NoTls, Statement, Transaction};

use super::assets::AssetStore;
use super::kv::{prefix_upper_bound, KvChange, KvEntry, KvKey, KvStore, NamespaceInfo};
use super::operations::{
    OperationsStore, SnapshotOutcome, UsageRow, CRON_CLAIM_RETENTION_SECONDS,
    FOREIGN_SNAPSHOT_RETENTION_SECONDS,
};
use super::queues::{LeasedMessage, NewMessage, QueueInfo, QueueStore, Settled, Settlement};
use super::{ActiveWorker, StoreError, StoredVersion, VersionInfo, WorkerInfo};
use ridge_deploy::{Bundle, VersionMetadata};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS ridge_workers (
    name TEXT PRIMARY KEY,
    active_version TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS ridge_versions (
    worker TEXT NOT NULL REFERENCES ridge_workers(name) ON DELETE CASCADE,
    id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    seq BIGSERIAL,
    metadata TEXT NOT NULL,
    bundle BYTEA NOT NULL,
    PRIMARY KEY (worker, id)
);
CREATE TABLE IF NOT EXISTS ridge_secrets (
    worker TEXT NOT NULL REFERENCES ridge_workers(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (worker, name)
);
CREATE TABLE IF NOT EXISTS ridge_kv_namespaces (
    id TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS ridge_kv_entries (
    namespace TEXT NOT NULL REFERENCES ridge_kv_namespaces(id) ON DELETE CASCADE,
    key BYTEA NOT NULL,
    value BYTEA NOT NULL,
    metadata TEXT,
    expiration BIGINT,
    PRIMARY KEY (namespace, key)
);
CREATE INDEX IF NOT EXISTS ridge_kv_entries_expiration ON ridge_kv_entries (expiration)
    WHERE expiration IS NOT NULL;
CREATE TABLE IF NOT EXISTS ridge_queues (
    name TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    dead_lettered BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS ridge_queue_messages (
    seq BIGSERIAL PRIMARY KEY,
    queue TEXT NOT NULL REFERENCES ridge_queues(name) ON DELETE CASCADE,
    id TEXT NOT NULL UNIQUE,
    body BYTEA NOT NULL,
    content_type TEXT NOT NULL,
    sent_at BIGINT NOT NULL,
    ready_at BIGINT NOT NULL,
    attempts INTEGER NOT NULL,
    lease TEXT,
    traceparent TEXT
);
CREATE INDEX IF NOT EXISTS ridge_queue_messages_ready ON ridge_queue_messages (queue, ready_at);
CREATE TABLE IF NOT EXISTS ridge_cron_runs (
    worker TEXT NOT NULL,
    cron TEXT NOT NULL,
    scheduled_ms BIGINT NOT NULL,
    claimed_at BIGINT NOT NULL,
    PRIMARY KEY (worker, cron, scheduled_ms)
);
CREATE INDEX IF NOT EXISTS ridge_cron_runs_claimed_at ON ridge_cron_runs (claimed_at);
CREATE TABLE IF NOT EXISTS ridge_usage (
    worker TEXT NOT NULL,
    version TEXT NOT NULL,
    hour BIGINT NOT NULL,
    requests BIGINT NOT NULL,
    cpu_us BIGINT NOT NULL,
    wall_us BIGINT NOT NULL,
    subrequests BIGINT NOT NULL,
    kv_operations BIGINT NOT NULL,
    bytes_in BIGINT NOT NULL,
    bytes_out BIGINT NOT NULL,
    PRIMARY KEY (worker, hour, version)
);
-- Usage rows of stores made before queues existed (an ALTER TABLE only
-- then: it would lock the table at every start).
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                   WHERE table_name = 'ridge_usage' AND column_name = 'queue_messages') THEN
        ALTER TABLE ridge_usage ADD COLUMN queue_messages BIGINT NOT NULL DEFAULT 0;
    END IF;
END $$;
CREATE TABLE IF NOT EXISTS ridge_assets (
    hash TEXT PRIMARY KEY,
    content BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS ridge_worker_snapshots (
    worker TEXT NOT NULL,
    version TEXT NOT NULL,
    build TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    snapshot BYTEA,
    refused TEXT,
    PRIMARY KEY (worker, version, build),
    FOREIGN KEY (worker, version) REFERENCES ridge_versions(worker, id) ON DELETE CASCADE
);
";

/// The advisory lock nodes take turns creating the tables under.
const SCHEMA_LOCK: i64 = 0x7269_6467_6500;
/// Control-plane changes: the payload is the worker's name.
const CHANNEL: &str = "ridge_changes";
/// KV writes: the payload is a [`KvNotice`] as JSON, or "*" for "anything".
const KV_CHANNEL: &str = "ridge_kv";
/// Queues that got messages: the payload is the queue's name.
const QUEUE_CHANNEL: &str = "ridge_queues";

/// What a node announces about a KV write, so that the others drop their
/// cached copy of the key.
#[derive(serde::Serialize, serde::Deserialize)]
struct KvNotice {
    /// The writing node, which ignores its own notices.
    node: String,
    namespace: String,
    key: String,
}

pub struct PostgresStore {
    url: String,
    /// The control plane's connection (writes there are transactions).
    client: Mutex<Option<Client>>,
    /// KV's connection: every KV operation is one statement, so requests
    /// share it without a lock and tokio-postgres pipelines them.
    kv: RwLock<Option<Arc<KvConnection>>>,
    /// Tells this node's notices apart from other nodes'.
    node_id: String,
    changes: broadcast::Sender<()>,
    kv_changes: broadcast::Sender<KvChange>,
    queue_changes: broadcast::Sender<String>,
}

/// A connection for KV with the hot statement prepared once.
struct KvConnection {
    client: Client,
    get: Statement,
}

fn backend(error: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(error.to_string())
}

async fn connect(url: &str) -> Result<Client, StoreError> {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .map_err(|e| StoreError::Backend(format!("cannot connect to PostgreSQL: {e}")))?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::warn!(%error, "PostgreSQL connection lost");
        }
    });
    Ok(client)
}

fn read_version(worker: &str, row: &tokio_postgres::Row) -> Result<StoredVersion, StoreError> {
    let metadata: VersionMetadata =
        serde_json::from_str(row.get::<_, &str>("metadata")).map_err(backend)?;
    let bundle = Bundle::decode(metadata.main_module.clone(), row.get::<_, &[u8]>("bundle"))?;
    Ok(StoredVersion {
        worker: worker.to_string(),
        id: row.get("id"),
        created_at: row.get("created_at"),
        metadata,
        bundle,
    })
}

impl PostgresStore {
    /// Connects, creates the tables if needed, and starts listening for
    /// other nodes' changes.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let client = connect(url).await?;
        // Nodes starting together would race to create the same tables
        // (PostgreSQL's IF NOT EXISTS is not safe against that): one at a
        // time, under a session lock taken before and released after the
        // tables' transaction commits (three statements: a multi-statement
        // query would be one transaction, committed after the unlock).
        let tables_error = |error: tokio_postgres::Error| {
            let reason = error
                .as_db_error()
                .map_or(error.to_string(), ToString::to_string);
            StoreError::Backend(format!("cannot create Ridge's tables: {reason}"))
        };
        let lock = format!("SELECT pg_advisory_lock({SCHEMA_LOCK})");
        client.batch_execute(&lock).await.map_err(tables_error)?;
        let created = client.batch_execute(SCHEMA).await.map_err(tables_error);
        let unlock = format!("SELECT pg_advisory_unlock({SCHEMA_LOCK})");
        client.batch_execute(&unlock).await.map_err(tables_error)?;
        created?;
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let store = Self {
            url: url.to_string(),
            client: Mutex::new(Some(client)),
            kv: RwLock::new(None),
            node_id: format!("{}-{}", std::process::id(), started.as_nanos()),
            changes: broadcast::channel(16).0,
            kv_changes: broadcast::channel(1024).0,
            queue_changes: broadcast::channel(1024).0,
        };
        store.listen();
        Ok(store)
    }

    /// Listens on the change channels, reconnecting when the connection
    /// drops (and announcing that anything may have changed then, since
    /// notices may have been missed).
    fn listen(&self) {
        let (url, changes, kv_changes, queue_changes, node_id) = (
            self.url.clone(),
            self.changes.clone(),
            self.kv_changes.clone(),
            self.queue_changes.clone(),
            self.node_id.clone(),
        );
        tokio::spawn(async move {
            loop {
                match tokio_postgres::connect(&url, NoTls).await {
                    Ok((client, mut connection)) => {
                        let messages =
                            futures::stream::poll_fn(move |cx| connection.poll_message(cx));
                        let (reloads, forgets) = (changes.clone(), kv_changes.clone());
                        let listening = async move {
                            client
                                .batch_execute(&format!(
                                    "LISTEN {CHANNEL}; LISTEN {KV_CHANNEL}; LISTEN {QUEUE_CHANNEL}"
                                ))
                                .await?;
                            // Listening again: what changed while nobody
                            // listened is unknown, so anything may have.
                            let _ = reloads.send(());
                            let _ = forgets.send(KvChange::All);
                            // The client is handed back so that it lives as
                            // long as the connection: dropping it would close
                            // the connection, and with it the LISTEN.
                            Ok::<_, tokio_postgres::Error>(client)
                        };
                        let (changes, kv_changes, queue_changes, node_id) = (
                            changes.clone(),
                            kv_changes.clone(),
                            queue_changes.clone(),
                            node_id.clone(),
                        );
                        let forward = futures::StreamExt::for_each(messages, move |message| {
                            if let Ok(tokio_postgres::AsyncMessage::Notification(notice)) = message
                            {
                                if notice.channel() == KV_CHANNEL {
                                    if let Some(change) = kv_change(notice.payload(), &node_id) {
                                        let _ = kv_changes.send(change);
                                    }
                                } else if notice.channel() == QUEUE_CHANNEL {
                                    let _ = queue_changes.send(notice.payload().to_string());
                                } else {
                                    let _ = changes.send(());
                                }
                            }
                            futures::future::ready(())
                        });
                        let (listened, ()) = tokio::join!(listening, forward);
                        match listened {
                            Ok(_client) => tracing::warn!("change listener lost its connection"),
                            Err(error) => tracing::warn!(%error, "cannot LISTEN for changes"),
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "change listener cannot connect to PostgreSQL")
                    }
                }
                let _ = changes.send(());
                let _ = kv_changes.send(KvChange::All);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }

    /// KV's shared connection, re-established if it was lost.
    async fn kv(&self) -> Result<Arc<KvConnection>, StoreError> {
        if let Some(connection) = self.kv.read().await.as_ref() {
            if !connection.client.is_closed() {
                return Ok(connection.clone());
            }
        }
        let mut slot = self.kv.write().await;
        if let Some(connection) = slot.as_ref().filter(|c| !c.client.is_closed()) {
            return Ok(connection.clone());
        }
        let client = connect(&self.url).await?;
        let get = client
            .prepare(
                "SELECT value, metadata, expiration FROM ridge_kv_entries
                 WHERE namespace = $1 AND key = $2 AND (expiration IS NULL OR expiration > $3)",
            )
            .await
            .map_err(backend)?;
        let connection = Arc::new(KvConnection { client, get });
        *slot = Some(connection.clone());
        Ok(connection)
    }

    /// The notice announcing a write of `key`.
    fn kv_notice(&self, namespace: &str, key: &str) -> String {
        serde_json::to_string(&KvNotice {
            node: self.node_id.clone(),
            namespace: namespace.to_string(),
            key: key.to_string(),
        })
        .expect("notice serializes")
    }

    /// The shared connection, re-established if it was lost.
    async fn client(&self) -> Result<tokio::sync::MutexGuard<'_, Option<Client>>, StoreError> {
        let mut guard = self.client.lock().await;
        if guard.as_ref().is_none_or(Client::is_closed) {
            *guard = Some(connect(&self.url).await?);
        }
        Ok(guard)
    }

    /// Notifies every node of a change to `worker` and commits; the notice
    /// is only delivered if the commit succeeds.
    async fn commit_change(&self, tx: Transaction<'_>, worker: &str) -> Result<(), StoreError> {
        tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &worker])
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        let _ = self.changes.send(());
        Ok(())
    }
}

async fn worker_exists(
    client: &impl tokio_postgres::GenericClient,
    worker: &str,
) -> Result<bool, StoreError> {
    let row = client
        .query_opt("SELECT 1 FROM ridge_workers WHERE name = $1", &[&worker])
        .await
        .map_err(backend)?;
    Ok(row.is_some())
}

#[async_trait::async_trait]
impl super::Store for PostgresStore {
    async fn deploy(&self, version: StoredVersion) -> Result<VersionInfo, StoreError> {
        let info = VersionInfo::new(&version, true);
        let mut guard = self.client().await?;
        let client = guard.as_mut().expect("connected");
        let tx = client.transaction().await.map_err(backend)?;
        tx.execute(
            "INSERT INTO ridge_workers (name, active_version) VALUES ($1, $2)
             ON CONFLICT (name) DO UPDATE SET active_version = excluded.active_version",
            &[&version.worker, &version.id],
        )
        .await
        .map_err(backend)?;
        let metadata = serde_json::to_string(&version.metadata).map_err(backend)?;
        tx.execute(
            "INSERT INTO ridge_versions (worker, id, created_at, metadata, bundle) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (worker, id) DO NOTHING",
            &[&version.worker, &version.id, &version.created_at, &metadata, &version.bundle.encode()],
        )
        .await
        .map_err(backend)?;
        self.commit_change(tx, &version.worker).await?;
        Ok(info)
    }

    async fn activate(&self, worker: &str, version: &str) -> Result<VersionInfo, StoreError> {
        let mut guard = self.client().await?;
        let client = guard.as_mut().expect("connected");
        let tx = client.transaction().await.map_err(backend)?;
        let row = tx
            .query_opt("SELECT id, created_at, metadata, bundle FROM ridge_versions WHERE worker = $1 AND id = $2", &[&worker, &version])
            .await
            .map_err(backend)?;
        let Some(row) = row else {
            return Err(if worker_exists(&tx, worker).await? {
                StoreError::VersionNotFound {
                    worker: worker.to_string(),
                    version: version.to_string(),
                }
            } else {
                StoreError::WorkerNotFound(worker.to_string())
            });
        };
        let stored = read_version(worker, &row)?;
        tx.execute(
            "UPDATE ridge_workers SET active_version = $2 WHERE name = $1",
            &[&worker, &version],
        )
        .await
        .map_err(backend)?;
        self.commit_change(tx, worker).await?;
        Ok(VersionInfo::new(&stored, true))
    }

    async fn workers(&self) -> Result<Vec<WorkerInfo>, StoreError> {
        let guard = self.client().await?;
        let client = guard.as_ref().expect("connected");
        let rows = client
            .query(
                "SELECT w.name, w.active_version,
                    (SELECT COUNT(*) FROM ridge_versions v WHERE v.worker = w.name) AS versions,
                    ARRAY(SELECT s.name FROM ridge_secrets s WHERE s.worker = w.name ORDER BY s.name) AS secrets
                 FROM ridge_workers w ORDER BY w.name",
                &[],
            )
            .await
            .map_err(backend)?;
        Ok(rows
            .iter()
            .map(|row| WorkerInfo {
                name: row.get("name"),
                active_version: row.get("active_version"),
                versions: row.get::<_, i64>("versions") as usize,
                secrets: row.get("secrets"),
            })
            .collect())
    }

    async fn versions(&self, worker: &str) -> Result<Vec<VersionInfo>, StoreError> {
        let guard = self.client().await?;
        let client = guard.as_ref().expect("connected");
        let active: String = client
            .query_opt(
                "SELECT active_version FROM ridge_workers WHERE name = $1",
                &[&worker],
            )
            .await
            .map_err(backend)?
            .ok_or_else(|| StoreError::WorkerNotFound(worker.to_string()))?
            .get(0);
        let rows = client
            .query("SELECT id, created_at, metadata, bundle FROM ridge_versions WHERE worker = $1 ORDER BY created_at DESC, seq DESC", &[&worker])
            .await
            .map_err(backend)?;
        rows.iter()
            .map(|row| read_version(worker, row).map(|v| VersionInfo::new(&v, v.id == active)))
            .collect()
    }

    async fn active_workers(&self) -> Result<Vec<ActiveWorker>, StoreError> {
        let guard = self.client().await?;
        let client = guard.as_ref().expect("connected");
        let rows = client
            .query(
                "SELECT v.worker, v.id, v.metadata FROM ridge_workers w
                 JOIN ridge_versions v ON v.worker = w.name AND v.id = w.active_version ORDER BY w.name",
                &[],
            )
            .await
            .map_err(backend)?;
        let secret_rows = client
            .query("SELECT worker, name, value FROM ridge_secrets", &[])
            .await
            .map_err(backend)?;
        let mut secrets: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for row in &secret_rows {
            secrets
                .entry(row.get("worker"))
                .or_default()
                .insert(row.get("name"), row.get("value"));
        }
        rows.iter()
            .map(|row| {
                let worker: String = row.get("worker");
                Ok(ActiveWorker {
                    version_id: row.get("id"),
                    metadata: serde_json::from_str(row.get::<_, &str>("metadata"))
                        .map_err(backend)?,
                    secrets: secrets.remove(&worker).unwrap_or_default(),
                    worker,
                })
            })
            .collect()
    }

    async fn version(&self, worker: &str, id: &str) -> Result<Option<StoredVersion>, StoreError> {
        let guard = self.client().await?;
        let client = guard.as_ref().expect("connected");
        let row = client
            .query_opt(
                "SELECT id, created_at, metadata, bundle FROM ridge_versions WHERE worker = $1 AND id = $2",
                &[&worker, &id],
            )
            .await
            .map_err(backend)?;
        row.map(|row| read_version(worker, &row)).transpose()
    }

    async fn delete_worker(&self, worker: &str) -> Result<(), StoreError> {
        let mut guard = self.client().await?;
        let client = guard.as_mut().expect("connected");
        let tx = client.transaction().await.map_err(backend)?;
        let deleted = tx
            .execute("DELETE FROM ridge_workers WHERE name = $1", &[&worker])
            .await
            .map_err(backend)?;
        if deleted == 0 {
            return Err(StoreError::WorkerNotFound(worker.to_string()));
        }
        self.commit_change(tx, worker).await?;
        Ok(())
    }

    async fn put_secret(&self, worker: &str, name: &str, value: &str) -> Result<(), StoreError> {
        let mut guard = self.client().await?;
        let client = guard.as_mut().expect("connected");
        let tx = client.transaction().await.map_err(backend)?;
        if !worker_exists(&tx, worker).await? {
            return Err(StoreError::WorkerNotFound(worker.to_string()));
        }
        tx.execute(
            "INSERT INTO ridge_secrets (worker, name, value) VALUES ($1, $2, $3)
             ON CONFLICT (worker, name) DO UPDATE SET value = excluded.value",
            &[&worker, &name, &value],
        )
        .await
        .map_err(backend)?;
        self.commit_change(tx, worker).await?;
        Ok(())
    }

    async fn delete_secret(&self, worker: &str, name: &str) -> Result<(), StoreError> {
        let mut guard = self.client().await?;
        let client = guard.as_mut().expect("connected");
        let tx = client.transaction().await.map_err(backend)?;
        let deleted = tx
            .execute(
                "DELETE FROM ridge_secrets WHERE worker = $1 AND name = $2",
                &[&worker, &name],
            )
            .await
            .map_err(backend)?;
        if deleted == 0 {
            return Err(if worker_exists(&tx, worker).await? {
                StoreError::SecretNotFound {
                    worker: worker.to_string(),
                    name: name.to_string(),
                }
            } else {
                StoreError::WorkerNotFound(worker.to_string())
            });
        }
        self.commit_change(tx, worker).await?;
        Ok(())
    }

    fn changes(&self) -> broadcast::Receiver<()> {
        self.changes.subscribe()
    }
}

/// The change a KV notice announces, unless this node sent it.
fn kv_change(payload: &str, node_id: &str) -> Option<KvChange> {
    if payload == "*" {
        return Some(KvChange::All);
    }
    match serde_json::from_str::<KvNotice>(payload) {
        Ok(notice) if notice.node == node_id => None,
        Ok(notice) => Some(KvChange::Key {
            namespace: notice.namespace,
            key: notice.key,
        }),
        Err(_) => Some(KvChange::All),
    }
}

/// Maps a foreign-key violation on KV entries to the namespace missing.
fn kv_write_error(error: tokio_postgres::Error, namespace: &str) -> StoreError {
    if error.code() == Some(&tokio_postgres::error::SqlState::FOREIGN_KEY_VIOLATION) {
        StoreError::NamespaceNotFound(namespace.to_string())
    } else {
        backend(error)
    }
}

#[async_trait::async_trait]
impl KvStore for PostgresStore {
    async fn create_namespace(&self, id: &str) -> Result<bool, StoreError> {
        let connection = self.kv().await?;
        let inserted = connection
            .client
            .execute(
                "INSERT INTO ridge_kv_namespaces (id, created_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
                &[&id, &ridge_core::clock::unix_now()],
            )
            .await
            .map_err(backend)?;
        Ok(inserted == 1)
    }

    async fn namespaces(&self) -> Result<Vec<NamespaceInfo>, StoreError> {
        let connection = self.kv().await?;
        let rows = connection
            .client
            .query(
                "SELECT id, created_at FROM ridge_kv_namespaces ORDER BY id",
                &[],
            )
            .await
            .map_err(backend)?;
        Ok(rows
            .iter()
            .map(|row| NamespaceInfo {
                id: row.get(0),
                created_at: row.get(1),
            })
            .collect())
    }

    async fn delete_namespace(&self, id: &str) -> Result<(), StoreError> {
        let mut guard = self.client().await?;
        let client = guard.as_mut().expect("connected");
        let tx = client.transaction().await.map_err(backend)?;
        let deleted = tx
            .execute("DELETE FROM ridge_kv_namespaces WHERE id = $1", &[&id])
            .await
            .map_err(backend)?;
        if deleted == 0 {
            return Err(StoreError::NamespaceNotFound(id.to_string()));
        }
        tx.execute("SELECT pg_notify($1, '*')", &[&KV_CHANNEL])
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        let _ = self.kv_changes.send(KvChange::All);
        Ok(())
    }

    async fn namespace_exists(&self, id: &str) -> Result<bool, StoreError> {
        let connection = self.kv().await?;
        let row = connection
            .client
            .query_opt("SELECT 1 FROM ridge_kv_namespaces WHERE id = $1", &[&id])
            .await
            .map_err(backend)?;
        Ok(row.is_some())
    }

    async fn get(
        &self,
        namespace: &str,
        key: &str,
        now: i64,
    ) -> Result<Option<KvEntry>, StoreError> {
        let connection = self.kv().await?;
        let row = connection
            .client
            .query_opt(&connection.get, &[&namespace, &key.as_bytes(), &now])
            .await
            .map_err(backend)?;
        Ok(row.map(|row| KvEntry {
            value: row.get::<_, Vec<u8>>(0).into(),
            metadata: row.get(1),
            expiration: row.get(2),
        }))
    }

    async fn put(&self, namespace: &str, key: &str, entry: KvEntry) -> Result<(), StoreError> {
        let connection = self.kv().await?;
        let notice = self.kv_notice(namespace, key);
        // One statement: the write and its notice commit together.
        connection
            .client
            .execute(
                "WITH written AS (
                    INSERT INTO ridge_kv_entries (namespace, key, value, metadata, expiration)
                    VALUES ($1, $2, $3, $4, $5)
                    ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value,
                       metadata = excluded.metadata, expiration = excluded.expiration
                    RETURNING 1)
                 SELECT pg_notify($6, $7) FROM written",
                &[
                    &namespace,
                    &key.as_bytes(),
                    &&entry.value[..],
                    &entry.metadata,
                    &entry.expiration,
                    &KV_CHANNEL,
                    &notice,
                ],
            )
            .await
            .map_err(|error| kv_write_error(error, namespace))?;
        Ok(())
    }

    async fn delete(&self, namespace: &str, key: &str) -> Result<(), StoreError> {
        let connection = self.kv().await?;
        let notice = self.kv_notice(namespace, key);
        connection
            .client
            .execute(
                "WITH gone AS (
                    DELETE FROM ridge_kv_entries WHERE namespace = $1 AND key = $2 RETURNING 1)
                 SELECT pg_notify($3, $4) FROM gone",
                &[&namespace, &key.as_bytes(), &KV_CHANNEL, &notice],
            )
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn list(
        &self,
        namespace: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
        now: i64,
    ) -> Result<Vec<KvKey>, StoreError> {
        let connection = self.kv().await?;
        let upper = prefix_upper_bound(prefix.as_bytes());
        let after = after.map(str::as_bytes);
        let rows = connection
            .client
            .query(
                "SELECT key, expiration, metadata FROM ridge_kv_entries
                 WHERE namespace = $1 AND key >= $2 AND ($3::BYTEA IS NULL OR key < $3)
                   AND ($4::BYTEA IS NULL OR key > $4) AND (expiration IS NULL OR expiration > $5)
                 ORDER BY key LIMIT $6",
                &[
                    &namespace,
                    &prefix.as_bytes(),
                    &upper,
                    &after,
                    &now,
                    &(limit as i64),
                ],
            )
            .await
            .map_err(backend)?;
        Ok(rows
            .iter()
            .map(|row| KvKey {
                name: String::from_utf8_lossy(row.get::<_, &[u8]>(0)).into_owned(),
                expiration: row.get(1),
                metadata: row.get(2),
            })
            .collect())
    }

    async fn purge_expired(&self, now: i64) -> Result<u64, StoreError> {
        let connection = self.kv().await?;
        connection
            .client
            .execute(
                "DELETE FROM ridge_kv_entries WHERE expiration IS NOT NULL AND expiration <= $1",
                &[&now],
            )
            .await
            .map_err(backend)
    }

    fn kv_changes(&self) -> broadcast::Receiver<KvChange> {
        self.kv_changes.subscribe()
    }
}

/// A failed send: the queue does not exist (a foreign key), or another
/// failure.
fn queue_write_error(error: tokio_postgres::Error, queue: &str) -> StoreError {
    if error.code() == Some(&tokio_postgres::error::SqlState::FOREIGN_KEY_VIOLATION) {
        StoreError::QueueNotFound(queue.to_string())
    } else {
        backend(error)
    }
}

/// The `WHERE` clause naming messages of a queue ($1) under a lease ($2).
const UNDER_LEASE: &str = "queue = $1 AND lease = $2";

// Every queue operation is one statement on KV's shared connection, so
// consumers and producers on every thread pipeline their statements
// there instead of taking turns on the control plane's.
#[async_trait::async_trait]
impl QueueStore for PostgresStore {
    async fn create_queue(&self, name: &str, now_ms: i64) -> Result<bool, StoreError> {
        let connection = self.kv().await?;
        let created = connection
            .client
            .execute(
                "INSERT INTO ridge_queues (name, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&name, &(now_ms / 1000)],
            )
            .await
            .map_err(backend)?;
        Ok(created == 1)
    }

    async fn delete_queue(&self, name: &str) -> Result<(), StoreError> {
        let connection = self.kv().await?;
        let deleted = connection
            .client
            .execute("DELETE FROM ridge_queues WHERE name = $1", &[&name])
            .await
            .map_err(backend)?;
        if deleted == 0 {
            return Err(StoreError::QueueNotFound(name.to_string()));
        }
        Ok(())
    }

    async fn queues(&self, now_ms: i64, only: Option<&str>) -> Result<Vec<QueueInfo>, StoreError> {
        let connection = self.kv().await?;
        let rows = connection
            .client
            .query(
                "SELECT q.name, q.created_at, q.dead_lettered, count(m.seq),
                    count(m.lease) FILTER (WHERE m.ready_at > $1),
                    count(*) FILTER (WHERE m.seq IS NOT NULL AND m.lease IS NULL AND m.ready_at > $1),
                    min(m.sent_at)
                 FROM ridge_queues q LEFT JOIN ridge_queue_messages m ON m.queue = q.name
                 WHERE $2::text IS NULL OR q.name = $2
                 GROUP BY q.name ORDER BY q.name",
                &[&now_ms, &only],
            )
            .await
            .map_err(backend)?;
        Ok(rows
            .iter()
            .map(|row| QueueInfo {
                name: row.get(0),
                created_at: row.get(1),
                dead_lettered: row.get(2),
                backlog: row.get(3),
                in_flight: row.get(4),
                delayed: row.get(5),
                oldest_sent_at_ms: row.get(6),
            })
            .collect())
    }

    async fn purge_queue(&self, name: &str) -> Result<u64, StoreError> {
        let connection = self.kv().await?;
        let row = connection
            .client
            .query_one(
                "WITH purged AS (DELETE FROM ridge_queue_messages WHERE queue = $1 RETURNING 1)
                 SELECT EXISTS (SELECT 1 FROM ridge_queues WHERE name = $1),
                        (SELECT count(*) FROM purged)",
                &[&name],
            )
            .await
            .map_err(backend)?;
        if !row.get::<_, bool>(0) {
            return Err(StoreError::QueueNotFound(name.to_string()));
        }
        Ok(row.get::<_, i64>(1) as u64)
    }

    async fn send(&self, queue: &str, messages: Vec<NewMessage>) -> Result<(), StoreError> {
        let connection = self.kv().await?;
        let ids: Vec<&str> = messages.iter().map(|m| m.id.as_str()).collect();
        let bodies: Vec<&[u8]> = messages.iter().map(|m| &m.body[..]).collect();
        let types: Vec<&str> = messages.iter().map(|m| m.content_type.as_str()).collect();
        let sent: Vec<i64> = messages.iter().map(|m| m.sent_at_ms).collect();
        let ready: Vec<i64> = messages.iter().map(|m| m.ready_at_ms).collect();
        let traces: Vec<Option<&str>> = messages.iter().map(|m| m.traceparent.as_deref()).collect();
        // One statement: the messages and their notice commit together.
        connection
            .client
            .execute(
                "WITH sent AS (
                    INSERT INTO ridge_queue_messages
                        (queue, id, body, content_type, sent_at, ready_at, attempts, traceparent)
                    SELECT $1, id, body, content_type, sent_at, ready_at, 0, traceparent
                    FROM unnest($2::text[], $3::bytea[], $4::text[], $5::bigint[], $6::bigint[],
                                $8::text[])
                        AS m(id, body, content_type, sent_at, ready_at, traceparent)
                    RETURNING 1)
                 SELECT pg_notify($7, $1) FROM (SELECT 1 FROM sent LIMIT 1) AS any_sent",
                &[
                    &queue,
                    &ids,
                    &bodies,
                    &types,
                    &sent,
                    &ready,
                    &QUEUE_CHANNEL,
                    &traces,
                ],
            )
            .await
            .map_err(|error| queue_write_error(error, queue))?;
        Ok(())
    }

    async fn readiness(&self, queue: &str, limit: u32) -> Result<Vec<i64>, StoreError> {
        let connection = self.kv().await?;
        let rows = connection
            .client
            .query(
                "SELECT ready_at FROM ridge_queue_messages WHERE queue = $1
                 ORDER BY ready_at LIMIT $2",
                &[&queue, &i64::from(limit)],
            )
            .await
            .map_err(backend)?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    }

    async fn lease(
        &self,
        queue: &str,
        limit: u32,
        now_ms: i64,
        until_ms: i64,
        lease: &str,
    ) -> Result<Vec<LeasedMessage>, StoreError> {
        let connection = self.kv().await?;
        // SKIP LOCKED: two nodes leasing at once take different messages.
        let rows = connection
            .client
            .query(
                "UPDATE ridge_queue_messages AS m
                 SET ready_at = $4, lease = $5, attempts = m.attempts + 1
                 FROM (SELECT seq FROM ridge_queue_messages
                       WHERE queue = $1 AND ready_at <= $3
                       ORDER BY ready_at, seq LIMIT $2 FOR UPDATE SKIP LOCKED) AS picked
                 WHERE m.seq = picked.seq
                 RETURNING m.seq, m.id, m.body, m.content_type, m.sent_at, m.attempts,
                           m.traceparent",
                &[&queue, &i64::from(limit), &now_ms, &until_ms, &lease],
            )
            .await
            .map_err(backend)?;
        let mut leased: Vec<(i64, LeasedMessage)> = rows
            .iter()
            .map(|row| {
                (
                    row.get(0),
                    LeasedMessage {
                        id: row.get(1),
                        body: Bytes::from(row.get::<_, Vec<u8>>(2)),
                        content_type: row.get(3),
                        sent_at_ms: row.get(4),
                        attempts: row.get::<_, i32>(5) as u32,
                        traceparent: row.get(6),
                    },
                )
            })
            .collect();
        leased.sort_by_key(|(seq, _)| *seq);
        Ok(leased.into_iter().map(|(_, message)| message).collect())
    }

    async fn settle(
        &self,
        queue: &str,
        lease: &str,
        now_ms: i64,
        settlements: Vec<(String, Settlement)>,
    ) -> Result<Settled, StoreError> {
        let connection = self.kv().await?;
        let mut settled = Settled::default();
        let client = &connection.client;
        let mut acks: Vec<&str> = Vec::new();
        let mut drops: Vec<&str> = Vec::new();
        let (mut retries, mut retry_times): (Vec<&str>, Vec<i64>) = (Vec::new(), Vec::new());
        let mut dead: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (id, settlement) in &settlements {
            match settlement {
                Settlement::Ack => acks.push(id),
                Settlement::Drop => drops.push(id),
                Settlement::Retry { ready_at_ms } => {
                    retries.push(id);
                    retry_times.push(*ready_at_ms);
                }
                Settlement::DeadLetter { queue: to } => dead.entry(to).or_default().push(id),
            }
        }
        if !acks.is_empty() {
            settled.acked = client
                .execute(
                    &format!(
                        "DELETE FROM ridge_queue_messages WHERE {UNDER_LEASE} AND id = ANY($3)"
                    ),
                    &[&queue, &lease, &acks],
                )
                .await
                .map_err(backend)? as usize;
        }
        if !retries.is_empty() {
            settled.retried = client
                .execute(
                    &format!(
                        "WITH r AS (SELECT * FROM unnest($3::text[], $4::bigint[]) AS r(id, at))
                         UPDATE ridge_queue_messages AS m SET ready_at = r.at, lease = NULL
                         FROM r WHERE m.{UNDER_LEASE} AND m.id = r.id"
                    ),
                    &[&queue, &lease, &retries, &retry_times],
                )
                .await
                .map_err(backend)? as usize;
        }
        if !drops.is_empty() {
            let row = client
                .query_one(
                    &format!(
                        "WITH gone AS (DELETE FROM ridge_queue_messages
                                       WHERE {UNDER_LEASE} AND id = ANY($3) RETURNING 1),
                         counted AS (UPDATE ridge_queues
                                     SET dead_lettered = dead_lettered + (SELECT count(*) FROM gone)
                                     WHERE name = $1)
                         SELECT count(*) FROM gone"
                    ),
                    &[&queue, &lease, &drops],
                )
                .await
                .map_err(backend)?;
            settled.dropped = row.get::<_, i64>(0) as usize;
        }
        for (to, ids) in dead {
            self.create_queue(to, now_ms).await?;
            let row = client
                .query_one(
                    &format!(
                        "WITH moved AS (UPDATE ridge_queue_messages
                                        SET queue = $4, ready_at = $5, attempts = 0, lease = NULL
                                        WHERE {UNDER_LEASE} AND id = ANY($3) RETURNING 1),
                         counted AS (UPDATE ridge_queues
                                     SET dead_lettered = dead_lettered + (SELECT count(*) FROM moved)
                                     WHERE name = $1)
                         SELECT count(*) FROM moved"
                    ),
                    &[&queue, &lease, &ids, &to, &now_ms],
                )
                .await
                .map_err(backend)?;
            settled.dead_lettered += row.get::<_, i64>(0) as usize;
            client
                .execute("SELECT pg_notify($1, $2)", &[&QUEUE_CHANNEL, &to])
                .await
                .map_err(backend)?;
        }
        if !retries.is_empty() {
            client
                .execute("SELECT pg_notify($1, $2)", &[&QUEUE_CHANNEL, &queue])
                .await
                .map_err(backend)?;
        }
        Ok(settled)
    }

    fn queue_changes(&self) -> broadcast::Receiver<String> {
        self.queue_changes.subscribe()
    }
}

#[async_trait::async_trait]
impl OperationsStore for PostgresStore {
    async fn claim_cron_run(
        &self,
        worker: &str,
        cron: &str,
        scheduled_ms: i64,
    ) -> Result<bool, StoreError> {
        let kv = self.kv().await?;
        let now = ridge_core::clock::unix_now();
        kv.client
            .execute(
                "DELETE FROM ridge_cron_runs WHERE claimed_at < $1",
                &[&(now - CRON_CLAIM_RETENTION_SECONDS)],
            )
            .await
            .map_err(backend)?;
        // The primary key decides: one node inserts the row, the others
        // find it there.
        let inserted = kv
            .client
            .execute(
                "INSERT INTO ridge_cron_runs (worker, cron, scheduled_ms, claimed_at)
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                &[&worker, &cron, &scheduled_ms, &now],
            )
            .await
            .map_err(backend)?;
        Ok(inserted == 1)
    }

    async fn add_usage(&self, rows: &[UsageRow]) -> Result<(), StoreError> {
        let mut guard = self.client().await?;
        let client = guard.as_mut().expect("connected");
        let tx = client.transaction().await.map_err(backend)?;
        for row in rows {
            tx.execute(
                "INSERT INTO ridge_usage AS u (worker, version, hour, requests, cpu_us, wall_us,
                     subrequests, kv_operations, bytes_in, bytes_out, queue_messages)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                 ON CONFLICT (worker, hour, version) DO UPDATE SET
                     requests = u.requests + excluded.requests,
                     cpu_us = u.cpu_us + excluded.cpu_us,
                     wall_us = u.wall_us + excluded.wall_us,
                     subrequests = u.subrequests + excluded.subrequests,
                     kv_operations = u.kv_operations + excluded.kv_operations,
                     bytes_in = u.bytes_in + excluded.bytes_in,
                     bytes_out = u.bytes_out + excluded.bytes_out,
                         queue_messages = u.queue_messages + excluded.queue_messages",
                &[
                    &row.worker,
                    &row.version,
                    &row.hour,
                    &row.requests,
                    &row.cpu_us,
                    &row.wall_us,
                    &row.subrequests,
                    &row.kv_operations,
                    &row.bytes_in,
                    &row.bytes_out,
                    &row.queue_messages,
                ],
            )
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn usage(&self, worker: &str, since: i64) -> Result<Vec<UsageRow>, StoreError> {
        let kv = self.kv().await?;
        let rows = kv
            .client
            .query(
                "SELECT worker, version, hour, requests, cpu_us, wall_us, subrequests,
                     kv_operations, bytes_in, bytes_out, queue_messages
                 FROM ridge_usage WHERE worker = $1 AND hour >= $2 ORDER BY hour, version",
                &[&worker, &since],
            )
            .await
            .map_err(backend)?;
        Ok(rows
            .iter()
            .map(|row| UsageRow {
                worker: row.get(0),
                version: row.get(1),
                hour: row.get(2),
                requests: row.get(3),
                cpu_us: row.get(4),
                wall_us: row.get(5),
                subrequests: row.get(6),
                kv_operations: row.get(7),
                bytes_in: row.get(8),
                bytes_out: row.get(9),
                queue_messages: row.get(10),
            })
            .collect())
    }

    async fn worker_snapshot(
        &self,
        worker: &str,
        version: &str,
        build: &str,
    ) -> Result<Option<SnapshotOutcome>, StoreError> {
        let kv = self.kv().await?;
        let row = kv
            .client
            .query_opt(
                "SELECT snapshot, refused FROM ridge_worker_snapshots
                 WHERE worker = $1 AND version = $2 AND build = $3",
                &[&worker, &version, &build],
            )
            .await
            .map_err(backend)?;
        Ok(row.map(|row| SnapshotOutcome::from_columns(row.get(0), row.get(1))))
    }

    async fn put_worker_snapshot(
        &self,
        worker: &str,
        version: &str,
        build: &str,
        outcome: &SnapshotOutcome,
    ) -> Result<(), StoreError> {
        let (snapshot, refused) = match outcome {
            SnapshotOutcome::Built(bytes) => (Some(bytes.as_slice()), None),
            SnapshotOutcome::Refused(reason) => (None, Some(reason.as_str())),
        };
        let now = ridge_core::clock::unix_now();
        let mut guard = self.client().await?;
        let client = guard.as_mut().expect("connected");
        let tx = client.transaction().await.map_err(backend)?;
        tx.execute(
            "INSERT INTO ridge_worker_snapshots AS s
                 (worker, version, build, created_at, snapshot, refused)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (worker, version, build) DO UPDATE SET
                 created_at = excluded.created_at,
                 snapshot = excluded.snapshot,
                 refused = excluded.refused",
            &[&worker, &version, &build, &now, &snapshot, &refused],
        )
        .await
        .map_err(backend)?;
        tx.execute(
            "DELETE FROM ridge_worker_snapshots
             WHERE worker = $1 AND version = $2 AND build <> $3 AND created_at < $4",
            &[
                &worker,
                &version,
                &build,
                &(now - FOREIGN_SNAPSHOT_RETENTION_SECONDS),
            ],
        )
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }
}

#[async_trait::async_trait]
impl AssetStore for PostgresStore {
    async fn missing_assets(&self, hashes: &[String]) -> Result<Vec<String>, StoreError> {
        let kv = self.kv().await?;
        let present: Vec<String> = kv
            .client
            .query(
                "SELECT hash FROM ridge_assets WHERE hash = ANY($1)",
                &[&hashes],
            )
            .await
            .map_err(backend)?
            .iter()
            .map(|row| row.get(0))
            .collect();
        Ok(hashes
            .iter()
            .filter(|hash| !present.contains(hash))
            .cloned()
            .collect())
    }

    async fn put_asset(&self, hash: &str, content: Bytes) -> Result<(), StoreError> {
        let kv = self.kv().await?;
        kv.client
            .execute(
                "INSERT INTO ridge_assets (hash, content) VALUES ($1, $2)
                 ON CONFLICT (hash) DO NOTHING",
                &[&hash, &content.as_ref()],
            )
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn asset(&self, hash: &str) -> Result<Option<Bytes>, StoreError> {
        let kv = self.kv().await?;
        let row = kv
            .client
            .query_opt("SELECT content FROM ridge_assets WHERE hash = $1", &[&hash])
            .await
            .map_err(backend)?;
        Ok(row.map(|row| Bytes::from(row.get::<_, Vec<u8>>(0))))
    }
}
