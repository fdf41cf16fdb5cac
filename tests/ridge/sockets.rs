//! Outbound TCP from workers (fixtures/workers/sockets): cloudflare:sockets'
//! `connect()` in plain TCP, TLS and STARTTLS, node:net, node:tls and
//! node:dns on top of it, against real servers this test starts on
//! 127.0.0.1 (an echo server, the same over TLS with a certificate the node
//! trusts through --outbound-ca, and a STARTTLS one). Also what the
//! outbound policy refuses, the subrequest limit, and a socket left open
//! being closed when its request ends. node-postgres against a real
//! PostgreSQL is in projects.rs.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;

use crate::support::{fixture, serve, Ridge, TempDir};

/// How a test server speaks.
#[derive(Clone, Copy)]
enum Mode {
    Plain,
    Tls,
    /// Plain until "STARTTLS\n", answered with "GO\n", then TLS.
    StartTls,
}

/// A certificate for "localhost" and its key, as PEM, and the server
/// configuration that presents it.
struct Certificate {
    pem: String,
    acceptor: TlsAcceptor,
}

fn certificate() -> Certificate {
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(generated.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![generated.cert.der().clone()], key)
    .unwrap();
    Certificate {
        pem: generated.cert.pem(),
        acceptor: TlsAcceptor::from(Arc::new(config)),
    }
}

/// Reads to the end of the stream, then answers it upper-cased; reports
/// what it read.
async fn echo(
    mut stream: impl AsyncRead + AsyncWrite + Unpin,
    read: &mpsc::UnboundedSender<String>,
) {
    let mut text = Vec::new();
    if stream.read_to_end(&mut text).await.is_err() {
        return;
    }
    let text = String::from_utf8_lossy(&text).into_owned();
    let _ = stream.write_all(text.to_uppercase().as_bytes()).await;
    let _ = stream.shutdown().await;
    let _ = read.send(text);
}

/// Starts a server on 127.0.0.1; returns its port and what each
/// connection sent before it ended its side.
async fn server(
    mode: Mode,
    acceptor: Option<TlsAcceptor>,
) -> (u16, mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (sender, received) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let (sender, acceptor) = (sender.clone(), acceptor.clone());
            tokio::spawn(async move {
                match mode {
                    Mode::Plain => echo(stream, &sender).await,
                    Mode::Tls => {
                        if let Ok(tls) = acceptor.unwrap().accept(stream).await {
                            echo(tls, &sender).await;
                        }
                    }
                    Mode::StartTls => {
                        let mut plain = BufReader::new(stream);
                        let mut line = String::new();
                        plain.read_line(&mut line).await.unwrap();
                        assert_eq!(line, "STARTTLS\n");
                        plain.get_mut().write_all(b"GO\n").await.unwrap();
                        if let Ok(tls) = acceptor.unwrap().accept(plain.into_inner()).await {
                            echo(tls, &sender).await;
                        }
                    }
                }
            });
        }
    });
    (port, received)
}

/// The fixture served with 127.0.0.1 and localhost allowed (loopback is
/// otherwise refused in serve mode) and the test certificate trusted.
fn serve_sockets(certificate: &Certificate, dir: &TempDir) -> Ridge {
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &certificate.pem).unwrap();
    serve(
        &[("sockets", fixture("sockets"))],
        &[
            "--allow-outbound",
            "127.0.0.1",
            "--allow-outbound",
            "localhost",
            "--outbound-ca",
            &ca.display().to_string(),
        ],
    )
}

/// The fixture's answer to `path` (routed by its host), as JSON.
async fn answer(ridge: &Ridge, path: &str) -> Value {
    let (status, body) = ridge.get_host("sockets.test", path).await;
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|_| panic!("{path}: {body}"))
}

/// The fixture served as [`serve_sockets`] serves it, and the three kinds
/// of server it talks to (each: its port, and what it heard).
struct Setup {
    ridge: Ridge,
    _dir: TempDir,
    plain: (u16, mpsc::UnboundedReceiver<String>),
    tls: (u16, mpsc::UnboundedReceiver<String>),
    starttls: (u16, mpsc::UnboundedReceiver<String>),
}

async fn setup() -> Setup {
    let certificate = certificate();
    let dir = TempDir::new();
    let ridge = serve_sockets(&certificate, &dir);
    Setup {
        ridge,
        _dir: dir,
        plain: server(Mode::Plain, None).await,
        tls: server(Mode::Tls, Some(certificate.acceptor.clone())).await,
        starttls: server(Mode::StartTls, Some(certificate.acceptor)).await,
    }
}

async fn next(received: &mut mpsc::UnboundedReceiver<String>) -> String {
    tokio::time::timeout(Duration::from_secs(10), received.recv())
        .await
        .expect("the server heard nothing")
        .unwrap()
}

#[tokio::test]
async fn connect_speaks_tcp_tls_and_starttls() {
    let Setup {
        ridge,
        _dir,
        plain: (plain, mut plain_heard),
        tls: (tls, mut tls_heard),
        starttls: (starttls, mut starttls_heard),
    } = setup().await;

    assert_eq!(
        answer(&ridge, &format!("/plain?port={plain}")).await,
        json!({
            "opened": { "remoteAddress": format!("127.0.0.1:{plain}") },
            "text": "HELLO OVER TCP\n",
            "upgraded": false,
            "secureTransport": "off",
        })
    );
    assert_eq!(next(&mut plain_heard).await, "hello over tcp\n");

    assert_eq!(
        answer(&ridge, &format!("/tls?port={tls}")).await,
        json!({ "text": "HELLO OVER TLS\n", "secureTransport": "on" })
    );
    assert_eq!(next(&mut tls_heard).await, "hello over tls\n");

    assert_eq!(
        answer(&ridge, &format!("/starttls?port={starttls}")).await,
        json!({
            "go": "GO\n",
            "text": "HELLO AFTER STARTTLS\n",
            "upgraded": true,
            "secureTransport": "on",
        })
    );
    assert_eq!(next(&mut starttls_heard).await, "hello after starttls\n");

    // The certificate is for "localhost", not for 127.0.0.1.
    let untrusted = answer(&ridge, &format!("/untrusted?port={tls}")).await;
    assert_eq!(untrusted["code"], "ERR_TLS_HANDSHAKE_FAILED", "{untrusted}");
    assert!(
        untrusted["message"]
            .as_str()
            .unwrap()
            .starts_with("TLS handshake with 127.0.0.1 failed: invalid peer certificate"),
        "{untrusted}"
    );
}

#[tokio::test]
async fn node_net_tls_and_dns_run_on_sockets() {
    let Setup {
        ridge,
        _dir,
        plain: (plain, mut plain_heard),
        tls: (tls, mut tls_heard),
        starttls: (starttls, mut starttls_heard),
    } = setup().await;

    let text = "hello over node:net\n";
    assert_eq!(
        answer(&ridge, &format!("/net?port={plain}")).await,
        json!({
            "events": ["connect", "ready", "finish", "end", "close:false"],
            "data": text.to_uppercase(),
            "bytesRead": text.len(),
            "bytesWritten": text.len(),
            "remoteAddress": "127.0.0.1",
            "remoteFamily": "IPv4",
        })
    );
    assert_eq!(next(&mut plain_heard).await, text);

    let text = "hello over node:tls\n";
    assert_eq!(
        answer(&ridge, &format!("/node-tls?port={tls}")).await,
        json!({
            "events": ["connect", "ready", "secureConnect", "finish", "end", "close:false"],
            "data": text.to_uppercase(),
            "bytesRead": text.len(),
            "bytesWritten": text.len(),
            "encrypted": true,
            "authorized": true,
        })
    );
    assert_eq!(next(&mut tls_heard).await, text);

    let text = "hello after node starttls\n";
    assert_eq!(
        answer(&ridge, &format!("/node-starttls?port={starttls}")).await,
        json!({
            "go": "GO\n",
            "events": ["connect", "ready", "secureConnect", "finish", "end", "close:false"],
            "data": text.to_uppercase(),
            "bytesRead": text.len(),
            "bytesWritten": text.len(),
        })
    );
    assert_eq!(next(&mut starttls_heard).await, text);

    // A closed port: Node's error, from the connection's failure.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let refused = answer(&ridge, &format!("/net-refused?port={port}")).await;
    assert_eq!(refused["code"], "ECONNREFUSED", "{refused}");
    assert_eq!(refused["syscall"], "connect", "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .starts_with(&format!("connect ECONNREFUSED 127.0.0.1:{port}")),
        "{refused}"
    );

    let dns = answer(&ridge, "/dns").await;
    assert_eq!(
        dns["localhost"],
        json!({ "address": "127.0.0.1", "family": 4 })
    );
    assert_eq!(
        dns["literal"],
        json!({ "address": "10.1.2.3", "family": 4 })
    );
    assert_eq!(
        dns["all"],
        json!({ "ok": [{ "address": "127.0.0.1", "family": 4 }] })
    );
    assert_eq!(
        dns["missing"],
        json!({ "code": "ENOTFOUND", "syscall": "getaddrinfo" })
    );
    assert_eq!(dns["txt"]["code"], "ERR_METHOD_NOT_IMPLEMENTED", "{dns}");
}

#[tokio::test]
async fn sockets_follow_the_outbound_policy_and_the_limits() {
    let (port, mut heard) = server(Mode::Plain, None).await;
    // Loopback allowed on the echo server's port only.
    let ridge = serve(
        &[("sockets", fixture("sockets"))],
        &["--allow-outbound", &format!("127.0.0.1:{port}")],
    );
    let other = port.wrapping_add(1).max(1024);
    assert_eq!(
        answer(&ridge, &format!("/refused?port={other}")).await,
        json!({
            "name": "Error",
            "code": "EACCES",
            "message": format!("connection to 127.0.0.1:{other} refused: --allow-outbound allows 127.0.0.1 only on port {port}"),
        })
    );
    // A name that resolves to loopback, without being listed.
    let dns = answer(&ridge, "/dns").await;
    assert_eq!(dns["localhost"]["code"], "EACCES", "{dns}");
    assert!(
        dns["all"]["message"]
            .as_str()
            .unwrap()
            .contains("lookup of localhost refused: localhost resolves to a loopback address"),
        "{dns}"
    );

    // Each connect() is a subrequest: the fixture allows 4.
    assert_eq!(
        answer(&ridge, &format!("/many?port={port}")).await,
        json!([
            "connected",
            "connected",
            "connected",
            "connected",
            "Too many subrequests: a worker may call fetch() at most 4 times per request",
        ])
    );

    // A socket the worker never closes is closed when its request ends:
    // the server sees the end of the stream.
    assert_eq!(
        answer(&ridge, &format!("/left-open?port={port}")).await,
        json!({ "written": true })
    );
    let mut last = String::new();
    for _ in 0..5 {
        last = next(&mut heard).await;
    }
    assert_eq!(last, "left open\n");

    let errors = answer(&ridge, "/errors").await;
    assert_eq!(
        errors,
        json!({
            "noPort": "TypeError: Specified address is missing port.",
            "badPort": "TypeError: Value out of range. Must be less than or equal to 65535.",
            "badTransport": "TypeError: Unsupported value in secureTransport socket option: maybe",
            "startTlsOff": "TypeError: The `secureTransport` socket option must be set to 'starttls' for startTls to be used.",
            "nonBytes": { "name": "TypeError", "message": "This WritableStream only supports writing byte types." },
        })
    );
}
