//! TCP listeners: HTTP/1.1 and HTTP/2 (h2c with prior knowledge, or h2
//! negotiated by ALPN over TLS), served by hyper, for the data plane and the
//! admin API alike.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use http::HeaderValue;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::admin::AdminApi;
use super::body::WireBody;
use super::handler::EdgeHandler;
use crate::observe::Metrics;

/// What answers requests on a listener: given a request and its scheme
/// ("http" or "https"), the response.
pub type Service = Arc<
    dyn Fn(
            hyper::Request<Incoming>,
            &'static str,
        )
            -> std::pin::Pin<Box<dyn std::future::Future<Output = hyper::Response<WireBody>> + Send>>
        + Send
        + Sync,
>;

/// The data plane: requests go to workers. `alt_svc`, when set, is added
/// to every response (it announces HTTP/3).
pub fn edge_service(handler: Arc<EdgeHandler>, alt_svc: Option<HeaderValue>) -> Service {
    Arc::new(move |request, scheme| {
        let handler = handler.clone();
        let alt_svc = alt_svc.clone();
        Box::pin(async move {
            let mut response = handler.handle(request, scheme).await;
            if let Some(alt_svc) = alt_svc {
                response
                    .headers_mut()
                    .insert(http::header::ALT_SVC, alt_svc);
            }
            response
        })
    })
}

/// The admin API.
pub fn admin_service(api: Arc<AdminApi>) -> Service {
    Arc::new(move |request, _scheme| {
        let api = api.clone();
        Box::pin(async move { api.handle(request).await })
    })
}

/// A running listener: its address, and a way to stop it.
pub struct ServerHandle {
    pub local_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl ServerHandle {
    /// Stops accepting connections, lets open connections finish their
    /// requests, and waits for the accept loop to end.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
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

/// Serves `service` on `listener`, with TLS when `tls` is set; with
/// `count_connections`, connections are counted in the metrics by protocol.
pub fn serve_tcp(
    listener: TcpListener,
    tls: Option<Arc<ServerConfig>>,
    service: Service,
    count_connections: bool,
    home: ConnectionHome,
) -> std::io::Result<ServerHandle> {
    let local_addr = listener.local_addr()?;
    let (shutdown, mut stopping) = watch::channel(false);
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let task = tokio::spawn(async move {
        loop {
            let (stream, peer) = tokio::select! {
              accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                  tracing::warn!(%error, "accept failed");
                  continue;
                }
              },
              _ = stopping.changed() => break,
            };
            let _ = stream.set_nodelay(true);
            let connection = Connection {
                peer,
                acceptor: acceptor.clone(),
                service: service.clone(),
                count_connections,
                stopping: stopping.clone(),
            };
            match &home {
                ConnectionHome::Here => {
                    tokio::spawn(connection.serve(stream));
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
                    handler.run_on_isolate_thread(Box::new(move || {
                        match tokio::net::TcpStream::from_std(stream) {
                            Ok(stream) => drop(tokio::spawn(connection.serve(stream))),
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
    })
}

/// An accepted connection and what serves it.
struct Connection {
    peer: SocketAddr,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    service: Service,
    count_connections: bool,
    stopping: watch::Receiver<bool>,
}

impl Connection {
    async fn serve(self, stream: tokio::net::TcpStream) {
        let Connection {
            peer,
            acceptor,
            service,
            count_connections,
            stopping,
        } = self;
        match acceptor {
            None => serve_connection(stream, "http", service, count_connections, stopping).await,
            Some(acceptor) => match acceptor.accept(stream).await {
                Ok(stream) => {
                    serve_connection(stream, "https", service, count_connections, stopping).await
                }
                Err(error) => tracing::debug!(%peer, %error, "TLS handshake failed"),
            },
        }
    }
}

async fn serve_connection<S>(
    stream: S,
    scheme: &'static str,
    service: Service,
    count_connections: bool,
    mut stopping: watch::Receiver<bool>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    // The first request tells which protocol the client chose.
    let first_request = AtomicBool::new(count_connections);
    let service = service_fn(move |request: hyper::Request<Incoming>| {
        if first_request.swap(false, Ordering::Relaxed) {
            let protocol = match request.version() {
                http::Version::HTTP_2 => "h2",
                _ => "http1",
            };
            Metrics::global().connection(protocol);
        }
        let response = service(request, scheme);
        async move { Ok::<_, std::convert::Infallible>(response.await) }
    });
    let builder = auto::Builder::new(TokioExecutor::new());
    // With upgrades: WebSocket handshakes hand the connection to the worker.
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
    tokio::pin!(connection);
    // Biased: polled on every wake-up of the connection, so no random
    // branch order (each draw costs an RNG step). The connection cannot
    // starve the stop signal: it is only ready once, when it ends.
    tokio::select! {
      biased;
      result = connection.as_mut() => {
        if let Err(error) = result {
          tracing::debug!(%error, "connection ended with an error");
        }
      }
      _ = stopping.changed() => {
        connection.as_mut().graceful_shutdown();
        let _ = connection.await;
      }
    }
}
