//! KV namespace bindings: the node's `Kv` as one worker version's ops
//! (ridge-ext `kv.rs`) see it. Errors become the JS classes Cloudflare
//! throws (`TypeError`, `RangeError`); each operation is counted for usage.

use std::rc::Rc;
use std::sync::Arc;

use bytes::Bytes;
use deno_core::OpState;
use deno_error::JsErrorBox;
use ridge_core::Binding;
use ridge_ext::kv::{HostFuture, KvBindings, KvHost, KvListPage, KvPutOptions, KvValue};
use ridge_kv::{Kv, KvError, PutOptions, MAX_VALUE_BYTES};

use crate::observe::Observers;
use crate::worker::WorkerVersion;

/// Gives the ops the worker's KV namespaces, by binding index.
pub(super) fn install(
    state: &mut OpState,
    version: &WorkerVersion,
    kv: Option<Arc<Kv>>,
    observers: &Observers,
) {
    state.put(KvBindings {
        host: kv.map(|kv| {
            Rc::new(KvAdapter {
                kv,
                worker: version.name.clone(),
                version: version.version_id.clone(),
                observers: observers.clone(),
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
