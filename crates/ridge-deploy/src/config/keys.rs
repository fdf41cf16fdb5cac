//! Every top-level key a worker's configuration may have, and what Ridge
//! does with it: apply it, ignore it with a warning (a feature Ridge does
//! not have, or one of Cloudflare's platform that has no meaning here), or
//! refuse it (a binding Ridge cannot provide, which the worker would
//! otherwise meet as `undefined` at its first request). Keys not listed are
//! typos: the error suggests the closest known key.

/// What Ridge does with a configuration key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyUse {
    /// Read and acted on.
    Applied,
    /// Accepted without a word: it only concerns Cloudflare's platform
    /// (`account_id`), or Ridge already does what it asks.
    Silent,
    /// Accepted with a warning that says what is ignored.
    Ignored(&'static str),
    /// A binding type Ridge cannot provide: an error when it binds anything.
    Unsupported(&'static str),
}

const KEYS: &[(&str, KeyUse)] = &[
    ("name", KeyUse::Applied),
    ("main", KeyUse::Applied),
    ("compatibility_date", KeyUse::Applied),
    ("compatibility_flags", KeyUse::Applied),
    ("routes", KeyUse::Applied),
    ("route", KeyUse::Applied),
    ("vars", KeyUse::Applied),
    ("kv_namespaces", KeyUse::Applied),
    ("triggers", KeyUse::Applied),
    ("limits", KeyUse::Applied),
    ("env", KeyUse::Applied),
    ("build", KeyUse::Applied),
    ("alias", KeyUse::Applied),
    ("define", KeyUse::Applied),
    ("rules", KeyUse::Applied),
    ("no_bundle", KeyUse::Applied),
    ("find_additional_modules", KeyUse::Applied),
    ("base_dir", KeyUse::Applied),
    ("jsx_factory", KeyUse::Applied),
    ("dev", KeyUse::Applied),
    ("jsx_fragment", KeyUse::Applied),
    ("assets", KeyUse::Applied),
    ("preserve_file_names", KeyUse::Silent),
    ("$schema", KeyUse::Silent),
    ("account_id", KeyUse::Silent),
    ("send_metrics", KeyUse::Silent),
    ("keep_vars", KeyUse::Silent),
    ("keep_names", KeyUse::Silent),
    ("legacy_env", KeyUse::Silent),
    ("upload_source_maps", KeyUse::Silent),
    ("workers_dev", KeyUse::Ignored("Ridge serves a worker on its `routes` (or on every host under `ridge dev`); there is no workers.dev subdomain")),
    ("preview_urls", KeyUse::Ignored("Ridge has no preview URLs; every version can be activated with `ridge rollback`")),
    ("observability", KeyUse::Ignored("Ridge's request logs, metrics and traces are always on: see `ridge tail` and /metrics")),
    ("logpush", KeyUse::Ignored("use `ridge tail` or the node's logs")),
    ("tail_consumers", KeyUse::Ignored("tail workers are not supported; use `ridge tail`")),
    ("streaming_tail_consumers", KeyUse::Ignored("tail workers are not supported; use `ridge tail`")),
    ("placement", KeyUse::Ignored("Smart Placement is Cloudflare's; Ridge runs the worker on the node that gets the request")),
    ("usage_model", KeyUse::Ignored("Ridge meters every worker the same way; set `limits` instead")),
    ("minify", KeyUse::Ignored("Ridge keeps modules as they are")),
    ("node_compat", KeyUse::Ignored("Node.js modules are not provided yet")),
    ("site", KeyUse::Ignored("Workers Sites are not served")),
    ("tsconfig", KeyUse::Ignored("Ridge reads the project's own tsconfig.json (its `paths` and JSX settings)")),
    ("compliance_region", KeyUse::Ignored("it only applies on Cloudflare")),
    ("first_party_worker", KeyUse::Ignored("it only applies on Cloudflare")),
    ("containers", KeyUse::Ignored("containers are not supported")),
    ("cloudchamber", KeyUse::Ignored("containers are not supported")),
    ("unsafe", KeyUse::Ignored("unsafe bindings and metadata are Cloudflare's")),
    ("durable_objects", KeyUse::Applied),
    ("migrations", KeyUse::Applied),
    ("d1_databases", KeyUse::Unsupported("D1 databases")),
    ("r2_buckets", KeyUse::Unsupported("R2 buckets")),
    ("services", KeyUse::Applied),
    ("queues", KeyUse::Applied),
    ("analytics_engine_datasets", KeyUse::Unsupported("Analytics Engine datasets")),
    ("ai", KeyUse::Unsupported("Workers AI")),
    ("vectorize", KeyUse::Unsupported("Vectorize indexes")),
    ("hyperdrive", KeyUse::Unsupported("Hyperdrive")),
    ("browser", KeyUse::Unsupported("Browser Rendering")),
    ("mtls_certificates", KeyUse::Unsupported("mTLS certificates")),
    ("dispatch_namespaces", KeyUse::Unsupported("dispatch namespaces")),
    ("workflows", KeyUse::Unsupported("Workflows")),
    ("send_email", KeyUse::Unsupported("Email sending")),
    ("version_metadata", KeyUse::Unsupported("version metadata")),
    ("images", KeyUse::Unsupported("Cloudflare Images")),
    ("media", KeyUse::Unsupported("Media Transformations")),
    ("pipelines", KeyUse::Unsupported("Pipelines")),
    ("secrets_store_secrets", KeyUse::Unsupported("Secrets Store secrets")),
    ("ratelimits", KeyUse::Unsupported("rate limiting bindings")),
    ("unsafe_hello_world", KeyUse::Unsupported("unsafe bindings")),
    ("worker_loaders", KeyUse::Unsupported("Worker Loaders")),
    ("vpc_services", KeyUse::Unsupported("VPC services")),
    ("wasm_modules", KeyUse::Unsupported("service-worker Wasm bindings (import the .wasm file instead)")),
    ("text_blobs", KeyUse::Unsupported("service-worker text bindings (import the file instead)")),
    ("data_blobs", KeyUse::Unsupported("service-worker data bindings (import the file instead)")),
];

/// What Ridge does with `key`, or `None` for a key no configuration has.
pub fn key_use(key: &str) -> Option<KeyUse> {
    KEYS.iter()
        .find(|(name, _)| *name == key)
        .map(|(_, use_)| *use_)
}

/// The known key closest to a misspelt one, when one is close enough.
pub fn suggestion(key: &str) -> Option<&'static str> {
    KEYS.iter()
        .map(|(name, _)| (*name, strsim::jaro_winkler(key, name)))
        .filter(|(_, score)| *score > 0.8)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(name, _)| name)
}

/// Whether a binding section binds anything: a non-empty list, or a table
/// with a non-empty list in it (`durable_objects.bindings`,
/// `queues.producers`), or any other table (`ai = { binding = "AI" }`).
pub fn binds_something(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Array(items) => !items.is_empty(),
        serde_json::Value::Object(table) => {
            let lists: Vec<_> = table.values().filter(|v| v.is_array()).collect();
            if lists.is_empty() {
                !table.is_empty()
            } else {
                lists.iter().any(|list| binds_something(list))
            }
        }
        serde_json::Value::Null => false,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_get_the_closest_key() {
        assert_eq!(suggestion("naem"), Some("name"));
        assert_eq!(suggestion("kv_namespace"), Some("kv_namespaces"));
        assert_eq!(suggestion("compatibility_dat"), Some("compatibility_date"));
        assert_eq!(suggestion("zzzzzz"), None);
    }

    #[test]
    fn empty_binding_sections_bind_nothing() {
        use serde_json::json;
        assert!(!binds_something(&json!([])));
        assert!(!binds_something(&json!({"bindings": []})));
        assert!(binds_something(&json!({"bindings": [{"name": "X"}]})));
        assert!(binds_something(
            &json!({"producers": [], "consumers": [{}]})
        ));
        assert!(binds_something(&json!({"binding": "AI"})));
    }
}
