//! Outbound TCP sockets, `cloudflare:sockets`' `connect()` (js/cloudflare/
//! 11_sockets.js; `node:net` and `node:tls` are built on it): plain TCP or
//! TLS, and plain TCP upgraded to TLS later (`startTls`); and `node:dns`'
//! lookups. Hosts go through the outbound policy (net.rs) like `fetch`; a
//! socket belongs to the request that opened it and is closed when that
//! request ends.

use std::borrow::Cow;
use std::cell::RefCell;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use deno_core::op2;
use deno_core::AsyncRefCell;
use deno_core::CancelFuture;
use deno_core::CancelHandle;
use deno_core::JsBuffer;
use deno_core::OpState;
use deno_core::RcRef;
use deno_core::Resource;
use deno_core::ResourceId;
use deno_error::JsErrorBox;
use deno_tls::rustls::pki_types::ServerName;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::io::{ReadHalf, WriteHalf};
use tokio::net::TcpStream;

use super::http::CpuLedger;
use super::net::{self, ConnectFailure};
use super::owned;

/// How long a connection (TCP and, for TLS, the handshake) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long ending the writing side may wait for the peer to take the rest.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a DNS lookup may take.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection, before or after TLS.
enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            Stream::Tls(stream) => Pin::new(stream).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(stream) => Pin::new(stream).poll_write(cx, buf),
            Stream::Tls(stream) => Pin::new(stream).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(stream) => Pin::new(stream).poll_flush(cx),
            Stream::Tls(stream) => Pin::new(stream).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(stream) => Pin::new(stream).poll_shutdown(cx),
            Stream::Tls(stream) => Pin::new(stream).poll_shutdown(cx),
        }
    }
}

/// A worker's socket. The halves are taken out by `startTls`, which joins
/// them again under TLS in a new resource.
struct SocketResource {
    reader: AsyncRefCell<Option<ReadHalf<Stream>>>,
    writer: AsyncRefCell<Option<WriteHalf<Stream>>>,
    /// Cancelled when the socket is closed: pending reads and writes end.
    cancel: CancelHandle,
    /// Cancelled when the socket is upgraded too: a pending read ends, while
    /// writes already made go out before the TLS handshake.
    read_cancel: CancelHandle,
}

impl SocketResource {
    fn new(stream: Stream) -> Self {
        let (reader, writer) = tokio::io::split(stream);
        Self {
            reader: AsyncRefCell::new(Some(reader)),
            writer: AsyncRefCell::new(Some(writer)),
            cancel: CancelHandle::new(),
            read_cancel: CancelHandle::new(),
        }
    }
}

impl Resource for SocketResource {
    fn name(&self) -> Cow<'_, str> {
        "ridgeSocket".into()
    }

    fn close(self: Rc<Self>) {
        self.cancel.cancel();
        self.read_cancel.cancel();
    }
}

fn request_ended() -> JsErrorBox {
    JsErrorBox::generic(
        "The request this code runs for has ended: sockets and DNS lookups belong to a request",
    )
}

/// Adds a socket of request `request` to the table, to be closed when
/// that request ends; none is added for a request that ended while it
/// connected.
fn register(
    state: &Rc<RefCell<OpState>>,
    request: ResourceId,
    stream: Stream,
) -> Result<ResourceId, JsErrorBox> {
    let mut state = state.borrow_mut();
    let rid = state.resource_table.add(SocketResource::new(stream));
    if !owned::adopt(&mut state, request, rid) {
        drop(state.resource_table.take_any(rid));
        return Err(request_ended());
    }
    Ok(rid)
}

/// What connecting gave: the socket and where it is connected (node:net's
/// address fields), or why it failed, with a Node.js error code.
#[derive(Serialize)]
#[serde(tag = "outcome", rename_all = "camelCase")]
pub enum Connection {
    #[serde(rename_all = "camelCase")]
    Open {
        rid: ResourceId,
        remote_address: String,
        remote_port: u16,
        local_address: String,
        local_port: u16,
    },
    Failed(ConnectFailure),
}

async fn tls_handshake(host: &str, tcp: TcpStream) -> Result<Stream, ConnectFailure> {
    let name = ServerName::try_from(host.to_string()).map_err(|_| {
        ConnectFailure::new(
            "ERR_TLS_CERT_ALTNAME_INVALID",
            format!("{host:?} is not a valid TLS server name"),
        )
    })?;
    let config = net::tls_client_config()
        .map_err(|error| ConnectFailure::new("ERR_TLS_UNAVAILABLE", error.to_string()))?;
    let stream = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|error| {
            ConnectFailure::new(
                "ERR_TLS_HANDSHAKE_FAILED",
                format!("TLS handshake with {host} failed: {error}"),
            )
        })?;
    Ok(Stream::Tls(Box::new(stream)))
}

async fn open(
    host: &str,
    port: u16,
    tls: bool,
) -> Result<(Stream, SocketAddr, SocketAddr), ConnectFailure> {
    let what = format!("connection to {host}:{port}");
    let mut last_error = None;
    for addr in net::allowed_addresses(&what, host, port).await? {
        match TcpStream::connect(addr).await {
            Ok(tcp) => {
                // Small writes (a database's queries) go out at once.
                let _ = tcp.set_nodelay(true);
                let local = tcp
                    .local_addr()
                    .map_err(|error| ConnectFailure::io(&what, &error))?;
                let stream = match tls {
                    true => tls_handshake(host, tcp).await?,
                    false => Stream::Plain(tcp),
                };
                return Ok((stream, addr, local));
            }
            Err(error) => last_error = Some(error),
        }
    }
    Err(match last_error {
        Some(error) => ConnectFailure::io(&what, &error),
        None => ConnectFailure::new("ENOTFOUND", format!("{what} failed: {host} has no address")),
    })
}

/// Registers a connected stream of request `request` and tells JS where it
/// is connected.
fn open_connection(
    state: &Rc<RefCell<OpState>>,
    request: ResourceId,
    stream: Stream,
    remote: SocketAddr,
    local: SocketAddr,
) -> Result<Connection, JsErrorBox> {
    Ok(Connection::Open {
        rid: register(state, request, stream)?,
        remote_address: remote.ip().to_string(),
        remote_port: remote.port(),
        local_address: local.ip().to_string(),
        local_port: local.port(),
    })
}

/// Connects to `host:port` for request `request` (refused by the policy
/// like `fetch`), over TLS when `tls`.
#[op2]
#[serde]
pub async fn op_ridge_socket_connect(
    state: Rc<RefCell<OpState>>,
    #[smi] request: ResourceId,
    #[string] host: String,
    #[smi] port: u16,
    tls: bool,
) -> Result<Connection, JsErrorBox> {
    // Code left running after its request (a timer, a captured async
    // context) may not connect: its request's limits no longer count it.
    if !state.borrow().borrow::<CpuLedger>().is_open(request) {
        return Err(request_ended());
    }
    let opened = tokio::time::timeout(CONNECT_TIMEOUT, open(&host, port, tls))
        .await
        .unwrap_or_else(|_| {
            Err(ConnectFailure::new(
                "ETIMEDOUT",
                format!("connection to {host}:{port} timed out"),
            ))
        });
    match opened {
        Ok((stream, remote, local)) => open_connection(&state, request, stream, remote, local),
        Err(failure) => Ok(Connection::Failed(failure)),
    }
}

fn socket(state: &Rc<RefCell<OpState>>, rid: ResourceId) -> Result<Rc<SocketResource>, JsErrorBox> {
    state
        .borrow()
        .resource_table
        .get::<SocketResource>(rid)
        .map_err(JsErrorBox::from_err)
}

fn closed() -> JsErrorBox {
    JsErrorBox::new("Interrupted", "The socket was closed")
}

/// Reads into `buffer`; 0 at the end of the stream.
#[op2]
#[smi]
pub async fn op_ridge_socket_read(
    state: Rc<RefCell<OpState>>,
    #[smi] rid: ResourceId,
    #[buffer] mut buffer: JsBuffer,
) -> Result<usize, JsErrorBox> {
    let socket = socket(&state, rid)?;
    let cancel = RcRef::map(&socket, |s| &s.read_cancel);
    let mut reader = RcRef::map(&socket, |s| &s.reader).borrow_mut().await;
    let reader = (*reader).as_mut().ok_or_else(closed)?;
    match reader.read(&mut buffer).or_cancel(cancel).await {
        Ok(read) => {
            read.map_err(|error| JsErrorBox::generic(format!("socket read failed: {error}")))
        }
        Err(_) => Err(closed()),
    }
}

/// Writes all of `data`.
#[op2]
pub async fn op_ridge_socket_write(
    state: Rc<RefCell<OpState>>,
    #[smi] rid: ResourceId,
    #[buffer] data: JsBuffer,
) -> Result<(), JsErrorBox> {
    let socket = socket(&state, rid)?;
    let cancel = RcRef::map(&socket, |s| &s.cancel);
    let mut writer = RcRef::map(&socket, |s| &s.writer).borrow_mut().await;
    let writer = (*writer).as_mut().ok_or_else(closed)?;
    let write = async {
        writer.write_all(&data).await?;
        writer.flush().await
    };
    match write.or_cancel(cancel).await {
        Ok(written) => {
            written.map_err(|error| JsErrorBox::generic(format!("socket write failed: {error}")))
        }
        Err(_) => Err(closed()),
    }
}

/// Ends the writing side (a TCP FIN, after TLS's close_notify); the other
/// side may go on sending. Bounded in time and ended by close(): a peer
/// that stops reading must not keep the connection open.
#[op2]
pub async fn op_ridge_socket_shutdown(
    state: Rc<RefCell<OpState>>,
    #[smi] rid: ResourceId,
) -> Result<(), JsErrorBox> {
    let socket = socket(&state, rid)?;
    let cancel = RcRef::map(&socket, |s| &s.cancel);
    let mut writer = RcRef::map(&socket, |s| &s.writer).borrow_mut().await;
    if let Some(writer) = (*writer).as_mut() {
        // The peer may be gone already; the writing side is over either way.
        let _ = tokio::time::timeout(SHUTDOWN_TIMEOUT, writer.shutdown())
            .or_cancel(cancel)
            .await;
    }
    Ok(())
}

/// Upgrades a plain socket to TLS with `host` (`startTls`): the old
/// socket's pending read ends, its pending writes finish first (they were
/// meant to go out in plain text), and a new socket is returned.
#[op2]
#[serde]
pub async fn op_ridge_socket_start_tls(
    state: Rc<RefCell<OpState>>,
    #[smi] rid: ResourceId,
    #[string] host: String,
) -> Result<Connection, JsErrorBox> {
    let old = socket(&state, rid)?;
    old.read_cancel.cancel();
    let reader = RcRef::map(&old, |s| &s.reader).borrow_mut().await.take();
    let writer = RcRef::map(&old, |s| &s.writer).borrow_mut().await.take();
    let (Some(reader), Some(writer)) = (reader, writer) else {
        return Err(closed());
    };
    let Stream::Plain(tcp) = reader.unsplit(writer) else {
        return Err(JsErrorBox::type_error("Cannot startTls on a TLS socket."));
    };
    let (remote, local) = (tcp.peer_addr(), tcp.local_addr());
    let request = {
        let mut state = state.borrow_mut();
        let _ = state.resource_table.take_any(rid);
        owned::release(&mut state, rid)
    };
    let request = request.ok_or_else(closed)?;
    let handshake = tokio::time::timeout(CONNECT_TIMEOUT, tls_handshake(&host, tcp))
        .await
        .unwrap_or_else(|_| {
            Err(ConnectFailure::new(
                "ETIMEDOUT",
                format!("TLS handshake with {host} timed out"),
            ))
        });
    match (handshake, remote, local) {
        (Ok(stream), Ok(remote), Ok(local)) => {
            open_connection(&state, request, stream, remote, local)
        }
        (Err(failure), ..) => Ok(Connection::Failed(failure)),
        (_, Err(error), _) | (_, _, Err(error)) => Ok(Connection::Failed(ConnectFailure::io(
            &format!("TLS upgrade with {host}"),
            &error,
        ))),
    }
}

/// What a DNS lookup found: addresses with their family (4 or 6), or why
/// there are none, with a Node.js error code.
#[derive(Serialize)]
#[serde(tag = "outcome", rename_all = "camelCase")]
pub enum Lookup {
    Found { addresses: Vec<(String, u8)> },
    Failed(ConnectFailure),
}

/// Resolves `host` with the node's resolver (node:dns' `lookup`), refusing
/// names that lead to addresses workers may not reach, like `connect()`.
/// A lookup belongs to a request (JS counts it as a subrequest) and is
/// bounded in time.
#[op2]
#[serde]
pub async fn op_ridge_dns_lookup(
    state: Rc<RefCell<OpState>>,
    #[smi] request: ResourceId,
    #[string] host: String,
) -> Result<Lookup, JsErrorBox> {
    if !state.borrow().borrow::<CpuLedger>().is_open(request) {
        return Err(request_ended());
    }
    let what = format!("lookup of {host}");
    let found = tokio::time::timeout(LOOKUP_TIMEOUT, net::allowed_addresses(&what, &host, 0))
        .await
        .unwrap_or_else(|_| {
            Err(ConnectFailure::new(
                "ETIMEOUT",
                format!("lookup of {host} timed out"),
            ))
        });
    Ok(match found {
        Ok(addrs) => {
            let mut addresses: Vec<(String, u8)> = Vec::new();
            for addr in addrs {
                let entry = (addr.ip().to_string(), if addr.is_ipv4() { 4 } else { 6 });
                if !addresses.contains(&entry) {
                    addresses.push(entry);
                }
            }
            Lookup::Found { addresses }
        }
        Err(failure) => Lookup::Failed(failure),
    })
}
