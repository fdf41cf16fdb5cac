//! TLS for the edge listeners (TCP and QUIC): certificates chosen by SNI
//! from a set, with wildcards and a default, replaceable without a restart.
//!
//! A set comes from PEM files (`--cert`/`--key`), from a directory
//! (`--certs-dir`: each certificate with its key, the hostnames read from the
//! certificate's subject alternative names, `default.*` used when nothing
//! else matches), or is one self-signed certificate for local development.
//! A client asking for a hostname no certificate covers, with no default,
//! fails the handshake (rustls answers with an alert).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign;
use rustls::ServerConfig;

/// How often a certificate directory is checked for changes.
const RELOAD_INTERVAL: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} holds no PEM certificate")]
    NoCertificate { path: PathBuf },
    #[error("{path} holds no PEM private key (PKCS#8, PKCS#1 or SEC1)")]
    NoKey { path: PathBuf },
    #[error("{path}: the certificate cannot be parsed: {message}")]
    BadCertificate { path: PathBuf, message: String },
    #[error(
        "{0} holds no certificates (NAME.pem with certificate and key, or NAME.crt with NAME.key)"
    )]
    EmptyDirectory(PathBuf),
    #[error("the certificate and key do not make a valid TLS configuration: {0}")]
    Config(#[from] rustls::Error),
    #[error("cannot generate a self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
}

/// A certificate chain and its private key.
pub struct CertifiedKey {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

impl CertifiedKey {
    /// The chain from `cert` and the key from `key` (which may be one file).
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let cert_pem = read(cert)?;
        let chain = rustls_pemfile::certs(&mut cert_pem.as_slice())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|source| TlsError::Read {
                path: cert.to_path_buf(),
                source,
            })?;
        if chain.is_empty() {
            return Err(TlsError::NoCertificate {
                path: cert.to_path_buf(),
            });
        }
        let key_pem = read(key)?;
        let key = rustls_pemfile::private_key(&mut key_pem.as_slice())
            .map_err(|source| TlsError::Read {
                path: key.to_path_buf(),
                source,
            })?
            .ok_or_else(|| TlsError::NoKey {
                path: key.to_path_buf(),
            })?;
        Ok(Self { chain, key })
    }

    /// A self-signed certificate for `localhost` and the loopback addresses.
    pub fn self_signed() -> Result<Self, TlsError> {
        let names = ["localhost", "127.0.0.1", "::1"].map(String::from).to_vec();
        let generated = rcgen::generate_simple_self_signed(names)?;
        Ok(Self {
            chain: vec![generated.cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(generated.signing_key.serialize_der().into()),
        })
    }

    /// The key ready to sign handshakes; refuses a key that does not match
    /// the certificate.
    fn signing(self, provider: &CryptoProvider) -> Result<Arc<sign::CertifiedKey>, TlsError> {
        Ok(Arc::new(sign::CertifiedKey::from_der(
            self.chain, self.key, provider,
        )?))
    }
}

/// The DNS names a certificate is for (its subject alternative names),
/// lower-cased; wildcards keep their `*.` prefix.
fn certificate_names(path: &Path, der: &CertificateDer<'_>) -> Result<Vec<String>, TlsError> {
    let bad = |message: String| TlsError::BadCertificate {
        path: path.to_path_buf(),
        message,
    };
    let (_, certificate) =
        x509_parser::parse_x509_certificate(der).map_err(|e| bad(e.to_string()))?;
    let names = certificate
        .subject_alternative_name()
        .map_err(|e| bad(e.to_string()))?
        .map(|extension| {
            extension
                .value
                .general_names
                .iter()
                .filter_map(|name| match name {
                    x509_parser::extensions::GeneralName::DNSName(dns) => {
                        Some(dns.to_ascii_lowercase())
                    }
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(names)
}

/// Certificates by hostname.
#[derive(Default)]
struct CertSet {
    exact: HashMap<String, Arc<sign::CertifiedKey>>,
    /// By the domain a `*.` wildcard covers one label of.
    wildcard: HashMap<String, Arc<sign::CertifiedKey>>,
    default: Option<Arc<sign::CertifiedKey>>,
}

impl CertSet {
    fn add(&mut self, names: &[String], key: Arc<sign::CertifiedKey>) {
        for name in names {
            match name.strip_prefix("*.") {
                Some(domain) => self.wildcard.insert(domain.to_string(), key.clone()),
                None => self.exact.insert(name.clone(), key.clone()),
            };
        }
    }

    /// Exact name first, then a wildcard for the parent domain, then the
    /// default.
    fn pick(&self, server_name: Option<&str>) -> Option<Arc<sign::CertifiedKey>> {
        if let Some(name) = server_name.map(str::to_ascii_lowercase) {
            if let Some(key) = self.exact.get(&name) {
                return Some(key.clone());
            }
            if let Some((_, parent)) = name.split_once('.') {
                if let Some(key) = self.wildcard.get(parent) {
                    return Some(key.clone());
                }
            }
        }
        self.default.clone()
    }

    /// Every certificate in `dir`: `NAME.pem` holding the chain and its key,
    /// or `NAME.crt`/`NAME.cert` with `NAME.key`; `default.*` is also the
    /// default.
    fn from_dir(dir: &Path, provider: &CryptoProvider) -> Result<Self, TlsError> {
        let entries = std::fs::read_dir(dir).map_err(|source| TlsError::Read {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        let mut set = Self::default();
        let mut count = 0;
        for path in &paths {
            let (Some(stem), Some(extension)) = (
                path.file_stem().and_then(|s| s.to_str()),
                path.extension().and_then(|e| e.to_str()),
            ) else {
                continue;
            };
            let key_path = match extension {
                "pem" => path.clone(),
                "crt" | "cert" => path.with_extension("key"),
                _ => continue,
            };
            let certified = CertifiedKey::from_pem_files(path, &key_path)?;
            let names = certificate_names(path, &certified.chain[0])?;
            let key = certified.signing(provider)?;
            set.add(&names, key.clone());
            if stem == "default" {
                set.default = Some(key);
            }
            count += 1;
        }
        if count == 0 {
            return Err(TlsError::EmptyDirectory(dir.to_path_buf()));
        }
        Ok(set)
    }
}

/// Where a node's certificates come from.
enum Source {
    Fixed,
    Directory(PathBuf),
}

/// The node's certificates, shared by the TCP and QUIC listeners; serves
/// rustls as its certificate resolver.
pub struct Certificates {
    set: RwLock<Arc<CertSet>>,
    source: Source,
    provider: Arc<CryptoProvider>,
}

impl std::fmt::Debug for Certificates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Certificates")
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

impl Certificates {
    /// One certificate, used for every hostname.
    pub fn single(certified: CertifiedKey) -> Result<Arc<Self>, TlsError> {
        let provider = provider();
        let set = CertSet {
            default: Some(certified.signing(&provider)?),
            ..Default::default()
        };
        Ok(Arc::new(Self {
            set: RwLock::new(Arc::new(set)),
            source: Source::Fixed,
            provider,
        }))
    }

    /// The certificates in `dir`, reloaded when the directory changes.
    pub fn from_dir(dir: &Path) -> Result<Arc<Self>, TlsError> {
        let provider = provider();
        let set = CertSet::from_dir(dir, &provider)?;
        let certificates = Arc::new(Self {
            set: RwLock::new(Arc::new(set)),
            source: Source::Directory(dir.to_path_buf()),
            provider,
        });
        certificates.watch();
        Ok(certificates)
    }

    /// Re-reads a certificate directory whenever a file in it changes. A
    /// directory that no longer loads keeps the certificates it had.
    fn watch(self: &Arc<Self>) {
        let Source::Directory(dir) = &self.source else {
            return;
        };
        let dir = dir.clone();
        let certificates = Arc::downgrade(self);
        let fingerprint = |dir: &Path| -> Vec<(PathBuf, Option<SystemTime>, u64)> {
            let mut files: Vec<_> = std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .filter_map(|entry| entry.ok())
                .map(|entry| {
                    let metadata = entry.metadata().ok();
                    (
                        entry.path(),
                        metadata.as_ref().and_then(|m| m.modified().ok()),
                        metadata.map_or(0, |m| m.len()),
                    )
                })
                .collect();
            files.sort();
            files
        };
        let mut seen = fingerprint(&dir);
        std::thread::Builder::new()
            .name("ridge-certificates".into())
            .spawn(move || loop {
                std::thread::sleep(RELOAD_INTERVAL);
                let Some(certificates) = certificates.upgrade() else {
                    return;
                };
                let now = fingerprint(&dir);
                if now == seen {
                    continue;
                }
                seen = now;
                match CertSet::from_dir(&dir, &certificates.provider) {
                    Ok(set) => {
                        let hosts = set.exact.len() + set.wildcard.len();
                        *certificates.set.write().expect("certificates lock") = Arc::new(set);
                        tracing::info!(dir = %dir.display(), hosts, "certificates reloaded");
                    }
                    Err(error) => {
                        tracing::error!(%error, "certificates not reloaded; keeping the previous ones")
                    }
                }
            })
            .expect("start the certificate watcher");
    }

    /// TLS over TCP, with ALPN for HTTP/2 and HTTP/1.1.
    pub fn tcp_config(self: &Arc<Self>) -> Result<Arc<ServerConfig>, TlsError> {
        let mut config = ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// TLS for QUIC (TLS 1.3 only), with ALPN for HTTP/3.
    pub fn quic_config(self: &Arc<Self>) -> Result<ServerConfig, TlsError> {
        let mut config = ServerConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"h3".to_vec()];
        config.max_early_data_size = 0;
        Ok(config)
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<sign::CertifiedKey>> {
        let set = self.set.read().expect("certificates lock").clone();
        let picked = set.pick(hello.server_name());
        if picked.is_none() {
            tracing::debug!(server_name = ?hello.server_name(), "no certificate for this hostname");
        }
        picked
    }
}
