//! One worker isolate: a `JsRuntime` restored from the startup snapshot,
//! with the worker's modules loaded and its fetch handler started, run under
//! the worker's limits (see `limits.rs`).

use std::cell::Cell;
use std::future::{poll_fn, Future};
use std::mem::ManuallyDrop;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use deno_core::error::CoreError;
use deno_core::v8;
use deno_core::{JsRuntime, PollEventLoopOptions, RuntimeOptions};
use deno_permissions::PermissionsContainer;

use super::bindings::Services;
use super::limits::{thread_cpu_time, ArrayBufferBudget, LimitEnforcer, LimitExceeded, MIB};
use super::loader::{
    allow_wasm_code_generation, evaluate_data_module, module_specifier, BundleLoader,
};
use super::snapshot;
use super::worker_snapshot::WorkerSnapshot;
use crate::observe::metrics::WorkerLabels;
use crate::observe::{Observers, WorkerMeters};
use crate::worker::WorkerVersion;
use ridge_core::{Binding, Outcome};
use ridge_ext::websocket::{MaxMessageBytes, OpenSockets};
use ridge_ext::{
    self, memory::MemoryGuard, CpuLedger, FrozenClock, InvocationInbox, SubrequestLimit,
    WorkerLogContext, WorkerReply,
};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The worker's code failed to compile, link or run its top level. The
    /// message comes from V8 and names the module, line and column.
    #[error("{0}")]
    Script(String),
    #[error(transparent)]
    Limit(#[from] LimitExceeded),
    #[error("internal error starting the isolate: {0}")]
    Internal(String),
}

impl From<CoreError> for StartError {
    fn from(error: CoreError) -> Self {
        StartError::Script(error.to_string())
    }
}

impl From<Box<deno_core::error::JsError>> for StartError {
    fn from(error: Box<deno_core::error::JsError>) -> Self {
        StartError::Script(error.to_string())
    }
}

/// Why a running isolate stopped.
#[derive(Debug, thiserror::Error)]
pub enum StopReason {
    #[error(transparent)]
    Limit(#[from] LimitExceeded),
    #[error("uncaught error: {0}")]
    Failed(String),
}

/// A `JsRuntime` whose isolate is entered only while Ridge works with it.
///
/// rusty_v8 enters an isolate when it is created and exits it when it is
/// dropped, which assumes one live isolate per thread (or strictly nested
/// lifetimes). Ridge hosts many isolates per thread, created and dropped in
/// any order, so each isolate is exited right after it is set up, entered
/// around every poll of work that touches it, and entered once more just
/// before it is dropped.
struct HostedRuntime(ManuallyDrop<JsRuntime>);

impl HostedRuntime {
    /// Takes a freshly created runtime whose isolate is still entered.
    fn new(mut runtime: JsRuntime) -> Self {
        // SAFETY: creating the runtime entered its isolate, and everything
        // entered since has been exited again, so it is the current one.
        unsafe { runtime.v8_isolate().exit() };
        Self(ManuallyDrop::new(runtime))
    }

    fn isolate_ptr(&mut self) -> *const v8::Isolate {
        &**self.0.v8_isolate() as *const v8::Isolate
    }

    /// Polls `future`, which works with this runtime, with the isolate
    /// entered during each poll and exited between polls.
    fn entered<F: Future>(
        isolate: *const v8::Isolate,
        future: F,
    ) -> impl Future<Output = F::Output> {
        let mut future = Box::pin(future);
        poll_fn(move |cx| {
            // SAFETY: `isolate` points into the runtime that `future`
            // borrows, so it outlives every poll; the guard exits it before
            // the poll returns, so other isolates on this thread never see
            // this one entered.
            let _entered = unsafe { Entered::new(isolate) };
            future.as_mut().poll(cx)
        })
    }
}

/// An isolate entered for as long as the guard lives: it is exited when
/// the guard drops, also when the work in between panics.
struct Entered(*const v8::Isolate);

impl Entered {
    /// # Safety
    /// `isolate` must outlive the guard, and enters and exits on this thread
    /// must nest: no other isolate may be entered and left entered while
    /// the guard lives.
    unsafe fn new(isolate: *const v8::Isolate) -> Self {
        // SAFETY: the caller keeps `isolate` alive for the guard's life.
        unsafe { (*isolate).enter() };
        Self(isolate)
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        // SAFETY: `new`'s contract keeps the isolate alive until now, and
        // it is the one entered last on this thread.
        unsafe { (*self.0).exit() };
    }
}

impl std::ops::Deref for HostedRuntime {
    type Target = JsRuntime;
    fn deref(&self) -> &JsRuntime {
        &self.0
    }
}

impl std::ops::DerefMut for HostedRuntime {
    fn deref_mut(&mut self) -> &mut JsRuntime {
        &mut self.0
    }
}

impl Drop for HostedRuntime {
    fn drop(&mut self) {
        // SAFETY: dropping the isolate exits it, so it must be the entered
        // one; between polls no isolate is entered on this thread. The
        // runtime is not used after this.
        unsafe {
            self.0.v8_isolate().enter();
            ManuallyDrop::drop(&mut self.0);
        }
    }
}

/// Exercises what every request uses; leaves no trace in the global scope.
const WARM_UP: &str = r#"(() => {
  const request = new Request("https://example.com/path?name=x", {
    method: "POST",
    headers: { "content-type": "text/plain", "x-a": "b" },
    body: "hello",
  });
  new URL(request.url).searchParams.get("name");
  request.headers.get("content-type");
  [...request.headers];
  new Response("Hello, world!\n", { headers: { "content-type": "text/plain" } }).headers.get("content-type");
  Response.json({ ok: true });
  new Response(null, { status: 204 });
  new TextDecoder().decode(new TextEncoder().encode("warm"));
})();"#;

/// What an isolate's thread needs to know about it, updated after every
/// turn of its event loop.
#[derive(Default)]
pub struct IsolateStatus {
    /// Heap and external (ArrayBuffer) memory in use, in bytes, with
    /// [`SOCKET_BYTES`] for each open WebSocket.
    pub memory: Cell<usize>,
    /// Invocations being handled (including `waitUntil` work) and open
    /// WebSockets: what keeps an isolate from being dropped as idle.
    pub in_flight: Cell<usize>,
    /// The open WebSockets among them, which do not keep it from being
    /// dropped when the node is over its memory budget.
    pub sockets: Cell<usize>,
}

/// What an open WebSocket costs besides the isolate's heap (its relay
/// task, buffers and queues), as counted in the memory budget.
pub const SOCKET_BYTES: usize = 64 * 1024;

/// How Ridge reaches into a running isolate from outside its JS.
pub(super) struct Controls {
    /// Decides and enforces its limits.
    pub(super) limits: LimitEnforcer,
    /// What `Date.now()` reports during the current turn of the event loop.
    clock: Rc<Cell<f64>>,
    /// The worker snapshot the isolate was restored from: V8 may read it
    /// for as long as the isolate lives.
    snapshot: Option<WorkerSnapshot>,
}

/// A running worker isolate.
pub struct WorkerIsolate {
    runtime: HostedRuntime,
    version: Arc<WorkerVersion>,
    controls: Controls,
    /// Where it reports each finished invocation.
    observers: Observers,
}

/// An isolate restored from the startup snapshot that runs no worker yet.
/// Isolate threads keep a few ready, so that a cold start only has to load
/// the worker's own modules.
pub struct BlankIsolate {
    runtime: HostedRuntime,
    loader: Rc<BundleLoader>,
    controls: Controls,
    heap_limit_mb: u64,
}

impl BlankIsolate {
    /// Restores an isolate from the startup snapshot, with a heap limit of
    /// `heap_limit_mb`, and a V8 inspector when `inspector` is set.
    pub fn new(heap_limit_mb: u64, inspector: bool) -> Result<Self, StartError> {
        let started = Instant::now();
        let loader = Rc::new(BundleLoader::default());
        let runtime = JsRuntime::try_new(runtime_options(
            loader.clone(),
            Some(snapshot::RUNTIME_SNAPSHOT),
            heap_limit_mb,
            inspector,
        ))
        .map_err(|e| StartError::Internal(e.to_string()))?;
        if !inspector {
            super::worker_snapshot::record_runtime_restore(started.elapsed());
        }
        let blank = Self::prepare(runtime, loader, heap_limit_mb, None);
        tracing::trace!(
            elapsed_us = started.elapsed().as_micros() as u64,
            "blank isolate restored"
        );
        Ok(blank)
    }

    /// Restores an isolate from a worker's own snapshot: its modules are
    /// already evaluated, so starting it only attaches `env` (see
    /// `worker_snapshot.rs`).
    pub fn from_worker_snapshot(
        worker: WorkerSnapshot,
        heap_limit_mb: u64,
    ) -> Result<Self, StartError> {
        let loader = Rc::new(BundleLoader::default());
        // SAFETY: V8 reads the snapshot while creating the isolate, and the
        // external source strings deno_core registers point into it for the
        // isolate's life. The bytes (an `Arc`, so they never move) are kept
        // in the isolate's `Controls`, declared after `runtime` and so
        // dropped after it, and in the version being started.
        let bytes: &'static [u8] = unsafe { std::mem::transmute(worker.v8_bytes()) };
        let runtime = JsRuntime::try_new(runtime_options(
            loader.clone(),
            Some(bytes),
            heap_limit_mb,
            false,
        ))
        .map_err(|e| StartError::Internal(e.to_string()))?;
        Ok(Self::prepare(runtime, loader, heap_limit_mb, Some(worker)))
    }

    /// What every isolate gets once created: the heap-limit guard, the op
    /// state Ridge's ops expect, and no code generation from strings.
    fn prepare(
        mut runtime: JsRuntime,
        loader: Rc<BundleLoader>,
        heap_limit_mb: u64,
        snapshot: Option<WorkerSnapshot>,
    ) -> Self {
        let controls = prepare_runtime(&mut runtime, heap_limit_mb, snapshot);
        Self {
            runtime: HostedRuntime::new(runtime),
            loader,
            controls,
            heap_limit_mb,
        }
    }

    /// Runs the request/response path once (without any worker code), so
    /// that V8 has compiled it before the first real request arrives. Pool
    /// isolates do this in the background, off the cold-start path.
    pub fn warm_up(&mut self) -> Result<(), StartError> {
        let isolate = self.runtime.isolate_ptr();
        // SAFETY: the runtime owns the isolate and outlives this call; the
        // guard exits it before returning (see HostedRuntime).
        let _entered = unsafe { Entered::new(isolate) };
        warm_up(&mut self.runtime)
    }

    /// The heap limit this isolate was created with, in MiB.
    pub fn heap_limit_mb(&self) -> u64 {
        self.heap_limit_mb
    }

    /// Loads `version` into this isolate and starts its fetch handler, which
    /// then takes requests from `inbox`.
    pub async fn start(
        self,
        version: Arc<WorkerVersion>,
        inbox: InvocationInbox,
        services: &Services,
    ) -> Result<WorkerIsolate, StartError> {
        let started = Instant::now();
        let Self {
            mut runtime,
            loader,
            controls,
            ..
        } = self;
        loader.set_version(version.clone());
        {
            let state = runtime.op_state();
            let mut state = state.borrow_mut();
            state.put(inbox);
            let dropped = services
                .observers
                .metrics
                .console_dropped
                .get_or_create(&WorkerLabels {
                    worker: version.name.clone(),
                })
                .clone();
            state.put(WorkerLogContext::new(
                version.name.clone(),
                Box::new(move || {
                    dropped.inc();
                }),
            ));
            state.put(MaxMessageBytes(
                (version.limits.websocket_message_kb * 1024) as usize,
            ));
            state.put(SubrequestLimit(version.limits.subrequests));
            state.put(MemoryGuard {
                limit_bytes: version.limits.memory_mb as usize * MIB,
                stop: controls.limits.memory_stop(version.limits.memory_mb),
            });
            services.install(&mut state, &version);
        }
        let break_on_start = match &services.inspector {
            Some(hub) => {
                let main = module_specifier(&version.bundle.main);
                hub.register(
                    &version.name,
                    main.as_str(),
                    runtime.inspector().get_session_sender(),
                );
                hub.break_on_start()
            }
            None => false,
        };
        controls.clock.set(epoch_ms());
        let isolate = runtime.isolate_ptr();
        let watch = controls.limits.guard_startup(version.limits.startup_cpu_ms);
        let result = HostedRuntime::entered(
            isolate,
            WorkerIsolate::load(
                &mut runtime,
                &version,
                break_on_start,
                services.observers.traces.is_some(),
                controls.snapshot.as_ref().map(WorkerSnapshot::main_module),
            ),
        )
        .await;
        drop(watch);
        if let Some(limit) = controls.limits.take_exceeded() {
            return Err(StartError::Limit(limit));
        }
        result?;
        tracing::debug!(
            worker = %version.name,
            version = %version.version_id,
            elapsed_us = started.elapsed().as_micros() as u64,
            from_snapshot = controls.snapshot.is_some(),
            "worker loaded into an isolate"
        );
        Ok(WorkerIsolate {
            runtime,
            version,
            controls,
            observers: services.observers.clone(),
        })
    }
}

impl WorkerIsolate {
    /// Creates an isolate from the snapshot, evaluates the worker's modules and
    /// starts its fetch handler, which then takes requests from `inbox`.
    pub async fn start(
        version: Arc<WorkerVersion>,
        inbox: InvocationInbox,
        services: &Services,
    ) -> Result<Self, StartError> {
        let blank = match &version.snapshot {
            // The inspector needs the worker's sources, which it sees load.
            Some(snapshot)
                if services.inspector.is_none() && snapshot.restore_saves_time(false) =>
            {
                BlankIsolate::from_worker_snapshot(snapshot.clone(), version.limits.memory_mb)?
            }
            _ => BlankIsolate::new(version.limits.memory_mb, services.inspector.is_some())?,
        };
        blank.start(version, inbox, services).await
    }

    /// Loads and evaluates the worker's modules (unless the isolate was
    /// restored from a worker snapshot where `evaluated` is the main module)
    /// and calls the bridge's `start`; with `break_on_start`, first waits for
    /// a debugger and pauses there. `traced`: the node exports traces.
    async fn load(
        runtime: &mut JsRuntime,
        version: &WorkerVersion,
        break_on_start: bool,
        traced: bool,
        evaluated: Option<deno_core::ModuleId>,
    ) -> Result<(), StartError> {
        if break_on_start {
            tracing::info!("waiting for a debugger before running the worker (--inspect-brk)");
            runtime
                .inspector()
                .wait_for_session_and_break_on_next_statement();
        }
        // Take the bridge's entry points, and hide Deno's internals, before
        // any worker code runs.
        let node = version.node_compat();
        let bridge = take_start(runtime, false, node.v2)?;

        // `[kind, name, value]` per binding, in the version's order: JS
        // builds each binding's object by its kind (js/globals/00_globals.js's
        // binding table), and ops find a binding by its index. `env` is
        // filled before the worker's modules run: `cloudflare:workers`
        // exports it to their top level.
        let bindings_json = serde_json::Value::Array(
            version
                .bindings
                .iter()
                .map(|binding| {
                    let value = match binding {
                        Binding::Var { value, .. } => value.clone(),
                        Binding::Secret { value, .. } => value.clone().into(),
                        Binding::Service {
                            service,
                            entrypoint,
                            ..
                        } => serde_json::json!([service, entrypoint.is_some()]),
                        // Whether the class is this worker's own, which
                        // must export it.
                        Binding::DurableObjectNamespace {
                            class_name, worker, ..
                        } => serde_json::json!([class_name, worker, *worker == version.name]),
                        // The queue (for traces), and the content type of a
                        // send that names none.
                        Binding::Queue { queue, .. } => {
                            let json = ridge_core::Compatibility::new(
                                version.compatibility_date.as_deref(),
                                &version.compatibility_flags,
                            )
                            .queues_json_messages();
                            serde_json::json!([queue, if json { "json" } else { "v8" }])
                        }
                        Binding::KvNamespace { .. } | Binding::Assets { .. } => {
                            serde_json::Value::Null
                        }
                    };
                    serde_json::json!([binding.kind(), binding.name(), value])
                })
                .collect(),
        )
        .to_string();
        let bindings = js_string(runtime, &bindings_json)?;
        let process_env = {
            deno_core::scope!(scope, runtime);
            let flag: v8::Local<v8::Value> = v8::Boolean::new(scope, node.process_env).into();
            v8::Global::new(scope, flag)
        };
        runtime
            .call_with_args(&bridge.provide_env, &[bindings, process_env])
            .await?;

        let main = module_specifier(&version.bundle.main);
        let namespace = match version.bundle.classic_script() {
            _ if evaluated.is_some() => {
                runtime.get_module_namespace(evaluated.expect("checked"))?
            }
            // A service-worker script runs as a classic script, as on
            // Cloudflare: top-level `this` and `var`s are the global's.
            Some(source) => {
                runtime.execute_script(main.to_string(), source)?;
                deno_core::scope!(scope, runtime);
                let empty = v8::Object::new(scope);
                v8::Global::new(scope, empty)
            }
            None => {
                let module_id = runtime.load_main_es_module(&main).await?;
                let evaluation = runtime.mod_evaluate(module_id);
                runtime
                    .with_event_loop_future(evaluation, PollEventLoopOptions::default())
                    .await?;
                runtime.get_module_namespace(module_id)?
            }
        };

        let config_json = serde_json::json!({
          "wallMs": version.limits.wall_ms,
          "traces": traced,
        })
        .to_string();
        let args = {
            let config = js_string(runtime, &config_json)?;
            deno_core::scope!(scope, runtime);
            let namespace: v8::Local<v8::Value> = v8::Local::new(scope, namespace).into();
            vec![v8::Global::new(scope, namespace), config]
        };
        runtime.call_with_args(&bridge.start, &args).await?;
        Ok(())
    }

    /// Serves requests until the inbox closes (`Ok`), or the isolate must be
    /// discarded: it exceeded a limit or failed with an error its code could
    /// not catch. Requests still in flight then get an answer saying why.
    pub async fn run(mut self, status: Rc<IsolateStatus>) -> Result<(), StopReason> {
        let limits = &self.version.limits;
        let enforcer = &self.controls.limits;
        let (ledger, sockets) = {
            let state = self.runtime.op_state();
            let state = state.borrow();
            (
                state.borrow::<CpuLedger>().clone(),
                state.borrow::<OpenSockets>().clone(),
            )
        };
        let mut meters = WorkerMeters::new(&self.observers.metrics, &self.version.name);
        // One timer for the isolate, not one per request: it is armed for
        // when the oldest unanswered request runs out of wall-clock time.
        let mut wall_clock = Box::pin(tokio::time::sleep(Duration::ZERO));
        let mut wall_clock_armed = false;
        let runtime = &mut self.runtime;
        let clock = &self.controls.clock;
        let result = poll_fn(|cx| {
            // Date.now() and performance.now() stand still while JS runs.
            clock.set(epoch_ms());
            let watch = enforcer.guard_turn(limits, &ledger);
            let cpu_before = watch.armed_at();
            let isolate = runtime.isolate_ptr();
            // SAFETY: the runtime owns the isolate and outlives this poll;
            // the guard exits it within the poll (see HostedRuntime).
            let entered = unsafe { Entered::new(isolate) };
            let poll = runtime.poll_event_loop(cx, PollEventLoopOptions::default());
            let stats = runtime.v8_isolate().get_heap_statistics();
            drop(entered);
            drop(watch);
            let memory = stats.used_heap_size() + stats.external_memory();
            status
                .memory
                .set(memory + sockets.open_count() * SOCKET_BYTES);
            loop {
                if wall_clock_armed {
                    if wall_clock.as_mut().poll(cx).is_pending() {
                        break;
                    }
                    wall_clock_armed = false;
                }
                let Some(deadline) = enforcer.expire_wall_clock(limits, &ledger) else {
                    break;
                };
                wall_clock.as_mut().reset(deadline.into());
                wall_clock_armed = true;
            }
            // Open WebSockets keep an isolate busy, like requests.
            status.sockets.set(sockets.open_count());
            status
                .in_flight
                .set(ledger.in_flight_count() + sockets.open_count());
            let checked = enforcer.after_turn(
                limits,
                &ledger,
                thread_cpu_time().saturating_sub(cpu_before),
            );
            for record in ledger.take_done() {
                crate::observe::request_finished(
                    &self.observers,
                    &self.version,
                    &record,
                    &mut meters,
                );
            }
            // Sockets and RPC stubs do not outlive their request.
            ridge_ext::owned::close_resources_of_ended_requests(
                &mut runtime.op_state().borrow_mut(),
            );
            if checked.is_err() {
                return Poll::Ready(Err(None));
            }
            match poll {
                Poll::Ready(Ok(())) => Poll::Ready(Ok(())),
                Poll::Ready(Err(error)) => Poll::Ready(Err(Some(error.to_string()))),
                Poll::Pending if enforcer.check_memory(limits, memory).is_err() => {
                    Poll::Ready(Err(None))
                }
                Poll::Pending => Poll::Pending,
            }
        })
        .await;
        // `Err` carries the event loop's error, if it failed with one.
        let Err(failure) = result else {
            return Ok(());
        };
        let reason = match self.controls.limits.take_exceeded() {
            Some(limit) => StopReason::Limit(limit),
            None => StopReason::Failed(
                failure.unwrap_or_else(|| "the worker's event loop failed".into()),
            ),
        };
        let message = reason.to_string();
        let outcome = match &reason {
            StopReason::Limit(limit) => Outcome::Exceeded(*limit),
            StopReason::Failed(_) => Outcome::IsolateFailed,
        };
        // 1011: the server hit a condition that kept it from going on.
        ridge_ext::websocket::close_all(&mut self.runtime.op_state().borrow_mut(), 1011, &message);
        let failed = ledger.fail_in_flight(outcome, || match &reason {
            StopReason::Limit(limit) => WorkerReply::LimitExceeded(*limit),
            StopReason::Failed(_) => WorkerReply::Error(message.clone()),
        });
        for record in failed {
            crate::observe::request_finished(&self.observers, &self.version, &record, &mut meters);
        }
        Err(reason)
    }
}

/// The bridge's entry points (js/http/10_worker.js), taken out of the global
/// scope before any worker code runs.
pub(super) struct Bridge {
    /// Starts the worker: `start(namespace, configJson)`.
    pub start: v8::Global<v8::Function>,
    /// Puts Deno's internals back on the global scope, as they must be
    /// when a snapshot is taken.
    pub reinstate: v8::Global<v8::Function>,
    /// Fills `env` from the bindings, and `process.env` from the text ones
    /// when nodejs_compat asks: `provideEnv(bindingsJson, processEnv)`.
    pub provide_env: v8::Global<v8::Function>,
    /// Whether worker code read `cloudflare:workers`' `env` before it was
    /// provided (while a worker snapshot is made, it never is).
    pub env_read_early: v8::Global<v8::Function>,
}

/// A JavaScript string holding `text`, to pass to the bridge.
fn js_string(runtime: &mut JsRuntime, text: &str) -> Result<v8::Global<v8::Value>, StartError> {
    deno_core::scope!(scope, runtime);
    let value =
        v8::String::new(scope, text).ok_or_else(|| StartError::Internal("env too large".into()))?;
    Ok(v8::Global::new(scope, v8::Local::<v8::Value>::from(value)))
}

/// Calls `__ridgeTakeStart`, which hides Deno's internals and hands back
/// the bridge's entry points; `for_snapshot` when a worker snapshot is
/// being made of this isolate, `node_globals` to install nodejs_compat's
/// globals (`Buffer`, `process`, ...).
pub(super) fn take_start(
    runtime: &mut JsRuntime,
    for_snapshot: bool,
    node_globals: bool,
) -> Result<Bridge, StartError> {
    let script = format!("globalThis.__ridgeTakeStart({for_snapshot}, {node_globals})");
    let taken = runtime
        .execute_script("ext:ridge/start.js", script)
        .map_err(|e| StartError::Internal(e.to_string()))?;
    deno_core::scope!(scope, runtime);
    let taken = v8::Local::new(scope, taken);
    let taken =
        v8::Local::<v8::Array>::try_from(taken).map_err(|e| StartError::Internal(e.to_string()))?;
    let function = |index| -> Result<v8::Global<v8::Function>, StartError> {
        let value = taken
            .get_index(scope, index)
            .ok_or_else(|| StartError::Internal("the bridge gave no entry point".into()))?;
        let function = v8::Local::<v8::Function>::try_from(value)
            .map_err(|e| StartError::Internal(e.to_string()))?;
        Ok(v8::Global::new(scope, function))
    };
    Ok(Bridge {
        start: function(0)?,
        reinstate: function(1)?,
        provide_env: function(2)?,
        env_read_early: function(3)?,
    })
}

/// Runs the request/response path once without worker code (see
/// `BlankIsolate::warm_up`); worker snapshots are made after it too, so
/// they keep that compiled code.
pub(super) fn warm_up(runtime: &mut JsRuntime) -> Result<(), StartError> {
    runtime
        .execute_script("ext:ridge/warm_up.js", WARM_UP)
        .map(drop)
        .map_err(|e| StartError::Internal(e.to_string()))
}

/// The young generation's most: V8 divides it into two 16 MiB semi-spaces
/// and a new large-object space. V8 grows the semi-spaces from 1 MiB only
/// as a worker's allocations survive, so an idle isolate stays small.
const YOUNG_GENERATION_BYTES: usize = 48 * MIB;

/// Options for a runtime restored from `snapshot` (Ridge's startup snapshot,
/// or a worker's own), or made from scratch without one.
pub(super) fn runtime_options(
    loader: Rc<BundleLoader>,
    snapshot: Option<&'static [u8]>,
    heap_limit_mb: u64,
    inspector: bool,
) -> RuntimeOptions {
    let array_buffers = ArrayBufferBudget::allocator(heap_limit_mb as usize * MIB);
    RuntimeOptions {
        module_loader: Some(loader),
        extensions: ridge_ext::extensions(),
        startup_snapshot: snapshot,
        residual_lazy_js_sources: snapshot::RESIDUAL_LAZY_JS,
        residual_lazy_esm_sources: snapshot::RESIDUAL_LAZY_ESM,
        custom_module_evaluation_cb: Some(Box::new(evaluate_data_module)),
        inspector,
        is_main: true,
        // Where structuredClone puts the ArrayBuffers it transfers (and
        // detaches); one per isolate, shared with no other.
        shared_array_buffer_store: Some(Default::default()),
        // The memory limit bounds the old generation, where what a worker
        // keeps lives. The young generation, for short-lived garbage, gets
        // V8's usual desktop size rather than the sliver V8 would carve out
        // of a 128 MiB heap: with 4 MiB semi-spaces, a loop making
        // megabyte strings promoted each one and ran a full collection
        // every request, which doubled its CPU (see BENCHMARKS.md).
        create_params: Some(
            v8::CreateParams::default()
                .heap_limits(0, heap_limit_mb as usize * MIB)
                .set_max_young_generation_size_in_bytes(YOUNG_GENERATION_BYTES)
                .set_max_old_generation_size_in_bytes(heap_limit_mb as usize * MIB)
                .array_buffer_allocator(array_buffers),
        ),
        ..Default::default()
    }
}

/// Sets up a new runtime the way Ridge runs them (see `BlankIsolate::prepare`).
pub(super) fn prepare_runtime(
    runtime: &mut JsRuntime,
    heap_limit_mb: u64,
    snapshot: Option<WorkerSnapshot>,
) -> Controls {
    let limits = LimitEnforcer::install(runtime, heap_limit_mb);
    let clock = Rc::new(Cell::new(epoch_ms()));
    {
        let state = runtime.op_state();
        let mut state = state.borrow_mut();
        state.put(outbound_permissions());
        state.put(CpuLedger::default());
        state.put(OpenSockets::default());
        state.put(FrozenClock(clock.clone()));
    }
    runtime
        .v8_isolate()
        .set_allow_wasm_code_generation_callback(allow_wasm_code_generation);
    {
        // No eval() or new Function(): code generation from strings is off.
        deno_core::scope!(scope, runtime);
        scope
            .get_current_context()
            .set_allow_generation_from_strings(false);
    }
    Controls {
        limits,
        clock,
        snapshot,
    }
}

fn epoch_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

/// Permissions for Deno's fetch: outbound network is allowed here, and
/// restricted by `ops::net`'s policy; everything else Deno could check
/// (files, env, processes) has no API in a worker.
fn outbound_permissions() -> PermissionsContainer {
    use deno_permissions::{Permissions, RuntimePermissionDescriptorParser};
    let parser = Arc::new(RuntimePermissionDescriptorParser::new(
        sys_traits::impls::RealSys,
    ));
    PermissionsContainer::new(parser, Permissions::allow_all())
}
