//! RPC stubs: functions and `RpcTarget`s that cross an RPC call as stubs
//! (js/service/08_service.js). The side that owns the objects runs a
//! [`StubServer`]; the other side holds a [`RemoteStubs`] resource whose
//! calls reach it. Stubs among a call's arguments live while the call
//! lasts; stubs among its result live until the caller disposes of them
//! or its request ends, and keep the callee's invocation open until then.
//! A `WritableStream` among the arguments crosses as a [`WritableSink`]:
//! what the callee writes to it streams back into the caller's stream.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use bytes::Bytes;
use deno_core::op2;
use deno_core::AsyncRefCell;
use deno_core::CancelFuture;
use deno_core::CancelHandle;
use deno_core::JsBuffer;
use deno_core::OpState;
use deno_core::RcRef;
use deno_core::Resource;
use deno_core::ResourceId;
use deno_core::ToJsBuffer;
use deno_error::JsErrorBox;
use tokio::sync::{mpsc, oneshot};

use crate::http::{add_body_resource, BodySender, RequestBody};
use crate::websocket::WebSocketReply;

/// What an RPC call (or a call of a stub) returned, or what it threw;
/// V8-serialized by the side that ran it.
#[derive(Debug)]
pub enum RpcResult {
    Value {
        bytes: Vec<u8>,
        /// The `ReadableStream`s among the value, streamed as read.
        streams: Vec<RequestBody>,
        /// Where calls of the stubs among the value go, when it has any.
        stubs: Option<StubSender>,
        /// The WebSockets among the value (client ends, in 101 responses).
        sockets: Vec<WebSocketReply>,
    },
    Thrown(Vec<u8>),
}

impl RpcResult {
    /// A plain value: no streams, no stubs.
    pub fn plain(bytes: Vec<u8>) -> Self {
        Self::Value {
            bytes,
            streams: Vec::new(),
            stubs: None,
            sockets: Vec::new(),
        }
    }
}

/// A message to the side whose objects some stubs stand for.
#[derive(Debug)]
pub enum StubMessage {
    /// A call of stub `stub`: method `method` of it (`None`: the function
    /// itself), with `args` (an array, V8-serialized; `null`: a read of
    /// the property `method`).
    Call {
        stub: u32,
        method: Option<String>,
        args: Vec<u8>,
        reply: oneshot::Sender<RpcResult>,
    },
    /// The other side disposed of its stub `stub`.
    Dispose(u32),
}

/// Where calls of some stubs go. Once every sender is gone (the stubs
/// disposed of, the call or request that held them over), the owning
/// side's [`StubServer`] ends.
pub type StubSender = mpsc::UnboundedSender<StubMessage>;

/// The side that owns stubs' objects: the calls waiting to be run, and
/// where the answers of those being run go, by number.
pub struct StubServer {
    calls: AsyncRefCell<mpsc::UnboundedReceiver<StubMessage>>,
    /// Cancelled when the server is closed (its request ended).
    closed: CancelHandle,
    waiting: RefCell<HashMap<u32, oneshot::Sender<RpcResult>>>,
    next: Cell<u32>,
}

/// A message as JS gets it: `[number, stub, method, args]` for a call
/// (answered by number with `op_ridge_rpc_answer`), `[-1, stub, null,
/// empty]` for a disposal.
pub type ServedMessage = (i64, u32, Option<String>, ToJsBuffer);

impl StubServer {
    pub fn new() -> (StubSender, Self) {
        let (sender, calls) = mpsc::unbounded_channel();
        let server = Self {
            calls: AsyncRefCell::new(calls),
            closed: CancelHandle::new(),
            waiting: RefCell::default(),
            next: Cell::new(0),
        };
        (sender, server)
    }

    /// The next message, or `None` once no stub is left or the server is
    /// closed.
    pub async fn next(self: &Rc<Self>) -> Option<ServedMessage> {
        let mut calls = RcRef::map(self, |s| &s.calls).borrow_mut().await;
        let closed = RcRef::map(self, |s| &s.closed);
        let message = calls.recv().or_cancel(closed).await.ok()??;
        Some(match message {
            StubMessage::Call {
                stub,
                method,
                args,
                reply,
            } => {
                let number = self.next.get();
                self.next.set(number.wrapping_add(1));
                self.waiting.borrow_mut().insert(number, reply);
                (i64::from(number), stub, method, args.into())
            }
            StubMessage::Dispose(stub) => (-1, stub, None, Vec::new().into()),
        })
    }

    fn answer(&self, number: u32, thrown: bool, value: &[u8]) {
        let reply = self.waiting.borrow_mut().remove(&number);
        if let Some(reply) = reply {
            let value = value.to_vec();
            let _ = reply.send(if thrown {
                RpcResult::Thrown(value)
            } else {
                RpcResult::plain(value)
            });
        }
    }
}

impl Resource for StubServer {
    fn name(&self) -> Cow<'_, str> {
        "ridgeRpcStubServer".into()
    }

    fn close(self: Rc<Self>) {
        self.closed.cancel();
    }
}

/// Stubs of the other side's objects: calls of them go through `sender`.
pub struct RemoteStubs {
    sender: StubSender,
}

impl RemoteStubs {
    pub fn new(sender: StubSender) -> Self {
        Self { sender }
    }
}

impl Resource for RemoteStubs {
    fn name(&self) -> Cow<'_, str> {
        "ridgeRpcStubs".into()
    }
}

/// The next message for stub server `server` (see [`ServedMessage`]), or
/// `null` once every stub it serves is gone.
#[op2]
#[serde]
pub async fn op_ridge_rpc_serve_next(
    state: Rc<RefCell<OpState>>,
    #[smi] server: ResourceId,
) -> Result<Option<ServedMessage>, JsErrorBox> {
    let server = state
        .borrow()
        .resource_table
        .get::<StubServer>(server)
        .map_err(JsErrorBox::from_err)?;
    Ok(server.next().await)
}

/// Answers call `number` of the stubs that `server` (a stub server, or an
/// RPC call in flight) serves with `value` (`thrown`: what it threw),
/// V8-serialized. One whose caller is gone ignores it.
#[op2(fast)]
pub fn op_ridge_rpc_answer(
    state: &OpState,
    #[smi] server: ResourceId,
    #[smi] number: u32,
    thrown: bool,
    #[buffer] value: &[u8],
) {
    let table = &state.resource_table;
    if let Ok(server) = table.get::<StubServer>(server) {
        server.answer(number, thrown, value);
    } else if let Ok(call) = table.get::<crate::service::RpcCallResource>(server) {
        call.server().answer(number, thrown, value);
    }
}

fn disposed() -> JsErrorBox {
    JsErrorBox::generic("RPC stub used after being disposed.")
}

/// Calls stub `stub` of `stubs` (a [`RemoteStubs`] resource): its method
/// `method`, or the function itself, with `args` (an array,
/// V8-serialized; `null`: reads the property); resolves to `[thrown,
/// value]`, V8-serialized.
#[op2]
#[serde]
pub async fn op_ridge_rpc_stub_call(
    state: Rc<RefCell<OpState>>,
    #[smi] stubs: ResourceId,
    #[smi] stub: u32,
    #[string] method: Option<String>,
    #[buffer(copy)] args: Vec<u8>,
) -> Result<(bool, ToJsBuffer), JsErrorBox> {
    let stubs = state
        .borrow()
        .resource_table
        .get::<RemoteStubs>(stubs)
        .map_err(|_| disposed())?;
    let (reply, answer) = oneshot::channel();
    stubs
        .sender
        .send(StubMessage::Call {
            stub,
            method,
            args,
            reply,
        })
        .map_err(|_| disposed())?;
    drop(stubs);
    match answer.await.map_err(|_| disposed())? {
        RpcResult::Value { bytes, .. } => Ok((false, bytes.into())),
        RpcResult::Thrown(error) => Ok((true, error.into())),
    }
}

/// Tells the owner of stub `stub` of `stubs` that it was disposed of.
#[op2(fast)]
pub fn op_ridge_rpc_stub_dispose(state: &OpState, #[smi] stubs: ResourceId, #[smi] stub: u32) {
    if let Ok(stubs) = state.resource_table.get::<RemoteStubs>(stubs) {
        let _ = stubs.sender.send(StubMessage::Dispose(stub));
    }
}

/// Chunks in flight from a callee's writes to the caller's stream.
const WRITES_IN_FLIGHT: usize = 4;

/// The callee's end of a `WritableStream` the caller passed: each write
/// is a chunk the caller's side (a body resource piped into the stream)
/// reads. Closing it ends the stream.
pub struct WritableSink {
    sender: BodySender,
}

impl WritableSink {
    pub fn new(sender: BodySender) -> Self {
        Self { sender }
    }

    /// The sending end, taken from the table to travel with a call.
    pub fn take(state: &mut OpState, sink: ResourceId) -> Result<BodySender, JsErrorBox> {
        let sink = state
            .resource_table
            .take::<WritableSink>(sink)
            .map_err(JsErrorBox::from_err)?;
        Ok(sink.sender.clone())
    }
}

impl Resource for WritableSink {
    fn name(&self) -> Cow<'_, str> {
        "ridgeRpcWritableSink".into()
    }
}

/// A `WritableStream` about to be passed over RPC: `[body, sink]`, the
/// body resource the caller pipes into the stream and the sink that goes
/// with the call (`op_ridge_service_call` takes it).
#[op2]
#[serde]
pub fn op_ridge_rpc_writable(state: &mut OpState) -> (ResourceId, ResourceId) {
    let (sender, receiver) = mpsc::channel(WRITES_IN_FLIGHT);
    let body = add_body_resource(state, receiver);
    let sink = state.resource_table.add(WritableSink::new(sender));
    (body, sink)
}

fn sink_closed() -> JsErrorBox {
    JsErrorBox::type_error("The WritableStream's other end has gone away.")
}

/// Writes `chunk` to sink `sink`; resolves once the caller's side has room.
#[op2]
pub async fn op_ridge_rpc_sink_write(
    state: Rc<RefCell<OpState>>,
    #[smi] sink: ResourceId,
    #[buffer] chunk: JsBuffer,
) -> Result<(), JsErrorBox> {
    // An empty chunk would read as the end on the other side.
    if chunk.is_empty() {
        return Ok(());
    }
    let sender = state
        .borrow()
        .resource_table
        .get::<WritableSink>(sink)
        .map_err(|_| sink_closed())?
        .sender
        .clone();
    sender
        .send(Ok(Bytes::copy_from_slice(&chunk)))
        .await
        .map_err(|_| sink_closed())
}

/// Aborts sink `sink`: the caller's stream errors with `reason`.
#[op2(fast)]
pub fn op_ridge_rpc_sink_abort(
    state: &mut OpState,
    #[smi] sink: ResourceId,
    #[string] reason: &str,
) {
    if let Ok(sink) = state.resource_table.take::<WritableSink>(sink) {
        let _ = sink.sender.try_send(Err(reason.to_string()));
    }
}
