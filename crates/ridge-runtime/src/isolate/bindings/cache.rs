//! The Cache API binding (`caches`): the node's HTTP cache as one worker's
//! ops (ridge-ext `cache.rs`) see it, scoped to the worker.

use std::rc::Rc;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use deno_core::OpState;
use deno_error::JsErrorBox;
use ridge_cache::{check_put, storage_ttl, HttpCache, StoredResponse};
use ridge_ext::cache::{CacheBinding, CacheHost, CachedResponse};

use crate::observe::{Metrics, Observers};
use crate::worker::WorkerVersion;

/// Gives the ops the node's cache, scoped to the worker.
pub(super) fn install(
    state: &mut OpState,
    version: &WorkerVersion,
    cache: Arc<HttpCache>,
    observers: &Observers,
) {
    state.put(CacheBinding(Rc::new(CacheAdapter {
        cache,
        scope: version.name.clone(),
        metrics: observers.metrics.clone(),
    })));
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
