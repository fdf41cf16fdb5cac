//! The `ridge` command line.

use std::io::IsTerminal;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

mod client;
mod init;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use client::AdminClient;
use ridge_deploy::config::LocalProtocol;
use ridge_deploy::project::{Project, ProjectLocation};
use ridge_ext::net::{AllowedHost, OutboundPolicy, TrustedCertificate};
use ridge_node::{DevWorker, IsolateConfig, Node, NodeConfig, StoreSource, WorkerSource};
use ridge_runtime::isolate::worker_snapshot::{self, SnapshotUse};
use ridge_server::h3::QuicOptions;
use ridge_server::tls::{Certificates, CertifiedKey};
use ridge_server::{ConnectionLimits, Edge, EdgeOptions};

/// Ridge runs Cloudflare-style JavaScript/WebAssembly workers, each in its own
/// V8 isolate, over HTTP/1.1 and HTTP/2.
#[derive(Parser)]
#[command(name = "ridge", version, about, long_about = None)]
struct Cli {
    /// Log format: "pretty" for people, "json" for log collectors.
    #[arg(long, global = true, default_value = "pretty", value_parser = ["pretty", "json"])]
    log_format: String,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Internal: builds a worker snapshot in a child process of the node
    /// (bundle on standard input, snapshot on standard output;
    /// `compatibility` is the version's date and flags, as JSON).
    #[command(name = "__build-snapshot", hide = true)]
    BuildSnapshot {
        main: String,
        startup_cpu_ms: u64,
        compatibility: String,
    },
    /// Run one Workers project locally (its wrangler configuration, npm
    /// packages, TypeScript and JSX, collected without a build step):
    /// reloads on edits, errors and stack traces shown in responses.
    Dev(DevArgs),
    /// Create a new Workers project from a template (hello world in
    /// TypeScript or JavaScript, Hono, an OpenAPI app): wrangler.jsonc, the
    /// code, package.json and .gitignore.
    Init(InitArgs),
    /// Run an edge node: workers uploaded through its admin API, or every
    /// worker folder in a directory.
    Serve(ServeArgs),
    /// Collect a Workers project's modules (as `ridge dev` does), upload
    /// them as a new version and activate it.
    Deploy(DeployArgs),
    /// List the workers on a node.
    Workers(AdminArgs),
    /// List a worker's versions, newest first.
    Versions(WorkerArgs),
    /// Make an earlier (or later) version of a worker active again.
    Rollback(RollbackArgs),
    /// Set or delete a worker's secrets (values are never shown).
    #[command(subcommand)]
    Secret(SecretCommand),
    /// Delete a worker with all its versions and secrets.
    Delete(WorkerArgs),
    /// Manage KV namespaces and the keys in them.
    #[command(subcommand)]
    Kv(KvCommand),
    /// Create, list, inspect, purge or delete queues.
    #[command(subcommand)]
    Queues(QueuesCommand),
    /// List or delete a worker's Durable Objects stored on a node.
    #[command(subcommand, name = "do")]
    DurableObjects(ObjectCommand),
    /// Stream a worker's requests live from a node: each with its status,
    /// console output and uncaught exceptions.
    Tail(TailArgs),
    /// Show a worker's usage per hour (requests, CPU and wall time,
    /// subrequests, KV operations, queue messages sent and received,
    /// bytes), summed across nodes.
    Usage(UsageArgs),
}

#[derive(Args)]
struct TailArgs {
    /// The worker to watch (default: `name` in this folder's configuration).
    worker: Option<String>,
    /// Only successful requests ("ok"), or only failed ones ("error": an
    /// exception, an exceeded limit or a 5xx status).
    #[arg(long, value_parser = ["ok", "error"])]
    status: Option<String>,
    /// Only requests with this method (repeatable).
    #[arg(long = "method", value_name = "METHOD")]
    methods: Vec<String>,
    /// Only requests whose URL, console output or exceptions contain TEXT.
    #[arg(long, value_name = "TEXT")]
    search: Option<String>,
    /// Show this share of the matching requests, from 0 to 1.
    #[arg(long, default_value_t = 1.0, value_name = "RATE")]
    sampling_rate: f64,
    /// "pretty" for people, "json" for one JSON object per line.
    #[arg(long, default_value = "pretty", value_parser = ["pretty", "json"])]
    format: String,
    #[command(flatten)]
    admin: AdminArgs,
}

#[derive(Args)]
struct UsageArgs {
    /// The worker (default: `name` in this folder's configuration).
    worker: Option<String>,
    /// From when: a duration back from now (30m, 24h, 7d), a date-time
    /// (2026-11-22T10:00:00Z) or seconds since the Unix epoch.
    #[arg(long, default_value = "24h")]
    since: String,
    /// Print the API's JSON answer instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    admin: AdminArgs,
}

/// The worker named on the command line, or in this folder's
/// configuration (wrangler.* or ridge.toml).
fn worker_or_config(name: &Option<String>) -> Result<String> {
    match name {
        Some(name) => Ok(name.clone()),
        None => Ok(ridge_deploy::config::WorkerConfig::from_dir(Path::new("."))
            .context("no worker named, and no configuration here to take its name from")?
            .name),
    }
}

#[derive(Subcommand)]
enum KvCommand {
    /// Create, list or delete namespaces.
    #[command(subcommand)]
    Namespace(NamespaceCommand),
    /// Print a key's value to standard output.
    Get {
        key: String,
        #[command(flatten)]
        namespace: NamespaceArg,
    },
    /// Write a key: the value is VALUE, the contents of --path, or standard
    /// input.
    Put {
        key: String,
        /// The value (omit to read --path or standard input).
        value: Option<String>,
        /// Read the value from this file.
        #[arg(long, value_name = "FILE", conflicts_with = "value")]
        path: Option<PathBuf>,
        /// Delete the key after this many seconds (at least 60).
        #[arg(long, value_name = "SECONDS")]
        ttl: Option<u64>,
        /// Metadata stored with the key, as JSON.
        #[arg(long, value_name = "JSON")]
        metadata: Option<String>,
        #[command(flatten)]
        namespace: NamespaceArg,
    },
    /// List keys, one per line, in byte order.
    List {
        /// Only keys starting with this.
        #[arg(long, default_value = "")]
        prefix: String,
        #[command(flatten)]
        namespace: NamespaceArg,
    },
    /// Delete a key.
    Delete {
        key: String,
        #[command(flatten)]
        namespace: NamespaceArg,
    },
}

#[derive(Subcommand)]
enum NamespaceCommand {
    /// Create a namespace (ids: 1-64 of A-Z, a-z, 0-9, '-', '_').
    Create {
        id: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// List namespaces.
    List(AdminArgs),
    /// Delete a namespace and every key in it (refused while a worker's
    /// active version is bound to it).
    Delete {
        id: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
}

/// Which namespace a key command is about.
#[derive(Args)]
struct NamespaceArg {
    /// The namespace id.
    #[arg(long, short = 'n', value_name = "ID")]
    namespace: String,
    #[command(flatten)]
    admin: AdminArgs,
}

/// Where the admin API is, and the token it wants.
#[derive(Args)]
struct AdminArgs {
    /// The node's admin API [default: `server` in ~/.config/ridge/config.toml,
    /// else http://127.0.0.1:8788].
    #[arg(long, env = "RIDGE_SERVER")]
    server: Option<String>,
    /// The admin API's bearer token [default: `token` in
    /// ~/.config/ridge/config.toml].
    #[arg(long, env = "RIDGE_ADMIN_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

impl AdminArgs {
    /// A client for the server and token from the flags, the environment,
    /// or the user's config file, in that order.
    fn client(&self) -> Result<AdminClient> {
        let file = UserConfig::load()?;
        let server = self
            .server
            .clone()
            .or(file.server)
            .unwrap_or_else(|| "http://127.0.0.1:8788".into());
        let token = self.token.clone().or(file.token).context(
            "no admin token: pass --token, set RIDGE_ADMIN_TOKEN, or put token = \"…\" in ~/.config/ridge/config.toml",
        )?;
        Ok(AdminClient::new(&server, &token))
    }
}

/// `~/.config/ridge/config.toml` (or `$XDG_CONFIG_HOME/ridge/config.toml`):
/// where the client commands find a node when no flag or variable says.
#[derive(Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct UserConfig {
    server: Option<String>,
    token: Option<String>,
}

impl UserConfig {
    fn load() -> Result<Self> {
        let base = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")));
        let Some(path) = base.map(|b| b.join("ridge/config.toml")) else {
            return Ok(Self::default());
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                toml::from_str(&text).with_context(|| format!("invalid {}", path.display()))
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(error) => Err(error).with_context(|| format!("cannot read {}", path.display())),
        }
    }
}

#[derive(Args)]
struct InitArgs {
    /// Folder for the new project (created if missing; must not hold a
    /// worker configuration already).
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// The worker's name [default: the folder's name].
    #[arg(long)]
    name: Option<String>,
    /// What the project starts as.
    #[arg(long, short, value_enum, default_value = "hello")]
    template: init::Template,
    /// Write Ridge's ridge.toml instead of wrangler.jsonc.
    #[arg(long)]
    ridge_toml: bool,
}

/// Which worker project: a folder, a script, a configuration file, an
/// environment.
#[derive(Args)]
struct ProjectArgs {
    /// The worker: a folder with a wrangler.jsonc, wrangler.json,
    /// wrangler.toml or ridge.toml (the first found, ridge.toml first), or a
    /// script (.js, .mjs, .cjs, .ts, .mts) such as wrangler's bundled output.
    #[arg(default_value = ".")]
    path: PathBuf,
    /// Read the worker's configuration from FILE instead of looking in the
    /// folder; a script given as PATH is then its `main`. `ridge dev` takes
    /// it more than once, as wrangler does: the first worker is served on
    /// the port, the others run beside it for its service bindings.
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    config: Vec<PathBuf>,
    /// Use the configuration's `[env.NAME]` section (its name becomes
    /// NAME-suffixed unless the section names the worker).
    #[arg(short = 'e', long = "env", value_name = "NAME")]
    env: Option<String>,
}

impl ProjectArgs {
    fn location(&self) -> ProjectLocation {
        ProjectLocation {
            path: self.path.clone(),
            config: self.config.first().cloned(),
            env: self.env.clone(),
        }
    }

    /// `ridge dev`'s other workers: the configuration files after the
    /// first, each in its own folder.
    fn other_locations(&self) -> Vec<ProjectLocation> {
        self.config
            .iter()
            .skip(1)
            .map(|file| ProjectLocation {
                path: file
                    .parent()
                    .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
                config: Some(file.clone()),
                env: self.env.clone(),
            })
            .collect()
    }

    /// Refuses more than one `-c` where one project is meant.
    fn single(&self) -> Result<&Self> {
        if self.config.len() > 1 {
            anyhow::bail!(
                "-c/--config names one configuration here; only `ridge dev` runs several workers"
            );
        }
        Ok(self)
    }

    /// Opens the project, saying which configuration file it uses and what
    /// in it Ridge ignores.
    fn open(&self) -> Result<Project> {
        let project = self.location().open()?;
        match &project.config.file {
            Some(file) => tracing::info!(config = %file.display(), "using {}", file.display()),
            None => {
                tracing::info!(script = %self.path.display(), "no configuration file: running the script with defaults")
            }
        }
        for (key, why) in &project.config.ignored {
            tracing::warn!(key = %key, "ignoring `{key}` in {}: {why}", project.config_name());
        }
        Ok(project)
    }
}

#[derive(Args)]
struct DeployArgs {
    #[command(flatten)]
    project: ProjectArgs,
    /// A note stored with the version.
    #[arg(long, short)]
    message: Option<String>,
    #[command(flatten)]
    admin: AdminArgs,
}

#[derive(Args)]
struct WorkerArgs {
    /// The worker's name (default: `name` in this folder's configuration).
    #[arg(long)]
    name: Option<String>,
    #[command(flatten)]
    admin: AdminArgs,
}

impl WorkerArgs {
    fn worker(&self) -> Result<String> {
        worker_or_config(&self.name)
    }
}

#[derive(Args)]
struct RollbackArgs {
    /// The version to activate (see `ridge versions`).
    version: String,
    #[command(flatten)]
    worker: WorkerArgs,
}

#[derive(Subcommand)]
enum SecretCommand {
    /// Set a secret; the value is read from standard input.
    Put {
        /// The name the worker sees in `env`.
        secret: String,
        #[command(flatten)]
        worker: WorkerArgs,
    },
    /// Delete a secret.
    Delete {
        secret: String,
        #[command(flatten)]
        worker: WorkerArgs,
    },
}

#[derive(Subcommand)]
enum QueuesCommand {
    /// List the queues with their backlog, messages in flight and
    /// dead-lettered messages.
    List(AdminArgs),
    /// Create a queue, for workers to send to and consume.
    Create {
        /// 1-63 characters of a-z, 0-9, '-' and '_'.
        name: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Show a queue's backlog, messages in flight and delayed, its oldest
    /// message and how many were dead-lettered.
    Info {
        name: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Delete every message of a queue.
    Purge {
        name: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Delete a queue and its messages.
    Delete {
        name: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
}

#[derive(Subcommand)]
enum ObjectCommand {
    /// List the objects of a class: id, storage size, alarm.
    List {
        /// The worker whose class it is.
        worker: String,
        /// The class (as `class_name` in the worker's configuration).
        class: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Delete an object: its storage and alarm (a new one starts empty).
    Delete {
        /// The worker whose class it is.
        worker: String,
        /// The object's class.
        class: String,
        /// The object's id (64 hex digits, as `ridge do list` shows it).
        id: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
}

#[derive(Args)]
struct DevArgs {
    #[command(flatten)]
    project: ProjectArgs,
    /// Address to listen on [default: `dev.ip` of the configuration, else
    /// 127.0.0.1].
    #[arg(long)]
    host: Option<IpAddr>,
    /// Port to listen on, 0 picks a free one [default: `dev.port` of the
    /// configuration, else 8787].
    #[arg(long)]
    port: Option<u16>,
    /// Add or override a variable in `env`, as KEY=VALUE (repeatable).
    #[arg(long = "var", value_name = "KEY=VALUE", value_parser = parse_var)]
    vars: Vec<(String, String)>,
    #[command(flatten)]
    edge: EdgeArgs,
    /// Isolate threads (0: one per CPU core). They also serve the HTTP/1.1
    /// and HTTP/2 connections, handed to them in turn.
    #[arg(long, default_value_t = 1)]
    isolate_threads: usize,
    #[command(flatten)]
    isolates: IsolateArgs,
    /// Keep local state (KV) in DIR [default: .ridge/state beside the
    /// configuration].
    #[arg(long, value_name = "DIR", conflicts_with = "no_persist")]
    persist_to: Option<PathBuf>,
    /// Keep no state between runs: KV starts empty and is forgotten on exit.
    #[arg(long)]
    no_persist: bool,
    /// Relax the CPU, memory, wall-clock and subrequest limits (which are
    /// otherwise those of production), e.g. to step through code.
    #[arg(long)]
    no_limits: bool,
    /// Expose the V8 inspector for Chrome DevTools / VS Code (default
    /// 127.0.0.1:9229); limits are relaxed so breakpoints can hold.
    #[arg(long, value_name = "HOST:PORT", num_args = 0..=1, default_missing_value = "127.0.0.1:9229")]
    inspect: Option<SocketAddr>,
    /// Like --inspect, and wait for a debugger, paused before the worker's
    /// first statement.
    #[arg(long, value_name = "HOST:PORT", num_args = 0..=1, default_missing_value = "127.0.0.1:9229", conflicts_with = "inspect")]
    inspect_brk: Option<SocketAddr>,
    /// When a cold start restores a V8 snapshot of the worker's evaluated
    /// modules (kept in .ridge/snapshots/ beside the configuration) instead of
    /// evaluating them: when that is faster (auto), always, or never (no
    /// snapshot is made).
    #[arg(long, default_value = "auto", value_name = "WHEN", value_parser = snapshot_use())]
    snapshots: SnapshotUse,
    #[command(flatten)]
    outbound_tls: OutboundTlsArgs,
    #[command(flatten)]
    traces: TraceArgs,
}

#[derive(Args)]
struct ServeArgs {
    /// Serve every subfolder of DIR that has a worker configuration
    /// (wrangler.* or ridge.toml), without a store
    /// or admin API. Without --workers, Ridge serves what was uploaded
    /// through the admin API into --store.
    #[arg(long, value_name = "DIR")]
    workers: Option<PathBuf>,
    /// Where uploaded workers are kept: postgres://USER:PASSWORD@HOST/DB
    /// (shared by several nodes), or sqlite:PATH (default: ridge.db in
    /// --data-dir).
    #[arg(long, value_name = "URL", conflicts_with = "workers")]
    store: Option<String>,
    /// Folder for the embedded store (uploaded workers and KV; with
    /// --workers, only KV).
    #[arg(long, value_name = "DIR", default_value = "ridge-data")]
    data_dir: PathBuf,
    /// Address of the admin API (upload, versions, rollback, secrets).
    #[arg(long, default_value = "127.0.0.1:8788", conflicts_with = "workers")]
    admin_listen: SocketAddr,
    /// Bearer token the admin API requires.
    #[arg(
        long,
        env = "RIDGE_ADMIN_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    admin_token: Option<String>,
    /// Address for HTTP traffic to workers.
    #[arg(long, default_value = "0.0.0.0:8080")]
    listen: SocketAddr,
    /// Also route `<worker name>.<DOMAIN>` to each worker.
    #[arg(long, value_name = "DOMAIN")]
    base_domain: Option<String>,
    #[command(flatten)]
    edge: EdgeArgs,
    /// Isolate threads (0: one per CPU core). They also serve the HTTP/1.1
    /// and HTTP/2 connections, handed to them in turn.
    #[arg(long, default_value_t = 0)]
    isolate_threads: usize,
    #[command(flatten)]
    isolates: IsolateArgs,
    /// Let workers fetch this host even though it is (or resolves to) a
    /// private, loopback or link-local address: HOST or IP (every port),
    /// HOST:PORT, IP:PORT or [IPV6]:PORT (that port only). Repeatable.
    #[arg(long = "allow-outbound", value_name = "HOST[:PORT]")]
    allow_outbound: Vec<AllowedHost>,
    #[command(flatten)]
    outbound_tls: OutboundTlsArgs,
    /// How often usage counts are added to the store, in seconds.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    usage_flush_interval: u64,
    /// When a cold start restores a V8 snapshot of the version's evaluated
    /// modules (made in the background after each upload and kept in the
    /// store; with --workers, at startup and kept in --data-dir) instead of
    /// evaluating them: when that is faster (auto), always, or never (no
    /// snapshot is made).
    #[arg(long, default_value = "auto", value_name = "WHEN", value_parser = snapshot_use())]
    snapshots: SnapshotUse,
    #[command(flatten)]
    traces: TraceArgs,
}

#[derive(Args)]
struct TraceArgs {
    /// Export OpenTelemetry traces to this OTLP/HTTP collector (e.g.
    /// http://127.0.0.1:4318; spans go to /v1/traces under it): a span per
    /// request, with child spans for subrequests and KV operations, and a
    /// W3C traceparent on subrequests.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT", value_name = "URL")]
    otlp_endpoint: Option<String>,
    /// Share of requests traced (0 to 1) when the caller sent no
    /// traceparent; a caller's traceparent decides for its requests.
    #[arg(long, default_value_t = 1.0, value_name = "RATIO")]
    trace_sample_ratio: f64,
}

#[derive(Args)]
struct OutboundTlsArgs {
    /// Also trust the certificate authorities in this PEM file for workers'
    /// outbound TLS (fetch, and sockets from connect()), e.g. the private
    /// CA of internal services. Repeatable.
    #[arg(long = "outbound-ca", value_name = "FILE")]
    outbound_ca: Vec<PathBuf>,
}

impl OutboundTlsArgs {
    /// The certificates of every --outbound-ca file.
    fn trusted_ca(&self) -> Result<Vec<TrustedCertificate>> {
        let mut certificates = Vec::new();
        for path in &self.outbound_ca {
            let pem = std::fs::read(path)
                .with_context(|| format!("--outbound-ca {}: cannot read it", path.display()))?;
            certificates.extend(
                ridge_ext::net::trusted_ca_from_pem(&pem).map_err(|error| {
                    anyhow::anyhow!("--outbound-ca {}: {error}", path.display())
                })?,
            );
        }
        Ok(certificates)
    }
}

impl TraceArgs {
    /// The collector and sample ratio, when traces are exported.
    fn exporter(&self) -> Option<(String, f64)> {
        self.otlp_endpoint
            .clone()
            .map(|endpoint| (endpoint, self.trace_sample_ratio))
    }
}

#[derive(Args)]
struct IsolateArgs {
    /// Blank isolates each isolate thread keeps ready for cold starts.
    #[arg(long, default_value_t = 2, value_name = "N")]
    warm_isolates: usize,
    /// Drop a worker's isolate after this many seconds without requests.
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    isolate_idle_timeout: u64,
    /// Drop a Durable Object's instance (its state in memory, not its
    /// storage) after this many seconds without events; the next call
    /// makes a new one.
    #[arg(long, default_value_t = 70, value_name = "SECONDS")]
    object_idle_timeout: u64,
    /// Memory all isolates may use together before the least recently used
    /// are dropped, in MiB.
    #[arg(long, default_value_t = 4096, value_name = "MIB")]
    isolate_memory_budget: usize,
    /// Size of the node's cache of KV reads, in MiB.
    #[arg(long, default_value_t = 64, value_name = "MIB")]
    kv_cache_mb: u64,
    /// Size of the node's Cache API storage (caches.default, caches.open),
    /// in MiB.
    #[arg(long, default_value_t = 64, value_name = "MIB")]
    cache_mb: u64,
    /// Static asset files (up to 1 MiB each, and their compressed forms)
    /// kept in memory, all workers together, in MiB; larger files are
    /// streamed from disk.
    #[arg(long, default_value_t = 128, value_name = "MIB")]
    asset_cache_mb: u64,
}

impl IsolateArgs {
    fn config(&self, threads: usize) -> IsolateConfig {
        IsolateConfig {
            threads,
            warm_isolates: self.warm_isolates,
            idle_timeout: Duration::from_secs(self.isolate_idle_timeout),
            object_idle_timeout: Duration::from_secs(self.object_idle_timeout),
            memory_budget_bytes: self.isolate_memory_budget * 1024 * 1024,
            kv_cache_bytes: self.kv_cache_mb * 1024 * 1024,
            cache_bytes: self.cache_mb * 1024 * 1024,
            asset_cache_bytes: self.asset_cache_mb * 1024 * 1024,
        }
    }
}

#[derive(Args)]
struct EdgeArgs {
    /// Serve HTTPS: HTTP/2 and HTTP/1.1 by ALPN over TCP, and HTTP/3 over
    /// QUIC on the same port number (UDP). Without --cert/--key or
    /// --certs-dir a self-signed certificate for localhost is generated.
    #[arg(long)]
    https: bool,
    /// TLS certificate chain (PEM). Implies --https.
    #[arg(
        long,
        value_name = "FILE",
        requires = "key",
        conflicts_with = "certs_dir"
    )]
    cert: Option<PathBuf>,
    /// TLS private key (PEM). Implies --https.
    #[arg(long, value_name = "FILE", requires = "cert")]
    key: Option<PathBuf>,
    /// Certificates for many hostnames, chosen by SNI: NAME.pem (chain and
    /// key) or NAME.crt with NAME.key, for the names in each certificate
    /// (wildcards too); default.* answers any other name. Changes are
    /// picked up without a restart. Implies --https.
    #[arg(long, value_name = "DIR")]
    certs_dir: Option<PathBuf>,
    /// Serve HTTPS without HTTP/3.
    #[arg(long)]
    no_http3: bool,
    /// Close QUIC connections idle this long, in seconds.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    quic_idle_timeout: u64,
    /// Concurrent HTTP/3 requests per connection.
    #[arg(long, default_value_t = 256, value_name = "N")]
    quic_max_streams: u32,
    /// QUIC flow-control window per stream, in KiB.
    #[arg(long, default_value_t = 1024, value_name = "KIB")]
    quic_stream_window: u32,
    /// QUIC flow-control window per connection, in KiB.
    #[arg(long, default_value_t = 8192, value_name = "KIB")]
    quic_connection_window: u32,
    /// Make every new QUIC client prove its address with a Retry (one more
    /// round trip); otherwise Retry is used only when many handshakes are
    /// in progress at once.
    #[arg(long)]
    quic_retry: bool,
    /// Most client connections open at once over TCP (HTTP/1.1, HTTP/2,
    /// WebSockets); past it new ones are closed at once [default: the
    /// file-descriptor limit less 256, at most 16384].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    max_connections: Option<u64>,
    /// Most TCP connections open at once from one client address (an IPv6
    /// client's /64). Behind a proxy, raise it: every client is the proxy.
    #[arg(long, default_value_t = 1024, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    max_connections_per_client: u64,
    /// Seconds an HTTP/1.1 client has to send a request's headers, counted
    /// from the start of the request or the end of the previous one (so it
    /// also closes idle keep-alive connections), and to finish a TLS
    /// handshake.
    #[arg(long, default_value_t = 30, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    header_timeout: u64,
    /// Seconds with no byte moving either way, and no request waiting for
    /// its worker, after which a TCP connection is asked to close (the
    /// response in progress finishes first); it is closed if still nothing
    /// moves for as long again.
    #[arg(long, default_value_t = 60, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout: u64,
}

impl EdgeArgs {
    fn certificates(&self) -> Result<Option<Arc<Certificates>>> {
        if let Some(dir) = &self.certs_dir {
            return Ok(Some(Certificates::from_dir(dir)?));
        }
        let certified = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => CertifiedKey::from_pem_files(cert, key)?,
            _ if self.https => CertifiedKey::self_signed()?,
            _ => return Ok(None),
        };
        Ok(Some(Certificates::single(certified)?))
    }

    /// Where and how the edge listens.
    fn edge(&self, addr: SocketAddr) -> Result<EdgeOptions> {
        let quic = (!self.no_http3).then(|| QuicOptions {
            idle_timeout: Duration::from_secs(self.quic_idle_timeout),
            max_streams: self.quic_max_streams,
            stream_window: self.quic_stream_window.saturating_mul(1024),
            connection_window: self.quic_connection_window.saturating_mul(1024),
            retry_always: self.quic_retry,
        });
        let defaults = ConnectionLimits::default();
        let connections = ConnectionLimits {
            max_connections: self
                .max_connections
                .map_or(defaults.max_connections, |n| n as usize),
            max_per_client: self.max_connections_per_client as usize,
            header_timeout: Duration::from_secs(self.header_timeout),
            idle_timeout: Duration::from_secs(self.idle_timeout),
        };
        Ok(EdgeOptions {
            addr,
            certificates: self.certificates()?,
            quic,
            connections,
        })
    }
}

fn parse_var(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(format!("expected KEY=VALUE, got {text:?}")),
    }
}

/// Errors are printed as their message chain, never with a backtrace
/// (which `RUST_BACKTRACE`, set on many developers' machines, would add to
/// anyhow's default report): a user's mistake is not a crash.
fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    // Before the connection cap is derived from it.
    ridge_server::connections::raise_fd_limit();
    // One TLS provider for every rustls client in the process (admin API
    // calls, the OTLP trace exporter).
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    if let Command::BuildSnapshot {
        main,
        startup_cpu_ms,
        compatibility,
    } = &cli.command
    {
        worker_snapshot::build_to_stdout(main, *startup_cpu_ms, compatibility);
    }
    // `ridge dev` logs a line per request; an edge node does not by default
    // (RIDGE_LOG=info,ridge::request=info turns the records on).
    let default_filter = match cli.command {
        Command::Dev(_) => "info",
        _ => "info,ridge::request=warn",
    };
    let filter =
        EnvFilter::try_from_env("RIDGE_LOG").unwrap_or_else(|_| EnvFilter::new(default_filter));
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    if cli.log_format == "json" {
        subscriber.json().init();
    } else {
        subscriber.init();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::BuildSnapshot { .. } => unreachable!("handled before the runtime starts"),
            Command::Dev(args) => dev(args).await,
            Command::Init(args) => init::init(&args.dir, args.name, args.template, args.ridge_toml),
            Command::Serve(args) => serve(args).await,
            Command::Deploy(args) => {
                // The project's mistakes first: they need no server.
                let project = args.project.single()?.open()?;
                project.build()?;
                let bundle = project.collect()?.bundle;
                let assets = project.collect_assets()?;
                for warning in assets.iter().flat_map(|assets| &assets.warnings) {
                    eprintln!("warning: {warning}");
                }
                let client = args.admin.client()?;
                let answer = client
                    .deploy(&project.config, bundle, assets, args.message, |line| {
                        eprintln!("{line}")
                    })
                    .await?;
                let version = &answer["version"];
                println!(
                    "Deployed {} version {}",
                    answer["worker"].as_str().unwrap_or("?"),
                    version["id"].as_str().unwrap_or("?")
                );
                for route in version["routes"].as_array().into_iter().flatten() {
                    println!("  route {}", route.as_str().unwrap_or_default());
                }
                Ok(())
            }
            Command::Workers(admin) => {
                let answer = admin.client()?.workers().await?;
                for worker in answer["workers"].as_array().into_iter().flatten() {
                    let versions = worker["versions"].as_u64().unwrap_or(0);
                    println!(
                        "{:<24} active {}  ({versions} version{})",
                        worker["name"].as_str().unwrap_or("?"),
                        worker["active_version"].as_str().unwrap_or("-"),
                        if versions == 1 { "" } else { "s" }
                    );
                }
                Ok(())
            }
            Command::Versions(args) => {
                let answer = args.admin.client()?.versions(&args.worker()?).await?;
                for version in answer["versions"].as_array().into_iter().flatten() {
                    let marker = if version["active"] == true { "*" } else { " " };
                    println!(
                        "{marker} {}  {}  {} bytes  {}",
                        version["id"].as_str().unwrap_or("?"),
                        utc_time(version["created_at"].as_i64().unwrap_or(0)),
                        version["size"],
                        version["message"].as_str().unwrap_or("")
                    );
                }
                Ok(())
            }
            Command::Rollback(args) => {
                let worker = args.worker.worker()?;
                args.worker
                    .admin
                    .client()?
                    .activate(&worker, &args.version)
                    .await?;
                println!("{worker} now serves version {}", args.version);
                Ok(())
            }
            Command::Secret(SecretCommand::Put { secret, worker }) => {
                let mut value = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut value)?;
                let value = value.strip_suffix('\n').unwrap_or(&value).to_string();
                let name = worker.worker()?;
                worker
                    .admin
                    .client()?
                    .put_secret(&name, &secret, value)
                    .await?;
                println!("Secret {secret} set for {name}");
                Ok(())
            }
            Command::Secret(SecretCommand::Delete { secret, worker }) => {
                let name = worker.worker()?;
                worker.admin.client()?.delete_secret(&name, &secret).await?;
                println!("Secret {secret} deleted from {name}");
                Ok(())
            }
            Command::Delete(args) => {
                let name = args.worker()?;
                args.admin.client()?.delete_worker(&name).await?;
                println!("Deleted {name}");
                Ok(())
            }
            Command::Kv(command) => kv_command(command).await,
            Command::Queues(command) => queues_command(command).await,
            Command::DurableObjects(command) => object_command(command).await,
            Command::Tail(args) => tail(args).await,
            Command::Usage(args) => usage(args).await,
        }
    })
}

async fn tail(args: TailArgs) -> Result<()> {
    let worker = worker_or_config(&args.worker)?;
    let mut filter = vec![("sampling_rate", args.sampling_rate.to_string())];
    if let Some(status) = &args.status {
        filter.push(("status", status.clone()));
    }
    if !args.methods.is_empty() {
        filter.push(("method", args.methods.join(",")));
    }
    if let Some(search) = &args.search {
        filter.push(("search", search.clone()));
    }
    let mut response = args.admin.client()?.tail(&worker, &filter).await?;
    let mut pending = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        pending.extend_from_slice(&chunk);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            if args.format == "json" {
                print!("{}", String::from_utf8_lossy(&line));
                continue;
            }
            let Ok(event) = serde_json::from_slice::<serde_json::Value>(&line) else {
                continue;
            };
            print_tail_event(&event);
        }
    }
    bail!("the node closed the tail")
}

/// `--snapshots`: its values listed in `--help`, parsed by the runtime.
fn snapshot_use() -> impl clap::builder::TypedValueParser<Value = SnapshotUse> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(["auto", "always", "never"])
        .map(|text| text.parse().expect("one of the listed values"))
}

/// One tail line as people read it.
fn print_tail_event(event: &serde_json::Value) {
    let text = |field: &str| event[field].as_str().unwrap_or_default().to_string();
    match event["type"].as_str() {
        Some("connected") => eprintln!("Tailing {}; Ctrl-C to stop", text("worker")),
        Some("dropped") => println!(
            "[{} events dropped: this tail could not keep up]",
            event["count"]
        ),
        Some("event") => {
            let time = utc_time(event["eventTimestamp"].as_i64().unwrap_or(0) / 1000);
            let what = if event["eventType"] == "scheduled" {
                format!("cron \"{}\"", text("cron"))
            } else {
                format!("{} {}", text("method"), text("url"))
            };
            println!(
                "{time}  {what}  {} {}  ({:.1} ms, CPU {:.2} ms)",
                event["status"],
                text("outcome"),
                event["wallMs"].as_f64().unwrap_or(0.0),
                event["cpuMs"].as_f64().unwrap_or(0.0),
            );
            for log in event["logs"].as_array().into_iter().flatten() {
                println!(
                    "  ({}) {}",
                    log["level"].as_str().unwrap_or("log"),
                    log["message"].as_str().unwrap_or_default()
                );
            }
            for exception in event["exceptions"].as_array().into_iter().flatten() {
                println!("  (exception) {}", exception.as_str().unwrap_or_default());
            }
        }
        _ => {}
    }
}

/// `--since` as seconds since the Unix epoch.
fn parse_since(text: &str, now: i64) -> Result<i64> {
    if let Ok(seconds) = text.parse::<i64>() {
        return Ok(seconds);
    }
    let unit = match text.chars().last() {
        Some('m') => Some(60),
        Some('h') => Some(3600),
        Some('d') => Some(86400),
        _ => None,
    };
    if let Some(unit) = unit {
        if let Ok(count) = text[..text.len() - 1].parse::<i64>() {
            return Ok(now - count * unit);
        }
    }
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|_| {
            anyhow::anyhow!(
                "--since {text:?}: use a duration (30m, 24h, 7d), a date-time (2026-11-22T10:00:00Z) or seconds since the epoch"
            )
        })
}

async fn usage(args: UsageArgs) -> Result<()> {
    let worker = worker_or_config(&args.worker)?;
    let since = parse_since(&args.since, ridge_core::clock::unix_now())?;
    let answer = args.admin.client()?.usage(&worker, since).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(());
    }
    println!(
        "{:<24} {:<18} {:>9} {:>11} {:>11} {:>6} {:>6} {:>8} {:>10} {:>10}",
        "hour",
        "version",
        "requests",
        "cpu ms",
        "wall ms",
        "subreq",
        "kv ops",
        "messages",
        "bytes in",
        "bytes out"
    );
    let rows = answer["hours"].as_array().into_iter().flatten();
    for row in rows.chain(std::iter::once(&answer["total"])) {
        let hour = match row["hour"].as_i64() {
            Some(hour) => utc_time(hour),
            None => "total".to_string(),
        };
        let number = |field: &str| row[field].as_i64().unwrap_or(0);
        let version = row["version"].as_str().unwrap_or("");
        println!(
            "{hour:<24} {:<18} {:>9} {:>11.1} {:>11.1} {:>6} {:>6} {:>8} {:>10} {:>10}",
            &version[..version.len().min(18)],
            number("requests"),
            number("cpu_us") as f64 / 1000.0,
            number("wall_us") as f64 / 1000.0,
            number("subrequests"),
            number("kv_operations"),
            number("queue_messages"),
            number("bytes_in"),
            number("bytes_out"),
        );
    }
    Ok(())
}

async fn kv_command(command: KvCommand) -> Result<()> {
    match command {
        KvCommand::Namespace(NamespaceCommand::Create { id, admin }) => {
            let answer = admin.client()?.kv_create_namespace(&id).await?;
            if answer["created"] == true {
                println!("Created KV namespace {id}");
            } else {
                println!("KV namespace {id} exists already");
            }
        }
        KvCommand::Namespace(NamespaceCommand::List(admin)) => {
            let answer = admin.client()?.kv_namespaces().await?;
            for namespace in answer["namespaces"].as_array().into_iter().flatten() {
                println!(
                    "{:<32} created {}",
                    namespace["id"].as_str().unwrap_or("?"),
                    utc_time(namespace["created_at"].as_i64().unwrap_or(0))
                );
            }
        }
        KvCommand::Namespace(NamespaceCommand::Delete { id, admin }) => {
            admin.client()?.kv_delete_namespace(&id).await?;
            println!("Deleted KV namespace {id}");
        }
        KvCommand::Get { key, namespace } => {
            let value = namespace
                .admin
                .client()?
                .kv_get(&namespace.namespace, &key)
                .await?;
            std::io::Write::write_all(&mut std::io::stdout(), &value)?;
        }
        KvCommand::Put {
            key,
            value,
            path,
            ttl,
            metadata,
            namespace,
        } => {
            let bytes = match (value, path) {
                (Some(value), _) => value.into_bytes(),
                (None, Some(path)) => std::fs::read(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?,
                (None, None) => {
                    let mut bytes = Vec::new();
                    std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes)?;
                    bytes
                }
            };
            let size = bytes.len();
            namespace
                .admin
                .client()?
                .kv_put(&namespace.namespace, &key, bytes, ttl, metadata.as_deref())
                .await?;
            println!("Wrote {key} ({size} bytes) to {}", namespace.namespace);
        }
        KvCommand::List { prefix, namespace } => {
            let client = namespace.admin.client()?;
            let mut cursor: Option<String> = None;
            loop {
                let page = client
                    .kv_list(&namespace.namespace, &prefix, cursor.as_deref())
                    .await?;
                for key in page["keys"].as_array().into_iter().flatten() {
                    println!("{}", key["name"].as_str().unwrap_or("?"));
                }
                match page["cursor"].as_str() {
                    Some(next) if page["list_complete"] == false => cursor = Some(next.to_string()),
                    _ => break,
                }
            }
        }
        KvCommand::Delete { key, namespace } => {
            namespace
                .admin
                .client()?
                .kv_delete(&namespace.namespace, &key)
                .await?;
            println!("Deleted {key} from {}", namespace.namespace);
        }
    }
    Ok(())
}

async fn queues_command(command: QueuesCommand) -> Result<()> {
    match command {
        QueuesCommand::List(admin) => {
            let answer = admin.client()?.queues().await?;
            let queues = answer["queues"].as_array().cloned().unwrap_or_default();
            if queues.is_empty() {
                println!("No queues: create one with `ridge queues create NAME`");
            } else {
                println!(
                    "{:<32} {:>8} {:>10} {:>8} {:>14}",
                    "QUEUE", "BACKLOG", "IN FLIGHT", "DELAYED", "DEAD-LETTERED"
                );
            }
            for queue in queues {
                let count = |field: &str| queue[field].as_i64().unwrap_or(0);
                println!(
                    "{:<32} {:>8} {:>10} {:>8} {:>14}",
                    queue["name"].as_str().unwrap_or("?"),
                    count("backlog"),
                    count("in_flight"),
                    count("delayed"),
                    count("dead_lettered"),
                );
            }
        }
        QueuesCommand::Create { name, admin } => {
            admin.client()?.create_queue(&name).await?;
            println!("Created queue {name}");
        }
        QueuesCommand::Info { name, admin } => {
            let queue = admin.client()?.queue_info(&name).await?;
            let oldest = queue["oldest_sent_at_ms"]
                .as_i64()
                .map_or_else(|| "none".to_string(), |ms| utc_time(ms / 1000));
            println!("Queue:           {name}");
            println!(
                "Created:         {}",
                utc_time(queue["created_at"].as_i64().unwrap_or(0))
            );
            let messages = |field: &str| match queue[field].as_i64().unwrap_or(0) {
                1 => "1 message".to_string(),
                n => format!("{n} messages"),
            };
            println!("Backlog:         {}", messages("backlog"));
            println!("In flight:       {}", messages("in_flight"));
            println!("Delayed:         {}", messages("delayed"));
            println!("Oldest message:  {oldest}");
            println!("Dead-lettered:   {}", messages("dead_lettered"));
        }
        QueuesCommand::Purge { name, admin } => {
            let answer = admin.client()?.purge_queue(&name).await?;
            match answer["purged"].as_i64().unwrap_or(0) {
                1 => println!("Purged 1 message from queue {name}"),
                n => println!("Purged {n} messages from queue {name}"),
            }
        }
        QueuesCommand::Delete { name, admin } => {
            admin.client()?.delete_queue(&name).await?;
            println!("Deleted queue {name} and its messages");
        }
    }
    Ok(())
}

async fn object_command(command: ObjectCommand) -> Result<()> {
    match command {
        ObjectCommand::List {
            worker,
            class,
            admin,
        } => {
            let answer = admin.client()?.list_objects(&worker, &class).await?;
            let objects = answer["objects"].as_array().cloned().unwrap_or_default();
            if objects.is_empty() {
                println!("{worker} stores no {class} objects on this node");
            }
            for object in objects {
                let alarm = object["alarm"]
                    .as_i64()
                    .map_or_else(String::new, |ms| format!("  alarm {}", utc_time(ms / 1000)));
                println!(
                    "{}  {:>10} bytes{alarm}",
                    object["id"].as_str().unwrap_or("?"),
                    object["bytes"].as_u64().unwrap_or(0),
                );
            }
        }
        ObjectCommand::Delete {
            worker,
            class,
            id,
            admin,
        } => {
            admin.client()?.delete_object(&worker, &class, &id).await?;
            println!("Deleted {class} object {id} of {worker}");
        }
    }
    Ok(())
}

/// A Unix time as people read it, e.g. "2026-11-22 16:54:34 UTC".
fn utc_time(seconds: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| seconds.to_string())
}

async fn dev(mut args: DevArgs) -> Result<()> {
    let project = args.project.open()?;
    let (config, root) = (&project.config, &project.root);
    // The configuration's `[dev]` settings, under the command line's.
    let host = args
        .host
        .or(config.dev.ip)
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let port = args.port.or(config.dev.port).unwrap_or(8787);
    if config.dev.local_protocol == Some(LocalProtocol::Https) {
        args.edge.https = true;
    }
    let state_dir = (!args.no_persist).then(|| {
        args.persist_to
            .clone()
            .unwrap_or_else(|| root.join(".ridge/state"))
    });
    let inspect = args
        .inspect
        .or(args.inspect_brk)
        .map(|addr| (addr, args.inspect_brk.is_some()));
    let node = Node::start(NodeConfig {
        workers: WorkerSource::Dev(DevWorker {
            project: args.project.location(),
            others: args.project.other_locations(),
            vars: args.vars.into_iter().collect(),
            state_dir,
            no_limits: args.no_limits,
            inspect,
        }),
        edge: args.edge.edge(SocketAddr::new(host, port))?,
        isolates: args.isolates.config(args.isolate_threads),
        snapshots: args.snapshots,
        base_domain: None,
        // Local development talks to local services: no outbound restrictions.
        outbound: OutboundPolicy {
            allow_private: true,
            allow_hosts: Vec::new(),
            trusted_ca: args.outbound_tls.trusted_ca()?,
        },
        traces: args.traces.exporter(),
    })
    .await?;
    if let Some(addr) = node.inspector_addr() {
        tracing::info!("inspector on http://{addr}/json/list");
    }
    announce_http3(node.edge());
    tracing::info!(worker = %config.name, "ready on {}", node.url());
    for line in bindings_banner(config, root, args.project.env.as_deref()) {
        tracing::info!("  {line}");
    }
    stop_signal().await?;
    tracing::info!("shutting down: finishing requests in flight");
    node.shutdown(SHUTDOWN_DEADLINE).await;
    Ok(())
}

/// Waits for Ctrl-C (SIGINT) or SIGTERM (what service managers and
/// container runtimes send): both stop the node gracefully.
async fn stop_signal() -> std::io::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result,
        _ = terminate.recv() => Ok(()),
    }
}

/// What `ridge dev` tells about the worker's bindings when it starts.
fn bindings_banner(
    config: &ridge_deploy::config::WorkerConfig,
    root: &Path,
    env: Option<&str>,
) -> Vec<String> {
    let mut lines = Vec::new();
    if !config.vars.is_empty() {
        let names: Vec<&str> = config.vars.keys().map(String::as_str).collect();
        lines.push(format!("env vars: {}", names.join(", ")));
    }
    if let Ok(secrets) = ridge_node::dev::read_dev_vars(root, env) {
        if !secrets.is_empty() {
            let names: Vec<&str> = secrets.keys().map(String::as_str).collect();
            lines.push(format!("env from .dev.vars: {}", names.join(", ")));
        }
    }
    for binding in &config.kv_namespaces {
        lines.push(format!(
            "env.{}: KV namespace {}",
            binding.binding, binding.id
        ));
    }
    for service in &config.services {
        let entrypoint = service
            .entrypoint
            .as_ref()
            .map(|name| format!(" (entrypoint {name})"))
            .unwrap_or_default();
        lines.push(format!(
            "env.{}: worker {}{entrypoint}",
            service.binding, service.service
        ));
    }
    if !config.crons.is_empty() {
        lines.push(format!(
            "crons: {} (run one with GET /__scheduled?cron=…)",
            config.crons.join(", ")
        ));
    }
    lines
}

/// How long requests in flight may take to finish at shutdown.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);

fn announce_http3(edge: &Edge) {
    if let Some(h3) = &edge.h3 {
        tracing::info!("HTTP/3 on udp://{}", h3.local_addr);
    }
}

async fn serve(args: ServeArgs) -> Result<()> {
    let workers = match &args.workers {
        Some(dir) => WorkerSource::Folder {
            dir: dir.clone(),
            data_dir: args.data_dir.clone(),
        },
        None => WorkerSource::Store(StoreSource {
            url: args.store.clone(),
            data_dir: args.data_dir.clone(),
            admin_listen: args.admin_listen,
            admin_token: args.admin_token.clone(),
            usage_flush_interval: Duration::from_secs(args.usage_flush_interval.max(1)),
        }),
    };
    let node = Node::start(NodeConfig {
        workers,
        edge: args.edge.edge(args.listen)?,
        isolates: args.isolates.config(args.isolate_threads),
        snapshots: args.snapshots,
        base_domain: args.base_domain.clone(),
        outbound: OutboundPolicy {
            allow_private: false,
            allow_hosts: args.allow_outbound.clone(),
            trusted_ca: args.outbound_tls.trusted_ca()?,
        },
        traces: args.traces.exporter(),
    })
    .await?;
    for worker in node.loaded_workers() {
        tracing::info!(worker = %worker.name, version = %worker.version_id, routes = ?worker.routes, "worker loaded");
    }
    if let Some(addr) = node.admin_addr() {
        tracing::info!("admin API on http://{addr}");
    }
    announce_http3(node.edge());
    tracing::info!("ready on {}", node.url());
    stop_signal().await?;
    tracing::info!("shutting down: finishing requests in flight");
    node.shutdown(SHUTDOWN_DEADLINE).await;
    Ok(())
}
