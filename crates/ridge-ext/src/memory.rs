//! Memory checks in the middle of a turn of the event loop, for work that
//! can allocate a lot in one go outside V8's heap limit and the
//! ArrayBuffer allocator: decompression output and Wasm memories
//! (`js/globals/02_workers_compat.js` calls [`op_ridge_check_memory`]
//! between the steps of such work). The turn-end check in ridge-runtime's
//! limit enforcer would come too late.

use deno_core::{op2, v8, OpState};

/// An isolate's memory limit and what stops the isolate once it is over
/// it (set by ridge-runtime per isolate).
pub struct MemoryGuard {
    pub limit_bytes: usize,
    /// Records the memory limit as what stopped the isolate and terminates
    /// its JavaScript.
    pub stop: Box<dyn Fn()>,
}

/// Whether the isolate, with `extra` bytes V8 does not count (Wasm
/// memory), is within its memory limit. If not, and `stop` is set (the
/// memory is already in use), the isolate is stopped; otherwise the
/// caller refuses what would go over, with a RangeError.
#[op2(fast)]
pub fn op_ridge_check_memory(
    isolate: &mut v8::Isolate,
    state: &OpState,
    extra: f64,
    stop: bool,
) -> bool {
    let Some(guard) = state.try_borrow::<MemoryGuard>() else {
        return true;
    };
    let stats = isolate.get_heap_statistics();
    let used = stats.used_heap_size() + stats.external_memory() + extra.max(0.0) as usize;
    if used <= guard.limit_bytes {
        return true;
    }
    if stop {
        (guard.stop)();
    }
    false
}
