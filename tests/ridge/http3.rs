//! HTTP/3 with a real QUIC client (quinn + h3), Alt-Svc on TLS responses,
//! and certificates chosen by SNI over TCP and QUIC.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use sha2::{Digest, Sha256};

use rustls::pki_types::{CertificateDer, ServerName};

use crate::accept_any_tls::client_tls;
use crate::support::{fixture, http1, https, serve, Ridge, TempDir};

type SendRequest = h3::client::SendRequest<h3_quinn::OpenStreams, Bytes>;

/// One HTTP/3 connection to a node.
pub struct H3Client {
    pub connection: quinn::Connection,
    send: SendRequest,
    _endpoint: quinn::Endpoint,
}

impl H3Client {
    /// Connects to `addr`, asking for `server_name` by SNI.
    pub async fn connect(addr: SocketAddr, server_name: &str) -> Result<Self, String> {
        let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(client_tls(b"h3")).unwrap();
        let mut endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
        endpoint.set_default_client_config(quinn::ClientConfig::new(Arc::new(crypto)));
        let connection = endpoint
            .connect(addr, server_name)
            .unwrap()
            .await
            .map_err(|e| e.to_string())?;
        let (mut driver, send) = h3::client::new(h3_quinn::Connection::new(connection.clone()))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let _ = std::future::poll_fn(|cx| driver.poll_close(cx)).await;
        });
        Ok(Self {
            connection,
            send,
            _endpoint: endpoint,
        })
    }

    /// The names in the certificate the server presented.
    pub fn peer_names(&self) -> Vec<String> {
        let identity = self.connection.peer_identity().unwrap();
        let chain = identity.downcast::<Vec<CertificateDer<'static>>>().unwrap();
        certificate_names(&chain[0])
    }

    /// Sends a request (with `body`, if any) and reads the whole answer,
    /// reading while still sending (an echo would deadlock otherwise).
    pub async fn send(
        &self,
        method: &str,
        url: &str,
        body: Option<Vec<u8>>,
    ) -> (http::Response<()>, Vec<u8>) {
        let mut send = self.send.clone();
        let request = http::Request::builder()
            .method(method)
            .uri(url)
            .body(())
            .unwrap();
        let (mut sending, mut receiving) = send.send_request(request).await.unwrap().split();
        let upload = async move {
            for chunk in body.as_deref().unwrap_or_default().chunks(256 * 1024) {
                sending
                    .send_data(Bytes::copy_from_slice(chunk))
                    .await
                    .unwrap();
            }
            sending.finish().await.unwrap();
        };
        let download = async move {
            let response = receiving.recv_response().await.unwrap();
            let mut received = Vec::new();
            while let Some(mut chunk) = receiving.recv_data().await.unwrap() {
                received.extend_from_slice(&chunk.copy_to_bytes(chunk.remaining()));
            }
            (response, received)
        };
        tokio::join!(upload, download).1
    }

    pub async fn get(&self, url: &str) -> (u16, String) {
        let (response, body) = self.send("GET", url, None).await;
        (
            response.status().as_u16(),
            String::from_utf8_lossy(&body).into_owned(),
        )
    }
}

fn certificate_names(der: &CertificateDer<'_>) -> Vec<String> {
    let (_, certificate) = x509_parser::parse_x509_certificate(der).unwrap();
    certificate
        .subject_alternative_name()
        .unwrap()
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|name| match name {
                    x509_parser::extensions::GeneralName::DNSName(dns) => Some(dns.to_string()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The HTTP/3 address a node announced.
fn h3_addr(ridge: &Ridge) -> SocketAddr {
    ridge
        .announced_url("HTTP/3 on udp://")
        .parse()
        .expect("HTTP/3 address")
}

#[tokio::test]
async fn hello_over_http3_and_alt_svc_over_tls() {
    let ridge = Ridge::dev(&crate::support::root().join("workers/hello"), &["--https"]);
    let addr = h3_addr(&ridge);
    assert_eq!(addr.port(), ridge.addr.port(), "UDP on the TCP port number");
    let client = H3Client::connect(addr, "localhost").await.unwrap();
    let (response, body) = client
        .send(
            "GET",
            &format!("https://localhost:{}/?name=h3", addr.port()),
            None,
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(body, b"Hello, h3!\n");
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; charset=utf-8"
    );

    // TCP clients are told about HTTP/3, over HTTP/1.1 and HTTP/2.
    let expected = format!("h3=\":{}\"; ma=86400", addr.port());
    for (client, version) in [
        (http1(), reqwest::Version::HTTP_11),
        (https(), reqwest::Version::HTTP_2),
    ] {
        let response = client.get(ridge.url("/")).send().await.unwrap();
        assert_eq!(response.version(), version);
        assert_eq!(response.headers()["alt-svc"], expected.as_str());
    }
    // Cleartext has no HTTP/3 to announce.
    let plain = Ridge::dev(&crate::support::root().join("workers/hello"), &[]);
    let response = http1().get(plain.url("/")).send().await.unwrap();
    assert!(response.headers().get("alt-svc").is_none());
}

#[tokio::test]
async fn streams_both_ways_over_http3() {
    let ridge = Ridge::dev(&fixture("streaming"), &["--https"]);
    let addr = h3_addr(&ridge);
    let client = H3Client::connect(addr, "localhost").await.unwrap();
    let base = format!("https://localhost:{}", addr.port());

    // The first chunk arrives before the worker makes the last.
    let mut send = client.send.clone();
    let request = http::Request::get(format!("{base}/stream?id=h3"))
        .body(())
        .unwrap();
    let mut stream = send.send_request(request).await.unwrap();
    stream.finish().await.unwrap();
    assert_eq!(stream.recv_response().await.unwrap().status(), 200);
    let mut first = tokio::time::timeout(Duration::from_secs(10), stream.recv_data())
        .await
        .expect("first chunk")
        .unwrap()
        .unwrap();
    assert_eq!(first.copy_to_bytes(first.remaining()), "first\n");
    assert_eq!(
        client.get(&format!("{base}/release?id=h3")).await.1,
        "released"
    );
    let mut rest = Vec::new();
    while let Some(mut chunk) = stream.recv_data().await.unwrap() {
        rest.extend_from_slice(&chunk.copy_to_bytes(chunk.remaining()));
    }
    assert_eq!(rest, b"last\n");

    // 10 MiB up and back down, byte for byte, in chunks as they arrive.
    let upload: Vec<u8> = (0..10 * 1024 * 1024).map(|i| (i % 253) as u8).collect();
    let (response, echoed) = client
        .send("POST", &format!("{base}/echo"), Some(upload.clone()))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(echoed.len(), upload.len());
    assert_eq!(Sha256::digest(&echoed), Sha256::digest(&upload));
    let (_, counted) = client
        .send("POST", &format!("{base}/count"), Some(upload))
        .await;
    let counted: serde_json::Value = serde_json::from_slice(&counted).unwrap();
    assert_eq!(counted["bytes"], 10 * 1024 * 1024);
    assert!(counted["chunks"].as_u64().unwrap() > 1, "{counted}");
}

#[tokio::test]
async fn a_hundred_concurrent_streams_on_one_connection() {
    let ridge = Ridge::dev(&crate::support::root().join("workers/hello"), &["--https"]);
    let addr = h3_addr(&ridge);
    let client = H3Client::connect(addr, "localhost").await.unwrap();
    let requests = (0..100).map(|i| {
        let client = &client;
        async move {
            let url = format!("https://localhost:{}/?name=s{i}", addr.port());
            assert_eq!(client.get(&url).await, (200, format!("Hello, s{i}!\n")));
        }
    });
    futures::future::join_all(requests).await;
    assert_eq!(client.connection.stats().path.lost_packets, 0);
}

#[tokio::test]
async fn errors_resets_and_routing_by_authority() {
    let ridge = serve(
        &[
            ("errors", fixture("errors")),
            ("streaming", fixture("streaming")),
        ],
        &["--https", "--base-domain", "test"],
    );
    let addr = h3_addr(&ridge);
    let client = H3Client::connect(addr, "localhost").await.unwrap();
    let port = addr.port();

    // :authority picks the worker.
    assert_eq!(
        client
            .get(&format!("https://errors.test:{port}/throw"))
            .await,
        (500, "Internal Server Error\n".to_string())
    );
    assert_eq!(
        client.get(&format!("https://nobody.test:{port}/")).await.0,
        404
    );

    // A client reset mid-stream cancels the worker's stream and leaves the
    // connection serving.
    let mut send = client.send.clone();
    let request = http::Request::get(format!("https://streaming.test:{port}/endless?id=reset"))
        .body(())
        .unwrap();
    let mut stream = send.send_request(request).await.unwrap();
    stream.finish().await.unwrap();
    stream.recv_response().await.unwrap();
    stream.recv_data().await.unwrap().unwrap();
    // Dropping an unfinished receive stream sends STOP_SENDING.
    drop(stream);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, cancelled) = client
            .get(&format!("https://streaming.test:{port}/cancelled?id=reset"))
            .await;
        if cancelled == "true" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the worker's stream was never cancelled"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        client
            .get(&format!("https://errors.test:{port}/reject"))
            .await
            .0,
        500
    );
}

/// Writes a self-signed certificate for `names` as `dir/file.pem`.
fn write_certificate(dir: &std::path::Path, file: &str, names: &[&str]) {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let generated = rcgen::generate_simple_self_signed(names).unwrap();
    let pem = generated.cert.pem() + generated.signing_key.serialize_pem().as_str();
    // Written aside and renamed, so the node never reads half a file.
    let partial = dir.join(format!(".{file}.partial"));
    std::fs::write(&partial, pem).unwrap();
    std::fs::rename(partial, dir.join(format!("{file}.pem"))).unwrap();
}

/// The certificate names a TLS-over-TCP handshake with `server_name` gets.
async fn tcp_peer_names(addr: SocketAddr, server_name: &str) -> Result<Vec<String>, String> {
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client_tls(b"h2")));
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from(server_name.to_string()).unwrap();
    let tls = connector
        .connect(name, stream)
        .await
        .map_err(|e| e.to_string())?;
    let chain = tls.get_ref().1.peer_certificates().unwrap();
    Ok(certificate_names(&chain[0]))
}

#[tokio::test]
async fn sni_picks_the_certificate_over_tcp_and_quic_and_reloads() {
    let certs = TempDir::new();
    write_certificate(certs.path(), "alpha", &["alpha.test"]);
    write_certificate(certs.path(), "beta-wildcard", &["*.beta.test"]);
    let ridge = serve(
        &[("hello", crate::support::root().join("workers/hello"))],
        &["--certs-dir", certs.path().to_str().unwrap()],
    );
    let quic = h3_addr(&ridge);
    for (sni, expected) in [
        ("alpha.test", "alpha.test"),
        ("www.beta.test", "*.beta.test"),
    ] {
        assert_eq!(tcp_peer_names(ridge.addr, sni).await.unwrap(), [expected]);
        let client = H3Client::connect(quic, sni).await.unwrap();
        assert_eq!(client.peer_names(), [expected]);
    }
    // No certificate and no default: the handshake fails cleanly, and the
    // node goes on serving.
    let tcp_error = tcp_peer_names(ridge.addr, "unknown.test")
        .await
        .unwrap_err();
    assert!(tcp_error.to_lowercase().contains("alert"), "{tcp_error}");
    assert!(H3Client::connect(quic, "unknown.test").await.is_err());
    assert!(H3Client::connect(quic, "alpha.test").await.is_ok());

    // A default is added and alpha's certificate replaced, without restart.
    write_certificate(certs.path(), "default", &["fallback.test"]);
    write_certificate(certs.path(), "alpha", &["alpha.test", "alpha2.test"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let names = tcp_peer_names(ridge.addr, "alpha.test").await.unwrap();
        if names.len() == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new certificate was not picked up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let client = H3Client::connect(quic, "unknown.test").await.unwrap();
    assert_eq!(client.peer_names(), ["fallback.test"]);
    let (status, body) = client
        .get(&format!(
            "https://hello.localhost:{}/?name=sni",
            quic.port()
        ))
        .await;
    assert_eq!((status, body.as_str()), (200, "Hello, sni!\n"));
}
