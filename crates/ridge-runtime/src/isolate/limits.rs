//! The limit enforcer: every decision about an isolate's limits, from its
//! worker's [`Limits`] (ridge-core defines them and their defaults).
//!
//! - **CPU time** is measured on the isolate thread's own CPU clock. While an
//!   isolate runs JS, the [`Watchdog`] thread watches that clock and calls
//!   `terminate_execution` once the budget is spent, so even `while (true) {}`
//!   stops. Time is charged to the invocations in flight on the isolate,
//!   split evenly between them; startup has its own budget, and so has JS
//!   that runs while no invocation is open (one `cpu_ms` per invocation or
//!   WebSocket message that arrives), so a timer loop left behind by a
//!   request cannot run on for free.
//! - **Memory**: V8's heap limit plus a near-heap-limit callback that
//!   terminates instead of letting V8 abort the process; ArrayBuffer memory
//!   (outside V8's heap) comes from an [`ArrayBufferBudget`] that refuses
//!   a large allocation past the limit when it is asked for (one
//!   `new Uint8Array(1 << 30)` never gets its gigabyte: it throws a
//!   RangeError), and heap and ArrayBuffers together are checked after
//!   every turn of the event loop that leaves the isolate waiting.
//! - **Wall clock**: invocations still unanswered after `wall_ms` are
//!   answered with the limit and ended.
//!
//! [`LimitEnforcer`] holds these for one isolate. The other limits are
//! decided where the data is: request URL, header and body sizes by the
//! HTTP handler (ridge-server), subrequests by the op that counts them and
//! WebSocket sizes by the relay (ridge-ext), all with ridge-core's numbers.
//!
//! A worker that exceeds a limit has its isolate discarded; the invocations
//! it held get a 503 naming the limit, and the next one starts a new isolate.

use std::ffi::c_void;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use deno_core::{v8, JsRuntime};
use ridge_core::{Limits, Outcome};
use ridge_ext::{CpuLedger, WorkerReply};

pub use ridge_core::LimitExceeded;

/// Bytes in a MiB.
pub(super) const MIB: usize = 1024 * 1024;

/// The limits of one isolate (see the module comment). The watchdog and
/// V8's near-heap-limit callback record here what made them stop it, so
/// what stopped an isolate is read in one place.
pub struct LimitEnforcer {
    handle: v8::IsolateHandle,
    exceeded: Arc<Mutex<Option<LimitExceeded>>>,
}

impl LimitEnforcer {
    /// Watches a new isolate with a heap limit of `heap_limit_mb`.
    pub fn install(runtime: &mut JsRuntime, heap_limit_mb: u64) -> Self {
        let enforcer = Self {
            handle: runtime.v8_isolate().thread_safe_handle(),
            exceeded: Arc::new(Mutex::new(None)),
        };
        // Near the heap limit V8 would abort the whole process; stop this
        // isolate instead, with room left to unwind.
        let stop = enforcer.memory_stop(heap_limit_mb);
        runtime.add_near_heap_limit_callback(move |current, _initial| {
            stop();
            current + 64 * MIB
        });
        enforcer
    }

    /// What stops the isolate for exceeding its memory limit of
    /// `memory_mb`: V8's near-heap-limit callback, and ops that check
    /// memory within a turn (see ridge-ext's `memory.rs`).
    pub fn memory_stop(&self, memory_mb: u64) -> Box<dyn Fn()> {
        let (terminate, flag) = (self.handle.clone(), self.exceeded.clone());
        Box::new(move || {
            flag.lock()
                .expect("limit flag")
                .get_or_insert(LimitExceeded::Memory(memory_mb));
            terminate.terminate_execution();
        })
    }

    /// Stops the isolate if the worker's top-level code runs past its
    /// startup CPU budget before the guard drops.
    pub fn guard_startup(&self, startup_cpu_ms: u64) -> WatchGuard {
        self.watch(
            Duration::from_millis(startup_cpu_ms),
            LimitExceeded::StartupCpu(startup_cpu_ms),
        )
    }

    /// Stops the isolate if one turn of its event loop runs past what is
    /// left of the most charged invocation's CPU budget (a whole budget when
    /// none is in flight).
    pub fn guard_turn(&self, limits: &Limits, ledger: &CpuLedger) -> WatchGuard {
        let budget = ledger.smallest_remaining(Duration::from_millis(limits.cpu_ms));
        self.watch(budget, LimitExceeded::Cpu(limits.cpu_ms))
    }

    fn watch(&self, budget: Duration, limit: LimitExceeded) -> WatchGuard {
        Watchdog::global().arm(budget, self.handle.clone(), limit, self.exceeded.clone())
    }

    /// After a turn of the event loop: charges the CPU it used to the
    /// invocations in flight, or with none open to the isolate's budget for
    /// unclaimed work (timers left running after a response, WebSocket
    /// handlers: one `cpu_ms` per invocation or message that arrives).
    /// `Err` is the limit that stops the isolate.
    pub fn after_turn(
        &self,
        limits: &Limits,
        ledger: &CpuLedger,
        cpu_used: Duration,
    ) -> Result<(), LimitExceeded> {
        if ledger.charge(cpu_used, Duration::from_millis(limits.cpu_ms)) {
            return Err(self.record(LimitExceeded::Cpu(limits.cpu_ms)));
        }
        match *self.exceeded.lock().expect("limit flag") {
            Some(limit) => Err(limit),
            None => Ok(()),
        }
    }

    /// Checks the memory an isolate that is waiting for work holds,
    /// ArrayBuffers included (they live outside V8's heap limit).
    pub fn check_memory(&self, limits: &Limits, memory_bytes: usize) -> Result<(), LimitExceeded> {
        if memory_bytes > limits.memory_mb as usize * MIB {
            return Err(self.record(LimitExceeded::Memory(limits.memory_mb)));
        }
        Ok(())
    }

    /// Answers the invocations unanswered past the wall-clock limit with it
    /// and ends them; returns when the next one runs out of time.
    pub fn expire_wall_clock(&self, limits: &Limits, ledger: &CpuLedger) -> Option<Instant> {
        let limit = LimitExceeded::WallClock(limits.wall_ms);
        ledger.expire_unanswered(
            Duration::from_millis(limits.wall_ms),
            Outcome::Exceeded(limit),
            || WorkerReply::LimitExceeded(limit),
        )
    }

    /// The limit that stopped the isolate, if one did.
    pub fn take_exceeded(&self) -> Option<LimitExceeded> {
        self.exceeded.lock().expect("limit flag").take()
    }

    /// Records `limit` as what stopped the isolate, unless another was
    /// recorded first; returns the one recorded.
    fn record(&self, limit: LimitExceeded) -> LimitExceeded {
        *self
            .exceeded
            .lock()
            .expect("limit flag")
            .get_or_insert(limit)
    }
}

/// Allocations at least this large are refused past the budget. Smaller
/// ones always succeed (the turn-end check stops an isolate over its
/// limit): V8 aborts the process when some of its own small allocations
/// fail (`TypedArray.prototype.buffer` of a small array, for one), while
/// the large ones come from the JS constructors, which throw a RangeError.
const REFUSABLE_BYTES: usize = 1024 * 1024;

/// The ArrayBuffer memory of one isolate, counted by the allocator V8 gets
/// it from, so that a large allocation past the limit is refused before it
/// is made (the worker gets a RangeError, as in a browser out of memory).
/// Nothing here calls back into V8: the allocator may not.
pub struct ArrayBufferBudget {
    used: AtomicUsize,
    limit: usize,
}

impl ArrayBufferBudget {
    /// A budget of `limit` bytes and the V8 allocator that keeps to it.
    pub fn allocator(limit: usize) -> v8::UniqueRef<v8::Allocator> {
        let budget = Arc::new(Self {
            used: AtomicUsize::new(0),
            limit,
        });
        static VTABLE: v8::RustAllocatorVtable<ArrayBufferBudget> = v8::RustAllocatorVtable {
            allocate: allocate_zeroed,
            allocate_uninitialized,
            free: free_counted,
            drop: drop_budget,
        };
        // SAFETY: the handle is an `Arc` the allocator owns from now on
        // (`drop_budget` releases it), and VTABLE's functions expect one.
        unsafe { v8::new_rust_allocator(Arc::into_raw(budget), &VTABLE) }
    }

    /// Counts `len` more bytes, unless that takes a large allocation past
    /// the limit.
    fn reserve(&self, len: usize) -> bool {
        let before = self.used.fetch_add(len, Ordering::Relaxed);
        if len >= REFUSABLE_BYTES && before.saturating_add(len) > self.limit {
            self.used.fetch_sub(len, Ordering::Relaxed);
            return false;
        }
        true
    }
}

unsafe extern "C" fn allocate_zeroed(budget: &ArrayBufferBudget, len: usize) -> *mut c_void {
    if !budget.reserve(len) {
        return std::ptr::null_mut();
    }
    // SAFETY: calloc has no preconditions; a null result is handled.
    let data = unsafe { libc::calloc(len.max(1), 1) };
    if data.is_null() {
        budget.used.fetch_sub(len, Ordering::Relaxed);
    }
    data
}

unsafe extern "C" fn allocate_uninitialized(budget: &ArrayBufferBudget, len: usize) -> *mut c_void {
    if !budget.reserve(len) {
        return std::ptr::null_mut();
    }
    // SAFETY: malloc has no preconditions; a null result is handled.
    let data = unsafe { libc::malloc(len.max(1)) };
    if data.is_null() {
        budget.used.fetch_sub(len, Ordering::Relaxed);
    }
    data
}

unsafe extern "C" fn free_counted(budget: &ArrayBufferBudget, data: *mut c_void, len: usize) {
    // SAFETY: V8 frees only what this allocator allocated, once.
    unsafe { libc::free(data) };
    budget.used.fetch_sub(len, Ordering::Relaxed);
}

unsafe extern "C" fn drop_budget(budget: *const ArrayBufferBudget) {
    // SAFETY: the pointer came from `Arc::into_raw` in `allocator`.
    drop(unsafe { Arc::from_raw(budget) });
}

/// CPU time the calling thread has used so far.
pub fn thread_cpu_time() -> Duration {
    clock_time(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// The calling thread's CPU clock, readable from any thread.
pub fn current_thread_cpu_clock() -> libc::clockid_t {
    let mut clock: libc::clockid_t = 0;
    // SAFETY: pthread_self() is always a valid thread id, and `clock` is a
    // valid out-pointer for the duration of the call.
    let status = unsafe { libc::pthread_getcpuclockid(libc::pthread_self(), &mut clock) };
    assert_eq!(status, 0, "pthread_getcpuclockid failed");
    clock
}

fn clock_time(clock: libc::clockid_t) -> Duration {
    let mut time = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `time` is a valid out-pointer; an invalid clock id only makes
    // clock_gettime return an error, which leaves `time` at zero.
    unsafe { libc::clock_gettime(clock, &mut time) };
    Duration::new(time.tv_sec as u64, time.tv_nsec as u32)
}

/// One armed CPU budget: terminate `isolate` once `clock` passes `deadline`.
struct Watch {
    id: u64,
    clock: libc::clockid_t,
    deadline: Duration,
    isolate: v8::IsolateHandle,
    fired: Arc<Mutex<Option<LimitExceeded>>>,
    limit: LimitExceeded,
}

#[derive(Default)]
struct Watches {
    next_id: u64,
    active: Vec<Watch>,
    /// The watchdog thread waits for a notification (instead of ticking).
    asleep: bool,
}

/// The process-wide watchdog thread that enforces CPU budgets.
pub struct Watchdog {
    watches: Mutex<Watches>,
    wake: Condvar,
}

/// How often the watchdog looks at the armed clocks: the precision of the
/// CPU limit.
const WATCHDOG_TICK: Duration = Duration::from_millis(2);
/// Ticks without any armed watch before the watchdog sleeps until the next
/// arm. While isolates are busy it keeps ticking, so arming a watch for each
/// turn of an event loop costs no wake-up.
const IDLE_TICKS_BEFORE_SLEEP: u32 = 50;

impl Watchdog {
    /// The watchdog, started on first use.
    pub fn global() -> &'static Watchdog {
        static WATCHDOG: OnceLock<&'static Watchdog> = OnceLock::new();
        WATCHDOG.get_or_init(|| {
            let watchdog: &'static Watchdog = Box::leak(Box::new(Watchdog {
                watches: Mutex::default(),
                wake: Condvar::new(),
            }));
            std::thread::Builder::new()
                .name("ridge-watchdog".into())
                .spawn(move || watchdog.run())
                .expect("spawn the watchdog thread");
            watchdog
        })
    }

    /// Terminates `isolate` if the calling thread's CPU clock passes
    /// `budget` from now before the returned guard is dropped. What fired is
    /// recorded in `fired`.
    fn arm(
        &'static self,
        budget: Duration,
        isolate: v8::IsolateHandle,
        limit: LimitExceeded,
        fired: Arc<Mutex<Option<LimitExceeded>>>,
    ) -> WatchGuard {
        let clock = current_thread_cpu_clock();
        let armed_at = clock_time(clock);
        let deadline = armed_at + budget;
        let mut watches = self.watches.lock().expect("watchdog lock");
        watches.next_id += 1;
        let id = watches.next_id;
        watches.active.push(Watch {
            id,
            clock,
            deadline,
            isolate,
            fired,
            limit,
        });
        let asleep = std::mem::take(&mut watches.asleep);
        drop(watches);
        if asleep {
            self.wake.notify_one();
        }
        WatchGuard {
            watchdog: self,
            id,
            armed_at,
        }
    }

    fn run(&self) {
        let mut watches = self.watches.lock().expect("watchdog lock");
        let mut idle_ticks = 0;
        loop {
            if watches.active.is_empty() {
                idle_ticks += 1;
                if idle_ticks > IDLE_TICKS_BEFORE_SLEEP {
                    watches.asleep = true;
                    watches = self
                        .wake
                        .wait_while(watches, |w| w.asleep)
                        .expect("watchdog lock");
                    idle_ticks = 0;
                    continue;
                }
            } else {
                idle_ticks = 0;
            }
            watches.active.retain(|watch| {
                if clock_time(watch.clock) < watch.deadline {
                    return true;
                }
                *watch.fired.lock().expect("limit flag") = Some(watch.limit);
                watch.isolate.terminate_execution();
                false
            });
            watches = self
                .wake
                .wait_timeout(watches, WATCHDOG_TICK)
                .expect("watchdog lock")
                .0;
        }
    }
}

/// Disarms its watch when dropped.
pub struct WatchGuard {
    watchdog: &'static Watchdog,
    id: u64,
    armed_at: Duration,
}

impl WatchGuard {
    /// The thread's CPU time when the watch was armed (read once: each
    /// read of a thread's CPU clock is a system call).
    pub fn armed_at(&self) -> Duration {
        self.armed_at
    }
}

impl Drop for WatchGuard {
    fn drop(&mut self) {
        let mut watches = self.watchdog.watches.lock().expect("watchdog lock");
        watches.active.retain(|w| w.id != self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_cpu_time_advances_with_work() {
        let before = thread_cpu_time();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_add(i ^ (x >> 3));
        }
        std::hint::black_box(x);
        assert!(thread_cpu_time() > before);
    }
}
