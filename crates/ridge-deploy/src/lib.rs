//! What a worker version is made of: its configuration file
//! (`config`), its bundle of modules, its metadata, how uploads are parsed
//! and checked, and content hashes. Nothing in this crate touches V8.

pub mod bundle;
pub mod config;
mod frame;
pub mod graph;
pub mod metadata;
pub mod project;
pub mod upload;

use sha2::{Digest, Sha256};

pub use bundle::{Bundle, BundleError, Module, ModuleKind};
pub use frame::code_frame;

/// Largest secret value (and other small admin bodies), as on Cloudflare.
pub const MAX_SECRET_BYTES: usize = 5 * 1024;
pub use metadata::{MetadataError, VersionAssets, VersionMetadata};

/// A version's id: the SHA-256 of its metadata and modules (first 20 hex
/// digits), so the same upload always gets the same id.
pub fn content_hash(metadata: &VersionMetadata, bundle: &Bundle) -> String {
    let mut hasher = Sha256::new();
    hasher.update(serde_json::to_vec(metadata).expect("metadata serializes"));
    hasher.update(bundle.encode());
    hex::encode(hasher.finalize())[..20].to_string()
}
