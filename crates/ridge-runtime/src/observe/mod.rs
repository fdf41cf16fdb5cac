//! What a node tells its operators about the work it does: one structured
//! record per request (tracing, target `ridge::request`), Prometheus metrics
//! (`metrics.rs`), live tail (`tail.rs`), usage metering (`usage.rs`) and
//! OpenTelemetry traces (`trace.rs`). [`request_finished`] feeds all five
//! from the record an isolate keeps of each request.

pub mod metrics;
pub mod tail;
pub mod trace;
pub mod usage;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use std::sync::Arc;

pub use metrics::{Metrics, WorkerMeters};
pub use tail::{TailEvent, TailFilter, TailHub, TailLog, TailObject};
pub use trace::TraceExporter;
pub use usage::UsageMeter;

use crate::worker::WorkerVersion;
use ridge_ext::{ConsoleLine, InvocationRecord, Trigger};

/// What a node reports to: one of each per node, shared by its isolates,
/// listeners and admin API (nothing here is process-wide, so several nodes
/// can run in one process).
#[derive(Clone)]
pub struct Observers {
    pub metrics: Arc<Metrics>,
    pub usage: Arc<UsageMeter>,
    pub tail: Arc<TailHub>,
    /// Set when traces are exported.
    pub traces: Option<Arc<TraceExporter>>,
}

impl Observers {
    pub fn new(traces: Option<TraceExporter>) -> Self {
        let metrics = Arc::new(Metrics::new());
        let tail = Arc::new(TailHub::new(metrics.tail_dropped.clone()));
        Self {
            metrics,
            usage: Arc::new(UsageMeter::default()),
            tail,
            traces: traces.map(Arc::new),
        }
    }
}

/// Reports a finished invocation (response sent or handler done, and its
/// `waitUntil` work settled).
pub fn request_finished(
    observers: &Observers,
    version: &WorkerVersion,
    record: &InvocationRecord,
    meters: &mut WorkerMeters,
) {
    let wall = record.started.elapsed();
    let wall_ms = wall.as_secs_f64() * 1000.0;
    let cpu_ms = record.cpu.as_secs_f64() * 1000.0;
    let event = record.event().as_str();
    let outcome = record.outcome.label();
    // Off by default in `ridge serve`: then the URL is not even parsed.
    if tracing::enabled!(target: "ridge::request", tracing::Level::INFO) {
        let (method, path, status) = match &record.trigger {
            Trigger::Fetch { method, url } => (
                method.as_str(),
                url::Url::parse(url).map_or_else(|_| url.clone(), |u| u.path().to_string()),
                record.status.unwrap_or(500).to_string(),
            ),
            Trigger::Scheduled(scheduled) => {
                ("cron", format!("{:?}", scheduled.cron), outcome.to_string())
            }
            Trigger::Rpc { method, .. } => ("RPC", method.clone(), outcome.to_string()),
            Trigger::Alarm(alarm) => (
                "alarm",
                format!("{}:{}", alarm.object.class, alarm.object.id),
                outcome.to_string(),
            ),
            Trigger::WebSocket(event) => (
                event.kind,
                format!("{}:{}", event.object.class, event.object.id),
                outcome.to_string(),
            ),
            Trigger::Queue { queue, size, .. } => (
                "queue",
                format!("{queue} ({size} messages)"),
                outcome.to_string(),
            ),
        };
        tracing::info!(
            target: "ridge::request",
            worker = %version.name,
            version = %version.version_id,
            request = record.request_id,
            route = %record.route,
            event,
            method,
            path = %path,
            status = record.status,
            wall_ms = format!("{wall_ms:.1}"),
            cpu_ms = format!("{cpu_ms:.2}"),
            subrequests = record.subrequests,
            outcome,
            "{method} {path} {status} {wall_ms:.1} ms (CPU {cpu_ms:.2} ms)",
        );
    }

    meters.request_finished(record.status, record.outcome, wall, record.cpu);
    let object_event = match &record.trigger {
        Trigger::Rpc {
            object: Some(_), ..
        } => Some("call"),
        Trigger::Alarm(_) => Some("alarm"),
        Trigger::WebSocket(_) => Some("websocket"),
        _ => None,
    };
    if let Some(event) = object_event {
        observers
            .metrics
            .object_events
            .get_or_create(&metrics::ObjectEventLabels {
                worker: version.name.clone(),
                event,
            })
            .inc();
    }

    observers
        .usage
        .record(&version.name, &version.version_id, |row| {
            row.requests += 1;
            row.cpu_us += record.cpu.as_micros() as i64;
            row.wall_us += wall.as_micros() as i64;
            row.subrequests += i64::from(record.subrequests);
        });

    if let (Some(exporter), Some(trace)) = (&observers.traces, &record.trace) {
        exporter.export(version, record, trace);
    }

    let hub = &observers.tail;
    if hub.is_watched(&version.name) {
        let logs: Vec<TailLog> = record.console.iter().map(tail_log).collect();
        let event_timestamp = epoch_ms(SystemTime::now()) - wall.as_millis() as i64;
        let (mut method, mut url, mut cron, mut scheduled_time) = (None, None, None, None);
        let (mut rpc_method, mut object, mut queue, mut batch_size) = (None, None, None, None);
        match &record.trigger {
            Trigger::Fetch { method: m, url: u } => {
                (method, url) = (Some(m.as_str()), Some(u.as_str()))
            }
            Trigger::Scheduled(scheduled) => {
                cron = Some(scheduled.cron.as_str());
                scheduled_time = Some(scheduled.scheduled_time_ms);
            }
            Trigger::Rpc {
                method: m,
                object: o,
                ..
            } => (rpc_method, object) = (Some(m.as_str()), o.as_ref()),
            Trigger::Alarm(alarm) => {
                scheduled_time = Some(alarm.scheduled_time_ms);
                object = Some(&alarm.object);
            }
            Trigger::WebSocket(event) => object = Some(&event.object),
            Trigger::Queue { queue: q, size, .. } => {
                (queue, batch_size) = (Some(q.as_str()), Some(*size))
            }
        }
        let object = object.map(|object| TailObject {
            class: &object.class,
            id: &object.id,
            name: object.name.as_deref(),
        });
        hub.publish(
            &TailEvent {
                kind: "event",
                worker: &version.name,
                version: &version.version_id,
                event_timestamp,
                event_type: event,
                method,
                url,
                cron,
                scheduled_time,
                rpc_method,
                object,
                queue,
                batch_size,
                caller: record.caller.as_deref(),
                status: record.status,
                outcome,
                wall_ms,
                cpu_ms,
                subrequests: record.subrequests,
                logs: &logs,
                exceptions: &record.exceptions,
            },
            record.request_id,
        );
    }
}

fn tail_log(line: &ConsoleLine) -> TailLog {
    TailLog {
        level: match line.level {
            0 => "debug",
            2 => "warn",
            l if l >= 3 => "error",
            _ => "log",
        },
        message: line.message.clone(),
        timestamp: line.timestamp_ms,
    }
}

fn epoch_ms(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis() as i64
}
