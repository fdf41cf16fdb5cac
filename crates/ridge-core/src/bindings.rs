//! A worker's bindings: everything its `env` holds, as one typed list. The
//! configuration's sections (`vars`, `kv_namespaces`, secrets set with
//! `ridge secret`, queue producers) become [`Binding`]s; the runtime turns each into its JS
//! object (a string, a `KvNamespace`, …) by kind, and the ops behind a
//! binding find it by its index in the list, so worker code can only reach
//! what its own list names.
//!
//! Adding a binding type means one variant here, one runtime module and one
//! JS file that builds the object.

use serde::{Deserialize, Serialize};

/// A KV namespace binding as the configuration writes it
/// (`[[kv_namespaces]]`, wrangler's shape).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KvNamespaceBinding {
    /// The name in `env`.
    pub binding: String,
    /// The namespace's id in the store.
    pub id: String,
}

/// A service binding as the configuration writes it (`services = [{
/// binding, service, entrypoint }]`, wrangler's shape): another worker,
/// reached in-process by `env.<binding>.fetch()` or by calling its methods.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceBinding {
    /// The name in `env`.
    pub binding: String,
    /// The name of the worker it reaches.
    pub service: String,
    /// A named entrypoint (an exported `WorkerEntrypoint` class) instead of
    /// the default export.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<String>,
    /// What the callee's `ctx.props` holds for calls over this binding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub props: Option<serde_json::Value>,
}

/// A Durable Object namespace binding as the configuration writes it
/// (`durable_objects.bindings = [{ name, class_name, script_name }]`,
/// wrangler's shape): the objects of a class exported by this worker, or
/// by worker `script_name`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DurableObjectBinding {
    /// The name in `env`.
    pub name: String,
    /// The exported class the objects are instances of.
    pub class_name: String,
    /// The worker that exports the class, when it is not this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script_name: Option<String>,
}

/// A queue producer binding as the configuration writes it
/// (`queues.producers = [{ binding, queue, delivery_delay }]`, wrangler's
/// shape): `env.<binding>.send(body)` adds a message to `queue`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueProducerBinding {
    /// The name in `env`.
    pub binding: String,
    pub queue: String,
    /// Seconds every message waits before it can be delivered, unless the
    /// send says otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_delay: Option<u32>,
}

/// A queue consumer as the configuration writes it (`queues.consumers`,
/// wrangler's shape): this worker's `queue()` handler receives the
/// messages of `queue` in batches. Missing settings take Cloudflare's
/// defaults (see the methods).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConsumer {
    pub queue: String,
    /// Messages per batch (1-100, default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_batch_size: Option<u32>,
    /// Seconds a batch waits to fill up (0-60, default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_batch_timeout: Option<u32>,
    /// Retries before a message is dead-lettered or dropped (0-100,
    /// default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<u32>,
    /// Where messages go after their last retry (created when needed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter_queue: Option<String>,
    /// Seconds a retried message waits, unless `retry()` says otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_delay: Option<u32>,
    /// Batches of this queue running at once (1-250; default: as many as
    /// the backlog fills, up to [`QueueConsumer::DEFAULT_CONCURRENCY`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<u32>,
}

impl QueueConsumer {
    pub const DEFAULT_BATCH_SIZE: u32 = 10;
    pub const MAX_BATCH_SIZE: u32 = 100;
    pub const DEFAULT_BATCH_TIMEOUT_S: u32 = 5;
    pub const MAX_BATCH_TIMEOUT_S: u32 = 60;
    pub const DEFAULT_RETRIES: u32 = 3;
    pub const MAX_RETRIES: u32 = 100;
    /// The longest delay of a message, on send or retry: 24 hours.
    pub const MAX_DELAY_S: u32 = 86_400;
    pub const MAX_CONCURRENCY: u32 = 250;
    /// Batches at once when `max_concurrency` is not set: one node's
    /// isolate serves them all, so more would only queue there.
    pub const DEFAULT_CONCURRENCY: u32 = 10;

    pub fn batch_size(&self) -> u32 {
        self.max_batch_size.unwrap_or(Self::DEFAULT_BATCH_SIZE)
    }
    pub fn batch_timeout_ms(&self) -> i64 {
        i64::from(
            self.max_batch_timeout
                .unwrap_or(Self::DEFAULT_BATCH_TIMEOUT_S),
        ) * 1000
    }
    pub fn retries(&self) -> u32 {
        self.max_retries.unwrap_or(Self::DEFAULT_RETRIES)
    }
    pub fn concurrency(&self) -> u32 {
        self.max_concurrency.unwrap_or(Self::DEFAULT_CONCURRENCY)
    }

    /// Checks the settings' ranges: `Err((field, problem))`.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let ranges = [
            (
                "max_batch_size",
                self.max_batch_size,
                1,
                Self::MAX_BATCH_SIZE,
            ),
            (
                "max_batch_timeout",
                self.max_batch_timeout,
                0,
                Self::MAX_BATCH_TIMEOUT_S,
            ),
            ("max_retries", self.max_retries, 0, Self::MAX_RETRIES),
            ("retry_delay", self.retry_delay, 0, Self::MAX_DELAY_S),
            (
                "max_concurrency",
                self.max_concurrency,
                1,
                Self::MAX_CONCURRENCY,
            ),
        ];
        for (field, value, min, max) in ranges {
            if let Some(value) = value.filter(|v| !(min..=max).contains(v)) {
                return Err((field, format!("is {value}: it must be from {min} to {max}")));
            }
        }
        Ok(())
    }
}

/// One entry of a worker's `env`.
#[derive(Clone, Debug, PartialEq)]
pub enum Binding {
    /// A plain variable: a string, or any JSON value.
    Var {
        name: String,
        value: serde_json::Value,
    },
    /// A secret: a string kept out of logs, snapshots and the admin API.
    Secret { name: String, value: String },
    /// A Workers KV namespace.
    KvNamespace { name: String, namespace_id: String },
    /// The version's static assets, as a Fetcher (`env.ASSETS.fetch`).
    Assets { name: String },
    /// Another worker, as a Fetcher whose methods call it (RPC).
    Service {
        name: String,
        service: String,
        entrypoint: Option<String>,
        /// The callee's `ctx.props`, as JSON text.
        props: Option<String>,
    },
    /// The Durable Objects of class `class_name` of worker `worker`.
    DurableObjectNamespace {
        name: String,
        class_name: String,
        worker: String,
    },
    /// A queue's producer (`env.JOBS.send(body)`).
    Queue {
        name: String,
        queue: String,
        delivery_delay: Option<u32>,
    },
}

impl Binding {
    /// The binding's name in `env`.
    pub fn name(&self) -> &str {
        match self {
            Binding::Var { name, .. }
            | Binding::Secret { name, .. }
            | Binding::KvNamespace { name, .. }
            | Binding::Assets { name }
            | Binding::Service { name, .. }
            | Binding::DurableObjectNamespace { name, .. }
            | Binding::Queue { name, .. } => name,
        }
    }

    /// The kind JS builds the binding's object by (the binding table in
    /// `js/globals/00_globals.js`): "json" for plain values, "kv" for a
    /// namespace, "assets" for the assets' Fetcher, "service" for another
    /// worker, "durable_object" for a Durable Object namespace, "queue"
    /// for a queue's producer.
    pub fn kind(&self) -> &'static str {
        match self {
            Binding::Var { .. } | Binding::Secret { .. } => "json",
            Binding::KvNamespace { .. } => "kv",
            Binding::Assets { .. } => "assets",
            Binding::Service { .. } => "service",
            Binding::DurableObjectNamespace { .. } => "durable_object",
            Binding::Queue { .. } => "queue",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BindingError {
    #[error("invalid KV namespace id {0:?}: use 1-64 characters of A-Z, a-z, 0-9, '-' and '_'")]
    InvalidNamespaceId(String),
}

/// Namespace ids appear in URLs and configuration: 1-64 characters of A-Z,
/// a-z, 0-9, '-' and '_'.
pub fn validate_namespace_id(id: &str) -> Result<(), BindingError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(BindingError::InvalidNamespaceId(id.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_ids() {
        assert!(validate_namespace_id("my-ns_1").is_ok());
        for bad in ["", "a/b", "a b", &"x".repeat(65)] {
            assert!(validate_namespace_id(bad).is_err(), "{bad:?}");
        }
    }
}
