//! A worker version: the immutable unit Ridge runs, made of a bundle, its
//! environment (vars and secrets) and its limits, with a content-hashed id.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::{ConfigError, Limits, WorkerConfig, CONFIG_FILE};
use crate::deploy::{Bundle, BundleError};

#[derive(Debug, thiserror::Error)]
pub enum WorkerLoadError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error("{0} is neither a worker script (.js, .mjs) nor a folder with {CONFIG_FILE}")]
    NotAWorker(PathBuf),
}

/// One immutable version of a worker.
#[derive(Debug)]
pub struct WorkerVersion {
    /// Content hash of the bundle and environment: two identical uploads
    /// share an id, and isolates are keyed by it.
    pub id: String,
    pub name: String,
    pub routes: Vec<String>,
    pub bundle: Bundle,
    /// `env` as the worker sees it: vars (and, later, secrets), as JSON.
    pub env: serde_json::Map<String, serde_json::Value>,
    pub limits: Limits,
}

impl WorkerVersion {
    pub fn new(
        config: &WorkerConfig,
        bundle: Bundle,
        extra_vars: &BTreeMap<String, String>,
    ) -> Self {
        let mut env = serde_json::Map::new();
        for (key, value) in &config.vars {
            let json = match value {
                toml::Value::String(s) => serde_json::Value::String(s.clone()),
                other => serde_json::to_value(other).unwrap_or(serde_json::Value::Null),
            };
            env.insert(key.clone(), json);
        }
        for (key, value) in extra_vars {
            env.insert(key.clone(), serde_json::Value::String(value.clone()));
        }
        let mut hasher = DefaultHasher::new();
        config.name.hash(&mut hasher);
        bundle.main.hash(&mut hasher);
        for (name, module) in &bundle.modules {
            name.hash(&mut hasher);
            module.content.hash(&mut hasher);
        }
        serde_json::Value::Object(env.clone())
            .to_string()
            .hash(&mut hasher);
        format!("{:?}", config.limits).hash(&mut hasher);
        Self {
            id: format!("{:016x}", hasher.finish()),
            name: config.name.clone(),
            routes: config.routes.clone(),
            bundle,
            env,
            limits: config.limits.clone(),
        }
    }

    /// Loads a worker from a folder with `ridge.toml`, or from a lone script.
    pub fn load(
        path: &Path,
        extra_vars: &BTreeMap<String, String>,
    ) -> Result<Arc<Self>, WorkerLoadError> {
        let (config, root) = if path.is_dir() {
            (WorkerConfig::from_dir(path)?, path.to_path_buf())
        } else if path.is_file()
            && matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("js" | "mjs")
            )
        {
            let root = path.parent().map(Path::to_path_buf).unwrap_or_default();
            (WorkerConfig::for_script(path), root)
        } else {
            return Err(WorkerLoadError::NotAWorker(path.to_path_buf()));
        };
        let bundle = Bundle::from_directory(&root, &config.main)?;
        Ok(Arc::new(Self::new(&config, bundle, extra_vars)))
    }
}
