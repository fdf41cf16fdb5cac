//! The node services a worker's bindings reach, and how an isolate gets
//! them: [`Services::install`] gives each binding kind's ops (ridge-ext)
//! what they serve the worker's binding list with. One module per binding
//! kind with node state adapts the node's service to its ops: `kv` (KV
//! namespaces), `cache` (the Cache API), `assets` (static assets),
//! `service` (other workers of the node, and the Durable Objects of
//! namespaces), `objects` (Durable Object ids and storage), `queues`
//! (queue producers).

mod assets;
mod cache;
mod kv;
mod objects;
mod queues;
mod service;

pub use service::{Directory, WorkerDirectory};

use std::rc::Rc;
use std::sync::Arc;

use deno_core::OpState;

use crate::observe::Observers;
use crate::worker::WorkerVersion;
use ridge_cache::HttpCache;
use ridge_ext::ConsoleCapture;
use ridge_kv::Kv;

/// What a node offers its workers besides the Web APIs.
#[derive(Clone)]
pub struct Services {
    /// `None` where there is no store to keep KV in.
    pub kv: Option<Arc<Kv>>,
    /// `None` where there is no store to keep queues in.
    pub queues: Option<Arc<ridge_queues::Queues>>,
    pub cache: Arc<HttpCache>,
    /// `ridge dev --inspect`: where new isolates offer their inspector.
    pub inspector: Option<Arc<dyn InspectorRegistry>>,
    /// Where isolates report what they do (metrics, usage, tail, traces).
    pub observers: Observers,
    /// Static asset contents in memory, shared by the node's versions.
    pub asset_cache: ridge_assets::HotCache,
    /// The node's workers, which service bindings call.
    pub workers: Directory,
    /// Where Durable Objects keep their storage.
    pub objects: ridge_objects::ObjectStore,
    /// How long a Durable Object stays in memory without events.
    pub object_idle_timeout: std::time::Duration,
}

/// Where new isolates offer their V8 inspector (`ridge dev --inspect`).
/// The DevTools server behind it is dev tooling, outside the runtime.
pub trait InspectorRegistry: Send + Sync {
    /// Offers an isolate's inspector sessions; debuggers attach to the
    /// newest isolate offered.
    fn register(
        &self,
        title: &str,
        url: &str,
        sessions: deno_core::futures::channel::mpsc::UnboundedSender<
            deno_core::InspectorSessionProxy,
        >,
    );
    /// Whether isolates pause before the worker's first statement.
    fn break_on_start(&self) -> bool;
}

/// Default size of the Cache API storage, in bytes.
pub const DEFAULT_CACHE_BYTES: u64 = 64 * 1024 * 1024;

impl Services {
    /// No KV, a Cache API of `cache_bytes`, and observers of their own.
    pub fn without_kv(cache_bytes: u64) -> Self {
        Self {
            kv: None,
            queues: None,
            cache: HttpCache::new(cache_bytes),
            inspector: None,
            observers: Observers::new(None),
            asset_cache: ridge_assets::HotCache::default(),
            workers: Directory::default(),
            objects: ridge_objects::ObjectStore::in_memory(),
            object_idle_timeout: std::time::Duration::from_secs(70),
        }
    }

    /// Gives an isolate about to run `version` its bindings.
    pub fn install(&self, state: &mut OpState, version: &WorkerVersion) {
        kv::install(state, version, self.kv.clone(), &self.observers);
        queues::install(state, version, self.queues.clone(), &self.observers);
        cache::install(state, version, self.cache.clone(), &self.observers);
        assets::install(state, version);
        service::install(state, version, &self.workers);
        objects::install(
            state,
            version,
            &self.objects,
            self.object_idle_timeout,
            &self.observers,
        );
        let (worker, tail) = (version.name.clone(), self.observers.tail.clone());
        state.put(ConsoleCapture(Rc::new(move || tail.is_watched(&worker))));
    }
}
