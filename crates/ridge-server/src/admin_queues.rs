//! The admin API's queue calls (`ridge queues`, and Cloudflare's HTTP API
//! for producers and pull consumers outside Ridge).
//!
//! | call | does |
//! | --- | --- |
//! | `GET /queues` | every queue with its backlog, in flight, delayed, oldest message, dead-lettered |
//! | `PUT /queues/{name}` | create a queue (409 if it exists) |
//! | `GET /queues/{name}` | one queue's counts |
//! | `DELETE /queues/{name}` | delete a queue and its messages (409 while a worker uses it) |
//! | `POST /queues/{name}/purge` | delete its messages |
//! | `POST /queues/{name}/messages` | send `{ body, content_type: "json" \| "text", delay_seconds }` |
//! | `POST /queues/{name}/messages/batch` | send `{ messages: [ … ], delay_seconds }` |
//! | `POST /queues/{name}/messages/pull` | lease `{ batch_size, visibility_timeout_ms }` |
//! | `POST /queues/{name}/messages/ack` | `{ acks: [{ lease_id }], retries: [{ lease_id, delay_seconds }] }` |
//!
//! Pulled bodies are as Cloudflare's pull API gives them: text as a
//! string, the other content types in base64.

use base64::Engine;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde::Deserialize;
use serde_json::json;

use super::admin::{error, json_response, store_error, AdminApi};
use super::body::WireBody;
use ridge_queues::{Outgoing, PullAck, QueueError, Send};

/// The largest request body of a queue call: a batch of text messages at
/// their limit, with JSON's escaping.
const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

fn queue_error(failure: QueueError) -> Response<WireBody> {
    match failure {
        QueueError::Store(failure) => store_error(failure),
        QueueError::TooLarge(_) => error(StatusCode::PAYLOAD_TOO_LARGE, failure),
        QueueError::InvalidName { .. }
        | QueueError::InvalidRequest { .. }
        | QueueError::InvalidDelay(_) => error(StatusCode::BAD_REQUEST, failure),
    }
}

/// A message sent through the API (Cloudflare's REST shape).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApiMessage {
    body: serde_json::Value,
    #[serde(default)]
    content_type: Option<String>,
    #[serde(default)]
    delay_seconds: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApiBatch {
    messages: Vec<ApiMessage>,
    #[serde(default)]
    delay_seconds: Option<f64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PullRequest {
    #[serde(default)]
    batch_size: Option<u32>,
    #[serde(default)]
    visibility_timeout_ms: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LeaseRef {
    lease_id: String,
    #[serde(default)]
    delay_seconds: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AckRequest {
    #[serde(default)]
    acks: Vec<LeaseRef>,
    #[serde(default)]
    retries: Vec<LeaseRef>,
}

/// A message's body as stored: JSON text, or the text itself.
fn outgoing(message: ApiMessage) -> Result<Outgoing, String> {
    let body = match message.content_type.as_deref().unwrap_or("json") {
        "json" => message.body.to_string(),
        "text" => match message.body {
            serde_json::Value::String(text) => text,
            _ => return Err("a \"text\" message's body must be a string".into()),
        },
        other => {
            return Err(format!(
                "content_type {other:?} cannot be sent through the API: use \"json\" or \"text\""
            ))
        }
    };
    Ok(Outgoing {
        body: Bytes::from(body),
        content_type: message.content_type.unwrap_or_else(|| "json".into()),
        delay_seconds: message.delay_seconds,
    })
}

/// The JSON body of a request (an empty body is `T::default()`, when
/// `empty` is given).
async fn read_json<T: for<'de> Deserialize<'de>>(
    request: Request<Incoming>,
    empty: Option<T>,
) -> Result<T, Response<WireBody>> {
    let limited = http_body_util::Limited::new(request.into_body(), MAX_BODY_BYTES);
    let body = limited.collect().await.map_err(|_| {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than {MAX_BODY_BYTES} bytes"),
        )
    })?;
    let body = body.to_bytes();
    if body.iter().all(u8::is_ascii_whitespace) {
        if let Some(empty) = empty {
            return Ok(empty);
        }
    }
    serde_json::from_slice(&body).map_err(|problem| {
        error(
            StatusCode::BAD_REQUEST,
            format!("invalid JSON body: {problem}"),
        )
    })
}

impl AdminApi {
    pub(super) async fn queues_call(
        &self,
        method: &Method,
        path: &[&str],
        request: Request<Incoming>,
    ) -> Response<WireBody> {
        match (method, path) {
            (&Method::GET, []) => match self.queues.list().await {
                Ok(queues) => json_response(StatusCode::OK, json!({ "queues": queues })),
                Err(failure) => queue_error(failure),
            },
            (&Method::PUT, [name]) => match self.queues.create(name).await {
                Ok(true) => json_response(StatusCode::CREATED, json!({ "queue": name })),
                Ok(false) => error(StatusCode::CONFLICT, format!("queue {name:?} exists")),
                Err(failure) => queue_error(failure),
            },
            (&Method::GET, [name]) => match self.queues.info(name).await {
                Ok(info) => json_response(StatusCode::OK, json!(info)),
                Err(failure) => queue_error(failure),
            },
            (&Method::DELETE, [name]) => match self.queue_user(name).await {
                Ok(Some(worker)) => error(
                    StatusCode::CONFLICT,
                    format!("queue {name:?} is in use: worker {worker:?} sends to or consumes it; deploy it without the queue first"),
                ),
                Ok(None) => match self.queues.delete(name).await {
                    Ok(()) => json_response(StatusCode::OK, json!({ "queue": name, "deleted": true })),
                    Err(failure) => queue_error(failure),
                },
                Err(failure) => store_error(failure),
            },
            (&Method::POST, [name, "purge"]) => match self.queues.purge(name).await {
                Ok(purged) => {
                    json_response(StatusCode::OK, json!({ "queue": name, "purged": purged }))
                }
                Err(failure) => queue_error(failure),
            },
            (&Method::POST, [name, "messages"]) => {
                match read_json::<ApiMessage>(request, None).await {
                    Ok(message) => self.send(name, vec![message], false, None).await,
                    Err(refusal) => refusal,
                }
            }
            (&Method::POST, [name, "messages", "batch"]) => {
                match read_json::<ApiBatch>(request, None).await {
                    Ok(batch) => {
                        self.send(name, batch.messages, true, batch.delay_seconds)
                            .await
                    }
                    Err(refusal) => refusal,
                }
            }
            (&Method::POST, [name, "messages", "pull"]) => {
                match read_json(request, Some(PullRequest::default())).await {
                    Ok(pull) => self.pull(name, pull).await,
                    Err(refusal) => refusal,
                }
            }
            (&Method::POST, [name, "messages", "ack"]) => {
                match read_json(request, Some(AckRequest::default())).await {
                    Ok(acks) => self.acknowledge(name, acks).await,
                    Err(refusal) => refusal,
                }
            }
            _ => error(
                StatusCode::NOT_FOUND,
                format!("no admin API call {method} {}", request.uri().path()),
            ),
        }
    }

    /// A worker whose active version sends to or consumes `queue`.
    async fn queue_user(&self, queue: &str) -> Result<Option<String>, ridge_store::StoreError> {
        let workers = self.store.active_workers().await?;
        Ok(workers
            .into_iter()
            .find(|worker| worker.metadata.queues().contains(&queue))
            .map(|worker| worker.worker))
    }

    async fn send(
        &self,
        queue: &str,
        messages: Vec<ApiMessage>,
        batch: bool,
        batch_delay_seconds: Option<f64>,
    ) -> Response<WireBody> {
        let messages = match messages.into_iter().map(outgoing).collect() {
            Ok(messages) => messages,
            Err(problem) => return error(StatusCode::BAD_REQUEST, problem),
        };
        let send = Send {
            messages,
            batch,
            batch_delay_seconds,
            default_delay_seconds: None,
            traceparent: None,
        };
        match self.queues.send(queue, send).await {
            Ok(()) => json_response(StatusCode::OK, json!({ "queue": queue })),
            Err(failure) => queue_error(failure),
        }
    }

    async fn pull(&self, queue: &str, pull: PullRequest) -> Response<WireBody> {
        let leased = self
            .queues
            .pull(queue, pull.batch_size, pull.visibility_timeout_ms)
            .await;
        let messages: Vec<serde_json::Value> = match leased {
            Ok(leased) => leased
                .into_iter()
                .map(|(lease_id, message)| {
                    let body = if message.content_type == "text" {
                        String::from_utf8_lossy(&message.body).into_owned()
                    } else {
                        base64::engine::general_purpose::STANDARD.encode(&message.body)
                    };
                    json!({
                        "id": message.id,
                        "body": body,
                        "timestamp_ms": message.sent_at_ms,
                        "attempts": message.attempts,
                        "lease_id": lease_id,
                        "metadata": { "CF-Content-Type": message.content_type },
                    })
                })
                .collect(),
            Err(failure) => return queue_error(failure),
        };
        json_response(StatusCode::OK, json!({ "messages": messages }))
    }

    async fn acknowledge(&self, queue: &str, request: AckRequest) -> Response<WireBody> {
        let answers: Vec<PullAck> = request
            .acks
            .into_iter()
            .map(|ack| PullAck {
                lease_id: ack.lease_id,
                retry_delay_seconds: None,
            })
            .chain(request.retries.into_iter().map(|retry| PullAck {
                lease_id: retry.lease_id,
                retry_delay_seconds: Some(retry.delay_seconds.unwrap_or(0)),
            }))
            .collect();
        match self.queues.acknowledge(queue, &answers).await {
            // Messages whose lease ran out are not counted.
            Ok(done) => json_response(
                StatusCode::OK,
                json!({ "ackCount": done.acked, "retryCount": done.retried, "warnings": [] }),
            ),
            Err(failure) => queue_error(failure),
        }
    }
}
