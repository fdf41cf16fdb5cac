//! The embedded store: one SQLite file in the data directory, in WAL mode
//! with full synchronous commits, so that a crash (even `kill -9` during an
//! upload) loses nothing committed and exposes nothing half-written.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::{broadcast, Semaphore};

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
CREATE TABLE IF NOT EXISTS workers (
    name TEXT PRIMARY KEY,
    active_version TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS versions (
    worker TEXT NOT NULL REFERENCES workers(name) ON DELETE CASCADE,
    id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    metadata TEXT NOT NULL,
    bundle BLOB NOT NULL,
    PRIMARY KEY (worker, id)
);
CREATE TABLE IF NOT EXISTS secrets (
    worker TEXT NOT NULL REFERENCES workers(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (worker, name)
);
CREATE TABLE IF NOT EXISTS kv_namespaces (
    id TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS kv_entries (
    namespace TEXT NOT NULL REFERENCES kv_namespaces(id) ON DELETE CASCADE,
    key BLOB NOT NULL,
    value BLOB NOT NULL,
    metadata TEXT,
    expiration INTEGER,
    PRIMARY KEY (namespace, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS kv_entries_expiration ON kv_entries (expiration)
    WHERE expiration IS NOT NULL;
CREATE TABLE IF NOT EXISTS queues (
    name TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    dead_lettered INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS queue_messages (
    seq INTEGER PRIMARY KEY,
    queue TEXT NOT NULL REFERENCES queues(name) ON DELETE CASCADE,
    id TEXT NOT NULL UNIQUE,
    body BLOB NOT NULL,
    content_type TEXT NOT NULL,
    sent_at INTEGER NOT NULL,
    ready_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    lease TEXT,
    traceparent TEXT
);
CREATE INDEX IF NOT EXISTS queue_messages_ready ON queue_messages (queue, ready_at);
CREATE TABLE IF NOT EXISTS cron_runs (
    worker TEXT NOT NULL,
    cron TEXT NOT NULL,
    scheduled_ms INTEGER NOT NULL,
    claimed_at INTEGER NOT NULL,
    PRIMARY KEY (worker, cron, scheduled_ms)
);
CREATE INDEX IF NOT EXISTS cron_runs_claimed_at ON cron_runs (claimed_at);
CREATE TABLE IF NOT EXISTS usage (
    worker TEXT NOT NULL,
    version TEXT NOT NULL,
    hour INTEGER NOT NULL,
    requests INTEGER NOT NULL,
    cpu_us INTEGER NOT NULL,
    wall_us INTEGER NOT NULL,
    subrequests INTEGER NOT NULL,
    kv_operations INTEGER NOT NULL,
    bytes_in INTEGER NOT NULL,
    bytes_out INTEGER NOT NULL,
    queue_messages INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (worker, hour, version)
);
CREATE TABLE IF NOT EXISTS assets (
    hash TEXT PRIMARY KEY,
    content BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS worker_snapshots (
    worker TEXT NOT NULL,
    version TEXT NOT NULL,
    build TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    snapshot BLOB,
    refused TEXT,
    PRIMARY KEY (worker, version, build),
    FOREIGN KEY (worker, version) REFERENCES versions(worker, id) ON DELETE CASCADE
);
";

pub struct SqliteStore {
    connection: Arc<Mutex<Connection>>,
    /// One operation at a time goes to a blocking thread (see `with`).
    turns: Semaphore,
    changes: broadcast::Sender<()>,
    /// Never sent on: one node owns the file and its KV layer sees every
    /// write itself.
    kv_changes: broadcast::Sender<KvChange>,
    /// Queues that got messages: sent by this store itself, for the same
    /// reason.
    queue_changes: broadcast::Sender<String>,
}

fn backend(error: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(error.to_string())
}

impl SqliteStore {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Backend(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let connection = Connection::open(path)
            .map_err(|e| StoreError::Backend(format!("cannot open {}: {e}", path.display())))?;
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
            )
            .map_err(backend)?;
        connection.execute_batch(SCHEMA).map_err(backend)?;
        // Usage rows of stores made before queues existed.
        let counts_messages = connection
            .prepare("SELECT 1 FROM pragma_table_info('usage') WHERE name = 'queue_messages'")
            .and_then(|mut statement| statement.exists([]))
            .map_err(backend)?;
        if !counts_messages {
            connection
                .execute_batch(
                    "ALTER TABLE usage ADD COLUMN queue_messages INTEGER NOT NULL DEFAULT 0",
                )
                .map_err(backend)?;
        }
        Ok(Self {
            connection: Arc::new(Mutex::new(connection)),
            turns: Semaphore::new(1),
            changes: broadcast::channel(16).0,
            kv_changes: broadcast::channel(1).0,
            queue_changes: broadcast::channel(256).0,
        })
    }

    /// Runs `work` on the connection on a blocking thread. Callers take
    /// turns before a thread is taken: the connection serves one at a
    /// time, and a burst of operations would otherwise park a blocking
    /// thread each on its lock (2,000 KV puts made 520 threads).
    async fn with<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let _turn = self.turns.acquire().await.map_err(backend)?;
        let connection = self.connection.clone();
        tokio::task::spawn_blocking(move || work(&mut connection.lock().expect("store lock")))
            .await
            .map_err(backend)?
    }

    fn changed(&self) {
        let _ = self.changes.send(());
    }
}

fn read_version(
    worker: &str,
    id: String,
    created_at: i64,
    metadata: String,
    bundle: Vec<u8>,
) -> Result<StoredVersion, StoreError> {
    let metadata: VersionMetadata = serde_json::from_str(&metadata).map_err(backend)?;
    let bundle = Bundle::decode(metadata.main_module.clone(), &bundle)?;
    Ok(StoredVersion {
        worker: worker.to_string(),
        id,
        created_at,
        metadata,
        bundle,
    })
}

fn load_version(
    connection: &Connection,
    worker: &str,
    id: &str,
) -> Result<Option<StoredVersion>, StoreError> {
    let row = connection
        .query_row(
            "SELECT created_at, metadata, bundle FROM versions WHERE worker = ?1 AND id = ?2",
            params![worker, id],
            |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, Vec<u8>>(2)?,
                ))
            },
        )
        .optional()
        .map_err(backend)?;
    row.map(|(created_at, metadata, bundle)| {
        read_version(worker, id.to_string(), created_at, metadata, bundle)
    })
    .transpose()
}

fn worker_exists(connection: &Connection, worker: &str) -> Result<bool, StoreError> {
    connection
        .query_row(
            "SELECT 1 FROM workers WHERE name = ?1",
            params![worker],
            |_| Ok(()),
        )
        .optional()
        .map(|found| found.is_some())
        .map_err(backend)
}

#[async_trait::async_trait]
impl super::Store for SqliteStore {
    async fn deploy(&self, version: StoredVersion) -> Result<VersionInfo, StoreError> {
        let info = VersionInfo::new(&version, true);
        self.with(move |connection| {
            let tx = connection.transaction().map_err(backend)?;
            tx.execute(
                "INSERT INTO workers (name, active_version) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET active_version = excluded.active_version",
                params![version.worker, version.id],
            )
            .map_err(backend)?;
            tx.execute(
                "INSERT INTO versions (worker, id, created_at, metadata, bundle) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (worker, id) DO NOTHING",
                params![
                    version.worker,
                    version.id,
                    version.created_at,
                    serde_json::to_string(&version.metadata).map_err(backend)?,
                    version.bundle.encode()
                ],
            )
            .map_err(backend)?;
            tx.commit().map_err(backend)
        })
        .await?;
        self.changed();
        Ok(info)
    }

    async fn activate(&self, worker: &str, version: &str) -> Result<VersionInfo, StoreError> {
        let (worker, version) = (worker.to_string(), version.to_string());
        let info = self
            .with(move |connection| {
                let stored = load_version(connection, &worker, &version)?.ok_or_else(|| {
                    if worker_exists(connection, &worker).unwrap_or(false) {
                        StoreError::VersionNotFound {
                            worker: worker.clone(),
                            version: version.clone(),
                        }
                    } else {
                        StoreError::WorkerNotFound(worker.clone())
                    }
                })?;
                connection
                    .execute(
                        "UPDATE workers SET active_version = ?2 WHERE name = ?1",
                        params![worker, version],
                    )
                    .map_err(backend)?;
                Ok(VersionInfo::new(&stored, true))
            })
            .await?;
        self.changed();
        Ok(info)
    }

    async fn workers(&self) -> Result<Vec<WorkerInfo>, StoreError> {
        self.with(|connection| {
            let mut statement = connection
                .prepare(
                    "SELECT w.name, w.active_version,
                        (SELECT COUNT(*) FROM versions v WHERE v.worker = w.name),
                        (SELECT group_concat(s.name, char(10)) FROM secrets s WHERE s.worker = w.name)
                     FROM workers w ORDER BY w.name",
                )
                .map_err(backend)?;
            let rows = statement
                .query_map([], |row| {
                    let secrets: Option<String> = row.get(3)?;
                    let mut secrets: Vec<String> =
                        secrets.map(|s| s.lines().map(str::to_string).collect()).unwrap_or_default();
                    secrets.sort();
                    Ok(WorkerInfo {
                        name: row.get(0)?,
                        active_version: row.get(1)?,
                        versions: row.get::<_, i64>(2)? as usize,
                        secrets,
                    })
                })
                .map_err(backend)?;
            rows.collect::<Result<_, _>>().map_err(backend)
        })
        .await
    }

    async fn versions(&self, worker: &str) -> Result<Vec<VersionInfo>, StoreError> {
        let worker = worker.to_string();
        self.with(move |connection| {
            let active: String = connection
                .query_row("SELECT active_version FROM workers WHERE name = ?1", params![worker], |row| row.get(0))
                .optional()
                .map_err(backend)?
                .ok_or_else(|| StoreError::WorkerNotFound(worker.clone()))?;
            let mut statement = connection
                .prepare("SELECT id, created_at, metadata, bundle FROM versions WHERE worker = ?1 ORDER BY created_at DESC, rowid DESC")
                .map_err(backend)?;
            let rows = statement
                .query_map(params![worker], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)))
                .map_err(backend)?;
            let mut versions = Vec::new();
            for row in rows {
                let (id, created_at, metadata, bundle) = row.map_err(backend)?;
                let version = read_version(&worker, id, created_at, metadata, bundle)?;
                versions.push(VersionInfo::new(&version, version.id == active));
            }
            Ok(versions)
        })
        .await
    }

    async fn active_workers(&self) -> Result<Vec<ActiveWorker>, StoreError> {
        self.with(|connection| {
            let mut statement = connection
                .prepare(
                    "SELECT w.name, w.active_version, v.metadata FROM workers w
                     JOIN versions v ON v.worker = w.name AND v.id = w.active_version
                     ORDER BY w.name",
                )
                .map_err(backend)?;
            let workers: Vec<(String, String, String)> = statement
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                .map_err(backend)?
                .collect::<Result<_, _>>()
                .map_err(backend)?;
            let mut secrets_query = connection
                .prepare("SELECT name, value FROM secrets WHERE worker = ?1")
                .map_err(backend)?;
            let mut active = Vec::new();
            for (worker, version_id, metadata) in workers {
                let secrets: BTreeMap<String, String> = secrets_query
                    .query_map(params![worker], |row| Ok((row.get(0)?, row.get(1)?)))
                    .map_err(backend)?
                    .collect::<Result<_, _>>()
                    .map_err(backend)?;
                active.push(ActiveWorker {
                    metadata: serde_json::from_str(&metadata).map_err(backend)?,
                    worker,
                    version_id,
                    secrets,
                });
            }
            Ok(active)
        })
        .await
    }

    async fn version(&self, worker: &str, id: &str) -> Result<Option<StoredVersion>, StoreError> {
        let (worker, id) = (worker.to_string(), id.to_string());
        self.with(move |connection| load_version(connection, &worker, &id))
            .await
    }

    async fn delete_worker(&self, worker: &str) -> Result<(), StoreError> {
        let worker = worker.to_string();
        self.with(move |connection| {
            let deleted = connection
                .execute("DELETE FROM workers WHERE name = ?1", params![worker])
                .map_err(backend)?;
            if deleted == 0 {
                return Err(StoreError::WorkerNotFound(worker));
            }
            Ok(())
        })
        .await?;
        self.changed();
        Ok(())
    }

    async fn put_secret(&self, worker: &str, name: &str, value: &str) -> Result<(), StoreError> {
        let (worker, name, value) = (worker.to_string(), name.to_string(), value.to_string());
        self.with(move |connection| {
            if !worker_exists(connection, &worker)? {
                return Err(StoreError::WorkerNotFound(worker));
            }
            connection
                .execute(
                    "INSERT INTO secrets (worker, name, value) VALUES (?1, ?2, ?3)
                     ON CONFLICT (worker, name) DO UPDATE SET value = excluded.value",
                    params![worker, name, value],
                )
                .map_err(backend)?;
            Ok(())
        })
        .await?;
        self.changed();
        Ok(())
    }

    async fn delete_secret(&self, worker: &str, name: &str) -> Result<(), StoreError> {
        let (worker, name) = (worker.to_string(), name.to_string());
        self.with(move |connection| {
            let deleted = connection
                .execute(
                    "DELETE FROM secrets WHERE worker = ?1 AND name = ?2",
                    params![worker, name],
                )
                .map_err(backend)?;
            if deleted == 0 {
                return Err(if worker_exists(connection, &worker)? {
                    StoreError::SecretNotFound { worker, name }
                } else {
                    StoreError::WorkerNotFound(worker)
                });
            }
            Ok(())
        })
        .await?;
        self.changed();
        Ok(())
    }

    fn changes(&self) -> broadcast::Receiver<()> {
        self.changes.subscribe()
    }
}

fn namespace_exists(connection: &Connection, id: &str) -> Result<bool, StoreError> {
    connection
        .query_row(
            "SELECT 1 FROM kv_namespaces WHERE id = ?1",
            params![id],
            |_| Ok(()),
        )
        .optional()
        .map(|found| found.is_some())
        .map_err(backend)
}

#[async_trait::async_trait]
impl KvStore for SqliteStore {
    async fn create_namespace(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_string();
        let now = ridge_core::clock::unix_now();
        self.with(move |connection| {
            connection
                .execute(
                    "INSERT INTO kv_namespaces (id, created_at) VALUES (?1, ?2) ON CONFLICT (id) DO NOTHING",
                    params![id, now],
                )
                .map(|inserted| inserted == 1)
                .map_err(backend)
        })
        .await
    }

    async fn namespaces(&self) -> Result<Vec<NamespaceInfo>, StoreError> {
        self.with(|connection| {
            let mut statement = connection
                .prepare("SELECT id, created_at FROM kv_namespaces ORDER BY id")
                .map_err(backend)?;
            let rows = statement
                .query_map([], |row| {
                    Ok(NamespaceInfo {
                        id: row.get(0)?,
                        created_at: row.get(1)?,
                    })
                })
                .map_err(backend)?;
            rows.collect::<Result<_, _>>().map_err(backend)
        })
        .await
    }

    async fn delete_namespace(&self, id: &str) -> Result<(), StoreError> {
        let id = id.to_string();
        self.with(move |connection| {
            let deleted = connection
                .execute("DELETE FROM kv_namespaces WHERE id = ?1", params![id])
                .map_err(backend)?;
            if deleted == 0 {
                return Err(StoreError::NamespaceNotFound(id));
            }
            Ok(())
        })
        .await
    }

    async fn namespace_exists(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_string();
        self.with(move |connection| namespace_exists(connection, &id))
            .await
    }

    async fn get(
        &self,
        namespace: &str,
        key: &str,
        now: i64,
    ) -> Result<Option<KvEntry>, StoreError> {
        let (namespace, key) = (namespace.to_string(), key.to_string());
        self.with(move |connection| {
            connection
                .query_row(
                    "SELECT value, metadata, expiration FROM kv_entries
                     WHERE namespace = ?1 AND key = ?2 AND (expiration IS NULL OR expiration > ?3)",
                    params![namespace, key.as_bytes(), now],
                    |row| {
                        Ok(KvEntry {
                            value: row.get::<_, Vec<u8>>(0)?.into(),
                            metadata: row.get(1)?,
                            expiration: row.get(2)?,
                        })
                    },
                )
                .optional()
                .map_err(backend)
        })
        .await
    }

    async fn put(&self, namespace: &str, key: &str, entry: KvEntry) -> Result<(), StoreError> {
        let (namespace, key) = (namespace.to_string(), key.to_string());
        self.with(move |connection| {
            if !namespace_exists(connection, &namespace)? {
                return Err(StoreError::NamespaceNotFound(namespace));
            }
            connection
                .execute(
                    "INSERT INTO kv_entries (namespace, key, value, metadata, expiration)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value,
                        metadata = excluded.metadata, expiration = excluded.expiration",
                    params![
                        namespace,
                        key.as_bytes(),
                        &entry.value[..],
                        entry.metadata,
                        entry.expiration
                    ],
                )
                .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn delete(&self, namespace: &str, key: &str) -> Result<(), StoreError> {
        let (namespace, key) = (namespace.to_string(), key.to_string());
        self.with(move |connection| {
            connection
                .execute(
                    "DELETE FROM kv_entries WHERE namespace = ?1 AND key = ?2",
                    params![namespace, key.as_bytes()],
                )
                .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn list(
        &self,
        namespace: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
        now: i64,
    ) -> Result<Vec<KvKey>, StoreError> {
        let namespace = namespace.to_string();
        let lower = prefix.as_bytes().to_vec();
        let upper = prefix_upper_bound(prefix.as_bytes());
        let after = after.map(|a| a.as_bytes().to_vec());
        self.with(move |connection| {
            let mut statement = connection
                .prepare_cached(
                    "SELECT key, expiration, metadata FROM kv_entries
                     WHERE namespace = ?1 AND key >= ?2 AND (?3 IS NULL OR key < ?3)
                       AND (?4 IS NULL OR key > ?4) AND (expiration IS NULL OR expiration > ?5)
                     ORDER BY key LIMIT ?6",
                )
                .map_err(backend)?;
            let rows = statement
                .query_map(
                    params![namespace, lower, upper, after, now, limit as i64],
                    |row| {
                        Ok(KvKey {
                            name: String::from_utf8_lossy(&row.get::<_, Vec<u8>>(0)?).into_owned(),
                            expiration: row.get(1)?,
                            metadata: row.get(2)?,
                        })
                    },
                )
                .map_err(backend)?;
            rows.collect::<Result<_, _>>().map_err(backend)
        })
        .await
    }

    async fn purge_expired(&self, now: i64) -> Result<u64, StoreError> {
        self.with(move |connection| {
            connection
                .execute(
                    "DELETE FROM kv_entries WHERE expiration IS NOT NULL AND expiration <= ?1",
                    params![now],
                )
                .map(|n| n as u64)
                .map_err(backend)
        })
        .await
    }

    fn kv_changes(&self) -> broadcast::Receiver<KvChange> {
        self.kv_changes.subscribe()
    }
}

fn queue_exists(connection: &Connection, name: &str) -> Result<bool, StoreError> {
    connection
        .query_row("SELECT 1 FROM queues WHERE name = ?1", [name], |_| Ok(()))
        .optional()
        .map(|row| row.is_some())
        .map_err(backend)
}

#[async_trait::async_trait]
impl QueueStore for SqliteStore {
    async fn create_queue(&self, name: &str, now_ms: i64) -> Result<bool, StoreError> {
        let name = name.to_string();
        self.with(move |connection| {
            let created = connection
                .execute(
                    "INSERT INTO queues (name, created_at) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                    params![name, now_ms / 1000],
                )
                .map_err(backend)?;
            Ok(created == 1)
        })
        .await
    }

    async fn delete_queue(&self, name: &str) -> Result<(), StoreError> {
        let name = name.to_string();
        self.with(move |connection| {
            let deleted = connection
                .execute("DELETE FROM queues WHERE name = ?1", [&name])
                .map_err(backend)?;
            if deleted == 0 {
                return Err(StoreError::QueueNotFound(name));
            }
            Ok(())
        })
        .await
    }

    async fn queues(&self, now_ms: i64, only: Option<&str>) -> Result<Vec<QueueInfo>, StoreError> {
        let only = only.map(str::to_string);
        self.with(move |connection| {
            let mut statement = connection
                .prepare(
                    "SELECT q.name, q.created_at, q.dead_lettered, count(m.seq),
                        count(m.lease) FILTER (WHERE m.ready_at > ?1),
                        count(*) FILTER (WHERE m.lease IS NULL AND m.ready_at > ?1),
                        min(m.sent_at)
                     FROM queues q LEFT JOIN queue_messages m ON m.queue = q.name
                     WHERE ?2 IS NULL OR q.name = ?2
                     GROUP BY q.name ORDER BY q.name",
                )
                .map_err(backend)?;
            let rows = statement
                .query_map(params![now_ms, only], |row| {
                    Ok(QueueInfo {
                        name: row.get(0)?,
                        created_at: row.get(1)?,
                        dead_lettered: row.get(2)?,
                        backlog: row.get(3)?,
                        in_flight: row.get(4)?,
                        delayed: row.get(5)?,
                        oldest_sent_at_ms: row.get(6)?,
                    })
                })
                .map_err(backend)?;
            rows.collect::<Result<_, _>>().map_err(backend)
        })
        .await
    }

    async fn purge_queue(&self, name: &str) -> Result<u64, StoreError> {
        let name = name.to_string();
        self.with(move |connection| {
            if !queue_exists(connection, &name)? {
                return Err(StoreError::QueueNotFound(name));
            }
            let purged = connection
                .execute("DELETE FROM queue_messages WHERE queue = ?1", [&name])
                .map_err(backend)?;
            Ok(purged as u64)
        })
        .await
    }

    async fn send(&self, queue: &str, messages: Vec<NewMessage>) -> Result<(), StoreError> {
        let name = queue.to_string();
        self.with(move |connection| {
            let tx = connection.transaction().map_err(backend)?;
            if !queue_exists(&tx, &name)? {
                return Err(StoreError::QueueNotFound(name));
            }
            {
                let mut insert = tx
                    .prepare_cached(
                        "INSERT INTO queue_messages
                         (queue, id, body, content_type, sent_at, ready_at, attempts, traceparent)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7)",
                    )
                    .map_err(backend)?;
                for message in &messages {
                    insert
                        .execute(params![
                            name,
                            message.id,
                            &message.body[..],
                            message.content_type,
                            message.sent_at_ms,
                            message.ready_at_ms,
                            message.traceparent
                        ])
                        .map_err(backend)?;
                }
            }
            tx.commit().map_err(backend)
        })
        .await?;
        let _ = self.queue_changes.send(queue.to_string());
        Ok(())
    }

    async fn readiness(&self, queue: &str, limit: u32) -> Result<Vec<i64>, StoreError> {
        let queue = queue.to_string();
        self.with(move |connection| {
            let mut statement = connection
                .prepare_cached(
                    "SELECT ready_at FROM queue_messages WHERE queue = ?1
                     ORDER BY ready_at LIMIT ?2",
                )
                .map_err(backend)?;
            let rows = statement
                .query_map(params![queue, limit], |row| row.get(0))
                .map_err(backend)?;
            rows.collect::<Result<_, _>>().map_err(backend)
        })
        .await
    }

    async fn lease(
        &self,
        queue: &str,
        limit: u32,
        now_ms: i64,
        until_ms: i64,
        lease: &str,
    ) -> Result<Vec<LeasedMessage>, StoreError> {
        let (queue, lease) = (queue.to_string(), lease.to_string());
        self.with(move |connection| {
            let mut statement = connection
                .prepare_cached(
                    "UPDATE queue_messages SET ready_at = ?4, lease = ?5, attempts = attempts + 1
                     WHERE seq IN (SELECT seq FROM queue_messages
                                   WHERE queue = ?1 AND ready_at <= ?3
                                   ORDER BY ready_at, seq LIMIT ?2)
                     RETURNING seq, id, body, content_type, sent_at, attempts, traceparent",
                )
                .map_err(backend)?;
            let rows = statement
                .query_map(params![queue, limit, now_ms, until_ms, lease], |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        LeasedMessage {
                            id: row.get(1)?,
                            body: Bytes::from(row.get::<_, Vec<u8>>(2)?),
                            content_type: row.get(3)?,
                            sent_at_ms: row.get(4)?,
                            attempts: row.get(5)?,
                            traceparent: row.get(6)?,
                        },
                    ))
                })
                .map_err(backend)?;
            let mut leased: Vec<(i64, LeasedMessage)> =
                rows.collect::<Result<_, _>>().map_err(backend)?;
            leased.sort_by_key(|(seq, _)| *seq);
            Ok(leased.into_iter().map(|(_, message)| message).collect())
        })
        .await
    }

    async fn settle(
        &self,
        queue: &str,
        lease: &str,
        now_ms: i64,
        settlements: Vec<(String, Settlement)>,
    ) -> Result<Settled, StoreError> {
        let (name, lease) = (queue.to_string(), lease.to_string());
        let mut changed: Vec<String> = settlements
            .iter()
            .filter_map(|(_, settlement)| match settlement {
                Settlement::DeadLetter { queue } => Some(queue.clone()),
                _ => None,
            })
            .collect();
        changed.push(queue.to_string());
        changed.sort_unstable();
        changed.dedup();
        let settled = self.with(move |connection| {
            let queue = name;
            let mut settled = Settled::default();
            let tx = connection.transaction().map_err(backend)?;
            for (id, settlement) in &settlements {
                let mine = "queue = ?1 AND lease = ?2 AND id = ?3";
                match settlement {
                    Settlement::Ack => {
                        settled.acked += tx
                            .execute(
                                &format!("DELETE FROM queue_messages WHERE {mine}"),
                                params![queue, lease, id],
                            )
                            .map_err(backend)?;
                    }
                    Settlement::Retry { ready_at_ms } => {
                        settled.retried += tx
                            .execute(
                                &format!(
                                    "UPDATE queue_messages SET ready_at = ?4, lease = NULL WHERE {mine}"
                                ),
                                params![queue, lease, id, ready_at_ms],
                            )
                            .map_err(backend)?;
                    }
                    Settlement::DeadLetter { queue: to } => {
                        tx.execute(
                            "INSERT INTO queues (name, created_at) VALUES (?1, ?2)
                             ON CONFLICT DO NOTHING",
                            params![to, now_ms / 1000],
                        )
                        .map_err(backend)?;
                        let moved = tx
                            .execute(
                                &format!(
                                    "UPDATE queue_messages SET queue = ?4, ready_at = ?5,
                                     attempts = 0, lease = NULL WHERE {mine}"
                                ),
                                params![queue, lease, id, to, now_ms],
                            )
                            .map_err(backend)?;
                        count_dead_letters(&tx, &queue, moved)?;
                        settled.dead_lettered += moved;
                    }
                    Settlement::Drop => {
                        let dropped = tx
                            .execute(
                                &format!("DELETE FROM queue_messages WHERE {mine}"),
                                params![queue, lease, id],
                            )
                            .map_err(backend)?;
                        count_dead_letters(&tx, &queue, dropped)?;
                        settled.dropped += dropped;
                    }
                }
            }
            tx.commit().map_err(backend)?;
            Ok(settled)
        })
        .await?;
        // Retried messages, and dead letters in another queue, wait for
        // their consumers.
        for queue in changed {
            let _ = self.queue_changes.send(queue);
        }
        Ok(settled)
    }

    fn queue_changes(&self) -> broadcast::Receiver<String> {
        self.queue_changes.subscribe()
    }
}

fn count_dead_letters(
    connection: &Connection,
    queue: &str,
    count: usize,
) -> Result<(), StoreError> {
    if count > 0 {
        connection
            .execute(
                "UPDATE queues SET dead_lettered = dead_lettered + ?2 WHERE name = ?1",
                params![queue, count],
            )
            .map_err(backend)?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl OperationsStore for SqliteStore {
    async fn claim_cron_run(
        &self,
        worker: &str,
        cron: &str,
        scheduled_ms: i64,
    ) -> Result<bool, StoreError> {
        let (worker, cron) = (worker.to_string(), cron.to_string());
        self.with(move |connection| {
            let now = ridge_core::clock::unix_now();
            connection
                .execute(
                    "DELETE FROM cron_runs WHERE claimed_at < ?1",
                    params![now - CRON_CLAIM_RETENTION_SECONDS],
                )
                .map_err(backend)?;
            let inserted = connection
                .execute(
                    "INSERT OR IGNORE INTO cron_runs (worker, cron, scheduled_ms, claimed_at)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![worker, cron, scheduled_ms, now],
                )
                .map_err(backend)?;
            Ok(inserted == 1)
        })
        .await
    }

    async fn add_usage(&self, rows: &[UsageRow]) -> Result<(), StoreError> {
        let rows = rows.to_vec();
        self.with(move |connection| {
            let tx = connection.transaction().map_err(backend)?;
            for row in &rows {
                tx.execute(
                    "INSERT INTO usage (worker, version, hour, requests, cpu_us, wall_us,
                         subrequests, kv_operations, bytes_in, bytes_out, queue_messages)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                     ON CONFLICT (worker, hour, version) DO UPDATE SET
                         requests = requests + excluded.requests,
                         cpu_us = cpu_us + excluded.cpu_us,
                         wall_us = wall_us + excluded.wall_us,
                         subrequests = subrequests + excluded.subrequests,
                         kv_operations = kv_operations + excluded.kv_operations,
                         bytes_in = bytes_in + excluded.bytes_in,
                         bytes_out = bytes_out + excluded.bytes_out,
                         queue_messages = queue_messages + excluded.queue_messages",
                    params![
                        row.worker,
                        row.version,
                        row.hour,
                        row.requests,
                        row.cpu_us,
                        row.wall_us,
                        row.subrequests,
                        row.kv_operations,
                        row.bytes_in,
                        row.bytes_out,
                        row.queue_messages
                    ],
                )
                .map_err(backend)?;
            }
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn usage(&self, worker: &str, since: i64) -> Result<Vec<UsageRow>, StoreError> {
        let worker = worker.to_string();
        self.with(move |connection| {
            let mut statement = connection
                .prepare(
                    "SELECT worker, version, hour, requests, cpu_us, wall_us, subrequests,
                         kv_operations, bytes_in, bytes_out, queue_messages
                     FROM usage WHERE worker = ?1 AND hour >= ?2 ORDER BY hour, version",
                )
                .map_err(backend)?;
            let rows = statement
                .query_map(params![worker, since], |row| {
                    Ok(UsageRow {
                        worker: row.get(0)?,
                        version: row.get(1)?,
                        hour: row.get(2)?,
                        requests: row.get(3)?,
                        cpu_us: row.get(4)?,
                        wall_us: row.get(5)?,
                        subrequests: row.get(6)?,
                        kv_operations: row.get(7)?,
                        bytes_in: row.get(8)?,
                        bytes_out: row.get(9)?,
                        queue_messages: row.get(10)?,
                    })
                })
                .map_err(backend)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(backend)
        })
        .await
    }

    async fn worker_snapshot(
        &self,
        worker: &str,
        version: &str,
        build: &str,
    ) -> Result<Option<SnapshotOutcome>, StoreError> {
        let key = [worker.to_string(), version.to_string(), build.to_string()];
        self.with(move |connection| {
            connection
                .query_row(
                    "SELECT snapshot, refused FROM worker_snapshots
                     WHERE worker = ?1 AND version = ?2 AND build = ?3",
                    params![key[0], key[1], key[2]],
                    |row| Ok(SnapshotOutcome::from_columns(row.get(0)?, row.get(1)?)),
                )
                .optional()
                .map_err(backend)
        })
        .await
    }

    async fn put_worker_snapshot(
        &self,
        worker: &str,
        version: &str,
        build: &str,
        outcome: &SnapshotOutcome,
    ) -> Result<(), StoreError> {
        let key = [worker.to_string(), version.to_string(), build.to_string()];
        let (snapshot, refused) = match outcome.clone() {
            SnapshotOutcome::Built(bytes) => (Some(bytes), None),
            SnapshotOutcome::Refused(reason) => (None, Some(reason)),
        };
        self.with(move |connection| {
            let now = ridge_core::clock::unix_now();
            let tx = connection.transaction().map_err(backend)?;
            tx.execute(
                "INSERT OR REPLACE INTO worker_snapshots
                     (worker, version, build, created_at, snapshot, refused)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![key[0], key[1], key[2], now, snapshot, refused],
            )
            .map_err(backend)?;
            tx.execute(
                "DELETE FROM worker_snapshots
                 WHERE worker = ?1 AND version = ?2 AND build <> ?3 AND created_at < ?4",
                params![
                    key[0],
                    key[1],
                    key[2],
                    now - FOREIGN_SNAPSHOT_RETENTION_SECONDS
                ],
            )
            .map_err(backend)?;
            tx.commit().map_err(backend)
        })
        .await
    }
}

#[async_trait::async_trait]
impl AssetStore for SqliteStore {
    async fn missing_assets(&self, hashes: &[String]) -> Result<Vec<String>, StoreError> {
        let hashes = hashes.to_vec();
        self.with(move |connection| {
            let mut query = connection
                .prepare_cached("SELECT 1 FROM assets WHERE hash = ?1")
                .map_err(backend)?;
            let mut missing = Vec::new();
            for hash in hashes {
                if !query.exists(params![hash]).map_err(backend)? {
                    missing.push(hash);
                }
            }
            Ok(missing)
        })
        .await
    }

    async fn put_asset(&self, hash: &str, content: Bytes) -> Result<(), StoreError> {
        let hash = hash.to_string();
        self.with(move |connection| {
            connection
                .execute(
                    "INSERT OR IGNORE INTO assets (hash, content) VALUES (?1, ?2)",
                    params![hash, content.as_ref()],
                )
                .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn asset(&self, hash: &str) -> Result<Option<Bytes>, StoreError> {
        let hash = hash.to_string();
        self.with(move |connection| {
            connection
                .query_row(
                    "SELECT content FROM assets WHERE hash = ?1",
                    params![hash],
                    |row| row.get::<_, Vec<u8>>(0),
                )
                .optional()
                .map(|content| content.map(Bytes::from))
                .map_err(backend)
        })
        .await
    }
}
