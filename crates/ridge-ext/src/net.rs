//! Outbound policy for `fetch` and sockets: workers may not reach loopback,
//! private, link-local, CGNAT, unique-local or cloud-metadata addresses
//! (server-side request forgery), unless the host is on the node's
//! allow-list or the node runs in development mode. Also the certificates
//! outbound TLS trusts: the web's roots, plus the node's `--outbound-ca`.
//!
//! Hostnames are checked after DNS resolution, in the resolver deno_fetch
//! connects with, so a public name pointing at a private address is caught;
//! IP literals, which skip the resolver, are checked when the request is
//! built, as are the ports of allow-list entries (the resolver never sees
//! a port). Redirects go through both again, because deno_fetch follows
//! them by issuing a new request. IPv6 addresses that embed an IPv4 one
//! (mapped, compatible, SIIT, NAT64, 6to4, Teredo) are judged by the IPv4
//! address they lead to.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::OnceLock;

use deno_error::JsErrorBox;
use deno_fetch::dns::{Resolve, Resolving};
use deno_tls::rustls::pki_types::CertificateDer;
use deno_tls::rustls::{ClientConfig, RootCertStore};
use deno_tls::RootCertStoreProvider;
use hyper_util::client::legacy::connect::dns::Name;

/// Where worker `fetch` may go. Set once per process.
#[derive(Clone, Debug, Default)]
pub struct OutboundPolicy {
    /// Development mode: private addresses (localhost included) are allowed.
    pub allow_private: bool,
    /// Hosts allowed even though they are private (`--allow-outbound`).
    pub allow_hosts: Vec<AllowedHost>,
    /// Certificate authorities trusted besides the web's roots
    /// (`--outbound-ca`), for TLS from `fetch` and sockets.
    pub trusted_ca: Vec<TrustedCertificate>,
}

/// A certificate authority trusted by outbound TLS.
pub type TrustedCertificate = CertificateDer<'static>;

/// An allow-list entry: a host name or IP address, on every port or one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowedHost {
    /// Lowercase; an IPv6 address without its brackets.
    host: String,
    port: Option<u16>,
}

impl std::str::FromStr for AllowedHost {
    type Err = String;

    /// `HOST`, `HOST:PORT`, `IP`, `IP:PORT`, `IPV6` or `[IPV6]:PORT`.
    fn from_str(entry: &str) -> Result<Self, String> {
        let problem =
            || format!("{entry:?} is not HOST, HOST:PORT, IP, IP:PORT, IPV6 or [IPV6]:PORT");
        if entry.parse::<Ipv6Addr>().is_ok() {
            return Ok(Self {
                host: canonical_host(entry),
                port: None,
            });
        }
        let (host, port) = match entry.strip_prefix('[') {
            Some(bracketed) => {
                let (address, rest) = bracketed.split_once(']').ok_or_else(problem)?;
                address.parse::<Ipv6Addr>().map_err(|_| problem())?;
                let port = match rest {
                    "" => None,
                    rest => Some(rest.strip_prefix(':').ok_or_else(problem)?),
                };
                (address, port)
            }
            None => match entry.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (entry, None),
            },
        };
        let port = port
            .map(|port| {
                port.parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(problem)
            })
            .transpose()?;
        let name_ok = !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b':'));
        if !name_ok {
            return Err(problem());
        }
        Ok(Self {
            host: canonical_host(host),
            port,
        })
    }
}

impl std::fmt::Display for AllowedHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.port, self.host.contains(':')) {
            (None, _) => f.write_str(&self.host),
            (Some(port), true) => write!(f, "[{}]:{port}", self.host),
            (Some(port), false) => write!(f, "{}:{port}", self.host),
        }
    }
}

/// A host as allow-list entries hold it: an IP address in its one
/// canonical spelling (`[fd00:0::1]` and `fd00::1` are one address), a
/// name in lowercase.
fn canonical_host(host: &str) -> String {
    match host.parse::<IpAddr>() {
        Ok(ip) => ip.to_string(),
        Err(_) => host.to_ascii_lowercase(),
    }
}

/// What the allow-list says of a host on a port.
#[derive(Debug, PartialEq, Eq)]
enum Listed {
    /// The host is not on it: the address decides.
    No,
    /// On it for this port (or every port).
    Allowed,
    /// On it, but only for these other ports: refused whatever its
    /// address.
    OtherPorts(Vec<u16>),
}

static POLICY: OnceLock<OutboundPolicy> = OnceLock::new();

impl OutboundPolicy {
    /// Installs the process-wide policy; only the first call has an effect.
    pub fn install(self) {
        let _ = POLICY.set(self);
    }

    fn current() -> &'static OutboundPolicy {
        POLICY.get_or_init(OutboundPolicy::default)
    }

    /// Whether `host` is on the allow-list with some port (the resolver's
    /// question: ports were checked when the request was built).
    fn host_listed(&self, host: &str) -> bool {
        let host = canonical_host(host);
        self.allow_private || self.allow_hosts.iter().any(|allowed| allowed.host == host)
    }

    fn listed(&self, host: &str, port: u16) -> Listed {
        if self.allow_private {
            return Listed::Allowed;
        }
        let host = canonical_host(host);
        let mut other_ports = Vec::new();
        for allowed in self
            .allow_hosts
            .iter()
            .filter(|allowed| allowed.host == host)
        {
            match allowed.port {
                Some(listed) if listed != port => other_ports.push(listed),
                _ => return Listed::Allowed,
            }
        }
        if other_ports.is_empty() {
            Listed::No
        } else {
            Listed::OtherPorts(other_ports)
        }
    }
}

/// Why an address may not be fetched, if it may not.
pub fn forbidden_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6).or_else(|| {
            embedded_ipv4(v6)
                .into_iter()
                .flatten()
                .find_map(forbidden_v4)
        }),
    }
}

/// The IPv4 addresses an IPv6 address leads to, for the forms that embed
/// one: a packet to it may reach that IPv4 host through a translator or a
/// tunnel, so it is judged as that host.
fn embedded_ipv4(ip: Ipv6Addr) -> [Option<Ipv4Addr>; 2] {
    let s = ip.segments();
    let v4 = |high: u16, low: u16| {
        let [a, b] = high.to_be_bytes();
        let [c, d] = low.to_be_bytes();
        Some(Ipv4Addr::new(a, b, c, d))
    };
    match s {
        // Mapped ::ffff:a.b.c.d, compatible ::a.b.c.d (deprecated, but
        // some stacks still route it) and SIIT ::ffff:0:a.b.c.d.
        [0, 0, 0, 0, 0, 0xffff, high, low]
        | [0, 0, 0, 0, 0, 0, high, low]
        | [0, 0, 0, 0, 0xffff, 0, high, low] => [v4(high, low), None],
        // NAT64, well-known (64:ff9b::/96) and local-use (64:ff9b:1::/48).
        [0x64, 0xff9b, 0, 0, 0, 0, high, low] | [0x64, 0xff9b, 1, _, _, _, high, low] => {
            [v4(high, low), None]
        }
        // 6to4 (2002::/16): the gateway's address follows the prefix.
        [0x2002, high, low, ..] => [v4(high, low), None],
        // Teredo (2001::/32): the server, and the client (inverted).
        [0x2001, 0, server_high, server_low, _, _, client_high, client_low] => {
            [v4(server_high, server_low), v4(!client_high, !client_low)]
        }
        _ => [None, None],
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_private() {
        Some("private")
    } else if ip.is_link_local() {
        Some("link-local (cloud metadata)")
    } else if a == 100 && (64..128).contains(&b) {
        Some("carrier-grade NAT")
    } else if ip.is_unspecified() || a == 0 {
        Some("unspecified")
    } else if ip.is_broadcast() || ip.is_multicast() || a >= 240 {
        Some("broadcast, multicast or reserved")
    } else if a == 198 && (b == 18 || b == 19) {
        Some("benchmarking")
    } else if a == 192 && b == 0 && ip.octets()[2] == 0 {
        Some("IETF protocol assignments")
    } else {
        None
    }
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unspecified() {
        Some("unspecified")
    } else if first & 0xfe00 == 0xfc00 {
        Some("unique-local")
    } else if first & 0xffc0 == 0xfe80 {
        Some("link-local")
    } else if ip.is_multicast() {
        Some("multicast")
    } else {
        None
    }
}

/// The first of a name's addresses workers may not reach, and why: one is
/// enough to refuse the name (it must not reach a private address by its
/// second record).
fn first_forbidden(addrs: &[SocketAddr]) -> Option<(IpAddr, &'static str)> {
    addrs
        .iter()
        .find_map(|addr| forbidden_reason(addr.ip()).map(|reason| (addr.ip(), reason)))
}

/// Why a connection to `host` is refused; `what` names the attempt
/// ("fetch to example.com"). A name's address is not told: a worker must
/// not learn the private addresses of the node's network from it.
fn refusal(what: &str, host: &str, ip: IpAddr, reason: &str) -> String {
    let target = if host.trim_matches(['[', ']']).parse::<IpAddr>().is_ok() {
        format!("{ip} is")
    } else {
        format!("{host} resolves to")
    };
    format!(
        "{what} refused: {target} a {reason} address that workers may not reach (allow it with --allow-outbound {host})"
    )
}

/// Why a connection could not be made: a Node.js error code
/// (`ECONNREFUSED`, `ENOTFOUND`, …) and a message naming the host.
#[derive(Debug, serde::Serialize)]
pub struct ConnectFailure {
    pub code: &'static str,
    pub message: String,
}

impl ConnectFailure {
    pub fn new(code: &'static str, message: String) -> Self {
        Self { code, message }
    }

    /// From an I/O error of connecting or resolving: its kind decides the code.
    pub fn io(what: &str, error: &io::Error) -> Self {
        let code = match error.kind() {
            io::ErrorKind::ConnectionRefused => "ECONNREFUSED",
            io::ErrorKind::ConnectionReset => "ECONNRESET",
            io::ErrorKind::TimedOut => "ETIMEDOUT",
            io::ErrorKind::HostUnreachable => "EHOSTUNREACH",
            io::ErrorKind::NetworkUnreachable => "ENETUNREACH",
            io::ErrorKind::AddrNotAvailable => "EADDRNOTAVAIL",
            _ => "ECONNREFUSED",
        };
        Self::new(code, format!("{what} failed: {error}"))
    }
}

/// The addresses `host` resolves to that workers may reach, for a socket
/// to `port` (0: any port, as for a DNS lookup): all of them when the host
/// is listed, otherwise refused as a whole if any is forbidden (a name must
/// not reach a private address by its second record).
pub async fn allowed_addresses(
    what: &str,
    host: &str,
    port: u16,
) -> Result<Vec<SocketAddr>, ConnectFailure> {
    let policy = OutboundPolicy::current();
    let listed = match port {
        0 => policy.host_listed(host),
        port => match policy.listed(host, port) {
            Listed::Allowed => true,
            Listed::OtherPorts(ports) => {
                let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
                return Err(ConnectFailure::new(
                    "EACCES",
                    format!(
                        "{what} refused: --allow-outbound allows {host} only on port {}",
                        ports.join(", ")
                    ),
                ));
            }
            Listed::No => false,
        },
    };
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|error| {
            ConnectFailure::new(
                "ENOTFOUND",
                format!("{what} failed: cannot resolve {host}: {error}"),
            )
        })?
        .collect();
    if !listed {
        if let Some((ip, reason)) = first_forbidden(&addrs) {
            return Err(ConnectFailure::new(
                "EACCES",
                refusal(what, host, ip, reason),
            ));
        }
    }
    Ok(addrs)
}

/// The certificates outbound TLS trusts: the web's roots (webpki-roots,
/// as deno's fetch uses) and the node's `--outbound-ca`.
pub fn root_cert_store() -> &'static RootCertStore {
    static STORE: OnceLock<RootCertStore> = OnceLock::new();
    STORE.get_or_init(|| {
        let mut store = deno_tls::create_default_root_cert_store();
        for certificate in &OutboundPolicy::current().trusted_ca {
            // main.rs parsed the file; a certificate rustls cannot use as a
            // root was reported there (see `trusted_ca_from_pem`).
            let _ = store.add(certificate.clone());
        }
        store
    })
}

/// deno_fetch's view of [`root_cert_store`].
#[derive(Debug)]
pub struct PolicyRoots;

impl RootCertStoreProvider for PolicyRoots {
    fn get_or_try_init(&self) -> Result<&RootCertStore, JsErrorBox> {
        Ok(root_cert_store())
    }
}

/// The TLS client configuration of sockets (no ALPN: the protocol inside
/// is the worker's).
pub fn tls_client_config() -> Result<std::sync::Arc<ClientConfig>, JsErrorBox> {
    static CONFIG: OnceLock<std::sync::Arc<ClientConfig>> = OnceLock::new();
    if let Some(config) = CONFIG.get() {
        return Ok(config.clone());
    }
    let config = deno_tls::create_client_config(deno_tls::TlsClientConfigOptions {
        root_cert_store: Some(root_cert_store().clone()),
        ..Default::default()
    })
    .map_err(|error| JsErrorBox::generic(format!("TLS is unavailable: {error}")))?;
    Ok(CONFIG.get_or_init(|| std::sync::Arc::new(config)).clone())
}

/// Reads `--outbound-ca`'s PEM file: every certificate in it, checked to be
/// usable as a root; the error names the file's problem.
pub fn trusted_ca_from_pem(pem: &[u8]) -> Result<Vec<TrustedCertificate>, String> {
    let certificates = deno_tls::rustls_pemfile::certs(&mut &pem[..])
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| format!("not a PEM file: {error}"))?;
    if certificates.is_empty() {
        return Err("it holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into());
    }
    let mut store = RootCertStore::empty();
    for (index, certificate) in certificates.iter().enumerate() {
        store
            .add(certificate.clone())
            .map_err(|error| format!("certificate {} is not usable: {error}", index + 1))?;
    }
    Ok(certificates)
}

/// deno_fetch's resolver: resolves with the system resolver, then applies
/// the policy to every address.
#[derive(Debug)]
pub struct PolicyResolver;

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !OutboundPolicy::current().host_listed(&host) {
                if let Some((ip, reason)) = first_forbidden(&addrs) {
                    return Err(io::Error::new(
                        io::ErrorKind::PermissionDenied,
                        refusal(&format!("fetch to {host}"), &host, ip, reason),
                    ));
                }
            }
            Ok(addrs.into_iter())
        })
    }
}

/// deno_fetch's request hook: refuses IP literals the policy forbids (they
/// never reach the resolver), and listed hosts on ports their entries do
/// not name.
pub fn check_outbound_request<B>(request: &mut http::Request<B>) -> Result<(), JsErrorBox> {
    let uri = request.uri();
    let Some(host) = uri.host() else {
        return Ok(());
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let port = uri.port_u16().unwrap_or(match uri.scheme_str() {
        Some("https" | "wss") => 443,
        _ => 80,
    });
    let policy = OutboundPolicy::current();
    match policy.listed(bare, port) {
        Listed::Allowed => return Ok(()),
        Listed::OtherPorts(ports) => {
            let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
            return Err(JsErrorBox::type_error(format!(
                "fetch to {bare} port {port} refused: --allow-outbound allows {bare} only on port {}",
                ports.join(", ")
            )));
        }
        Listed::No => {}
    }
    let Ok(ip) = bare.parse::<IpAddr>() else {
        return Ok(());
    };
    match forbidden_reason(ip) {
        Some(reason) => Err(JsErrorBox::type_error(refusal(
            &format!("fetch to {bare}"),
            bare,
            ip,
            reason,
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_metadata_addresses_are_forbidden() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            // IPv4-compatible, SIIT, 6to4, NAT64 local-use and Teredo
            // (client 127.0.0.1 inverted) forms of private addresses.
            "::7f00:1",
            "::ffff:0:7f00:1",
            "2002:7f00:1::",
            "2002:a9fe:a9fe::1",
            "64:ff9b:1::a00:1",
            "2001:0:4136:e378:8000:63bf:80ff:fffe",
        ] {
            assert!(
                forbidden_reason(ip.parse().unwrap()).is_some(),
                "{ip} must be forbidden"
            );
        }
        for ip in [
            "93.184.215.14",
            "1.1.1.1",
            "2606:4700::1111",
            "100.128.0.1",
            "2002:0101:0101::1",
        ] {
            assert!(
                forbidden_reason(ip.parse().unwrap()).is_none(),
                "{ip} must be allowed"
            );
        }
    }

    #[test]
    fn allow_list_entries_take_a_port_and_refuse_what_they_cannot_parse() {
        let parse = |entry: &str| entry.parse::<AllowedHost>();
        assert_eq!(parse("db.internal").unwrap().to_string(), "db.internal");
        assert_eq!(
            parse("127.0.0.1:5432").unwrap().to_string(),
            "127.0.0.1:5432"
        );
        assert_eq!(parse("[::1]:8080").unwrap().to_string(), "[::1]:8080");
        assert_eq!(parse("fd00::1").unwrap().to_string(), "fd00::1");
        for bad in [
            "",
            "host:",
            "host:99999",
            "host:0",
            "ho st",
            "http://x",
            "[::1",
            "[x]:1",
        ] {
            let error = parse(bad).unwrap_err();
            assert!(error.contains("is not HOST"), "{bad:?}: {error}");
        }
        let policy = OutboundPolicy {
            allow_private: false,
            allow_hosts: vec![
                parse("127.0.0.1:5432").unwrap(),
                parse("Cache.Internal").unwrap(),
            ],
            ..Default::default()
        };
        assert_eq!(policy.listed("127.0.0.1", 5432), Listed::Allowed);
        assert_eq!(
            policy.listed("127.0.0.1", 22),
            Listed::OtherPorts(vec![5432])
        );
        assert_eq!(policy.listed("cache.internal", 6379), Listed::Allowed);
        assert_eq!(policy.listed("10.0.0.1", 80), Listed::No);
        let v6 = OutboundPolicy {
            allow_private: false,
            allow_hosts: vec![parse("fd00::1").unwrap()],
            ..Default::default()
        };
        assert_eq!(v6.listed("fd00:0:0::1", 443), Listed::Allowed);
    }
}
