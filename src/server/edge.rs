//! A node's edge listeners: HTTP/1.1 and HTTP/2 over TCP, and with TLS also
//! HTTP/3 over QUIC on the same port number, announced to TCP clients with
//! `Alt-Svc` so that browsers switch.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;

use super::h3::{serve_h3, H3Error, H3Handle, QuicOptions};
use super::handler::EdgeHandler;
use super::tcp::{edge_service, serve_tcp, ServerHandle};
use super::tls::{Certificates, TlsError};

/// How long `Alt-Svc` tells clients HTTP/3 stays available, in seconds.
const ALT_SVC_MAX_AGE: u32 = 86_400;
/// How many ports to try when port 0 gives a TCP port whose UDP twin is taken.
const PORT_ATTEMPTS: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    H3(#[from] H3Error),
}

/// What the edge serves with.
pub struct EdgeOptions {
    pub addr: SocketAddr,
    /// TLS certificates; without them, cleartext HTTP/1.1 and h2c only.
    pub certificates: Option<Arc<Certificates>>,
    /// HTTP/3 settings; `None` turns HTTP/3 off.
    pub quic: Option<QuicOptions>,
}

/// The running listeners.
pub struct Edge {
    pub tcp: ServerHandle,
    pub h3: Option<H3Handle>,
}

impl Edge {
    /// `http://ADDR` or `https://ADDR`.
    pub fn url(&self, tls: bool) -> String {
        let scheme = if tls { "https" } else { "http" };
        format!("{scheme}://{}", self.tcp.local_addr)
    }

    /// Stops both listeners, letting requests in flight finish (HTTP/3
    /// connections are closed after `deadline`).
    pub async fn shutdown(self, deadline: Duration) {
        let h3 = async {
            if let Some(h3) = self.h3 {
                h3.shutdown(deadline).await;
            }
        };
        tokio::join!(self.tcp.shutdown(), h3);
    }
}

/// Starts the edge listeners for `handler`.
pub async fn start_edge(
    handler: Arc<EdgeHandler>,
    options: EdgeOptions,
) -> Result<Edge, EdgeError> {
    let Some(certificates) = &options.certificates else {
        let listener = bind_tcp(options.addr).await?;
        let tcp = serve_tcp(listener, None, edge_service(handler, None)).map_err(|source| {
            EdgeError::Bind {
                addr: options.addr,
                source,
            }
        })?;
        return Ok(Edge { tcp, h3: None });
    };
    let tls = certificates.tcp_config()?;
    let Some(quic) = &options.quic else {
        let listener = bind_tcp(options.addr).await?;
        let tcp =
            serve_tcp(listener, Some(tls), edge_service(handler, None)).map_err(|source| {
                EdgeError::Bind {
                    addr: options.addr,
                    source,
                }
            })?;
        return Ok(Edge { tcp, h3: None });
    };
    // TCP and UDP on one port number: with port 0, take the TCP port the
    // system picks and try again if its UDP twin is in use.
    let mut attempt = 0;
    let (listener, h3) = loop {
        attempt += 1;
        let listener = bind_tcp(options.addr).await?;
        let addr = listener.local_addr().map_err(|source| EdgeError::Bind {
            addr: options.addr,
            source,
        })?;
        match serve_h3(addr, certificates, quic, handler.clone()) {
            Ok(h3) => break (listener, h3),
            Err(H3Error::Bind { .. }) if options.addr.port() == 0 && attempt < PORT_ATTEMPTS => {
                continue
            }
            Err(error) => return Err(error.into()),
        }
    };
    let alt_svc = HeaderValue::try_from(format!(
        "h3=\":{}\"; ma={ALT_SVC_MAX_AGE}",
        h3.local_addr.port()
    ))
    .expect("a valid header value");
    let tcp =
        serve_tcp(listener, Some(tls), edge_service(handler, Some(alt_svc))).map_err(|source| {
            EdgeError::Bind {
                addr: options.addr,
                source,
            }
        })?;
    Ok(Edge { tcp, h3: Some(h3) })
}

async fn bind_tcp(addr: SocketAddr) -> Result<tokio::net::TcpListener, EdgeError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| EdgeError::Bind { addr, source })
}
