//! A worker's bindings: everything its `env` holds, as one typed list. The
//! configuration's sections (`vars`, `kv_namespaces`, secrets set with
//! `ridge secret`) become [`Binding`]s; the runtime turns each into its JS
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
            | Binding::DurableObjectNamespace { name, .. } => name,
        }
    }

    /// The kind JS builds the binding's object by (the binding table in
    /// `js/globals/00_globals.js`): "json" for plain values, "kv" for a
    /// namespace, "assets" for the assets' Fetcher, "service" for another
    /// worker, "durable_object" for a Durable Object namespace.
    pub fn kind(&self) -> &'static str {
        match self {
            Binding::Var { .. } | Binding::Secret { .. } => "json",
            Binding::KvNamespace { .. } => "kv",
            Binding::Assets { .. } => "assets",
            Binding::Service { .. } => "service",
            Binding::DurableObjectNamespace { .. } => "durable_object",
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
