//! TCP listeners: HTTP/1.1 and HTTP/2 (h2c with prior knowledge, or h2
//! negotiated by ALPN over TLS), served by hyper, for the data plane and the
//! admin API alike, each within its [`ConnectionLimits`].

use std::future::Future;
use std::io::IoSlice;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::HeaderValue;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::task::TaskTracker;

use super::admin::AdminApi;
use super::body::WireBody;
use super::connections::{AcceptBackoff, Activity, Admission, ConnectionLimits, Ticket};
use super::handler::{Answer, EdgeHandler};
use ridge_runtime::observe::Metrics;

/// What answers requests on a listener.
pub trait Service: Send + Sync + 'static {
    type Answer: Future<Output = hyper::Response<WireBody>> + Send + 'static;

    /// Answers `request`, which came over `scheme` ("http" or "https")
    /// from `client`.
    fn call(
        &self,
        request: hyper::Request<Incoming>,
        scheme: &'static str,
        client: IpAddr,
    ) -> Self::Answer;
}

/// The data plane: requests go to workers. `alt_svc`, when set, is added
/// to every response (it announces HTTP/3).
pub struct EdgeService {
    handler: Arc<EdgeHandler>,
    alt_svc: Option<HeaderValue>,
}

pub fn edge_service(handler: Arc<EdgeHandler>, alt_svc: Option<HeaderValue>) -> Arc<EdgeService> {
    Arc::new(EdgeService { handler, alt_svc })
}

impl Service for EdgeService {
    // Not boxed: one is made for every request.
    type Answer = Announced;

    fn call(
        &self,
        request: hyper::Request<Incoming>,
        scheme: &'static str,
        client: IpAddr,
    ) -> Announced {
        Announced {
            answer: self.handler.handle(request, scheme, client),
            alt_svc: self.alt_svc.clone(),
        }
    }
}

/// A worker's response, with `Alt-Svc` added when HTTP/3 is on.
pub struct Announced {
    answer: Answer,
    alt_svc: Option<HeaderValue>,
}

impl Future for Announced {
    type Output = hyper::Response<WireBody>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let mut response = std::task::ready!(Pin::new(&mut this.answer).poll(cx));
        if let Some(alt_svc) = this.alt_svc.take() {
            response
                .headers_mut()
                .insert(http::header::ALT_SVC, alt_svc);
        }
        Poll::Ready(response)
    }
}

/// The admin API.
pub struct AdminService(Arc<AdminApi>);

pub fn admin_service(api: Arc<AdminApi>) -> Arc<AdminService> {
    Arc::new(AdminService(api))
}

impl Service for AdminService {
    type Answer = Pin<Box<dyn Future<Output = hyper::Response<WireBody>> + Send>>;

    fn call(
        &self,
        request: hyper::Request<Incoming>,
        _scheme: &'static str,
        _client: IpAddr,
    ) -> Self::Answer {
        let api = self.0.clone();
        Box::pin(async move { api.handle(request).await })
    }
}

/// A running listener: its address, and a way to stop it.
pub struct ServerHandle {
    pub local_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    /// Its open connections, wherever they are served.
    connections: TaskTracker,
}

impl ServerHandle {
    /// Stops accepting connections and lets open connections finish the
    /// requests they are serving (idle ones close at once) for up to
    /// `deadline`, then returns; connections still open then end with the
    /// process.
    pub async fn shutdown(self, deadline: Duration) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
        self.connections.close();
        if tokio::time::timeout(deadline, self.connections.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                connections = self.connections.len(),
                "connections still serving requests at the shutdown deadline; closing"
            );
        }
    }
}

/// Where a listener's accepted connections are served.
pub enum ConnectionHome {
    /// On the runtime that accepted them (the admin API).
    Here,
    /// On the isolate threads, in turn (the edge): a request and the
    /// isolate that answers it then usually share a thread, and crossing
    /// threads (a wake-up and a context switch each way) was most of what
    /// a small request cost beyond the socket calls.
    IsolateThreads(Arc<EdgeHandler>),
}

/// Serves `service` on `listener`, with TLS when `tls` is set, admitting
/// connections within `limits`; with `counted`, connections are counted in
/// those metrics by protocol (and refused ones by reason).
pub fn serve_tcp<S: Service>(
    listener: TcpListener,
    tls: Option<Arc<ServerConfig>>,
    service: Arc<S>,
    counted: Option<Arc<Metrics>>,
    home: ConnectionHome,
    limits: ConnectionLimits,
) -> std::io::Result<ServerHandle> {
    let local_addr = listener.local_addr()?;
    let (shutdown, mut stopping) = watch::channel(false);
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let connections = TaskTracker::new();
    let tracker = connections.clone();
    let admission = Admission::new(limits);
    let task = tokio::spawn(async move {
        let mut backoff = AcceptBackoff::default();
        loop {
            let (stream, peer) = tokio::select! {
              accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                  let delay = backoff.failed(&error);
                  tokio::select! {
                    _ = tokio::time::sleep(delay) => continue,
                    _ = stopping.changed() => break,
                  }
                }
              },
              _ = stopping.changed() => break,
            };
            backoff.succeeded();
            let ticket = match admission.admit(peer.ip()) {
                Ok(ticket) => ticket,
                Err(refused) => {
                    // Closed at once: the client learns there is no room
                    // without holding a descriptor here.
                    tracing::debug!(%peer, reason = refused.label(), "connection refused");
                    if let Some(metrics) = &counted {
                        metrics.connection_refused(refused.label());
                    }
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let connection = Connection {
                peer,
                acceptor: acceptor.clone(),
                service: service.clone(),
                counted: counted.clone(),
                stopping: stopping.clone(),
                ticket,
                limits: admission.limits().clone(),
            };
            match &home {
                ConnectionHome::Here => {
                    tracker.spawn(connection.serve(stream));
                }
                ConnectionHome::IsolateThreads(handler) => {
                    // The socket leaves this runtime's reactor and joins
                    // the isolate thread's.
                    let stream = match stream.into_std() {
                        Ok(stream) => stream,
                        Err(error) => {
                            tracing::warn!(%peer, %error, "cannot hand a connection over");
                            continue;
                        }
                    };
                    let serving = tracker.clone();
                    handler.run_on_isolate_thread(Box::new(move || {
                        match TcpStream::from_std(stream) {
                            Ok(stream) => drop(serving.spawn(connection.serve(stream))),
                            Err(error) => {
                                tracing::warn!(%peer, %error, "cannot take a connection over")
                            }
                        }
                    }));
                }
            }
        }
    });
    Ok(ServerHandle {
        local_addr,
        shutdown,
        task,
        connections,
    })
}

/// An accepted connection and what serves it.
struct Connection<S> {
    peer: SocketAddr,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    service: Arc<S>,
    counted: Option<Arc<Metrics>>,
    stopping: watch::Receiver<bool>,
    /// Its place under the connection caps, held as long as its socket.
    ticket: Ticket,
    limits: ConnectionLimits,
}

impl<S: Service> Connection<S> {
    async fn serve(self, stream: TcpStream) {
        let Connection {
            peer,
            acceptor,
            service,
            counted,
            stopping,
            ticket,
            limits,
        } = self;
        let activity = Activity::default();
        let stream = Watched {
            stream,
            activity: activity.clone(),
            _ticket: ticket,
        };
        let serving = Serving {
            client: peer.ip(),
            service,
            counted,
            stopping,
            activity,
            limits,
        };
        match acceptor {
            None => serving.serve(CoalescedWrites::new(stream), "http").await,
            Some(acceptor) => {
                let handshake = acceptor.accept(stream);
                match tokio::time::timeout(serving.limits.header_timeout, handshake).await {
                    Ok(Ok(stream)) => serving.serve(stream, "https").await,
                    Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                }
            }
        }
    }
}

/// What serves a connection once it speaks HTTP.
struct Serving<S> {
    client: IpAddr,
    service: Arc<S>,
    counted: Option<Arc<Metrics>>,
    stopping: watch::Receiver<bool>,
    activity: Activity,
    limits: ConnectionLimits,
}

impl<S: Service> Serving<S> {
    async fn serve<IO>(self, stream: IO, scheme: &'static str)
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let Serving {
            client,
            service,
            counted,
            mut stopping,
            activity,
            limits,
        } = self;
        // The first request tells which protocol the client chose.
        let first_request = AtomicBool::new(counted.is_some());
        let answering = activity.clone();
        let service = service_fn(move |request: hyper::Request<Incoming>| {
            if first_request.swap(false, Ordering::Relaxed) {
                let protocol = match request.version() {
                    http::Version::HTTP_2 => "h2",
                    _ => "http1",
                };
                if let Some(metrics) = &counted {
                    metrics.connection(protocol);
                }
            }
            let response = service.call(request, scheme, client);
            let pending = answering.answer_pending();
            async move {
                let response = response.await;
                drop(pending);
                Ok::<_, std::convert::Infallible>(response)
            }
        });
        let mut builder = auto::Builder::new(TokioExecutor::new());
        // hyper restarts this timeout whenever it waits for a request head, so
        // it also closes idle keep-alive connections.
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout);
        // With upgrades: WebSocket handshakes hand the connection to the worker.
        let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
        tokio::pin!(connection);
        let mut idle_check = tokio::time::interval_at(
            tokio::time::Instant::now() + limits.idle_timeout,
            limits.idle_timeout,
        );
        // After a stall of the thread (JS running long), one check, not a
        // burst of them that would find nothing moved and close at once.
        idle_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut seen = activity.count();
        let mut asked_to_close = false;
        loop {
            // Biased: polled on every wake-up of the connection, so no random
            // branch order (each draw costs an RNG step). The connection cannot
            // starve the other branches: it is only ready once, when it ends.
            tokio::select! {
              biased;
              result = connection.as_mut() => {
                if let Err(error) = result {
                  tracing::debug!(%error, "connection ended with an error");
                }
                return;
              }
              _ = stopping.changed(), if !asked_to_close => {
                connection.as_mut().graceful_shutdown();
                asked_to_close = true;
              }
              _ = idle_check.tick() => {
                let now = activity.count();
                if now == seen && !activity.answering() {
                  if asked_to_close {
                    tracing::debug!("closing a connection idle since it was asked to close");
                    return;
                  }
                  connection.as_mut().graceful_shutdown();
                  asked_to_close = true;
                }
                seen = now;
              }
            }
        }
    }
}

/// A connection's socket, which counts the bytes moved on it for the idle
/// check and holds its place under the connection caps until it closes
/// (also after a WebSocket upgrade takes it from hyper).
struct Watched {
    stream: TcpStream,
    activity: Activity,
    _ticket: Ticket,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let result = Pin::new(&mut self.stream).poll_read(cx, buf);
        if result.is_ready() {
            self.activity.bump();
        }
        result
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.stream).poll_write(cx, buf);
        if result.is_ready() {
            self.activity.bump();
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if result.is_ready() {
            self.activity.bump();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Largest vectored write sent as one buffer by [`CoalescedWrites`].
const COALESCE_BYTES: usize = 4096;

/// A plain TCP stream that sends a small vectored write as one buffer.
/// hyper writes a response's head and body as separate buffers; for a small
/// response, copying them together and sending them with `send` costs less
/// than the kernel's `writev` path (its iovec import, file-position lock
/// and permission checks: about 0.25 µs per request, see BENCHMARKS.md).
/// Large writes stay vectored, so big bodies are not copied.
struct CoalescedWrites {
    stream: Watched,
    /// Reused for each small write; grows once per connection.
    joined: Vec<u8>,
}

impl CoalescedWrites {
    fn new(stream: Watched) -> Self {
        Self {
            stream,
            joined: Vec::new(),
        }
    }
}

impl AsyncRead for CoalescedWrites {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for CoalescedWrites {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let total: usize = bufs.iter().map(|buf| buf.len()).sum();
        if bufs.len() < 2 || total > COALESCE_BYTES {
            return Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        }
        this.joined.clear();
        for buf in bufs {
            this.joined.extend_from_slice(buf);
        }
        // A partial write covers a prefix of the buffers, as writev's would.
        Pin::new(&mut this.stream).poll_write(cx, &this.joined)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
