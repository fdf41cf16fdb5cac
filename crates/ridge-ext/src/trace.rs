//! The trace of one request, for OpenTelemetry export: its W3C trace
//! context (continued from the caller's `traceparent`, or new) and the child
//! spans its worker opened, one per subrequest and KV operation.
//!
//! The network side starts a [`TraceContext`] only when trace export is
//! configured; it travels in the request's record (`http.rs`), where
//! `op_ridge_span_start`/`op_ridge_span_end` add spans, and leaves with the
//! finished record for `observe/trace.rs` to export. This file stays free of
//! OpenTelemetry types because `build.rs` compiles the ops too.

use std::hash::{BuildHasher, RandomState};
use std::time::SystemTime;

use deno_core::op2;
use deno_core::OpState;
use deno_core::ResourceId;

use super::http::CpuLedger;

/// Child spans kept per request: a worker that reads KV in a loop must not
/// grow its record without bound. Spans past this are counted, not kept.
const MAX_CHILD_SPANS: usize = 128;

/// A request's place in a distributed trace.
#[derive(Clone, Debug)]
pub struct TraceContext {
    pub trace_id: u128,
    /// The span of this request.
    pub span_id: u64,
    /// The caller's span, when the request came with a `traceparent`.
    pub parent_span_id: Option<u64>,
    /// Whether the trace is recorded (and so exported).
    pub sampled: bool,
    pub started_at: SystemTime,
    pub spans: Vec<ChildSpan>,
    /// Spans not kept because of [`MAX_CHILD_SPANS`].
    pub dropped_spans: u32,
}

/// What a worker did on behalf of a request: a subrequest or a KV operation.
#[derive(Clone, Debug)]
pub struct ChildSpan {
    pub span_id: u64,
    pub kind: SpanKind,
    /// For a subrequest the method, for KV the operation (`get`, `put`, …).
    pub operation: String,
    /// For a subrequest the URL, for KV the namespace binding.
    pub target: String,
    pub start: SystemTime,
    pub end: Option<SystemTime>,
    /// How it ended: the HTTP status of a subrequest, or the error.
    pub outcome: SpanOutcome,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpanKind {
    Fetch,
    Kv,
    /// A method called over a service binding.
    Rpc,
    /// A `send()` or `sendBatch()` to a queue.
    Queue,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SpanOutcome {
    Pending,
    Ok,
    Status(u16),
    Error(String),
}

impl TraceContext {
    /// Continues the caller's trace when `traceparent` is a valid W3C
    /// header (its sampled flag decides), or starts a new trace that is
    /// sampled when `sample_new` says so.
    pub fn start(traceparent: Option<&[u8]>, sample_new: impl FnOnce() -> bool) -> Self {
        let parent = traceparent.and_then(parse_traceparent);
        let (trace_id, parent_span_id, sampled) = match parent {
            Some((trace_id, span_id, sampled)) => (trace_id, Some(span_id), sampled),
            None => (random_trace_id(), None, sample_new()),
        };
        Self {
            trace_id,
            span_id: random_span_id(),
            parent_span_id,
            sampled,
            started_at: SystemTime::now(),
            spans: Vec::new(),
            dropped_spans: 0,
        }
    }

    /// The `traceparent` header naming `span_id` as the parent, for a
    /// subrequest.
    pub fn traceparent(&self, span_id: u64) -> String {
        format!(
            "00-{:032x}-{:016x}-{:02x}",
            self.trace_id,
            span_id,
            u8::from(self.sampled)
        )
    }
}

/// Reads a version-00 W3C `traceparent` (`00-<trace>-<span>-<flags>`):
/// trace id, parent span id, sampled flag. All-zero ids are invalid.
fn parse_traceparent(header: &[u8]) -> Option<(u128, u64, bool)> {
    let header = std::str::from_utf8(header).ok()?.trim();
    let mut parts = header.split('-');
    let (version, trace, span, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    // Later versions may append fields; version 00 has exactly four.
    if version == "ff" || version.len() != 2 || (version == "00" && parts.next().is_some()) {
        return None;
    }
    let lower_hex = |s: &str, len: usize| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    if !lower_hex(version, 2)
        || !lower_hex(trace, 32)
        || !lower_hex(span, 16)
        || !lower_hex(flags, 2)
    {
        return None;
    }
    let trace_id = u128::from_str_radix(trace, 16).ok()?;
    let span_id = u64::from_str_radix(span, 16).ok()?;
    let flags = u8::from_str_radix(flags, 16).ok()?;
    (trace_id != 0 && span_id != 0).then_some((trace_id, span_id, flags & 1 == 1))
}

/// A random non-zero id. std's `RandomState` is seeded from the OS once per
/// thread and varies its keys per instance, so hashing through a fresh one
/// gives unpredictable ids without another dependency in the ops.
fn random_u64() -> u64 {
    loop {
        let id = RandomState::new().hash_one(SystemTime::now());
        if id != 0 {
            return id;
        }
    }
}

pub fn random_span_id() -> u64 {
    random_u64()
}

pub fn random_trace_id() -> u128 {
    (u128::from(random_u64()) << 64) | u128::from(random_u64())
}

/// Opens a child span of request `rid` (kind 0: subrequest, 1: KV, 2:
/// RPC, 3: a queue send) and
/// returns its number, or -1 when the request is not traced (or has too
/// many spans already).
#[op2(fast)]
pub fn op_ridge_span_start(
    state: &mut OpState,
    #[smi] rid: ResourceId,
    #[smi] kind: u32,
    #[string] operation: &str,
    #[string] target: &str,
) -> i32 {
    let mut index = -1;
    state.borrow::<CpuLedger>().update_trace(rid, |trace| {
        if trace.spans.len() >= MAX_CHILD_SPANS {
            trace.dropped_spans += 1;
            return;
        }
        index = trace.spans.len() as i32;
        trace.spans.push(ChildSpan {
            span_id: random_span_id(),
            kind: match kind {
                0 => SpanKind::Fetch,
                1 => SpanKind::Kv,
                3 => SpanKind::Queue,
                _ => SpanKind::Rpc,
            },
            operation: operation.to_string(),
            target: target.to_string(),
            start: SystemTime::now(),
            end: None,
            outcome: SpanOutcome::Pending,
        });
    });
    index
}

/// The `traceparent` a subrequest opened as span `span` carries.
#[op2]
#[string]
pub fn op_ridge_span_traceparent(
    state: &mut OpState,
    #[smi] rid: ResourceId,
    #[smi] span: u32,
) -> String {
    let mut header = String::new();
    state.borrow::<CpuLedger>().update_trace(rid, |trace| {
        if let Some(child) = trace.spans.get(span as usize) {
            header = trace.traceparent(child.span_id);
        }
    });
    header
}

/// Closes span `span` of request `rid`: with an HTTP status (a
/// subrequest's response), 0 for success without one, or -1 with `error`.
#[op2(fast)]
pub fn op_ridge_span_end(
    state: &mut OpState,
    #[smi] rid: ResourceId,
    #[smi] span: u32,
    #[smi] status: i32,
    #[string] error: &str,
) {
    state.borrow::<CpuLedger>().update_trace(rid, |trace| {
        if let Some(child) = trace.spans.get_mut(span as usize) {
            child.end = Some(SystemTime::now());
            child.outcome = match status {
                0 => SpanOutcome::Ok,
                s if s > 0 => SpanOutcome::Status(s as u16),
                _ => SpanOutcome::Error(error.to_string()),
            };
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continues_a_valid_traceparent() {
        let header = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let trace = TraceContext::start(Some(header), || false);
        assert_eq!(trace.trace_id, 0x4bf92f3577b34da6a3ce929d0e0e4736);
        assert_eq!(trace.parent_span_id, Some(0x00f067aa0ba902b7));
        assert!(trace.sampled, "the caller's sampled flag wins");
        assert_ne!(trace.span_id, 0x00f067aa0ba902b7);
        let child = trace.traceparent(0xabc);
        assert_eq!(
            child,
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000abc-01"
        );
    }

    #[test]
    fn invalid_traceparents_start_a_new_trace() {
        for header in [
            &b"00-00000000000000000000000000000000-00f067aa0ba902b7-01"[..],
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            b"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            b"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            b"00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            b"garbage",
        ] {
            let trace = TraceContext::start(Some(header), || true);
            assert_eq!(
                trace.parent_span_id,
                None,
                "{}",
                String::from_utf8_lossy(header)
            );
            assert_ne!(trace.trace_id, 0x4bf92f3577b34da6a3ce929d0e0e4736);
            assert!(trace.sampled, "the local decision applies");
        }
    }

    #[test]
    fn ids_are_random_and_non_zero() {
        let ids: std::collections::HashSet<u64> = (0..1000).map(|_| random_span_id()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(!ids.contains(&0));
        assert_ne!(random_trace_id(), random_trace_id());
    }
}
