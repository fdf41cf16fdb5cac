//! The ops behind service bindings (`env.SVC.fetch`, `env.SVC.method()`,
//! see `js/service/08_service.js`): a request or an RPC call to another
//! worker of the node, handed to its isolate as an invocation of its own
//! (its limits, its log record naming the caller), never through a
//! listener. Request and response bodies stream; RPC arguments and results
//! cross V8-serialized. Which worker a binding names, and how the invocation reaches
//! it, belong to the [`ServiceHost`] the isolate is given (ridge-runtime's
//! `isolate/bindings/service.rs`).

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use bytes::Bytes;
use deno_core::op2;
use deno_core::AsyncRefCell;
use deno_core::ByteString;
use deno_core::OpState;
use deno_core::RcRef;
use deno_core::Resource;
use deno_core::ResourceId;
use deno_core::ToJsBuffer;
use deno_error::JsErrorBox;
use ridge_core::Outcome;
use tokio::sync::{mpsc, oneshot};

use crate::http::{
    add_body_resource, Callback, CpuLedger, Event, FetchRequest, RequestBody, ResponseBody,
    RpcCall, RpcResult, WorkerReply,
};

/// Nested service-binding calls a request may make, as on Cloudflare.
pub const MAX_DEPTH: u32 = 32;

/// Body chunks on their way between the two workers.
const CHUNKS_IN_FLIGHT: usize = 4;
/// Largest chunk read from the caller's request body at once.
const READ_SIZE: usize = 64 * 1024;

/// What service bindings need from the node.
pub trait ServiceHost {
    /// Hands `event` (a fetch, or an RPC call whose entrypoint the binding
    /// decides) to the worker that binding `binding` (its index in the
    /// caller's binding list) names, as call number `depth` of a chain;
    /// the receiver gets its answer. `Err` says why it could not be sent.
    fn invoke(
        &self,
        binding: u32,
        event: Event,
        depth: u32,
    ) -> Result<oneshot::Receiver<WorkerReply>, String>;
}

/// The service bindings of an isolate's version, when it has any.
pub struct ServiceBindings(pub Rc<dyn ServiceHost>);

/// A response as JS builds it: status, status text, headers, body rid.
type ServiceResponse = (
    u16,
    String,
    Vec<(ByteString, ByteString)>,
    Option<ResourceId>,
);

/// Sends a request (its body a `resourceForReadableStream` resource, or
/// -1) to binding `binding`'s worker on behalf of request `rid`; resolves
/// to its response, whose body streams on after.
#[op2]
#[serde]
#[allow(clippy::too_many_arguments)]
pub async fn op_ridge_service_fetch(
    state: Rc<RefCell<OpState>>,
    #[smi] rid: ResourceId,
    #[smi] binding: u32,
    #[string] method: String,
    #[string] url: String,
    #[serde] headers: Vec<(ByteString, ByteString)>,
    #[smi] body_rid: i32,
) -> Result<ServiceResponse, JsErrorBox> {
    let (host, depth) = caller(&state, rid)?;
    let method = http::Method::from_bytes(method.as_bytes())
        .map_err(|_| JsErrorBox::type_error(format!("invalid method {method:?}")))?;
    let mut header_map = http::HeaderMap::new();
    for (name, value) in headers {
        let name = http::HeaderName::from_bytes(&name)
            .map_err(|_| JsErrorBox::type_error("invalid header name"))?;
        let value = http::HeaderValue::from_bytes(&value)
            .map_err(|_| JsErrorBox::type_error("invalid header value"))?;
        header_map.append(name, value);
    }
    let body = match ResourceId::try_from(body_rid) {
        Ok(body_rid) => Some(pump_request_body(&state, body_rid)?),
        Err(_) => None,
    };
    let request = FetchRequest {
        method,
        url,
        headers: header_map,
        body,
    };
    let answer = host
        .invoke(binding, Event::Fetch(request), depth)
        .map_err(JsErrorBox::generic)?;
    let response = match answer.await {
        Ok(WorkerReply::Response(response)) => response,
        Ok(WorkerReply::WebSocket(_)) => {
            return Err(JsErrorBox::type_error(
                "the service answered with a WebSocket, which Ridge's service bindings do not carry yet",
            ))
        }
        Ok(WorkerReply::LimitExceeded(limit)) => {
            return Ok(failure(&state, 503, format!("The service exceeded its limits: {limit}")))
        }
        // As on Cloudflare: the caller sees a 500, not the callee's error,
        // which is logged here (the edge logs its own callers').
        Ok(WorkerReply::Error(message)) => {
            tracing::error!(target: "worker", binding, "the service threw: {message}");
            return Ok(failure(&state, 500, "Worker threw exception".into()));
        }
        Ok(_) | Err(_) => return Ok(failure(&state, 500, "Worker threw exception".into())),
    };
    let headers = response
        .headers
        .iter()
        .map(|(name, value)| (name.as_str().into(), value.as_bytes().into()))
        .collect();
    let body = match response.body {
        ResponseBody::Empty => None,
        ResponseBody::Full(bytes) => Some(single_chunk(bytes)),
        ResponseBody::Stream(chunks) => Some(until_end_marker(chunks)),
    };
    let body = body.map(|chunks| add_body_resource(&mut state.borrow_mut(), chunks));
    Ok((response.status, response.status_text, headers, body))
}

/// Starts a call of method `method` of binding `binding`'s entrypoint with
/// `args` (an array, V8-serialized; `streams` the resources of the
/// `ReadableStream`s among them) on behalf of request `rid` (whose span for
/// it is `traceparent`, or ""); returns the call, which `op_ridge_rpc_next`
/// follows.
#[op2]
#[smi]
#[allow(clippy::too_many_arguments)]
pub fn op_ridge_service_call(
    state: Rc<RefCell<OpState>>,
    #[smi] rid: ResourceId,
    #[smi] binding: u32,
    #[string] method: String,
    #[buffer(copy)] args: Vec<u8>,
    #[string] traceparent: String,
    #[serde] streams: Vec<ResourceId>,
) -> Result<ResourceId, JsErrorBox> {
    let (host, depth) = caller(&state, rid)?;
    let streams = streams
        .into_iter()
        .map(|stream| pump_request_body(&state, stream))
        .collect::<Result<_, _>>()?;
    let (callbacks, callbacks_in) = mpsc::unbounded_channel();
    let answer = host
        .invoke(
            binding,
            Event::Rpc(RpcCall {
                entrypoint: None,
                method,
                args,
                callbacks,
                traceparent: (!traceparent.is_empty()).then_some(traceparent),
                streams,
            }),
            depth,
        )
        .map_err(JsErrorBox::generic)?;
    Ok(state.borrow_mut().resource_table.add(RpcCallResource {
        answer: AsyncRefCell::new(answer),
        callbacks: AsyncRefCell::new(callbacks_in),
        waiting: RefCell::default(),
        next: Cell::new(0),
    }))
}

/// `op_ridge_rpc_next`'s answer.
type RpcStep = (
    u8,
    bool,
    u32,
    u32,
    Option<String>,
    ToJsBuffer,
    Vec<ResourceId>,
);

/// An RPC call in flight, on the caller's side.
struct RpcCallResource {
    answer: AsyncRefCell<oneshot::Receiver<WorkerReply>>,
    /// The callee's calls of the stubs among the arguments.
    callbacks: AsyncRefCell<mpsc::UnboundedReceiver<Callback>>,
    /// Where the answers of callbacks being run go, by number.
    waiting: RefCell<HashMap<u32, oneshot::Sender<RpcResult>>>,
    next: Cell<u32>,
}

impl Resource for RpcCallResource {
    fn name(&self) -> Cow<'_, str> {
        "ridgeRpcCall".into()
    }
}

/// What happens next in an RPC call: `[0, thrown, 0, 0, null, value,
/// streams]` when it returned or threw (the call is then over; `streams`
/// are the resources of the streams in the value), or `[1, false, number,
/// stub, method, args, []]` when the callee calls a stub the caller passed
/// (`op_ridge_rpc_callback_return` answers it by its number).
#[op2]
#[serde]
pub async fn op_ridge_rpc_next(
    state: Rc<RefCell<OpState>>,
    #[smi] call: ResourceId,
) -> Result<RpcStep, JsErrorBox> {
    let resource = state
        .borrow()
        .resource_table
        .get::<RpcCallResource>(call)
        .map_err(JsErrorBox::from_err)?;
    let reply = {
        let mut callbacks = RcRef::map(&resource, |r| &r.callbacks).borrow_mut().await;
        let mut answer = RcRef::map(&resource, |r| &r.answer).borrow_mut().await;
        tokio::select! {
            Some(callback) = callbacks.recv() => {
                let number = resource.next.get();
                resource.next.set(number.wrapping_add(1));
                resource.waiting.borrow_mut().insert(number, callback.reply);
                return Ok((1, false, number, callback.stub, callback.method, callback.args.into(), Vec::new()));
            }
            reply = &mut *answer => reply,
        }
    };
    drop(
        state
            .borrow_mut()
            .resource_table
            .take::<RpcCallResource>(call),
    );
    match reply {
        Ok(WorkerReply::Rpc(RpcResult::Value(value, streams))) => {
            let mut state = state.borrow_mut();
            let streams = streams
                .into_iter()
                .map(|chunks| add_body_resource(&mut state, chunks))
                .collect();
            Ok((0, false, 0, 0, None, value.into(), streams))
        }
        Ok(WorkerReply::Rpc(RpcResult::Thrown(error))) => {
            Ok((0, true, 0, 0, None, error.into(), Vec::new()))
        }
        Ok(WorkerReply::LimitExceeded(limit)) => Err(JsErrorBox::generic(format!(
            "The service exceeded its limits: {limit}"
        ))),
        Ok(WorkerReply::Error(message) | WorkerReply::NotStarted(message)) => {
            Err(JsErrorBox::generic(message))
        }
        Ok(_) | Err(_) => Err(JsErrorBox::generic(
            "The service stopped before its method returned",
        )),
    }
}

/// Answers callback `number` of RPC call `call` with `value` (`thrown`:
/// what it threw), V8-serialized. A call already over ignores it.
#[op2(fast)]
pub fn op_ridge_rpc_callback_return(
    state: &OpState,
    #[smi] call: ResourceId,
    #[smi] number: u32,
    thrown: bool,
    #[buffer] value: &[u8],
) {
    let Ok(resource) = state.resource_table.get::<RpcCallResource>(call) else {
        return;
    };
    let reply = resource.waiting.borrow_mut().remove(&number);
    if let Some(reply) = reply {
        let value = value.to_vec();
        let _ = reply.send(if thrown {
            RpcResult::Thrown(value)
        } else {
            RpcResult::Value(value, Vec::new())
        });
    }
}

/// An RPC method of request `rid` returned (`thrown`: threw) `value`,
/// V8-serialized, with the streams among it (`streams`, resources), which
/// stream on to the caller.
#[op2]
pub fn op_ridge_rpc_return(
    state: Rc<RefCell<OpState>>,
    #[smi] rid: ResourceId,
    thrown: bool,
    #[buffer] value: &[u8],
    #[serde] streams: Vec<ResourceId>,
) -> Result<(), JsErrorBox> {
    let streams = streams
        .into_iter()
        .map(|stream| pump_request_body(&state, stream))
        .collect::<Result<Vec<_>, _>>()?;
    let value = value.to_vec();
    state.borrow().borrow::<CpuLedger>().update(rid, |record| {
        if thrown {
            record.send(WorkerReply::Rpc(RpcResult::Thrown(value)));
            record.outcome = Outcome::Exception;
        } else {
            record.send(WorkerReply::Rpc(RpcResult::Value(value, streams)));
        }
    });
    Ok(())
}

/// Calls stub `stub` (method `method` of it, or the function itself) that
/// the caller of RPC call `rid` passed, with `args` (an array,
/// V8-serialized); resolves to `[thrown, value]`, V8-serialized.
#[op2]
#[serde]
pub async fn op_ridge_rpc_stub_call(
    state: Rc<RefCell<OpState>>,
    #[smi] rid: ResourceId,
    #[smi] stub: u32,
    #[string] method: Option<String>,
    #[buffer(copy)] args: Vec<u8>,
) -> Result<(bool, ToJsBuffer), JsErrorBox> {
    let ended = || JsErrorBox::generic("RPC stub used after the call that passed it ended");
    let callbacks = state
        .borrow()
        .borrow::<CpuLedger>()
        .callbacks(rid)
        .ok_or_else(ended)?;
    let (reply, answer) = oneshot::channel();
    callbacks
        .send(Callback {
            stub,
            method,
            args,
            reply,
        })
        .map_err(|_| ended())?;
    match answer.await.map_err(|_| ended())? {
        RpcResult::Value(value, _) => Ok((false, value.into())),
        RpcResult::Thrown(error) => Ok((true, error.into())),
    }
}

/// The calling request's service host and the depth its call would have;
/// refuses a call outside a request, from a worker without service
/// bindings, or one too deep.
fn caller(
    state: &Rc<RefCell<OpState>>,
    rid: ResourceId,
) -> Result<(Rc<dyn ServiceHost>, u32), JsErrorBox> {
    let state = state.borrow();
    let host = state
        .try_borrow::<ServiceBindings>()
        .map(|bindings| bindings.0.clone())
        .ok_or_else(|| JsErrorBox::type_error("this worker has no service bindings"))?;
    let depth = state.borrow::<CpuLedger>().depth(rid).ok_or_else(|| {
        JsErrorBox::type_error("a service binding can only be called while a request is handled")
    })? + 1;
    if depth > MAX_DEPTH {
        return Err(JsErrorBox::generic(format!(
            "Subrequest depth limit exceeded: service bindings may call each other at most {MAX_DEPTH} deep"
        )));
    }
    Ok((host, depth))
}

/// A plain-text response made here, when the service gave none.
fn failure(state: &Rc<RefCell<OpState>>, status: u16, text: String) -> ServiceResponse {
    let body = add_body_resource(&mut state.borrow_mut(), single_chunk(Bytes::from(text)));
    let headers = vec![("content-type".into(), "text/plain;charset=UTF-8".into())];
    (status, String::new(), headers, Some(body))
}

/// A body of one chunk.
fn single_chunk(bytes: Bytes) -> RequestBody {
    let (sender, receiver) = mpsc::channel(1);
    let _ = sender.try_send(Ok(bytes));
    receiver
}

/// A worker's response stream as a request body: its empty chunk ends it,
/// and a stream that stops without one is an error, not a short body.
fn until_end_marker(mut chunks: mpsc::Receiver<Result<Bytes, String>>) -> RequestBody {
    let (sender, receiver) = mpsc::channel(CHUNKS_IN_FLIGHT);
    deno_core::unsync::spawn(async move {
        loop {
            let chunk = match chunks.recv().await {
                Some(Ok(bytes)) if bytes.is_empty() => break,
                Some(chunk) => chunk,
                None => Err("the service's response stream stopped before its end".to_string()),
            };
            let failed = chunk.is_err();
            if sender.send(chunk).await.is_err() || failed {
                break;
            }
        }
    });
    receiver
}

/// Streams the caller's request body (a `resourceForReadableStream`
/// resource) to the service as it is read, and closes the resource when
/// done or when the service stops reading.
fn pump_request_body(
    state: &Rc<RefCell<OpState>>,
    body_rid: ResourceId,
) -> Result<RequestBody, JsErrorBox> {
    let source = state
        .borrow()
        .resource_table
        .get_any(body_rid)
        .map_err(JsErrorBox::from_err)?;
    let (sender, receiver) = mpsc::channel(CHUNKS_IN_FLIGHT);
    let state = state.clone();
    deno_core::unsync::spawn(async move {
        loop {
            let chunk = tokio::select! {
                chunk = source.clone().read(READ_SIZE) => chunk,
                _ = sender.closed() => break,
            };
            let chunk = match chunk {
                Ok(view) if view.is_empty() => break,
                Ok(view) => Ok(Bytes::copy_from_slice(&view)),
                Err(error) => Err(error.to_string()),
            };
            let failed = chunk.is_err();
            if sender.send(chunk).await.is_err() || failed {
                break;
            }
        }
        if let Ok(resource) = state.borrow_mut().resource_table.take_any(body_rid) {
            resource.close();
        }
    });
    Ok(receiver)
}
