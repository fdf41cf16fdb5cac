//! `ridge dev --inspect`: the worker's V8 inspector, reachable by Chrome
//! DevTools and VS Code over the Chrome DevTools Protocol. The discovery
//! endpoints (`/json/version`, `/json/list`) describe the worker's current
//! isolate; `/ws/ID` is the WebSocket a debugger attaches to, whose messages
//! are relayed to and from the isolate's inspector sessions.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use deno_core::futures::channel::mpsc;
use deno_core::futures::StreamExt;
use deno_core::{
    InspectorMsg, InspectorSessionChannels, InspectorSessionKind, InspectorSessionProxy,
};
use futures::SinkExt;
use http::{header, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use ridge_runtime::isolate::bindings::InspectorRegistry;
use serde_json::json;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// The isolate a debugger can attach to.
struct Target {
    id: String,
    title: String,
    url: String,
    sessions: mpsc::UnboundedSender<InspectorSessionProxy>,
}

/// Where isolates announce themselves and debuggers find them.
pub struct InspectorHub {
    addr: SocketAddr,
    /// `--inspect-brk`: pause before the worker's first statement.
    break_on_start: bool,
    target: Mutex<Option<Target>>,
}

impl InspectorHub {
    /// Starts the inspector's HTTP/WebSocket server on `addr`.
    pub async fn start(addr: SocketAddr, break_on_start: bool) -> std::io::Result<Arc<Self>> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let hub = Arc::new(Self {
            addr: listener.local_addr()?,
            break_on_start,
            target: Mutex::new(None),
        });
        let serving = hub.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let hub = serving.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let hub = hub.clone();
                        async move { Ok::<_, Infallible>(hub.answer(request)) }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection_with_upgrades(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(hub)
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl InspectorRegistry for InspectorHub {
    /// Called by each new worker isolate: debuggers attach to the newest.
    fn register(
        &self,
        title: &str,
        url: &str,
        sessions: mpsc::UnboundedSender<InspectorSessionProxy>,
    ) {
        let id = format!("{:016x}", rand_id());
        tracing::info!(
            "debugger: open chrome://inspect, or connect to ws://{}/ws/{id}",
            self.addr
        );
        *self.target.lock().expect("inspector target") = Some(Target {
            id,
            title: title.to_string(),
            url: url.to_string(),
            sessions,
        });
    }

    fn break_on_start(&self) -> bool {
        self.break_on_start
    }
}

impl InspectorHub {
    fn answer(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        // A web page the developer visits must not reach the debugger (DNS
        // rebinding): only local Host names, and no web Origin.
        if !local_host(request.headers().get(header::HOST)) {
            return plain(
                StatusCode::FORBIDDEN,
                "the inspector answers local host names only",
            );
        }
        let origin = request
            .headers()
            .get(header::ORIGIN)
            .and_then(|o| o.to_str().ok());
        if origin
            .is_some_and(|o| !o.starts_with("devtools://") && !o.starts_with("chrome-devtools://"))
        {
            return plain(
                StatusCode::FORBIDDEN,
                "the inspector refuses requests from web pages",
            );
        }
        let path = request.uri().path().to_string();
        match path.as_str() {
            "/json/version" => json_response(json!({
                "Browser": concat!("Ridge/", env!("CARGO_PKG_VERSION")),
                "Protocol-Version": "1.3",
                "V8-Version": deno_core::v8::VERSION_STRING,
            })),
            "/json" | "/json/list" => {
                let target = self.target.lock().expect("inspector target");
                let list: Vec<_> = target
                    .iter()
                    .map(|t| {
                        let ws = format!("{}/ws/{}", self.addr, t.id);
                        json!({
                            "description": "ridge dev worker",
                            "devtoolsFrontendUrl": format!("devtools://devtools/bundled/js_app.html?experiments=true&v8only=true&ws={ws}"),
                            "id": t.id,
                            "title": t.title,
                            "type": "node",
                            "url": t.url,
                            "webSocketDebuggerUrl": format!("ws://{ws}"),
                        })
                    })
                    .collect();
                json_response(json!(list))
            }
            _ => match path.strip_prefix("/ws/") {
                Some(id) => self.attach(id, request),
                None => plain(StatusCode::NOT_FOUND, "not found"),
            },
        }
    }

    /// Upgrades to a WebSocket and relays it to a new inspector session.
    fn attach(&self, id: &str, mut request: Request<Incoming>) -> Response<Full<Bytes>> {
        let sessions = {
            let target = self.target.lock().expect("inspector target");
            match target.as_ref().filter(|t| t.id == id) {
                Some(t) => t.sessions.clone(),
                None => return plain(StatusCode::NOT_FOUND, "no such debugging target"),
            }
        };
        let Some(key) = request.headers().get(header::SEC_WEBSOCKET_KEY).cloned() else {
            return plain(StatusCode::BAD_REQUEST, "expected a WebSocket upgrade");
        };
        let upgrade = hyper::upgrade::on(&mut request);
        tokio::spawn(async move {
            let Ok(upgraded) = upgrade.await else { return };
            let socket =
                WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
            relay(socket, sessions).await;
        });
        Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header(header::CONNECTION, "Upgrade")
            .header(header::UPGRADE, "websocket")
            .header(
                header::SEC_WEBSOCKET_ACCEPT,
                derive_accept_key(key.as_bytes()),
            )
            .body(Full::default())
            .expect("a valid response")
    }
}

/// Pumps CDP messages between a debugger's WebSocket and an isolate session.
async fn relay<S>(
    socket: WebSocketStream<S>,
    sessions: mpsc::UnboundedSender<InspectorSessionProxy>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (to_debugger, mut from_isolate) = mpsc::unbounded::<InspectorMsg>();
    let (to_isolate, for_isolate) = mpsc::unbounded::<String>();
    let proxy = InspectorSessionProxy {
        channels: InspectorSessionChannels::Regular {
            tx: to_debugger,
            rx: for_isolate,
        },
        kind: InspectorSessionKind::NonBlocking {
            wait_for_disconnect: false,
        },
    };
    if sessions.unbounded_send(proxy).is_err() {
        return;
    }
    let (mut sink, mut stream) = socket.split();
    loop {
        tokio::select! {
            incoming = stream.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    if to_isolate.unbounded_send(text.to_string()).is_err() {
                        break;
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
            outgoing = from_isolate.next() => match outgoing {
                Some(message) => {
                    if sink.send(Message::Text(message.content.into())).await.is_err() {
                        break;
                    }
                }
                None => break,
            },
        }
    }
}

/// `localhost` or an IP address, with or without a port.
fn local_host(host: Option<&http::HeaderValue>) -> bool {
    let Some(host) = host else {
        return true;
    };
    let Some(authority) = host
        .to_str()
        .ok()
        .and_then(|h| h.parse::<http::uri::Authority>().ok())
    else {
        return false;
    };
    let name = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok()
}

fn json_response(value: serde_json::Value) -> Response<Full<Bytes>> {
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json; charset=UTF-8")
        .body(Full::new(Bytes::from(value.to_string())))
        .expect("a valid response")
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .body(Full::new(Bytes::from_static(text.as_bytes())))
        .expect("a valid response")
}

/// An id that differs between targets and runs.
fn rand_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.finish()
}
