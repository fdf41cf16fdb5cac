//! The ops behind service bindings (`env.SVC.fetch`, `env.SVC.method()`,
//! see `js/service/08_service.js`): a request or an RPC call to another
//! worker of the node, handed to its isolate as an invocation of its own
//! (its limits, its log record naming the caller), never through a
//! listener. Request and response bodies stream; RPC arguments and results
//! cross V8-serialized. Which worker a binding names, and how the invocation reaches
//! it, belong to the [`ServiceHost`] the isolate is given (ridge-runtime's
//! `isolate/bindings/service.rs`).

use std::borrow::Cow;
use std::cell::RefCell;
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
    add_body_resource, CpuLedger, Event, FetchRequest, ObjectAddress, RequestBody, ResponseBody,
    RpcCall, WorkerReply,
};
use crate::owned;
use crate::rpc::{RemoteStubs, RpcResult, ServedMessage, StubServer, WritableSink};
use crate::websocket::{add_passed_client_end, take_client_end};

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

/// A response as JS builds it: status, status text, headers, body rid,
/// and the client end of a WebSocket (a 101's).
type ServiceResponse = (
    u16,
    String,
    Vec<(ByteString, ByteString)>,
    Option<ResourceId>,
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
        Ok(WorkerReply::WebSocket(reply)) => {
            let headers = reply
                .headers
                .iter()
                .map(|(name, value)| (name.as_str().into(), value.as_bytes().into()))
                .collect();
            let client_end = add_passed_client_end(&mut state.borrow_mut(), reply)?;
            let status_text = status_text(101).to_string();
            return Ok((101, status_text, headers, None, Some(client_end)));
        }
        Ok(WorkerReply::LimitExceeded(limit)) => {
            return Ok(failure(
                &state,
                503,
                format!("The service exceeded its limits: {limit}"),
            ))
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
    // As over HTTP: a response without a status text has its status's.
    let status_text = if response.status_text.is_empty() {
        status_text(response.status).to_string()
    } else {
        response.status_text
    };
    Ok((response.status, status_text, headers, body, None))
}

/// The reason phrase HTTP gives `status` ("" for an unknown one): the
/// status text of a service's response that set none.
#[op2]
#[string]
pub fn op_ridge_status_text(#[smi] status: u16) -> &'static str {
    status_text(status)
}

fn status_text(status: u16) -> &'static str {
    http::StatusCode::from_u16(status)
        .ok()
        .and_then(|status| status.canonical_reason())
        .unwrap_or_default()
}

/// Starts a call of method `method` of binding `binding`'s entrypoint with
/// `args` (an array, V8-serialized; `streams` the resources of the
/// `ReadableStream`s among them, `writables` the sinks of the
/// `WritableStream`s) on behalf of request `rid` (whose span for it is
/// `traceparent`, or ""), to Durable Object `object` (`[id, name]`) when the
/// binding is a namespace; returns the call, which `op_ridge_rpc_next`
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
    #[serde] writables: Vec<ResourceId>,
    #[serde] object: Option<(String, Option<String>)>,
) -> Result<ResourceId, JsErrorBox> {
    let (host, depth) = caller(&state, rid)?;
    let streams = streams
        .into_iter()
        .map(|stream| pump_request_body(&state, stream))
        .collect::<Result<_, _>>()?;
    let writables = writables
        .into_iter()
        .map(|sink| WritableSink::take(&mut state.borrow_mut(), sink))
        .collect::<Result<_, _>>()?;
    let (stubs, server) = StubServer::new();
    let answer = host
        .invoke(
            binding,
            Event::Rpc(Box::new(RpcCall {
                entrypoint: None,
                method,
                args,
                stubs,
                traceparent: (!traceparent.is_empty()).then_some(traceparent),
                streams,
                writables,
                // The binding fills in the class.
                object: object.map(|(id, name)| ObjectAddress {
                    class: String::new(),
                    id,
                    name,
                }),
            })),
            depth,
        )
        .map_err(JsErrorBox::generic)?;
    Ok(state.borrow_mut().resource_table.add(RpcCallResource {
        request: rid,
        answer: AsyncRefCell::new(answer),
        server: Rc::new(server),
    }))
}

/// What happens next in an RPC call: `[true, thrown, value, streams,
/// stubs, sockets]` when it returned or threw (the call is then over;
/// `streams` are the resources of the streams in the value, `stubs` the
/// [`RemoteStubs`] through which the stubs in it are called, or null,
/// `sockets` the pairs of the WebSockets in it), or `[false,
/// message]` when the callee calls or disposes of a stub the caller passed
/// (see [`ServedMessage`]; `op_ridge_rpc_answer` answers a call).
#[derive(serde::Serialize)]
#[serde(untagged)]
pub enum RpcStep {
    Over(
        bool,
        bool,
        ToJsBuffer,
        Vec<ResourceId>,
        Option<ResourceId>,
        Vec<ResourceId>,
    ),
    Stub(bool, ServedMessage),
}

/// An RPC call in flight, on the caller's side: its answer to come, and
/// the stubs among its arguments, which the callee may call until then.
pub struct RpcCallResource {
    request: ResourceId,
    answer: AsyncRefCell<oneshot::Receiver<WorkerReply>>,
    server: Rc<StubServer>,
}

impl Resource for RpcCallResource {
    fn name(&self) -> Cow<'_, str> {
        "ridgeRpcCall".into()
    }
}

impl RpcCallResource {
    /// What serves the callee's calls of the stubs among the arguments.
    pub(crate) fn server(&self) -> &StubServer {
        &self.server
    }
}

/// The next step of RPC call `call` (see [`RpcStep`]).
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
        let mut answer = RcRef::map(&resource, |r| &r.answer).borrow_mut().await;
        tokio::select! {
            Some(message) = resource.server.next() => return Ok(RpcStep::Stub(false, message)),
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
        Ok(WorkerReply::Rpc(RpcResult::Value {
            bytes,
            streams,
            stubs,
            sockets,
        })) => {
            let mut state = state.borrow_mut();
            let streams = streams
                .into_iter()
                .map(|chunks| add_body_resource(&mut state, chunks))
                .collect();
            let sockets = sockets
                .into_iter()
                .map(|socket| add_passed_client_end(&mut state, socket))
                .collect::<Result<_, _>>()?;
            // The stubs in the result are the caller's request's: released
            // when it ends, if not disposed of before.
            let stubs = stubs.and_then(|sender| {
                let stubs = state.resource_table.add(RemoteStubs::new(sender));
                if owned::adopt(&mut state, resource.request, stubs) {
                    Some(stubs)
                } else {
                    drop(state.resource_table.take_any(stubs));
                    None
                }
            });
            Ok(RpcStep::Over(
                true,
                false,
                bytes.into(),
                streams,
                stubs,
                sockets,
            ))
        }
        Ok(WorkerReply::Rpc(RpcResult::Thrown(error))) => Ok(RpcStep::Over(
            true,
            true,
            error.into(),
            Vec::new(),
            None,
            Vec::new(),
        )),
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

/// An RPC method of request `rid` returned (`thrown`: threw) `value`,
/// V8-serialized, with the streams among it (`streams`, resources), which
/// stream on to the caller, and the pairs of the WebSockets among it
/// (`sockets`), whose client ends go to the caller. With `stubs` (the value holds functions or
/// `RpcTarget`s), returns the [`StubServer`] through which the caller
/// calls them, which keeps the request open while it serves.
#[op2]
#[serde]
pub fn op_ridge_rpc_return(
    state: Rc<RefCell<OpState>>,
    #[smi] rid: ResourceId,
    thrown: bool,
    #[buffer] value: &[u8],
    #[serde] streams: Vec<ResourceId>,
    stubs: bool,
    #[serde] sockets: Vec<ResourceId>,
) -> Result<Option<ResourceId>, JsErrorBox> {
    let streams = streams
        .into_iter()
        .map(|stream| pump_request_body(&state, stream))
        .collect::<Result<Vec<_>, _>>()?;
    let bytes = value.to_vec();
    let mut state = state.borrow_mut();
    let sockets = sockets
        .into_iter()
        .map(|socket| take_client_end(&state, socket, http::HeaderMap::new()))
        .collect::<Result<Vec<_>, _>>()?;
    let (stubs, server) = if stubs && !thrown {
        let (sender, server) = StubServer::new();
        let server = state.resource_table.add(server);
        owned::adopt(&mut state, rid, server);
        (Some(sender), Some(server))
    } else {
        (None, None)
    };
    state.borrow::<CpuLedger>().update(rid, |record| {
        if thrown {
            record.send(WorkerReply::Rpc(RpcResult::Thrown(bytes)));
            record.outcome = Outcome::Exception;
        } else {
            record.send(WorkerReply::Rpc(RpcResult::Value {
                bytes,
                streams,
                stubs,
                sockets,
            }));
        }
    });
    Ok(server)
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
    (status, String::new(), headers, Some(body), None)
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
