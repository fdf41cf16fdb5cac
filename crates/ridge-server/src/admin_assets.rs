//! The admin API's static asset calls, through which `ridge deploy` sends
//! only the asset content a node lacks:
//!
//! | call | does |
//! | --- | --- |
//! | `POST /assets/missing` | `{"hashes": [...]}`: which of them the store lacks |
//! | `PUT /assets/{hash}` | stores one file's content (checked against its hash) |
//!
//! A version's upload then names its manifest (itself stored this way);
//! `check_version_assets` refuses it unless every file is there.

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::json;

use super::admin::{error, json_response, store_error, AdminApi};
use super::body::WireBody;
use ridge_assets::manifest::{is_content_hash, MAX_ASSET_BYTES, MAX_ASSET_FILES};
use ridge_assets::{content_hash, Manifest};
use ridge_deploy::VersionAssets;

/// Largest `/assets/missing` body: a full manifest's hashes and then some.
const MAX_MISSING_BODY: usize = (MAX_ASSET_FILES + 1) * 40 + 1024;

impl AdminApi {
    pub(super) async fn missing_assets(&self, request: Request<Incoming>) -> Response<WireBody> {
        let limited = http_body_util::Limited::new(request.into_body(), MAX_MISSING_BODY);
        let Ok(body) = limited.collect().await.map(|c| c.to_bytes()) else {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "at most {} hashes may be asked about at once",
                    MAX_ASSET_FILES + 1
                ),
            );
        };
        let hashes: Vec<String> = match serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| serde_json::from_value(v.get("hashes")?.clone()).ok())
        {
            Some(hashes) => hashes,
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "expected a JSON body {\"hashes\": [\"<32 hex digits>\", ...]}",
                )
            }
        };
        if let Some(bad) = hashes.iter().find(|hash| !is_content_hash(hash)) {
            return error(
                StatusCode::BAD_REQUEST,
                format!("{bad:?} is not a content hash (32 lowercase hex digits)"),
            );
        }
        match self.store.missing_assets(&hashes).await {
            Ok(missing) => json_response(StatusCode::OK, json!({ "missing": missing })),
            Err(failure) => store_error(failure),
        }
    }

    pub(super) async fn put_asset(
        &self,
        hash: &str,
        request: Request<Incoming>,
    ) -> Response<WireBody> {
        if !is_content_hash(hash) {
            return error(
                StatusCode::BAD_REQUEST,
                format!("{hash:?} is not a content hash (32 lowercase hex digits)"),
            );
        }
        let limited = http_body_util::Limited::new(request.into_body(), MAX_ASSET_BYTES as usize);
        let content: Bytes = match limited.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => {
                return error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!(
                        "an asset may be at most {} MiB",
                        MAX_ASSET_BYTES / 1024 / 1024
                    ),
                )
            }
        };
        let actual = content_hash(&content);
        if actual != hash {
            return error(
                StatusCode::BAD_REQUEST,
                format!("the content's hash is {actual}, not {hash}: the upload was altered or cut short"),
            );
        }
        match self.store.put_asset(hash, content).await {
            Ok(()) => json_response(StatusCode::OK, json!({ "stored": hash })),
            Err(failure) => store_error(failure),
        }
    }

    /// Checks an upload's assets: its manifest and every file it names
    /// are stored (its settings were checked with the metadata). `Err` is
    /// the response refusing it.
    pub(super) async fn check_version_assets(
        &self,
        assets: &VersionAssets,
    ) -> Result<(), Response<WireBody>> {
        let manifest = load_manifest(self.store.as_ref(), &assets.manifest)
            .await
            .map_err(|problem| error(StatusCode::BAD_REQUEST, problem))?;
        let missing = self
            .store
            .missing_assets(&manifest.hashes())
            .await
            .map_err(store_error)?;
        match missing.first() {
            None => Ok(()),
            Some(first) => Err(error(
                StatusCode::BAD_REQUEST,
                format!(
                    "the node lacks {} of the version's asset files (first: {first}); upload them with PUT /assets/HASH first",
                    missing.len()
                ),
            )),
        }
    }
}

/// A stored manifest, read and checked.
pub(crate) async fn load_manifest(
    store: &dyn ridge_store::Store,
    hash: &str,
) -> Result<Manifest, String> {
    match store.asset(hash).await {
        Ok(Some(json)) => Manifest::from_json(&json).map_err(|e| e.to_string()),
        Ok(None) => Err(format!(
            "the assets manifest {hash} is not stored; upload it with PUT /assets/{hash} first"
        )),
        Err(failure) => Err(failure.to_string()),
    }
}
