//! Workers KV semantics on top of the store: the limits and validation
//! Cloudflare's KV applies, expiration, list cursors, and the per-node
//! moka cache that makes repeated reads of a key cost no I/O.
//!
//! Consistency: a write or delete on a node drops that node's cached copy
//! once the store has committed it, so later reads see it (read-your-writes). Other nodes sharing PostgreSQL drop their copy
//! when the write's notice arrives (normally within milliseconds); a node
//! that loses its notice connection drops its whole cache on reconnecting.
//! Entries cached without any notice expire after `cacheTtl` seconds.
//!
//! Nothing here touches V8.

use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use moka::sync::Cache;

use ridge_core::clock::Clock;
use ridge_core::ttl::{EntryTtl, HasTtl};
use ridge_core::Binding;
use ridge_store::kv::{KvChange, KvEntry, KvKey, KvStore, NamespaceInfo};
use ridge_store::StoreError;

pub const MAX_KEY_BYTES: usize = 512;
pub const MAX_VALUE_BYTES: usize = 25 * 1024 * 1024;
pub const MAX_METADATA_BYTES: usize = 1024;
pub const MIN_EXPIRATION_TTL: i64 = 60;
/// How long a read stays cached when `cacheTtl` is not given, in seconds.
pub const DEFAULT_CACHE_TTL: u64 = 60;
pub const MIN_CACHE_TTL: u64 = 30;
pub const MAX_LIST_LIMIT: usize = 1000;
/// How often expired entries are deleted from the store.
const PURGE_INTERVAL: Duration = Duration::from_secs(60);
/// Stripes of the write counters that keep stale reads out of the cache.
const EPOCH_STRIPES: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum KvError {
    /// A malformed argument (JS `TypeError`).
    #[error("{0}")]
    Invalid(String),
    /// An argument out of its allowed range (JS `RangeError`).
    #[error("{0}")]
    OutOfRange(String),
    #[error("KV namespace {0:?} does not exist; create it with `ridge kv namespace create {0}`")]
    NamespaceNotFound(String),
    #[error("KV storage failed: {0}")]
    Store(String),
    #[error("KV binding {binding}: {source}")]
    Binding {
        binding: String,
        source: Box<KvError>,
    },
}

impl From<StoreError> for KvError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NamespaceNotFound(id) => KvError::NamespaceNotFound(id),
            other => KvError::Store(other.to_string()),
        }
    }
}

/// Namespace ids appear in URLs and configuration (the rule is
/// [`ridge_core::bindings::validate_namespace_id`]'s).
pub fn validate_namespace_id(id: &str) -> Result<(), KvError> {
    ridge_core::bindings::validate_namespace_id(id)
        .map_err(|error| KvError::Invalid(error.to_string()))
}

pub fn validate_key(key: &str) -> Result<(), KvError> {
    if key.is_empty() {
        return Err(KvError::Invalid("KV keys must not be empty".into()));
    }
    if key == "." || key == ".." {
        return Err(KvError::Invalid(format!(
            "{key:?} is not allowed as a KV key"
        )));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(KvError::OutOfRange(format!(
            "KV key is {} bytes long (UTF-8), more than the {MAX_KEY_BYTES}-byte limit",
            key.len()
        )));
    }
    Ok(())
}

fn validate_cache_ttl(cache_ttl: Option<f64>) -> Result<Duration, KvError> {
    let Some(ttl) = cache_ttl else {
        return Ok(Duration::from_secs(DEFAULT_CACHE_TTL));
    };
    if !ttl.is_finite() || ttl < MIN_CACHE_TTL as f64 {
        return Err(KvError::OutOfRange(format!(
            "cacheTtl is {ttl}, it must be at least {MIN_CACHE_TTL} seconds"
        )));
    }
    Ok(Duration::from_secs(ttl as u64))
}

/// `put` options as the worker gave them.
#[derive(Clone, Debug, Default)]
pub struct PutOptions {
    /// Seconds since the Unix epoch.
    pub expiration: Option<f64>,
    /// Seconds from now.
    pub expiration_ttl: Option<f64>,
    /// JSON text.
    pub metadata: Option<String>,
}

/// A read, and whether the node's cache answered it.
#[derive(Clone, Debug)]
pub struct KvRead {
    pub entry: Option<Arc<KvEntry>>,
    pub cache_hit: bool,
}

/// One page of `list`.
#[derive(Clone, Debug)]
pub struct KvPage {
    pub keys: Vec<KvKey>,
    pub list_complete: bool,
    /// Where the next page starts; only when the listing is not complete.
    pub cursor: Option<String>,
}

/// A cached read: the entry, or its absence, kept for `ttl`.
#[derive(Clone)]
struct Cached {
    entry: Option<Arc<KvEntry>>,
    ttl: Duration,
}

impl HasTtl for Cached {
    fn ttl(&self) -> Duration {
        self.ttl
    }
}

fn cache_key(namespace: &str, key: &str) -> String {
    let mut joined = String::with_capacity(namespace.len() + 1 + key.len());
    joined.push_str(namespace);
    joined.push('\0');
    joined.push_str(key);
    joined
}

/// A node's KV: the store behind a byte-bounded cache. Shared by every
/// isolate thread; store I/O runs on the node's main runtime.
pub struct Kv {
    store: Arc<dyn KvStore>,
    cache: Cache<String, Cached>,
    /// Bumped by every write or invalidation of a key in the stripe, so that
    /// a read that raced with a write does not cache what it read. Bumping
    /// and invalidating, or checking and inserting, happen under the lock.
    epochs: Vec<Mutex<u64>>,
    hasher: std::collections::hash_map::RandomState,
    clock: Clock,
    runtime: tokio::runtime::Handle,
}

impl Kv {
    /// Must be called within the node's main tokio runtime.
    pub fn new(store: Arc<dyn KvStore>, cache_bytes: u64, clock: Clock) -> Arc<Self> {
        let cache = Cache::builder()
            .max_capacity(cache_bytes)
            .weigher(|key: &String, value: &Cached| {
                let size = key.len()
                    + value
                        .entry
                        .as_ref()
                        .map(|e| e.value.len() + e.metadata.as_ref().map_or(0, String::len))
                        .unwrap_or(0)
                    + 64;
                size.try_into().unwrap_or(u32::MAX)
            })
            .expire_after(EntryTtl)
            .build();
        let kv = Arc::new(Self {
            store,
            cache,
            epochs: (0..EPOCH_STRIPES).map(|_| Mutex::new(0)).collect(),
            hasher: Default::default(),
            clock,
            runtime: tokio::runtime::Handle::current(),
        });
        kv.maintain();
        kv
    }

    /// Follows other nodes' writes, and deletes expired entries now and then.
    fn maintain(self: &Arc<Self>) {
        let mut changes = self.store.kv_changes();
        let kv = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let change = match changes.recv().await {
                    Ok(change) => change,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => KvChange::All,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                };
                let Some(kv) = kv.upgrade() else { return };
                match change {
                    KvChange::Key { namespace, key } => kv.forget(&namespace, &key),
                    KvChange::All => kv.forget_all(),
                }
            }
        });
        let kv = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(PURGE_INTERVAL);
            loop {
                ticks.tick().await;
                let Some(kv) = kv.upgrade() else { return };
                match kv.store.purge_expired(kv.clock.now()).await {
                    Ok(0) => {}
                    Ok(purged) => tracing::info!(purged, "expired KV entries deleted"),
                    Err(error) => tracing::warn!(%error, "cannot delete expired KV entries"),
                }
            }
        });
    }

    fn epoch(&self, cache_key: &str) -> std::sync::MutexGuard<'_, u64> {
        self.epochs[self.hasher.hash_one(cache_key) as usize % EPOCH_STRIPES]
            .lock()
            .expect("epoch lock")
    }

    /// Drops the cached copy of a key that was written (here or elsewhere):
    /// the next read goes to the store.
    fn forget(&self, namespace: &str, key: &str) {
        let cache_key = cache_key(namespace, key);
        let mut epoch = self.epoch(&cache_key);
        *epoch += 1;
        self.cache.invalidate(&cache_key);
    }

    fn forget_all(&self) {
        let mut epochs: Vec<_> = self
            .epochs
            .iter()
            .map(|e| e.lock().expect("epoch lock"))
            .collect();
        for epoch in epochs.iter_mut() {
            **epoch += 1;
        }
        self.cache.invalidate_all();
    }

    /// Runs store I/O on the node's runtime, whichever thread asks.
    async fn on_runtime<T: Send + 'static>(
        &self,
        work: impl std::future::Future<Output = Result<T, StoreError>> + Send + 'static,
    ) -> Result<T, KvError> {
        self.runtime
            .spawn(work)
            .await
            .map_err(|e| KvError::Store(e.to_string()))?
            .map_err(KvError::from)
    }

    /// The cached answer for `key`, if the cache has one.
    pub fn get_cached(
        &self,
        namespace: &str,
        key: &str,
        cache_ttl: Option<f64>,
    ) -> Result<Option<KvRead>, KvError> {
        validate_key(key)?;
        validate_cache_ttl(cache_ttl)?;
        let cache_key = cache_key(namespace, key);
        let Some(cached) = self.cache.get(&cache_key) else {
            return Ok(None);
        };
        let entry = match cached.entry {
            Some(entry) if entry.expiration.is_some_and(|at| at <= self.clock.now()) => None,
            entry => entry,
        };
        Ok(Some(KvRead {
            entry,
            cache_hit: true,
        }))
    }

    pub async fn get(
        &self,
        namespace: &str,
        key: &str,
        cache_ttl: Option<f64>,
    ) -> Result<KvRead, KvError> {
        if let Some(read) = self.get_cached(namespace, key, cache_ttl)? {
            return Ok(read);
        }
        let ttl = validate_cache_ttl(cache_ttl)?;
        let cache_key = cache_key(namespace, key);
        let epoch = *self.epoch(&cache_key);
        let now = self.clock.now();
        let store = self.store.clone();
        let (ns, k) = (namespace.to_string(), key.to_string());
        let entry = self
            .on_runtime(async move { store.get(&ns, &k, now).await })
            .await?
            .map(Arc::new);
        // Never cache past the entry's own expiration.
        let ttl = match entry.as_ref().and_then(|e| e.expiration) {
            Some(at) => ttl.min(Duration::from_secs(at.saturating_sub(now).max(0) as u64)),
            None => ttl,
        };
        let current = self.epoch(&cache_key);
        if *current == epoch && !ttl.is_zero() {
            self.cache.insert(
                cache_key.clone(),
                Cached {
                    entry: entry.clone(),
                    ttl,
                },
            );
        }
        drop(current);
        Ok(KvRead {
            entry,
            cache_hit: false,
        })
    }

    /// The expiration a put asks for, checked against KV's rules.
    fn expiration(&self, options: &PutOptions) -> Result<Option<i64>, KvError> {
        let now = self.clock.now();
        if let Some(ttl) = options.expiration_ttl {
            if !ttl.is_finite() || ttl < MIN_EXPIRATION_TTL as f64 {
                return Err(KvError::OutOfRange(format!(
                    "expirationTtl is {ttl}, it must be at least {MIN_EXPIRATION_TTL} seconds"
                )));
            }
            return (ttl as i64)
                .checked_add(now)
                .map(Some)
                .ok_or_else(|| KvError::OutOfRange(format!("expirationTtl {ttl} is too large")));
        }
        let Some(at) = options.expiration else {
            return Ok(None);
        };
        if !at.is_finite() || at <= now as f64 {
            return Err(KvError::OutOfRange(format!(
                "expiration {at} is in the past: it must be seconds since the Unix epoch \
                 after the current time ({now})"
            )));
        }
        if at < (now + MIN_EXPIRATION_TTL) as f64 {
            return Err(KvError::OutOfRange(format!(
                "expiration {at} is less than {MIN_EXPIRATION_TTL} seconds from now ({now}); \
                 expirations must be at least {MIN_EXPIRATION_TTL} seconds in the future"
            )));
        }
        Ok(Some(at as i64))
    }

    /// Checks a put before its value is read (a streamed value is checked
    /// for size as it arrives).
    pub fn check_put(&self, key: &str, options: &PutOptions) -> Result<(), KvError> {
        validate_key(key)?;
        self.expiration(options)?;
        if let Some(metadata) = &options.metadata {
            if metadata.len() > MAX_METADATA_BYTES {
                return Err(KvError::OutOfRange(format!(
                    "KV metadata is {} bytes serialized, more than the {MAX_METADATA_BYTES}-byte limit",
                    metadata.len()
                )));
            }
        }
        Ok(())
    }

    pub async fn put(
        &self,
        namespace: &str,
        key: &str,
        value: Bytes,
        options: PutOptions,
    ) -> Result<(), KvError> {
        self.check_put(key, &options)?;
        if value.len() > MAX_VALUE_BYTES {
            return Err(value_too_large(value.len()));
        }
        let entry = KvEntry {
            value,
            metadata: options.metadata.clone(),
            expiration: self.expiration(&options)?,
        };
        let store = self.store.clone();
        let (ns, k, stored) = (namespace.to_string(), key.to_string(), entry);
        self.on_runtime(async move { store.put(&ns, &k, stored).await })
            .await?;
        // Not written into the cache: a later write may already have
        // committed, so the next read goes to the store instead.
        self.forget(namespace, key);
        Ok(())
    }

    pub async fn delete(&self, namespace: &str, key: &str) -> Result<(), KvError> {
        validate_key(key)?;
        let store = self.store.clone();
        let (ns, k) = (namespace.to_string(), key.to_string());
        self.on_runtime(async move { store.delete(&ns, &k).await })
            .await?;
        self.forget(namespace, key);
        Ok(())
    }

    /// One page of keys. The cursor names the last key returned, so a page
    /// boundary stays put whatever is written meanwhile.
    pub async fn list(
        &self,
        namespace: &str,
        prefix: &str,
        limit: Option<f64>,
        cursor: Option<&str>,
    ) -> Result<KvPage, KvError> {
        let limit = match limit {
            None => MAX_LIST_LIMIT,
            Some(l) if l.is_finite() && l >= 1.0 && l <= MAX_LIST_LIMIT as f64 => l as usize,
            Some(l) => {
                return Err(KvError::OutOfRange(format!(
                    "list limit is {l}, it must be between 1 and {MAX_LIST_LIMIT}"
                )))
            }
        };
        if prefix.len() > MAX_KEY_BYTES {
            return Err(KvError::OutOfRange(format!(
                "list prefix is {} bytes long, more than the {MAX_KEY_BYTES}-byte key limit",
                prefix.len()
            )));
        }
        let after = match cursor.filter(|c| !c.is_empty()) {
            None => None,
            Some(cursor) => Some(
                hex::decode(cursor)
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                    .ok_or_else(|| {
                        KvError::Invalid(format!(
                            "invalid list cursor {cursor:?}: pass the cursor of the previous page unchanged"
                        ))
                    })?,
            ),
        };
        let store = self.store.clone();
        let (ns, prefix, now) = (namespace.to_string(), prefix.to_string(), self.clock.now());
        let mut keys = self
            .on_runtime(async move {
                store
                    .list(&ns, &prefix, after.as_deref(), limit + 1, now)
                    .await
            })
            .await?;
        let list_complete = keys.len() <= limit;
        keys.truncate(limit);
        let cursor = if list_complete {
            None
        } else {
            keys.last().map(|last| hex::encode(&last.name))
        };
        Ok(KvPage {
            keys,
            list_complete,
            cursor,
        })
    }

    pub async fn create_namespace(&self, id: &str) -> Result<bool, KvError> {
        validate_namespace_id(id)?;
        let store = self.store.clone();
        let id = id.to_string();
        self.on_runtime(async move { store.create_namespace(&id).await })
            .await
    }

    /// Creates the namespaces local workers bind (`ridge dev`, `ridge serve
    /// --workers`): locally, a binding is all it takes. `Err` names the
    /// binding that failed.
    pub async fn create_bound(&self, bindings: &[Binding]) -> Result<(), KvError> {
        for binding in bindings {
            if let Binding::KvNamespace { name, namespace_id } = binding {
                self.create_namespace(namespace_id)
                    .await
                    .map_err(|error| KvError::Binding {
                        binding: name.clone(),
                        source: Box::new(error),
                    })?;
            }
        }
        Ok(())
    }

    pub async fn namespaces(&self) -> Result<Vec<NamespaceInfo>, KvError> {
        let store = self.store.clone();
        self.on_runtime(async move { store.namespaces().await })
            .await
    }

    pub async fn namespace_exists(&self, id: &str) -> Result<bool, KvError> {
        let store = self.store.clone();
        let id = id.to_string();
        self.on_runtime(async move { store.namespace_exists(&id).await })
            .await
    }

    pub async fn delete_namespace(&self, id: &str) -> Result<(), KvError> {
        let store = self.store.clone();
        let owned = id.to_string();
        self.on_runtime(async move { store.delete_namespace(&owned).await })
            .await?;
        self.forget_all();
        Ok(())
    }
}

pub fn value_too_large(size: usize) -> KvError {
    KvError::OutOfRange(format!(
        "KV value is {size} bytes, more than the {MAX_VALUE_BYTES}-byte (25 MiB) limit"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_cloudflare_limits() {
        assert!(validate_key("a").is_ok());
        assert!(validate_key(&"k".repeat(512)).is_ok());
        assert!(matches!(validate_key(""), Err(KvError::Invalid(_))));
        assert!(matches!(validate_key("."), Err(KvError::Invalid(_))));
        assert!(matches!(validate_key(".."), Err(KvError::Invalid(_))));
        assert!(matches!(
            validate_key(&"k".repeat(513)),
            Err(KvError::OutOfRange(_))
        ));
        // The limit is in UTF-8 bytes, not characters.
        assert!(validate_key(&"é".repeat(257)).is_err());
    }

    #[test]
    fn cache_ttl_has_a_floor() {
        assert_eq!(validate_cache_ttl(None).unwrap(), Duration::from_secs(60));
        assert_eq!(
            validate_cache_ttl(Some(300.0)).unwrap(),
            Duration::from_secs(300)
        );
        assert!(validate_cache_ttl(Some(10.0)).is_err());
        assert!(validate_cache_ttl(Some(f64::NAN)).is_err());
    }
}
