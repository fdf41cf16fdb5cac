//! OpenTelemetry trace export (optional): when an OTLP/HTTP endpoint is
//! configured, every sampled request becomes a server span with a child
//! span per subrequest and KV operation, batched and sent from a background
//! thread by the OpenTelemetry SDK.
//!
//! Spans are not built while the worker runs. The request's trace context
//! and child spans are plain data in its record (ridge-ext `trace.rs`); they turn
//! into SDK spans only once the request is finished, off the request's path.

use std::time::Duration;

use opentelemetry::trace::{
    Span as _, SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags, TraceId,
    TraceState, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use opentelemetry_sdk::Resource;

use crate::worker::WorkerVersion;
use ridge_ext::trace::{SpanKind as ChildKind, SpanOutcome, TraceContext};
use ridge_ext::{InvocationRecord, Trigger};

/// How long the exporter waits for a collector before giving up on a batch.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// The node's trace exporter, when one is configured.
pub struct TraceExporter {
    provider: SdkTracerProvider,
    tracer: opentelemetry_sdk::trace::SdkTracer,
    /// Share of new traces (requests without a caller's `traceparent`)
    /// that are recorded.
    sample_ratio: f64,
}

/// Why trace export could not start.
#[derive(Debug, thiserror::Error)]
pub enum TraceSetupError {
    #[error("--trace-sample-ratio must be between 0 and 1, not {0}")]
    SampleRatio(f64),
    #[error("--otlp-endpoint {endpoint:?} is not a URL: {source}")]
    NotAUrl {
        endpoint: String,
        source: url::ParseError,
    },
    #[error("--otlp-endpoint must be an http:// or https:// URL, not {0:?}")]
    Scheme(String),
    #[error("cannot export traces to {url}: {source}")]
    Exporter {
        url: String,
        source: Box<opentelemetry_otlp::ExporterBuildError>,
    },
}

impl TraceExporter {
    /// An exporter to the OTLP/HTTP collector at `endpoint` (a base URL
    /// such as `http://127.0.0.1:4318`; spans go to `/v1/traces` under it).
    pub fn new(endpoint: &str, sample_ratio: f64) -> Result<Self, TraceSetupError> {
        if !(0.0..=1.0).contains(&sample_ratio) {
            return Err(TraceSetupError::SampleRatio(sample_ratio));
        }
        let url = traces_url(endpoint)?;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(url.as_str())
            .with_timeout(EXPORT_TIMEOUT)
            .build()
            .map_err(|source| TraceSetupError::Exporter {
                url: url.to_string(),
                source: Box::new(source),
            })?;
        // `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` still apply.
        let resource = Resource::builder().with_service_name("ridge").build();
        let provider = SdkTracerProvider::builder()
            .with_resource(resource)
            // Ridge decides what is sampled (`TraceContext::start`).
            .with_sampler(Sampler::AlwaysOn)
            .with_batch_exporter(exporter)
            .build();
        let tracer = provider.tracer("ridge");
        tracing::info!(%url, sample_ratio, "exporting OpenTelemetry traces");
        Ok(TraceExporter {
            provider,
            tracer,
            sample_ratio,
        })
    }

    /// The trace context of a request that arrived with `traceparent`.
    pub fn start(&self, traceparent: Option<&[u8]>) -> TraceContext {
        TraceContext::start(traceparent, || {
            self.sample_ratio >= 1.0 || rand_unit() < self.sample_ratio
        })
    }

    /// Sends what is still batched; used at shutdown (blocks).
    pub fn flush(&self) {
        if let Err(error) = self.provider.shutdown() {
            tracing::warn!(%error, "could not send the last traces");
        }
    }

    /// Queues the spans of a finished request for export.
    pub fn export(&self, version: &WorkerVersion, record: &InvocationRecord, trace: &TraceContext) {
        if !trace.sampled {
            return;
        }
        let trace_id = TraceId::from(trace.trace_id);
        let parent = match trace.parent_span_id {
            Some(parent) => Context::new().with_remote_span_context(SpanContext::new(
                trace_id,
                SpanId::from(parent),
                TraceFlags::SAMPLED,
                true,
                TraceState::default(),
            )),
            None => Context::new(),
        };
        // From arrival on the network side to now: the span includes any
        // wait for the isolate.
        let end = std::time::SystemTime::now();
        let mut attributes = vec![
            KeyValue::new("faas.name", version.name.clone()),
            KeyValue::new("faas.version", version.version_id.clone()),
            KeyValue::new(
                "faas.trigger",
                match record.trigger {
                    Trigger::Fetch { .. } => "http",
                    Trigger::Scheduled(_) => "timer",
                    Trigger::Queue { .. } => "pubsub",
                    Trigger::Rpc { .. } | Trigger::Alarm(_) | Trigger::WebSocket(_) => "other",
                },
            ),
            KeyValue::new("ridge.route", record.route.clone()),
            KeyValue::new("ridge.outcome", record.outcome.label()),
            KeyValue::new("ridge.cpu_ms", record.cpu.as_secs_f64() * 1000.0),
            KeyValue::new("ridge.subrequests", i64::from(record.subrequests)),
        ];
        if let Trigger::Fetch { method, url } = &record.trigger {
            attributes.push(KeyValue::new("http.request.method", method.to_string()));
            attributes.push(KeyValue::new("url.full", url.clone()));
        }
        if let Some(status) = record.status {
            attributes.push(KeyValue::new(
                "http.response.status_code",
                i64::from(status),
            ));
        }
        if trace.dropped_spans > 0 {
            attributes.push(KeyValue::new(
                "ridge.dropped_spans",
                i64::from(trace.dropped_spans),
            ));
        }
        let (name, failed) = match &record.trigger {
            Trigger::Fetch { method, .. } => (
                format!("{method} {}", version.name),
                record.status.is_none_or(|s| s >= 500),
            ),
            Trigger::Scheduled(_) => (format!("scheduled {}", version.name), false),
            Trigger::Rpc { method, .. } => (format!("rpc {}.{method}", version.name), false),
            Trigger::Alarm(alarm) => (
                format!("alarm {}.{}", version.name, alarm.object.class),
                false,
            ),
            Trigger::WebSocket(event) => (
                format!(
                    "websocket {} {}.{}",
                    event.kind, version.name, event.object.class
                ),
                false,
            ),
            Trigger::Queue { queue, .. } => (format!("queue {} {queue}", version.name), false),
        };
        let mut span = self
            .tracer
            .span_builder(name)
            .with_kind(SpanKind::Server)
            .with_trace_id(trace_id)
            .with_span_id(SpanId::from(trace.span_id))
            .with_start_time(trace.started_at)
            .with_attributes(attributes)
            .start_with_context(&self.tracer, &parent);
        if !record.outcome.is_ok() || failed {
            span.set_status(Status::error(record.outcome.label()));
        }
        let request = Context::new().with_remote_span_context(span.span_context().clone());
        span.end_with_timestamp(end);

        for child in &trace.spans {
            let (name, mut attributes) = match child.kind {
                ChildKind::Fetch => (
                    child.operation.clone(),
                    vec![
                        KeyValue::new("http.request.method", child.operation.clone()),
                        KeyValue::new("url.full", child.target.clone()),
                    ],
                ),
                ChildKind::Rpc => (
                    format!("rpc {}.{}", child.target, child.operation),
                    vec![
                        KeyValue::new("rpc.system", "ridge"),
                        KeyValue::new("rpc.service", child.target.clone()),
                        KeyValue::new("rpc.method", child.operation.clone()),
                    ],
                ),
                ChildKind::Queue => (
                    format!("queue {} {}", child.operation, child.target),
                    vec![
                        KeyValue::new("messaging.system", "ridge"),
                        KeyValue::new("messaging.operation.type", "send"),
                        KeyValue::new("messaging.operation.name", child.operation.clone()),
                        KeyValue::new("messaging.destination.name", child.target.clone()),
                    ],
                ),
                ChildKind::Kv => (
                    format!("kv {}", child.operation),
                    vec![
                        KeyValue::new("db.system.name", "ridge-kv"),
                        KeyValue::new("db.operation.name", child.operation.clone()),
                        KeyValue::new("db.namespace", child.target.clone()),
                    ],
                ),
            };
            let error = match &child.outcome {
                SpanOutcome::Status(status) => {
                    attributes.push(KeyValue::new(
                        "http.response.status_code",
                        i64::from(*status),
                    ));
                    (*status >= 500).then(|| format!("HTTP {status}"))
                }
                SpanOutcome::Error(message) => Some(message.clone()),
                // Still running when the request ended: shown as ending with it.
                SpanOutcome::Pending => Some("unfinished when the request ended".into()),
                SpanOutcome::Ok => None,
            };
            let mut span = self
                .tracer
                .span_builder(name)
                .with_kind(SpanKind::Client)
                .with_span_id(SpanId::from(child.span_id))
                .with_start_time(child.start)
                .with_attributes(attributes)
                .start_with_context(&self.tracer, &request);
            if let Some(error) = error {
                span.set_status(Status::error(error));
            }
            span.end_with_timestamp(child.end.unwrap_or(end));
        }
    }
}

/// The OTLP/HTTP traces URL for a collector's base URL.
fn traces_url(endpoint: &str) -> Result<url::Url, TraceSetupError> {
    let mut url = url::Url::parse(endpoint).map_err(|source| TraceSetupError::NotAUrl {
        endpoint: endpoint.to_string(),
        source,
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(TraceSetupError::Scheme(endpoint.to_string()));
    }
    if !url.path().ends_with("/v1/traces") {
        let path = format!("{}/v1/traces", url.path().trim_end_matches('/'));
        url.set_path(&path);
    }
    Ok(url)
}

/// A uniform number in [0, 1) for sampling.
fn rand_unit() -> f64 {
    (ridge_ext::trace::random_span_id() >> 11) as f64 / (1u64 << 53) as f64
}

/// Attaches a trace context to a request when traces are exported.
pub fn start_request(
    exporter: Option<&TraceExporter>,
    traceparent: Option<&[u8]>,
) -> Option<Box<TraceContext>> {
    exporter.map(|exporter| Box::new(exporter.start(traceparent)))
}

#[cfg(test)]
mod tests {
    use super::traces_url;

    #[test]
    fn the_traces_path_is_added_to_a_base_url() {
        let url = |s| traces_url(s).unwrap().to_string();
        assert_eq!(
            url("http://127.0.0.1:4318"),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(
            url("http://collector:4318/otlp/"),
            "http://collector:4318/otlp/v1/traces"
        );
        assert_eq!(
            url("https://c.example/v1/traces"),
            "https://c.example/v1/traces"
        );
        assert!(traces_url("collector:4318").is_err());
        assert!(traces_url("not a url").is_err());
    }
}
