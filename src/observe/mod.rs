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

pub use metrics::{Metrics, WorkerMeters};
pub use tail::{TailEvent, TailFilter, TailHub, TailLog};
pub use trace::TraceExporter;
pub use usage::UsageMeter;

use crate::ops::{ConsoleLine, RequestRecord};
use crate::server::handler::SCHEDULED_METHOD;
use crate::worker::WorkerVersion;

/// Reports a finished request (response sent, `waitUntil` work settled).
pub fn request_finished(
    version: &WorkerVersion,
    record: &RequestRecord,
    meters: &mut WorkerMeters,
) {
    let wall = record.started.elapsed();
    let status = record.status.unwrap_or(500);
    let scheduled = record.method == SCHEDULED_METHOD;
    let wall_ms = wall.as_secs_f64() * 1000.0;
    let cpu_ms = record.cpu.as_secs_f64() * 1000.0;
    let cron = scheduled
        .then(|| {
            url::Url::parse(&record.url)
                .ok()?
                .query_pairs()
                .find(|(name, _)| name == "cron")
                .map(|(_, value)| value.into_owned())
        })
        .flatten();
    let event = if scheduled { "scheduled" } else { "fetch" };
    // Off by default in `ridge serve`: then the URL is not even parsed.
    if tracing::enabled!(target: "ridge::request", tracing::Level::INFO) {
        let path = url::Url::parse(&record.url)
            .map_or_else(|_| record.url.clone(), |u| u.path().to_string());
        tracing::info!(
            target: "ridge::request",
            worker = %version.name,
            version = %version.version_id,
            request = record.request_id,
            route = %record.route,
            event,
            method = %record.method,
            path = %path,
            status,
            wall_ms = format!("{wall_ms:.1}"),
            cpu_ms = format!("{cpu_ms:.2}"),
            subrequests = record.subrequests,
            outcome = record.outcome,
            "{} {path} {status} {wall_ms:.1} ms (CPU {cpu_ms:.2} ms)",
            if scheduled { "cron" } else { record.method.as_str() },
        );
    }

    meters.request_finished(status, record.outcome, wall, record.cpu);

    UsageMeter::global().record(&version.name, &version.version_id, |row| {
        row.requests += 1;
        row.cpu_us += record.cpu.as_micros() as i64;
        row.wall_us += wall.as_micros() as i64;
        row.subrequests += i64::from(record.subrequests);
    });

    trace::request_finished(version, record);

    let hub = TailHub::global();
    if hub.is_watched(&version.name) {
        let logs: Vec<TailLog> = record.console.iter().map(tail_log).collect();
        let event_timestamp = epoch_ms(SystemTime::now()) - wall.as_millis() as i64;
        hub.publish(
            &TailEvent {
                kind: "event",
                worker: &version.name,
                version: &version.version_id,
                event_timestamp,
                event_type: event,
                method: record.method.as_str(),
                url: &record.url,
                cron,
                status,
                outcome: record.outcome,
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
