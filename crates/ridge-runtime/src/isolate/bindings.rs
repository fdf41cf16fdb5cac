//! The node services a worker's bindings reach (KV namespaces, the Cache
//! API), and the adapters that serve the ops' host traits with them: errors
//! become the JS classes Cloudflare throws (`TypeError`, `RangeError`).

use std::rc::Rc;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use deno_core::OpState;
use deno_error::JsErrorBox;
use ridge_core::Binding;

use crate::observe::{Metrics, Observers};
use crate::worker::WorkerVersion;
use ridge_cache::{check_put, storage_ttl, HttpCache, StoredResponse};
use ridge_ext::cache::{CacheBinding, CacheHost, CachedResponse};
use ridge_ext::kv::{HostFuture, KvBindings, KvHost, KvListPage, KvPutOptions, KvValue};
use ridge_ext::ConsoleCapture;
use ridge_kv::{Kv, KvError, PutOptions, MAX_VALUE_BYTES};

/// What a node offers its workers besides the Web APIs.
#[derive(Clone)]
pub struct Services {
    /// `None` where there is no store to keep KV in.
    pub kv: Option<Arc<Kv>>,
    pub cache: Arc<HttpCache>,
    /// `ridge dev --inspect`: where new isolates offer their inspector.
    pub inspector: Option<Arc<dyn InspectorRegistry>>,
    /// Where isolates report what they do (metrics, usage, tail, traces).
    pub observers: Observers,
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
            cache: HttpCache::new(cache_bytes),
            inspector: None,
            observers: Observers::new(None),
        }
    }

    /// Gives an isolate about to run `version` its bindings.
    pub fn install(&self, state: &mut OpState, version: &WorkerVersion) {
        state.put(KvBindings {
            host: self.kv.clone().map(|kv| {
                Rc::new(KvAdapter {
                    kv,
                    worker: version.name.clone(),
                    version: version.version_id.clone(),
                    observers: self.observers.clone(),
                }) as Rc<dyn KvHost>
            }),
            namespaces: version
                .bindings
                .iter()
                .map(|binding| match binding {
                    Binding::KvNamespace { namespace_id, .. } => Some(namespace_id.clone()),
                    _ => None,
                })
                .collect(),
        });
        let (worker, tail) = (version.name.clone(), self.observers.tail.clone());
        state.put(ConsoleCapture(Rc::new(move || tail.is_watched(&worker))));
        state.put(CacheBinding(Rc::new(CacheAdapter {
            cache: self.cache.clone(),
            scope: version.name.clone(),
            metrics: self.observers.metrics.clone(),
        })));
    }
}

fn js_error(error: KvError) -> JsErrorBox {
    match error {
        KvError::Invalid(message) => JsErrorBox::type_error(message),
        KvError::OutOfRange(message) => JsErrorBox::range_error(message),
        other => JsErrorBox::generic(other.to_string()),
    }
}

/// The node's KV as one worker version sees it; counts its operations.
struct KvAdapter {
    kv: Arc<Kv>,
    worker: String,
    version: String,
    observers: Observers,
}

impl KvAdapter {
    /// One KV operation for usage metering.
    fn count(&self) {
        self.observers
            .usage
            .record(&self.worker, &self.version, |row| row.kv_operations += 1);
    }
}

fn kv_value(read: ridge_kv::KvRead) -> Option<KvValue> {
    read.entry.map(|entry| KvValue {
        value: entry.value.clone(),
        metadata: entry.metadata.clone(),
        cache_hit: read.cache_hit,
    })
}

fn put_options(options: &KvPutOptions) -> PutOptions {
    PutOptions {
        expiration: options.expiration,
        expiration_ttl: options.expiration_ttl,
        metadata: options.metadata.clone(),
    }
}

impl KvHost for KvAdapter {
    fn get_cached(
        &self,
        namespace: &str,
        key: &str,
        cache_ttl: Option<f64>,
    ) -> Result<Option<Option<KvValue>>, JsErrorBox> {
        let read = self
            .kv
            .get_cached(namespace, key, cache_ttl)
            .map_err(js_error)?;
        if read.is_some() {
            // A miss is counted by the `get` that follows it.
            self.observers.metrics.kv_read(true);
            self.count();
        }
        Ok(read.map(kv_value))
    }

    fn get(
        &self,
        namespace: &str,
        key: &str,
        cache_ttl: Option<f64>,
    ) -> HostFuture<Option<KvValue>> {
        self.count();
        let (kv, namespace, key) = (self.kv.clone(), namespace.to_string(), key.to_string());
        let metrics = self.observers.metrics.clone();
        Box::pin(async move {
            let read = kv
                .get(&namespace, &key, cache_ttl)
                .await
                .map_err(js_error)?;
            metrics.kv_read(read.cache_hit);
            Ok(kv_value(read))
        })
    }

    fn check_put(&self, key: &str, options: &KvPutOptions) -> Result<(), JsErrorBox> {
        self.kv
            .check_put(key, &put_options(options))
            .map_err(js_error)
    }

    fn put(
        &self,
        namespace: &str,
        key: &str,
        value: Bytes,
        options: KvPutOptions,
    ) -> HostFuture<()> {
        self.count();
        let (kv, namespace, key) = (self.kv.clone(), namespace.to_string(), key.to_string());
        Box::pin(async move {
            kv.put(&namespace, &key, value, put_options(&options))
                .await
                .map_err(js_error)
        })
    }

    fn delete(&self, namespace: &str, key: &str) -> HostFuture<()> {
        self.count();
        let (kv, namespace, key) = (self.kv.clone(), namespace.to_string(), key.to_string());
        Box::pin(async move { kv.delete(&namespace, &key).await.map_err(js_error) })
    }

    fn list(
        &self,
        namespace: &str,
        prefix: &str,
        limit: Option<f64>,
        cursor: Option<String>,
    ) -> HostFuture<KvListPage> {
        self.count();
        let (kv, namespace, prefix) = (self.kv.clone(), namespace.to_string(), prefix.to_string());
        Box::pin(async move {
            let page = kv
                .list(&namespace, &prefix, limit, cursor.as_deref())
                .await
                .map_err(js_error)?;
            let keys = page
                .keys
                .into_iter()
                .map(|key| (key.name, key.expiration, key.metadata))
                .collect();
            Ok((keys, page.list_complete, page.cursor))
        })
    }

    fn max_value_bytes(&self) -> usize {
        MAX_VALUE_BYTES
    }
}

/// The node's Cache API storage as one worker sees it.
struct CacheAdapter {
    cache: Arc<HttpCache>,
    scope: String,
    metrics: Arc<Metrics>,
}

impl CacheHost for CacheAdapter {
    fn lookup(
        &self,
        cache: &str,
        url: &str,
        if_none_match: Option<&str>,
    ) -> Option<CachedResponse> {
        let stored = self.cache.get(&self.scope, cache, url);
        self.metrics.cache_lookup(stored.is_some());
        let stored = stored?;
        let mut headers = stored.headers.clone();
        headers.push(("cf-cache-status".into(), "HIT".into()));
        let not_modified = if_none_match.is_some_and(|tags| stored.matches_etag(tags));
        Some(CachedResponse {
            status: if not_modified { 304 } else { stored.status },
            status_text: if not_modified {
                "Not Modified".into()
            } else {
                stored.status_text.clone()
            },
            headers,
            body: if not_modified {
                Bytes::new()
            } else {
                stored.body.clone()
            },
        })
    }

    fn check_put(
        &self,
        method: &str,
        status: u16,
        headers: &[(String, String)],
    ) -> Result<(), JsErrorBox> {
        check_put(method, status, headers)
            .map_err(|error| JsErrorBox::type_error(error.to_string()))
    }

    fn store(&self, cache: &str, url: &str, response: CachedResponse) -> bool {
        let Some(ttl) = storage_ttl(&response.headers, SystemTime::now()) else {
            return false;
        };
        self.cache.put(
            &self.scope,
            cache,
            url,
            StoredResponse {
                status: response.status,
                status_text: response.status_text,
                headers: response.headers,
                body: response.body,
                ttl,
            },
        );
        true
    }

    fn remove(&self, cache: &str, url: &str) -> bool {
        self.cache.delete(&self.scope, cache, url)
    }

    fn max_body_bytes(&self) -> usize {
        self.cache.max_entry_bytes()
    }
}
