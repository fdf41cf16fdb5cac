//! `ridge dev`'s reloading: the worker's folder is watched, and a change to
//! any module of its graph (those in `node_modules` included, and an
//! `npm install`), its configuration or `.dev.vars` loads the worker again
//! (after a short quiet period, so an editor's burst of writes is one
//! reload); a change under `[build] watch_dir` runs the build command
//! first, and a change in the assets folder (a rebuilt `dist/`) serves the
//! new files. A new
//! version is checked in a throwaway isolate first: if it starts, it takes
//! the new requests while the old isolate finishes its own and is dropped;
//! if it does not, every request gets the error with a code frame (and the
//! terminal shows the same) until the code is fixed.

pub mod inspector;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

use http::StatusCode;

use ridge_deploy::code_frame;
use ridge_deploy::project::ProjectLocation;
use ridge_kv::Kv;
use ridge_runtime::isolate::runtime::StartError;
use ridge_runtime::isolate::validate::check_version;
use ridge_runtime::isolate::worker_snapshot;
use ridge_runtime::worker::WorkerVersion;
use ridge_server::{EdgeHandler, Router};

/// Changes closer together than this make one reload.
const QUIET_PERIOD: Duration = Duration::from_millis(100);
/// Local secrets for `ridge dev`, beside the configuration file, as in wrangler.
pub const DEV_VARS_FILE: &str = ".dev.vars";

/// Why `ridge dev` cannot load a worker's local setup.
#[derive(Debug, thiserror::Error)]
pub enum DevError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: expected KEY=VALUE, found {text:?}")]
    DevVarsLine {
        path: PathBuf,
        line: usize,
        text: String,
    },
    #[error(transparent)]
    Worker(#[from] ridge_deploy::project::ProjectError),
    #[error("cannot resolve {path}: {source}")]
    Resolve {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// `.dev.vars`: `KEY=VALUE` lines (values may be quoted), `#` comments;
/// with an environment, `.dev.vars.<env>` instead when there is one, as in
/// wrangler.
pub fn read_dev_vars(root: &Path, env: Option<&str>) -> Result<BTreeMap<String, String>, DevError> {
    let path = env
        .map(|env| root.join(format!("{DEV_VARS_FILE}.{env}")))
        .filter(|path| path.is_file())
        .unwrap_or_else(|| root.join(DEV_VARS_FILE));
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(source) => return Err(DevError::Read { path, source }),
    };
    let mut vars = BTreeMap::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            return Err(DevError::DevVarsLine {
                path,
                line: number + 1,
                text: line.to_string(),
            });
        };
        let value = value.trim();
        let unquoted = ['"', '\'']
            .iter()
            .find_map(|q| value.strip_prefix(*q).and_then(|v| v.strip_suffix(*q)))
            .unwrap_or(value);
        vars.insert(key.trim().to_string(), unquoted.to_string());
    }
    Ok(vars)
}

/// Finds the first `file:///MODULE:LINE:COLUMN` in a V8 message.
fn location(message: &str) -> Option<(String, usize, usize)> {
    let start = message.find("file:///")? + "file:///".len();
    let rest = &message[start..];
    let end = rest
        .find(|c: char| c.is_whitespace() || c == ')')
        .unwrap_or(rest.len());
    let mut parts = rest[..end].rsplitn(3, ':');
    let column = parts.next()?.parse().ok()?;
    let line = parts.next()?.parse().ok()?;
    Some((parts.next()?.to_string(), line, column))
}

/// The error, and a code frame of the place it names when there is one.
fn explain(version: &WorkerVersion, message: &str) -> String {
    let frame = location(message).and_then(|(module, line, column)| {
        let content = &version.bundle.modules.get(&module)?.content;
        let source = std::str::from_utf8(content).ok()?;
        Some(format!(
            "\n{module}:{line}:{column}\n{}",
            code_frame(source, line, column)
        ))
    });
    format!(
        "The worker failed to load: {message}\n{}\nFix the code and save: ridge dev reloads it.\n",
        frame.unwrap_or_default()
    )
}

/// Keeps `ridge dev`'s worker in step with its files.
pub struct Reloader {
    project: ProjectLocation,
    root: PathBuf,
    /// Every file the worker's modules were read from at the last load:
    /// changes to these reload it even inside `node_modules`.
    graph: Arc<Mutex<HashSet<PathBuf>>>,
    /// Folders whose changes run the `[build]` command again.
    build_dirs: Vec<PathBuf>,
    /// The assets folder, which may be a dot folder (`.vitepress/dist`).
    assets_dir: Option<PathBuf>,
    /// Asset contents in memory (the node's).
    asset_cache: ridge_assets::HotCache,
    /// The watcher (owned by the node), to watch new folders outside the
    /// project as the graph grows.
    watcher: Mutex<std::sync::Weak<Mutex<notify::RecommendedWatcher>>>,
    watched_outside: Mutex<HashSet<PathBuf>>,
    /// `--var` overrides, applied over `.dev.vars`.
    cli_vars: BTreeMap<String, String>,
    /// `--no-limits`: relaxed limits, for debugging.
    no_limits: bool,
    /// Local KV, where namespaces the worker binds are created.
    kv: Option<Arc<Kv>>,
    /// Local queues, where the queues the worker names are created.
    queues: Option<Arc<ridge_queues::Queues>>,
    /// Start from a snapshot of the worker, kept in `.ridge/snapshots/`.
    snapshots: bool,
    handler: Arc<EdgeHandler>,
    /// This worker's place among those `ridge dev` runs (0: the one served
    /// on the port), and what each of them serves now.
    slot: usize,
    served: DevWorkers,
    current: Mutex<Option<Arc<WorkerVersion>>>,
    /// Why the last load failed, if it did: the same failure is logged once
    /// (a log file written inside the project must not reload it forever).
    last_failure: Mutex<Option<String>>,
}

/// The versions `ridge dev` serves, one slot per project (`-c` given
/// several times), `None` while one has not loaded.
pub type DevWorkers = Arc<Mutex<Vec<Option<Arc<WorkerVersion>>>>>;

impl Reloader {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        project: &ProjectLocation,
        (slot, served): (usize, DevWorkers),
        cli_vars: BTreeMap<String, String>,
        no_limits: bool,
        (kv, queues): (Option<Arc<Kv>>, Option<Arc<ridge_queues::Queues>>),
        snapshots: bool,
        handler: Arc<EdgeHandler>,
        asset_cache: ridge_assets::HotCache,
    ) -> Result<Arc<Self>, DevError> {
        let opened = project.open()?;
        // Watcher events carry absolute paths: compare with an absolute root.
        let absolute = |path: &Path| {
            std::fs::canonicalize(path).map_err(|source| DevError::Resolve {
                path: path.to_path_buf(),
                source,
            })
        };
        let root = absolute(&opened.root)?;
        let build_dirs = opened
            .build_watch_dirs()
            .iter()
            .map(|dir| absolute(dir).unwrap_or_else(|_| dir.clone()))
            .collect();
        // The folder may not exist before the first build.
        let assets_dir = opened
            .config
            .assets_directory(&opened.root)
            .map(|dir| absolute(&dir).unwrap_or_else(|_| std::path::absolute(&dir).unwrap_or(dir)));
        Ok(Arc::new(Self {
            project: project.clone(),
            root,
            graph: Arc::default(),
            build_dirs,
            assets_dir,
            asset_cache,
            watcher: Mutex::default(),
            watched_outside: Mutex::default(),
            cli_vars,
            no_limits,
            kv,
            queues,
            snapshots,
            handler,
            slot,
            served,
            current: Mutex::new(None),
            last_failure: Mutex::new(None),
        }))
    }

    /// The worker as its files describe it now (after its build command,
    /// when `build` says so), checked by starting it; `Err` is the status
    /// and explanation requests get instead.
    async fn load(&self, build: bool) -> Result<Arc<WorkerVersion>, (StatusCode, String)> {
        let failed = |message: String| (StatusCode::INTERNAL_SERVER_ERROR, message);
        let mut vars = read_dev_vars(&self.root, self.project.env.as_deref())
            .map_err(|e| failed(e.to_string()))?;
        vars.extend(self.cli_vars.clone());
        let location = self.project.clone();
        let graph = self.graph.clone();
        let asset_cache = self.asset_cache.clone();
        let version = tokio::task::spawn_blocking(move || {
            let project = location.open()?;
            if build {
                project.build()?;
            }
            let started = std::time::Instant::now();
            let collected = project.collect()?;
            tracing::info!(
                modules = collected.bundle.modules.len(),
                "collected {} modules ({:.1} KiB) in {:.1} ms",
                collected.bundle.modules.len(),
                collected.bundle.size() as f64 / 1024.0,
                started.elapsed().as_secs_f64() * 1000.0
            );
            *graph.lock().expect("graph files") = collected.files.into_iter().collect();
            let version =
                WorkerVersion::from_bundle(&project, collected.bundle, &vars, &asset_cache)?;
            if let Some(assets) = &version.assets {
                tracing::info!(
                    files = assets.len(),
                    "serving {} static assets",
                    assets.len()
                );
            }
            Ok::<_, ridge_deploy::project::ProjectError>(version)
        })
        .await
        .map_err(|e| failed(e.to_string()))?;
        let mut version = version.map_err(|e| failed(e.to_string()))?;
        if self.no_limits {
            let mut relaxed = Arc::unwrap_or_clone(version);
            relaxed.limits = relaxed.limits.relaxed();
            version = Arc::new(relaxed);
        }
        if let Some(namespace) = version.kv_namespace_ids().next() {
            let Some(kv) = &self.kv else {
                return Err(failed(format!(
                    "ridge.toml now binds KV namespace {namespace:?}, but ridge dev started without KV bindings: restart it\n",
                )));
            };
            kv.create_bound(&version.bindings)
                .await
                .map_err(|error| failed(format!("{error}\n")))?;
        }
        if let Some(queue) = version.queues.first() {
            let Some(queues) = &self.queues else {
                return Err(failed(format!(
                    "the configuration now names queue {queue:?}, but ridge dev started without queues: restart it\n",
                )));
            };
            crate::node::create_queues(queues, &version)
                .await
                .map_err(|error| failed(format!("{error}\n")))?;
        }
        if !version.has_script() {
            return Ok(version);
        }
        match check_version(version.clone()).await {
            Ok(()) if self.snapshots => {
                let dir = self.root.join(".ridge/snapshots");
                Ok(worker_snapshot::attach_from_dir(version, &dir).await)
            }
            Ok(()) => Ok(version),
            // A limit is a 503, as when it is hit while serving.
            Err(StartError::Limit(limit)) => Err((
                StatusCode::SERVICE_UNAVAILABLE,
                format!("Worker failed to start: {limit}\n"),
            )),
            Err(error) => Err(failed(explain(&version, &error.to_string()))),
        }
    }

    /// Loads the worker (running its build command first when `build`)
    /// and serves it, or serves the reason it cannot be. Returns the
    /// version now served, if any.
    pub async fn reload(&self, build: bool) -> Option<Arc<WorkerVersion>> {
        match self.load(build).await {
            Ok(version) => {
                *self.last_failure.lock().expect("last failure") = None;
                self.watch_outside();
                let previous = self
                    .current
                    .lock()
                    .expect("current version")
                    .replace(version.clone());
                if previous.as_ref().is_some_and(|p| p.id == version.id) {
                    if self.slot == 0 {
                        self.handler.set_failure(None);
                    }
                    return Some(version);
                }
                let router = {
                    let mut served = self.served.lock().expect("served versions");
                    served[self.slot] = Some(version.clone());
                    Router::dev(&served)
                };
                self.handler.set_router(router);
                if self.slot == 0 {
                    self.handler.set_failure(None);
                }
                if let Some(previous) = previous {
                    self.handler.retire(&previous);
                    tracing::info!(worker = %version.name, version = %version.version_id, "reloaded");
                }
                Some(version)
            }
            Err((status, explanation)) => {
                let mut last = self.last_failure.lock().expect("last failure");
                if last.as_deref() != Some(explanation.as_str()) {
                    tracing::error!("{explanation}");
                    *last = Some(explanation.clone());
                }
                drop(last);
                // Another worker's failure shows in its calls, not in every
                // request.
                if self.slot == 0 {
                    self.handler.set_failure(Some((status, explanation)));
                }
                None
            }
        }
    }

    /// Whether a changed file matters: one of the worker's modules, a file
    /// of the project outside dot folders and `node_modules` (a new module,
    /// the configuration, `.dev.vars`), or the marker package managers
    /// write at the end of an install. Dot folders (`.ridge/`) and the
    /// rest of `node_modules` are left alone.
    fn relevant(&self, path: &Path) -> bool {
        if self.graph.lock().expect("graph files").contains(path) {
            return true;
        }
        if self
            .assets_dir
            .as_ref()
            .is_some_and(|dir| path.starts_with(dir))
        {
            return true;
        }
        let Ok(relative) = path.strip_prefix(&self.root) else {
            return false;
        };
        let names: Vec<_> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect();
        if let Some(at) = names.iter().position(|n| n == "node_modules") {
            return names.len() == at + 2
                && matches!(
                    names[at + 1].as_ref(),
                    ".package-lock.json" | ".modules.yaml" | ".yarn-state.yml"
                );
        }
        !names
            .iter()
            .any(|name| name.starts_with('.') && !name.starts_with(DEV_VARS_FILE))
    }

    /// Watches the folders of the graph's modules outside the project
    /// (symlinked workspace packages) that are not watched yet.
    fn watch_outside(&self) {
        let Some(watcher) = self.watcher.lock().expect("watcher").upgrade() else {
            return;
        };
        let mut watched = self.watched_outside.lock().expect("watched folders");
        let graph = self.graph.lock().expect("graph files");
        let outside = graph
            .iter()
            .filter(|p| !p.starts_with(&self.root))
            .filter_map(|p| p.parent());
        for folder in outside {
            if watched.insert(folder.to_path_buf()) {
                let watching = watcher
                    .lock()
                    .expect("watcher")
                    .watch(folder, RecursiveMode::NonRecursive);
                if let Err(error) = watching {
                    tracing::warn!(folder = %folder.display(), "cannot watch: {error}");
                }
            }
        }
    }

    /// Watches the worker's folder and reloads on relevant changes (see
    /// [`Self::relevant`]). The returned watcher must be kept alive.
    pub fn watch(self: &Arc<Self>) -> notify::Result<Arc<Mutex<notify::RecommendedWatcher>>> {
        let (changes, mut changed) = tokio::sync::mpsc::unbounded_channel::<bool>();
        let reloader = Arc::downgrade(self);
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                let Ok(event) = event else { return };
                let Some(reloader) = reloader.upgrade() else {
                    return;
                };
                if event.kind.is_access() {
                    return;
                }
                let relevant: Vec<&PathBuf> = event
                    .paths
                    .iter()
                    .filter(|p| reloader.relevant(p))
                    .collect();
                if !relevant.is_empty() {
                    let build = relevant
                        .iter()
                        .any(|p| reloader.build_dirs.iter().any(|dir| p.starts_with(dir)));
                    let _ = changes.send(build);
                }
            })?;
        watcher.watch(&self.root, RecursiveMode::Recursive)?;
        let watcher = Arc::new(Mutex::new(watcher));
        *self.watcher.lock().expect("watcher") = Arc::downgrade(&watcher);
        self.watch_outside();
        let reloader = self.clone();
        tokio::spawn(async move {
            while let Some(mut build) = changed.recv().await {
                // Let a burst of writes settle into one reload.
                let quiet = tokio::time::sleep(QUIET_PERIOD);
                tokio::pin!(quiet);
                loop {
                    tokio::select! {
                        _ = &mut quiet => break,
                        more = changed.recv() => match more {
                            Some(more_build) => {
                                build |= more_build;
                                quiet.as_mut().reset(tokio::time::Instant::now() + QUIET_PERIOD);
                            }
                            None => return,
                        },
                    }
                }
                reloader.reload(build).await;
            }
        });
        Ok(watcher)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_location_in_v8_messages() {
        assert_eq!(
            location(
                "Uncaught SyntaxError: Unexpected token ')'\n    at file:///src/index.js:3:27"
            ),
            Some(("src/index.js".to_string(), 3, 27))
        );
        assert_eq!(
            location(
                "ReferenceError: x is not defined\n    at Object.fetch (file:///index.js:3:5)"
            ),
            Some(("index.js".to_string(), 3, 5))
        );
        assert_eq!(location("no location here"), None);
    }
}
