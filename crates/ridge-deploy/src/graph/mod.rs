//! The module graph: starting from a worker's `main`, every module it
//! needs (its own files, npm packages from `node_modules`, JSON, text,
//! Wasm and data files), collected into a [`Bundle`] of separate named
//! modules. Names are paths relative to the project (`src/index.ts`,
//! `node_modules/hono/dist/index.js`), so stack traces name the original
//! files; import specifiers are rewritten to the relative paths between
//! those names (no line is added or removed: line numbers stay);
//! CommonJS files are wrapped as ES modules (`commonjs.rs`); `define`
//! (and `process.env.NODE_ENV`) is replaced. TypeScript stays TypeScript:
//! the runtime strips its types when it loads it, with a source map.

mod analyze;
mod commonjs;
mod jsx;
mod resolve;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use crate::bundle::{Bundle, BundleError, Module, ModuleKind};
use crate::config::{RuleType, WorkerConfig};
use analyze::{Analysis, Format, ImportKind};
use commonjs::Required;
pub use resolve::RUNTIME_MODULES;
use resolve::{package_name, Resolvers, Target, Unresolved};

#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the entry module {} does not exist{config}", .path.display())]
    MainMissing { path: PathBuf, config: String },
    #[error("SyntaxError: {message}\n    at {}:{line}:{column}\n\n{frame}", .path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
        /// The lines around it.
        frame: String,
    },
    #[error("{}:{line}: cannot import \"{specifier}\": {reason}", .importer.display())]
    Unresolved {
        importer: PathBuf,
        line: usize,
        specifier: String,
        reason: String,
    },
    #[error("{} has no module type Ridge knows{}: add a `rules` entry for it (Text, Data or CompiledWasm) to the configuration", .path.display(), importer.as_ref().map(|i| format!(" (imported by {})", i.display())).unwrap_or_default())]
    UnknownType {
        path: PathBuf,
        importer: Option<PathBuf>,
    },
    #[error(transparent)]
    Bundle(#[from] BundleError),
}

/// A collected worker: its bundle, and every file read to make it (what
/// `ridge dev` watches).
#[derive(Debug)]
pub struct Collected {
    pub bundle: Bundle,
    pub files: Vec<PathBuf>,
}

/// One file of the graph, as read and analyzed.
struct Node {
    source: Vec<u8>,
    kind: ModuleKind,
    /// The module's name in the bundle gets this suffix (a file a `rules`
    /// entry types, whose extension would say otherwise).
    suffix: &'static str,
    /// JavaScript and TypeScript only.
    analysis: Option<Analysis>,
    /// JSX compiled to JavaScript: the map back to the JSX file.
    source_map: Option<String>,
    /// Where each of `analysis.imports` leads (`None`: an optional
    /// `require` that does not resolve, left to fail at run time).
    targets: Vec<Option<Target>>,
}

/// Collects the worker `config` describes; `root` is the configuration's
/// folder (relative paths in the configuration start there).
pub fn collect(config: &WorkerConfig, root: &Path) -> Result<Collected, GraphError> {
    if config.main.is_empty() {
        return Ok(Collected {
            bundle: Bundle::empty(),
            files: Vec::new(),
        });
    }
    let config_name = config
        .file
        .as_ref()
        .and_then(|f| f.file_name())
        .map(|f| format!(" (`main` in {})", f.to_string_lossy()))
        .unwrap_or_default();
    let main = root.join(&config.main);
    let main = std::fs::canonicalize(&main).map_err(|_| GraphError::MainMissing {
        path: main.clone(),
        config: config_name,
    })?;
    let reader = Reader {
        rules: Rules::new(config, root),
        jsx: jsx::runtime(config, root),
        define: define_list(config),
        resolvers: Resolvers::new(
            root,
            &config.alias,
            config.no_bundle,
            ridge_core::Compatibility::new(
                config.compatibility_date.as_deref(),
                &config.compatibility_flags,
            )
            .node(),
        ),
    };

    let mut nodes: BTreeMap<PathBuf, Node> = BTreeMap::new();
    let mut queue = VecDeque::from([(main.clone(), None::<PathBuf>, false)]);
    if config.find_additional_modules {
        let base = config.base_dir.as_ref().map_or_else(
            || main.parent().unwrap_or(root).to_path_buf(),
            |b| root.join(b),
        );
        for path in reader.rules.additional_modules(&base)? {
            queue.push_back((path, None, false));
        }
    }
    while let Some((path, importer, package_is_module)) = queue.pop_front() {
        if nodes.contains_key(&path) {
            continue;
        }
        let node = reader.read(&path, importer.as_deref(), package_is_module)?;
        for target in node.targets.iter().flatten() {
            if let Target::File {
                path: next,
                package_is_module,
            } = target
            {
                if !nodes.contains_key(next) {
                    queue.push_back((next.clone(), Some(path.clone()), *package_is_module));
                }
            }
        }
        nodes.insert(path, node);
    }
    emit(config, root, &main, nodes)
}

/// What reading a file of the graph needs to know about the project.
struct Reader {
    rules: Rules,
    jsx: deno_ast::JsxRuntime,
    define: Vec<(Vec<String>, String)>,
    resolvers: Resolvers,
}

impl Reader {
    /// Reads one file and resolves what it imports.
    fn read(
        &self,
        path: &Path,
        importer: Option<&Path>,
        package_is_module: bool,
    ) -> Result<Node, GraphError> {
        let Self {
            rules,
            jsx,
            define,
            resolvers,
        } = self;
        let is_jsx = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("jsx" | "tsx")
        );
        let (kind, suffix) = match is_jsx {
            // Compiled to JavaScript below; named `page.tsx.js` in the bundle.
            true => (ModuleKind::JavaScript, ".js"),
            false => rules.kind_of(path).ok_or_else(|| GraphError::UnknownType {
                path: path.to_path_buf(),
                importer: importer.map(Path::to_path_buf),
            })?,
        };
        let source = std::fs::read(path).map_err(|source| GraphError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        if !matches!(kind, ModuleKind::JavaScript | ModuleKind::TypeScript) {
            return Ok(Node {
                source,
                kind,
                suffix,
                analysis: None,
                source_map: None,
                targets: Vec::new(),
            });
        }
        let text = String::from_utf8_lossy(&source);
        // Parsers skip a byte-order mark, and their offsets with it.
        let text = text.strip_prefix('\u{FEFF}').unwrap_or(&text).to_string();
        let syntax_error = |error: analyze::SyntaxError| GraphError::Syntax {
            path: path.to_path_buf(),
            line: error.line,
            column: error.column,
            frame: crate::code_frame(&text, error.line, error.column),
            message: error.message,
        };
        let (source, source_map) = if is_jsx {
            let specifier = deno_ast::ModuleSpecifier::from_file_path(path)
                .map_or_else(|_| "file:///module.jsx".to_string(), |url| url.to_string());
            let compiled = jsx::compile(path, &specifier, &text, jsx).map_err(syntax_error)?;
            (compiled.code, compiled.source_map)
        } else {
            (text.clone(), None)
        };
        // Compiled JSX is analyzed as the ES module it has become.
        let analyzed_as = if is_jsx {
            path.with_extension("mjs")
        } else {
            path.to_path_buf()
        };
        let analysis = analyze::analyze(&analyzed_as, &source, package_is_module, define)
            .map_err(syntax_error)?;
        let source = source.into_bytes();
        let mut targets = Vec::with_capacity(analysis.imports.len());
        for import in &analysis.imports {
            match resolvers.resolve(path, &import.specifier, import.kind) {
                Ok(target) => targets.push(Some(target)),
                // What esbuild leaves to run time: a `require` inside `try`, and
                // a dynamic `import()` (the promise it returns rejects).
                Err(_)
                    if matches!(
                        import.kind,
                        ImportKind::Require { optional: true } | ImportKind::Dynamic
                    ) =>
                {
                    targets.push(None)
                }
                Err(unresolved) => {
                    // Compiled JSX has other lines: find the specifier in
                    // what the user wrote.
                    let line = match is_jsx {
                        true => ["\"", "'"]
                            .iter()
                            .find_map(|q| text.find(&format!("{q}{}{q}", import.specifier)))
                            .map_or(1, |at| text[..at].matches('\n').count() + 1),
                        false => import.line,
                    };
                    return Err(GraphError::Unresolved {
                        importer: path.to_path_buf(),
                        line,
                        specifier: import.specifier.clone(),
                        reason: explain(&unresolved, &import.specifier),
                    });
                }
            }
        }
        Ok(Node {
            source,
            kind,
            suffix,
            analysis: Some(analysis),
            source_map,
            targets,
        })
    }
}

/// What to tell the user about an import that does not resolve.
fn explain(unresolved: &Unresolved, specifier: &str) -> String {
    match unresolved {
        Unresolved::NodeBuiltin(name) => format!(
            "\"{name}\" is a Node.js built-in module: add \"nodejs_compat\" to `compatibility_flags` to use Node.js modules"
        ),
        Unresolved::NodeBuiltinNeedsPrefix(name) => format!(
            "\"{name}\" is a Node.js built-in module: import it as \"node:{name}\", or set a compatibility date from 2024-09-23 (nodejs_compat then allows imports without the prefix)"
        ),
        Unresolved::UnknownNodeModule(name) => {
            format!("Ridge does not provide the Node.js module \"node:{name}\"")
        }
        Unresolved::UnknownRuntimeModule(name) => format!(
            "Ridge provides {} but not {name}",
            RUNTIME_MODULES.join(", ")
        ),
        Unresolved::MissingPackage(package) => format!(
            "the package \"{package}\" is not installed: run `npm install` (or `npm install {package}`) in the project folder"
        ),
        Unresolved::NotFound if specifier.starts_with('.') || specifier.starts_with('/') => {
            "no such file".to_string()
        }
        Unresolved::NotFound => format!(
            "the package \"{}\" is installed but has no file for \"{specifier}\"",
            package_name(specifier)
        ),
        Unresolved::NotBundling => {
            "`no_bundle` is set, so only relative imports are followed".to_string()
        }
        Unresolved::Other(message) => message.clone(),
    }
}

/// `define` as dotted names with their replacement, always with
/// `process.env.NODE_ENV` (wrangler's value: `$NODE_ENV`, or "production").
fn define_list(config: &WorkerConfig) -> Vec<(Vec<String>, String)> {
    let mut define = config.define.clone();
    define
        .entry("process.env.NODE_ENV".into())
        .or_insert_with(|| {
            let mode = std::env::var("NODE_ENV").unwrap_or_else(|_| "production".into());
            serde_json::to_string(&mode).expect("strings serialize")
        });
    define
        .into_iter()
        .map(|(key, value)| (key.split('.').map(str::to_string).collect(), value))
        .collect()
}

/// Which files are modules of which kind: the configuration's `rules`
/// first, then Cloudflare's defaults (by extension).
struct Rules {
    root: PathBuf,
    custom: Vec<(RuleType, Vec<glob::Pattern>)>,
}

impl Rules {
    fn new(config: &WorkerConfig, root: &Path) -> Self {
        // The configuration's globs were checked when it was read.
        let custom = config
            .rules
            .iter()
            .map(|rule| {
                let globs = rule
                    .globs
                    .iter()
                    .filter_map(|g| glob::Pattern::new(g).ok())
                    .collect();
                (rule.kind, globs)
            })
            .collect();
        Self {
            root: std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf()),
            custom,
        }
    }

    /// The kind of module a file is, and the suffix its name needs for
    /// that kind to follow from it.
    fn kind_of(&self, path: &Path) -> Option<(ModuleKind, &'static str)> {
        let relative = path.strip_prefix(&self.root).unwrap_or(path);
        let by_extension = ModuleKind::from_name(&path.to_string_lossy());
        for (rule, globs) in &self.custom {
            if !globs.iter().any(|g| g.matches_path(relative)) {
                continue;
            }
            let (kind, suffix) = match rule {
                RuleType::ESModule | RuleType::CommonJS => (ModuleKind::JavaScript, ".js"),
                RuleType::CompiledWasm => (ModuleKind::Wasm, ".wasm"),
                RuleType::Text => (ModuleKind::Text, ".txt"),
                RuleType::Data => (ModuleKind::Data, ".bin"),
                RuleType::PythonModule | RuleType::PythonRequirement => return None,
            };
            return match by_extension {
                Some(found) if found == kind => Some((found, "")),
                // An ESModule or CommonJS rule over TypeScript: still stripped.
                Some(ModuleKind::TypeScript) if kind == ModuleKind::JavaScript => {
                    Some((ModuleKind::TypeScript, ""))
                }
                _ => Some((kind, suffix)),
            };
        }
        by_extension.map(|kind| (kind, ""))
    }

    /// `find_additional_modules`: the files under `base` that a `rules`
    /// glob or one of wrangler's default rules matches (JavaScript, text,
    /// data and Wasm by extension; not TypeScript, tests or configuration),
    /// dot folders and `node_modules` aside. Symbolic links to folders are
    /// not followed.
    fn additional_modules(&self, base: &Path) -> Result<Vec<PathBuf>, GraphError> {
        const DEFAULT: [&str; 8] = ["js", "mjs", "cjs", "txt", "html", "sql", "bin", "wasm"];
        let mut found = Vec::new();
        let mut folders = vec![base.to_path_buf()];
        while let Some(folder) = folders.pop() {
            let entries = std::fs::read_dir(&folder).map_err(|source| GraphError::Read {
                path: folder.clone(),
                source,
            })?;
            for entry in entries.flatten() {
                let path = entry.path();
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if name.starts_with('.') || name == "node_modules" {
                    continue;
                }
                let Ok(file_type) = entry.file_type() else {
                    continue;
                };
                if file_type.is_dir() {
                    folders.push(path);
                    continue;
                }
                let relative = path.strip_prefix(&self.root).unwrap_or(&path);
                let by_rule = self
                    .custom
                    .iter()
                    .any(|(_, globs)| globs.iter().any(|g| g.matches_path(relative)));
                let by_default = path
                    .extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| DEFAULT.contains(&e));
                if by_rule || by_default {
                    found.push(std::fs::canonicalize(&path).unwrap_or(path));
                }
            }
        }
        found.sort();
        Ok(found)
    }
}

/// Names every node, rewrites imports to those names and makes the bundle.
fn emit(
    config: &WorkerConfig,
    root: &Path,
    main: &Path,
    nodes: BTreeMap<PathBuf, Node>,
) -> Result<Collected, GraphError> {
    let base = bundle_base(config, root, nodes.keys());
    let name_of = |path: &Path, node: &Node| -> String {
        let relative = path.strip_prefix(&base).unwrap_or(path);
        let name = relative
            .components()
            .filter_map(|c| match c {
                Component::Normal(part) => Some(part.to_string_lossy()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("/");
        format!("{name}{}", node.suffix)
    };
    let names: BTreeMap<&Path, String> = nodes
        .iter()
        .map(|(path, node)| (path.as_path(), name_of(path, node)))
        .collect();
    let needs_empty = nodes
        .values()
        .any(|node| node.targets.iter().flatten().any(|t| *t == Target::Empty));
    let empty_name = "__ridge_empty.js";
    let is_commonjs = |path: &Path| {
        nodes[path]
            .analysis
            .as_ref()
            .is_some_and(|a| a.format == Format::CommonJs)
    };
    // CommonJS modules that ES modules import (or the entry) get a facade.
    let mut with_facade: BTreeSet<&Path> = BTreeSet::new();
    if is_commonjs(main) {
        with_facade.insert(main);
    }
    for node in nodes.values() {
        let Some(analysis) = &node.analysis else {
            continue;
        };
        for (import, target) in analysis.imports.iter().zip(&node.targets) {
            if let (false, Some(Target::File { path, .. })) =
                (matches!(import.kind, ImportKind::Require { .. }), target)
            {
                if is_commonjs(path) {
                    with_facade.insert(path);
                }
            }
        }
    }
    // What ES modules import: a CommonJS module's facade.
    let imported_name = |path: &Path| -> String {
        let name = &names[path];
        match is_commonjs(path) {
            true => commonjs::facade_name(name),
            false => name.clone(),
        }
    };

    let mut modules = BTreeMap::new();
    for (path, node) in &nodes {
        let name = &names[path.as_path()];
        let content: Vec<u8> = match &node.analysis {
            None => node.source.clone(),
            Some(analysis) => {
                let source = String::from_utf8_lossy(&node.source);
                let specifier_to = |target: &Target| -> Option<String> {
                    match target {
                        Target::File { path, .. } => {
                            Some(relative_specifier(name, &imported_name(path)))
                        }
                        Target::Empty => Some(relative_specifier(name, empty_name)),
                        // `buffer` under nodejs_compat becomes `node:buffer`.
                        Target::Runtime(module) => Some(module.clone()),
                    }
                };
                // Edits: import specifiers (not those of require() calls in
                // CommonJS, which the wrapper's table answers) and `define`.
                let mut edits: Vec<(std::ops::Range<usize>, String)> =
                    analysis.replacements.clone();
                let mut requires = Vec::new();
                for (import, target) in analysis.imports.iter().zip(&node.targets) {
                    let Some(target) = target else { continue };
                    if let ImportKind::Require { .. } = import.kind {
                        let required = match target {
                            Target::Runtime(module) if module.starts_with("node:") => {
                                Required::Value(module.clone())
                            }
                            Target::Runtime(module) => Required::Runtime(module.clone()),
                            Target::Empty => Required::Empty,
                            Target::File { path, .. } => {
                                // `require` reaches the wrapped module itself.
                                let specifier = relative_specifier(name, &names[path.as_path()]);
                                match &nodes[path].analysis {
                                    None => Required::Value(specifier),
                                    Some(_) if is_commonjs(path) => Required::CommonJs(specifier),
                                    Some(_) => Required::EsModule(specifier),
                                }
                            }
                        };
                        if !requires.iter().any(|(s, _)| *s == import.specifier) {
                            requires.push((import.specifier.clone(), required));
                        }
                    } else if let Some(specifier) = specifier_to(target) {
                        edits.push((
                            import.range.clone(),
                            serde_json::to_string(&specifier).expect("strings serialize"),
                        ));
                    }
                }
                let mut edited = apply_edits(&source, edits);
                if let Some(map) = &node.source_map {
                    edited.push_str(&jsx::inline_map(&map_for(map, name, node.suffix)));
                }
                if analysis.format == Format::CommonJs {
                    if with_facade.contains(path.as_path()) {
                        let exports = commonjs_exports(path, &nodes, &mut BTreeSet::new());
                        let facade = commonjs::facade_name(name);
                        let code = commonjs::facade(&relative_specifier(&facade, name), &exports);
                        modules.insert(
                            facade,
                            Module {
                                kind: ModuleKind::JavaScript,
                                content: Arc::from(code.into_bytes()),
                            },
                        );
                    }
                    commonjs::wrap(name, &edited, &requires).into_bytes()
                } else {
                    edited.into_bytes()
                }
            }
        };
        modules.insert(
            name.clone(),
            Module {
                kind: node.kind,
                content: Arc::from(content),
            },
        );
    }
    if needs_empty {
        modules.insert(
            empty_name.to_string(),
            Module {
                kind: ModuleKind::JavaScript,
                content: Arc::from(b"export default {};\n".as_slice()),
            },
        );
    }
    let main_name = imported_name(main);
    let bundle = Bundle::new(main_name, modules)?;
    Ok(Collected {
        bundle,
        files: nodes.into_keys().collect(),
    })
}

/// The folder module names are relative to: `base_dir` when every module
/// is inside it, otherwise the deepest folder holding them all (the
/// project, or a workspace root above it when packages are symlinked).
fn bundle_base<'a>(
    config: &WorkerConfig,
    root: &Path,
    paths: impl Iterator<Item = &'a PathBuf> + Clone,
) -> PathBuf {
    let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    if let Some(base) = &config.base_dir {
        let base = std::fs::canonicalize(root.join(base)).unwrap_or_else(|_| root.join(base));
        if paths.clone().all(|p| p.starts_with(&base)) {
            return base;
        }
    }
    let mut common: Option<PathBuf> = None;
    for path in paths {
        let folder = path.parent().unwrap_or(path);
        common = Some(match common {
            None => folder.to_path_buf(),
            Some(common) => common
                .components()
                .zip(folder.components())
                .take_while(|(a, b)| a == b)
                .map(|(a, _)| a.as_os_str())
                .collect(),
        });
    }
    let common = common.unwrap_or_else(|| root.clone());
    // Keep names relative to the project when everything is inside it.
    if common.starts_with(&root) {
        root
    } else {
        common
    }
}

/// The names a CommonJS module exports: its own, and those of the modules
/// it re-exports (`module.exports = require("./x")`), as Node finds them.
fn commonjs_exports(
    path: &Path,
    nodes: &BTreeMap<PathBuf, Node>,
    seen: &mut BTreeSet<PathBuf>,
) -> Vec<String> {
    if !seen.insert(path.to_path_buf()) {
        return Vec::new();
    }
    let Some(node) = nodes.get(path) else {
        return Vec::new();
    };
    let Some(analysis) = &node.analysis else {
        return Vec::new();
    };
    let mut exports: BTreeSet<String> = analysis.exports.iter().cloned().collect();
    for reexport in &analysis.reexports {
        let target = analysis
            .imports
            .iter()
            .zip(&node.targets)
            .find(|(import, _)| import.specifier == *reexport);
        if let Some((_, Some(Target::File { path: next, .. }))) = target {
            if nodes
                .get(next)
                .and_then(|n| n.analysis.as_ref())
                .is_some_and(|a| a.format == Format::CommonJs)
            {
                exports.extend(commonjs_exports(next, nodes, seen));
            }
        }
    }
    exports.into_iter().collect()
}

/// A compiled module's source map naming its original by bundle name
/// (`file:///src/page.tsx`), as stack traces should.
fn map_for(map: &str, name: &str, suffix: &str) -> String {
    let original = name.strip_suffix(suffix).unwrap_or(name);
    match serde_json::from_str::<serde_json::Value>(map) {
        Ok(mut map) => {
            map["sources"] = serde_json::json!([format!("file:///{original}")]);
            map.to_string()
        }
        Err(_) => map.to_string(),
    }
}

/// `source` with each byte range replaced (ranges do not overlap; an
/// edit inside an earlier one is dropped).
fn apply_edits(source: &str, mut edits: Vec<(std::ops::Range<usize>, String)>) -> String {
    edits.sort_by_key(|(range, _)| range.start);
    let mut out = String::with_capacity(source.len());
    let mut at = 0;
    for (range, text) in edits {
        if range.start < at || range.end > source.len() {
            continue;
        }
        out.push_str(&source[at..range.start]);
        out.push_str(&text);
        at = range.end;
    }
    out.push_str(&source[at..]);
    out
}

/// The import specifier that leads from module `from` to module `to`
/// (both bundle names): `./x.js`, `../node_modules/p/index.js`.
fn relative_specifier(from: &str, to: &str) -> String {
    let from_dirs: Vec<&str> = from.split('/').collect::<Vec<_>>();
    let from_dirs = &from_dirs[..from_dirs.len() - 1];
    let to_parts: Vec<&str> = to.split('/').collect();
    let shared = from_dirs
        .iter()
        .zip(&to_parts)
        .take_while(|(a, b)| a == b)
        .count()
        .min(to_parts.len() - 1);
    let ups = from_dirs.len() - shared;
    // `%`, `#` and `?` mean something in a URL: the loader decodes them.
    let rest = to_parts[shared..]
        .join("/")
        .replace('%', "%25")
        .replace('#', "%23")
        .replace('?', "%3F");
    if ups == 0 {
        format!("./{rest}")
    } else {
        format!("{}{rest}", "../".repeat(ups))
    }
}

#[cfg(test)]
mod resolution_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specifiers_between_bundle_names() {
        assert_eq!(relative_specifier("src/index.ts", "src/lib.ts"), "./lib.ts");
        assert_eq!(
            relative_specifier("src/index.ts", "node_modules/hono/dist/index.js"),
            "../node_modules/hono/dist/index.js"
        );
        assert_eq!(relative_specifier("index.js", "a/b.js"), "./a/b.js");
        assert_eq!(relative_specifier("a/b/c.js", "a/d.js"), "../d.js");
        assert_eq!(relative_specifier("a/b.js", "a/b/c.js"), "./b/c.js");
        assert_eq!(relative_specifier("a.js", "x#1?%.js"), "./x%231%3F%25.js");
    }

    #[test]
    fn edits_replace_ranges() {
        assert_eq!(
            apply_edits(
                "import a from 'x'; f(B)",
                vec![(19..20, "G".into()), (14..17, "\"./y.js\"".into())]
            ),
            "import a from \"./y.js\"; G(B)"
        );
    }
}
