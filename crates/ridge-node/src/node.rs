//! A node, assembled: the isolate scheduler with the node's services (KV,
//! the Cache API, the inspector), the edge listeners, and what decides
//! which workers they serve — one watched worker (`ridge dev`), a folder of
//! workers (`ridge serve --workers`), or a store followed through the admin
//! API (`ridge serve`) — with the cron, alarm and queue runners and usage
//! metering. The CLI
//! only fills in a [`NodeConfig`] and prints what [`Node::start`] returns.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ridge_cache::HttpCache;
use ridge_core::clock::Clock;
use ridge_core::Binding;
use ridge_deploy::config::WorkerConfig;
use ridge_deploy::project::{ProjectError, ProjectLocation};
use ridge_ext::net::OutboundPolicy;
use ridge_kv::{Kv, KvError};
use ridge_objects::ObjectStore;
use ridge_queues::Queues;
use ridge_runtime::isolate::worker_snapshot::{self, SnapshotUse};
use ridge_runtime::isolate::{Directory, Scheduler, SchedulerOptions, Services, WorkerDirectory};
use ridge_runtime::observe::trace::TraceSetupError;
use ridge_runtime::observe::{Observers, TraceExporter};
use ridge_runtime::worker::WorkerVersion;
use ridge_server::admin::AdminApi;
use ridge_server::edge::EdgeError;
use ridge_server::router::RouteError;
use ridge_server::{
    admin_service, serve_tcp, start_edge, ActiveVersions, ConnectionHome, ConnectionLimits, Edge,
    EdgeHandler, EdgeOptions, ErrorDetail, Router, ServerHandle,
};
use ridge_store::kv::KvStore;
use ridge_store::queues::QueueStore;
use ridge_store::{Store, StoreError};

use crate::alarms::AlarmRunner;
use crate::cron::CronRunner;
use crate::dev::inspector::InspectorHub;
use crate::dev::{DevWorkers, Reloader};
use crate::queues::QueueRunner;

/// Why a node could not start. Each names what it could not do.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Worker(#[from] ProjectError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Route(#[from] RouteError),
    #[error(transparent)]
    Edge(#[from] EdgeError),
    #[error(transparent)]
    Traces(#[from] TraceSetupError),
    #[error("Durable Object storage: {0}")]
    Objects(#[from] ridge_objects::StorageError),
    #[error("worker {worker}: {source}")]
    Kv { worker: String, source: KvError },
    #[error("worker {worker}: {source}")]
    Queues {
        worker: String,
        source: ridge_queues::QueueError,
    },
    #[error("worker {worker}: {kind} {binding} names worker {service:?}, which is not among the workers run here (ridge dev runs more with another -c FILE)")]
    MissingService {
        worker: String,
        /// "service binding", or "Durable Object binding".
        kind: &'static str,
        binding: String,
        service: String,
    },
    #[error("cannot start the isolate threads: {0}")]
    Threads(std::io::Error),
    #[error("cannot read the workers folder {path}: {source}")]
    WorkersFolder {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0} has no worker folders (subfolders with a wrangler.jsonc, wrangler.json, wrangler.toml or ridge.toml)")]
    NoWorkers(PathBuf),
    #[error("loading the worker in {folder}: {error}")]
    WorkerIn {
        folder: PathBuf,
        error: ProjectError,
    },
    #[error("cannot listen on {addr} for {what}: {source}")]
    Listen {
        addr: SocketAddr,
        what: &'static str,
        source: std::io::Error,
    },
    #[error("the admin API needs a token: set RIDGE_ADMIN_TOKEN (or --admin-token), or serve a folder with --workers")]
    NoAdminToken,
    #[error(transparent)]
    Dev(#[from] crate::dev::DevError),
    #[error("cannot watch {path} for changes: {source}")]
    Watch {
        path: PathBuf,
        source: notify::Error,
    },
}

/// Where a node's workers come from.
pub enum WorkerSource {
    /// `ridge dev`: one worker (a folder with ridge.toml, or a script),
    /// reloaded when its files change.
    Dev(DevWorker),
    /// `ridge serve --workers DIR`: every subfolder of `dir` with a
    /// ridge.toml; KV and snapshots are kept in `data_dir`.
    Folder { dir: PathBuf, data_dir: PathBuf },
    /// `ridge serve`: what was uploaded through the admin API into the
    /// store at `url` (default: SQLite in `data_dir`).
    Store(StoreSource),
}

pub struct DevWorker {
    /// The project: its folder or script, `-c` and `--env`.
    pub project: ProjectLocation,
    /// More workers to run beside it (`-c` again), reached only through
    /// service bindings.
    pub others: Vec<ProjectLocation>,
    /// `--var KEY=VALUE`: added to (or overriding) the worker's vars.
    pub vars: BTreeMap<String, String>,
    /// Where local state (KV, the Cache API) is kept; `None`: nowhere, it
    /// is forgotten on exit.
    pub state_dir: Option<PathBuf>,
    pub no_limits: bool,
    /// The V8 inspector's address, and whether isolates wait for a
    /// debugger before the worker's first statement.
    pub inspect: Option<(SocketAddr, bool)>,
}

pub struct StoreSource {
    pub url: Option<String>,
    pub data_dir: PathBuf,
    pub admin_listen: SocketAddr,
    pub admin_token: Option<String>,
    pub usage_flush_interval: Duration,
}

/// The isolate threads and the node's shared caches.
pub struct IsolateConfig {
    /// Isolate threads; 0: one per CPU core.
    pub threads: usize,
    pub warm_isolates: usize,
    pub idle_timeout: Duration,
    /// How long a Durable Object stays in memory without events.
    pub object_idle_timeout: Duration,
    pub memory_budget_bytes: usize,
    pub kv_cache_bytes: u64,
    pub cache_bytes: u64,
    /// Static asset contents kept in memory, all versions together.
    pub asset_cache_bytes: u64,
}

pub struct NodeConfig {
    pub workers: WorkerSource,
    pub edge: EdgeOptions,
    pub isolates: IsolateConfig,
    pub snapshots: SnapshotUse,
    /// Also route `<worker name>.<domain>` to each worker.
    pub base_domain: Option<String>,
    /// Process-wide: the first node started in a process sets it (see
    /// ARCHITECTURE.md, "Crates").
    pub outbound: OutboundPolicy,
    /// An OTLP/HTTP collector, and the share of requests traced.
    pub traces: Option<(String, f64)>,
}

/// A running node.
pub struct Node {
    edge: Edge,
    /// Whether the edge serves HTTPS.
    tls: bool,
    admin: Option<ServerHandle>,
    /// Where usage is flushed (a node with a store), and the task that
    /// flushes it periodically.
    usage_store: Option<(Arc<dyn Store>, tokio::task::JoinHandle<()>)>,
    /// `ridge dev`: the file watchers, alive as long as the node.
    _watchers: Vec<Arc<std::sync::Mutex<notify::RecommendedWatcher>>>,
    /// `ridge dev`: the inspector's address.
    inspector: Option<SocketAddr>,
    /// `ridge serve --workers`: the workers loaded at startup.
    loaded: Vec<Arc<WorkerVersion>>,
    /// Where the node reports: its own metrics, usage, tail and traces.
    observers: Observers,
    /// Its Durable Objects' storage, checkpointed as it stops.
    objects: Option<ObjectStore>,
}

impl Node {
    /// Starts the node's isolate threads, workers and listeners.
    pub async fn start(config: NodeConfig) -> Result<Node, NodeError> {
        config.outbound.install();
        let traces = match &config.traces {
            Some((endpoint, sample_ratio)) => Some(TraceExporter::new(endpoint, *sample_ratio)?),
            None => None,
        };
        worker_snapshot::set_use(config.snapshots);
        let snapshots = config.snapshots != SnapshotUse::Never;
        let parts = NodeParts {
            asset_cache: ridge_assets::HotCache::new(config.isolates.asset_cache_bytes),
            isolates: config.isolates,
            observers: Observers::new(traces),
        };
        let tls = config.edge.certificates.is_some();
        let mut node = match config.workers {
            WorkerSource::Dev(dev) => start_dev(dev, parts, snapshots, config.edge).await?,
            WorkerSource::Folder { dir, data_dir } => {
                let workers = load_worker_folders(&dir, &parts.asset_cache)?;
                start_folder(
                    workers,
                    &data_dir,
                    parts,
                    snapshots,
                    config.base_domain,
                    config.edge,
                )
                .await?
            }
            WorkerSource::Store(source) => {
                start_store(source, parts, snapshots, config.base_domain, config.edge).await?
            }
        };
        node.tls = tls;
        Ok(node)
    }

    /// The edge's URL (`http://` or `https://`, with the bound port).
    pub fn url(&self) -> String {
        self.edge.url(self.tls)
    }

    pub fn edge(&self) -> &Edge {
        &self.edge
    }

    /// The admin API's address, on a node with a store.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().map(|admin| admin.local_addr)
    }

    /// The inspector's address, under `ridge dev --inspect`.
    pub fn inspector_addr(&self) -> Option<SocketAddr> {
        self.inspector
    }

    /// The node's metrics, usage meter, tail hub and trace exporter.
    pub fn observers(&self) -> &Observers {
        &self.observers
    }

    /// The workers a `--workers` node loaded at startup.
    pub fn loaded_workers(&self) -> &[Arc<WorkerVersion>] {
        &self.loaded
    }

    /// Stops accepting, lets requests in flight finish for up to
    /// `deadline`, then records usage and sends the last traces.
    pub async fn shutdown(self, deadline: Duration) {
        let admin = async {
            if let Some(admin) = self.admin {
                admin.shutdown(deadline).await;
            }
        };
        tokio::join!(admin, self.edge.shutdown(deadline));
        let observers = self.observers;
        if let Some((store, flushing)) = self.usage_store {
            flushing.abort();
            observers.usage.flush(store.as_ref()).await;
        }
        if let Some(traces) = observers.traces {
            let _ = tokio::task::spawn_blocking(move || traces.flush()).await;
        }
        if let Some(objects) = self.objects {
            let emptied = tokio::task::spawn_blocking(move || objects.checkpoint_all())
                .await
                .unwrap_or(0);
            tracing::debug!(logs = emptied, "Durable Object logs checkpointed");
        }
    }
}

/// What every mode builds its node from: the isolate settings and the
/// node's observers.
struct NodeParts {
    isolates: IsolateConfig,
    observers: Observers,
    /// Static asset contents in memory, shared by every version.
    asset_cache: ridge_assets::HotCache,
}

impl NodeParts {
    /// The node's services, with KV and queues in `store` and Durable
    /// Object storage under `objects` (a folder; `None`: in memory).
    fn services(
        &self,
        store: Option<NodeStores>,
        objects: Option<PathBuf>,
    ) -> Result<Services, NodeError> {
        let objects = match objects {
            Some(folder) => ObjectStore::on_disk(folder)?,
            None => ObjectStore::in_memory(),
        };
        Ok(Services {
            objects,
            object_idle_timeout: self.isolates.object_idle_timeout,
            kv: store.as_ref().map(|(store, _)| {
                Kv::new(
                    store.clone(),
                    self.isolates.kv_cache_bytes,
                    Clock::from_env(),
                )
            }),
            queues: store.map(|(_, store)| Queues::new(store, Clock::from_env())),
            cache: HttpCache::new(self.isolates.cache_bytes),
            inspector: None,
            observers: self.observers.clone(),
            asset_cache: self.asset_cache.clone(),
            workers: Directory::default(),
        })
    }

    /// The isolate threads, with `services`, and the edge handler that
    /// dispatches to them; service bindings reach the workers it routes to.
    fn edge_handler(
        &self,
        services: Services,
        errors: ErrorDetail,
        test_scheduled: bool,
    ) -> Result<Arc<EdgeHandler>, NodeError> {
        let isolates = &self.isolates;
        let workers = services.workers.clone();
        let scheduler = Scheduler::new(SchedulerOptions {
            threads: isolates.threads,
            warm_isolates: isolates.warm_isolates,
            idle_timeout: isolates.idle_timeout,
            memory_budget: isolates.memory_budget_bytes,
            services,
        })
        .map_err(NodeError::Threads)?;
        let mut handler = EdgeHandler::new(Router::default(), scheduler, errors);
        if test_scheduled {
            handler = handler.with_test_scheduled();
        }
        let handler = Arc::new(handler);
        let directory: Arc<dyn WorkerDirectory> = handler.clone();
        workers.set(Arc::downgrade(&directory));
        Ok(handler)
    }
}

fn node(edge: Edge, observers: Observers) -> Node {
    Node {
        edge,
        observers,
        tls: false,
        admin: None,
        usage_store: None,
        _watchers: Vec::new(),
        inspector: None,
        loaded: Vec::new(),
        objects: None,
    }
}

async fn start_dev(
    dev: DevWorker,
    mut parts: NodeParts,
    snapshots: bool,
    edge: EdgeOptions,
) -> Result<Node, NodeError> {
    let locations: Vec<ProjectLocation> = std::iter::once(dev.project).chain(dev.others).collect();
    let projects = locations
        .iter()
        .map(ProjectLocation::open)
        .collect::<Result<Vec<_>, _>>()?;
    check_dev_services(&projects)?;
    // Local state: KV and queues (a store opened for workers with KV or
    // queue bindings) and the Cache API (its file is created when first
    // used).
    let mut store = None;
    let stateful = |config: &WorkerConfig| {
        !config.kv_namespaces.is_empty()
            || !config.queue_producers.is_empty()
            || !config.queue_consumers.is_empty()
    };
    if projects.iter().any(|p| stateful(&p.config)) {
        let state_db = dev
            .state_dir
            .as_ref()
            .map_or_else(|| PathBuf::from(":memory:"), |dir| dir.join("ridge.db"));
        store = Some(local_store(&state_db)?);
    }
    let objects = dev.state_dir.as_ref().map(|dir| dir.join("objects"));
    let mut services = parts.services(store, objects)?;
    if let Some(dir) = &dev.state_dir {
        services.cache = HttpCache::persistent(parts.isolates.cache_bytes, dir.join("cache.db"));
    }
    let mut no_limits = dev.no_limits;
    let mut inspector = None;
    if let Some((addr, break_on_start)) = dev.inspect {
        let hub = InspectorHub::start(addr, break_on_start)
            .await
            .map_err(|source| NodeError::Listen {
                addr,
                what: "the inspector",
                source,
            })?;
        inspector = Some(hub.local_addr());
        services.inspector = Some(hub);
        // Each isolate needs its inspector from birth: no pre-warmed ones;
        // and a paused debugger must not trip the CPU limit.
        parts.isolates.warm_isolates = 0;
        no_limits = true;
    }
    let (kv, queues) = (services.kv.clone(), services.queues.clone());
    let objects = services.objects.clone();
    let alarms = objects.alarms().clone();
    let snapshots = snapshots && inspector.is_none();
    let handler = parts.edge_handler(services, ErrorDetail::Full, true)?;
    // Serves each worker, or the reason it does not load, and follows
    // edits; the others first, so that the first finds them.
    let served: DevWorkers = Arc::new(std::sync::Mutex::new(vec![None; locations.len()]));
    let mut watchers = Vec::new();
    for (slot, location) in locations.iter().enumerate().rev() {
        let reloader = Reloader::new(
            location,
            (slot, served.clone()),
            dev.vars.clone(),
            no_limits,
            (kv.clone(), queues.clone()),
            snapshots,
            handler.clone(),
            parts.asset_cache.clone(),
        )?;
        reloader.reload(true).await;
        let watcher = reloader.watch().map_err(|source| NodeError::Watch {
            path: projects[slot].root.clone(),
            source,
        })?;
        watchers.push(watcher);
    }
    AlarmRunner::new(handler.clone(), alarms).start();
    if let Some(queues) = queues {
        QueueRunner::new(handler.clone(), queues, parts.observers.clone()).start();
    }
    let mut node = node(start_edge(handler, edge).await?, parts.observers.clone());
    node.objects = Some(objects);
    node._watchers = watchers;
    node.inspector = inspector;
    Ok(node)
}

async fn start_folder(
    workers: Vec<Arc<WorkerVersion>>,
    data_dir: &Path,
    parts: NodeParts,
    snapshots: bool,
    base_domain: Option<String>,
    edge: EdgeOptions,
) -> Result<Node, NodeError> {
    // KV and queues for a folder of workers live in the embedded store,
    // opened only if some worker has a KV or queue binding.
    let store = if workers
        .iter()
        .any(|w| w.kv_namespace_ids().next().is_some() || !w.queues.is_empty())
    {
        Some(local_store(&data_dir.join("ridge.db"))?)
    } else {
        None
    };
    let services = parts.services(store, Some(data_dir.join("objects")))?;
    if let Some(kv) = &services.kv {
        for worker in &workers {
            kv.create_bound(&worker.bindings)
                .await
                .map_err(|source| NodeError::Kv {
                    worker: worker.name.clone(),
                    source,
                })?;
        }
    }
    if let Some(queues) = &services.queues {
        for worker in &workers {
            create_queues(queues, worker).await?;
        }
    }
    let queues = services.queues.clone();
    let objects = services.objects.clone();
    let alarms = objects.alarms().clone();
    let handler = parts.edge_handler(services, ErrorDetail::Opaque, false)?;
    handler.set_router(Router::new(workers.clone(), base_domain.clone())?);
    AlarmRunner::new(handler.clone(), alarms).start();
    if let Some(queues) = queues {
        QueueRunner::new(handler.clone(), queues, parts.observers.clone()).start();
    }
    if snapshots {
        // Without a store, snapshots are kept in the data folder.
        tokio::spawn(attach_snapshots(
            workers.clone(),
            data_dir.join("snapshots"),
            handler.clone(),
            base_domain,
        ));
    }
    CronRunner::new(handler.clone(), None, Clock::from_env()).start();
    let mut node = node(start_edge(handler, edge).await?, parts.observers.clone());
    node.objects = Some(objects);
    node.loaded = workers;
    Ok(node)
}

/// Gives each worker of a folder its snapshot from `dir` (making it if
/// needed), and routes to the version with a snapshot once it has one.
async fn attach_snapshots(
    mut served: Vec<Arc<WorkerVersion>>,
    dir: PathBuf,
    handler: Arc<EdgeHandler>,
    base_domain: Option<String>,
) {
    for index in 0..served.len() {
        if !served[index].has_script() {
            continue;
        }
        served[index] = worker_snapshot::attach_from_dir(served[index].clone(), &dir).await;
        if served[index].snapshot.is_none() {
            continue;
        }
        match Router::new(served.clone(), base_domain.clone()) {
            Ok(router) => {
                handler.set_router(router);
                let worker = &served[index];
                tracing::info!(worker = %worker.name, version = %worker.version_id, "cold starts restore the worker snapshot");
            }
            Err(error) => tracing::error!(%error, "cannot build the routing table"),
        }
    }
}

async fn start_store(
    source: StoreSource,
    parts: NodeParts,
    snapshots: bool,
    base_domain: Option<String>,
    edge: EdgeOptions,
) -> Result<Node, NodeError> {
    let token = source
        .admin_token
        .filter(|token| !token.is_empty())
        .ok_or(NodeError::NoAdminToken)?;
    let store =
        ridge_store::open(source.url.as_deref().unwrap_or_default(), &source.data_dir).await?;
    let services = parts.services(
        Some((store.clone(), store.clone())),
        Some(source.data_dir.join("objects")),
    )?;
    let kv = services.kv.clone().expect("KV has a store");
    let queues = services.queues.clone().expect("queues have a store");
    let objects = services.objects.clone();
    let alarms = objects.alarms().clone();
    let handler = parts.edge_handler(services, ErrorDetail::Opaque, false)?;
    let asset_files = Arc::new(ridge_server::stored_assets::StoredAssetFiles::new(
        store.clone(),
        source.data_dir.join("assets"),
    ));
    let active = ActiveVersions::new(
        store.clone(),
        handler.clone(),
        base_domain,
        snapshots,
        asset_files,
        parts.asset_cache.clone(),
    );
    active.watch();
    let count = active.reload().await?;
    tracing::info!(workers = count, "workers loaded from the store");
    AlarmRunner::new(handler.clone(), alarms).start();
    QueueRunner::new(handler.clone(), queues.clone(), parts.observers.clone()).start();
    CronRunner::new(handler.clone(), Some(store.clone()), Clock::from_env()).start();
    let flushing = parts
        .observers
        .usage
        .start_flushing(store.clone(), source.usage_flush_interval);
    let api = Arc::new(AdminApi::new(
        store.clone(),
        active,
        kv,
        queues,
        objects.clone(),
        token,
    ));
    let addr = source.admin_listen;
    let listen_error = |source| NodeError::Listen {
        addr,
        what: "the admin API",
        source,
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(listen_error)?;
    let admin = serve_tcp(
        listener,
        None,
        admin_service(api),
        None,
        ConnectionHome::Here,
        ConnectionLimits::admin(),
    )
    .map_err(listen_error)?;
    let mut node = node(start_edge(handler, edge).await?, parts.observers.clone());
    node.objects = Some(objects);
    node.admin = Some(admin);
    node.usage_store = Some((store, flushing));
    Ok(node)
}

/// One store as KV and queues use it.
type NodeStores = (Arc<dyn KvStore>, Arc<dyn QueueStore>);

/// A local SQLite store, as KV and queues use it.
fn local_store(path: &Path) -> Result<NodeStores, NodeError> {
    let store = Arc::new(ridge_store::sqlite::SqliteStore::open(path)?);
    Ok((store.clone(), store))
}

/// Creates the queues `worker` sends to or consumes, where nothing else
/// creates them (`ridge dev`, a folder of workers).
pub(crate) async fn create_queues(
    queues: &Queues,
    worker: &WorkerVersion,
) -> Result<(), NodeError> {
    for queue in &worker.queues {
        queues
            .create(queue)
            .await
            .map_err(|source| NodeError::Queues {
                worker: worker.name.clone(),
                source,
            })?;
    }
    Ok(())
}

/// The workers of a `--workers` folder: its subfolders with a ridge.toml.
fn load_worker_folders(
    dir: &Path,
    asset_cache: &ridge_assets::HotCache,
) -> Result<Vec<Arc<WorkerVersion>>, NodeError> {
    let entries = std::fs::read_dir(dir).map_err(|source| NodeError::WorkersFolder {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut folders: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| WorkerConfig::find_file(path).is_some())
        .collect();
    folders.sort();
    if folders.is_empty() {
        return Err(NodeError::NoWorkers(dir.to_path_buf()));
    }
    folders
        .iter()
        .map(|folder| {
            ProjectLocation::at(folder)
                .open()
                .and_then(|project| {
                    tracing::info!(worker = %project.config.name, "using {}", project.config_name());
                    for (key, why) in &project.config.ignored {
                        tracing::warn!(worker = %project.config.name, "ignoring `{key}` in {}: {why}", project.config_name());
                    }
                    WorkerVersion::load(&project, &BTreeMap::new(), asset_cache)
                })
                .map_err(|error| NodeError::WorkerIn {
                    folder: folder.clone(),
                    error,
                })
        })
        .collect::<Result<Vec<_>, _>>()
        .and_then(|workers| {
            check_services(&workers)?;
            Ok(workers)
        })
}

/// Every service binding of `ridge dev`'s projects names one of them.
fn check_dev_services(projects: &[ridge_deploy::project::Project]) -> Result<(), NodeError> {
    for project in projects {
        let config = &project.config;
        let services = config
            .services
            .iter()
            .map(|service| ("service binding", &service.binding, &service.service));
        let objects = config.durable_objects.iter().filter_map(|object| {
            Some((
                "Durable Object binding",
                &object.name,
                object.script_name.as_ref()?,
            ))
        });
        for (kind, binding, target) in services.chain(objects) {
            if !projects.iter().any(|p| &p.config.name == target) {
                return Err(NodeError::MissingService {
                    worker: config.name.clone(),
                    kind,
                    binding: binding.clone(),
                    service: target.clone(),
                });
            }
        }
    }
    Ok(())
}

/// Every service binding of `workers`, and every Durable Object binding
/// to a class of another worker, names one of them.
fn check_services(workers: &[Arc<WorkerVersion>]) -> Result<(), NodeError> {
    for worker in workers {
        for binding in &worker.bindings {
            let (kind, name, target) = match binding {
                Binding::Service { name, service, .. } => ("service binding", name, service),
                Binding::DurableObjectNamespace { name, worker, .. } => {
                    ("Durable Object binding", name, worker)
                }
                _ => continue,
            };
            if !workers.iter().any(|w| &w.name == target) {
                return Err(NodeError::MissingService {
                    worker: worker.name.clone(),
                    kind,
                    binding: name.clone(),
                    service: target.clone(),
                });
            }
        }
    }
    Ok(())
}
