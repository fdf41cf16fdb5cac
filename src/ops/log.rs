//! Worker console output: `console.*` in a worker becomes a tracing event
//! tagged with the worker's name and the request it belongs to.

use deno_core::op2;
use deno_core::OpState;

/// Who is logging: stored in each isolate's `OpState`.
#[derive(Clone, Debug)]
pub struct WorkerLogContext {
    pub worker: String,
}

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
        state
            .resource_table
            .get::<super::http::PendingRequest>(request_rid as u32)
            .map(|r| r.request_id)
            .ok()
    } else {
        None
    };
    match level {
        LEVEL_DEBUG => tracing::debug!(target: "worker", worker, request, "{message}"),
        LEVEL_WARN => tracing::warn!(target: "worker", worker, request, "{message}"),
        l if l >= LEVEL_ERROR => tracing::error!(target: "worker", worker, request, "{message}"),
        _ => tracing::info!(target: "worker", worker, request, "{message}"),
    }
}
