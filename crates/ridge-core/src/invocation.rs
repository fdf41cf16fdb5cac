//! What a worker is asked to do and how it went. Every event that reaches a
//! worker (an HTTP request, a cron run, an RPC call, a Durable Object's
//! alarm or WebSocket event, a batch of queue messages) is one invocation
//! of one [`EventKind`], and ends with one [`Outcome`], which logs, metrics, traces, the tail and usage all record.

use crate::limits::LimitExceeded;

/// The kind of event an invocation delivers: which handler of the worker
/// runs (`fetch`, `scheduled`, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    Fetch,
    Scheduled,
    /// A method called over a service binding (JavaScript RPC).
    Rpc,
    /// A Durable Object's alarm, for its `alarm()` handler.
    Alarm,
    /// A message, close or error of a WebSocket a Durable Object accepted
    /// for hibernation, for its `webSocketMessage()`, … handlers.
    WebSocket,
    /// A batch of queue messages, for the `queue()` handler.
    Queue,
}

impl EventKind {
    /// The handler's name, as logs and the tail show it.
    pub fn as_str(&self) -> &'static str {
        match self {
            EventKind::Fetch => "fetch",
            EventKind::Scheduled => "scheduled",
            EventKind::Rpc => "rpc",
            EventKind::Alarm => "alarm",
            EventKind::WebSocket => "websocket",
            EventKind::Queue => "queue",
        }
    }
}

/// A cron run: which expression fired, for which point of its schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduledEvent {
    /// The cron expression as configured (`""` for a manual run).
    pub cron: String,
    /// The schedule point, in milliseconds since the Unix epoch.
    pub scheduled_time_ms: i64,
}

/// How an invocation ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Outcome {
    /// The handler finished (a fetch handler answered with a Response).
    #[default]
    Ok,
    /// The handler threw, or returned something that is not a Response.
    Exception,
    /// The isolate's event loop failed under the invocation (not the
    /// handler's doing: an internal error).
    IsolateFailed,
    /// The worker was stopped for exceeding a limit.
    Exceeded(LimitExceeded),
}

impl Outcome {
    /// The label logs, metrics and the tail use: "ok", "exception",
    /// "exceeded CPU", "exceeded memory", …
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Exception => "exception",
            Outcome::IsolateFailed => "isolate failed",
            Outcome::Exceeded(limit) => limit.label(),
        }
    }

    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Ok)
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_labels() {
        assert_eq!(Outcome::Ok.label(), "ok");
        assert_eq!(Outcome::Exception.to_string(), "exception");
        assert_eq!(
            Outcome::Exceeded(LimitExceeded::WallClock(10)).label(),
            "exceeded wall clock"
        );
    }
}
