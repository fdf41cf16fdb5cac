//! Static asset content, addressed by content hash: `ridge deploy` asks
//! which hashes the store lacks, sends only those, and a version's
//! manifest (itself stored this way) names the rest. Content never
//! changes under a hash, so nodes may cache it forever.

use bytes::Bytes;

use super::StoreError;

#[async_trait::async_trait]
pub trait AssetStore: Send + Sync {
    /// The hashes of `hashes` the store has no content for.
    async fn missing_assets(&self, hashes: &[String]) -> Result<Vec<String>, StoreError>;
    /// Stores content under its hash (a no-op when it is there already).
    async fn put_asset(&self, hash: &str, content: Bytes) -> Result<(), StoreError>;
    /// The content stored under `hash`, if any.
    async fn asset(&self, hash: &str) -> Result<Option<Bytes>, StoreError>;
}
