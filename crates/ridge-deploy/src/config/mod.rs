//! A worker's configuration: one model read from any of the files a
//! Workers project may carry (`ridge.toml`, `wrangler.json`,
//! `wrangler.jsonc`, `wrangler.toml`), with wrangler's environments
//! (`[env.NAME]`), and the limits the worker runs under. `keys.rs` says
//! what each top-level key does.

mod keys;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ridge_core::names::validate_worker_name;
use serde::Deserialize;

pub use keys::{key_use, KeyUse};
pub use ridge_core::{
    DurableObjectBinding, KvNamespaceBinding, Limits, QueueConsumer, QueueProducerBinding,
    ServiceBinding,
};

/// Ridge's own configuration file.
pub const CONFIG_FILE: &str = "ridge.toml";

/// The files a worker folder is looked up by, in order of preference:
/// Ridge's own, then wrangler's (whose own order is json, jsonc, toml).
pub const CONFIG_FILES: [&str; 4] = [
    CONFIG_FILE,
    "wrangler.json",
    "wrangler.jsonc",
    "wrangler.toml",
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} has no worker configuration: add a wrangler.jsonc (or ridge.toml), or run `ridge init`", .0.display())]
    NotFound(PathBuf),
    #[error("invalid {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid {path}: `{field}` {problem}")]
    Field {
        path: PathBuf,
        field: String,
        problem: String,
    },
    #[error("{path}:{line}: unknown key `{key}`{}", suggestion.map(|s| format!(", did you mean `{s}`?")).unwrap_or_default())]
    UnknownKey {
        path: PathBuf,
        line: usize,
        key: String,
        suggestion: Option<&'static str>,
    },
    #[error("{path}:{line}: `{key}` binds {what}, which Ridge does not provide yet: remove the binding to run this worker")]
    Unsupported {
        path: PathBuf,
        line: usize,
        key: String,
        what: &'static str,
    },
    #[error("{path} has no environment {name:?} (--env); it has: {}", if available.is_empty() { "none".to_string() } else { available.join(", ") })]
    NoSuchEnvironment {
        path: PathBuf,
        name: String,
        available: Vec<String>,
    },
}

/// A worker as its configuration describes it, for one environment.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    pub name: String,
    /// Entry module, relative to the folder holding the configuration;
    /// empty for a project of static assets alone.
    pub main: String,
    pub compatibility_date: Option<String>,
    pub compatibility_flags: Vec<String>,
    /// Cloudflare-style route patterns: `example.com/*`, `*.example.com/api/*`.
    pub routes: Vec<String>,
    /// Plain environment variables: strings, or any JSON value.
    pub vars: BTreeMap<String, serde_json::Value>,
    pub kv_namespaces: Vec<KvNamespaceBinding>,
    /// Other workers this one calls (`services`).
    pub services: Vec<ServiceBinding>,
    /// Durable Object namespaces (`durable_objects.bindings`).
    pub durable_objects: Vec<DurableObjectBinding>,
    /// Queues this worker sends to (`queues.producers`).
    pub queue_producers: Vec<QueueProducerBinding>,
    /// Queues whose messages its `queue()` handler receives
    /// (`queues.consumers` of the default type, "worker").
    pub queue_consumers: Vec<QueueConsumer>,
    pub crons: Vec<String>,
    pub limits: Limits,
    /// `[build]`: a command that runs before the modules are collected.
    pub build: Build,
    /// Module specifiers replaced by others (a package or a path).
    pub alias: BTreeMap<String, String>,
    /// Global expressions replaced by JavaScript literals, as esbuild's
    /// `define` (`process.env.NODE_ENV` is always among them).
    pub define: BTreeMap<String, String>,
    /// Extra module rules: which files are text, data, Wasm, ….
    pub rules: Vec<ModuleRule>,
    /// Take the modules as they are: follow relative imports only.
    pub no_bundle: bool,
    /// Also include the files the rules match under `base_dir`, imported or
    /// not (for dynamic imports the collector cannot see).
    pub find_additional_modules: bool,
    /// The folder module names are relative to (default: the entry's).
    pub base_dir: Option<String>,
    /// JSX's classic factories (over tsconfig.json's).
    pub jsx_factory: Option<String>,
    pub jsx_fragment: Option<String>,
    /// `[dev]`: where `ridge dev` listens unless its flags say otherwise.
    pub dev: DevSettings,
    /// `assets`: static files served beside (or instead of) the worker.
    pub assets: Option<ridge_assets::AssetsSection>,
    /// The file this came from (`None` for a lone script).
    pub file: Option<PathBuf>,
    /// Keys present but not acted on, each with what is ignored.
    pub ignored: Vec<(String, &'static str)>,
}

/// A `services` entry as wrangler writes it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceConfig {
    binding: String,
    service: String,
    #[serde(default)]
    entrypoint: Option<String>,
    #[serde(default)]
    props: Option<serde_json::Value>,
    #[serde(default)]
    #[allow(dead_code)] // Cloudflare's environments of a service
    environment: Option<String>,
    #[serde(default)]
    #[allow(dead_code)] // wrangler's remote bindings
    remote: Option<bool>,
}

/// `durable_objects` as wrangler writes it.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DurableObjectsConfig {
    #[serde(default)]
    bindings: Vec<DurableObjectBindingConfig>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DurableObjectBindingConfig {
    name: String,
    class_name: String,
    #[serde(default)]
    script_name: Option<String>,
    #[serde(default)]
    #[allow(dead_code)] // Cloudflare's environments of a script
    environment: Option<String>,
}

/// `queues` as wrangler writes it.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct QueuesConfig {
    #[serde(default)]
    producers: Vec<QueueProducerBinding>,
    #[serde(default)]
    consumers: Vec<ConsumerConfig>,
}

/// One of `queues.consumers`: a worker consumer, or a pull consumer
/// (`type = "http_pull"`), which reads through the admin API instead.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsumerConfig {
    queue: String,
    #[serde(default)]
    max_batch_size: Option<u32>,
    #[serde(default)]
    max_batch_timeout: Option<u32>,
    #[serde(default)]
    max_retries: Option<u32>,
    #[serde(default)]
    dead_letter_queue: Option<String>,
    #[serde(default)]
    retry_delay: Option<u32>,
    #[serde(default)]
    max_concurrency: Option<u32>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    /// A pull consumer's lease time; Ridge takes it per pull request.
    #[serde(default, rename = "visibility_timeout_ms")]
    _visibility_timeout_ms: Option<u64>,
}

/// One of `migrations`, as wrangler writes it: which classes became Durable
/// Objects (with SQLite storage or the older key-value one), were renamed,
/// or were deleted, under a tag.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Migration {
    #[serde(default)]
    #[allow(dead_code)]
    // Cloudflare applies migrations by tag; every Ridge object stores in SQLite
    tag: Option<String>,
    #[serde(default)]
    new_classes: Vec<String>,
    #[serde(default)]
    new_sqlite_classes: Vec<String>,
    #[serde(default)]
    renamed_classes: Vec<RenamedClass>,
    #[serde(default)]
    deleted_classes: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RenamedClass {
    from: String,
    to: String,
}

/// The classes the migrations leave as Durable Objects, in order: created,
/// renamed, deleted.
fn migrated_classes(migrations: &[Migration]) -> Vec<String> {
    let mut classes: Vec<String> = Vec::new();
    for migration in migrations {
        classes.extend(migration.new_classes.iter().cloned());
        classes.extend(migration.new_sqlite_classes.iter().cloned());
        for RenamedClass { from, to } in &migration.renamed_classes {
            for class in classes.iter_mut().filter(|class| *class == from) {
                class.clone_from(to);
            }
        }
        classes.retain(|class| !migration.deleted_classes.contains(class));
    }
    classes
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Build {
    /// Run with `sh -c` before the modules are collected.
    #[serde(default)]
    pub command: Option<String>,
    /// Where the command runs, relative to the configuration's folder.
    #[serde(default)]
    pub cwd: Option<String>,
    /// What `ridge dev` watches to run the command again (default `src`).
    #[serde(default, deserialize_with = "one_or_many")]
    pub watch_dir: Vec<String>,
}

/// `[dev]`: what `ridge dev` (like `wrangler dev`) listens on.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevSettings {
    #[serde(default)]
    pub ip: Option<std::net::IpAddr>,
    #[serde(default)]
    pub port: Option<u16>,
    /// `"http"` or `"https"` (a self-signed certificate, as `--https`).
    #[serde(default)]
    pub local_protocol: Option<LocalProtocol>,
    // wrangler's, accepted: Ridge's inspector and upstream are set by flags.
    #[serde(default, rename = "inspector_port")]
    _inspector_port: Option<serde::de::IgnoredAny>,
    #[serde(default, rename = "upstream_protocol")]
    _upstream_protocol: Option<serde::de::IgnoredAny>,
    #[serde(default, rename = "host")]
    _host: Option<serde::de::IgnoredAny>,
    #[serde(default, rename = "enable_containers")]
    _enable_containers: Option<serde::de::IgnoredAny>,
    #[serde(default, rename = "container_engine")]
    _container_engine: Option<serde::de::IgnoredAny>,
    #[serde(default, rename = "generate_types")]
    _generate_types: Option<serde::de::IgnoredAny>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LocalProtocol {
    Http,
    Https,
}

/// `{ type = "Text", globs = ["**/*.sql"], fallthrough = true }`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModuleRule {
    #[serde(rename = "type")]
    pub kind: RuleType,
    pub globs: Vec<String>,
    /// Accepted as wrangler writes it; Ridge always tries the default
    /// rules after the configuration's (as `fallthrough = true`).
    #[serde(default, rename = "fallthrough")]
    _fallthrough: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum RuleType {
    ESModule,
    CommonJS,
    CompiledWasm,
    Text,
    Data,
    PythonModule,
    PythonRequirement,
}

/// The keys of a configuration (top level, or one environment's table),
/// each optional: an environment's missing keys come from the top level
/// (or not, for bindings and vars, as in wrangler).
#[derive(Clone, Debug, Default, Deserialize)]
struct RawConfig {
    name: Option<String>,
    main: Option<String>,
    compatibility_date: Option<String>,
    compatibility_flags: Option<Vec<String>>,
    routes: Option<Vec<Route>>,
    route: Option<Route>,
    vars: Option<BTreeMap<String, serde_json::Value>>,
    kv_namespaces: Option<Vec<KvNamespaceConfig>>,
    services: Option<Vec<ServiceConfig>>,
    durable_objects: Option<DurableObjectsConfig>,
    migrations: Option<Vec<Migration>>,
    queues: Option<QueuesConfig>,
    triggers: Option<Triggers>,
    limits: Option<Limits>,
    build: Option<Build>,
    alias: Option<BTreeMap<String, String>>,
    define: Option<BTreeMap<String, String>>,
    rules: Option<Vec<ModuleRule>>,
    no_bundle: Option<bool>,
    find_additional_modules: Option<bool>,
    base_dir: Option<String>,
    jsx_factory: Option<String>,
    jsx_fragment: Option<String>,
    dev: Option<DevSettings>,
    assets: Option<ridge_assets::AssetsSection>,
    #[serde(default)]
    env: BTreeMap<String, RawConfig>,
}

/// A route: a pattern, or wrangler's table with one.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
enum Route {
    Pattern(String),
    Table {
        pattern: String,
        #[allow(dead_code)] // wrangler's; Ridge routes by pattern only
        #[serde(default)]
        zone_name: Option<String>,
        #[allow(dead_code)]
        #[serde(default)]
        zone_id: Option<String>,
        #[allow(dead_code)]
        #[serde(default)]
        custom_domain: Option<bool>,
    },
}

impl Route {
    fn pattern(self) -> String {
        match self {
            Self::Pattern(pattern) | Self::Table { pattern, .. } => pattern,
        }
    }
}

/// `[[kv_namespaces]]` as wrangler writes it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KvNamespaceConfig {
    binding: String,
    /// Optional for local development in wrangler; Ridge then names the
    /// namespace after the binding.
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    #[allow(dead_code)] // Cloudflare's preview namespaces
    preview_id: Option<String>,
    #[serde(default)]
    #[allow(dead_code)] // wrangler's remote bindings
    remote: Option<bool>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Triggers {
    #[serde(default)]
    crons: Vec<String>,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    })
}

/// The format of a configuration file, by its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Toml,
    Json,
}

impl Format {
    fn of(path: &Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some("json" | "jsonc") => Self::Json,
            _ => Self::Toml,
        }
    }
}

impl WorkerConfig {
    /// The configuration file of a worker folder: the first of
    /// [`CONFIG_FILES`] it has.
    pub fn find_file(dir: &Path) -> Option<PathBuf> {
        CONFIG_FILES
            .iter()
            // `wrangler.toml` rather than `./wrangler.toml` in messages.
            .map(|name| match dir == Path::new(".") {
                true => PathBuf::from(name),
                false => dir.join(name),
            })
            .find(|path| path.is_file())
    }

    /// Reads the configuration of a worker folder (see [`Self::find_file`]).
    pub fn from_dir(dir: &Path) -> Result<Self, ConfigError> {
        let path = Self::find_file(dir).ok_or_else(|| ConfigError::NotFound(dir.to_path_buf()))?;
        Self::from_file(&path, None)
    }

    /// Reads a configuration file, for the environment `env` when given.
    pub fn from_file(path: &Path, env: Option<&str>) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse_as(path, &text, env)
    }

    /// Parses `ridge.toml` text; `path` only names the file in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        Self::parse_as(path, text, None)
    }

    /// Parses configuration text in the format `path`'s name says, for the
    /// environment `env`. Type errors carry the line (TOML: and the key);
    /// unknown keys are refused with the closest known one.
    pub fn parse_as(path: &Path, text: &str, env: Option<&str>) -> Result<Self, ConfigError> {
        let parse_error = |message: String| ConfigError::Parse {
            path: path.to_path_buf(),
            message,
        };
        let format = Format::of(path);
        let mut text = text.to_string();
        if format == Format::Json {
            // Comments and trailing commas become spaces: lines and columns
            // in serde_json's errors stay those of the file.
            json_strip_comments::strip(&mut text).map_err(|e| parse_error(e.to_string()))?;
        }
        let (tree, raw): (serde_json::Value, RawConfig) = match format {
            Format::Toml => (
                toml::from_str(&text).map_err(|e| parse_error(e.to_string()))?,
                toml::from_str(&text).map_err(|e| parse_error(e.to_string()))?,
            ),
            Format::Json => (
                serde_json::from_str(&text).map_err(|e| parse_error(e.to_string()))?,
                serde_json::from_str(&text).map_err(|e| parse_error(e.to_string()))?,
            ),
        };
        let mut ignored = Vec::new();
        check_keys(path, &text, &tree, Some(&mut ignored))?;
        if let Some(environments) = tree.get("env").and_then(|e| e.as_object()) {
            for (name, table) in environments {
                // Typos anywhere; bindings and ignored keys only in the
                // environment that runs.
                let chosen = env == Some(name.as_str());
                check_keys(path, &text, table, chosen.then_some(&mut ignored))?;
            }
        }
        ignored.sort();
        ignored.dedup();
        let config = resolve(path, raw, env, ignored)?;
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
        if self.main.trim().is_empty() && self.assets.is_none() {
            return Err(field(
                "main",
                "must name the worker's entry module, e.g. \"src/index.js\"",
            ));
        }
        if let Some(assets) = &self.assets {
            self.validate_assets(assets, path)?;
        }
        if let Err(error) = self.limits.validate() {
            return Err(field(&error.field, &error.problem));
        }
        for (index, rule) in self.rules.iter().enumerate() {
            if matches!(
                rule.kind,
                RuleType::PythonModule | RuleType::PythonRequirement
            ) {
                return Err(field(
                    &format!("rules[{index}].type"),
                    "is a Python module type; Ridge runs JavaScript and WebAssembly workers",
                ));
            }
            for glob in &rule.globs {
                if let Err(error) = glob::Pattern::new(glob) {
                    return Err(field(
                        &format!("rules[{index}].globs"),
                        &format!("has an invalid pattern {glob:?}: {error}"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The `assets` section's rules, as wrangler checks them.
    fn validate_assets(
        &self,
        assets: &ridge_assets::AssetsSection,
        path: &Path,
    ) -> Result<(), ConfigError> {
        let field = |field: &str, problem: String| ConfigError::Field {
            path: path.to_path_buf(),
            field: field.to_string(),
            problem,
        };
        if assets
            .directory
            .as_deref()
            .is_none_or(|d| d.trim().is_empty())
        {
            return Err(field(
                "assets.directory",
                "is missing: name the folder of files to serve, e.g. \"./public\"".into(),
            ));
        }
        let settings = assets.settings();
        if let Err((name, problem)) =
            ridge_assets::config::WorkerFirst::new(&settings.run_worker_first)
        {
            return Err(field(&format!("assets.{name}"), problem.to_string()));
        }
        if self.main.is_empty() {
            if settings.binding.is_some() {
                return Err(field(
                    "assets.binding",
                    "needs a worker to bind to: set `main`, or remove the binding".into(),
                ));
            }
            if settings.run_worker_first != ridge_assets::RunWorkerFirst::Always(false) {
                return Err(field(
                    "assets.run_worker_first",
                    "needs a worker to run: set `main`, or remove it".into(),
                ));
            }
            if !self.crons.is_empty() {
                return Err(field(
                    "triggers.crons",
                    "need a worker to run: set `main`".into(),
                ));
            }
        }
        if let Some(binding) = &settings.binding {
            let taken = self.vars.contains_key(binding)
                || self.kv_namespaces.iter().any(|kv| &kv.binding == binding);
            if taken {
                return Err(field(
                    "assets.binding",
                    format!("{binding:?} is already used by a var or KV namespace"),
                ));
            }
        }
        Ok(())
    }

    /// The folder `assets.directory` names, when there is one.
    pub fn assets_directory(&self, root: &Path) -> Option<PathBuf> {
        let directory = self.assets.as_ref()?.directory.as_ref()?;
        // `./dist` in a project at `.` is shown as `dist`, not `././dist`.
        Some(
            root.join(directory)
                .components()
                .filter(|part| *part != std::path::Component::CurDir)
                .collect(),
        )
    }

    /// A config for a worker given as a lone script file (`ridge dev app.js`).
    pub fn for_script(script: &Path) -> Self {
        let main = script
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        Self::defaults(name_from(script.file_stem()), main, None)
    }

    fn defaults(name: String, main: String, file: Option<PathBuf>) -> Self {
        Self {
            name,
            main,
            compatibility_date: None,
            compatibility_flags: Vec::new(),
            routes: Vec::new(),
            vars: BTreeMap::new(),
            kv_namespaces: Vec::new(),
            services: Vec::new(),
            durable_objects: Vec::new(),
            queue_producers: Vec::new(),
            queue_consumers: Vec::new(),
            crons: Vec::new(),
            limits: Limits::default(),
            build: Build::default(),
            alias: BTreeMap::new(),
            define: BTreeMap::new(),
            rules: Vec::new(),
            no_bundle: false,
            find_additional_modules: false,
            base_dir: None,
            jsx_factory: None,
            jsx_fragment: None,
            dev: DevSettings::default(),
            assets: None,
            file,
            ignored: Vec::new(),
        }
    }
}

/// A worker name made from a file or folder name: lower case, with
/// anything but letters and digits turned into `-`.
pub fn name_from(stem: Option<&std::ffi::OsStr>) -> String {
    stem.map(|s| s.to_string_lossy().to_ascii_lowercase())
        .map(|s| {
            s.chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect::<String>()
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "worker".to_string())
}

/// Refuses unknown keys and, for a table that is used (`ignored` given),
/// bindings Ridge cannot provide; notes the keys it ignores.
fn check_keys(
    path: &Path,
    text: &str,
    table: &serde_json::Value,
    mut ignored: Option<&mut Vec<(String, &'static str)>>,
) -> Result<(), ConfigError> {
    let Some(table) = table.as_object() else {
        return Ok(());
    };
    let used = ignored.is_some();
    for (key, value) in table {
        match key_use(key) {
            Some(KeyUse::Applied | KeyUse::Silent) => {}
            Some(KeyUse::Ignored(why)) => {
                if let Some(ignored) = ignored.as_deref_mut() {
                    ignored.push((key.clone(), why));
                }
            }
            Some(KeyUse::Unsupported(what)) => {
                if used && keys::binds_something(value) {
                    return Err(ConfigError::Unsupported {
                        path: path.to_path_buf(),
                        line: line_of_key(text, key),
                        key: key.clone(),
                        what,
                    });
                }
            }
            None => {
                return Err(ConfigError::UnknownKey {
                    path: path.to_path_buf(),
                    line: line_of_key(text, key),
                    key: key.clone(),
                    suggestion: keys::suggestion(key),
                })
            }
        }
    }
    Ok(())
}

/// The `durable_objects` bindings, each to a class of this worker checked
/// against the migrations (as Cloudflare refuses a deploy binding a class
/// no migration made a Durable Object, or one a migration deleted).
fn durable_object_bindings(
    path: &Path,
    worker: &str,
    section: Option<DurableObjectsConfig>,
    migrations: Option<Vec<Migration>>,
) -> Result<Vec<DurableObjectBinding>, ConfigError> {
    let classes = migrated_classes(&migrations.unwrap_or_default());
    let mut bindings = Vec::new();
    for (index, binding) in section.unwrap_or_default().bindings.into_iter().enumerate() {
        if !ridge_core::names::is_class_name(&binding.class_name) {
            return Err(ConfigError::Field {
                path: path.to_path_buf(),
                field: format!("durable_objects.bindings[{index}].class_name"),
                problem: format!(
                    "{:?} is not a class name (letters, digits, _ and $, not starting with a digit)",
                    binding.class_name
                ),
            });
        }
        let own = binding
            .script_name
            .as_deref()
            .is_none_or(|script| script == worker);
        if own && !classes.contains(&binding.class_name) {
            return Err(ConfigError::Field {
                path: path.to_path_buf(),
                field: format!("durable_objects.bindings[{index}].class_name"),
                problem: format!(
                    "{:?} is not a Durable Object class of this worker: add a migration that creates it, e.g. migrations = [{{ tag = \"v1\", new_sqlite_classes = [\"{}\"] }}]",
                    binding.class_name, binding.class_name
                ),
            });
        }
        bindings.push(DurableObjectBinding {
            name: binding.name,
            class_name: binding.class_name,
            script_name: binding.script_name.filter(|_| !own),
        });
    }
    Ok(bindings)
}

/// The `queues` section's producers and worker consumers, checked: names,
/// settings in range, one consumer per queue.
fn queues(
    path: &Path,
    section: Option<QueuesConfig>,
) -> Result<(Vec<QueueProducerBinding>, Vec<QueueConsumer>), ConfigError> {
    let section = section.unwrap_or_default();
    let field_error = |field: String, problem: String| ConfigError::Field {
        path: path.to_path_buf(),
        field,
        problem,
    };
    for (index, producer) in section.producers.iter().enumerate() {
        if let Err(problem) = ridge_core::names::validate_queue_name(&producer.queue) {
            return Err(field_error(
                format!("queues.producers[{index}].queue"),
                format!("{:?} {problem}", producer.queue),
            ));
        }
        if let Some(delay) = producer
            .delivery_delay
            .filter(|delay| *delay > QueueConsumer::MAX_DELAY_S)
        {
            return Err(field_error(
                format!("queues.producers[{index}].delivery_delay"),
                format!(
                    "is {delay}: it must be from 0 to {}",
                    QueueConsumer::MAX_DELAY_S
                ),
            ));
        }
    }
    let mut consumers: Vec<QueueConsumer> = Vec::new();
    for (index, consumer) in section.consumers.into_iter().enumerate() {
        let field = |name: &str| format!("queues.consumers[{index}].{name}");
        let settings = QueueConsumer {
            queue: consumer.queue,
            max_batch_size: consumer.max_batch_size,
            max_batch_timeout: consumer.max_batch_timeout,
            max_retries: consumer.max_retries,
            dead_letter_queue: consumer.dead_letter_queue,
            retry_delay: consumer.retry_delay,
            max_concurrency: consumer.max_concurrency,
        };
        let queues = std::iter::once(&settings.queue).chain(&settings.dead_letter_queue);
        for (name, queue) in ["queue", "dead_letter_queue"].into_iter().zip(queues) {
            if let Err(problem) = ridge_core::names::validate_queue_name(queue) {
                return Err(field_error(field(name), format!("{queue:?} {problem}")));
            }
        }
        if let Err((name, problem)) = settings.validate() {
            return Err(field_error(field(name), problem));
        }
        if settings.dead_letter_queue.as_ref() == Some(&settings.queue) {
            return Err(field_error(
                field("dead_letter_queue"),
                "is the queue itself: name another queue".into(),
            ));
        }
        match consumer.kind.as_deref() {
            None | Some("worker") => {}
            Some("http_pull") => continue,
            Some(other) => {
                return Err(field_error(
                    field("type"),
                    format!("is {other:?}: use \"worker\" or \"http_pull\""),
                ))
            }
        }
        if consumers.iter().any(|c| c.queue == settings.queue) {
            return Err(field_error(
                field("queue"),
                format!("{:?} has another consumer in this worker", settings.queue),
            ));
        }
        consumers.push(settings);
    }
    Ok((section.producers, consumers))
}

/// The line a key is first written on: `"key":` in JSON, `key =` or a
/// table header naming it (`[key]`, `[[env.prod.key]]`) in TOML (1 when it
/// cannot be found).
fn line_of_key(text: &str, key: &str) -> usize {
    let quoted = format!("\"{key}\"");
    text.lines()
        .position(|line| {
            let line = line.trim_start();
            let header = line
                .strip_prefix('[')
                .map(|h| h.trim_start_matches('[').split(']').next().unwrap_or(""));
            line.starts_with(&quoted)
                || line
                    .strip_prefix(key)
                    .is_some_and(|rest| rest.trim_start().starts_with('='))
                || header.is_some_and(|h| h.split('.').any(|part| part.trim() == key))
        })
        .map_or(1, |index| index + 1)
}

/// The configuration for one environment: the environment's keys over the
/// top level's inheritable ones, as wrangler merges them.
fn resolve(
    path: &Path,
    mut top: RawConfig,
    env: Option<&str>,
    ignored: Vec<(String, &'static str)>,
) -> Result<WorkerConfig, ConfigError> {
    let folder = path.parent().and_then(|p| p.file_name());
    let top_name = top.name.clone().unwrap_or_else(|| name_from(folder));
    let raw = match env {
        None => top,
        Some(name) => {
            let Some(environment) = top.env.remove(name) else {
                return Err(ConfigError::NoSuchEnvironment {
                    path: path.to_path_buf(),
                    name: name.to_string(),
                    available: top.env.keys().cloned().collect(),
                });
            };
            // `route` and `routes` are one setting: an environment that sets
            // either replaces both.
            let sets_routes = environment.routes.is_some() || environment.route.is_some();
            // Inheritable keys fall back to the top level; vars, define and
            // bindings do not (wrangler's rule: each environment states its own).
            RawConfig {
                name: Some(environment.name.unwrap_or(format!("{top_name}-{name}"))),
                main: environment.main.or(top.main),
                compatibility_date: environment.compatibility_date.or(top.compatibility_date),
                compatibility_flags: environment.compatibility_flags.or(top.compatibility_flags),
                routes: if sets_routes {
                    environment.routes
                } else {
                    top.routes
                },
                route: if sets_routes {
                    environment.route
                } else {
                    top.route
                },
                vars: environment.vars,
                kv_namespaces: environment.kv_namespaces,
                services: environment.services,
                durable_objects: environment.durable_objects,
                queues: environment.queues,
                // Migrations belong to the worker, not to an environment.
                migrations: top.migrations,
                triggers: environment.triggers.or(top.triggers),
                limits: environment.limits.or(top.limits),
                build: environment.build.or(top.build),
                alias: environment.alias.or(top.alias),
                define: environment.define,
                rules: environment.rules.or(top.rules),
                no_bundle: environment.no_bundle.or(top.no_bundle),
                find_additional_modules: environment
                    .find_additional_modules
                    .or(top.find_additional_modules),
                base_dir: environment.base_dir.or(top.base_dir),
                jsx_factory: environment.jsx_factory.or(top.jsx_factory),
                jsx_fragment: environment.jsx_fragment.or(top.jsx_fragment),
                dev: environment.dev.or(top.dev),
                assets: environment.assets.or(top.assets),
                env: BTreeMap::new(),
            }
        }
    };
    // A project of static assets alone has no `main`.
    let main = match (raw.main, &raw.assets) {
        (Some(main), _) => main,
        (None, Some(_)) => String::new(),
        (None, None) => {
            return Err(ConfigError::Field {
                path: path.to_path_buf(),
                field: "main".into(),
                problem: "is missing: name the worker's entry module, e.g. \"src/index.ts\" (or serve static files with an `assets` section)".into(),
            })
        }
    };
    let mut config = WorkerConfig::defaults(
        raw.name.unwrap_or(top_name),
        main.trim_start_matches("./").to_string(),
        Some(path.to_path_buf()),
    );
    config.compatibility_date = raw.compatibility_date;
    config.compatibility_flags = raw.compatibility_flags.unwrap_or_default();
    config.routes = raw
        .routes
        .unwrap_or_default()
        .into_iter()
        .chain(raw.route)
        .map(Route::pattern)
        .collect();
    config.vars = raw.vars.unwrap_or_default();
    config.kv_namespaces = raw
        .kv_namespaces
        .unwrap_or_default()
        .into_iter()
        .map(|kv| KvNamespaceBinding {
            id: kv.id.unwrap_or_else(|| kv.binding.clone()),
            binding: kv.binding,
        })
        .collect();
    config.services = raw
        .services
        .unwrap_or_default()
        .into_iter()
        .map(|service| ServiceBinding {
            binding: service.binding,
            service: service.service,
            entrypoint: service.entrypoint,
            props: service.props,
        })
        .collect();
    config.durable_objects =
        durable_object_bindings(path, &config.name, raw.durable_objects, raw.migrations)?;
    (config.queue_producers, config.queue_consumers) = queues(path, raw.queues)?;
    config.crons = raw.triggers.unwrap_or_default().crons;
    config.limits = raw.limits.unwrap_or_default();
    config.build = raw.build.unwrap_or_default();
    config.alias = raw.alias.unwrap_or_default();
    config.define = raw.define.unwrap_or_default();
    config.rules = raw.rules.unwrap_or_default();
    config.no_bundle = raw.no_bundle.unwrap_or(false);
    config.find_additional_modules = raw.find_additional_modules.unwrap_or(false);
    config.base_dir = raw.base_dir;
    config.jsx_factory = raw.jsx_factory;
    config.jsx_fragment = raw.jsx_fragment;
    config.dev = raw.dev.unwrap_or_default();
    config.assets = raw.assets;
    config.ignored = ignored;
    Ok(config)
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
        assert_eq!(config.vars["LIMIT"], serde_json::json!(3));
        assert_eq!(config.limits.cpu_ms, 20);
        assert_eq!(config.limits.memory_mb, 128);
        assert_eq!(config.kv_namespaces[0].binding, "CACHE");
        assert_eq!(config.crons, ["*/5 * * * *"]);
    }

    #[test]
    fn durable_object_classes_follow_the_migrations() {
        let config = |migrations: &str| {
            let text = format!(
                "name = \"w\"\nmain = \"i.js\"\n\
                 [[durable_objects.bindings]]\nname = \"ROOM\"\nclass_name = \"Room\"\n\
                 [[durable_objects.bindings]]\nname = \"OTHER\"\nclass_name = \"X\"\nscript_name = \"other\"\n\
                 {migrations}"
            );
            WorkerConfig::parse(Path::new("wrangler.toml"), &text)
        };
        let created = config("[[migrations]]\ntag = \"v1\"\nnew_classes = [\"Room\"]\n").unwrap();
        assert_eq!(created.durable_objects[0].class_name, "Room");
        assert_eq!(created.durable_objects[0].script_name, None);
        // Another worker's class needs no migration here.
        assert_eq!(
            created.durable_objects[1].script_name.as_deref(),
            Some("other")
        );
        let renamed = "[[migrations]]\ntag = \"v1\"\nnew_sqlite_classes = [\"Lobby\"]\n\
                       [[migrations]]\ntag = \"v2\"\nrenamed_classes = [{ from = \"Lobby\", to = \"Room\" }]\n";
        assert!(config(renamed).is_ok());
        let deleted = "[[migrations]]\ntag = \"v1\"\nnew_sqlite_classes = [\"Room\"]\n\
                       [[migrations]]\ntag = \"v2\"\ndeleted_classes = [\"Room\"]\n";
        for refused in [config(deleted), config("")] {
            let error = refused.unwrap_err().to_string();
            assert!(
                error.contains("`durable_objects.bindings[0].class_name` \"Room\" is not a Durable Object class"),
                "{error}"
            );
        }
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
        assert_eq!(
            error,
            "ridge.toml:3: unknown key `mian`, did you mean `main`?"
        );
        let error = WorkerConfig::parse(
            Path::new("ridge.toml"),
            "name = \"Bad Name\"\nmain = \"x.js\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("`name`"), "{error}");
    }

    const JSONC: &str = r#"{
  // made by create-cloudflare
  "$schema": "node_modules/wrangler/config-schema.json",
  "name": "my-app",
  "main": "src/index.ts",
  "compatibility_date": "2025-10-01",
  "observability": { "enabled": true, },
  "upload_source_maps": true,
  /* environments */
  "vars": { "MODE": "dev" },
  "kv_namespaces": [{ "binding": "KV" }],
  "routes": [{ "pattern": "app.example.com/*", "zone_name": "example.com" }],
  "dev": { "port": 8080, "local_protocol": "https", "inspector_port": 9230 },
  "env": {
    "staging": { "vars": { "MODE": "staging" }, "routes": ["staging.example.com/*"] },
  },
}
"#;

    #[test]
    fn reads_wrangler_jsonc_with_comments_and_trailing_commas() {
        let config = WorkerConfig::parse_as(Path::new("wrangler.jsonc"), JSONC, None).unwrap();
        assert_eq!(config.name, "my-app");
        assert_eq!(config.main, "src/index.ts");
        assert_eq!(config.routes, ["app.example.com/*"]);
        assert_eq!(config.kv_namespaces[0].id, "KV");
        assert_eq!(config.vars["MODE"], "dev");
        assert_eq!(config.dev.port, Some(8080));
        assert_eq!(config.dev.local_protocol, Some(LocalProtocol::Https));
        let ignored: Vec<&str> = config.ignored.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(ignored, ["observability"]);
    }

    #[test]
    fn environments_inherit_what_wrangler_inherits() {
        let config =
            WorkerConfig::parse_as(Path::new("wrangler.jsonc"), JSONC, Some("staging")).unwrap();
        assert_eq!(config.name, "my-app-staging");
        assert_eq!(config.main, "src/index.ts");
        assert_eq!(config.routes, ["staging.example.com/*"]);
        assert_eq!(config.vars["MODE"], "staging");
        assert!(
            config.kv_namespaces.is_empty(),
            "bindings are not inherited"
        );
        let error = WorkerConfig::parse_as(Path::new("wrangler.jsonc"), JSONC, Some("prod"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "wrangler.jsonc has no environment \"prod\" (--env); it has: staging"
        );
    }

    #[test]
    fn json_errors_give_the_line() {
        let error = WorkerConfig::parse_as(
            Path::new("wrangler.json"),
            "{\n  \"name\": \"a\",\n  \"main\": 3\n}\n",
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("line 3"), "{error}");
        let error = WorkerConfig::parse_as(
            Path::new("wrangler.json"),
            "{\n  \"naem\": \"a\",\n  \"main\": \"i.js\"\n}\n",
            None,
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            error,
            "wrangler.json:2: unknown key `naem`, did you mean `name`?"
        );
    }

    #[test]
    fn bindings_ridge_cannot_provide_are_refused_by_name() {
        let text = "name = \"a\"\nmain = \"i.js\"\n\n[[d1_databases]]\nbinding = \"DB\"\ndatabase_id = \"x\"\n";
        let error = WorkerConfig::parse_as(Path::new("wrangler.toml"), text, None)
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "wrangler.toml:4: `d1_databases` binds D1 databases, which Ridge does not provide yet: remove the binding to run this worker"
        );
        // An empty section binds nothing.
        let text = "name = \"a\"\nmain = \"i.js\"\nd1_databases = []\n";
        assert!(WorkerConfig::parse_as(Path::new("wrangler.toml"), text, None).is_ok());
    }

    #[test]
    fn only_the_chosen_environment_must_bind_what_ridge_provides() {
        let text = "name = \"a\"\nmain = \"i.js\"\nroutes = [\"a.example/*\"]\n[env.prod]\nroute = \"prod.example/*\"\n[[env.prod.d1_databases]]\nbinding = \"DB\"\n[env.dev]\nvars = { X = \"1\" }\n";
        let config = WorkerConfig::parse_as(Path::new("wrangler.toml"), text, None).unwrap();
        assert_eq!(config.routes, ["a.example/*"]);
        let error = WorkerConfig::parse_as(Path::new("wrangler.toml"), text, Some("prod"))
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("wrangler.toml:6: `d1_databases`"),
            "{error}"
        );
        // `route` in an environment replaces the top level's `routes`.
        let text = text.replace("[[env.prod.d1_databases]]\nbinding = \"DB\"\n", "");
        let config =
            WorkerConfig::parse_as(Path::new("wrangler.toml"), &text, Some("prod")).unwrap();
        assert_eq!(config.routes, ["prod.example/*"]);
    }

    #[test]
    fn a_missing_name_comes_from_the_folder() {
        let config = WorkerConfig::parse_as(
            Path::new("/p/My_App/wrangler.toml"),
            "main = \"i.js\"\n",
            None,
        )
        .unwrap();
        assert_eq!(config.name, "my-app");
    }
}
