//! The admin API's calls for watching a node: metrics, live tail, usage.
//!
//! | call | does |
//! | --- | --- |
//! | `GET /metrics` | Prometheus metrics (OpenMetrics text) |
//! | `GET /workers/{name}/tail?status=&method=&search=&sampling_rate=` | live events, one JSON object per line |
//! | `GET /workers/{name}/usage?since=` | hourly usage from `since` (seconds since the epoch; default: the last 24 hours) |
//!
//! Tail lines have a `type`: "connected" first, then "event" per request
//! and "dropped" (with `count`) when events were dropped because the client
//! read too slowly.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use http::{header, HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;
use serde_json::json;
use tokio::sync::mpsc;

use super::admin::{error, json_response, store_error, AdminApi};
use super::admin_kv::query;
use super::body::WireBody;
use ridge_ext::ResponseBody;
use ridge_runtime::observe::tail::TailSubscription;
use ridge_runtime::observe::{TailFilter, TailHub};
use ridge_store::operations::UsageRow;

/// Chunks of tail output in flight to the client.
const TAIL_CHUNKS_IN_FLIGHT: usize = 4;

impl AdminApi {
    pub(super) fn metrics(&self) -> Response<WireBody> {
        let mut response = Response::new(WireBody::text(self.observers.metrics.render()));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        );
        response
    }

    pub(super) async fn tail(
        &self,
        worker: &str,
        request: &Request<Incoming>,
    ) -> Response<WireBody> {
        if let Err(failure) = self.store.versions(worker).await {
            return store_error(failure);
        }
        let filter = match tail_filter(request) {
            Ok(filter) => filter,
            Err(problem) => return error(StatusCode::BAD_REQUEST, problem),
        };
        let subscription = self.observers.tail.subscribe(worker, filter);
        let (lines, body) = mpsc::channel(TAIL_CHUNKS_IN_FLIGHT);
        let connected = json!({ "type": "connected", "worker": worker });
        let _ = lines.try_send(Ok(Bytes::from(format!("{connected}\n"))));
        let tail = self.observers.tail.clone();
        tokio::spawn(forward_tail(tail, worker.to_string(), subscription, lines));
        let mut response = Response::new(WireBody::from(ResponseBody::Stream(body)));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-ndjson"),
        );
        response
    }

    pub(super) async fn usage(
        &self,
        worker: &str,
        request: &Request<Incoming>,
    ) -> Response<WireBody> {
        let query = query(request);
        let since = match query.get("since") {
            None => ridge_core::clock::unix_now() - 24 * 3600,
            Some(text) => match text.parse::<i64>() {
                Ok(seconds) => seconds,
                Err(_) => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        format!("`since` must be seconds since the Unix epoch, not {text:?}"),
                    )
                }
            },
        };
        if let Err(failure) = self.store.versions(worker).await {
            return store_error(failure);
        }
        // The hour `since` falls in counts whole.
        let since = since.div_euclid(3600) * 3600;
        match self.store.usage(worker, since).await {
            Ok(hours) => {
                let mut total = UsageRow {
                    worker: worker.to_string(),
                    ..Default::default()
                };
                for row in &hours {
                    total.add(row);
                }
                json_response(
                    StatusCode::OK,
                    json!({
                        "worker": worker,
                        "since": since,
                        "hours": hours,
                        "total": {
                            "requests": total.requests,
                            "cpu_us": total.cpu_us,
                            "wall_us": total.wall_us,
                            "subrequests": total.subrequests,
                            "kv_operations": total.kv_operations,
                            "queue_messages": total.queue_messages,
                            "bytes_in": total.bytes_in,
                            "bytes_out": total.bytes_out,
                        },
                    }),
                )
            }
            Err(failure) => store_error(failure),
        }
    }
}

/// The filter a tail request's query asks for.
fn tail_filter(request: &Request<Incoming>) -> Result<TailFilter, String> {
    let query = query(request);
    let ok = match query.get("status").map(String::as_str) {
        None | Some("") => None,
        Some("ok") => Some(true),
        Some("error") => Some(false),
        Some(other) => {
            return Err(format!(
                "`status` must be \"ok\" or \"error\", not {other:?}"
            ))
        }
    };
    let methods = query
        .get("method")
        .map(|list| {
            list.split(',')
                .filter(|m| !m.is_empty())
                .map(|m| m.trim().to_ascii_uppercase())
                .collect()
        })
        .unwrap_or_default();
    let sampling_rate = match query.get("sampling_rate") {
        None => 1.0,
        Some(text) => match text.parse::<f64>() {
            Ok(rate) if (0.0..=1.0).contains(&rate) => rate,
            _ => {
                return Err(format!(
                    "`sampling_rate` must be a number from 0 to 1, not {text:?}"
                ))
            }
        },
    };
    Ok(TailFilter {
        ok,
        methods,
        search: query.get("search").filter(|s| !s.is_empty()).cloned(),
        sampling_rate,
    })
}

/// Copies a watcher's events to its client, reporting drops as they
/// happen, until the client goes away.
async fn forward_tail(
    tail: Arc<TailHub>,
    worker: String,
    mut subscription: TailSubscription,
    lines: mpsc::Sender<Result<Bytes, String>>,
) {
    let dropped = Arc::clone(&subscription.dropped);
    let mut reported = 0;
    loop {
        let line = tokio::select! {
            line = subscription.events.recv() => line,
            _ = lines.closed() => break,
        };
        let Some(line) = line else { break };
        let now_dropped = dropped.load(Ordering::Relaxed);
        if now_dropped > reported {
            let notice = json!({ "type": "dropped", "count": now_dropped - reported });
            reported = now_dropped;
            if lines
                .send(Ok(Bytes::from(format!("{notice}\n"))))
                .await
                .is_err()
            {
                break;
            }
        }
        if lines.send(Ok(line)).await.is_err() {
            break;
        }
    }
    drop(subscription);
    tail.prune(&worker);
}
