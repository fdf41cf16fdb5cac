//! A worker version: the immutable unit Ridge runs, made of a bundle, its
//! bindings (vars, secrets, KV namespaces, …: one typed list) and its
//! limits.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use ridge_core::{Binding, Limits};
use ridge_deploy::project::{Project, ProjectError};
use ridge_deploy::{content_hash, Bundle, VersionMetadata};

/// One immutable version of a worker, as isolates run it.
#[derive(Clone, Debug)]
pub struct WorkerVersion {
    /// Isolates are keyed by this: the worker's name and the version's
    /// content hash (two workers may upload identical code, but each has its
    /// own isolate, bindings and caches), plus a hash of its secrets when it
    /// has any (new secrets need a new isolate).
    pub id: String,
    /// The content hash of the upload.
    pub version_id: String,
    pub name: String,
    pub routes: Vec<String>,
    pub bundle: Bundle,
    /// What `env` holds, in order: vars, KV namespaces, secrets. Ops
    /// address a binding by its index here.
    pub bindings: Vec<Binding>,
    /// The worker's compatibility date (`YYYY-MM-DD`) and flags, as
    /// configured: which Workers behaviours it asks for.
    pub compatibility_date: Option<String>,
    pub compatibility_flags: Vec<String>,
    /// Cron expressions that run the worker's scheduled handler.
    pub crons: Vec<String>,
    /// The queues whose messages its `queue()` handler receives.
    pub queue_consumers: Vec<ridge_core::QueueConsumer>,
    /// Every queue it sends to or consumes (dead-letter queues included).
    pub queues: Vec<String>,
    pub limits: Limits,
    /// The version's own V8 snapshot, when one was made for this build
    /// (`isolate/worker_snapshot.rs`); cold starts restore it.
    pub snapshot: Option<crate::isolate::worker_snapshot::WorkerSnapshot>,
    /// Its static assets, served from Rust before (or instead of) the
    /// worker, and reached by `env.ASSETS.fetch`.
    pub assets: Option<Arc<ridge_assets::Assets>>,
}

impl WorkerVersion {
    pub fn new(
        name: &str,
        version_id: &str,
        metadata: &VersionMetadata,
        bundle: Bundle,
        secrets: &BTreeMap<String, String>,
    ) -> Self {
        // Vars, KV namespaces, secrets. A secret takes the place of a var of
        // the same name; a KV namespace keeps its name against both.
        let bound_names: Vec<&str> = metadata
            .kv_namespaces
            .iter()
            .map(|binding| binding.binding.as_str())
            .chain(
                metadata
                    .services
                    .iter()
                    .map(|binding| binding.binding.as_str()),
            )
            .chain(
                metadata
                    .durable_objects
                    .iter()
                    .map(|object| object.name.as_str()),
            )
            .chain(
                metadata
                    .queue_producers
                    .iter()
                    .map(|producer| producer.binding.as_str()),
            )
            .collect();
        let mut bindings: Vec<Binding> = metadata
            .vars
            .iter()
            .filter(|(name, _)| !secrets.contains_key(*name))
            .map(|(name, value)| Binding::Var {
                name: name.clone(),
                value: value.clone(),
            })
            .collect();
        bindings.extend(
            metadata
                .kv_namespaces
                .iter()
                .map(|binding| Binding::KvNamespace {
                    name: binding.binding.clone(),
                    namespace_id: binding.id.clone(),
                }),
        );
        bindings.extend(metadata.services.iter().map(|service| Binding::Service {
            name: service.binding.clone(),
            service: service.service.clone(),
            entrypoint: service.entrypoint.clone(),
            props: service.props.as_ref().map(|props| props.to_string()),
        }));
        bindings.extend(metadata.durable_objects.iter().map(|object| {
            Binding::DurableObjectNamespace {
                name: object.name.clone(),
                class_name: object.class_name.clone(),
                worker: object
                    .script_name
                    .clone()
                    .unwrap_or_else(|| name.to_string()),
            }
        }));
        bindings.extend(
            metadata
                .queue_producers
                .iter()
                .map(|producer| Binding::Queue {
                    name: producer.binding.clone(),
                    queue: producer.queue.clone(),
                    delivery_delay: producer.delivery_delay,
                }),
        );
        let assets_binding = metadata
            .assets
            .as_ref()
            .and_then(|assets| assets.settings.binding.clone());
        bindings.extend(
            assets_binding
                .iter()
                .map(|name| Binding::Assets { name: name.clone() }),
        );
        bindings.extend(
            secrets
                .iter()
                .filter(|(name, _)| !bound_names.contains(&name.as_str()))
                .filter(|(name, _)| assets_binding.as_ref() != Some(*name))
                .map(|(name, value)| Binding::Secret {
                    name: name.clone(),
                    value: value.clone(),
                }),
        );
        Self {
            id: Self::isolate_key(name, version_id, secrets),
            version_id: version_id.to_string(),
            name: name.to_string(),
            routes: metadata.routes.clone(),
            bundle,
            bindings,
            compatibility_date: metadata.compatibility_date.clone(),
            compatibility_flags: metadata.compatibility_flags.clone(),
            crons: metadata.crons.clone(),
            queue_consumers: metadata.queue_consumers.clone(),
            queues: metadata.queues().into_iter().map(String::from).collect(),
            limits: metadata.limits.clone(),
            snapshot: None,
            assets: None,
        }
    }

    /// Whether there is a worker to run (a version may be static assets
    /// alone).
    pub fn has_script(&self) -> bool {
        self.bundle.has_script()
    }

    /// What nodejs_compat turns on for this version.
    pub fn node_compat(&self) -> ridge_core::NodeCompat {
        ridge_core::Compatibility::new(
            self.compatibility_date.as_deref(),
            &self.compatibility_flags,
        )
        .node()
    }

    /// Whether navigations that miss get the assets' not-found handling
    /// before the worker (ridge-core's `Compatibility`).
    pub fn navigation_prefers_assets(metadata: &VersionMetadata) -> bool {
        metadata.compatibility().navigation_prefers_assets()
    }

    /// What tells isolates apart: the version, and the secrets it runs
    /// with (a changed secret needs a new isolate).
    pub fn isolate_key(name: &str, version_id: &str, secrets: &BTreeMap<String, String>) -> String {
        if secrets.is_empty() {
            return format!("{name}@{version_id}");
        }
        let mut hasher = DefaultHasher::new();
        secrets.hash(&mut hasher);
        format!("{name}@{version_id}+{:016x}", hasher.finish())
    }

    /// A version made of one ES module, `index.js`, with default limits and
    /// no bindings: what tests and tools that need a version in hand use.
    pub fn from_module(name: &str, source: &str, routes: &[&str]) -> Arc<Self> {
        let module = ridge_deploy::Module {
            kind: ridge_deploy::ModuleKind::JavaScript,
            content: Arc::from(source.as_bytes()),
        };
        let modules = BTreeMap::from([("index.js".to_string(), module)]);
        let bundle = Bundle::new("index.js".into(), modules).expect("a valid one-module bundle");
        let metadata = VersionMetadata {
            main_module: "index.js".into(),
            compatibility_date: None,
            compatibility_flags: Vec::new(),
            vars: BTreeMap::new(),
            kv_namespaces: Vec::new(),
            services: Vec::new(),
            durable_objects: Vec::new(),
            queue_producers: Vec::new(),
            queue_consumers: Vec::new(),
            routes: routes.iter().map(|route| route.to_string()).collect(),
            limits: Limits::default(),
            crons: Vec::new(),
            author: None,
            message: None,
            assets: None,
        };
        let version_id = content_hash(&metadata, &bundle);
        Arc::new(Self::new(
            name,
            &version_id,
            &metadata,
            bundle,
            &BTreeMap::new(),
        ))
    }

    /// The ids of the KV namespaces the worker binds.
    pub fn kv_namespace_ids(&self) -> impl Iterator<Item = &str> {
        self.bindings.iter().filter_map(|binding| match binding {
            Binding::KvNamespace { namespace_id, .. } => Some(namespace_id.as_str()),
            _ => None,
        })
    }

    /// Loads a worker project: collects its modules from `main` and its
    /// assets folder (served from the folder itself, as it is now);
    /// `extra_vars` add to or override its `vars`.
    pub fn load(
        project: &Project,
        extra_vars: &BTreeMap<String, String>,
        cache: &ridge_assets::HotCache,
    ) -> Result<Arc<Self>, ProjectError> {
        let bundle = project.collect()?.bundle;
        Self::from_bundle(project, bundle, extra_vars, cache)
    }

    /// A version of `project` made of `bundle` (already collected), with
    /// its assets folder read now.
    pub fn from_bundle(
        project: &Project,
        bundle: Bundle,
        extra_vars: &BTreeMap<String, String>,
        cache: &ridge_assets::HotCache,
    ) -> Result<Arc<Self>, ProjectError> {
        let mut metadata = VersionMetadata::from_config(&project.config);
        metadata.main_module = bundle.main.clone();
        for (key, value) in extra_vars {
            metadata
                .vars
                .insert(key.clone(), serde_json::Value::String(value.clone()));
        }
        let assets = match (project.collect_assets()?, &project.config.assets) {
            (Some(collected), Some(section)) => {
                for warning in &collected.warnings {
                    tracing::warn!("{warning}");
                }
                let settings = section.settings();
                metadata.assets = Some(ridge_deploy::VersionAssets {
                    manifest: ridge_assets::content_hash(&collected.manifest.to_json()),
                    settings: settings.clone(),
                });
                let folder = ridge_assets::Directory {
                    root: project
                        .config
                        .assets_directory(&project.root)
                        .unwrap_or_default(),
                };
                let assets = ridge_assets::Assets::new(
                    settings,
                    collected.manifest,
                    Arc::new(folder),
                    cache.clone(),
                    Self::navigation_prefers_assets(&metadata),
                )
                .map_err(|error| {
                    ProjectError::Config(ridge_deploy::config::ConfigError::Parse {
                        path: project.config.file.clone().unwrap_or_default(),
                        message: error.to_string(),
                    })
                })?;
                Some(Arc::new(assets))
            }
            _ => None,
        };
        let version_id = content_hash(&metadata, &bundle);
        let mut version = Self::new(
            &project.config.name,
            &version_id,
            &metadata,
            bundle,
            &BTreeMap::new(),
        );
        version.assets = assets;
        Ok(Arc::new(version))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindings_keep_their_names_against_secrets() {
        let base = WorkerVersion::from_module("w", "export default {}", &[]);
        let mut metadata = VersionMetadata {
            main_module: "index.js".into(),
            compatibility_date: None,
            compatibility_flags: Vec::new(),
            vars: BTreeMap::from([
                ("MODE".to_string(), "dev".into()),
                ("TOKEN".to_string(), "public".into()),
            ]),
            kv_namespaces: vec![ridge_core::KvNamespaceBinding {
                binding: "CACHE".into(),
                id: "cache".into(),
            }],
            services: Vec::new(),
            durable_objects: Vec::new(),
            queue_producers: Vec::new(),
            queue_consumers: Vec::new(),
            routes: Vec::new(),
            limits: Limits::default(),
            crons: Vec::new(),
            author: None,
            message: None,
            assets: None,
        };
        let secrets = BTreeMap::from([
            ("CACHE".to_string(), "a string".to_string()),
            ("TOKEN".to_string(), "secret".to_string()),
        ]);
        let version = WorkerVersion::new("w", "v1", &metadata, base.bundle.clone(), &secrets);
        // A secret replaces the var of its name; a KV binding keeps its own.
        assert_eq!(
            version.bindings,
            [
                Binding::Var {
                    name: "MODE".into(),
                    value: "dev".into()
                },
                Binding::KvNamespace {
                    name: "CACHE".into(),
                    namespace_id: "cache".into()
                },
                Binding::Secret {
                    name: "TOKEN".into(),
                    value: "secret".into()
                },
            ]
        );
        metadata.kv_namespaces.clear();
        let plain = WorkerVersion::new("w", "v1", &metadata, base.bundle.clone(), &BTreeMap::new());
        assert_eq!(plain.kv_namespace_ids().count(), 0);
        assert_ne!(plain.id, version.id, "secrets are part of the isolate key");
    }
}
