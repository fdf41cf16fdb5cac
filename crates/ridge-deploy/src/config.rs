//! `ridge.toml`: the description of a worker shared by `ridge dev` and
//! `ridge serve --workers`, shaped like `wrangler.toml`, and the limits a
//! worker runs under.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ridge_core::names::validate_worker_name;
use serde::Deserialize;

pub use ridge_core::{KvNamespaceBinding, Limits};

pub const CONFIG_FILE: &str = "ridge.toml";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid {path}: `{field}` {problem}")]
    Field {
        path: PathBuf,
        field: String,
        problem: String,
    },
}

/// A `ridge.toml` value as the JSON a worker sees in `env`.
pub fn toml_to_json(value: &toml::Value) -> serde_json::Value {
    match value {
        toml::Value::String(s) => serde_json::Value::String(s.clone()),
        other => serde_json::to_value(other).unwrap_or(serde_json::Value::Null),
    }
}

/// A worker as `ridge.toml` describes it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerConfig {
    pub name: String,
    /// Entry module, relative to the folder holding `ridge.toml`.
    pub main: String,
    #[serde(default)]
    pub compatibility_date: Option<String>,
    #[serde(default)]
    pub compatibility_flags: Vec<String>,
    /// Cloudflare-style route patterns: `example.com/*`, `*.example.com/api/*`.
    #[serde(default)]
    pub routes: Vec<String>,
    /// Plain environment variables: strings, or any TOML value (passed as JSON).
    #[serde(default)]
    pub vars: BTreeMap<String, toml::Value>,
    #[serde(default)]
    pub kv_namespaces: Vec<KvNamespaceBinding>,
    #[serde(default)]
    pub triggers: Triggers,
    #[serde(default)]
    pub limits: Limits,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Triggers {
    #[serde(default)]
    pub crons: Vec<String>,
}

impl WorkerConfig {
    /// Reads `ridge.toml` from a worker folder.
    pub fn from_dir(dir: &Path) -> Result<Self, ConfigError> {
        let path = dir.join(CONFIG_FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        Self::parse(&path, &text)
    }

    /// Parses `ridge.toml` text; `path` only names the file in errors. TOML
    /// errors carry the line and column and the offending key.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(text).map_err(|error| ConfigError::Parse {
            path: path.to_path_buf(),
            message: error.to_string(),
        })?;
        config.validate(path)?;
        Ok(config)
    }

    fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let field = |field: &str, problem: &str| ConfigError::Field {
            path: path.to_path_buf(),
            field: field.to_string(),
            problem: problem.to_string(),
        };
        if let Err(problem) = validate_worker_name(&self.name) {
            return Err(field("name", problem));
        }
        if self.main.trim().is_empty() {
            return Err(field(
                "main",
                "must name the worker's entry module, e.g. \"src/index.js\"",
            ));
        }
        if let Err(error) = self.limits.validate() {
            return Err(field(&error.field, &error.problem));
        }
        Ok(())
    }

    /// A config for a worker given as a lone script file (`ridge dev app.js`).
    pub fn for_script(script: &Path) -> Self {
        let name = script
            .file_stem()
            .map(|s| s.to_string_lossy().to_ascii_lowercase())
            .map(|s| {
                s.chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                    .collect()
            })
            .unwrap_or_else(|| "worker".to_string());
        Self {
            name,
            main: script
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default(),
            compatibility_date: None,
            compatibility_flags: Vec::new(),
            routes: Vec::new(),
            vars: BTreeMap::new(),
            kv_namespaces: Vec::new(),
            triggers: Triggers::default(),
            limits: Limits::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_design_example() {
        let text = r#"
name = "hello"
main = "src/index.js"
compatibility_date = "2026-11-01"
routes = ["hello.example.com/*"]
[vars]
GREETING = "hi"
LIMIT = 3
[[kv_namespaces]]
binding = "CACHE"
id = "hello-cache"
[triggers]
crons = ["*/5 * * * *"]
[limits]
cpu_ms = 20
"#;
        let config = WorkerConfig::parse(Path::new("ridge.toml"), text).unwrap();
        assert_eq!(config.name, "hello");
        assert_eq!(config.vars["LIMIT"], toml::Value::Integer(3));
        assert_eq!(config.limits.cpu_ms, 20);
        assert_eq!(config.limits.memory_mb, 128);
        assert_eq!(config.kv_namespaces[0].binding, "CACHE");
    }

    #[test]
    fn errors_name_the_key_and_line() {
        let error = WorkerConfig::parse(
            Path::new("ridge.toml"),
            "name = \"a\"\nmain = \"x.js\"\n[limits]\ncpu_ms = \"fast\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("line 4"), "{error}");
        assert!(error.contains("cpu_ms"), "{error}");
        let error = WorkerConfig::parse(
            Path::new("ridge.toml"),
            "name = \"a\"\nmain = \"x.js\"\nmian = 1\n",
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("mian"), "{error}");
        let error = WorkerConfig::parse(
            Path::new("ridge.toml"),
            "name = \"Bad Name\"\nmain = \"x.js\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("`name`"), "{error}");
    }
}
