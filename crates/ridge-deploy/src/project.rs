//! A worker project on disk: where its configuration is (a folder's
//! `ridge.toml` or `wrangler.*`, a file named with `-c`, or none for a
//! lone script), the environment chosen with `--env`, its `[build]`
//! command, and the module graph collected from its `main`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::config::{ConfigError, WorkerConfig};
use crate::graph::{self, Collected, GraphError};

/// What the command line says about a project: its path (a folder or a
/// script), `-c/--config FILE` and `--env NAME`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProjectLocation {
    pub path: PathBuf,
    pub config: Option<PathBuf>,
    pub env: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Graph(#[from] GraphError),
    #[error(transparent)]
    Assets(#[from] ridge_assets::ManifestError),
    #[error("{} is neither a worker script (.js, .mjs, .cjs, .ts, .mts) nor a folder with a wrangler.jsonc, wrangler.json, wrangler.toml or ridge.toml", .0.display())]
    NotAWorker(PathBuf),
    #[error("{} is outside the folder of {}, whose paths start there: move the configuration file up, or the script in", .script.display(), .config.display())]
    ScriptOutsideProject { script: PathBuf, config: PathBuf },
    #[error("--env {0} needs a configuration file, and a lone script has none")]
    EnvWithoutConfig(String),
    #[error("the build command `{command}` failed ({status}); fix it or the `[build]` section of {config}")]
    BuildFailed {
        command: String,
        status: String,
        config: String,
    },
    #[error("cannot run the build command `{command}`: {source}")]
    BuildSpawn {
        command: String,
        source: std::io::Error,
    },
}

/// A project: its configuration, and the folder that configuration's
/// relative paths start from.
#[derive(Clone, Debug)]
pub struct Project {
    pub config: WorkerConfig,
    pub root: PathBuf,
}

fn is_script(path: &Path) -> bool {
    path.is_file()
        && matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("js" | "mjs" | "cjs" | "ts" | "mts")
        )
}

fn parent_or_dot(path: &Path) -> PathBuf {
    path.parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

impl ProjectLocation {
    /// A project folder or script, with no `-c` or `--env`.
    pub fn at(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            ..Self::default()
        }
    }

    /// Reads the configuration this location names.
    pub fn open(&self) -> Result<Project, ProjectError> {
        let env = self.env.as_deref();
        if let Some(file) = &self.config {
            let mut config = WorkerConfig::from_file(file, env)?;
            let root = parent_or_dot(file);
            // `ridge dev script.js -c wrangler.toml`: the script is `main`.
            if is_script(&self.path) {
                let script = std::path::absolute(&self.path).unwrap_or(self.path.clone());
                let base = std::path::absolute(&root).unwrap_or(root.clone());
                let relative =
                    script
                        .strip_prefix(&base)
                        .map_err(|_| ProjectError::ScriptOutsideProject {
                            script: self.path.clone(),
                            config: file.clone(),
                        })?;
                config.main = relative.to_string_lossy().into_owned();
            }
            return Ok(Project { config, root });
        }
        if self.path.is_dir() {
            let file = WorkerConfig::find_file(&self.path)
                .ok_or_else(|| ConfigError::NotFound(self.path.clone()))?;
            let config = WorkerConfig::from_file(&file, env)?;
            return Ok(Project {
                config,
                root: self.path.clone(),
            });
        }
        if is_script(&self.path) {
            if let Some(env) = env {
                return Err(ProjectError::EnvWithoutConfig(env.to_string()));
            }
            return Ok(Project {
                config: WorkerConfig::for_script(&self.path),
                root: parent_or_dot(&self.path),
            });
        }
        Err(ProjectError::NotAWorker(self.path.clone()))
    }
}

impl Project {
    /// Runs the `[build]` command, when there is one, from the project's
    /// folder (or `build.cwd`), with its output going to ours.
    pub fn build(&self) -> Result<(), ProjectError> {
        let Some(command) = &self.config.build.command else {
            return Ok(());
        };
        let cwd = match &self.config.build.cwd {
            Some(cwd) => self.root.join(cwd),
            None => self.root.clone(),
        };
        let status = Command::new("sh")
            .arg("-c")
            .arg(command)
            .current_dir(cwd)
            .status()
            .map_err(|source| ProjectError::BuildSpawn {
                command: command.clone(),
                source,
            })?;
        if status.success() {
            return Ok(());
        }
        Err(ProjectError::BuildFailed {
            command: command.clone(),
            status: status.to_string(),
            config: self.config_name(),
        })
    }

    /// The folders whose changes run the build command again under
    /// `ridge dev` (wrangler's default: `src`).
    pub fn build_watch_dirs(&self) -> Vec<PathBuf> {
        if self.config.build.command.is_none() {
            return Vec::new();
        }
        let dirs = if self.config.build.watch_dir.is_empty() {
            vec!["src".to_string()]
        } else {
            self.config.build.watch_dir.clone()
        };
        dirs.iter().map(|dir| self.root.join(dir)).collect()
    }

    /// Collects the worker's modules from `main`.
    pub fn collect(&self) -> Result<Collected, ProjectError> {
        Ok(graph::collect(&self.config, &self.root)?)
    }

    /// Reads the `assets.directory` folder into a manifest, when the
    /// project has one.
    pub fn collect_assets(&self) -> Result<Option<ridge_assets::Collected>, ProjectError> {
        let Some(directory) = self.config.assets_directory(&self.root) else {
            return Ok(None);
        };
        let hint = match &self.config.build.command {
            Some(command) => format!("the build command is `{command}`"),
            None => "`assets.directory` is relative to the configuration's folder".into(),
        };
        Ok(Some(ridge_assets::collect(&directory, &hint)?))
    }

    /// The configuration file's name, for messages.
    pub fn config_name(&self) -> String {
        self.config.file.as_ref().map_or_else(
            || "the command line".to_string(),
            |file| file.display().to_string(),
        )
    }
}
