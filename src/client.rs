//! The client side of the admin API, behind `ridge deploy`, `ridge
//! versions`, `ridge rollback`, `ridge secret`, `ridge workers`,
//! `ridge kv`, `ridge tail` and `ridge usage`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use reqwest::multipart::{Form, Part};
use serde_json::Value;

use ridge_deploy::config::WorkerConfig;
use ridge_deploy::{Bundle, VersionMetadata};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the admin API at {server}: {source}")]
    Unreachable {
        server: String,
        source: reqwest::Error,
    },
    #[error("the admin API answered {status}: {message}")]
    Api { status: u16, message: String },
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{} changed while it was being deployed; deploy again", .0.display())]
    Changed(std::path::PathBuf),
}

/// Bundles larger than this report their upload progress.
const LARGE_UPLOAD: u64 = 1024 * 1024;
const UPLOAD_CHUNK: usize = 64 * 1024;

/// Counts the bytes of an upload sent and reports each tenth done.
struct UploadProgress<F> {
    total: u64,
    sent: AtomicU64,
    report: F,
}

impl<F: Fn(&str)> UploadProgress<F> {
    fn new(total: u64, report: F) -> Self {
        Self {
            total,
            sent: AtomicU64::new(0),
            report,
        }
    }

    fn sent(&self, bytes: u64) {
        if self.total < LARGE_UPLOAD {
            return;
        }
        let before = self.sent.fetch_add(bytes, Ordering::Relaxed);
        let (was, now) = (before * 10 / self.total, (before + bytes) * 10 / self.total);
        if now > was {
            (self.report)(&format!("  {}% sent", now.min(10) * 10));
        }
    }
}

/// A connection to one node's admin API.
pub struct AdminClient {
    server: String,
    token: String,
    http: reqwest::Client,
}

impl AdminClient {
    pub fn new(server: &str, token: &str) -> Self {
        Self {
            server: server.trim_end_matches('/').to_string(),
            token: token.to_string(),
            http: reqwest::Client::new(),
        }
    }

    /// Sends an authenticated request; an error status becomes an error
    /// carrying the API's message.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ClientError> {
        let unreachable = |source| ClientError::Unreachable {
            server: self.server.clone(),
            source,
        };
        let response = request
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status().as_u16();
        if status >= 400 {
            let body: Value = response.json().await.unwrap_or(Value::Null);
            let message = body
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("no details")
                .to_string();
            return Err(ClientError::Api { status, message });
        }
        Ok(response)
    }

    async fn call(&self, request: reqwest::RequestBuilder) -> Result<Value, ClientError> {
        let response = self.send(request).await?;
        Ok(response.json().await.unwrap_or(Value::Null))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server)
    }

    /// Uploads a worker's collected modules (and its static assets, when
    /// it has some) as a new version and returns the API's answer.
    /// `progress` hears about the upload.
    pub async fn deploy(
        &self,
        config: &WorkerConfig,
        bundle: Bundle,
        assets: Option<ridge_assets::Collected>,
        message: Option<String>,
        progress: impl Fn(&str) + Send + Sync + 'static,
    ) -> Result<Value, ClientError> {
        let mut metadata = VersionMetadata::from_config(config);
        metadata.main_module = bundle.main.clone();
        if let (Some(assets), Some(section)) = (assets, &config.assets) {
            let manifest = self.upload_assets(assets, &progress).await?;
            metadata.assets = Some(ridge_deploy::VersionAssets {
                manifest,
                settings: section.settings(),
            });
        }
        metadata.message = message;
        metadata.author = std::env::var("USER")
            .ok()
            .map(|user| format!("{user} via ridge deploy"));
        progress(&format!(
            "Uploading {} ({} modules, {:.1} KiB)",
            config.name,
            bundle.modules.len(),
            bundle.size() as f64 / 1024.0
        ));
        let mut form = Form::new().part(
            "metadata",
            Part::text(serde_json::to_string(&metadata).expect("metadata serializes"))
                .mime_str("application/json")
                .expect("valid mime"),
        );
        let tracker = Arc::new(UploadProgress::new(bundle.size(), progress));
        for (name, module) in &bundle.modules {
            let content = module.content.clone();
            let length = content.len() as u64;
            let tracker = tracker.clone();
            let chunks =
                futures::stream::iter((0..content.len()).step_by(UPLOAD_CHUNK).map(move |start| {
                    let end = (start + UPLOAD_CHUNK).min(content.len());
                    tracker.sent((end - start) as u64);
                    Ok::<_, std::io::Error>(bytes::Bytes::copy_from_slice(&content[start..end]))
                }));
            let part = Part::stream_with_length(reqwest::Body::wrap_stream(chunks), length)
                .file_name(name.clone());
            form = form.part(name.clone(), part);
        }
        let request = self
            .http
            .put(self.url(&format!("/workers/{}", config.name)))
            .multipart(form);
        self.call(request).await
    }

    /// Sends the asset files the node lacks, then the manifest; returns
    /// the manifest's hash. Content is addressed by hash, so a redeploy
    /// that changed one file sends one file.
    async fn upload_assets(
        &self,
        assets: ridge_assets::Collected,
        progress: &(impl Fn(&str) + Send + Sync),
    ) -> Result<String, ClientError> {
        let manifest = assets.manifest.to_json();
        let manifest_hash = ridge_assets::content_hash(&manifest);
        let mut hashes = assets.manifest.hashes();
        hashes.push(manifest_hash.clone());
        let answer = self
            .call(
                self.http
                    .post(self.url("/assets/missing"))
                    .json(&serde_json::json!({ "hashes": hashes })),
            )
            .await?;
        let missing: Vec<String> = answer["missing"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|hash| hash.as_str().map(str::to_string))
            .filter(|hash| *hash != manifest_hash)
            .collect();
        let files = assets.manifest.files.len();
        let sizes: std::collections::BTreeMap<&str, u64> = assets
            .manifest
            .files
            .values()
            .map(|entry| (entry.hash.as_str(), entry.size))
            .collect();
        let bytes: u64 = missing.iter().map(|hash| sizes[hash.as_str()]).sum();
        progress(&format!(
            "Assets: {files} files; uploading {} new ({:.1} KiB), the node has the rest",
            missing.len(),
            bytes as f64 / 1024.0
        ));
        let tracker = UploadProgress::new(bytes, progress);
        for hash in &missing {
            let path = &assets.sources[hash];
            let content = tokio::fs::read(path)
                .await
                .map_err(|source| ClientError::Read {
                    path: path.clone(),
                    source,
                })?;
            if ridge_assets::content_hash(&content) != *hash {
                return Err(ClientError::Changed(path.clone()));
            }
            let length = content.len() as u64;
            self.call(
                self.http
                    .put(self.url(&format!("/assets/{hash}")))
                    .body(content),
            )
            .await?;
            tracker.sent(length);
        }
        self.call(
            self.http
                .put(self.url(&format!("/assets/{manifest_hash}")))
                .body(manifest),
        )
        .await?;
        Ok(manifest_hash)
    }

    /// Opens a worker's live tail: the response streams one JSON object per
    /// line. `filter` holds the query parameters (status, method, …).
    pub async fn tail(
        &self,
        worker: &str,
        filter: &[(&str, String)],
    ) -> Result<reqwest::Response, ClientError> {
        let request = self
            .http
            .get(self.url(&format!("/workers/{}/tail", segment(worker))))
            .query(filter);
        self.send(request).await
    }

    /// A worker's hourly usage from `since` (seconds since the epoch).
    pub async fn usage(&self, worker: &str, since: i64) -> Result<Value, ClientError> {
        let request = self
            .http
            .get(self.url(&format!("/workers/{}/usage", segment(worker))))
            .query(&[("since", since)]);
        self.call(request).await
    }

    pub async fn workers(&self) -> Result<Value, ClientError> {
        self.call(self.http.get(self.url("/workers"))).await
    }

    pub async fn versions(&self, worker: &str) -> Result<Value, ClientError> {
        self.call(
            self.http
                .get(self.url(&format!("/workers/{worker}/versions"))),
        )
        .await
    }

    pub async fn activate(&self, worker: &str, version: &str) -> Result<Value, ClientError> {
        let body = serde_json::json!({ "version": version });
        self.call(
            self.http
                .post(self.url(&format!("/workers/{worker}/activate")))
                .json(&body),
        )
        .await
    }

    pub async fn put_secret(
        &self,
        worker: &str,
        name: &str,
        value: String,
    ) -> Result<Value, ClientError> {
        self.call(
            self.http
                .put(self.url(&format!("/workers/{worker}/secrets/{name}")))
                .body(value),
        )
        .await
    }

    pub async fn delete_secret(&self, worker: &str, name: &str) -> Result<Value, ClientError> {
        self.call(
            self.http
                .delete(self.url(&format!("/workers/{worker}/secrets/{name}"))),
        )
        .await
    }

    pub async fn delete_worker(&self, worker: &str) -> Result<Value, ClientError> {
        self.call(self.http.delete(self.url(&format!("/workers/{worker}"))))
            .await
    }

    pub async fn list_objects(&self, worker: &str, class: &str) -> Result<Value, ClientError> {
        self.call(self.http.get(self.url(&format!(
            "/workers/{}/objects/{}",
            segment(worker),
            segment(class)
        ))))
        .await
    }

    pub async fn delete_object(
        &self,
        worker: &str,
        class: &str,
        id: &str,
    ) -> Result<Value, ClientError> {
        self.call(self.http.delete(self.url(&format!(
            "/workers/{}/objects/{}/{}",
            segment(worker),
            segment(class),
            segment(id)
        ))))
        .await
    }

    pub async fn queues(&self) -> Result<Value, ClientError> {
        self.call(self.http.get(self.url("/queues"))).await
    }

    pub async fn queue_info(&self, name: &str) -> Result<Value, ClientError> {
        self.call(
            self.http
                .get(self.url(&format!("/queues/{}", segment(name)))),
        )
        .await
    }

    pub async fn create_queue(&self, name: &str) -> Result<Value, ClientError> {
        self.call(
            self.http
                .put(self.url(&format!("/queues/{}", segment(name)))),
        )
        .await
    }

    pub async fn delete_queue(&self, name: &str) -> Result<Value, ClientError> {
        self.call(
            self.http
                .delete(self.url(&format!("/queues/{}", segment(name)))),
        )
        .await
    }

    pub async fn purge_queue(&self, name: &str) -> Result<Value, ClientError> {
        self.call(
            self.http
                .post(self.url(&format!("/queues/{}/purge", segment(name)))),
        )
        .await
    }

    pub async fn kv_namespaces(&self) -> Result<Value, ClientError> {
        self.call(self.http.get(self.url("/kv/namespaces"))).await
    }

    pub async fn kv_create_namespace(&self, id: &str) -> Result<Value, ClientError> {
        self.call(
            self.http
                .put(self.url(&format!("/kv/namespaces/{}", segment(id)))),
        )
        .await
    }

    pub async fn kv_delete_namespace(&self, id: &str) -> Result<Value, ClientError> {
        self.call(
            self.http
                .delete(self.url(&format!("/kv/namespaces/{}", segment(id)))),
        )
        .await
    }

    /// One page of keys.
    pub async fn kv_list(
        &self,
        namespace: &str,
        prefix: &str,
        cursor: Option<&str>,
    ) -> Result<Value, ClientError> {
        let mut query = vec![("prefix", prefix)];
        if let Some(cursor) = cursor {
            query.push(("cursor", cursor));
        }
        self.call(
            self.http
                .get(self.url(&format!("/kv/namespaces/{}/keys", segment(namespace))))
                .query(&query),
        )
        .await
    }

    pub async fn kv_get(&self, namespace: &str, key: &str) -> Result<bytes::Bytes, ClientError> {
        let response = self
            .send(self.http.get(self.value_url(namespace, key)))
            .await?;
        response
            .bytes()
            .await
            .map_err(|source| ClientError::Unreachable {
                server: self.server.clone(),
                source,
            })
    }

    pub async fn kv_put(
        &self,
        namespace: &str,
        key: &str,
        value: Vec<u8>,
        expiration_ttl: Option<u64>,
        metadata: Option<&str>,
    ) -> Result<Value, ClientError> {
        let mut request = self.http.put(self.value_url(namespace, key)).body(value);
        if let Some(ttl) = expiration_ttl {
            request = request.query(&[("expiration_ttl", ttl)]);
        }
        if let Some(metadata) = metadata {
            request = request.header("ridge-kv-metadata", metadata);
        }
        self.call(request).await
    }

    pub async fn kv_delete(&self, namespace: &str, key: &str) -> Result<Value, ClientError> {
        self.call(self.http.delete(self.value_url(namespace, key)))
            .await
    }

    fn value_url(&self, namespace: &str, key: &str) -> String {
        self.url(&format!(
            "/kv/namespaces/{}/values/{}",
            segment(namespace),
            segment(key)
        ))
    }
}

/// A KV key or id as one URL path segment ('/' and all included).
fn segment(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}
