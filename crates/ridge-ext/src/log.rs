//! Worker console output: `console.*` in a worker becomes a tracing event
//! tagged with the worker's name and the request it belongs to, within
//! caps, so that one request cannot flood the node's log: at most
//! [`MAX_CONSOLE_LINES`] lines or [`MAX_CONSOLE_BYTES`] per request, and
//! for output that belongs to no request (timers after a response,
//! unhandled rejections) [`ISOLATE_LINES_PER_SECOND`] lines or
//! [`ISOLATE_BYTES_PER_SECOND`] per isolate and second. What goes over is
//! dropped, counted, and said once per request or second.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use deno_core::op2;
use deno_core::OpState;

use super::http::{Admitted, ConsoleLine, CpuLedger, MAX_CONSOLE_BYTES, MAX_CONSOLE_LINES};

/// Longest console line kept; longer ones are cut, and say so.
pub const MAX_LINE_BYTES: usize = 64 * 1024;
/// Console lines one isolate may log per second.
pub const ISOLATE_LINES_PER_SECOND: u32 = 1024;
/// Console bytes one isolate may log per second.
pub const ISOLATE_BYTES_PER_SECOND: usize = 1024 * 1024;

/// Who is logging, and where dropped lines are counted: stored in each
/// isolate's `OpState`.
pub struct WorkerLogContext {
    pub worker: String,
    /// Called with each line dropped over a cap (the node's metrics).
    pub on_dropped: Box<dyn Fn()>,
    window: Cell<LogWindow>,
}

impl WorkerLogContext {
    pub fn new(worker: String, on_dropped: Box<dyn Fn()>) -> Self {
        Self {
            worker,
            on_dropped,
            window: Cell::new(LogWindow::starting(Instant::now())),
        }
    }

    /// Whether this isolate may log `bytes` more this second outside any
    /// request; says once per second when it may not.
    fn admit(&self, bytes: usize) -> bool {
        let now = Instant::now();
        let mut window = self.window.get();
        if now.duration_since(window.started) >= Duration::from_secs(1) {
            window = LogWindow::starting(now);
        }
        window.lines += 1;
        window.bytes += bytes;
        let admitted =
            window.lines <= ISOLATE_LINES_PER_SECOND && window.bytes <= ISOLATE_BYTES_PER_SECOND;
        if !admitted && !window.said {
            window.said = true;
            tracing::warn!(target: "worker", worker = %self.worker, "console output outside requests over {ISOLATE_LINES_PER_SECOND} lines or {} KiB in a second; dropping the rest of this second (counted in ridge_console_dropped_total)", ISOLATE_BYTES_PER_SECOND / 1024);
        }
        self.window.set(window);
        admitted
    }
}

/// One isolate's console output in the current second.
#[derive(Clone, Copy)]
struct LogWindow {
    started: Instant,
    lines: u32,
    bytes: usize,
    /// Whether the drop was logged this second.
    said: bool,
}

impl LogWindow {
    fn starting(started: Instant) -> Self {
        Self {
            started,
            lines: 0,
            bytes: 0,
            said: false,
        }
    }
}

/// Whether to keep console lines in the request's record (someone tails
/// the worker); installed per isolate by the library.
pub struct ConsoleCapture(pub Rc<dyn Fn() -> bool>);

/// Console levels as deno_web's console passes them to its printer.
const LEVEL_DEBUG: u32 = 0;
const LEVEL_WARN: u32 = 2;
const LEVEL_ERROR: u32 = 3;

#[op2(fast)]
pub fn op_ridge_log(
    state: &mut OpState,
    #[smi] level: u32,
    #[string] message: &str,
    #[smi] request_rid: i32,
) {
    let Some(context) = state.try_borrow::<WorkerLogContext>() else {
        return;
    };
    let message = truncated(message);
    let message = message.as_ref();
    let worker = context.worker.as_str();
    let ledger = state.borrow::<CpuLedger>();
    let request = if request_rid >= 0 {
        ledger.request_id(request_rid as u32)
    } else {
        None
    };
    let admitted = match request {
        Some(_) => match ledger.admit_log(request_rid as u32, message.len()) {
            Admitted::Yes => true,
            Admitted::FirstRefused => {
                tracing::warn!(target: "worker", worker, request, "console output over {MAX_CONSOLE_LINES} lines or {} KiB in one request; dropping the rest (counted in ridge_console_dropped_total)", MAX_CONSOLE_BYTES / 1024);
                false
            }
            Admitted::Refused => false,
        },
        None => context.admit(message.len()),
    };
    if !admitted {
        (context.on_dropped)();
        return;
    }
    if request.is_some()
        && state
            .try_borrow::<ConsoleCapture>()
            .is_some_and(|c| (c.0)())
    {
        let timestamp_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        state.borrow::<CpuLedger>().note_console(
            request_rid as u32,
            ConsoleLine {
                level,
                message: message.to_string(),
                timestamp_ms,
            },
        );
    }
    match level {
        LEVEL_DEBUG => tracing::debug!(target: "worker", worker, request, "{message}"),
        LEVEL_WARN => tracing::warn!(target: "worker", worker, request, "{message}"),
        l if l >= LEVEL_ERROR => tracing::error!(target: "worker", worker, request, "{message}"),
        _ => tracing::info!(target: "worker", worker, request, "{message}"),
    }
}

/// `message`, cut to [`MAX_LINE_BYTES`] (on a character boundary) with a
/// note saying how much was cut.
fn truncated(message: &str) -> std::borrow::Cow<'_, str> {
    if message.len() <= MAX_LINE_BYTES {
        return message.into();
    }
    let mut end = MAX_LINE_BYTES;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… [{} bytes cut]", &message[..end], message.len() - end).into()
}
