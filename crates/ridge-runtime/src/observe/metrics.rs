//! Prometheus metrics for the whole node, served as OpenMetrics text on the
//! admin listener's `/metrics`. One registry per node (in its
//! [`Observers`](super::Observers)): the parts that count (the request path, isolate threads, KV, the Cache
//! API, the listeners) update it in place, without locks on the hot path
//! beyond the label lookup.

use std::sync::atomic::AtomicI64;
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use ridge_core::Outcome;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WorkerLabels {
    pub worker: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub worker: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LimitLabels {
    pub worker: String,
    /// The outcome naming the limit: "exceeded CPU", "exceeded memory", …
    pub limit: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub worker: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ObjectEventLabels {
    pub worker: String,
    /// "call" (fetch or RPC through a stub), "alarm" or "websocket".
    pub event: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueLabels {
    pub queue: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueMessageLabels {
    pub queue: String,
    /// "sent", "acked", "retried", "dead_lettered" or "dropped".
    pub event: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProtocolLabels {
    pub protocol: &'static str,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.25 ms to about 65 s.
    Histogram::new(exponential_buckets(0.00025, 2.0, 19))
}

fn cpu_histogram() -> Histogram {
    // 0.05 ms to about 400 ms.
    Histogram::new(exponential_buckets(0.00005, 2.0, 14))
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub asset_responses: Family<RequestLabels, Counter>,
    pub request_duration: Histograms<WorkerLabels>,
    pub request_cpu: Histograms<WorkerLabels>,
    pub limit_violations: Family<LimitLabels, Counter>,
    pub cold_starts: Family<WorkerLabels, Counter>,
    pub cold_start_duration: Histogram,
    pub isolates_alive: Gauge<i64, AtomicI64>,
    pub isolates_evicted: Family<ReasonLabels, Counter>,
    pub kv_reads: Family<ResultLabels, Counter>,
    pub cache_lookups: Family<ResultLabels, Counter>,
    pub connections: Family<ProtocolLabels, Counter>,
    pub connections_refused: Family<ReasonLabels, Counter>,
    pub cron_runs: Family<OutcomeLabels, Counter>,
    pub alarm_runs: Family<OutcomeLabels, Counter>,
    pub objects_alive: Family<WorkerLabels, Gauge<i64, AtomicI64>>,
    pub object_events: Family<ObjectEventLabels, Counter>,
    pub queue_messages: Family<QueueMessageLabels, Counter>,
    pub queue_batches: Family<OutcomeLabels, Counter>,
    pub queue_backlog: Family<QueueLabels, Gauge<i64, AtomicI64>>,
    pub queue_in_flight: Family<QueueLabels, Gauge<i64, AtomicI64>>,
    pub queue_oldest_age: Family<QueueLabels, Gauge<i64, AtomicI64>>,
    pub websockets_open: Gauge<i64, AtomicI64>,
    pub tail_dropped: Counter,
    pub console_dropped: Family<WorkerLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A node's metrics, all at zero.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("ridge");
        let metrics = Self {
            requests: Family::default(),
            asset_responses: Family::default(),
            request_duration: Family::new_with_constructor(latency_histogram),
            request_cpu: Family::new_with_constructor(cpu_histogram),
            limit_violations: Family::default(),
            cold_starts: Family::default(),
            cold_start_duration: latency_histogram(),
            isolates_alive: Gauge::default(),
            isolates_evicted: Family::default(),
            kv_reads: Family::default(),
            cache_lookups: Family::default(),
            connections: Family::default(),
            connections_refused: Family::default(),
            cron_runs: Family::default(),
            alarm_runs: Family::default(),
            objects_alive: Family::default(),
            object_events: Family::default(),
            queue_messages: Family::default(),
            queue_batches: Family::default(),
            queue_backlog: Family::default(),
            queue_in_flight: Family::default(),
            queue_oldest_age: Family::default(),
            websockets_open: Gauge::default(),
            tail_dropped: Counter::default(),
            console_dropped: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "requests",
            "Requests answered by workers, by worker and HTTP status",
            metrics.requests.clone(),
        );
        registry.register(
            "asset_responses",
            "Requests answered by a worker's static assets (no isolate involved), by worker and HTTP status",
            metrics.asset_responses.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Wall-clock time from request arrival to the end of its work (waitUntil included)",
            metrics.request_duration.clone(),
        );
        registry.register(
            "request_cpu_seconds",
            "CPU time a worker spent on a request",
            metrics.request_cpu.clone(),
        );
        registry.register(
            "limit_violations",
            "Requests stopped for exceeding a limit, by worker and limit",
            metrics.limit_violations.clone(),
        );
        registry.register(
            "cold_starts",
            "Isolates started for a worker version",
            metrics.cold_starts.clone(),
        );
        registry.register(
            "cold_start_duration_seconds",
            "Time to load a worker into an isolate and start it",
            metrics.cold_start_duration.clone(),
        );
        registry.register(
            "isolates_alive",
            "Worker isolates running on this node",
            metrics.isolates_alive.clone(),
        );
        registry.register(
            "isolates_evicted",
            "Isolates dropped, by reason (idle, memory, limit, failed, retired)",
            metrics.isolates_evicted.clone(),
        );
        registry.register(
            "kv_reads",
            "KV reads by result: hit (the node's cache) or miss (the store)",
            metrics.kv_reads.clone(),
        );
        registry.register(
            "cache_lookups",
            "Cache API match() calls by result (hit or miss)",
            metrics.cache_lookups.clone(),
        );
        registry.register(
            "connections",
            "Client connections accepted, by protocol (http1, h2, h3)",
            metrics.connections.clone(),
        );
        registry.register(
            "console_dropped",
            "Worker console lines dropped over the log caps (per request, and per isolate and second)",
            metrics.console_dropped.clone(),
        );
        registry.register(
            "connections_refused",
            "Client connections closed as soon as accepted, by the cap they met (max_connections, max_per_client)",
            metrics.connections_refused.clone(),
        );
        registry.register(
            "cron_runs",
            "Scheduled handler runs started by cron triggers, by worker and outcome",
            metrics.cron_runs.clone(),
        );
        registry.register(
            "alarm_runs",
            "Durable Object alarm runs, by worker and outcome (a failed run is retried)",
            metrics.alarm_runs.clone(),
        );
        registry.register(
            "durable_objects_alive",
            "Durable Object instances in memory, by worker",
            metrics.objects_alive.clone(),
        );
        registry.register(
            "durable_object_events",
            "Events delivered to Durable Objects, by worker and kind (call, alarm, websocket)",
            metrics.object_events.clone(),
        );
        registry.register(
            "websockets_open",
            "WebSocket connections open between clients and workers",
            metrics.websockets_open.clone(),
        );
        registry.register(
            "queue_messages",
            "Queue messages sent, and consumed messages acked, retried, dead-lettered or dropped, by queue",
            metrics.queue_messages.clone(),
        );
        registry.register(
            "queue_batches",
            "Batches delivered to queue() handlers, by worker and outcome",
            metrics.queue_batches.clone(),
        );
        registry.register(
            "queue_backlog_messages",
            "Messages in a queue not yet acknowledged (in flight and delayed included)",
            metrics.queue_backlog.clone(),
        );
        registry.register(
            "queue_in_flight_messages",
            "Messages of a queue leased to a consumer",
            metrics.queue_in_flight.clone(),
        );
        registry.register(
            "queue_oldest_message_age_seconds",
            "Age of the oldest message of a queue's backlog",
            metrics.queue_oldest_age.clone(),
        );
        registry.register(
            "tail_dropped_events",
            "Live tail events dropped because a tail client read too slowly",
            metrics.tail_dropped.clone(),
        );
        Self {
            registry,
            ..metrics
        }
    }

    /// The metrics as OpenMetrics text, which Prometheus scrapes.
    pub fn render(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }

    /// `count` messages of `queue` went through `event` ("sent", "acked", …).
    pub fn queue_messages(&self, queue: &str, event: &'static str, count: u64) {
        if count > 0 {
            self.queue_messages
                .get_or_create(&QueueMessageLabels {
                    queue: queue.to_string(),
                    event,
                })
                .inc_by(count);
        }
    }

    pub fn kv_read(&self, hit: bool) {
        let result = if hit { "hit" } else { "miss" };
        self.kv_reads.get_or_create(&ResultLabels { result }).inc();
    }

    pub fn cache_lookup(&self, hit: bool) {
        let result = if hit { "hit" } else { "miss" };
        self.cache_lookups
            .get_or_create(&ResultLabels { result })
            .inc();
    }

    pub fn connection(&self, protocol: &'static str) {
        self.connections
            .get_or_create(&ProtocolLabels { protocol })
            .inc();
    }

    pub fn connection_refused(&self, reason: &'static str) {
        self.connections_refused
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    pub fn isolate_evicted(&self, reason: &'static str, count: usize) {
        self.isolates_evicted
            .get_or_create(&ReasonLabels { reason })
            .inc_by(count as u64);
    }
}

/// One worker's request series, looked up once per isolate instead of once
/// per request (each lookup hashes the labels under a lock).
pub struct WorkerMeters {
    metrics: Arc<Metrics>,
    worker: String,
    duration: Histogram,
    cpu: Histogram,
    /// Request counters by status, as the statuses are first seen.
    requests: Vec<(u16, Counter)>,
}

impl WorkerMeters {
    pub fn new(metrics: &Arc<Metrics>, worker: &str) -> Self {
        let labels = WorkerLabels {
            worker: worker.to_string(),
        };
        Self {
            metrics: metrics.clone(),
            duration: metrics.request_duration.get_or_create(&labels).clone(),
            cpu: metrics.request_cpu.get_or_create(&labels).clone(),
            worker: labels.worker,
            requests: Vec::new(),
        }
    }

    /// Counts an invocation's time, a fetch's answer (`status`), and the
    /// limit it exceeded.
    pub fn request_finished(
        &mut self,
        status: Option<u16>,
        outcome: Outcome,
        wall: Duration,
        cpu: Duration,
    ) {
        let metrics = &self.metrics;
        self.duration.observe(wall.as_secs_f64());
        self.cpu.observe(cpu.as_secs_f64());
        if let Outcome::Exceeded(limit) = outcome {
            metrics
                .limit_violations
                .get_or_create(&LimitLabels {
                    worker: self.worker.clone(),
                    limit: limit.label().to_string(),
                })
                .inc();
        }
        let Some(status) = status else {
            return;
        };
        let index = match self.requests.iter().position(|(seen, _)| *seen == status) {
            Some(index) => index,
            None => {
                let labels = RequestLabels {
                    worker: self.worker.clone(),
                    status,
                };
                let counter = metrics.requests.get_or_create(&labels).clone();
                self.requests.push((status, counter));
                self.requests.len() - 1
            }
        };
        self.requests[index].1.inc();
    }
}
