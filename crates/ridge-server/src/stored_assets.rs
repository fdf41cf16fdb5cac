//! Asset content on a node with a store: each file is fetched from the
//! store by its hash the first time it is served, and kept in the node's
//! data folder from then on (content never changes under a hash), so that
//! large files are streamed from disk and nodes sharing a PostgreSQL store
//! each serve every version's assets.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use ridge_assets::AssetFiles;
use ridge_store::Store;

pub struct StoredAssetFiles {
    store: Arc<dyn Store>,
    /// Where fetched content is kept, one file per hash.
    dir: PathBuf,
    /// One fetch at a time per node: a burst of requests for a file not
    /// yet on disk reads it from the store once.
    fetching: tokio::sync::Mutex<()>,
}

impl StoredAssetFiles {
    pub fn new(store: Arc<dyn Store>, dir: PathBuf) -> Self {
        Self {
            store,
            dir,
            fetching: tokio::sync::Mutex::new(()),
        }
    }
}

#[async_trait::async_trait]
impl AssetFiles for StoredAssetFiles {
    async fn open(&self, _path: &str, hash: &str) -> io::Result<std::fs::File> {
        let path = self.dir.join(hash);
        if let Ok(file) = std::fs::File::open(&path) {
            return Ok(file);
        }
        let _fetching = self.fetching.lock().await;
        if let Ok(file) = std::fs::File::open(&path) {
            return Ok(file);
        }
        let content = self
            .store
            .asset(hash)
            .await
            .map_err(io::Error::other)?
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("asset {hash} is not in the store"),
                )
            })?;
        let (dir, partial) = (self.dir.clone(), self.dir.join(format!("{hash}.partial")));
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir)?;
            // Written aside and renamed: a reader never sees half a file.
            std::fs::write(&partial, &content)?;
            std::fs::rename(&partial, &path)?;
            std::fs::File::open(&path)
        })
        .await
        .map_err(io::Error::other)?
    }
}
