//! A worker version: the immutable unit Ridge runs, made of a bundle, its
//! environment (vars and secrets) and its limits.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::{ConfigError, KvNamespaceBinding, Limits, WorkerConfig, CONFIG_FILE};
use crate::deploy::{content_hash, Bundle, BundleError, VersionMetadata};

#[derive(Debug, thiserror::Error)]
pub enum WorkerLoadError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error("{0} is neither a worker script (.js, .mjs) nor a folder with {CONFIG_FILE}")]
    NotAWorker(PathBuf),
}

/// One immutable version of a worker, as isolates run it.
#[derive(Clone, Debug)]
pub struct WorkerVersion {
    /// Isolates are keyed by this: the worker's name and the version's
    /// content hash (two workers may upload identical code, but each has its
    /// own isolate, bindings and caches), plus a hash of its secrets when it
    /// has any (new secrets need a new isolate).
    pub id: String,
    /// The content hash of the upload.
    pub version_id: String,
    pub name: String,
    pub routes: Vec<String>,
    pub bundle: Bundle,
    /// `env` as the worker sees it: vars and secrets, as JSON.
    pub env: serde_json::Map<String, serde_json::Value>,
    /// KV namespaces bound into `env`.
    pub kv_namespaces: Vec<KvNamespaceBinding>,
    /// Cron expressions that run the worker's scheduled handler.
    pub crons: Vec<String>,
    pub limits: Limits,
    /// The version's own V8 snapshot, when one was made for this build
    /// (`isolate/worker_snapshot.rs`); cold starts restore it.
    pub snapshot: Option<crate::isolate::worker_snapshot::WorkerSnapshot>,
}

impl WorkerVersion {
    pub fn new(
        name: &str,
        version_id: &str,
        metadata: &VersionMetadata,
        bundle: Bundle,
        secrets: &BTreeMap<String, String>,
    ) -> Self {
        let mut env: serde_json::Map<_, _> = metadata.vars.clone().into_iter().collect();
        for (key, value) in secrets {
            env.insert(key.clone(), serde_json::Value::String(value.clone()));
        }
        let id = if secrets.is_empty() {
            format!("{name}@{version_id}")
        } else {
            let mut hasher = DefaultHasher::new();
            secrets.hash(&mut hasher);
            format!("{name}@{version_id}+{:016x}", hasher.finish())
        };
        Self {
            id,
            version_id: version_id.to_string(),
            name: name.to_string(),
            routes: metadata.routes.clone(),
            bundle,
            env,
            kv_namespaces: metadata.kv_namespaces.clone(),
            crons: metadata.crons.clone(),
            limits: metadata.limits.clone(),
            snapshot: None,
        }
    }

    /// Loads a worker from a folder with `ridge.toml`, or from a lone script;
    /// `extra_vars` add to or override its `[vars]`.
    pub fn load(
        path: &Path,
        extra_vars: &BTreeMap<String, String>,
    ) -> Result<Arc<Self>, WorkerLoadError> {
        let (config, root) = load_config(path)?;
        let bundle = Bundle::from_directory(&root, &config.main)?;
        let mut metadata = VersionMetadata::from_config(&config);
        for (key, value) in extra_vars {
            metadata
                .vars
                .insert(key.clone(), serde_json::Value::String(value.clone()));
        }
        let version_id = content_hash(&metadata, &bundle);
        Ok(Arc::new(Self::new(
            &config.name,
            &version_id,
            &metadata,
            bundle,
            &BTreeMap::new(),
        )))
    }
}

/// The worker's config and the folder its modules are in: `ridge.toml` in a
/// folder, or defaults for a lone script.
pub fn load_config(path: &Path) -> Result<(WorkerConfig, PathBuf), WorkerLoadError> {
    if path.is_dir() {
        Ok((WorkerConfig::from_dir(path)?, path.to_path_buf()))
    } else if path.is_file()
        && matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("js" | "mjs" | "ts" | "mts")
        )
    {
        let root = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        Ok((WorkerConfig::for_script(path), root))
    } else {
        Err(WorkerLoadError::NotAWorker(path.to_path_buf()))
    }
}

/// A `ridge.toml` value as the JSON a worker sees in `env`.
pub fn toml_to_json(value: &toml::Value) -> serde_json::Value {
    match value {
        toml::Value::String(s) => serde_json::Value::String(s.clone()),
        other => serde_json::to_value(other).unwrap_or(serde_json::Value::Null),
    }
}
