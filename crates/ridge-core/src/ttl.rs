//! Per-entry lifetimes for moka caches (KV reads, the Cache API): each
//! value says how long it may be kept, and a write restarts its clock.

use std::time::{Duration, Instant};

use moka::Expiry;

/// A cached value that carries its own time to live.
pub trait HasTtl {
    fn ttl(&self) -> Duration;
}

impl<T: HasTtl> HasTtl for std::sync::Arc<T> {
    fn ttl(&self) -> Duration {
        (**self).ttl()
    }
}

/// The moka expiry policy for [`HasTtl`] values.
pub struct EntryTtl;

impl<K, V: HasTtl> Expiry<K, V> for EntryTtl {
    fn expire_after_create(&self, _key: &K, value: &V, _now: Instant) -> Option<Duration> {
        Some(value.ttl())
    }

    fn expire_after_update(
        &self,
        _key: &K,
        value: &V,
        _now: Instant,
        _current: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.ttl())
    }
}
