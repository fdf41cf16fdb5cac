//! Where asset content comes from, and the memory cache in front of it.
//! A deployed version's files are found by content hash (a node's store,
//! through its disk cache); `ridge dev`'s are read from the project's
//! folder as they are now. Small files are kept in memory, under a byte
//! bound shared by every version of a node.

use std::io;
use std::path::PathBuf;

use bytes::Bytes;

/// Files at most this large are kept in memory once read.
pub const HOT_FILE_BYTES: u64 = 1024 * 1024;

/// Opens asset content: `path` is the served path (`/dir/a.css`), `hash`
/// its content hash in the manifest.
#[async_trait::async_trait]
pub trait AssetFiles: Send + Sync + 'static {
    async fn open(&self, path: &str, hash: &str) -> io::Result<std::fs::File>;
}

/// `ridge dev` and `ridge serve --workers`: the files of a folder, read
/// when requested. Only paths from the manifest reach here, so a request
/// can never name a file outside the folder.
pub struct Directory {
    pub root: PathBuf,
}

#[async_trait::async_trait]
impl AssetFiles for Directory {
    async fn open(&self, path: &str, _hash: &str) -> io::Result<std::fs::File> {
        std::fs::File::open(self.root.join(path.trim_start_matches('/')))
    }
}

/// File contents (and their compressed forms) by content hash and
/// encoding, weighed by size.
#[derive(Clone)]
pub struct HotCache {
    /// Keyed by the hash's 128 bits, so that a lookup allocates nothing.
    entries: moka::sync::Cache<(u128, Encoding), Bytes>,
}

/// A representation of a file's content.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Encoding {
    Identity,
    Gzip,
    Brotli,
}

impl Encoding {
    pub fn token(self) -> Option<&'static str> {
        match self {
            Self::Identity => None,
            Self::Gzip => Some("gzip"),
            Self::Brotli => Some("br"),
        }
    }
}

impl HotCache {
    pub fn new(max_bytes: u64) -> Self {
        Self {
            entries: moka::sync::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|_: &(u128, Encoding), value: &Bytes| {
                    (value.len() + 64).try_into().unwrap_or(u32::MAX)
                })
                .build(),
        }
    }

    pub fn get(&self, hash: &str, encoding: Encoding) -> Option<Bytes> {
        self.entries.get(&(key(hash)?, encoding))
    }

    pub fn insert(&self, hash: &str, encoding: Encoding, content: Bytes) {
        if let Some(key) = key(hash) {
            self.entries.insert((key, encoding), content);
        }
    }
}

fn key(hash: &str) -> Option<u128> {
    u128::from_str_radix(hash, 16).ok()
}

impl Default for HotCache {
    /// 128 MiB, `--asset-cache-mb`'s default.
    fn default() -> Self {
        Self::new(128 * 1024 * 1024)
    }
}
