//! Every limit a worker runs under, with its default defined once (the
//! defaults are Cloudflare's paid plan), the ranges a configuration may set,
//! and [`LimitExceeded`], the typed error a stopped worker's requests carry
//! all the way to the response. Request sizes are decided here
//! ([`check_request_head`], [`Limits::check_request_body`]) for the HTTP
//! handler; an isolate's limits by ridge-runtime's `LimitEnforcer`, and
//! subrequests by the op that counts them, with these numbers.

use serde::{Deserialize, Serialize};

/// Longest request URL (path and query), as on Cloudflare.
pub const MAX_URL_BYTES: usize = 16 * 1024;
/// Largest total size of a request's headers, as on Cloudflare.
pub const MAX_HEADER_BYTES: usize = 128 * 1024;
/// Largest heap a worker may ask for, in MiB.
pub const MAX_MEMORY_MB: u64 = 4096;
/// Most CPU time a worker may ask for per request: Cloudflare's 5 minutes.
pub const MAX_CPU_MS: u64 = 300_000;
/// Longest wall-clock time a worker may ask for per request: an hour.
pub const MAX_WALL_MS: u64 = 3_600_000;
/// Most CPU time a worker's top-level code may be allowed.
pub const MAX_STARTUP_CPU_MS: u64 = 60_000;
/// Most outbound fetches a worker may allow per request.
pub const MAX_SUBREQUESTS: u64 = 100_000;
/// Largest request body a worker may accept, in MiB.
pub const MAX_REQUEST_BODY_MB: u64 = 4096;
/// Largest WebSocket message a worker may allow, in KiB.
pub const MAX_WEBSOCKET_MESSAGE_KB: u64 = 32 * 1024;
/// Longest WebSocket idle time a worker may allow, in seconds.
pub const MAX_WEBSOCKET_IDLE_S: u64 = 24 * 3600;

/// Per-worker resource limits (`[limits]` in the worker's configuration).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// CPU time per request, in milliseconds.
    pub cpu_ms: u64,
    /// Heap per isolate, in MiB.
    pub memory_mb: u64,
    /// Wall-clock time per request including `ctx.waitUntil`, in milliseconds.
    pub wall_ms: u64,
    /// Outbound fetches per request.
    pub subrequests: u32,
    /// Largest request body, in MiB.
    pub request_body_mb: u64,
    /// CPU time for evaluating the worker's top-level code, in milliseconds.
    pub startup_cpu_ms: u64,
    /// Largest WebSocket message, either way, in KiB.
    pub websocket_message_kb: u64,
    /// A WebSocket with no message either way for this long is closed, in
    /// seconds.
    pub websocket_idle_s: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            cpu_ms: 50,
            memory_mb: 128,
            wall_ms: 30_000,
            subrequests: 50,
            request_body_mb: 100,
            startup_cpu_ms: 400,
            websocket_message_kb: 1024,
            websocket_idle_s: 300,
        }
    }
}

/// A configured limit out of its range; `field` is its dotted path.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{field}` {problem}")]
pub struct LimitsError {
    pub field: String,
    pub problem: String,
}

impl Limits {
    /// Limits high enough not to get in the way of a debugger
    /// (`ridge dev --no-limits`); the request body and WebSocket message
    /// limits stay.
    pub fn relaxed(&self) -> Self {
        Self {
            cpu_ms: MAX_CPU_MS,
            memory_mb: MAX_MEMORY_MB,
            wall_ms: MAX_WALL_MS,
            subrequests: MAX_SUBREQUESTS as u32,
            request_body_mb: self.request_body_mb,
            startup_cpu_ms: MAX_STARTUP_CPU_MS,
            websocket_message_kb: self.websocket_message_kb,
            websocket_idle_s: MAX_WEBSOCKET_IDLE_S,
        }
    }

    /// Checks every limit against its allowed range.
    pub fn validate(&self) -> Result<(), LimitsError> {
        let error = |field: &str, problem: String| LimitsError {
            field: format!("limits.{field}"),
            problem,
        };
        for (field, value) in [
            ("cpu_ms", self.cpu_ms),
            ("memory_mb", self.memory_mb),
            ("wall_ms", self.wall_ms),
            ("startup_cpu_ms", self.startup_cpu_ms),
            ("websocket_message_kb", self.websocket_message_kb),
            ("websocket_idle_s", self.websocket_idle_s),
        ] {
            if value == 0 {
                return Err(error(field, "must be greater than 0".into()));
            }
        }
        for (field, value, maximum, unit) in [
            ("cpu_ms", self.cpu_ms, MAX_CPU_MS, " ms"),
            ("memory_mb", self.memory_mb, MAX_MEMORY_MB, " MiB"),
            ("wall_ms", self.wall_ms, MAX_WALL_MS, " ms"),
            (
                "startup_cpu_ms",
                self.startup_cpu_ms,
                MAX_STARTUP_CPU_MS,
                " ms",
            ),
            (
                "subrequests",
                u64::from(self.subrequests),
                MAX_SUBREQUESTS,
                "",
            ),
            (
                "request_body_mb",
                self.request_body_mb,
                MAX_REQUEST_BODY_MB,
                " MiB",
            ),
            (
                "websocket_message_kb",
                self.websocket_message_kb,
                MAX_WEBSOCKET_MESSAGE_KB,
                "",
            ),
            (
                "websocket_idle_s",
                self.websocket_idle_s,
                MAX_WEBSOCKET_IDLE_S,
                "",
            ),
        ] {
            if value > maximum {
                return Err(error(
                    field,
                    format!("is {value}, more than the {maximum}{unit} maximum"),
                ));
            }
        }
        Ok(())
    }
}

/// A request over one of the size limits, refused before (or while) its
/// worker gets it: the message says which limit, [`RequestTooLarge::status`]
/// is the HTTP status to answer with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestTooLarge {
    #[error("The URL is longer than {MAX_URL_BYTES} bytes")]
    Url,
    #[error("The request headers total {0} bytes, over the {MAX_HEADER_BYTES} byte limit")]
    Headers(usize),
    /// The worker's `request_body_mb`.
    #[error("The request body is larger than the worker's {0} MiB limit")]
    Body(u64),
}

impl RequestTooLarge {
    /// 414, 431 or 413.
    pub fn status(&self) -> u16 {
        match self {
            RequestTooLarge::Url => 414,
            RequestTooLarge::Headers(_) => 431,
            RequestTooLarge::Body(_) => 413,
        }
    }
}

/// Checks a request's URL (path and query) and total header size.
pub fn check_request_head(url_bytes: usize, header_bytes: usize) -> Result<(), RequestTooLarge> {
    if url_bytes > MAX_URL_BYTES {
        return Err(RequestTooLarge::Url);
    }
    if header_bytes > MAX_HEADER_BYTES {
        return Err(RequestTooLarge::Headers(header_bytes));
    }
    Ok(())
}

impl Limits {
    /// `request_body_mb` in bytes.
    pub fn request_body_bytes(&self) -> u64 {
        self.request_body_mb.saturating_mul(1024 * 1024)
    }

    /// Checks `bytes` of request body (declared or received so far)
    /// against `request_body_mb`.
    pub fn check_request_body(&self, bytes: u64) -> Result<(), RequestTooLarge> {
        if bytes > self.request_body_bytes() {
            return Err(RequestTooLarge::Body(self.request_body_mb));
        }
        Ok(())
    }
}

/// A limit a worker exceeded, with the value it had. The message names the
/// limit; [`LimitExceeded::label`] is the outcome it is logged with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LimitExceeded {
    #[error("worker exceeded its CPU time limit ({0} ms)")]
    Cpu(u64),
    #[error(
        "worker exceeded its startup CPU time limit ({0} ms) while evaluating its top-level code"
    )]
    StartupCpu(u64),
    #[error("worker exceeded its memory limit ({0} MiB)")]
    Memory(u64),
    #[error("worker exceeded its wall-clock time limit ({0} ms)")]
    WallClock(u64),
    /// Not run: the worker was stopped by its limits again and again, and
    /// is backed off for this many more milliseconds.
    #[error("worker is backed off for {0} ms after exceeding its limits repeatedly")]
    BackedOff(u64),
}

impl LimitExceeded {
    /// The outcome label of an invocation stopped by this limit, as logs,
    /// metrics and the tail show it.
    pub fn label(&self) -> &'static str {
        match self {
            LimitExceeded::Cpu(_) => "exceeded CPU",
            LimitExceeded::StartupCpu(_) => "exceeded startup CPU",
            LimitExceeded::Memory(_) => "exceeded memory",
            LimitExceeded::WallClock(_) => "exceeded wall clock",
            LimitExceeded::BackedOff(_) => "backed off",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_messages_name_the_limit() {
        assert_eq!(
            LimitExceeded::Cpu(50).to_string(),
            "worker exceeded its CPU time limit (50 ms)"
        );
        assert_eq!(
            LimitExceeded::Memory(128).to_string(),
            "worker exceeded its memory limit (128 MiB)"
        );
    }

    #[test]
    fn request_sizes() {
        assert_eq!(check_request_head(10, 10), Ok(()));
        assert_eq!(
            check_request_head(MAX_URL_BYTES + 1, 0),
            Err(RequestTooLarge::Url)
        );
        let headers = check_request_head(1, MAX_HEADER_BYTES + 1).unwrap_err();
        assert_eq!(headers.status(), 431);
        assert_eq!(
            headers.to_string(),
            format!(
                "The request headers total {} bytes, over the {MAX_HEADER_BYTES} byte limit",
                MAX_HEADER_BYTES + 1
            )
        );
        let limits = Limits {
            request_body_mb: 1,
            ..Limits::default()
        };
        assert_eq!(limits.check_request_body(1024 * 1024), Ok(()));
        assert_eq!(
            limits.check_request_body(1024 * 1024 + 1),
            Err(RequestTooLarge::Body(1))
        );
    }

    #[test]
    fn validation_names_the_field() {
        assert!(Limits::default().validate().is_ok());
        let zero = Limits {
            wall_ms: 0,
            ..Limits::default()
        };
        assert_eq!(
            zero.validate().unwrap_err().to_string(),
            "`limits.wall_ms` must be greater than 0"
        );
        let huge = Limits {
            memory_mb: 5000,
            ..Limits::default()
        };
        assert_eq!(
            huge.validate().unwrap_err().to_string(),
            "`limits.memory_mb` is 5000, more than the 4096 MiB maximum"
        );
        assert!(Limits::default().relaxed().validate().is_ok());
    }
}
