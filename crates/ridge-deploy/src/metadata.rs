//! The metadata of an uploaded worker version: everything but its modules,
//! in the shape `ridge deploy` sends and the admin API stores.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::{
    DurableObjectBinding, KvNamespaceBinding, Limits, QueueConsumer, QueueProducerBinding,
    ServiceBinding, WorkerConfig,
};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionMetadata {
    /// The entry module's name in the bundle.
    pub main_module: String,
    #[serde(default)]
    pub compatibility_date: Option<String>,
    /// Left out of the serialized form when empty, so that versions
    /// without flags keep the content hashes they had before flags existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub compatibility_flags: Vec<String>,
    #[serde(default)]
    pub vars: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub kv_namespaces: Vec<KvNamespaceBinding>,
    /// Left out when empty, so that other versions keep their content
    /// hashes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<ServiceBinding>,
    /// Left out when empty, as `services`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub durable_objects: Vec<DurableObjectBinding>,
    /// Left out when empty, as `services`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queue_producers: Vec<QueueProducerBinding>,
    /// Left out when empty, as `services`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queue_consumers: Vec<QueueConsumer>,
    #[serde(default)]
    pub routes: Vec<String>,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub crons: Vec<String>,
    /// Who or what uploaded it (free text, e.g. "alice via ridge deploy").
    #[serde(default)]
    pub author: Option<String>,
    /// A note about the change.
    #[serde(default)]
    pub message: Option<String>,
    /// Static assets: left out when there are none, so that other
    /// versions keep their content hashes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assets: Option<VersionAssets>,
}

/// A version's static assets: the content hash of its manifest (stored
/// like any asset) and how they are served.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionAssets {
    pub manifest: String,
    #[serde(default)]
    pub settings: ridge_assets::AssetSettings,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid metadata: `{field}` {problem}")]
pub struct MetadataError {
    pub field: String,
    pub problem: String,
}

impl VersionMetadata {
    /// Whether the version has a worker script (a version may have static
    /// assets alone).
    pub fn has_script(&self) -> bool {
        !self.main_module.is_empty()
    }

    /// Its compatibility date and flags, to ask which behaviours are on.
    pub fn compatibility(&self) -> ridge_core::Compatibility<'_> {
        ridge_core::Compatibility::new(
            self.compatibility_date.as_deref(),
            &self.compatibility_flags,
        )
    }

    /// The metadata `ridge.toml` describes (assets are added once their
    /// manifest is known).
    pub fn from_config(config: &WorkerConfig) -> Self {
        Self {
            main_module: config.main.trim_start_matches("./").to_string(),
            compatibility_date: config.compatibility_date.clone(),
            compatibility_flags: config.compatibility_flags.clone(),
            vars: config.vars.clone(),
            kv_namespaces: config.kv_namespaces.clone(),
            services: config.services.clone(),
            durable_objects: config.durable_objects.clone(),
            queue_producers: config.queue_producers.clone(),
            queue_consumers: config.queue_consumers.clone(),
            routes: config.routes.clone(),
            limits: config.limits.clone(),
            crons: config.crons.clone(),
            author: None,
            message: None,
            assets: None,
        }
    }

    /// Checks what serde cannot: values in range, well-formed crons.
    pub fn validate(&self) -> Result<(), MetadataError> {
        let error = |field: &str, problem: String| MetadataError {
            field: field.into(),
            problem,
        };
        if let Err(limits) = self.limits.validate() {
            return Err(error(&limits.field, limits.problem));
        }
        for (index, cron) in self.crons.iter().enumerate() {
            if let Err(problem) = ridge_core::cron::parse(cron) {
                return Err(error(&format!("crons[{index}]"), problem.to_string()));
            }
        }
        for (index, binding) in self.kv_namespaces.iter().enumerate() {
            let field = format!("kv_namespaces[{index}]");
            if binding.binding.is_empty() || binding.id.is_empty() {
                return Err(error(&field, "needs a non-empty `binding` and `id`".into()));
            }
            if let Err(problem) = ridge_core::bindings::validate_namespace_id(&binding.id) {
                return Err(error(&format!("{field}.id"), problem.to_string()));
            }
            let taken = self.vars.contains_key(&binding.binding)
                || self.kv_namespaces[..index]
                    .iter()
                    .any(|other| other.binding == binding.binding);
            if taken {
                return Err(error(
                    &format!("{field}.binding"),
                    format!(
                        "{:?} is already used by another binding or var",
                        binding.binding
                    ),
                ));
            }
        }
        for (index, service) in self.services.iter().enumerate() {
            let field = format!("services[{index}]");
            if service.binding.is_empty() || service.service.is_empty() {
                return Err(error(
                    &field,
                    "needs a non-empty `binding` and `service`".into(),
                ));
            }
            if let Err(problem) = ridge_core::names::validate_worker_name(&service.service) {
                return Err(error(&format!("{field}.service"), problem.to_string()));
            }
            let taken = self.vars.contains_key(&service.binding)
                || self
                    .kv_namespaces
                    .iter()
                    .any(|kv| kv.binding == service.binding)
                || self.services[..index]
                    .iter()
                    .any(|other| other.binding == service.binding);
            if taken {
                return Err(error(
                    &format!("{field}.binding"),
                    format!(
                        "{:?} is already used by another binding or var",
                        service.binding
                    ),
                ));
            }
        }
        for (index, object) in self.durable_objects.iter().enumerate() {
            let field = format!("durable_objects[{index}]");
            if object.name.is_empty() || object.class_name.is_empty() {
                return Err(error(
                    &field,
                    "needs a non-empty `name` and `class_name`".into(),
                ));
            }
            if !ridge_core::names::is_class_name(&object.class_name) {
                return Err(error(
                    &format!("{field}.class_name"),
                    "is not a class name (letters, digits, _ and $, not starting with a digit)"
                        .into(),
                ));
            }
            if let Some(script) = &object.script_name {
                if let Err(problem) = ridge_core::names::validate_worker_name(script) {
                    return Err(error(&format!("{field}.script_name"), problem.to_string()));
                }
            }
            let taken = self.vars.contains_key(&object.name)
                || self
                    .kv_namespaces
                    .iter()
                    .any(|kv| kv.binding == object.name)
                || self
                    .services
                    .iter()
                    .any(|service| service.binding == object.name)
                || self.durable_objects[..index]
                    .iter()
                    .any(|other| other.name == object.name);
            if taken {
                return Err(error(
                    &format!("{field}.name"),
                    format!(
                        "{:?} is already used by another binding or var",
                        object.name
                    ),
                ));
            }
        }
        self.validate_queues()?;
        for name in self.vars.keys() {
            if name.is_empty() {
                return Err(error("vars", "has an empty variable name".into()));
            }
        }
        if let Some(assets) = &self.assets {
            if !ridge_assets::manifest::is_content_hash(&assets.manifest) {
                return Err(error("assets.manifest", "is not a content hash".into()));
            }
            if let Err((field, problem)) =
                ridge_assets::config::WorkerFirst::new(&assets.settings.run_worker_first)
            {
                return Err(error(
                    &format!("assets.settings.{field}"),
                    problem.to_string(),
                ));
            }
        }
        if !self.has_script() && (self.assets.is_none() || !self.crons.is_empty()) {
            return Err(error(
                "main_module",
                "is empty, which only a version of static assets alone (no crons) may be".into(),
            ));
        }
        Ok(())
    }
}

impl VersionMetadata {
    /// Checks the queue producers (names, delays, bindings not taken) and
    /// consumers (names, settings in range, one per queue).
    fn validate_queues(&self) -> Result<(), MetadataError> {
        let error = |field: String, problem: String| MetadataError { field, problem };
        let mut taken: Vec<&str> = self
            .vars
            .keys()
            .map(String::as_str)
            .chain(self.kv_namespaces.iter().map(|kv| kv.binding.as_str()))
            .chain(self.services.iter().map(|service| service.binding.as_str()))
            .chain(
                self.durable_objects
                    .iter()
                    .map(|object| object.name.as_str()),
            )
            .collect();
        for (index, producer) in self.queue_producers.iter().enumerate() {
            let field = format!("queue_producers[{index}]");
            if producer.binding.is_empty() {
                return Err(error(field, "needs a non-empty `binding`".into()));
            }
            if let Err(problem) = ridge_core::names::validate_queue_name(&producer.queue) {
                return Err(error(format!("{field}.queue"), problem.to_string()));
            }
            if producer
                .delivery_delay
                .is_some_and(|delay| delay > QueueConsumer::MAX_DELAY_S)
            {
                return Err(error(
                    format!("{field}.delivery_delay"),
                    format!("must be from 0 to {}", QueueConsumer::MAX_DELAY_S),
                ));
            }
            if taken.contains(&producer.binding.as_str()) {
                return Err(error(
                    format!("{field}.binding"),
                    format!(
                        "{:?} is already used by another binding or var",
                        producer.binding
                    ),
                ));
            }
            taken.push(&producer.binding);
        }
        for (index, consumer) in self.queue_consumers.iter().enumerate() {
            let field = format!("queue_consumers[{index}]");
            let queues = std::iter::once(&consumer.queue).chain(&consumer.dead_letter_queue);
            for queue in queues {
                if let Err(problem) = ridge_core::names::validate_queue_name(queue) {
                    return Err(error(
                        field,
                        format!("names queue {queue:?}, which {problem}"),
                    ));
                }
            }
            if let Err((name, problem)) = consumer.validate() {
                return Err(error(format!("{field}.{name}"), problem));
            }
            if consumer.dead_letter_queue.as_ref() == Some(&consumer.queue) {
                return Err(error(
                    format!("{field}.dead_letter_queue"),
                    "is the queue itself: name another queue".into(),
                ));
            }
            if self.queue_consumers[..index]
                .iter()
                .any(|other| other.queue == consumer.queue)
            {
                return Err(error(
                    format!("{field}.queue"),
                    format!("{:?} has another consumer in this worker", consumer.queue),
                ));
            }
        }
        Ok(())
    }

    /// Every queue the version sends to or consumes (dead-letter queues
    /// included), each once.
    pub fn queues(&self) -> Vec<&str> {
        let mut queues: Vec<&str> = self
            .queue_producers
            .iter()
            .map(|producer| producer.queue.as_str())
            .chain(self.queue_consumers.iter().flat_map(|consumer| {
                std::iter::once(consumer.queue.as_str())
                    .chain(consumer.dead_letter_queue.as_deref())
            }))
            .collect();
        queues.sort_unstable();
        queues.dedup();
        queues
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn queue_settings_are_checked_in_uploaded_metadata() {
        let metadata = |consumer: serde_json::Value| {
            serde_json::from_value::<VersionMetadata>(serde_json::json!({
                "main_module": "index.js",
                "queue_consumers": [consumer],
            }))
            .unwrap()
            .validate()
            .map_err(|error| error.to_string())
        };
        assert!(metadata(serde_json::json!({ "queue": "jobs" })).is_ok());
        let own = metadata(serde_json::json!({ "queue": "jobs", "dead_letter_queue": "jobs" }));
        assert!(own
            .unwrap_err()
            .contains("dead_letter_queue` is the queue itself"));
        let large = metadata(serde_json::json!({ "queue": "jobs", "max_batch_size": 101 }));
        assert!(large
            .unwrap_err()
            .contains("max_batch_size` is 101: it must be from 1 to 100"));
        let named = metadata(serde_json::json!({ "queue": "Jobs!" }));
        assert!(named.unwrap_err().contains("names queue \"Jobs!\""));
    }

    #[test]
    fn compatibility_settings_reach_the_metadata() {
        let text = "name = \"a\"\nmain = \"index.js\"\ncompatibility_date = \"2026-09-01\"\n\
                    compatibility_flags = [\"nodejs_compat\"]\n";
        let config = WorkerConfig::parse(Path::new("ridge.toml"), text).unwrap();
        let metadata = VersionMetadata::from_config(&config);
        assert_eq!(metadata.compatibility_date.as_deref(), Some("2026-09-01"));
        assert_eq!(metadata.compatibility_flags, ["nodejs_compat"]);
        // No flags, no key: such versions keep their content hashes.
        let plain = WorkerConfig::parse(Path::new("ridge.toml"), "name = \"a\"\nmain = \"i.js\"\n")
            .unwrap();
        let json = serde_json::to_string(&VersionMetadata::from_config(&plain)).unwrap();
        assert!(!json.contains("compatibility_flags"), "{json}");
    }
}
