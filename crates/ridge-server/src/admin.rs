//! The admin API: JSON over HTTP on its own listener, every call
//! authenticated with a bearer token (compared in constant time).
//!
//! | call | does |
//! | --- | --- |
//! | `GET /health`, `GET /ready` | liveness; readiness (the store answers) |
//! | `GET /workers` | workers, active versions, secret names |
//! | `GET /workers/{name}` | the active version |
//! | `PUT /workers/{name}` | upload a version (multipart) and activate it |
//! | `DELETE /workers/{name}` | delete a worker, its versions and secrets |
//! | `GET /workers/{name}/versions` | versions, newest first |
//! | `POST /workers/{name}/activate` | `{"version": id}`: roll back or forward |
//! | `PUT /workers/{name}/secrets/{secret}` | set a secret (body: the value) |
//! | `DELETE /workers/{name}/secrets/{secret}` | delete a secret |
//! | `/kv/…` | KV namespaces and keys (see `admin_kv.rs`) |
//! | `/queues/…` | queues, their messages, pull consumers (see `admin_queues.rs`) |
//! | `/assets/…` | static asset content by hash (see `admin_assets.rs`) |
//! | `GET /metrics`, `GET /workers/{name}/tail`, `GET /workers/{name}/usage` | metrics, live tail, usage (see `admin_observe.rs`) |

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::json;
use subtle::ConstantTimeEq;

use super::body::WireBody;
use crate::active::ActiveVersions;
use crate::router::validate_route;
use ridge_core::names::validate_worker_name;
use ridge_deploy::upload::parse_upload;
use ridge_deploy::{content_hash, MAX_SECRET_BYTES};
use ridge_kv::Kv;
use ridge_runtime::isolate::validate::check_version;
use ridge_runtime::observe::Observers;
use ridge_runtime::worker::WorkerVersion;
use ridge_store::{Store, StoreError, StoredVersion};

pub struct AdminApi {
    pub(super) store: Arc<dyn Store>,
    pub(super) kv: Arc<Kv>,
    pub(super) queues: Arc<ridge_queues::Queues>,
    /// The node's Durable Object storage, for `ridge do`.
    pub(super) objects: ridge_objects::ObjectStore,
    /// The node's metrics and tail hub, for `/metrics` and `ridge tail`.
    pub(super) observers: Observers,
    node: Arc<ActiveVersions>,
    token: String,
}

pub(super) fn json_response(status: StatusCode, body: serde_json::Value) -> Response<WireBody> {
    let mut response = Response::new(WireBody::text(format!("{body}\n")));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

pub(super) fn error(status: StatusCode, message: impl std::fmt::Display) -> Response<WireBody> {
    json_response(status, json!({ "error": message.to_string() }))
}

pub(super) fn store_error(failure: StoreError) -> Response<WireBody> {
    let status = match failure {
        StoreError::WorkerNotFound(_)
        | StoreError::VersionNotFound { .. }
        | StoreError::SecretNotFound { .. }
        | StoreError::NamespaceNotFound(_)
        | StoreError::QueueNotFound(_) => StatusCode::NOT_FOUND,
        _ => {
            tracing::error!(error = %failure, "admin API store failure");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    error(status, failure)
}

impl AdminApi {
    pub fn new(
        store: Arc<dyn Store>,
        node: Arc<ActiveVersions>,
        kv: Arc<Kv>,
        queues: Arc<ridge_queues::Queues>,
        objects: ridge_objects::ObjectStore,
        token: String,
    ) -> Self {
        Self {
            store,
            kv,
            queues,
            objects,
            observers: node.observers().clone(),
            node,
            token,
        }
    }

    fn authorized(&self, request: &Request<Incoming>) -> bool {
        let presented = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        bool::from(presented.as_bytes().ct_eq(self.token.as_bytes()))
    }

    pub async fn handle(&self, request: Request<Incoming>) -> Response<WireBody> {
        if !self.authorized(&request) {
            let mut response = error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
            return response;
        }
        let mut path: Vec<String> = Vec::new();
        for segment in request.uri().path().split('/').filter(|s| !s.is_empty()) {
            // Strictly: with lossy decoding, `%FF` and `%FE` would both be
            // U+FFFD and name the same KV key.
            match percent_encoding::percent_decode_str(segment).decode_utf8() {
                Ok(decoded) => path.push(decoded.into_owned()),
                Err(_) => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        format!("the path segment {segment:?} is not UTF-8 once percent-decoded (names and KV keys are UTF-8 text)"),
                    )
                }
            }
        }
        let segments: Vec<&str> = path.iter().map(String::as_str).collect();
        let method = request.method().clone();
        match (&method, segments.as_slice()) {
            (&Method::GET, ["health"]) => json_response(StatusCode::OK, json!({ "status": "ok" })),
            (&Method::GET, ["ready"]) => match self.store.workers().await {
                Ok(_) => json_response(StatusCode::OK, json!({ "status": "ready" })),
                Err(failure) => error(StatusCode::SERVICE_UNAVAILABLE, failure),
            },
            (&Method::GET, ["workers"]) => match self.store.workers().await {
                Ok(workers) => json_response(StatusCode::OK, json!({ "workers": workers })),
                Err(failure) => store_error(failure),
            },
            (&Method::GET, ["workers", name]) => match self.store.versions(name).await {
                Ok(versions) => {
                    let active = versions.into_iter().find(|v| v.active);
                    json_response(
                        StatusCode::OK,
                        json!({ "worker": name, "active_version": active }),
                    )
                }
                Err(failure) => store_error(failure),
            },
            (&Method::PUT, ["workers", name]) => self.upload(name, request).await,
            (&Method::DELETE, ["workers", name]) => match self.store.delete_worker(name).await {
                Ok(()) => {
                    // Its objects' alarms would wait for it forever.
                    if let Err(error) = self.objects.alarms().delete_worker(name) {
                        tracing::error!(worker = %name, %error, "cannot delete the worker's alarms");
                    }
                    self.applied(json!({ "deleted": name })).await
                }
                Err(failure) => store_error(failure),
            },
            (&Method::GET, ["workers", name, "versions"]) => {
                match self.store.versions(name).await {
                    Ok(versions) => json_response(
                        StatusCode::OK,
                        json!({ "worker": name, "versions": versions }),
                    ),
                    Err(failure) => store_error(failure),
                }
            }
            (&Method::POST, ["workers", name, "activate"]) => self.activate(name, request).await,
            (&Method::GET, ["metrics"]) => self.metrics(),
            (&Method::GET, ["workers", name, "tail"]) => self.tail(name, &request).await,
            (&Method::GET, ["workers", name, "usage"]) => self.usage(name, &request).await,
            (&Method::PUT, ["workers", name, "secrets", secret]) => {
                self.put_secret(name, secret, request).await
            }
            (&Method::DELETE, ["workers", name, "secrets", secret]) => {
                match self.store.delete_secret(name, secret).await {
                    Ok(()) => {
                        self.applied(json!({ "worker": name, "secret": secret, "deleted": true }))
                            .await
                    }
                    Err(failure) => store_error(failure),
                }
            }
            (&Method::GET, ["workers", name, "objects", class]) => self.list_objects(name, class),
            (&Method::DELETE, ["workers", name, "objects", class, id]) => {
                self.delete_object(name, class, id)
            }
            (_, ["kv", rest @ ..]) => self.kv_call(&method, rest, request).await,
            (_, ["queues", rest @ ..]) => self.queues_call(&method, rest, request).await,
            (&Method::POST, ["assets", "missing"]) => self.missing_assets(request).await,
            (&Method::PUT, ["assets", hash]) => self.put_asset(hash, request).await,
            _ => error(
                StatusCode::NOT_FOUND,
                format!("no admin API call {method} {}", request.uri().path()),
            ),
        }
    }

    /// Answers after this node serves the change (other nodes follow by
    /// the store's change notices).
    async fn applied(&self, body: serde_json::Value) -> Response<WireBody> {
        match self.node.reload().await {
            Ok(_) => json_response(StatusCode::OK, body),
            Err(failure) => store_error(failure),
        }
    }

    async fn upload(&self, name: &str, request: Request<Incoming>) -> Response<WireBody> {
        if let Err(problem) = validate_worker_name(name) {
            return error(
                StatusCode::BAD_REQUEST,
                format!("invalid worker name {name:?}: {problem}"),
            );
        }
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = request.into_body().into_data_stream();
        let (metadata, bundle) = match parse_upload(content_type.as_deref(), body).await {
            Ok(parsed) => parsed,
            Err(failure) => {
                let status =
                    StatusCode::from_u16(failure.status()).unwrap_or(StatusCode::BAD_REQUEST);
                return error(status, failure);
            }
        };
        for (index, route) in metadata.routes.iter().enumerate() {
            if let Err(problem) = validate_route(route) {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("invalid metadata: `routes[{index}]` {route:?}: {problem}"),
                );
            }
        }
        for (index, binding) in metadata.kv_namespaces.iter().enumerate() {
            match self.kv.namespace_exists(&binding.id).await {
                Ok(true) => {}
                Ok(false) => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        format!(
                            "invalid metadata: `kv_namespaces[{index}]` binds {} to KV namespace {:?}, which does not exist; create it with `ridge kv namespace create {}`",
                            binding.binding, binding.id, binding.id
                        ),
                    )
                }
                Err(failure) => return error(StatusCode::INTERNAL_SERVER_ERROR, failure),
            }
        }
        if let Err(refusal) = self.check_queues(name, &metadata).await {
            return refusal;
        }
        // Bindings to other workers: services, and Durable Objects of
        // another worker's class (`[field, binding, worker]`).
        let targets: Vec<(String, &str, &str)> = metadata
            .services
            .iter()
            .enumerate()
            .map(|(index, service)| {
                (
                    format!("services[{index}]"),
                    service.binding.as_str(),
                    service.service.as_str(),
                )
            })
            .chain(
                metadata
                    .durable_objects
                    .iter()
                    .enumerate()
                    .filter_map(|(index, object)| {
                        let script = object.script_name.as_deref()?;
                        Some((
                            format!("durable_objects[{index}]"),
                            object.name.as_str(),
                            script,
                        ))
                    }),
            )
            .collect();
        if !targets.is_empty() {
            let workers = match self.store.workers().await {
                Ok(workers) => workers,
                Err(failure) => return store_error(failure),
            };
            for (field, binding, target) in targets {
                // A worker may bind to itself.
                let exists = target == name || workers.iter().any(|w| w.name == target);
                if !exists {
                    return error(
                        StatusCode::BAD_REQUEST,
                        format!(
                            "invalid metadata: `{field}` binds {binding} to worker {target:?}, which does not exist; deploy it first"
                        ),
                    );
                }
            }
        }
        if let Some(assets) = &metadata.assets {
            if let Err(refusal) = self.check_version_assets(assets).await {
                return refusal;
            }
        }
        let id = content_hash(&metadata, &bundle);
        let candidate =
            WorkerVersion::new(name, &id, &metadata, bundle.clone(), &Default::default());
        if candidate.has_script() {
            if let Err(problem) = check_version(Arc::new(candidate))
                .await
                .map_err(|e| e.to_string())
            {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("the worker does not start: {problem}"),
                );
            }
        }
        // Last: what is wrong with the upload itself is said first.
        if let Err(taken) = self.node.check_routes(name, &metadata.routes) {
            return error(StatusCode::CONFLICT, format!("invalid metadata: {taken}"));
        }
        let created_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let stored = StoredVersion {
            worker: name.to_string(),
            id,
            created_at,
            metadata,
            bundle,
        };
        match self.store.deploy(stored).await {
            Ok(info) => {
                tracing::info!(worker = name, version = %info.id, size = info.size, "version deployed");
                self.applied(json!({ "worker": name, "version": info }))
                    .await
            }
            Err(failure) => store_error(failure),
        }
    }

    async fn activate(&self, name: &str, request: Request<Incoming>) -> Response<WireBody> {
        let body = match read_small_body(request).await {
            Ok(body) => body,
            Err(response) => return response,
        };
        let version = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| {
                v.get("version")
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            });
        let Some(version) = version else {
            return error(
                StatusCode::BAD_REQUEST,
                "expected a JSON body {\"version\": \"<version id>\"}",
            );
        };
        // A rollback may bring back a route another worker has taken since.
        match self.store.version(name, &version).await {
            Ok(Some(stored)) => {
                if let Err(taken) = self.node.check_routes(name, &stored.metadata.routes) {
                    return error(StatusCode::CONFLICT, taken);
                }
                // ... or a queue deleted, or consumed by another worker, since.
                if let Err(refusal) = self.check_queues(name, &stored.metadata).await {
                    return refusal;
                }
            }
            // The store says which is missing, below.
            Ok(None) => {}
            Err(failure) => return store_error(failure),
        }
        match self.store.activate(name, &version).await {
            Ok(info) => {
                tracing::info!(worker = name, version = %info.id, "version activated");
                self.applied(json!({ "worker": name, "version": info }))
                    .await
            }
            Err(failure) => store_error(failure),
        }
    }

    async fn put_secret(
        &self,
        name: &str,
        secret: &str,
        request: Request<Incoming>,
    ) -> Response<WireBody> {
        let valid_name = !secret.is_empty()
            && secret
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_name {
            return error(
                StatusCode::BAD_REQUEST,
                format!("invalid secret name {secret:?}: use A-Z, a-z, 0-9 and '_'"),
            );
        }
        let body = match read_small_body(request).await {
            Ok(body) => body,
            Err(response) => return response,
        };
        let Ok(value) = String::from_utf8(body.to_vec()) else {
            return error(
                StatusCode::BAD_REQUEST,
                "the secret value must be UTF-8 text",
            );
        };
        // In `env` a KV binding would win over the secret without a word.
        let active = match self.store.active_workers().await {
            Ok(active) => active,
            Err(failure) => return store_error(failure),
        };
        let bound = active
            .iter()
            .filter(|worker| worker.worker == name)
            .flat_map(|worker| &worker.metadata.kv_namespaces)
            .find(|binding| binding.binding == secret);
        if let Some(binding) = bound {
            return error(
                StatusCode::CONFLICT,
                format!(
                    "{name}'s active version binds KV namespace {:?} as {secret}; a secret cannot take a binding's name",
                    binding.id
                ),
            );
        }
        match self.store.put_secret(name, secret, &value).await {
            Ok(()) => {
                self.applied(json!({ "worker": name, "secret": secret }))
                    .await
            }
            Err(failure) => store_error(failure),
        }
    }
}

impl AdminApi {
    /// Refuses a version that sends to or consumes a queue that does not
    /// exist, or consumes one another worker consumes (a queue has one
    /// consumer). Dead-letter queues are made when first needed.
    async fn check_queues(
        &self,
        name: &str,
        metadata: &ridge_deploy::VersionMetadata,
    ) -> Result<(), Response<WireBody>> {
        if metadata.queue_producers.is_empty() && metadata.queue_consumers.is_empty() {
            return Ok(());
        }
        let known = self
            .queues
            .list()
            .await
            .map_err(|failure| error(StatusCode::INTERNAL_SERVER_ERROR, failure))?;
        let named = metadata
            .queue_producers
            .iter()
            .enumerate()
            .map(|(index, producer)| (format!("queue_producers[{index}]"), &producer.queue))
            .chain(
                metadata
                    .queue_consumers
                    .iter()
                    .enumerate()
                    .map(|(index, consumer)| {
                        (format!("queue_consumers[{index}]"), &consumer.queue)
                    }),
            );
        for (field, queue) in named {
            if !known.iter().any(|known| &known.name == queue) {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    format!("invalid metadata: `{field}` names queue {queue:?}, which does not exist; create it with `ridge queues create {queue}`"),
                ));
            }
        }
        let others = self.store.active_workers().await.map_err(store_error)?;
        for consumer in &metadata.queue_consumers {
            let taken = others.iter().find(|other| {
                other.worker != name
                    && other
                        .metadata
                        .queue_consumers
                        .iter()
                        .any(|c| c.queue == consumer.queue)
            });
            if let Some(other) = taken {
                return Err(error(
                    StatusCode::CONFLICT,
                    format!(
                        "queue {:?} already has a consumer, worker {:?}: a queue has one consumer",
                        consumer.queue, other.worker
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Reads a body of at most [`MAX_SECRET_BYTES`].
async fn read_small_body(request: Request<Incoming>) -> Result<Bytes, Response<WireBody>> {
    let limited = http_body_util::Limited::new(request.into_body(), MAX_SECRET_BYTES);
    match limited.collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(_) => Err(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than {MAX_SECRET_BYTES} bytes"),
        )),
    }
}
