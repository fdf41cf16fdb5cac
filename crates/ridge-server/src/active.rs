//! A node serving what was uploaded: [`ActiveVersions`] builds the routing
//! table from the store's active versions and rebuilds it whenever the
//! store changes.
//! Requests already routed keep the version they started on; new requests
//! see the new table, so no request ever sees a mixture. Each new version
//! gets its V8 snapshot in the background (`make_snapshots`); until then,
//! and if it cannot have one, its isolates start without.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::router::RouteError;
use crate::{EdgeHandler, Router};
use ridge_runtime::isolate::worker_snapshot;
use ridge_runtime::observe::Observers;
use ridge_runtime::worker::WorkerVersion;
use ridge_store::{Store, StoreError};

/// How often a node re-reads the store even without a change notice.
const POLL_INTERVAL: Duration = Duration::from_secs(5);

pub struct ActiveVersions {
    store: Arc<dyn Store>,
    handler: Arc<EdgeHandler>,
    base_domain: Option<String>,
    /// Versions built from the store, by isolate key, so that an unchanged
    /// version keeps its isolate across reloads.
    versions: Mutex<HashMap<String, Arc<WorkerVersion>>>,
    /// Versions waiting for their snapshot; `None` when snapshots are off.
    snapshot_queue: Option<mpsc::UnboundedSender<Arc<WorkerVersion>>>,
    /// Isolate keys of the versions already queued, so none is queued twice.
    snapshots_asked: Mutex<HashSet<String>>,
    /// Held by the reload in progress.
    reloading: tokio::sync::Mutex<()>,
    /// Where versions' static assets are read from, and kept in memory.
    asset_files: Arc<dyn ridge_assets::AssetFiles>,
    asset_cache: ridge_assets::HotCache,
}

impl ActiveVersions {
    pub fn new(
        store: Arc<dyn Store>,
        handler: Arc<EdgeHandler>,
        base_domain: Option<String>,
        snapshots: bool,
        asset_files: Arc<dyn ridge_assets::AssetFiles>,
        asset_cache: ridge_assets::HotCache,
    ) -> Arc<Self> {
        Arc::new_cyclic(|node| {
            let snapshot_queue = snapshots.then(|| {
                let (sender, queue) = mpsc::unbounded_channel();
                tokio::spawn(make_snapshots(node.clone(), queue));
                sender
            });
            Self {
                store,
                handler,
                base_domain,
                versions: Mutex::default(),
                snapshot_queue,
                snapshots_asked: Mutex::default(),
                reloading: tokio::sync::Mutex::new(()),
                asset_files,
                asset_cache,
            }
        })
    }

    /// Where the node reports what it does.
    pub fn observers(&self) -> &Observers {
        self.handler.observers()
    }

    /// Whether `worker` may have `routes`: `Err` when another active worker
    /// already claims one of them.
    pub fn check_routes(&self, worker: &str, routes: &[String]) -> Result<(), RouteError> {
        let candidate = WorkerVersion::from_module(
            worker,
            "",
            &routes.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        let mut others: Vec<Arc<WorkerVersion>> = self
            .versions
            .lock()
            .expect("versions lock")
            .values()
            .filter(|version| version.name != worker)
            .cloned()
            .collect();
        // Last, so that a conflict is reported against the candidate.
        others.push(candidate);
        let (_, taken) = Router::keeping_first(others, None)?;
        match taken.into_iter().find(
            |conflict| matches!(conflict, RouteError::Taken { worker: claimant, .. } if claimant == worker),
        ) {
            Some(conflict) => Err(conflict),
            None => Ok(()),
        }
    }

    /// Rebuilds the routing table from the store's active versions. Only
    /// versions this node does not hold yet are loaded (versions never
    /// change), so a reload of unchanged workers reads no bundle.
    pub async fn reload(&self) -> Result<usize, StoreError> {
        // One at a time: an older list must not replace a newer one.
        let _reloading = self.reloading.lock().await;
        let active = self.store.active_workers().await?;
        let mut workers = Vec::with_capacity(active.len());
        for entry in active {
            let key = WorkerVersion::isolate_key(&entry.worker, &entry.version_id, &entry.secrets);
            let held = self
                .versions
                .lock()
                .expect("versions lock")
                .get(&key)
                .cloned();
            let version = match held {
                Some(version) => version,
                None => {
                    // Deleted or replaced since the list was read: the
                    // next reload sees what took its place.
                    let Some(stored) = self.store.version(&entry.worker, &entry.version_id).await?
                    else {
                        continue;
                    };
                    let mut version = WorkerVersion::new(
                        &stored.worker,
                        &stored.id,
                        &stored.metadata,
                        stored.bundle,
                        &entry.secrets,
                    );
                    if let Some(assets) = &stored.metadata.assets {
                        match self.load_assets(assets, &stored.metadata).await {
                            Ok(loaded) => version.assets = Some(loaded),
                            Err(problem) => {
                                // Checked on upload: only a damaged store gets here.
                                tracing::error!(worker = %stored.worker, version = %stored.id, "cannot serve the version's assets: {problem}");
                                continue;
                            }
                        }
                    }
                    let version = Arc::new(version);
                    // Held from now on, so that its snapshot finds it.
                    self.versions
                        .lock()
                        .expect("versions lock")
                        .insert(key, version.clone());
                    version
                }
            };
            self.ask_for_snapshot(&version);
            workers.push(version);
        }
        {
            // The table's entries win over what this reload read: a
            // snapshot may have replaced one meanwhile. Versions no longer
            // active are forgotten.
            let mut held = self.versions.lock().expect("versions lock");
            for version in &mut workers {
                if let Some(newer) = held.get(&version.id) {
                    *version = newer.clone();
                }
            }
            *held = workers
                .iter()
                .map(|version| (version.id.clone(), version.clone()))
                .collect();
        }
        // Active versions stay asked for their snapshots.
        self.snapshots_asked
            .lock()
            .expect("snapshots lock")
            .retain(|id| workers.iter().any(|version| &version.id == id));
        let count = workers.len();
        match Router::keeping_first(workers, self.base_domain.clone()) {
            Ok((router, taken)) => {
                for conflict in taken {
                    tracing::warn!(%conflict, "route not served: another worker has it");
                }
                self.handler.set_router(router)
            }
            // Routes are validated on upload; keep serving the old table.
            Err(error) => tracing::error!(%error, "cannot build the routing table"),
        }
        Ok(count)
    }

    /// A version's assets, from its stored manifest.
    async fn load_assets(
        &self,
        assets: &ridge_deploy::VersionAssets,
        metadata: &ridge_deploy::VersionMetadata,
    ) -> Result<Arc<ridge_assets::Assets>, String> {
        let manifest =
            crate::admin_assets::load_manifest(self.store.as_ref(), &assets.manifest).await?;
        ridge_assets::Assets::new(
            assets.settings.clone(),
            manifest,
            self.asset_files.clone(),
            self.asset_cache.clone(),
            WorkerVersion::navigation_prefers_assets(metadata),
        )
        .map(Arc::new)
        .map_err(|e| e.to_string())
    }

    /// Queues `version` for its snapshot, once.
    fn ask_for_snapshot(&self, version: &Arc<WorkerVersion>) {
        let Some(queue) = &self.snapshot_queue else {
            return;
        };
        if !version.has_script() {
            return;
        }
        if version.snapshot.is_none()
            && self
                .snapshots_asked
                .lock()
                .expect("snapshots lock")
                .insert(version.id.clone())
        {
            let _ = queue.send(version.clone());
        }
    }

    /// Keeps the routing table current: reloads on every change notice, and
    /// polls as a fallback for notices that got lost. Call it before the
    /// first `reload`, so that no notice falls between the two.
    pub fn watch(self: &Arc<Self>) {
        let node = self.clone();
        let mut changes = self.store.changes();
        tokio::spawn(async move {
            let first_poll = tokio::time::Instant::now() + POLL_INTERVAL;
            let mut poll = tokio::time::interval_at(first_poll, POLL_INTERVAL);
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

/// Gets the queued versions their snapshots, one at a time (each is built
/// in a child process, see `worker_snapshot.rs`), and serves each version
/// still active from its snapshot from then on.
async fn make_snapshots(
    node: Weak<ActiveVersions>,
    mut queue: mpsc::UnboundedReceiver<Arc<WorkerVersion>>,
) {
    while let Some(version) = queue.recv().await {
        let Some(node) = node.upgrade() else {
            return;
        };
        let Some(snapshot) = worker_snapshot::from_store(&version, node.store.as_ref()).await
        else {
            continue;
        };
        {
            let mut known = node.versions.lock().expect("versions lock");
            let Some(current) = known.get_mut(&version.id) else {
                continue;
            };
            *current = worker_snapshot::with_snapshot(current.clone(), snapshot);
        }
        match node.reload().await {
            Ok(_) => tracing::info!(
                worker = %version.name,
                version = %version.version_id,
                isolate = %version.id,
                "cold starts restore the worker snapshot"
            ),
            Err(error) => tracing::warn!(%error, "cannot reload workers from the store"),
        }
    }
}
