//! Worker console output: `console.*` in a worker becomes a tracing event
//! tagged with the worker's name and the request it belongs to.

use std::rc::Rc;

use deno_core::op2;
use deno_core::OpState;

use super::http::{ConsoleLine, CpuLedger};

/// Who is logging: stored in each isolate's `OpState`.
#[derive(Clone, Debug)]
pub struct WorkerLogContext {
    pub worker: String,
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
    let worker = state
        .try_borrow::<WorkerLogContext>()
        .map(|c| c.worker.as_str())
        .unwrap_or("worker");
    let request = if request_rid >= 0 {
        state.borrow::<CpuLedger>().request_id(request_rid as u32)
    } else {
        None
    };
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
