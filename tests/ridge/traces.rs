//! OpenTelemetry trace export: spans arrive at a real OTLP/HTTP collector
//! (decoded with the `opentelemetry-proto` crate), and subrequests carry the
//! W3C `traceparent` of their span.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

use crate::support::{fixture, http1, serve_with_env, Ridge};

/// An OTLP/HTTP collector that keeps the spans it receives, and on any
/// other path a service that answers with the `traceparent` it was sent.
struct Collector {
    addr: SocketAddr,
    spans: Arc<Mutex<Vec<Span>>>,
}

impl Collector {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let spans: Arc<Mutex<Vec<Span>>> = Arc::default();
        let kept = spans.clone();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let kept = kept.clone();
                let service = hyper::service::service_fn(
                    move |request: http::Request<hyper::body::Incoming>| {
                        let kept = kept.clone();
                        async move {
                            let traceparent = request
                                .headers()
                                .get("traceparent")
                                .map_or("none".to_string(), |v| v.to_str().unwrap().to_string());
                            if request.uri().path() != "/v1/traces" {
                                return Ok::<_, Infallible>(http::Response::new(Full::new(
                                    Bytes::from(traceparent),
                                )));
                            }
                            assert_eq!(request.headers()["content-type"], "application/x-protobuf");
                            let body = request.into_body().collect().await.unwrap().to_bytes();
                            let export = ExportTraceServiceRequest::decode(body)
                                .expect("an OTLP protobuf body");
                            let mut kept = kept.lock().unwrap();
                            for resource in export.resource_spans {
                                let service = resource.resource.unwrap().attributes;
                                assert!(service.iter().any(|a| a.key == "service.name"
                                    && a.value.as_ref().unwrap().value
                                        == Some(Value::StringValue("ridge".into()))));
                                for scope in resource.scope_spans {
                                    kept.extend(scope.spans);
                                }
                            }
                            Ok(http::Response::new(Full::new(Bytes::new())))
                        }
                    },
                );
                tokio::spawn(async move {
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                });
            }
        });
        Self { addr, spans }
    }

    /// Waits for the spans of trace `trace_id` until there are `count`.
    async fn trace(&self, trace_id: &[u8], count: usize) -> Vec<Span> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let spans: Vec<Span> = self
                .spans
                .lock()
                .unwrap()
                .iter()
                .filter(|s| s.trace_id == trace_id)
                .cloned()
                .collect();
            if spans.len() >= count {
                assert_eq!(spans.len(), count, "{spans:#?}");
                return spans;
            }
            assert!(
                Instant::now() < deadline,
                "{count} spans of the trace within 15 s: got {spans:#?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn attribute(span: &Span, key: &str) -> Option<Value> {
    span.attributes
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| a.value.clone()?.value)
}

/// The span of `kind` named `name` among `spans`.
fn span_named<'a>(spans: &'a [Span], kind: SpanKind, name: &str) -> &'a Span {
    spans
        .iter()
        .find(|s| s.kind == kind as i32 && s.name == name)
        .unwrap_or_else(|| panic!("no {name} span: {spans:#?}"))
}

fn hex_id(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn traced_node(collector: &Collector) -> Ridge {
    serve_with_env(
        &[("traced", fixture("traced"))],
        &[
            "--allow-outbound",
            "127.0.0.1",
            "--otlp-endpoint",
            &format!("http://{}", collector.addr),
        ],
        // Batches leave every 100 ms instead of every 5 s.
        &[("OTEL_BSP_SCHEDULE_DELAY", "100")],
    )
}

/// Sends a request through the worker; returns what the downstream
/// service saw as `traceparent`.
async fn call(ridge: &Ridge, collector: &Collector, traceparent: Option<&str>) -> String {
    let mut request = http1()
        .get(ridge.url(&format!("/?to=http://{}/downstream", collector.addr)))
        .header("host", "traced.test");
    if let Some(traceparent) = traceparent {
        request = request.header("traceparent", traceparent);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["note"], "hello");
    body["downstream"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_request_continues_the_callers_trace_with_subrequest_and_kv_spans() {
    let collector = Collector::start().await;
    let ridge = traced_node(&collector);
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let seen = call(
        &ridge,
        &collector,
        Some(&format!("00-{trace}-{caller_span}-01")),
    )
    .await;

    let spans = collector.trace(&hex::decode(trace).unwrap(), 4).await;
    let server: Vec<&Span> = spans
        .iter()
        .filter(|s| s.kind == SpanKind::Server as i32)
        .collect();
    assert_eq!(server.len(), 1, "{spans:#?}");
    let server = server[0];
    assert_eq!(server.name, "GET traced");
    assert_eq!(hex_id(&server.parent_span_id), caller_span);
    assert_eq!(
        attribute(server, "faas.name"),
        Some(Value::StringValue("traced".into()))
    );
    assert_eq!(
        attribute(server, "http.response.status_code"),
        Some(Value::IntValue(200))
    );
    assert_eq!(
        attribute(server, "ridge.subrequests"),
        Some(Value::IntValue(1))
    );

    let children: Vec<&Span> = spans
        .iter()
        .filter(|s| s.kind == SpanKind::Client as i32)
        .collect();
    let names: Vec<&str> = children.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names.len(), 3);
    for expected in ["kv put", "kv get", "GET"] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }
    for child in &children {
        assert_eq!(
            child.parent_span_id, server.span_id,
            "{} is a child of the request",
            child.name
        );
        assert!(
            child.start_time_unix_nano >= server.start_time_unix_nano,
            "{}",
            child.name
        );
        assert!(
            child.end_time_unix_nano <= server.end_time_unix_nano,
            "{}",
            child.name
        );
        assert!(
            child.end_time_unix_nano >= child.start_time_unix_nano,
            "{}",
            child.name
        );
    }
    let kv_put = children.iter().find(|s| s.name == "kv put").unwrap();
    assert_eq!(
        attribute(kv_put, "db.namespace"),
        Some(Value::StringValue("NOTES".into()))
    );
    // The subrequest carried its own span as the parent for what it called.
    let fetch = children.iter().find(|s| s.name == "GET").unwrap();
    assert_eq!(seen, format!("00-{trace}-{}-01", hex_id(&fetch.span_id)));
    assert_eq!(
        attribute(fetch, "http.response.status_code"),
        Some(Value::IntValue(200))
    );
    assert_eq!(
        attribute(fetch, "url.full"),
        Some(Value::StringValue(format!(
            "http://{}/downstream",
            collector.addr
        )))
    );
}

#[tokio::test]
async fn a_request_without_traceparent_starts_a_trace_and_unsampled_ones_are_not_exported() {
    let collector = Collector::start().await;
    let ridge = traced_node(&collector);

    // The caller does not record this trace: it is propagated, not exported.
    let unsampled = "0af7651916cd43dd8448eb211c80319c";
    let seen = call(
        &ridge,
        &collector,
        Some(&format!("00-{unsampled}-b7ad6b7169203331-00")),
    )
    .await;
    assert!(seen.starts_with(&format!("00-{unsampled}-")), "{seen}");
    assert!(seen.ends_with("-00"), "{seen}");

    let seen = call(&ridge, &collector, None).await;
    let parts: Vec<&str> = seen.split('-').collect();
    assert_eq!((parts.len(), parts[0], parts[3]), (4, "00", "01"), "{seen}");
    let spans = collector.trace(&hex::decode(parts[1]).unwrap(), 4).await;
    let server = spans
        .iter()
        .find(|s| s.kind == SpanKind::Server as i32)
        .unwrap();
    assert!(
        server.parent_span_id.is_empty(),
        "a new trace has no parent"
    );
    let fetch = spans.iter().find(|s| s.name == "GET").unwrap();
    assert_eq!(hex_id(&fetch.span_id), parts[2]);

    // Batches go out in order: the unsampled request came first.
    let leaked = collector
        .spans
        .lock()
        .unwrap()
        .iter()
        .filter(|s| hex_id(&s.trace_id) == unsampled)
        .count();
    assert_eq!(leaked, 0);
}

#[tokio::test]
async fn subrequests_carry_no_traceparent_without_trace_export() {
    let collector = Collector::start().await;
    let ridge = crate::support::serve(
        &[("traced", fixture("traced"))],
        &["--allow-outbound", "127.0.0.1"],
    );
    assert_eq!(call(&ridge, &collector, None).await, "none");
}

#[test]
fn an_invalid_otlp_endpoint_is_refused_at_startup() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ridge"))
        .args([
            "serve",
            "--workers",
            fixture("traced").to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .args(["--otlp-endpoint", "collector:4318"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            r#"--otlp-endpoint must be an http:// or https:// URL, not "collector:4318""#
        ),
        "{stderr}"
    );
}

#[tokio::test]
async fn an_rpc_call_is_a_child_span_and_the_callee_continues_the_trace() {
    let collector = Collector::start().await;
    let services = fixture("services");
    let ridge = serve_with_env(
        &[
            ("front", services.join("front")),
            ("auth", services.join("auth")),
            ("handlers", services.join("handlers")),
        ],
        &["--otlp-endpoint", &format!("http://{}", collector.addr)],
        &[("OTEL_BSP_SCHEDULE_DELAY", "100")],
    );
    let trace = "5bf92f3577b34da6a3ce929d0e0e4737";
    let response = http1()
        .get(ridge.url("/whoami"))
        .header("host", "front.localhost")
        .header("traceparent", format!("00-{trace}-00f067aa0ba902b7-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let spans = collector.trace(&hex::decode(trace).unwrap(), 3).await;
    let find = |kind, name| span_named(&spans, kind, name);
    let front = find(SpanKind::Server, "GET front");
    let call = find(SpanKind::Client, "rpc auth.whoami");
    let callee = find(SpanKind::Server, "rpc auth.whoami");
    assert_eq!(call.parent_span_id, front.span_id);
    assert_eq!(callee.parent_span_id, call.span_id);
    assert_eq!(
        attribute(call, "rpc.method"),
        Some(Value::StringValue("whoami".into()))
    );
}

#[tokio::test]
async fn a_queue_batch_continues_the_trace_of_its_send() {
    let collector = Collector::start().await;
    let ridge = serve_with_env(
        &[("queues", fixture("queues"))],
        &["--otlp-endpoint", &format!("http://{}", collector.addr)],
        &[("OTEL_BSP_SCHEDULE_DELAY", "100")],
    );
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let response = http1()
        .post(ridge.url("/send"))
        .header("host", "queues-probe.localhost")
        .header("traceparent", format!("00-{trace}-00f067aa0ba902b7-01"))
        .body(r#"{"n": 1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "sent");
    // The request, its send, and (after the batch timeout) the batch.
    let spans = collector.trace(&hex::decode(trace).unwrap(), 3).await;
    let find = |kind, name| span_named(&spans, kind, name);
    let request = find(SpanKind::Server, "POST queues-probe");
    let send = find(SpanKind::Client, "queue send jobs");
    let batch = find(SpanKind::Server, "queue queues-probe jobs");
    assert_eq!(send.parent_span_id, request.span_id);
    assert_eq!(batch.parent_span_id, send.span_id);
    assert_eq!(
        attribute(send, "messaging.destination.name"),
        Some(Value::StringValue("jobs".into()))
    );
}
