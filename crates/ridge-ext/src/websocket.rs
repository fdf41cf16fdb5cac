//! WebSockets the Cloudflare way: `new WebSocketPair()` makes two ends; the
//! worker keeps the server end (`accept()`, `send()`, `close()`, events)
//! and returns the client end in a 101 Response. Messages cross between the
//! isolate and the connection task (`server/websocket.rs`) through two
//! channels; the connection side owns the socket and its limits.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use deno_core::op2;
use deno_core::AsyncRefCell;
use deno_core::CancelFuture;
use deno_core::CancelHandle;
use deno_core::OpState;
use deno_core::RcRef;
use deno_core::Resource;
use deno_core::ResourceId;
use deno_core::ToJsBuffer;
use deno_error::JsErrorBox;
use tokio::sync::mpsc;

use super::http::{CpuLedger, WorkerReply};
use super::wire::ResponseHeaders;

/// Messages a worker may queue for a client before `send()` fails: a
/// worker that sends faster than its client reads must not fill memory
/// (queued bytes are bounded too, see [`queue_limit`]).
const SEND_QUEUE: usize = 1024;
/// WebSocket pairs an isolate may hold at once (a Durable Object may hold
/// 32,768 hibernatable ones on Cloudflare).
const MAX_PAIRS: usize = 32 * 1024;
/// Messages from the client waiting for the worker.
const RECEIVE_QUEUE: usize = 16;

/// A WebSocket message, either way.
#[derive(Debug)]
pub enum WsMessage {
    Text(String),
    Binary(Bytes),
    /// A close frame: code and reason (no code: 1005, "no status").
    Close(Option<(u16, String)>),
}

/// The connection's side of a WebSocket a worker accepted.
#[derive(Debug)]
pub struct WebSocketReply {
    /// Headers of the worker's 101 response (e.g. `Sec-WebSocket-Protocol`).
    pub headers: http::HeaderMap,
    /// What the worker sends; closed without a close message when the
    /// isolate goes away.
    pub to_client: mpsc::Receiver<WsMessage>,
    /// What the client sends.
    pub from_client: mpsc::Sender<WsMessage>,
    /// Bytes queued in `to_client`: the relay subtracts what it takes.
    pub queued: Arc<AtomicUsize>,
}

/// The largest message, in bytes, a worker may send (set per isolate).
pub struct MaxMessageBytes(pub usize);

/// The WebSockets of an isolate: `open` (accepted and not yet closed)
/// keep the isolate busy, so it is not dropped as idle; `pairs` counts
/// every pair alive, to bound them.
#[derive(Clone, Default)]
pub struct OpenSockets {
    pub open: Rc<Cell<usize>>,
    pairs: Rc<Cell<usize>>,
}

impl OpenSockets {
    pub fn open_count(&self) -> usize {
        self.open.get()
    }
}

/// Bytes a worker may have queued for one client: a few messages' worth.
fn queue_limit(max_message: usize) -> usize {
    max_message.saturating_mul(4).max(1024 * 1024)
}

/// The server end of a pair, in the isolate's resource table.
struct WebSocketResource {
    to_client: mpsc::Sender<WsMessage>,
    from_client: AsyncRefCell<mpsc::Receiver<WsMessage>>,
    /// The connection's ends, until the worker returns the client end.
    client_ends: RefCell<Option<(mpsc::Receiver<WsMessage>, mpsc::Sender<WsMessage>)>>,
    queued: Arc<AtomicUsize>,
    open: OpenSockets,
    counted: Cell<bool>,
    cancel: CancelHandle,
}

impl Resource for WebSocketResource {
    fn name(&self) -> Cow<'_, str> {
        "ridgeWebSocket".into()
    }

    fn close(self: Rc<Self>) {
        self.cancel.cancel();
    }
}

impl Drop for WebSocketResource {
    fn drop(&mut self) {
        if self.counted.get() {
            self.open.open.set(self.open.open.get().saturating_sub(1));
        }
        self.open.pairs.set(self.open.pairs.get().saturating_sub(1));
    }
}

/// Makes a pair; returns the rid both JS ends share.
#[op2(fast)]
#[smi]
pub fn op_ridge_ws_pair(state: &mut OpState) -> Result<ResourceId, JsErrorBox> {
    let (to_client, to_client_rx) = mpsc::channel(SEND_QUEUE);
    let (from_client_tx, from_client) = mpsc::channel(RECEIVE_QUEUE);
    add_pair(
        state,
        (to_client, from_client),
        (to_client_rx, from_client_tx),
        Arc::default(),
    )
}

/// The client end of another worker's WebSocket (the 101 a service binding
/// answered with), for the caller to return in its own response: the
/// connection then talks to that worker's server end directly. No server
/// end of it is in this isolate.
pub fn add_passed_client_end(
    state: &mut OpState,
    reply: WebSocketReply,
) -> Result<ResourceId, JsErrorBox> {
    // This isolate's own ends lead nowhere.
    let (nowhere, _) = mpsc::channel(1);
    let (_, nothing) = mpsc::channel(1);
    add_pair(
        state,
        (nowhere, nothing),
        (reply.to_client, reply.from_client),
        reply.queued,
    )
}

/// Adds a pair with the server end's channels `own` and the client end's
/// `client_ends` (handed to the connection by `op_ridge_respond_websocket`).
fn add_pair(
    state: &mut OpState,
    own: (mpsc::Sender<WsMessage>, mpsc::Receiver<WsMessage>),
    client_ends: (mpsc::Receiver<WsMessage>, mpsc::Sender<WsMessage>),
    queued: Arc<AtomicUsize>,
) -> Result<ResourceId, JsErrorBox> {
    let open = state
        .try_borrow::<OpenSockets>()
        .cloned()
        .unwrap_or_default();
    if open.pairs.get() >= MAX_PAIRS {
        return Err(JsErrorBox::range_error(format!(
            "A worker may hold at most {MAX_PAIRS} WebSocket pairs at once; close some first"
        )));
    }
    open.pairs.set(open.pairs.get() + 1);
    let (to_client, from_client) = own;
    Ok(state.resource_table.add(WebSocketResource {
        to_client,
        from_client: AsyncRefCell::new(from_client),
        client_ends: RefCell::new(Some(client_ends)),
        queued,
        open,
        counted: Cell::new(false),
        cancel: CancelHandle::new(),
    }))
}

/// Forgets a pair the worker is done with (closed, or never used).
#[op2(fast)]
pub fn op_ridge_ws_release(state: &mut OpState, #[smi] socket: ResourceId) {
    if let Ok(resource) = state.resource_table.take::<WebSocketResource>(socket) {
        resource.cancel.cancel();
    }
}

/// Answers request `rid` with a 101 and hands the client end of pair
/// `socket` to the connection.
#[op2]
pub fn op_ridge_respond_websocket(
    state: &mut OpState,
    #[smi] rid: ResourceId,
    #[scoped] headers: ResponseHeaders,
    #[smi] socket: ResourceId,
) -> Result<(), JsErrorBox> {
    let reply = WorkerReply::WebSocket(take_client_end(state, socket, headers.0)?);
    state.borrow::<CpuLedger>().update(rid, |record| {
        record.status = Some(101);
        record.send(reply);
    });
    Ok(())
}

/// The connection's side of pair `socket`, with the 101's `headers`: its
/// client end leaves the isolate (in a response, or an RPC result).
pub fn take_client_end(
    state: &OpState,
    socket: ResourceId,
    headers: http::HeaderMap,
) -> Result<WebSocketReply, JsErrorBox> {
    let resource = state
        .resource_table
        .get::<WebSocketResource>(socket)
        .map_err(JsErrorBox::from_err)?;
    let Some((to_client, from_client)) = resource.client_ends.borrow_mut().take() else {
        return Err(JsErrorBox::type_error(
            "This WebSocket was already returned in a Response",
        ));
    };
    Ok(WebSocketReply {
        headers,
        to_client,
        from_client,
        queued: resource.queued.clone(),
    })
}

/// `accept()`: the socket now counts as open work of the isolate.
#[op2(fast)]
pub fn op_ridge_ws_accept(
    state: &mut OpState,
    #[smi] socket: ResourceId,
) -> Result<(), JsErrorBox> {
    let resource = state
        .resource_table
        .get::<WebSocketResource>(socket)
        .map_err(JsErrorBox::from_err)?;
    if !resource.counted.replace(true) {
        resource.open.open.set(resource.open.open.get() + 1);
    }
    Ok(())
}

fn queue(state: &OpState, socket: ResourceId, message: WsMessage) -> Result<(), JsErrorBox> {
    let resource = state
        .resource_table
        .get::<WebSocketResource>(socket)
        .map_err(JsErrorBox::from_err)?;
    let size = match &message {
        WsMessage::Text(text) => text.len(),
        WsMessage::Binary(data) => data.len(),
        WsMessage::Close(_) => 0,
    };
    let limit = state
        .try_borrow::<MaxMessageBytes>()
        .map_or(usize::MAX, |m| m.0);
    if size > limit {
        return Err(JsErrorBox::range_error(format!(
            "WebSocket message of {size} bytes is larger than the {limit} byte limit"
        )));
    }
    let queued = resource.queued.load(Ordering::Relaxed);
    if queued + size > queue_limit(limit) {
        return Err(JsErrorBox::generic(format!(
            "WebSocket send buffer is full ({queued} bytes waiting): the client is not reading"
        )));
    }
    resource.queued.fetch_add(size, Ordering::Relaxed);
    resource.to_client.try_send(message).map_err(|error| {
        resource.queued.fetch_sub(size, Ordering::Relaxed);
        match error {
            mpsc::error::TrySendError::Full(_) => JsErrorBox::generic(format!(
                "WebSocket send queue is full ({SEND_QUEUE} messages): the client is not reading"
            )),
            mpsc::error::TrySendError::Closed(_) => {
                JsErrorBox::generic("The WebSocket's connection is closed")
            }
        }
    })
}

#[op2(fast)]
pub fn op_ridge_ws_send_text(
    state: &mut OpState,
    #[smi] socket: ResourceId,
    #[string] text: String,
) -> Result<(), JsErrorBox> {
    queue(state, socket, WsMessage::Text(text))
}

#[op2(fast)]
pub fn op_ridge_ws_send_binary(
    state: &mut OpState,
    #[smi] socket: ResourceId,
    #[buffer] data: &[u8],
) -> Result<(), JsErrorBox> {
    queue(
        state,
        socket,
        WsMessage::Binary(Bytes::copy_from_slice(data)),
    )
}

#[op2(fast)]
pub fn op_ridge_ws_close(
    state: &mut OpState,
    #[smi] socket: ResourceId,
    #[smi] code: u32,
    #[string] reason: String,
) -> Result<(), JsErrorBox> {
    let frame = (code != 0).then_some((code as u16, reason));
    queue(state, socket, WsMessage::Close(frame))
}

/// The next message from the client: `[0, text]`, `[1, null, bytes]`,
/// `[2, reason, null, code]` for a close, or null once the connection is
/// gone without one.
#[op2]
#[serde]
pub async fn op_ridge_ws_next(
    state: Rc<RefCell<OpState>>,
    #[smi] socket: ResourceId,
) -> Result<Option<(u8, Option<String>, Option<ToJsBuffer>, u16)>, JsErrorBox> {
    let resource = state
        .borrow()
        .resource_table
        .get::<WebSocketResource>(socket)
        .map_err(JsErrorBox::from_err)?;
    let mut from_client = RcRef::map(&resource, |r| &r.from_client).borrow_mut().await;
    let cancel = RcRef::map(&resource, |r| &r.cancel);
    let message = match from_client.recv().or_cancel(cancel).await {
        Ok(Some(message)) => message,
        Ok(None) | Err(_) => return Ok(None),
    };
    state
        .borrow()
        .borrow::<crate::CpuLedger>()
        .message_arrived();
    Ok(Some(match message {
        WsMessage::Text(text) => (0, Some(text), None, 0),
        WsMessage::Binary(data) => (1, None, Some(data.to_vec().into()), 0),
        WsMessage::Close(frame) => {
            let (code, reason) = frame.unwrap_or((1005, String::new()));
            (2, Some(reason), None, code)
        }
    }))
}

/// Closes every WebSocket of a failing isolate with `code` and `reason`
/// (the isolate is about to be dropped).
pub fn close_all(state: &mut OpState, code: u16, reason: &str) {
    let sockets: Vec<ResourceId> = state
        .resource_table
        .names()
        .filter(|(_, name)| name == "ridgeWebSocket")
        .map(|(rid, _)| rid)
        .collect();
    for rid in sockets {
        if let Ok(socket) = state.resource_table.take::<WebSocketResource>(rid) {
            // The relay cuts the reason to what a close frame holds.
            let _ = socket
                .to_client
                .try_send(WsMessage::Close(Some((code, reason.to_string()))));
        }
    }
}
