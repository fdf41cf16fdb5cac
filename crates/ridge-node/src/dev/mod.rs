//! `ridge dev`'s reloading: the worker's folder is watched, and a change to
//! any module, `ridge.toml` or `.dev.vars` loads the worker again (after a
//! short quiet period, so an editor's burst of writes is one reload). A new
//! version is checked in a throwaway isolate first: if it starts, it takes
//! the new requests while the old isolate finishes its own and is dropped;
//! if it does not, every request gets the error with a code frame (and the
//! terminal shows the same) until the code is fixed.

pub mod inspector;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

use http::StatusCode;

use ridge_kv::Kv;
use ridge_runtime::isolate::runtime::StartError;
use ridge_runtime::isolate::validate::check_version;
use ridge_runtime::isolate::worker_snapshot;
use ridge_runtime::worker::{load_config, WorkerVersion};
use ridge_server::{EdgeHandler, Router};

/// Changes closer together than this make one reload.
const QUIET_PERIOD: Duration = Duration::from_millis(100);
/// Local secrets for `ridge dev`, beside `ridge.toml`, as in wrangler.
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
    Worker(#[from] ridge_runtime::worker::WorkerLoadError),
    #[error("cannot resolve {path}: {source}")]
    Resolve {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// `.dev.vars`: `KEY=VALUE` lines (values may be quoted), `#` comments.
pub fn read_dev_vars(root: &Path) -> Result<BTreeMap<String, String>, DevError> {
    let path = root.join(DEV_VARS_FILE);
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

/// The lines around `line` (1-based) of `source`, with a caret under
/// `column`, as a code frame.
fn code_frame(source: &str, line: usize, column: usize) -> String {
    let lines: Vec<&str> = source.lines().collect();
    let first = line.saturating_sub(3);
    let last = (line + 2).min(lines.len());
    let width = last.to_string().len();
    let mut frame = String::new();
    for (index, text) in lines.iter().enumerate().take(last).skip(first) {
        let number = index + 1;
        let marker = if number == line { '>' } else { ' ' };
        frame.push_str(&format!("{marker} {number:>width$} | {text}\n"));
        if number == line {
            let pad = " ".repeat(column.saturating_sub(1));
            frame.push_str(&format!("  {:>width$} | {pad}^\n", ""));
        }
    }
    frame
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
    path: PathBuf,
    root: PathBuf,
    /// `--var` overrides, applied over `.dev.vars`.
    cli_vars: BTreeMap<String, String>,
    /// `--no-limits`: relaxed limits, for debugging.
    no_limits: bool,
    /// Local KV, where namespaces the worker binds are created.
    kv: Option<Arc<Kv>>,
    /// Start from a snapshot of the worker, kept in `.ridge/snapshots/`.
    snapshots: bool,
    handler: Arc<EdgeHandler>,
    current: Mutex<Option<Arc<WorkerVersion>>>,
}

impl Reloader {
    pub fn new(
        path: &Path,
        cli_vars: BTreeMap<String, String>,
        no_limits: bool,
        kv: Option<Arc<Kv>>,
        snapshots: bool,
        handler: Arc<EdgeHandler>,
    ) -> Result<Arc<Self>, DevError> {
        let (_, root) = load_config(path)?;
        // Watcher events carry absolute paths: compare with an absolute root.
        let root = std::fs::canonicalize(&root).map_err(|source| DevError::Resolve {
            path: root.clone(),
            source,
        })?;
        Ok(Arc::new(Self {
            path: path.to_path_buf(),
            root,
            cli_vars,
            no_limits,
            kv,
            snapshots,
            handler,
            current: Mutex::new(None),
        }))
    }

    /// The worker as its files describe it now, checked by starting it;
    /// `Err` is the status and explanation requests get instead.
    async fn load(&self) -> Result<Arc<WorkerVersion>, (StatusCode, String)> {
        let failed = |message: String| (StatusCode::INTERNAL_SERVER_ERROR, message);
        let mut vars = read_dev_vars(&self.root).map_err(|e| failed(e.to_string()))?;
        vars.extend(self.cli_vars.clone());
        let mut version =
            WorkerVersion::load(&self.path, &vars).map_err(|e| failed(e.to_string()))?;
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

    /// Loads the worker and serves it, or serves the reason it cannot be.
    /// Returns the version now served, if any.
    pub async fn reload(&self) -> Option<Arc<WorkerVersion>> {
        match self.load().await {
            Ok(version) => {
                let previous = self
                    .current
                    .lock()
                    .expect("current version")
                    .replace(version.clone());
                if previous.as_ref().is_some_and(|p| p.id == version.id) {
                    self.handler.set_failure(None);
                    return Some(version);
                }
                self.handler.set_router(Router::single(version.clone()));
                self.handler.set_failure(None);
                if let Some(previous) = previous {
                    self.handler.retire(&previous);
                    tracing::info!(worker = %version.name, version = %version.version_id, "reloaded");
                }
                Some(version)
            }
            Err((status, explanation)) => {
                tracing::error!("{explanation}");
                self.handler.set_failure(Some((status, explanation)));
                None
            }
        }
    }

    /// Watches the worker's folder (dot-folders such as `.ridge/` aside) and
    /// reloads on changes. The returned watcher must be kept alive.
    pub fn watch(self: &Arc<Self>) -> notify::Result<notify::RecommendedWatcher> {
        let (changes, mut changed) = tokio::sync::mpsc::unbounded_channel();
        let root = self.root.clone();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                let Ok(event) = event else { return };
                let relevant = !event.kind.is_access()
                    && event.paths.iter().any(|path| {
                        path.strip_prefix(&root).is_ok_and(|relative| {
                            !relative.components().any(|c| {
                                let name = c.as_os_str().to_string_lossy();
                                name.starts_with('.') && name != DEV_VARS_FILE
                                    || name == "node_modules"
                            })
                        })
                    });
                if relevant {
                    let _ = changes.send(());
                }
            })?;
        watcher.watch(&self.root, RecursiveMode::Recursive)?;
        let reloader = self.clone();
        tokio::spawn(async move {
            while changed.recv().await.is_some() {
                // Let a burst of writes settle into one reload.
                let quiet = tokio::time::sleep(QUIET_PERIOD);
                tokio::pin!(quiet);
                loop {
                    tokio::select! {
                        _ = &mut quiet => break,
                        more = changed.recv() => match more {
                            Some(()) => quiet.as_mut().reset(tokio::time::Instant::now() + QUIET_PERIOD),
                            None => return,
                        },
                    }
                }
                reloader.reload().await;
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

    #[test]
    fn frames_the_offending_line() {
        let source = "a\nb\nconst x = 1 +;\nd\ne\nf\n";
        let frame = code_frame(source, 3, 14);
        assert_eq!(
            frame,
            "  1 | a\n  2 | b\n> 3 | const x = 1 +;\n    |              ^\n  4 | d\n  5 | e\n"
        );
    }
}
