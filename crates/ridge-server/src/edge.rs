//! A node's edge listeners: HTTP/1.1 and HTTP/2 over TCP, and with TLS also
//! HTTP/3 over QUIC on the same port number, announced to TCP clients with
//! `Alt-Svc` so that browsers switch.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;

use super::connections::ConnectionLimits;
use super::h3::{serve_h3, H3Error, H3Handle, QuicOptions};
use super::handler::EdgeHandler;
use super::tcp::{edge_service, serve_tcp, ConnectionHome, ServerHandle};
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
    /// What the TCP listener admits, and for how long.
    pub connections: ConnectionLimits,
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

    /// Stops both listeners, letting requests in flight finish for up to
    /// `deadline`.
    pub async fn shutdown(self, deadline: Duration) {
        let h3 = async {
            if let Some(h3) = self.h3 {
                h3.shutdown(deadline).await;
            }
        };
        tokio::join!(self.tcp.shutdown(deadline), h3);
    }
}

/// Starts the edge listeners for `handler`.
pub async fn start_edge(
    handler: Arc<EdgeHandler>,
    options: EdgeOptions,
) -> Result<Edge, EdgeError> {
    let tls = options
        .certificates
        .as_ref()
        .map(|certificates| certificates.tcp_config())
        .transpose()?;
    let (listener, h3) = match (&options.certificates, &options.quic) {
        (Some(certificates), Some(quic)) => {
            let (listener, h3) =
                bind_tcp_and_quic(options.addr, certificates, quic, &handler).await?;
            (listener, Some(h3))
        }
        _ => (bind_tcp(options.addr).await?, None),
    };
    let alt_svc = h3.as_ref().map(|h3| {
        HeaderValue::try_from(format!(
            "h3=\":{}\"; ma={ALT_SVC_MAX_AGE}",
            h3.local_addr.port()
        ))
        .expect("a valid header value")
    });
    let tcp = serve_tcp(
        listener,
        tls,
        edge_service(handler.clone(), alt_svc),
        Some(handler.observers().metrics.clone()),
        ConnectionHome::IsolateThreads(handler.clone()),
        options.connections,
    )
    .map_err(|source| EdgeError::Bind {
        addr: options.addr,
        source,
    })?;
    Ok(Edge { tcp, h3 })
}

/// TCP and UDP on one port number: with port 0, takes the TCP port the
/// system picks, and tries again if its UDP twin is in use.
async fn bind_tcp_and_quic(
    addr: SocketAddr,
    certificates: &Arc<Certificates>,
    quic: &QuicOptions,
    handler: &Arc<EdgeHandler>,
) -> Result<(tokio::net::TcpListener, H3Handle), EdgeError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let listener = bind_tcp(addr).await?;
        let bound = listener
            .local_addr()
            .map_err(|source| EdgeError::Bind { addr, source })?;
        match serve_h3(bound, certificates, quic, handler.clone()) {
            Ok(h3) => return Ok((listener, h3)),
            Err(H3Error::Bind { .. }) if addr.port() == 0 && attempt < PORT_ATTEMPTS => continue,
            Err(error) => return Err(error.into()),
        }
    }
}

async fn bind_tcp(addr: SocketAddr) -> Result<tokio::net::TcpListener, EdgeError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| EdgeError::Bind { addr, source })
}
