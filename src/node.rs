//! An edge node serving what was uploaded: it builds the routing table from
//! the store's active versions and rebuilds it whenever the store changes.
//! Requests already routed keep the version they started on; new requests
//! see the new table, so no request ever sees a mixture.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::server::{EdgeHandler, Router};
use crate::store::{Store, StoreError};
use crate::worker::WorkerVersion;

/// How often a node re-reads the store even without a change notice.
const POLL_INTERVAL: Duration = Duration::from_secs(5);

pub struct Node {
    store: Arc<dyn Store>,
    handler: Arc<EdgeHandler>,
    base_domain: Option<String>,
    /// Versions built from the store, by isolate key, so that an unchanged
    /// version keeps its isolate across reloads.
    versions: Mutex<HashMap<String, Arc<WorkerVersion>>>,
}

impl Node {
    pub fn new(
        store: Arc<dyn Store>,
        handler: Arc<EdgeHandler>,
        base_domain: Option<String>,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            handler,
            base_domain,
            versions: Mutex::default(),
        })
    }

    /// Rebuilds the routing table from the store's active versions.
    pub async fn reload(&self) -> Result<usize, StoreError> {
        let active = self.store.active_workers().await?;
        let mut known = self.versions.lock().expect("versions lock");
        let mut current = HashMap::new();
        let mut workers = Vec::with_capacity(active.len());
        for entry in active {
            let stored = entry.version;
            let version = WorkerVersion::new(
                &stored.worker,
                &stored.id,
                &stored.metadata,
                stored.bundle,
                &entry.secrets,
            );
            let version = known
                .remove(&version.id)
                .unwrap_or_else(|| Arc::new(version));
            current.insert(version.id.clone(), version.clone());
            workers.push(version);
        }
        *known = current;
        drop(known);
        let count = workers.len();
        match Router::new(workers, self.base_domain.clone()) {
            Ok(router) => self.handler.set_router(router),
            // Routes are validated on upload; keep serving the old table.
            Err(error) => tracing::error!(%error, "cannot build the routing table"),
        }
        Ok(count)
    }

    /// Keeps the routing table current: reloads on every change notice, and
    /// polls as a fallback for notices that got lost.
    pub fn watch(self: &Arc<Self>) {
        let node = self.clone();
        let mut changes = self.store.changes();
        tokio::spawn(async move {
            let mut poll = tokio::time::interval(POLL_INTERVAL);
            loop {
                tokio::select! {
                    _ = changes.recv() => {}
                    _ = poll.tick() => {}
                }
                if let Err(error) = node.reload().await {
                    tracing::warn!(%error, "cannot reload workers from the store");
                }
            }
        });
    }
}
