//! HTTP/3: a QUIC endpoint (quinn) speaking h3, on the same port number as
//! the TLS listener (UDP beside TCP), with the same certificates and the
//! same request path (`EdgeHandler`) as HTTP/1.1 and HTTP/2.
//!
//! Request bodies stream into the worker as they arrive and responses stream
//! out as the worker produces them; a client that resets its stream stops
//! the worker's response stream. Address validation (QUIC Retry) is done for
//! every new connection when configured, and otherwise once many handshakes
//! are in progress, which is when spoofed-source floods show.

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes};
use h3::error::Code;
use h3::server::RequestStream;
use http::{header, Method, Request};
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use tokio::sync::watch;
use tokio_util::task::TaskTracker;

use super::handler::EdgeHandler;
use super::tls::{Certificates, TlsError};
use ridge_core::limits::MAX_HEADER_BYTES;

/// QUIC transport settings.
#[derive(Clone, Debug)]
pub struct QuicOptions {
    /// A connection with no traffic for this long is closed.
    pub idle_timeout: Duration,
    /// Concurrent requests (bidirectional streams) per connection.
    pub max_streams: u32,
    /// Flow-control window per stream, in bytes.
    pub stream_window: u32,
    /// Flow-control window per connection, in bytes.
    pub connection_window: u32,
    /// Validate every client's address with a Retry before the handshake
    /// (one extra round trip); otherwise only under handshake load.
    pub retry_always: bool,
}

impl Default for QuicOptions {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(30),
            max_streams: 256,
            stream_window: 1024 * 1024,
            connection_window: 8 * 1024 * 1024,
            retry_always: false,
        }
    }
}

/// Handshakes in progress above which new clients must prove their address.
const RETRY_THRESHOLD: usize = 128;
/// HTTP/3 "no error", used when closing connections at shutdown.
const H3_NO_ERROR: u32 = 0x100;

#[derive(Debug, thiserror::Error)]
pub enum H3Error {
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("invalid QUIC configuration: {0}")]
    Config(String),
    #[error("cannot listen on UDP {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A running HTTP/3 endpoint.
pub struct H3Handle {
    pub local_addr: SocketAddr,
    endpoint: quinn::Endpoint,
    stopping: watch::Sender<bool>,
    /// Request tasks, tracked as the TCP listener tracks its connections.
    requests: TaskTracker,
}

impl H3Handle {
    /// Stops accepting connections, asks clients to go away (GOAWAY), lets
    /// requests in flight finish for up to `deadline`, then closes every
    /// connection with H3_NO_ERROR.
    pub async fn shutdown(self, deadline: Duration) {
        self.endpoint.set_server_config(None);
        let _ = self.stopping.send(true);
        self.requests.close();
        let waited = tokio::time::timeout(deadline, self.requests.wait()).await;
        if waited.is_err() {
            tracing::warn!(
                requests = self.requests.len(),
                "HTTP/3 requests still running at the shutdown deadline; closing"
            );
        }
        self.endpoint.close(
            quinn::VarInt::from_u32(H3_NO_ERROR),
            b"server shutting down",
        );
        self.endpoint.wait_idle().await;
    }
}

/// Serves HTTP/3 on UDP `addr` with the node's certificates.
pub fn serve_h3(
    addr: SocketAddr,
    certificates: &Arc<Certificates>,
    options: &QuicOptions,
    handler: Arc<EdgeHandler>,
) -> Result<H3Handle, H3Error> {
    let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(certificates.quic_config()?)
        .map_err(|e| H3Error::Config(e.to_string()))?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    let mut transport = quinn::TransportConfig::default();
    let idle = quinn::IdleTimeout::try_from(options.idle_timeout)
        .map_err(|e| H3Error::Config(format!("idle timeout: {e}")))?;
    transport
        .max_idle_timeout(Some(idle))
        .max_concurrent_bidi_streams(options.max_streams.into())
        .stream_receive_window(options.stream_window.into())
        .receive_window(options.connection_window.into());
    config.transport_config(Arc::new(transport));
    let endpoint =
        quinn::Endpoint::server(config, addr).map_err(|source| H3Error::Bind { addr, source })?;
    let local_addr = endpoint
        .local_addr()
        .map_err(|source| H3Error::Bind { addr, source })?;
    let (stopping, stopped) = watch::channel(false);
    let requests = TaskTracker::new();
    tokio::spawn(accept_loop(
        endpoint.clone(),
        options.retry_always,
        handler,
        stopped,
        requests.clone(),
    ));
    Ok(H3Handle {
        local_addr,
        endpoint,
        stopping,
        requests,
    })
}

async fn accept_loop(
    endpoint: quinn::Endpoint,
    retry_always: bool,
    handler: Arc<EdgeHandler>,
    stopping: watch::Receiver<bool>,
    requests: TaskTracker,
) {
    let handshakes = Arc::new(AtomicUsize::new(0));
    while let Some(incoming) = endpoint.accept().await {
        let under_load = handshakes.load(Ordering::Relaxed) >= RETRY_THRESHOLD;
        if (retry_always || under_load) && !incoming.remote_address_validated() {
            if let Err(error) = incoming.retry() {
                tracing::debug!(%error, "QUIC retry failed");
            }
            continue;
        }
        let (handler, stopping, requests, handshakes) = (
            handler.clone(),
            stopping.clone(),
            requests.clone(),
            handshakes.clone(),
        );
        tokio::spawn(async move {
            let peer = incoming.remote_address();
            handshakes.fetch_add(1, Ordering::Relaxed);
            let connecting = incoming.accept();
            let connection = match connecting {
                Ok(connecting) => connecting.await,
                Err(error) => Err(error),
            };
            handshakes.fetch_sub(1, Ordering::Relaxed);
            match connection {
                Ok(connection) => {
                    handler.observers().metrics.connection("h3");
                    serve_connection(connection, peer.ip(), handler, stopping, requests).await
                }
                Err(error) => tracing::debug!(%peer, %error, "QUIC handshake failed"),
            }
        });
    }
}

async fn serve_connection(
    connection: quinn::Connection,
    client: IpAddr,
    handler: Arc<EdgeHandler>,
    mut stopping: watch::Receiver<bool>,
    requests: TaskTracker,
) {
    let mut h3 = match h3::server::builder()
        .max_field_section_size(MAX_HEADER_BYTES as u64)
        .build(h3_quinn::Connection::new(connection))
        .await
    {
        Ok(h3) => h3,
        Err(error) => {
            tracing::debug!(%error, "HTTP/3 connection setup failed");
            return;
        }
    };
    let mut going_away = *stopping.borrow();
    if going_away {
        let _ = h3.shutdown(0).await;
    }
    loop {
        let accepted = tokio::select! {
            accepted = h3.accept() => accepted,
            _ = stopping.changed(), if !going_away => {
                going_away = true;
                // GOAWAY: no new requests; those already open finish.
                let _ = h3.shutdown(0).await;
                continue;
            }
        };
        match accepted {
            Ok(Some(resolver)) => {
                let handler = handler.clone();
                requests.spawn(async move {
                    match resolver.resolve_request().await {
                        Ok((request, stream)) => {
                            handle_request(request, stream, client, &handler).await
                        }
                        Err(error) => tracing::debug!(%error, "HTTP/3 request not readable"),
                    }
                });
            }
            Ok(None) => break,
            Err(error) => {
                if !error.is_h3_no_error() {
                    tracing::debug!(%error, "HTTP/3 connection ended with an error");
                }
                break;
            }
        }
    }
}

type QuicStream = RequestStream<h3_quinn::BidiStream<Bytes>, Bytes>;

async fn handle_request(
    request: Request<()>,
    stream: QuicStream,
    client: IpAddr,
    handler: &EdgeHandler,
) {
    let (mut send, recv) = stream.split();
    let (parts, ()) = request.into_parts();
    let body = RequestBody {
        stream: recv,
        expects_body: expects_body(&parts),
        done: false,
    };
    let response = handler
        .handle(Request::from_parts(parts, body), "https", client)
        .await;
    let (parts, mut body) = response.into_parts();
    // HTTP/3 has no reason phrases and no connection-specific headers.
    let mut head = http::Response::from_parts(parts, ());
    head.extensions_mut().clear();
    head.headers_mut().remove(header::CONNECTION);
    if let Err(error) = send.send_response(head).await {
        tracing::debug!(%error, "HTTP/3 response head not sent");
        return;
    }
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                if let Err(error) = send.send_data(data).await {
                    // The client reset the stream: dropping the body
                    // cancels the worker's response stream.
                    tracing::debug!(%error, "HTTP/3 client went away mid-response");
                    return;
                }
            }
            Err(error) => {
                tracing::warn!(%error, "response stream failed; resetting the HTTP/3 stream");
                send.stop_stream(Code::H3_INTERNAL_ERROR);
                return;
            }
        }
    }
    if let Err(error) = send.finish().await {
        tracing::debug!(%error, "HTTP/3 stream not finished cleanly");
    }
}

/// Whether a request may carry a body: HTTP/3 has no end-of-stream flag on
/// the headers, so GET, HEAD and friends without a length are taken to have
/// none (as HTTP/1.1 would read them).
fn expects_body(parts: &http::request::Parts) -> bool {
    match parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        Some(length) => length > 0,
        None => !matches!(
            parts.method,
            Method::GET | Method::HEAD | Method::OPTIONS | Method::DELETE | Method::TRACE
        ),
    }
}

/// A request body read from an HTTP/3 stream as the worker asks for it.
struct RequestBody {
    stream: RequestStream<h3_quinn::RecvStream, Bytes>,
    expects_body: bool,
    done: bool,
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = h3::error::StreamError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.done || !self.expects_body {
            return Poll::Ready(None);
        }
        match self.stream.poll_recv_data(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(Some(mut chunk))) => {
                let data = chunk.copy_to_bytes(chunk.remaining());
                Poll::Ready(Some(Ok(Frame::data(data))))
            }
            Poll::Ready(Ok(None)) => {
                self.done = true;
                Poll::Ready(None)
            }
            Poll::Ready(Err(error)) => {
                self.done = true;
                Poll::Ready(Some(Err(error)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || !self.expects_body
    }
}
