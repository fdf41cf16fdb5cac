//! The admin API's KV calls: namespaces, and keys within them.
//!
//! | call | does |
//! | --- | --- |
//! | `GET /kv/namespaces` | every namespace |
//! | `PUT /kv/namespaces/{id}` | create a namespace (201; 200 if it exists) |
//! | `DELETE /kv/namespaces/{id}` | delete one with its keys (409 while bound) |
//! | `GET /kv/namespaces/{id}/keys?prefix=&limit=&cursor=` | one page of keys |
//! | `GET /kv/namespaces/{id}/values/{key}` | the value (metadata in a header) |
//! | `PUT /kv/namespaces/{id}/values/{key}?expiration_ttl=&expiration=` | write a value (the body) |
//! | `DELETE /kv/namespaces/{id}/values/{key}` | delete a key |
//!
//! Metadata travels as JSON in the `Ridge-KV-Metadata` header; expiration
//! in `Ridge-KV-Expiration` (seconds since the Unix epoch).

use std::collections::HashMap;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::json;

use super::admin::{error, json_response, store_error, AdminApi};
use super::body::WireBody;
use ridge_kv::{KvError, PutOptions, MAX_VALUE_BYTES};

pub const METADATA_HEADER: &str = "ridge-kv-metadata";
pub const EXPIRATION_HEADER: &str = "ridge-kv-expiration";

fn kv_error(failure: KvError) -> Response<WireBody> {
    let status = match failure {
        KvError::Invalid(_) | KvError::OutOfRange(_) | KvError::Binding { .. } => {
            StatusCode::BAD_REQUEST
        }
        KvError::NamespaceNotFound(_) => StatusCode::NOT_FOUND,
        KvError::Store(_) => {
            tracing::error!(error = %failure, "admin API KV failure");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    error(status, failure)
}

pub(super) fn query(request: &Request<Incoming>) -> HashMap<String, String> {
    url::form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

/// A number from the query string, if given; `Err` says what is wrong.
fn number(query: &HashMap<String, String>, name: &str) -> Result<Option<f64>, String> {
    match query.get(name) {
        None => Ok(None),
        Some(text) => text
            .parse::<f64>()
            .map(Some)
            .map_err(|_| format!("`{name}` must be a number, got {text:?}")),
    }
}

impl AdminApi {
    /// Routes a `/kv/...` call; `path` is what follows `/kv`.
    pub(super) async fn kv_call(
        &self,
        method: &Method,
        path: &[&str],
        request: Request<Incoming>,
    ) -> Response<WireBody> {
        match (method, path) {
            (&Method::GET, ["namespaces"]) => match self.kv.namespaces().await {
                Ok(namespaces) => {
                    json_response(StatusCode::OK, json!({ "namespaces": namespaces }))
                }
                Err(failure) => kv_error(failure),
            },
            (&Method::PUT, ["namespaces", id]) => match self.kv.create_namespace(id).await {
                Ok(created) => {
                    let status = if created {
                        tracing::info!(namespace = id, "KV namespace created");
                        StatusCode::CREATED
                    } else {
                        StatusCode::OK
                    };
                    json_response(status, json!({ "namespace": id, "created": created }))
                }
                Err(failure) => kv_error(failure),
            },
            (&Method::DELETE, ["namespaces", id]) => self.delete_namespace(id).await,
            (&Method::GET, ["namespaces", id, "keys"]) => {
                let query = query(&request);
                let limit = match number(&query, "limit") {
                    Ok(limit) => limit,
                    Err(problem) => return error(StatusCode::BAD_REQUEST, problem),
                };
                if let Err(response) = self.namespace_must_exist(id).await {
                    return response;
                }
                let prefix = query.get("prefix").map(String::as_str).unwrap_or("");
                let cursor = query.get("cursor").map(String::as_str);
                match self.kv.list(id, prefix, limit, cursor).await {
                    Ok(page) => {
                        let keys: Vec<_> = page
                            .keys
                            .iter()
                            .map(|key| {
                                json!({
                                    "name": key.name,
                                    "expiration": key.expiration,
                                    "metadata": key.metadata.as_deref()
                                        .and_then(|m| serde_json::from_str::<serde_json::Value>(m).ok()),
                                })
                            })
                            .collect();
                        json_response(
                            StatusCode::OK,
                            json!({ "keys": keys, "list_complete": page.list_complete, "cursor": page.cursor }),
                        )
                    }
                    Err(failure) => kv_error(failure),
                }
            }
            (&Method::GET, ["namespaces", id, "values", key]) => self.get_value(id, key).await,
            (&Method::PUT, ["namespaces", id, "values", key]) => {
                self.put_value(id, key, request).await
            }
            (&Method::DELETE, ["namespaces", id, "values", key]) => {
                if let Err(response) = self.namespace_must_exist(id).await {
                    return response;
                }
                match self.kv.delete(id, key).await {
                    Ok(()) => json_response(
                        StatusCode::OK,
                        json!({ "namespace": id, "key": key, "deleted": true }),
                    ),
                    Err(failure) => kv_error(failure),
                }
            }
            _ => error(
                StatusCode::NOT_FOUND,
                format!("no admin API call {method} {}", request.uri().path()),
            ),
        }
    }

    async fn namespace_must_exist(&self, id: &str) -> Result<(), Response<WireBody>> {
        match self.kv.namespace_exists(id).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(kv_error(KvError::NamespaceNotFound(id.to_string()))),
            Err(failure) => Err(kv_error(failure)),
        }
    }

    /// Deletes a namespace unless an active worker version is bound to it.
    async fn delete_namespace(&self, id: &str) -> Response<WireBody> {
        let active = match self.store.active_workers().await {
            Ok(active) => active,
            Err(failure) => return store_error(failure),
        };
        let bound: Vec<&str> = active
            .iter()
            .filter(|worker| worker.metadata.kv_namespaces.iter().any(|b| b.id == id))
            .map(|worker| worker.worker.as_str())
            .collect();
        if !bound.is_empty() {
            return error(
                StatusCode::CONFLICT,
                format!(
                    "KV namespace {id:?} is bound by the active version of {}; deploy without the binding first",
                    bound.join(", ")
                ),
            );
        }
        match self.kv.delete_namespace(id).await {
            Ok(()) => {
                tracing::info!(namespace = id, "KV namespace deleted");
                json_response(StatusCode::OK, json!({ "namespace": id, "deleted": true }))
            }
            Err(failure) => kv_error(failure),
        }
    }

    async fn get_value(&self, id: &str, key: &str) -> Response<WireBody> {
        if let Err(response) = self.namespace_must_exist(id).await {
            return response;
        }
        let read = match self.kv.get(id, key, None).await {
            Ok(read) => read,
            Err(failure) => return kv_error(failure),
        };
        let Some(entry) = read.entry else {
            return error(
                StatusCode::NOT_FOUND,
                format!("KV namespace {id:?} has no key {key:?}"),
            );
        };
        let mut response = Response::new(WireBody::from(ridge_ext::ResponseBody::Full(
            entry.value.clone(),
        )));
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        if let Some(value) = entry
            .metadata
            .as_deref()
            .and_then(|m| HeaderValue::from_str(m).ok())
        {
            headers.insert(METADATA_HEADER, value);
        }
        if let Some(expiration) = entry.expiration {
            headers.insert(EXPIRATION_HEADER, HeaderValue::from(expiration));
        }
        response
    }

    async fn put_value(
        &self,
        id: &str,
        key: &str,
        request: Request<Incoming>,
    ) -> Response<WireBody> {
        let query = query(&request);
        let (expiration, expiration_ttl) = match (
            number(&query, "expiration"),
            number(&query, "expiration_ttl"),
        ) {
            (Ok(expiration), Ok(ttl)) => (expiration, ttl),
            (Err(problem), _) | (_, Err(problem)) => {
                return error(StatusCode::BAD_REQUEST, problem)
            }
        };
        let metadata = match request.headers().get(METADATA_HEADER) {
            None => None,
            Some(value) => {
                let parsed = value
                    .to_str()
                    .ok()
                    .and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok());
                match parsed {
                    Some(json) => Some(json.to_string()),
                    None => {
                        return error(
                            StatusCode::BAD_REQUEST,
                            format!("the {METADATA_HEADER} header must be JSON"),
                        )
                    }
                }
            }
        };
        let options = PutOptions {
            expiration,
            expiration_ttl,
            metadata,
        };
        if let Err(failure) = self.kv.check_put(key, &options) {
            return kv_error(failure);
        }
        let limited = http_body_util::Limited::new(request.into_body(), MAX_VALUE_BYTES);
        let value: Bytes = match limited.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => {
                return error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the value is larger than the {MAX_VALUE_BYTES}-byte (25 MiB) limit"),
                )
            }
        };
        match self.kv.put(id, key, value, options).await {
            Ok(()) => json_response(StatusCode::OK, json!({ "namespace": id, "key": key })),
            Err(failure) => kv_error(failure),
        }
    }
}
