//! Turns an HTTP request into a worker request and the worker's answer back
//! into an HTTP response. Protocol-neutral: the TCP (h1/h2) server calls it.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock, RwLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::BodyExt;
use tokio::sync::{mpsc, oneshot};

use super::body::WireBody;
use super::router::Router;
use super::websocket;
use ridge_core::limits::{check_request_head, RequestTooLarge};
use ridge_core::{LimitExceeded, Outcome, ScheduledEvent};
use ridge_ext::{AlarmEvent, Caller, Event, FetchRequest, Invocation, WorkerReply, WorkerResponse};
use ridge_runtime::isolate::{Scheduler, WorkerDirectory};
use ridge_runtime::observe::metrics::OutcomeLabels;
use ridge_runtime::observe::{Observers, UsageMeter};
use ridge_runtime::worker::WorkerVersion;

/// How much of a worker's error reaches the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorDetail {
    /// `ridge dev`: the message and stack trace, in the response body.
    Full,
    /// `ridge serve`: an opaque 500; the details go to the log.
    Opaque,
}

/// Request-body chunks in flight between the connection and the isolate.
const REQUEST_CHUNKS_IN_FLIGHT: usize = 4;

/// Hop-by-hop headers never forwarded from a worker's response.
const HOP_BY_HOP: [&str; 6] = [
    "connection",
    "keep-alive",
    "transfer-encoding",
    "upgrade",
    "proxy-connection",
    "te",
];

pub struct EdgeHandler {
    router: RwLock<Arc<Router>>,
    scheduler: Scheduler,
    /// The node's observers (the scheduler's); one `Arc` so that a request
    /// holds them for the price of one reference count.
    observers: Arc<Observers>,
    errors: ErrorDetail,
    /// `ridge dev` with code that does not load: every request gets this
    /// explanation until the code is fixed.
    failure: RwLock<Option<Arc<(StatusCode, String)>>>,
    /// `ridge dev`: `GET /__scheduled?cron=…` runs the scheduled handler.
    test_scheduled: bool,
    /// Open WebSockets per worker and client.
    websocket_clients: Arc<websocket::ClientSockets>,
}

impl EdgeHandler {
    pub fn new(router: Router, scheduler: Scheduler, errors: ErrorDetail) -> Self {
        Self {
            router: RwLock::new(Arc::new(router)),
            observers: Arc::new(scheduler.observers().clone()),
            scheduler,
            errors,
            failure: RwLock::new(None),
            test_scheduled: false,
            websocket_clients: Arc::default(),
        }
    }

    /// Lets `GET /__scheduled?cron=…` run the worker's scheduled handler,
    /// as `wrangler dev --test-scheduled` does.
    pub fn with_test_scheduled(mut self) -> Self {
        self.test_scheduled = true;
        self
    }

    /// Where the node reports what it does.
    pub fn observers(&self) -> &Observers {
        &self.observers
    }

    /// Answers every request with this status and explanation until cleared.
    pub fn set_failure(&self, failure: Option<(StatusCode, String)>) {
        *self.failure.write().expect("failure lock") = failure.map(Arc::new);
    }

    /// Runs `job` on the next isolate thread in turn (it starts serving a
    /// connection there).
    pub fn run_on_isolate_thread(&self, job: Box<dyn FnOnce() + Send>) {
        self.scheduler.run_on_next_thread(job);
    }

    /// Lets the isolate of a version no route leads to any more go.
    pub fn retire(&self, version: &ridge_runtime::worker::WorkerVersion) {
        self.scheduler.retire(version);
    }

    /// Replaces the routing table; requests already routed are unaffected.
    pub fn set_router(&self, router: Router) {
        *self.router.write().expect("router lock") = Arc::new(router);
    }

    fn router(&self) -> Arc<Router> {
        self.router.read().expect("router lock").clone()
    }

    /// Handles one request; `scheme` is "http" or "https". The request is
    /// routed and handed to its worker's isolate right away; the returned
    /// future only waits for the answer.
    pub fn handle<B>(&self, request: Request<B>, scheme: &str, client: IpAddr) -> Answer
    where
        B: Body<Data = Bytes> + Send + Unpin + 'static,
        B::Error: std::fmt::Display + Send,
    {
        Answer {
            state: match self.dispatch(request, scheme, client) {
                Ok(Routed::Worker(dispatched)) => AnswerState::Worker(dispatched),
                Ok(Routed::Asset(response)) => AnswerState::Asset(response),
                Err(refusal) => AnswerState::Refused(Some(refusal)),
            },
            errors: self.errors,
        }
    }

    /// Sends `request` to its worker or its static assets, or refuses it
    /// with a response.
    fn dispatch<B>(
        &self,
        request: Request<B>,
        scheme: &str,
        client: IpAddr,
    ) -> Result<Routed, Box<Response<WireBody>>>
    where
        B: Body<Data = Bytes> + Send + Unpin + 'static,
        B::Error: std::fmt::Display + Send,
    {
        let (mut parts, body) = request.into_parts();
        let (host, hostname) = match request_host(&parts.uri, &parts.headers, parts.version) {
            Ok(host) => host,
            Err(problem) => return Err(Box::new(plain(StatusCode::BAD_REQUEST, problem))),
        };
        let path_and_query = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");

        if let Some(refusal) = oversized(&parts).or_else(|| unsupported(&parts)) {
            return Err(Box::new(refusal));
        }
        if let Some(failure) = self.failure.read().expect("failure lock").clone() {
            return Err(Box::new(plain(failure.0, failure.1.clone())));
        }
        let Some((worker, route)) = self.router().route(hostname, parts.uri.path()) else {
            return Err(Box::new(plain(
                StatusCode::NOT_FOUND,
                format!("No worker is routed for {hostname}{}\n", parts.uri.path()),
            )));
        };
        let max_body = worker.limits.request_body_bytes();
        let declared_length = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if let Some(Err(refusal)) =
            declared_length.map(|length| worker.limits.check_request_body(length))
        {
            tokio::spawn(drain(body, max_body));
            return Err(Box::new(too_large(refusal)));
        }

        if self.test_scheduled && parts.uri.path() == "/__scheduled" && worker.has_script() {
            return Ok(Routed::Worker(
                self.dispatch_test_scheduled(worker, parts.uri.query()),
            ));
        }
        if let Some(assets) = &worker.assets {
            if let Some(plan) = assets.route(worker.has_script(), path_and_query, &parts.headers) {
                return Ok(Routed::Asset(serve_asset(
                    worker.clone(),
                    plan,
                    parts.method,
                    hostname.to_string(),
                    std::mem::take(&mut parts.headers),
                    parts.uri,
                    self.observers.clone(),
                )));
            }
        }
        let request_id = ridge_ext::next_request_id();
        let websocket = match websocket::Handshake::from_request(
            parts.version,
            &parts.headers,
            &mut parts.extensions,
        ) {
            Some(handshake) => match self.websocket_clients.admit(&worker.name, client) {
                Ok(slot) => Some((handshake, slot)),
                Err(open) => {
                    return Err(Box::new(plain(
                        StatusCode::TOO_MANY_REQUESTS,
                        format!("This client has {open} WebSockets open to this worker, the most it may; close one first\n"),
                    )))
                }
            },
            None => None,
        };
        let mut url = String::with_capacity(scheme.len() + 3 + host.len() + path_and_query.len());
        for part in [scheme, "://", host, path_and_query] {
            url.push_str(part);
        }
        let trace = ridge_runtime::observe::trace::start_request(
            self.observers.traces.as_deref(),
            parts.headers.get("traceparent").map(|v| v.as_bytes()),
        );
        let headers = std::mem::take(&mut parts.headers);
        // Only a request with a body can turn out too large or malformed.
        let (body, body_fault) = if body.is_end_stream() {
            (None, None)
        } else {
            let fault = Arc::new(OnceLock::new());
            let chunks = stream_request_body(
                body,
                max_body,
                fault.clone(),
                worker.clone(),
                self.observers.usage.clone(),
            );
            (Some(chunks), Some(fault))
        };
        let (reply, answer) = oneshot::channel();
        let is_head = parts.method == Method::HEAD;
        self.scheduler.dispatch(
            worker.clone(),
            Invocation {
                request_id,
                route,
                event: Event::Fetch(FetchRequest {
                    method: parts.method,
                    url,
                    headers,
                    body,
                }),
                received: Instant::now(),
                reply,
                trace,
                caller: None,
            },
        );
        Ok(Routed::Worker(Dispatched {
            answer,
            worker,
            request_id,
            is_head,
            body_fault,
            websocket,
            observers: Some(self.observers.clone()),
        }))
    }

    /// Every worker version the routing table leads to.
    pub fn workers(&self) -> Vec<Arc<WorkerVersion>> {
        self.router().workers().cloned().collect()
    }

    /// Hands an event no client sent (a cron run, an alarm) to `worker`'s
    /// isolate; the receiver gets the worker's answer (the isolate answers
    /// one that outlasts the wall-clock limit).
    fn dispatch_event(
        &self,
        worker: &Arc<WorkerVersion>,
        route: &str,
        event: Event,
    ) -> (u64, oneshot::Receiver<WorkerReply>) {
        let request_id = ridge_ext::next_request_id();
        let (reply, answer) = oneshot::channel();
        // A queue batch continues the trace of the send of its first message.
        let traceparent = match &event {
            Event::Queue(batch) => batch.traceparent.as_deref().map(str::as_bytes),
            _ => None,
        };
        let trace = ridge_runtime::observe::trace::start_request(
            self.observers.traces.as_deref(),
            traceparent,
        );
        self.scheduler.dispatch(
            worker.clone(),
            Invocation {
                request_id,
                route: Arc::from(route),
                event,
                received: Instant::now(),
                reply,
                trace,
                caller: None,
            },
        );
        (request_id, answer)
    }

    /// `GET /__scheduled?cron=…` in `ridge dev` (as `wrangler dev
    /// --test-scheduled`): runs the scheduled handler now, and answers
    /// "Ran scheduled event" once it finished.
    fn dispatch_test_scheduled(
        &self,
        worker: Arc<WorkerVersion>,
        query: Option<&str>,
    ) -> Dispatched {
        let cron = url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
            .find(|(name, _)| name == "cron")
            .map(|(_, value)| value.into_owned())
            .unwrap_or_default();
        let event = ScheduledEvent {
            cron,
            scheduled_time_ms: ridge_core::clock::unix_now_ms(),
        };
        let (request_id, answer) = self.dispatch_event(&worker, "cron", Event::Scheduled(event));
        Dispatched {
            answer,
            worker,
            request_id,
            is_head: false,
            body_fault: None,
            websocket: None,
            observers: Some(self.observers.clone()),
        }
    }

    /// Runs `worker`'s scheduled handler for its cron `cron`, scheduled for
    /// `scheduled_ms`, under the same limits as a request; logs how it went.
    pub async fn run_scheduled(&self, worker: Arc<WorkerVersion>, cron: &str, scheduled_ms: i64) {
        let event = ScheduledEvent {
            cron: cron.to_string(),
            scheduled_time_ms: scheduled_ms,
        };
        let event = Event::Scheduled(event);
        let outcome = self
            .run_event(&worker, "cron", event, "scheduled run", cron)
            .await;
        self.observers
            .metrics
            .cron_runs
            .get_or_create(&OutcomeLabels {
                worker: worker.name.clone(),
                outcome: outcome.label().into(),
            })
            .inc();
    }

    /// Runs a Durable Object's alarm on `worker`'s current version, under
    /// the same limits as a request; logs a failure and says how it went
    /// (`None`: the worker is not served here now).
    pub async fn run_alarm(&self, worker: &str, event: AlarmEvent) -> Option<Outcome> {
        let version = self
            .router()
            .workers()
            .find(|w| w.name == worker)
            .cloned()?;
        let object = format!("{}:{}", event.object.class, event.object.id);
        let outcome = self
            .run_event(&version, "alarm", Event::Alarm(event), "alarm", &object)
            .await;
        self.observers
            .metrics
            .alarm_runs
            .get_or_create(&OutcomeLabels {
                worker: worker.to_string(),
                outcome: outcome.label().into(),
            })
            .inc();
        Some(outcome)
    }

    /// Runs `worker`'s `queue()` handler on a batch, under the same limits
    /// as a request; logs a failure and says how it went.
    pub async fn run_queue_batch(
        &self,
        worker: &Arc<WorkerVersion>,
        batch: ridge_ext::queues::QueueBatch,
    ) -> Outcome {
        let about = format!("{} ({} messages)", batch.queue, batch.messages.len());
        let outcome = self
            .run_event(worker, "queue", Event::Queue(batch), "queue batch", &about)
            .await;
        self.observers
            .metrics
            .queue_batches
            .get_or_create(&OutcomeLabels {
                worker: worker.name.clone(),
                outcome: outcome.label().into(),
            })
            .inc();
        outcome
    }

    /// Runs `event` (a `what`: "scheduled run", "alarm", "queue batch";
    /// `about` says which cron, object or queue) on `worker` and waits for
    /// its end; logs a failure.
    async fn run_event(
        &self,
        worker: &Arc<WorkerVersion>,
        route: &str,
        event: Event,
        what: &str,
        about: &str,
    ) -> Outcome {
        let (request_id, answer) = self.dispatch_event(worker, route, event);
        let name = &worker.name;
        match answer.await {
            Ok(WorkerReply::Done) => Outcome::Ok,
            Ok(WorkerReply::LimitExceeded(limit)) => {
                tracing::warn!(worker = %name, about, request = request_id, "{what} stopped: {limit}");
                Outcome::Exceeded(limit)
            }
            Ok(WorkerReply::Error(message) | WorkerReply::NotStarted(message)) => {
                tracing::error!(worker = %name, about, request = request_id, "{what} failed: {message}");
                Outcome::Exception
            }
            Ok(WorkerReply::Response(_) | WorkerReply::WebSocket(_) | WorkerReply::Rpc(_)) => {
                tracing::error!(worker = %name, about, request = request_id, "the worker answered a {what} with a Response");
                Outcome::Exception
            }
            Err(_) => {
                tracing::error!(worker = %name, about, request = request_id, "the worker stopped during a {what}");
                Outcome::Exception
            }
        }
    }
}

/// Service bindings reach the workers of the routing table, by name.
impl WorkerDirectory for EdgeHandler {
    fn invoke(
        &self,
        worker: &str,
        event: Event,
        caller: Caller,
    ) -> Option<oneshot::Receiver<WorkerReply>> {
        let version = self.router().workers().find(|w| w.name == worker)?.clone();
        let traceparent = match &event {
            Event::Fetch(request) => request.headers.get("traceparent").map(|v| v.as_bytes()),
            Event::Rpc(call) => call.traceparent.as_deref().map(str::as_bytes),
            Event::Scheduled(_) | Event::Alarm(_) | Event::WebSocket(_) | Event::Queue(_) => None,
        };
        let trace = ridge_runtime::observe::trace::start_request(
            self.observers.traces.as_deref(),
            traceparent,
        );
        let (reply, answer) = oneshot::channel();
        self.scheduler.dispatch(
            version,
            Invocation {
                request_id: ridge_ext::next_request_id(),
                route: Arc::from(format!("service binding of {}", caller.worker)),
                event,
                received: Instant::now(),
                reply,
                trace,
                caller: Some(Box::new(caller)),
            },
        );
        Some(answer)
    }
}

/// An asset response being made (files are read off the calling thread).
type AssetAnswer = Pin<Box<dyn Future<Output = Response<WireBody>> + Send>>;

/// Where `dispatch` sent a request.
enum Routed {
    Worker(Dispatched),
    Asset(AssetAnswer),
}

/// The response to a request, once its worker answered (or its isolate did
/// for it, when the worker ran out of wall-clock time). Written out rather
/// than an async block: one is allocated and moved per request, and this
/// keeps it to the fields it needs.
pub struct Answer {
    state: AnswerState,
    errors: ErrorDetail,
}

enum AnswerState {
    /// The response refusing the request.
    Refused(Option<Box<Response<WireBody>>>),
    /// The request sent to its worker.
    Worker(Dispatched),
    /// A static asset's response.
    Asset(AssetAnswer),
}

impl Future for Answer {
    type Output = Response<WireBody>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Response<WireBody>> {
        let this = self.get_mut();
        match &mut this.state {
            AnswerState::Refused(refusal) => {
                Poll::Ready(*refusal.take().expect("polled after completion"))
            }
            AnswerState::Worker(dispatched) => {
                let answer = std::task::ready!(Pin::new(&mut dispatched.answer).poll(cx));
                Poll::Ready(dispatched.respond(answer, this.errors))
            }
            AnswerState::Asset(response) => response.as_mut().poll(cx),
        }
    }
}

/// The response of `version`'s assets to a request `plan` was made for;
/// no isolate is involved.
fn serve_asset(
    version: Arc<WorkerVersion>,
    plan: ridge_assets::Plan,
    method: Method,
    host: String,
    headers: http::HeaderMap,
    uri: http::Uri,
    observers: Arc<Observers>,
) -> AssetAnswer {
    Box::pin(async move {
        let assets = version.assets.as_ref().expect("a version with assets");
        let started = Instant::now();
        let response = assets.respond(plan, &method, &host, &headers).await;
        observers
            .metrics
            .asset_responses
            .get_or_create(&ridge_runtime::observe::metrics::RequestLabels {
                worker: version.name.clone(),
                status: response.status().as_u16(),
            })
            .inc();
        // Logged as the isolate logs a worker's requests (on in `ridge dev`).
        if tracing::enabled!(target: "ridge::request", tracing::Level::INFO) {
            let (path, status) = (uri.path(), response.status().as_u16());
            let wall_ms = started.elapsed().as_secs_f64() * 1000.0;
            tracing::info!(
                target: "ridge::request",
                worker = %version.name,
                version = %version.version_id,
                event = "asset",
                method = %method,
                path,
                status,
                wall_ms = format!("{wall_ms:.1}"),
                "{method} {path} {status} {wall_ms:.1} ms (static asset)",
            );
        }
        response.map(|body| match body {
            ridge_assets::AssetBody::Empty => WireBody::empty(),
            ridge_assets::AssetBody::Full(bytes) => ridge_ext::ResponseBody::Full(bytes).into(),
            file => ridge_ext::ResponseBody::Stream(file.into_stream()).into(),
        })
    })
}

/// A request handed to its worker, waiting for the answer.
struct Dispatched {
    answer: oneshot::Receiver<WorkerReply>,
    worker: Arc<WorkerVersion>,
    request_id: u64,
    is_head: bool,
    /// Set when the request has a body: what went wrong reading it, if
    /// anything did.
    body_fault: Option<Arc<OnceLock<BodyFault>>>,
    /// A WebSocket upgrade, with its place under the per-client cap.
    websocket: Option<(websocket::Handshake, websocket::ClientSlot)>,
    /// The node's observers, until the response takes them to meter its
    /// body.
    observers: Option<Arc<Observers>>,
}

impl Dispatched {
    /// The HTTP response for what the worker answered.
    fn respond(
        &mut self,
        answer: Result<WorkerReply, oneshot::error::RecvError>,
        errors: ErrorDetail,
    ) -> Response<WireBody> {
        let worker = &self.worker;
        // What the worker made of a body it could not read does not count:
        // the client is told what was wrong with its request.
        match self.body_fault.as_ref().and_then(|fault| fault.get()) {
            Some(BodyFault::TooLarge) => {
                return too_large(RequestTooLarge::Body(worker.limits.request_body_mb))
            }
            Some(BodyFault::Malformed(problem)) => {
                return plain(
                    StatusCode::BAD_REQUEST,
                    format!("The request body could not be read: {problem}\n"),
                )
            }
            None => {}
        }
        let observers = self.observers.take().expect("answered once");
        if let Ok(WorkerReply::WebSocket(reply)) = answer {
            let metrics = observers.metrics.clone();
            return websocket::accept(self.websocket.take(), reply, worker, metrics);
        }
        reply_to_response(
            answer,
            worker,
            observers,
            self.request_id,
            self.is_head,
            errors,
        )
    }
}

/// The HTTP response for what the worker (or its isolate) answered.
fn reply_to_response(
    answer: Result<WorkerReply, oneshot::error::RecvError>,
    version: &Arc<WorkerVersion>,
    observers: Arc<Observers>,
    request_id: u64,
    is_head: bool,
    errors: ErrorDetail,
) -> Response<WireBody> {
    let worker = version.name.as_str();
    match answer {
        Ok(WorkerReply::Response(response)) => {
            to_http_response(response, is_head).map(|body| body.metered(version.clone(), observers))
        }
        // Only `ridge dev`'s `/__scheduled` dispatches a scheduled run and
        // answers over HTTP.
        Ok(WorkerReply::Done) => plain(StatusCode::OK, "Ran scheduled event\n"),
        // The edge never sends an RPC call.
        Ok(WorkerReply::Rpc(_)) => error_response(errors, "an RPC result answered an HTTP request"),
        Ok(WorkerReply::LimitExceeded(LimitExceeded::BackedOff(ms))) => {
            // Not logged per request: the back-off itself was, once.
            let message = LimitExceeded::BackedOff(ms);
            let mut response = plain(StatusCode::SERVICE_UNAVAILABLE, format!("{message}\n"));
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(ms.div_ceil(1000)));
            response
        }
        Ok(WorkerReply::LimitExceeded(message)) => {
            tracing::warn!(worker, request = request_id, "{message}");
            let hint = match errors {
                ErrorDetail::Full => {
                    " (limits are as in production; ridge dev --no-limits relaxes them)"
                }
                ErrorDetail::Opaque => "",
            };
            plain(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("{message}{hint}\n"),
            )
        }
        Ok(WorkerReply::Error(message)) => {
            tracing::error!(worker, request = request_id, "{message}");
            error_response(errors, &message)
        }
        // Logged when the start failed.
        Ok(WorkerReply::NotStarted(message)) => error_response(errors, &message),
        Ok(WorkerReply::WebSocket(_)) => {
            let message =
                "The worker answered a request that is not a WebSocket upgrade with a WebSocket";
            tracing::error!(worker, request = request_id, "{message}");
            error_response(errors, message)
        }
        Err(_) => {
            let message = "The worker stopped before it responded";
            tracing::error!(worker, request = request_id, "{message}");
            error_response(errors, message)
        }
    }
}

fn error_response(errors: ErrorDetail, message: &str) -> Response<WireBody> {
    match errors {
        ErrorDetail::Full => plain(StatusCode::INTERNAL_SERVER_ERROR, format!("{message}\n")),
        ErrorDetail::Opaque => plain(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error\n"),
    }
}

/// A 414 or 431 for a URL or headers over Cloudflare's limits.
fn oversized(parts: &http::request::Parts) -> Option<Response<WireBody>> {
    let url_bytes = parts.uri.path_and_query().map_or(1, |p| p.as_str().len());
    let header_bytes: usize = parts
        .headers
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len() + 4)
        .sum();
    check_request_head(url_bytes, header_bytes)
        .err()
        .map(too_large)
}

/// Longest request method taken; RFC 9110 sets no limit, but none in use
/// comes near it.
const MAX_METHOD_BYTES: usize = 32;

/// The host a request is for, and its name without the port: its
/// `:authority` (HTTP/2 and 3, or an absolute URL) or its one Host header,
/// checked as RFC 9112 asks, so that routing and `request.url` see the
/// same, well-formed host. `Err` says what is wrong, for a 400.
fn request_host<'a>(
    uri: &'a http::Uri,
    headers: &'a http::HeaderMap,
    version: http::Version,
) -> Result<(&'a str, &'a str), &'static str> {
    let mut hosts = headers.get_all(header::HOST).iter();
    let host_header = hosts.next();
    if hosts.next().is_some() {
        return Err("The request has more than one Host header\n");
    }
    let host_header = match host_header.map(|value| value.to_str()) {
        Some(Ok(value)) => Some(value),
        Some(Err(_)) => return Err("The Host header is not a valid host\n"),
        None => None,
    };
    let host = match (uri.authority(), host_header) {
        (Some(authority), Some(header)) if version >= http::Version::HTTP_2 => {
            if !authority.as_str().eq_ignore_ascii_case(header) {
                return Err("The Host header and the request's :authority differ\n");
            }
            authority.as_str()
        }
        (Some(authority), _) => authority.as_str(),
        (None, Some(header)) => header,
        // HTTP/1.0 needed no Host.
        (None, None) if version <= http::Version::HTTP_10 => "localhost",
        (None, None) => return Err("The request has no Host header\n"),
    };
    match host_name(host) {
        Some(name) => Ok((host, name)),
        None => Err("The Host header is not a valid host\n"),
    }
}

/// The name in a host as a URL can hold it (without its port): a DNS name
/// (letters, digits, `-`, `_`, `.`) or a bracketed IPv6 address, with an
/// optional port; `None` for anything else, such as what would end the
/// host early in a URL (`#`, `/`, `?`, `\\`, `@`, spaces).
fn host_name(host: &str) -> Option<&str> {
    let (name, port) = match host.strip_prefix('[') {
        Some(bracketed) => {
            let (address, rest) = bracketed.split_once(']')?;
            address.parse::<std::net::Ipv6Addr>().ok()?;
            let name = &host[..address.len() + 2];
            match rest {
                "" => return Some(name),
                _ => (name, rest.strip_prefix(':')?),
            }
        }
        None => match host.rsplit_once(':') {
            Some((name, port)) => (name, port),
            None => (host, "0"),
        },
    };
    let name_ok = name.starts_with('[')
        || (!name.is_empty()
            && name.len() <= 253
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_')));
    // RFC 3986 allows an empty port ("example.com:").
    let port_ok = port.is_empty()
        || (port.len() <= 5 && port.parse::<u16>().is_ok() && !port.starts_with('+'));
    (name_ok && port_ok).then_some(name)
}

/// A 501 for what Ridge does not implement: a transfer coding other than
/// chunked (a body it could not decode), or an outlandish method.
fn unsupported(parts: &http::request::Parts) -> Option<Response<WireBody>> {
    if parts.method.as_str().len() > MAX_METHOD_BYTES {
        return Some(plain(
            StatusCode::NOT_IMPLEMENTED,
            format!("The request method is longer than {MAX_METHOD_BYTES} bytes\n"),
        ));
    }
    for value in parts.headers.get_all(header::TRANSFER_ENCODING) {
        let only_chunked = value.to_str().is_ok_and(|value| {
            value
                .split(',')
                .all(|coding| coding.trim().eq_ignore_ascii_case("chunked"))
        });
        if !only_chunked {
            return Some(plain(
                StatusCode::NOT_IMPLEMENTED,
                "The request uses a transfer coding other than chunked\n",
            ));
        }
    }
    None
}

/// The response refusing a request over a size limit.
fn too_large(refusal: RequestTooLarge) -> Response<WireBody> {
    let status = StatusCode::from_u16(refusal.status()).expect("a valid status");
    plain(status, format!("{refusal}\n"))
}

/// What went wrong reading a request's body.
#[derive(Debug)]
enum BodyFault {
    /// Over the worker's `request_body_mb`: a 413.
    TooLarge,
    /// The client sent something that is not a body (bad chunked encoding,
    /// a length it did not keep to): a 400.
    Malformed(String),
}

/// Forwards a request body to the isolate chunk by chunk, so that a large
/// upload is never held in memory whole. Past the worker's body limit
/// (`max_bytes`, which also bounds how much of the rest is drained), or
/// when the body is malformed, the worker's stream fails and `fault` says
/// why, so the client gets a 413 or a 400.
fn stream_request_body<B>(
    mut body: B,
    max_bytes: u64,
    fault: Arc<OnceLock<BodyFault>>,
    version: Arc<WorkerVersion>,
    usage: Arc<UsageMeter>,
) -> mpsc::Receiver<Result<Bytes, String>>
where
    B: Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: std::fmt::Display + Send,
{
    let (sender, receiver) = mpsc::channel(REQUEST_CHUNKS_IN_FLIGHT);
    tokio::spawn(async move {
        let mut received = 0u64;
        while let Some(frame) = body.frame().await {
            let chunk = match frame {
                Ok(frame) => match frame.into_data() {
                    Ok(data) if data.is_empty() => continue,
                    Ok(data) => {
                        received += data.len() as u64;
                        match version.limits.check_request_body(received) {
                            Ok(()) => Ok(data),
                            Err(_) => {
                                let _ = fault.set(BodyFault::TooLarge);
                                Err(format!(
                                    "the request body is larger than the {} MiB limit",
                                    version.limits.request_body_mb
                                ))
                            }
                        }
                    }
                    Err(_trailers) => continue,
                },
                Err(error) => {
                    let problem = error.to_string();
                    let message = format!("the request body could not be read: {problem}");
                    let _ = fault.set(BodyFault::Malformed(problem));
                    Err(message)
                }
            };
            let failed = chunk.is_err();
            if sender.send(chunk).await.is_err() || failed {
                break;
            }
        }
        usage.record(&version.name, &version.version_id, |row| {
            row.bytes_in += received as i64;
        });
        if matches!(fault.get(), Some(BodyFault::TooLarge)) {
            drain(body, max_bytes).await;
        }
    });
    receiver
}

/// Reads and discards what is left of a refused upload, for a while, so that
/// an HTTP/1.1 client still writing it gets to read the 413 instead of a
/// reset connection.
async fn drain<B>(mut body: B, limit: u64)
where
    B: Body<Data = Bytes> + Unpin,
{
    let budget = limit.saturating_mul(4).max(4 * 1024 * 1024);
    let discard = async {
        let mut drained = 0u64;
        while let Some(Ok(frame)) = body.frame().await {
            drained += frame.data_ref().map_or(0, |d| d.len() as u64);
            if drained > budget {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), discard).await;
}

fn to_http_response(response: WorkerResponse, is_head: bool) -> Response<WireBody> {
    let WorkerResponse {
        status,
        status_text,
        headers,
        body,
    } = response;
    // Whatever the JS objects hold: a 1xx would start an exchange the
    // worker never accepted (101 only comes with a WebSocket it accepted,
    // a reply of its own).
    let status_code = match StatusCode::from_u16(status) {
        Ok(code) if (200..=599).contains(&status) => code,
        _ => {
            return plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("The worker returned status {status}; a response's status is 200 to 599\n"),
            )
        }
    };
    let mut builder = Response::builder().status(status_code);
    let full_length = match &body {
        ridge_ext::ResponseBody::Full(bytes) => Some(bytes.len()),
        ridge_ext::ResponseBody::Empty => Some(0),
        ridge_ext::ResponseBody::Stream(_) => None,
    };
    let mut headers = headers;
    // Usually there are none: look before removing (each removal by name
    // parses and hashes it).
    let hop_by_hop: Vec<HeaderName> = headers
        .keys()
        .filter(|name| HOP_BY_HOP.contains(&name.as_str()))
        .cloned()
        .collect();
    for name in hop_by_hop {
        headers.remove(name);
    }
    // hyper computes the length of a whole body itself.
    if full_length.is_some() && !is_head {
        headers.remove(header::CONTENT_LENGTH);
    }
    let map = builder.headers_mut().expect("fresh builder");
    *map = headers;
    if is_head && !map.contains_key(header::CONTENT_LENGTH) {
        if let Some(length) = full_length.filter(|l| *l > 0) {
            map.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        }
    }
    let canonical = status_code.canonical_reason().unwrap_or("");
    if !status_text.is_empty() && status_text != canonical {
        if let Ok(reason) = hyper::ext::ReasonPhrase::try_from(status_text.into_bytes()) {
            builder = builder.extension(reason);
        }
    }
    let body = if is_head {
        WireBody::empty()
    } else {
        WireBody::from(body)
    };
    builder.body(body).unwrap_or_else(|_| {
        plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Invalid response from the worker\n",
        )
    })
}

/// A short plain-text response.
pub fn plain(status: StatusCode, text: impl Into<String>) -> Response<WireBody> {
    let mut response = Response::new(WireBody::text(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;
    use ridge_ext::ResponseBody;

    use super::*;

    fn worker_response(
        headers: &[(&'static str, &'static str)],
        body: &'static str,
    ) -> WorkerResponse {
        let mut map = http::HeaderMap::new();
        for (name, value) in headers {
            map.append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        WorkerResponse {
            status: 200,
            status_text: String::new(),
            headers: map,
            body: ResponseBody::Full(Bytes::from_static(body.as_bytes())),
        }
    }

    async fn body_text(response: Response<WireBody>) -> String {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn hop_by_hop_headers_and_a_wrong_length_never_reach_the_client() {
        let response = to_http_response(
            worker_response(
                &[
                    ("connection", "close"),
                    ("transfer-encoding", "chunked"),
                    ("content-length", "999"),
                    ("x-kept", "yes"),
                ],
                "hello",
            ),
            false,
        );
        let headers = response.headers();
        assert!(headers.get("connection").is_none());
        assert!(headers.get("transfer-encoding").is_none());
        // hyper sets the real length of a whole body.
        assert!(headers.get("content-length").is_none());
        assert_eq!(headers["x-kept"], "yes");
        assert_eq!(body_text(response).await, "hello");
    }

    #[tokio::test]
    async fn a_head_response_keeps_the_length_of_the_body_it_leaves_out() {
        let response = to_http_response(worker_response(&[], "hello"), true);
        assert_eq!(response.headers()[header::CONTENT_LENGTH], "5");
        assert_eq!(body_text(response).await, "");
    }

    #[tokio::test]
    async fn an_invalid_status_is_a_500_that_names_it() {
        let mut answer = worker_response(&[], "");
        answer.status = 1000;
        let response = to_http_response(answer, false);
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            body_text(response).await,
            "The worker returned status 1000; a response's status is 200 to 599\n"
        );
    }

    #[test]
    fn hosts_are_names_or_bracketed_ipv6_with_an_optional_port() {
        for (host, name) in [
            ("example.com", "example.com"),
            ("a-b_c.example.com:8080", "a-b_c.example.com"),
            ("127.0.0.1:80", "127.0.0.1"),
            ("[::1]", "[::1]"),
            ("[2001:db8::1]:443", "[2001:db8::1]"),
            ("example.com:", "example.com"),
        ] {
            assert_eq!(host_name(host), Some(name), "{host}");
        }
        for host in [
            "",
            "evil.com#.a.test",
            "evil.com/.a.test",
            "evil.com?.a.test",
            "evil.com\\.a.test",
            "a b.test",
            "user@a.test",
            "a.test:99999",
            "a.test:+80",
            "[::1",
            "[zz]:80",
            "[::1]x",
        ] {
            assert_eq!(host_name(host), None, "{host:?}");
        }
    }

    #[test]
    fn http2_authority_and_host_must_agree() {
        let uri: http::Uri = "https://a.test/x".parse().unwrap();
        let mut headers = http::HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("A.test"));
        assert_eq!(
            request_host(&uri, &headers, http::Version::HTTP_2),
            Ok(("a.test", "a.test"))
        );
        headers.insert(header::HOST, HeaderValue::from_static("b.test"));
        assert_eq!(
            request_host(&uri, &headers, http::Version::HTTP_2),
            Err("The Host header and the request's :authority differ\n")
        );
    }

    #[test]
    fn urls_and_headers_over_cloudflares_limits_are_refused() {
        let long_url = format!("/{}", "a".repeat(ridge_core::limits::MAX_URL_BYTES));
        let (parts, ()) = Request::get(long_url).body(()).unwrap().into_parts();
        assert_eq!(
            oversized(&parts).unwrap().status(),
            StatusCode::URI_TOO_LONG
        );
        let mut request = Request::get("/").body(()).unwrap();
        for index in 0..20 {
            let value = HeaderValue::from_str(&"v".repeat(8 * 1024)).unwrap();
            request.headers_mut().insert(
                HeaderName::from_bytes(format!("x-{index}").as_bytes()).unwrap(),
                value,
            );
        }
        let (parts, ()) = request.into_parts();
        assert_eq!(
            oversized(&parts).unwrap().status(),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
        );
        let (parts, ()) = Request::get("/ok").body(()).unwrap().into_parts();
        assert!(oversized(&parts).is_none());
    }
}
