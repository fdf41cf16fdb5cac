//! The connection side of a WebSocket a worker accepted: completes the
//! HTTP/1.1 upgrade and relays messages between the client and the
//! isolate (see `ops/websocket.rs`) until either side closes.
//!
//! Limits are enforced here: messages over the worker's size limit close
//! the socket with 1009, a socket idle for longer than its idle limit
//! closes with 1001, and a worker that goes away (evicted, or stopped for
//! a limit) closes it with 1001 or the code the isolate gave.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use super::body::WireBody;
use super::connections::client_key;
use super::handler::plain;
use ridge_ext::websocket::{WebSocketReply, WsMessage};
use ridge_runtime::observe::Metrics;
use ridge_runtime::worker::WorkerVersion;

/// What the handshake needs from a client's upgrade request.
pub struct Handshake {
    key: HeaderValue,
    upgrade: OnUpgrade,
}

impl Handshake {
    /// The handshake of an HTTP/1.1 WebSocket upgrade request, if it is
    /// one (hyper leaves the upgrade in the request's extensions).
    pub fn from_request(
        version: http::Version,
        headers: &http::HeaderMap,
        extensions: &mut http::Extensions,
    ) -> Option<Self> {
        let is_websocket = headers
            .get(header::UPGRADE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
        if !is_websocket || version != http::Version::HTTP_11 {
            return None;
        }
        let key = headers.get(header::SEC_WEBSOCKET_KEY)?.clone();
        let upgrade = extensions.remove::<OnUpgrade>()?;
        Some(Self { key, upgrade })
    }
}

/// The 101 response for a worker that accepted a WebSocket, and the relay
/// started behind it; without a handshake (not an upgrade request), an error.
pub fn accept(
    handshake: Option<(Handshake, ClientSlot)>,
    reply: WebSocketReply,
    version: &Arc<WorkerVersion>,
    metrics: Arc<Metrics>,
) -> Response<WireBody> {
    let Some((handshake, slot)) = handshake else {
        return plain(
            StatusCode::BAD_REQUEST,
            "The worker answered with a WebSocket, but the request was not a WebSocket upgrade (GET with Upgrade: websocket over HTTP/1.1)\n",
        );
    };
    let mut response = Response::new(WireBody::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    for (name, value) in &reply.headers {
        if !matches!(
            name.as_str(),
            "connection"
                | "upgrade"
                | "sec-websocket-accept"
                | "content-length"
                | "transfer-encoding"
        ) {
            headers.append(name, value.clone());
        }
    }
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    let accept_key = derive_accept_key(handshake.key.as_bytes());
    headers.insert(
        header::SEC_WEBSOCKET_ACCEPT,
        HeaderValue::from_str(&accept_key).expect("base64 is a valid header value"),
    );
    let limits = Limits {
        message_bytes: (version.limits.websocket_message_kb * 1024) as usize,
        idle: Duration::from_secs(version.limits.websocket_idle_s),
    };
    let worker = version.name.clone();
    tokio::spawn(async move {
        let upgraded = match handshake.upgrade.await {
            Ok(upgraded) => upgraded,
            Err(error) => {
                tracing::debug!(%worker, %error, "WebSocket upgrade failed");
                return;
            }
        };
        // A small read buffer: tungstenite allocates it up front for every
        // socket (128 KiB by default), and most sockets are idle most of
        // the time (a hibernated chat room holds thousands); bigger
        // messages are read in several steps.
        let config = WebSocketConfig::default()
            .read_buffer_size(READ_BUFFER_BYTES)
            .max_message_size(Some(limits.message_bytes))
            .max_frame_size(Some(limits.message_bytes));
        let socket =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config))
                .await;
        metrics.websockets_open.inc();
        relay(socket, reply, limits).await;
        metrics.websockets_open.dec();
        drop(slot);
    });
    response
}

struct Limits {
    message_bytes: usize,
    idle: Duration,
}

/// The read buffer of each WebSocket connection.
const READ_BUFFER_BYTES: usize = 4 * 1024;

/// WebSockets one client (address, or IPv6 /64) may hold open to one
/// worker: without it, one client could take all a worker's isolate holds.
pub const MAX_WEBSOCKETS_PER_CLIENT: usize = 128;

/// Open WebSockets by worker and client.
#[derive(Default)]
pub struct ClientSockets(Mutex<HashMap<(String, IpAddr), usize>>);

impl ClientSockets {
    /// A place for one more WebSocket of `client` to `worker`, or the
    /// number it has open when that is the most it may.
    pub fn admit(self: &Arc<Self>, worker: &str, client: IpAddr) -> Result<ClientSlot, usize> {
        let key = (worker.to_string(), client_key(client));
        let mut open = self.0.lock().expect("websocket clients");
        let count = open.entry(key.clone()).or_insert(0);
        if *count >= MAX_WEBSOCKETS_PER_CLIENT {
            return Err(*count);
        }
        *count += 1;
        Ok(ClientSlot {
            sockets: self.clone(),
            key,
        })
    }
}

/// One WebSocket's place under the per-client cap, held while it is open
/// (or until the worker answers the upgrade with something else).
pub struct ClientSlot {
    sockets: Arc<ClientSockets>,
    key: (String, IpAddr),
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut open = self.sockets.0.lock().expect("websocket clients");
        if let Some(count) = open.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// A close frame; the reason is cut to the 123 bytes a frame holds.
fn close(code: u16, reason: &str) -> Message {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    Message::Close(Some(CloseFrame {
        code: CloseCode::from(code),
        reason: reason[..end].to_string().into(),
    }))
}

/// Carries messages both ways until the socket closes.
async fn relay<S>(mut socket: WebSocketStream<S>, reply: WebSocketReply, limits: Limits)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let WebSocketReply {
        mut to_client,
        from_client,
        queued,
        ..
    } = reply;
    let idle = tokio::time::sleep(limits.idle);
    tokio::pin!(idle);
    loop {
        tokio::select! {
            incoming = socket.next() => {
                idle.as_mut().reset(tokio::time::Instant::now() + limits.idle);
                let message = match incoming {
                    Some(Ok(Message::Text(text))) => WsMessage::Text(text.to_string()),
                    Some(Ok(Message::Binary(data))) => WsMessage::Binary(data),
                    Some(Ok(Message::Close(frame))) => {
                        // tungstenite answers the close frame itself.
                        let frame = frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                        let _ = from_client.send(WsMessage::Close(frame)).await;
                        let _ = socket.close(None).await;
                        return;
                    }
                    Some(Ok(_)) => continue, // ping, pong: answered by tungstenite
                    Some(Err(WsError::Capacity(error))) => {
                        let reason = format!("message too big: {error}");
                        let _ = from_client.send(WsMessage::Close(Some((1009, reason.clone())))).await;
                        let _ = socket.send(close(1009, &reason)).await;
                        return;
                    }
                    Some(Err(_)) | None => {
                        let _ = from_client.send(WsMessage::Close(Some((1006, String::new())))).await;
                        return;
                    }
                };
                // Backpressure: a worker that reads slowly slows the client
                // down, but one that stops reading ends the socket.
                match tokio::time::timeout(limits.idle, from_client.send(message)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => {
                        let _ = socket.send(close(1001, "the worker is no longer running")).await;
                        return;
                    }
                    Err(_) => {
                        let _ = socket.send(close(1001, "the worker stopped reading")).await;
                        return;
                    }
                }
            }
            outgoing = to_client.recv() => {
                // Only the client's traffic keeps a socket from idling out:
                // a worker cannot keep one open by talking to itself.
                let message = match outgoing {
                    Some(WsMessage::Text(text)) => {
                        queued.fetch_sub(text.len(), Ordering::Relaxed);
                        Message::text(text)
                    }
                    Some(WsMessage::Binary(data)) => {
                        queued.fetch_sub(data.len(), Ordering::Relaxed);
                        Message::binary(data)
                    }
                    Some(WsMessage::Close(frame)) => {
                        let message = match frame {
                            Some((code, reason)) => close(code, &reason),
                            None => Message::Close(None),
                        };
                        let _ = socket.send(message).await;
                        // Wait (briefly) for the client's close frame.
                        let _ = tokio::time::timeout(Duration::from_secs(5), async {
                            while let Some(Ok(message)) = socket.next().await {
                                if let Message::Close(frame) = message {
                                    let frame = frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                                    let _ = from_client.send(WsMessage::Close(frame)).await;
                                    break;
                                }
                            }
                        })
                        .await;
                        return;
                    }
                    None => {
                        let _ = socket.send(close(1001, "the worker is no longer running")).await;
                        return;
                    }
                };
                // A client that stops reading ends the socket.
                if !matches!(tokio::time::timeout(limits.idle, socket.send(message)).await, Ok(Ok(()))) {
                    let _ = from_client.try_send(WsMessage::Close(Some((1006, String::new()))));
                    return;
                }
            }
            _ = &mut idle => {
                let reason = format!("idle for {} s", limits.idle.as_secs());
                let _ = from_client.send(WsMessage::Close(Some((1001, reason.clone())))).await;
                let _ = socket.send(close(1001, &reason)).await;
                return;
            }
        }
    }
}
