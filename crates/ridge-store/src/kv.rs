//! What the store keeps for KV: namespaces and their entries. Keys are
//! stored as bytes so that every backend lists them in the same
//! lexicographic byte order. Semantics (validation, expiration rules,
//! caching) live in `crate::kv`; this is only persistence.

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::broadcast;

use super::StoreError;

/// A stored value with what travels with it.
#[derive(Clone, Debug, PartialEq)]
pub struct KvEntry {
    pub value: Bytes,
    /// The metadata as JSON text.
    pub metadata: Option<String>,
    /// Seconds since the Unix epoch after which the entry is gone.
    pub expiration: Option<i64>,
}

/// One key as `list` shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct KvKey {
    pub name: String,
    pub expiration: Option<i64>,
    pub metadata: Option<String>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct NamespaceInfo {
    pub id: String,
    pub created_at: i64,
}

/// A write somewhere in the cluster that may make cached reads stale.
#[derive(Clone, Debug, PartialEq)]
pub enum KvChange {
    /// One key of a namespace was written or deleted.
    Key { namespace: String, key: String },
    /// Anything may have changed (a namespace was deleted, or change
    /// notices may have been missed while reconnecting).
    All,
}

/// The smallest byte string greater than every string starting with
/// `prefix`, or `None` when there is none (empty prefix, or all 0xFF).
pub fn prefix_upper_bound(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut bound = prefix.to_vec();
    while let Some(last) = bound.pop() {
        if last < 0xFF {
            bound.push(last + 1);
            return Some(bound);
        }
    }
    None
}

/// KV persistence. `now` arguments are seconds since the Unix epoch, passed
/// in so that expiration follows the KV layer's clock.
#[async_trait::async_trait]
pub trait KvStore: Send + Sync {
    /// Creates a namespace; false if it existed already.
    async fn create_namespace(&self, id: &str) -> Result<bool, StoreError>;
    async fn namespaces(&self) -> Result<Vec<NamespaceInfo>, StoreError>;
    /// Deletes a namespace and every entry in it.
    async fn delete_namespace(&self, id: &str) -> Result<(), StoreError>;
    async fn namespace_exists(&self, id: &str) -> Result<bool, StoreError>;
    /// The live (unexpired) entry under `key`.
    async fn get(
        &self,
        namespace: &str,
        key: &str,
        now: i64,
    ) -> Result<Option<KvEntry>, StoreError>;
    /// Writes an entry; fails with `NamespaceNotFound` if the namespace does
    /// not exist. Other nodes hear of it through [`KvStore::changes`].
    async fn put(&self, namespace: &str, key: &str, entry: KvEntry) -> Result<(), StoreError>;
    async fn delete(&self, namespace: &str, key: &str) -> Result<(), StoreError>;
    /// Up to `limit` live keys starting with `prefix` and greater than
    /// `after`, in byte order.
    async fn list(
        &self,
        namespace: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
        now: i64,
    ) -> Result<Vec<KvKey>, StoreError>;
    /// Removes entries that expired at or before `now`; returns how many.
    async fn purge_expired(&self, now: i64) -> Result<u64, StoreError>;
    /// Writes made by other nodes (and by this one).
    fn kv_changes(&self) -> broadcast::Receiver<KvChange>;
}

#[cfg(test)]
mod tests {
    use super::prefix_upper_bound;

    #[test]
    fn prefix_bounds() {
        assert_eq!(prefix_upper_bound(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_upper_bound(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_upper_bound(b"\xff\xff"), None);
        assert_eq!(prefix_upper_bound(b""), None);
    }
}
