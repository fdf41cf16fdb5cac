//! The bridge between the node and an isolate: invocations in, answers out.
//!
//! The server (an HTTP request) or the cron runner (a scheduled run) sends
//! an [`Invocation`] into the isolate's [`InvocationInbox`]; the worker's JS
//! waits with `op_ridge_invocation_arrival`, takes every waiting one with
//! `op_ridge_take_invocation` and calls the handler for its event. A fetch
//! is answered with `op_ridge_respond` (status, headers and a whole body, or
//! the start of a streamed one), any other event with `op_ridge_event_done`,
//! and a failure with `op_ridge_respond_error`. Streamed bodies are pumped by
//! `op_ridge_pipe_response_body` through a bounded channel, so a slow client
//! slows the worker's stream down instead of filling memory, and a client
//! that goes away cancels it.

use std::borrow::Cow;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use bytes::Bytes;
use deno_core::op2;
use deno_core::v8;
use deno_core::AsyncRefCell;
use deno_core::AsyncResult;
use deno_core::BufView;
use deno_core::CancelHandle;
use deno_core::OpState;
use deno_core::RcRef;
use deno_core::Resource;
use deno_core::ResourceId;
use deno_core::ToV8;
use deno_error::JsErrorBox;
use ridge_core::{EventKind, LimitExceeded, Outcome, ScheduledEvent};
use tokio::sync::{mpsc, oneshot};

use super::rpc::{RemoteStubs, RpcResult, StubSender, WritableSink};
use super::trace::TraceContext;
use super::wire::{
    IncomingAlarm, IncomingQueue, IncomingRequest, IncomingRpc, IncomingScheduled, ResponseBytes,
    ResponseHeaders,
};

/// Chunks in flight between a streaming response and the client.
const RESPONSE_CHUNKS_IN_FLIGHT: usize = 4;
/// Largest chunk read from a worker's response stream at once.
const RESPONSE_READ_SIZE: usize = 64 * 1024;

/// One event on its way into an isolate.
pub struct Invocation {
    /// Node-wide invocation number, used to tag logs.
    pub request_id: u64,
    /// The route pattern that led here ("cron" for a cron run), for the
    /// invocation's log record.
    pub route: Arc<str>,
    pub event: Event,
    /// When it was handed to the isolate; its wall-clock time runs from here.
    pub received: std::time::Instant,
    /// Where the worker's answer goes.
    pub reply: oneshot::Sender<WorkerReply>,
    /// Set when traces are exported (`observe/trace.rs`).
    pub trace: Option<Box<TraceContext>>,
    /// The worker that called through a service binding, if one did.
    pub caller: Option<Box<Caller>>,
}

/// Who made an invocation through a service binding, and how deep in a
/// chain of such calls it is (1: called by the worker a client reached).
#[derive(Clone, Debug)]
pub struct Caller {
    pub worker: String,
    pub depth: u32,
    /// The binding's `props` (JSON text), the callee's `ctx.props`.
    pub props: Option<String>,
}

/// What an invocation asks the worker to handle.
pub enum Event {
    /// An HTTP request, for the `fetch` handler.
    Fetch(FetchRequest),
    /// A cron run, for the `scheduled` handler.
    Scheduled(ScheduledEvent),
    /// A method call over a service binding (boxed: it is much larger than
    /// the others).
    Rpc(Box<RpcCall>),
    /// A Durable Object's alarm, for its `alarm()` handler.
    Alarm(AlarmEvent),
    /// What a WebSocket a Durable Object accepted for hibernation
    /// received: opened by the isolate itself (objects.rs), so that each
    /// such event is charged and recorded as an invocation.
    WebSocket(WebSocketEvent),
    /// A batch of queue messages, for the `queue` handler.
    Queue(crate::queues::QueueBatch),
}

/// A hibernatable WebSocket's event, for one of the object's handlers.
#[derive(Clone, Debug)]
pub struct WebSocketEvent {
    pub object: ObjectAddress,
    /// "message", "close" or "error".
    pub kind: &'static str,
}

/// A node-wide number for a new invocation, which logs tag it with.
pub fn next_request_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// A Durable Object's alarm run: which object, the time it was set for,
/// and how many runs of it failed before this one.
#[derive(Clone, Debug)]
pub struct AlarmEvent {
    pub object: ObjectAddress,
    /// Milliseconds since the Unix epoch.
    pub scheduled_time_ms: i64,
    pub retry_count: u32,
}

/// A JavaScript RPC call: which entrypoint (`None`: the default export),
/// which method, and its arguments (an array, V8-serialized by the caller).
pub struct RpcCall {
    pub entrypoint: Option<String>,
    pub method: String,
    pub args: Vec<u8>,
    /// Where the callee's calls of the stubs among the arguments (functions
    /// and `RpcTarget`s the caller passed) go, while the call lasts.
    pub stubs: StubSender,
    /// The caller's span for the call (a `traceparent` value), when traced.
    pub traceparent: Option<String>,
    /// The `ReadableStream`s among the arguments, streamed as they are read.
    pub streams: Vec<RequestBody>,
    /// The `WritableStream`s among the arguments: what the callee writes
    /// goes to them.
    pub writables: Vec<BodySender>,
    /// The Durable Object called, when the call is to one (its stub's).
    pub object: Option<ObjectAddress>,
}

/// Which Durable Object a call is for: its class, its id (64 hex digits),
/// and the name the id was made from, if any.
#[derive(Clone, Debug)]
pub struct ObjectAddress {
    pub class: String,
    pub id: String,
    pub name: Option<String>,
}

/// An HTTP request, as the fetch handler gets it.
pub struct FetchRequest {
    pub method: http::Method,
    pub url: String,
    pub headers: http::HeaderMap,
    /// `None` when the request has no body (GET, HEAD, or an empty body).
    pub body: Option<RequestBody>,
}

/// What an invocation hands JS besides what its record keeps.
enum Payload {
    /// A request's headers and body.
    Request(http::HeaderMap, Option<RequestBody>),
    /// An RPC call: its arguments, the streams among them, and where calls
    /// of the stubs among them go.
    Rpc(Box<RpcCall>),
    /// A queue batch's messages.
    Queue(Vec<crate::queues::DeliveredMessage>),
    None,
}

/// A request body streamed from the network side: chunks, or an error
/// message if the client's upload failed.
pub type RequestBody = mpsc::Receiver<Result<Bytes, String>>;
/// The sending end of a [`RequestBody`].
pub type BodySender = mpsc::Sender<Result<Bytes, String>>;

/// Invocations waiting for an isolate's JS to pick them up.
#[derive(Clone)]
pub struct InvocationInbox(Rc<Inbox>);

struct Inbox {
    requests: RefCell<mpsc::UnboundedReceiver<Invocation>>,
    /// The invocation whose arrival `op_ridge_invocation_arrival` reported.
    arrived: RefCell<Option<Invocation>>,
    /// Where each request's header block is written for JS.
    scratch: RefCell<Vec<u8>>,
}

impl InvocationInbox {
    pub fn new(receiver: mpsc::UnboundedReceiver<Invocation>) -> Self {
        Self(Rc::new(Inbox {
            requests: RefCell::new(receiver),
            arrived: RefCell::new(None),
            scratch: RefCell::default(),
        }))
    }

    /// The next invocation, if one is waiting.
    fn take(&self) -> Option<Invocation> {
        if let Some(head) = self.0.arrived.borrow_mut().take() {
            return Some(head);
        }
        self.0.requests.borrow_mut().try_recv().ok()
    }

    /// Waits until a request is waiting (true), or the inbox is closed.
    async fn arrival(&self) -> bool {
        if self.0.arrived.borrow().is_some() {
            return true;
        }
        let head = std::future::poll_fn(|cx| self.0.requests.borrow_mut().poll_recv(cx)).await;
        let arrived = head.is_some();
        *self.0.arrived.borrow_mut() = head;
        arrived
    }

    /// Answers every request still waiting in the inbox and closes it: used
    /// when the isolate could not start.
    pub fn fail_waiting(&self, reply: impl Fn() -> WorkerReply) {
        if let Some(head) = self.0.arrived.borrow_mut().take() {
            let _ = head.reply.send(reply());
        }
        let mut receiver = self.0.requests.borrow_mut();
        receiver.close();
        while let Ok(head) = receiver.try_recv() {
            let _ = head.reply.send(reply());
        }
    }
}

/// What a worker made of an invocation.
#[derive(Debug)]
pub enum WorkerReply {
    /// The fetch handler's Response.
    Response(WorkerResponse),
    /// A handler of another event (`scheduled`) finished.
    Done,
    /// The worker threw or returned something that is not a Response; the
    /// message includes the stack trace when there is one.
    Error(String),
    /// Not run: the version's isolate failed to start a moment ago and is
    /// backed off; the message is that start error (logged then, not again
    /// for every request).
    NotStarted(String),
    /// The worker was stopped for exceeding a limit.
    LimitExceeded(LimitExceeded),
    /// The worker accepted a WebSocket (a 101 with a `webSocket`).
    WebSocket(super::websocket::WebSocketReply),
    /// An RPC method returned or threw.
    Rpc(RpcResult),
}

#[derive(Debug)]
pub struct WorkerResponse {
    pub status: u16,
    pub status_text: String,
    pub headers: http::HeaderMap,
    pub body: ResponseBody,
}

#[derive(Debug)]
pub enum ResponseBody {
    Empty,
    Full(Bytes),
    /// Chunks as the worker produces them, then an empty chunk marking the
    /// end. `Err`, or a channel closed without the end marker, means the
    /// stream failed midway and the response must not look complete.
    Stream(mpsc::Receiver<Result<Bytes, String>>),
}

/// What is known of an invocation an isolate is handling, for the CPU
/// limit and for the one log record each invocation produces, and where its
/// answer goes.
#[derive(Debug)]
pub struct InvocationRecord {
    pub request_id: u64,
    pub route: Arc<str>,
    pub trigger: Trigger,
    pub started: std::time::Instant,
    /// The response status, once a fetch handler answered.
    pub status: Option<u16>,
    pub outcome: Outcome,
    /// CPU time charged to it so far.
    pub cpu: std::time::Duration,
    /// Outbound fetches it made.
    pub subrequests: u32,
    /// KV operations it made.
    pub kv_operations: u32,
    /// Console output, kept only while someone tails the worker.
    pub console: Vec<ConsoleLine>,
    /// What it logged, against its caps.
    pub logged: LogCount,
    /// Uncaught exceptions, with their stack traces.
    pub exceptions: Vec<String>,
    /// Its trace, with the child spans its worker opened, when traced.
    pub trace: Option<Box<TraceContext>>,
    /// How deep in a chain of service-binding calls (0: a client's).
    pub depth: u32,
    /// The worker that called it over a service binding.
    pub caller: Option<String>,
    /// The calling binding's `props` (JSON text): `ctx.props`.
    props: Option<String>,
    /// Response sent and `waitUntil` work settled.
    done: bool,
    /// Where the answer goes, until it is sent.
    reply: Option<oneshot::Sender<WorkerReply>>,
    /// Where a streamed body goes, until `op_ridge_pipe_response_body`
    /// takes it.
    stream: Option<mpsc::Sender<Result<Bytes, String>>>,
}

/// What started an invocation, as its record keeps it (the request's body
/// and headers are the worker's by then).
#[derive(Debug)]
pub enum Trigger {
    Fetch {
        method: http::Method,
        url: String,
    },
    Scheduled(ScheduledEvent),
    Rpc {
        entrypoint: Option<String>,
        method: String,
        /// The Durable Object called, when the call is to one.
        object: Option<ObjectAddress>,
    },
    Alarm(AlarmEvent),
    WebSocket(WebSocketEvent),
    /// A queue batch: its queue, its size, and where the handler's
    /// verdicts go.
    Queue {
        queue: String,
        size: usize,
        verdicts: std::sync::Arc<std::sync::Mutex<ridge_core::queue::BatchVerdicts>>,
    },
}

impl InvocationRecord {
    pub fn event(&self) -> EventKind {
        match self.trigger {
            Trigger::Fetch { .. } => EventKind::Fetch,
            Trigger::Scheduled(_) => EventKind::Scheduled,
            Trigger::Rpc { .. } => EventKind::Rpc,
            Trigger::Alarm(_) => EventKind::Alarm,
            Trigger::WebSocket(_) => EventKind::WebSocket,
            Trigger::Queue { .. } => EventKind::Queue,
        }
    }

    /// Sends the answer, unless one was sent already.
    pub(crate) fn send(&mut self, reply: WorkerReply) {
        if let Some(sender) = self.reply.take() {
            // The client may have gone away already; nothing to do then.
            let _ = sender.send(reply);
        }
    }

    /// Ends the invocation from outside its handler (a limit, a failed
    /// isolate): answers with `reply` unless it was answered, records
    /// `outcome`, and gives a fetch that had no response yet the status its
    /// client got (503 for a limit, 500 otherwise).
    fn stop(&mut self, outcome: Outcome, reply: WorkerReply) {
        self.send(reply);
        self.outcome = outcome;
        if self.event() == EventKind::Fetch && self.status.is_none() {
            self.status = Some(match outcome {
                Outcome::Exceeded(_) => 503,
                _ => 500,
            });
        }
    }
}

/// A console line a worker wrote while handling a request.
#[derive(Clone, Debug)]
pub struct ConsoleLine {
    /// deno_web's console level: 0 debug, 1 log/info, 2 warn, 3 error.
    pub level: u32,
    pub message: String,
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
}

/// Console lines one request may log (and keep for the live tail): a
/// worker that logs in a loop must not flood the log or grow its record.
pub const MAX_CONSOLE_LINES: usize = 512;
/// Console bytes one request may log (and keep for the live tail).
pub const MAX_CONSOLE_BYTES: usize = 256 * 1024;

/// Console output of one request, counted against its caps.
#[derive(Debug, Default)]
pub struct LogCount {
    pub lines: usize,
    pub bytes: usize,
    /// Whether a line was refused.
    pub refused: bool,
}

/// Whether a request may log one more line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admitted {
    Yes,
    /// No: the first line over the request's cap.
    FirstRefused,
    /// No, and it was refused lines before.
    Refused,
}

/// The requests an isolate is handling, by the id JS knows them by (`rid`),
/// with the CPU time charged to each, so the CPU limit applies per request
/// (see `isolate/limits.rs`). A hash map: it keeps its capacity as requests
/// come and go.
#[derive(Clone, Default)]
pub struct CpuLedger(Rc<RefCell<Requests>>);

#[derive(Default)]
struct Requests {
    last_rid: ResourceId,
    open: foldhash::HashMap<ResourceId, InvocationRecord>,
    /// CPU used while no invocation was open (timers left running after a
    /// response, WebSocket handlers), since the last invocation or
    /// WebSocket message arrived: bounded by one invocation's budget, so
    /// that work nobody waits for cannot run on unbounded.
    unclaimed: std::time::Duration,
}

impl CpuLedger {
    /// Opens the record of an invocation taken by JS; returns its `rid`,
    /// and what goes on to JS (a request's headers and body, an RPC
    /// call's arguments).
    fn open(&self, invocation: Invocation) -> (ResourceId, Payload) {
        let Invocation {
            request_id,
            route,
            event,
            received,
            reply,
            trace,
            caller,
        } = invocation;
        let (trigger, parts) = match event {
            Event::Fetch(request) => (
                Trigger::Fetch {
                    method: request.method,
                    url: request.url,
                },
                Payload::Request(request.headers, request.body),
            ),
            Event::Scheduled(event) => (Trigger::Scheduled(event), Payload::None),
            Event::Alarm(event) => (Trigger::Alarm(event), Payload::None),
            Event::WebSocket(event) => (Trigger::WebSocket(event), Payload::None),
            Event::Queue(batch) => (
                Trigger::Queue {
                    queue: batch.queue,
                    size: batch.messages.len(),
                    verdicts: batch.verdicts,
                },
                Payload::Queue(batch.messages),
            ),
            Event::Rpc(call) => (
                Trigger::Rpc {
                    entrypoint: call.entrypoint.clone(),
                    method: call.method.clone(),
                    object: call.object.clone(),
                },
                Payload::Rpc(call),
            ),
        };
        let mut requests = self.0.borrow_mut();
        requests.unclaimed = std::time::Duration::ZERO;
        requests.last_rid = requests.last_rid.wrapping_add(1);
        let rid = requests.last_rid;
        requests.open.insert(
            rid,
            InvocationRecord {
                request_id,
                route,
                trigger,
                started: received,
                status: None,
                outcome: Outcome::Ok,
                cpu: std::time::Duration::ZERO,
                subrequests: 0,
                kv_operations: 0,
                console: Vec::new(),
                logged: LogCount::default(),
                exceptions: Vec::new(),
                trace,
                depth: caller.as_ref().map_or(0, |caller| caller.depth),
                props: caller.as_ref().and_then(|caller| caller.props.clone()),
                caller: caller.map(|caller| caller.worker),
                done: false,
                reply: Some(reply),
                stream: None,
            },
        );
        (rid, parts)
    }

    /// Opens the record of an invocation the isolate starts itself (one
    /// without a payload); returns its `rid`.
    pub(crate) fn open_here(&self, invocation: Invocation) -> ResourceId {
        self.open(invocation).0
    }

    /// How deep request `rid` is in a chain of service-binding calls,
    /// while it is open.
    pub fn depth(&self, rid: ResourceId) -> Option<u32> {
        self.0.borrow().open.get(&rid).map(|r| r.depth)
    }

    /// The `props` (JSON text) of the binding request `rid` came through.
    pub fn props(&self, rid: ResourceId) -> Option<String> {
        self.0.borrow().open.get(&rid)?.props.clone()
    }

    /// The node-wide id of request `rid`, while it is open.
    pub fn request_id(&self, rid: ResourceId) -> Option<u64> {
        self.0.borrow().open.get(&rid).map(|r| r.request_id)
    }

    /// Counts a console line of `bytes` against request `rid`'s caps.
    pub fn admit_log(&self, rid: ResourceId, bytes: usize) -> Admitted {
        let mut admitted = Admitted::Yes;
        self.update(rid, |record| {
            let over = record.logged.lines >= MAX_CONSOLE_LINES
                || record.logged.bytes.saturating_add(bytes) > MAX_CONSOLE_BYTES;
            if over {
                admitted = if record.logged.refused {
                    Admitted::Refused
                } else {
                    Admitted::FirstRefused
                };
                record.logged.refused = true;
            } else {
                record.logged.lines += 1;
                record.logged.bytes += bytes;
            }
        });
        admitted
    }

    /// Keeps a console line of a request for the live tail (lines were
    /// counted against the request's caps by [`CpuLedger::admit_log`]).
    pub fn note_console(&self, rid: ResourceId, line: ConsoleLine) {
        self.update(rid, |record| record.console.push(line));
    }

    /// Counts one more of what `counter` picks in request `rid`'s record;
    /// returns whether that is more than `limit`. A request whose handler
    /// is done counts nothing: its count is final.
    fn count_over(
        &self,
        rid: ResourceId,
        limit: u32,
        counter: impl FnOnce(&mut InvocationRecord) -> &mut u32,
    ) -> bool {
        let mut over = false;
        self.update(rid, |record| {
            if !record.done {
                let count = counter(record);
                *count += 1;
                over = *count > limit;
            }
        });
        over
    }

    /// Whether request `rid` is still open (not yet taken out as done).
    pub fn is_open(&self, rid: ResourceId) -> bool {
        self.0.borrow().open.contains_key(&rid)
    }

    pub(super) fn update(&self, rid: ResourceId, change: impl FnOnce(&mut InvocationRecord)) {
        if let Some(record) = self.0.borrow_mut().open.get_mut(&rid) {
            change(record);
        }
    }

    /// Changes the trace of request `rid`, if it is traced. Unsampled
    /// requests keep their spans too, so that subrequests propagate the
    /// caller's decision; they are just not exported.
    pub(super) fn update_trace(&self, rid: ResourceId, change: impl FnOnce(&mut TraceContext)) {
        self.update(rid, |record| {
            if let Some(trace) = record.trace.as_mut() {
                change(trace);
            }
        });
    }

    /// The request is finished; it leaves the ledger after the turn of the
    /// event loop it finished in has been charged (see [`CpuLedger::take_done`]).
    fn close(&self, rid: ResourceId) {
        self.update(rid, |record| record.done = true);
    }

    /// The CPU time the next turn of the event loop may use: what is left of
    /// the most charged request's budget, or of the budget for work no
    /// invocation claims when none is open.
    pub fn smallest_remaining(&self, limit: std::time::Duration) -> std::time::Duration {
        let requests = self.0.borrow();
        let most_charged = requests
            .open
            .values()
            .map(|r| r.cpu)
            .max()
            .unwrap_or(requests.unclaimed);
        limit.saturating_sub(most_charged)
    }

    /// Splits `used` between the requests of this turn (or charges it as
    /// unclaimed work when none is open); returns whether a budget is now
    /// spent.
    pub fn charge(&self, used: std::time::Duration, limit: std::time::Duration) -> bool {
        let requests = &mut *self.0.borrow_mut();
        if requests.open.is_empty() {
            requests.unclaimed += used;
            return requests.unclaimed >= limit;
        }
        let share = used / requests.open.len() as u32;
        let mut exhausted = false;
        for record in requests.open.values_mut() {
            record.cpu += share;
            exhausted |= record.cpu >= limit && !record.done;
        }
        exhausted
    }

    /// A WebSocket message arrived: the handler it wakes gets a whole
    /// budget, as an invocation would.
    pub fn message_arrived(&self) {
        self.0.borrow_mut().unclaimed = std::time::Duration::ZERO;
    }

    /// Removes and returns the requests that finished.
    pub fn take_done(&self) -> Vec<InvocationRecord> {
        self.0
            .borrow_mut()
            .open
            .extract_if(|_, record| record.done)
            .map(|(_, record)| record)
            .collect()
    }

    /// Answers the requests still unanswered `limit` after they arrived
    /// with `reply` and ends them, marked with `outcome` (a handler whose
    /// promise never settles must not keep its record, and its isolate,
    /// forever); returns when the next unanswered one runs out of time. An
    /// answered request's `waitUntil` work has its own bound
    /// (js/http/10_worker.js), and a streamed body is the client's to wait for.
    pub fn expire_unanswered(
        &self,
        limit: std::time::Duration,
        outcome: Outcome,
        reply: impl Fn() -> WorkerReply,
    ) -> Option<std::time::Instant> {
        let mut requests = self.0.borrow_mut();
        let mut unanswered = requests
            .open
            .values_mut()
            .filter(|record| record.reply.is_some())
            .peekable();
        unanswered.peek()?;
        let now = std::time::Instant::now();
        let mut next_deadline = None;
        for record in unanswered {
            let deadline = record.started + limit;
            if deadline <= now {
                record.stop(outcome, reply());
                record.done = true;
            } else if next_deadline.is_none_or(|next| deadline < next) {
                next_deadline = Some(deadline);
            }
        }
        next_deadline
    }

    /// Requests in flight.
    pub fn in_flight_count(&self) -> usize {
        self.0.borrow().open.values().filter(|r| !r.done).count()
    }

    /// Answers every unfinished request with `reply`, and takes its record
    /// out, marked with `outcome`.
    pub fn fail_in_flight(
        &self,
        outcome: Outcome,
        reply: impl Fn() -> WorkerReply,
    ) -> Vec<InvocationRecord> {
        self.0
            .borrow_mut()
            .open
            .extract_if(|_, record| !record.done)
            .map(|(_, mut record)| {
                record.stop(outcome, reply());
                record
            })
            .collect()
    }
}

/// The time `Date.now()` reports: set by the isolate before each turn of its
/// event loop, in milliseconds since the epoch.
#[derive(Clone)]
pub struct FrozenClock(pub Rc<std::cell::Cell<f64>>);

#[op2(fast)]
pub fn op_ridge_now(state: &OpState) -> f64 {
    state.borrow::<FrozenClock>().0.get()
}

/// Adds a body arriving in chunks (a request's, or an asset's) to the
/// resource table, for `readableStreamForRid`.
pub(crate) fn add_body_resource(state: &mut OpState, chunks: RequestBody) -> ResourceId {
    state.resource_table.add(RequestBodyResource {
        chunks: AsyncRefCell::new(chunks),
        leftover: RefCell::new(Bytes::new()),
        cancel: CancelHandle::new(),
    })
}

/// A request body as a deno_core resource, read by `readableStreamForRid`.
struct RequestBodyResource {
    chunks: AsyncRefCell<RequestBody>,
    /// Part of a chunk larger than the reader asked for.
    leftover: RefCell<Bytes>,
    cancel: CancelHandle,
}

impl RequestBodyResource {
    async fn next_chunk(self: Rc<Self>, limit: usize) -> Result<BufView, JsErrorBox> {
        let mut chunk = std::mem::take(&mut *self.leftover.borrow_mut());
        if chunk.is_empty() {
            let mut chunks = RcRef::map(&self, |r| &r.chunks).borrow_mut().await;
            let cancel = RcRef::map(&self, |r| &r.cancel);
            match deno_core::CancelFuture::or_cancel(chunks.recv(), cancel).await {
                Ok(Some(Ok(bytes))) => chunk = bytes,
                Ok(Some(Err(message))) => return Err(JsErrorBox::type_error(message)),
                Ok(None) | Err(_) => return Ok(BufView::empty()),
            }
        }
        if chunk.len() > limit {
            *self.leftover.borrow_mut() = chunk.split_off(limit);
        }
        Ok(BufView::from(chunk))
    }
}

impl Resource for RequestBodyResource {
    fn name(&self) -> Cow<'_, str> {
        "ridgeRequestBody".into()
    }

    fn read(self: Rc<Self>, limit: usize) -> AsyncResult<BufView> {
        Box::pin(self.next_chunk(limit))
    }

    fn close(self: Rc<Self>) {
        self.cancel.cancel();
    }
}

/// Takes the next waiting invocation (see `wire.rs` for its shape per
/// event), or `null` when none is waiting (`op_ridge_invocation_arrival`
/// then tells when one is). Synchronous, so that a burst of requests costs
/// no promise per request.
#[op2]
pub fn op_ridge_take_invocation<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    state: Rc<RefCell<OpState>>,
) -> Result<v8::Local<'s, v8::Value>, JsErrorBox> {
    let mut state = state.borrow_mut();
    let inbox = state.borrow::<InvocationInbox>().clone();
    let Some(invocation) = inbox.take() else {
        return Ok(v8::null(scope).into());
    };
    let (rid, payload) = state.borrow::<CpuLedger>().open(invocation);
    let (headers, body_rid) = match payload {
        Payload::Request(headers, body) => {
            let body_rid = body.map(|chunks| add_body_resource(&mut state, chunks));
            (headers, body_rid)
        }
        Payload::Rpc(call) => return incoming_rpc(&mut state, rid, *call).to_v8(scope),
        Payload::Queue(messages) => {
            let requests = state.borrow::<CpuLedger>().0.borrow();
            let Trigger::Queue { queue, .. } = &requests.open[&rid].trigger else {
                unreachable!("a queue batch's payload is Payload::Queue")
            };
            return IncomingQueue {
                rid,
                queue,
                messages,
            }
            .to_v8(scope);
        }
        Payload::None => (http::HeaderMap::new(), None),
    };
    let requests = state.borrow::<CpuLedger>().0.borrow();
    match &requests.open[&rid].trigger {
        Trigger::Fetch { method, url } => IncomingRequest {
            rid,
            method: method.as_str(),
            url,
            headers,
            body_rid,
            scratch: &mut inbox.0.scratch.borrow_mut(),
        }
        .to_v8(scope),
        Trigger::Scheduled(event) => IncomingScheduled { rid, event }.to_v8(scope),
        Trigger::Alarm(event) => IncomingAlarm { rid, event }.to_v8(scope),
        Trigger::WebSocket(_) => unreachable!("opened by the isolate, never sent to it"),
        Trigger::Queue { .. } => unreachable!("a queue batch's payload is Payload::Queue"),
        Trigger::Rpc { .. } => unreachable!("an RPC call's payload is Payload::Rpc"),
    }
}

/// RPC call `rid` as JS takes it, with resources for its streams and
/// stubs: the caller's stubs among the arguments are closed when the call
/// returns (by JS), or at the latest when its invocation ends, and so are
/// the writable streams.
fn incoming_rpc(state: &mut OpState, rid: ResourceId, call: RpcCall) -> IncomingRpc {
    let streams = call
        .streams
        .into_iter()
        .map(|chunks| add_body_resource(state, chunks))
        .collect();
    let stubs = state.resource_table.add(RemoteStubs::new(call.stubs));
    crate::owned::adopt(state, rid, stubs);
    let writables = call
        .writables
        .into_iter()
        .map(|sender| {
            let sink = state.resource_table.add(WritableSink::new(sender));
            crate::owned::adopt(state, rid, sink);
            sink
        })
        .collect();
    IncomingRpc {
        rid,
        object: call.object,
        entrypoint: call.entrypoint,
        method: call.method,
        args: call.args,
        streams,
        stubs,
        writables,
    }
}

/// `ctx.props` of request `rid`: the `props` (JSON text) of the service
/// binding it came through, if any.
#[op2]
#[string]
pub fn op_ridge_invocation_props(state: &OpState, #[smi] rid: ResourceId) -> Option<String> {
    state.borrow::<CpuLedger>().props(rid)
}

/// Resolves to true once an invocation is waiting, or to false when the
/// isolate is shutting down.
#[op2]
pub async fn op_ridge_invocation_arrival(state: Rc<RefCell<OpState>>) -> bool {
    let inbox = state.borrow().borrow::<InvocationInbox>().clone();
    inbox.arrival().await
}

/// Sends the response head, with the whole body, or with a streamed body
/// when `streamed` is true (then `op_ridge_pipe_response_body` follows).
/// With `finished`, the request is over too (as if
/// `op_ridge_wait_until_settled` followed): no `waitUntil` work is pending.
#[op2]
#[allow(clippy::too_many_arguments)]
pub fn op_ridge_respond(
    state: &OpState,
    #[smi] rid: ResourceId,
    #[smi] status: u16,
    #[string] status_text: String,
    #[scoped] headers: ResponseHeaders,
    #[scoped] body: Option<ResponseBytes>,
    streamed: bool,
    finished: bool,
) {
    state.borrow::<CpuLedger>().update(rid, |record| {
        record.status = Some(status);
        // A streamed body is not over yet (`op_ridge_pipe_response_body`).
        record.done = finished && !streamed;
        let body = if streamed {
            let (sender, receiver) = mpsc::channel(RESPONSE_CHUNKS_IN_FLIGHT);
            record.stream = Some(sender);
            ResponseBody::Stream(receiver)
        } else {
            match body {
                None => ResponseBody::Empty,
                Some(ResponseBytes(bytes)) => ResponseBody::Full(bytes),
            }
        };
        record.send(WorkerReply::Response(WorkerResponse {
            status,
            status_text,
            headers: headers.0,
            body,
        }));
    });
}

#[op2(fast)]
pub fn op_ridge_respond_error(state: &OpState, #[smi] rid: ResourceId, #[string] message: String) {
    state.borrow::<CpuLedger>().update(rid, |record| {
        record.send(WorkerReply::Error(message.clone()));
        if record.event() == EventKind::Fetch {
            record.status = Some(500);
        }
        record.outcome = Outcome::Exception;
        record.exceptions.push(message);
    });
}

/// The handler of a non-fetch event (`scheduled`) finished; with
/// `finished`, the invocation is over too (no `waitUntil` work is pending).
#[op2(fast)]
pub fn op_ridge_event_done(state: &OpState, #[smi] rid: ResourceId, finished: bool) {
    state.borrow::<CpuLedger>().update(rid, |record| {
        record.send(WorkerReply::Done);
        if finished {
            record.done = true;
        }
    });
}

/// Copies a worker's response stream (a `resourceForReadableStream`
/// resource) to the client. Stops early, cancelling the worker's stream,
/// when the client goes away.
#[op2]
pub async fn op_ridge_pipe_response_body(
    state: Rc<RefCell<OpState>>,
    #[smi] rid: ResourceId,
    #[smi] stream_rid: ResourceId,
) -> Result<(), deno_core::error::ResourceError> {
    let (sink, source) = {
        let state = state.borrow();
        let mut sink = None;
        state
            .borrow::<CpuLedger>()
            .update(rid, |record| sink = record.stream.take());
        (sink, state.resource_table.get_any(stream_rid)?)
    };
    let Some(sink) = sink else {
        return Ok(());
    };
    loop {
        let chunk = tokio::select! {
          chunk = source.clone().read(RESPONSE_READ_SIZE) => chunk,
          _ = sink.closed() => break,
        };
        match chunk {
            Ok(view) if view.is_empty() => {
                let _ = sink.send(Ok(Bytes::new())).await;
                break;
            }
            Ok(view) => {
                if sink.send(Ok(Bytes::copy_from_slice(&view))).await.is_err() {
                    break;
                }
            }
            Err(error) => {
                tracing::warn!(target: "worker", %error, "the worker's response stream failed");
                let _ = sink.send(Err(error.to_string())).await;
                break;
            }
        }
    }
    // Closing the resource cancels the JS stream if it was not finished.
    if let Ok(resource) = state.borrow_mut().resource_table.take_any(stream_rid) {
        resource.close();
    }
    Ok(())
}

/// The response is out and every `ctx.waitUntil` promise settled: the
/// request is done and no longer charged for CPU time.
#[op2(fast)]
pub fn op_ridge_wait_until_settled(state: &OpState, #[smi] rid: ResourceId) {
    state.borrow::<CpuLedger>().close(rid);
}

/// KV operations one invocation may make, as on Cloudflare.
pub const MAX_KV_OPERATIONS: u32 = 1000;

/// Counts a KV operation of request `rid`, and refuses the one past
/// [`MAX_KV_OPERATIONS`] with Cloudflare's message.
#[op2(fast)]
pub fn op_ridge_count_kv_operation(
    state: &mut OpState,
    #[smi] rid: ResourceId,
) -> Result<(), JsErrorBox> {
    let ledger = state.borrow::<CpuLedger>();
    if ledger.count_over(rid, MAX_KV_OPERATIONS, |record| &mut record.kv_operations) {
        return Err(JsErrorBox::generic(format!(
            "Too many API requests by single worker invocation: a worker may make at most {MAX_KV_OPERATIONS} KV operations per request"
        )));
    }
    Ok(())
}

/// Outbound fetches an invocation may make (`limits.subrequests`).
pub struct SubrequestLimit(pub u32);

/// Counts an outbound fetch of request `rid`, and refuses it (the error
/// names the limit) when it is one more than the worker's limit allows. A
/// request that is over counts nothing: its count is final.
#[op2(fast)]
pub fn op_ridge_count_subrequest(
    state: &mut OpState,
    #[smi] rid: ResourceId,
) -> Result<(), JsErrorBox> {
    let limit = state
        .try_borrow::<SubrequestLimit>()
        .map_or(ridge_core::Limits::default().subrequests, |limit| limit.0);
    let ledger = state.borrow::<CpuLedger>();
    if ledger.count_over(rid, limit, |record| &mut record.subrequests) {
        return Err(JsErrorBox::generic(format!(
            "Too many subrequests: a worker may call fetch() at most {limit} times per request"
        )));
    }
    Ok(())
}
