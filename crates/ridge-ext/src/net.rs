//! Outbound `fetch` policy: workers may not reach loopback, private,
//! link-local, CGNAT, unique-local or cloud-metadata addresses (server-side
//! request forgery), unless the host is on the node's allow-list or the node
//! runs in development mode.
//!
//! Hostnames are checked after DNS resolution, in the resolver deno_fetch
//! connects with, so a public name pointing at a private address is caught;
//! IP literals, which skip the resolver, are checked when the request is
//! built. Redirects go through both again, because deno_fetch follows them
//! by issuing a new request.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::OnceLock;

use deno_error::JsErrorBox;
use deno_fetch::dns::{Resolve, Resolving};
use hyper_util::client::legacy::connect::dns::Name;

/// Where worker `fetch` may go. Set once per process.
#[derive(Clone, Debug, Default)]
pub struct OutboundPolicy {
    /// Development mode: private addresses (localhost included) are allowed.
    pub allow_private: bool,
    /// Hosts (names or IP addresses) allowed even though they are private.
    pub allow_hosts: Vec<String>,
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

    fn host_allowed(&self, host: &str) -> bool {
        self.allow_private
            || self
                .allow_hosts
                .iter()
                .any(|allowed| allowed.eq_ignore_ascii_case(host))
    }
}

/// Why an address may not be fetched, if it may not.
pub fn forbidden_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden_v4(v4);
            }
            let segments = v6.segments();
            if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                // NAT64 (64:ff9b::/96) embeds an IPv4 address.
                let [a, b] = segments[6].to_be_bytes();
                let [c, d] = segments[7].to_be_bytes();
                return forbidden_v4(Ipv4Addr::new(a, b, c, d));
            }
            forbidden_v6(v6)
        }
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

fn refusal(host: &str, ip: IpAddr, reason: &str) -> String {
    format!(
    "fetch to {host} refused: it resolves to {ip}, a {reason} address that workers may not reach (allow it with --allow-outbound {host})"
  )
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
            if !OutboundPolicy::current().host_allowed(&host) {
                for addr in &addrs {
                    if let Some(reason) = forbidden_reason(addr.ip()) {
                        return Err(io::Error::new(
                            io::ErrorKind::PermissionDenied,
                            refusal(&host, addr.ip(), reason),
                        ));
                    }
                }
            }
            Ok(addrs.into_iter())
        })
    }
}

/// deno_fetch's request hook: refuses IP literals the policy forbids (they
/// never reach the resolver).
pub fn check_outbound_request<B>(request: &mut http::Request<B>) -> Result<(), JsErrorBox> {
    let Some(host) = request.uri().host() else {
        return Ok(());
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let Ok(ip) = bare.parse::<IpAddr>() else {
        return Ok(());
    };
    if OutboundPolicy::current().host_allowed(bare) {
        return Ok(());
    }
    match forbidden_reason(ip) {
        Some(reason) => Err(JsErrorBox::type_error(refusal(bare, ip, reason))),
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
        ] {
            assert!(
                forbidden_reason(ip.parse().unwrap()).is_some(),
                "{ip} must be forbidden"
            );
        }
        for ip in ["93.184.215.14", "1.1.1.1", "2606:4700::1111", "100.128.0.1"] {
            assert!(
                forbidden_reason(ip.parse().unwrap()).is_none(),
                "{ip} must be allowed"
            );
        }
    }
}
