//! Isolate threads and the scheduler that sends each request to the thread
//! owning its worker version's isolate.
//!
//! Each isolate thread runs a current-thread tokio runtime with a `LocalSet`;
//! every isolate on it is a local task that owns its `JsRuntime` and takes
//! requests from its own inbox. A request reaches it by channel, from the
//! edge connection's thread (an isolate thread too, see `server/tcp.rs`).
//!
//! A thread keeps a few pre-warmed blank isolates, so a cold start only loads
//! the worker's modules. Isolates idle for longer than the idle timeout are
//! dropped, and so are the least recently used ones while the thread's
//! isolates together use more memory than its share of the budget. An
//! isolate that fails is dropped too; the next request for its version
//! starts a new one, unless the version keeps failing (`backoff.rs`).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::backoff::{Backoffs, StartFailure};
use super::bindings::{Services, DEFAULT_CACHE_BYTES};
use super::placement::{HashPlacement, Placement};
use super::runtime::{BlankIsolate, IsolateStatus, StartError, StopReason, WorkerIsolate};
use crate::observe::metrics::{LimitLabels, WorkerLabels};
use crate::observe::Observers;
use crate::worker::WorkerVersion;
use ridge_deploy::config::Limits;
use ridge_ext::{Invocation, InvocationInbox, WorkerReply};

#[derive(Clone)]
pub struct SchedulerOptions {
    /// Number of isolate threads; 0 means one per CPU core.
    pub threads: usize,
    /// Blank isolates each thread keeps ready.
    pub warm_isolates: usize,
    /// An isolate with no request for this long is dropped.
    pub idle_timeout: Duration,
    /// Memory all isolates together may use before the least recently used
    /// are dropped, in bytes.
    pub memory_budget: usize,
    /// What workers' bindings reach.
    pub services: Services,
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        Self {
            threads: 0,
            warm_isolates: 2,
            idle_timeout: Duration::from_secs(300),
            memory_budget: 4096 * 1024 * 1024,
            services: Services::without_kv(DEFAULT_CACHE_BYTES),
        }
    }
}

/// How often each thread looks for isolates to drop.
const EVICTION_INTERVAL: Duration = Duration::from_secs(1);

/// What an isolate thread is asked to do.
enum Message {
    /// Run a request on the version's isolate, starting one if needed.
    Request(Arc<WorkerVersion>, Invocation),
    /// The version will get no more requests: its isolate takes none after
    /// those it has, finishes them, and is dropped.
    Retire(String),
    /// Run this on the thread (the edge starts serving a connection there).
    Run(Box<dyn FnOnce() + Send>),
}

/// Hands invocations to isolate threads, where its [`Placement`] says.
/// Cheap to share behind an `Arc`.
pub struct Scheduler {
    threads: Vec<mpsc::UnboundedSender<Message>>,
    /// Where its isolates report (the node's).
    observers: Observers,
    placement: Box<dyn Placement>,
    next_thread: std::sync::atomic::AtomicUsize,
}

impl Scheduler {
    pub fn new(options: SchedulerOptions) -> std::io::Result<Self> {
        let count = if options.threads == 0 {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        } else {
            options.threads
        };
        let observers = options.services.observers.clone();
        let per_thread = ThreadOptions {
            warm_isolates: options.warm_isolates,
            idle_timeout: options.idle_timeout,
            memory_budget: options.memory_budget / count,
            services: options.services,
        };
        let mut threads = Vec::with_capacity(count);
        for index in 0..count {
            let (sender, receiver) = mpsc::unbounded_channel::<Message>();
            let options = per_thread.clone();
            std::thread::Builder::new()
                .name(format!("ridge-isolates-{index}"))
                .spawn(move || IsolateThread::new(options).run(receiver))?;
            threads.push(sender);
        }
        Ok(Self {
            threads,
            observers,
            placement: Box::new(HashPlacement),
            next_thread: Default::default(),
        })
    }

    /// Sends an invocation to an isolate of `version`, starting one if
    /// needed. The answer arrives on `invocation.reply`; if the isolate dies
    /// first, that sender is dropped.
    pub fn dispatch(&self, version: Arc<WorkerVersion>, invocation: Invocation) {
        let thread = self.placement.thread_for(&version, self.threads.len());
        // The thread only stops when the scheduler is dropped.
        let _ = self.threads[thread].send(Message::Request(version, invocation));
    }

    /// Lets the isolates of a version that will get no more requests finish
    /// what they have and go (`ridge dev` after a reload). Every thread is
    /// told: placement may have put one anywhere, and this is rare.
    pub fn retire(&self, version: &WorkerVersion) {
        for thread in &self.threads {
            let _ = thread.send(Message::Retire(version.id.clone()));
        }
    }

    /// Where the scheduler's isolates report: the node's observers.
    pub fn observers(&self) -> &Observers {
        &self.observers
    }

    /// Runs `job` on the next isolate thread in turn.
    pub fn run_on_next_thread(&self, job: Box<dyn FnOnce() + Send>) {
        let index = self
            .next_thread
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            % self.threads.len();
        let _ = self.threads[index].send(Message::Run(job));
    }
}

#[derive(Clone)]
struct ThreadOptions {
    warm_isolates: usize,
    idle_timeout: Duration,
    memory_budget: usize,
    services: Services,
}

/// A worker isolate as its thread sees it.
struct Hosted {
    inbox: mpsc::UnboundedSender<Invocation>,
    /// Dropping this stops the isolate.
    _stop: oneshot::Sender<()>,
    status: Rc<IsolateStatus>,
    last_used: Instant,
}

/// Blank isolates restored from the snapshot ahead of need, so a cold
/// start only loads the worker's modules.
#[derive(Clone)]
struct WarmPool {
    isolates: Rc<RefCell<Vec<BlankIsolate>>>,
    refilling: Rc<Cell<bool>>,
    target: usize,
}

impl WarmPool {
    fn new(target: usize) -> Self {
        Self {
            isolates: Rc::default(),
            refilling: Rc::default(),
            target,
        }
    }

    /// A pre-warmed isolate with the heap limit `limits` asks for, if any.
    fn take(&self, limits: &Limits) -> Option<BlankIsolate> {
        let mut isolates = self.isolates.borrow_mut();
        let index = isolates
            .iter()
            .position(|b| b.heap_limit_mb() == limits.memory_mb)?;
        Some(isolates.swap_remove(index))
    }

    /// Tops the pool up, one isolate at a time, in the background. Called
    /// after a cold start has finished, so that it never delays one.
    fn refill(&self) {
        if self.refilling.get() || self.isolates.borrow().len() >= self.target {
            return;
        }
        self.refilling.set(true);
        let pool = self.clone();
        tokio::task::spawn_local(async move {
            while pool.isolates.borrow().len() < pool.target {
                // Let work that is already waiting go first.
                tokio::task::yield_now().await;
                match BlankIsolate::new(Limits::default().memory_mb, false)
                    .and_then(|mut blank| blank.warm_up().map(|()| blank))
                {
                    Ok(blank) => pool.isolates.borrow_mut().push(blank),
                    Err(error) => {
                        tracing::error!(%error, "cannot pre-warm an isolate");
                        break;
                    }
                }
            }
            pool.refilling.set(false);
        });
    }
}

/// The state of one isolate thread.
struct IsolateThread {
    options: ThreadOptions,
    isolates: foldhash::HashMap<String, Hosted>,
    pool: WarmPool,
    /// Versions that keep failing; their isolates' tasks report here.
    backoffs: Rc<RefCell<Backoffs>>,
}

impl IsolateThread {
    fn new(options: ThreadOptions) -> Self {
        Self {
            pool: WarmPool::new(options.warm_isolates),
            options,
            isolates: foldhash::HashMap::default(),
            backoffs: Rc::default(),
        }
    }

    fn run(mut self, mut requests: mpsc::UnboundedReceiver<Message>) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("isolate thread runtime");
        let local = tokio::task::LocalSet::new();
        local.block_on(&runtime, async move {
            self.pool.refill();
            let mut eviction = tokio::time::interval(EVICTION_INTERVAL);
            loop {
                tokio::select! {
                    // Biased (this runs for every request, and a random
                    // branch order costs an RNG step), with the eviction
                    // tick first so that a steady stream of messages cannot
                    // starve it.
                    biased;
                    _ = eviction.tick() => self.evict(),
                    message = requests.recv() => match message {
                        Some(Message::Request(version, head)) => self.dispatch(version, head),
                        Some(Message::Retire(id)) => self.retire(&id),
                        Some(Message::Run(job)) => job(),
                        None => break,
                    },
                }
            }
        });
    }

    fn dispatch(&mut self, version: Arc<WorkerVersion>, head: Invocation) {
        let now = Instant::now();
        if let Some(refusal) = self.backoffs.borrow().refusal(&version.id, now) {
            if let WorkerReply::LimitExceeded(limit) = &refusal {
                self.options
                    .services
                    .observers
                    .metrics
                    .limit_violations
                    .get_or_create(&LimitLabels {
                        worker: version.name.clone(),
                        limit: limit.label().into(),
                    })
                    .inc();
            }
            let _ = head.reply.send(refusal);
            return;
        }
        if !self.isolates.contains_key(&version.id) {
            let hosted = self.spawn_isolate(version.clone());
            self.isolates.insert(version.id.clone(), hosted);
            self.evict_over_budget();
        }
        let hosted = self.isolates.get_mut(&version.id).expect("inserted above");
        hosted.last_used = now;
        if let Err(mpsc::error::SendError(head)) = hosted.inbox.send(head) {
            // The isolate has stopped since its last request: start a new one.
            let hosted = self.spawn_isolate(version.clone());
            let _ = hosted.inbox.send(head);
            self.isolates.insert(version.id.clone(), hosted);
        }
    }

    fn spawn_isolate(&mut self, version: Arc<WorkerVersion>) -> Hosted {
        let (inbox, requests) = mpsc::unbounded_channel();
        let (stop, stopped) = oneshot::channel();
        let status = Rc::new(IsolateStatus::default());
        // A version with its own snapshot restores that instead, unless
        // its modules evaluate faster than the snapshot restores.
        let blank = match &version.snapshot {
            Some(snapshot) if snapshot.restore_saves_time(true) => None,
            _ => self.pool.take(&version.limits),
        };
        let pool = self.pool.clone();
        let services = self.options.services.clone();
        let task_status = status.clone();
        let backoffs = self.backoffs.clone();
        tokio::task::spawn_local(async move {
            let metrics = services.observers.metrics.clone();
            let starting = Instant::now();
            let inbox = InvocationInbox::new(requests);
            let started = match blank {
                Some(blank) => blank.start(version.clone(), inbox.clone(), &services).await,
                None => WorkerIsolate::start(version.clone(), inbox.clone(), &services).await,
            };
            pool.refill();
            match started {
                Ok(isolate) => {
                    backoffs.borrow_mut().started(&version.id);
                    metrics
                        .cold_starts
                        .get_or_create(&WorkerLabels {
                            worker: version.name.clone(),
                        })
                        .inc();
                    metrics
                        .cold_start_duration
                        .observe(starting.elapsed().as_secs_f64());
                    metrics.isolates_alive.inc();
                    let outcome = tokio::select! {
                        outcome = isolate.run(task_status) => outcome,
                        _ = stopped => Ok(()),
                    };
                    metrics.isolates_alive.dec();
                    match outcome {
                        Ok(()) => {}
                        Err(StopReason::Limit(limit)) => {
                            backoffs
                                .borrow_mut()
                                .limit_stopped(&version.id, Instant::now());
                            metrics.isolate_evicted("limit", 1);
                            tracing::warn!(worker = %version.name, version = %version.version_id, "{limit}; isolate discarded");
                        }
                        Err(StopReason::Failed(error)) => {
                            metrics.isolate_evicted("failed", 1);
                            tracing::error!(worker = %version.name, version = %version.version_id, %error, "isolate discarded");
                        }
                    }
                }
                Err(error) => {
                    tracing::error!(worker = %version.name, version = %version.version_id, %error, "worker failed to start");
                    // Every request already waiting gets the start error,
                    // and so do those that come while it is backed off.
                    let failure = match &error {
                        StartError::Limit(limit) => StartFailure::Limit(*limit),
                        _ => StartFailure::Error(format!("Worker failed to start: {error}")),
                    };
                    inbox.fail_waiting(|| failure.reply());
                    backoffs
                        .borrow_mut()
                        .start_failed(&version.id, failure, Instant::now());
                }
            }
        });
        Hosted {
            inbox,
            _stop: stop,
            status,
            last_used: Instant::now(),
        }
    }

    /// Closes the isolate's inbox: it finishes the requests (and waitUntil
    /// work) it has, then its task ends and the isolate is dropped.
    fn retire(&mut self, id: &str) {
        let Some(Hosted {
            inbox, mut _stop, ..
        }) = self.isolates.remove(id)
        else {
            return;
        };
        drop(inbox);
        self.options
            .services
            .observers
            .metrics
            .isolate_evicted("retired", 1);
        // Dropping the stop handle now would stop the isolate mid-request.
        tokio::task::spawn_local(async move { _stop.closed().await });
    }

    /// Drops isolates idle for longer than the idle timeout, and the least
    /// recently used (but never the most recent) while over the memory budget.
    fn evict(&mut self) {
        self.backoffs.borrow_mut().forget_old(Instant::now());
        let timeout = self.options.idle_timeout;
        let before = self.isolates.len();
        self.isolates.retain(|_, hosted| {
            hosted.status.in_flight.get() > 0 || hosted.last_used.elapsed() < timeout
        });
        let idle = before - self.isolates.len();
        if idle > 0 {
            self.options
                .services
                .observers
                .metrics
                .isolate_evicted("idle", idle);
            tracing::debug!(isolates = idle, "dropped idle isolates");
        }
        self.evict_over_budget();
    }

    fn evict_over_budget(&mut self) {
        let used = |isolates: &foldhash::HashMap<String, Hosted>| {
            isolates
                .values()
                .map(|h| h.status.memory.get())
                .sum::<usize>()
        };
        // The most recently used isolate always stays: dropping the one in
        // use would only make the next request start it again. Isolates
        // holding only WebSockets may go (their sockets close), or a client
        // opening sockets to many workers could pin them all.
        let newest = self.isolates.values().map(|h| h.last_used).max();
        while used(&self.isolates) > self.options.memory_budget {
            let least_recent = self
                .isolates
                .iter()
                .filter(|(_, h)| {
                    h.status.in_flight.get() == h.status.sockets.get()
                        && Some(h.last_used) != newest
                })
                .min_by_key(|(_, h)| h.last_used)
                .map(|(id, _)| id.clone());
            let Some(id) = least_recent else { break };
            self.options
                .services
                .observers
                .metrics
                .isolate_evicted("memory", 1);
            tracing::debug!(version = %id, "memory budget reached: dropped the least recently used isolate");
            self.isolates.remove(&id);
        }
    }
}
