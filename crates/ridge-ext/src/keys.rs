//! Asymmetric keys for `node:crypto` (js/node/internal/crypto/keys.js and
//! sign.js): RSA, EC (P-256, P-384, P-521), Ed25519 and X25519 keys read
//! from PEM, DER (PKCS#8, SPKI, PKCS#1, SEC1) and JWK, written back to any
//! of them, generated, and used to sign and verify. JS keeps a key as its
//! PKCS#8 (private) or SPKI (public) DER; every op reads that again, which
//! costs microseconds next to the signature itself. Errors read
//! "CODE|message" for JS to turn into Node's errors.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use deno_core::op2;
use deno_core::JsBuffer;
use deno_error::JsErrorBox;
use ecdsa::elliptic_curve::sec1::ToEncodedPoint;
use pkcs8::der::Decode;
use pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rand_core::OsRng;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa::{BigUint, RsaPrivateKey, RsaPublicKey};
use serde::Serialize;
use serde_json::{json, Value};

use super::crypto::digest_once;

fn error(code: &str, message: &str) -> JsErrorBox {
    JsErrorBox::generic(format!("{code}|{message}"))
}

fn unsupported_key() -> JsErrorBox {
    error("ERR_CRYPTO_INVALID_KEY_OBJECT_TYPE", "Unsupported key type")
}

fn invalid_key(why: impl std::fmt::Display) -> JsErrorBox {
    error("ERR_CRYPTO_INVALID_KEY", &format!("Invalid key: {why}"))
}

/// The largest RSA key Ridge generates or reads (rsa's own bound for public
/// keys, and Web Crypto's in Ridge): signing with a bigger one, or making
/// one, would hold the isolate's thread for seconds.
const MAX_RSA_BITS: usize = 4096;

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_ED25519: &str = "1.3.101.112";
const OID_X25519: &str = "1.3.101.110";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";
const OID_P521: &str = "1.3.132.0.35";

/// X25519 keys in PKCS#8 and SPKI: a fixed prefix, then the 32 key bytes
/// (x25519-dalek knows no DER).
const X25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20,
];
/// Ed25519 PKCS#8 as OpenSSL writes it (version 1, the seed alone).
const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];
const X25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00,
];

/// A private key.
enum Private {
    Rsa(Box<RsaPrivateKey>),
    P256(p256::SecretKey),
    P384(p384::SecretKey),
    P521(p521::SecretKey),
    Ed25519(ed25519_dalek::SigningKey),
    X25519(x25519_dalek::StaticSecret),
}

/// A public key.
enum Public {
    Rsa(Box<RsaPublicKey>),
    P256(p256::PublicKey),
    P384(p384::PublicKey),
    P521(p521::PublicKey),
    Ed25519(ed25519_dalek::VerifyingKey),
    X25519(x25519_dalek::PublicKey),
}

/// What JS learns of a key: its DER, kind and type, and Node's
/// `asymmetricKeyDetails`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyInfo {
    kind: &'static str,
    der: deno_core::ToJsBuffer,
    key_type: &'static str,
    modulus_length: Option<usize>,
    /// Decimal, for a BigInt.
    public_exponent: Option<String>,
    named_curve: Option<&'static str>,
}

fn curve_oid(der_params: Option<pkcs8::der::asn1::AnyRef<'_>>) -> Option<String> {
    der_params
        .and_then(|any| any.decode_as::<pkcs8::ObjectIdentifier>().ok())
        .map(|oid| oid.to_string())
}

impl Private {
    fn from_pkcs8(der: &[u8]) -> Result<Self, JsErrorBox> {
        let info = pkcs8::PrivateKeyInfo::from_der(der).map_err(invalid_key)?;
        let oid = info.algorithm.oid.to_string();
        let bad = |e: pkcs8::Error| invalid_key(e);
        Ok(match oid.as_str() {
            OID_RSA => rsa_private(RsaPrivateKey::from_pkcs8_der(der).map_err(bad)?)?,
            OID_EC => match curve_oid(info.algorithm.parameters).as_deref() {
                Some(OID_P256) => Private::P256(p256::SecretKey::from_pkcs8_der(der).map_err(bad)?),
                Some(OID_P384) => Private::P384(p384::SecretKey::from_pkcs8_der(der).map_err(bad)?),
                Some(OID_P521) => Private::P521(p521::SecretKey::from_pkcs8_der(der).map_err(bad)?),
                _ => return Err(unsupported_key()),
            },
            OID_ED25519 => {
                Private::Ed25519(ed25519_dalek::SigningKey::from_pkcs8_der(der).map_err(bad)?)
            }
            OID_X25519 => {
                let bytes: [u8; 32] = der
                    .strip_prefix(&X25519_PKCS8_PREFIX[..])
                    .and_then(|rest| rest.try_into().ok())
                    .ok_or_else(|| invalid_key("not an X25519 PKCS#8 key"))?;
                Private::X25519(x25519_dalek::StaticSecret::from(bytes))
            }
            _ => return Err(unsupported_key()),
        })
    }

    fn to_pkcs8(&self) -> Result<Vec<u8>, JsErrorBox> {
        let document = match self {
            Private::Rsa(key) => key.to_pkcs8_der(),
            Private::P256(key) => key.to_pkcs8_der(),
            Private::P384(key) => key.to_pkcs8_der(),
            Private::P521(key) => key.to_pkcs8_der(),
            Private::Ed25519(key) => {
                return Ok([&ED25519_PKCS8_PREFIX[..], key.as_bytes()].concat());
            }
            Private::X25519(key) => {
                return Ok([&X25519_PKCS8_PREFIX[..], key.as_bytes()].concat());
            }
        };
        Ok(document.map_err(invalid_key)?.as_bytes().to_vec())
    }

    fn public(&self) -> Public {
        match self {
            Private::Rsa(key) => Public::Rsa(Box::new(key.to_public_key())),
            Private::P256(key) => Public::P256(key.public_key()),
            Private::P384(key) => Public::P384(key.public_key()),
            Private::P521(key) => Public::P521(key.public_key()),
            Private::Ed25519(key) => Public::Ed25519(key.verifying_key()),
            Private::X25519(key) => Public::X25519(x25519_dalek::PublicKey::from(key)),
        }
    }

    fn info(&self) -> Result<KeyInfo, JsErrorBox> {
        let mut info = self.public().info()?;
        info.kind = "private";
        info.der = self.to_pkcs8()?.into();
        Ok(info)
    }
}

impl Public {
    fn from_spki(der: &[u8]) -> Result<Self, JsErrorBox> {
        let info = spki::SubjectPublicKeyInfoRef::from_der(der).map_err(invalid_key)?;
        let oid = info.algorithm.oid.to_string();
        let bad = |e: spki::Error| invalid_key(e);
        Ok(match oid.as_str() {
            OID_RSA => Public::Rsa(Box::new(
                RsaPublicKey::from_public_key_der(der).map_err(bad)?,
            )),
            OID_EC => match curve_oid(info.algorithm.parameters).as_deref() {
                Some(OID_P256) => {
                    Public::P256(p256::PublicKey::from_public_key_der(der).map_err(bad)?)
                }
                Some(OID_P384) => {
                    Public::P384(p384::PublicKey::from_public_key_der(der).map_err(bad)?)
                }
                Some(OID_P521) => {
                    Public::P521(p521::PublicKey::from_public_key_der(der).map_err(bad)?)
                }
                _ => return Err(unsupported_key()),
            },
            OID_ED25519 => {
                Public::Ed25519(ed25519_dalek::VerifyingKey::from_public_key_der(der).map_err(bad)?)
            }
            OID_X25519 => {
                let bytes: [u8; 32] = der
                    .strip_prefix(&X25519_SPKI_PREFIX[..])
                    .and_then(|rest| rest.try_into().ok())
                    .ok_or_else(|| invalid_key("not an X25519 public key"))?;
                Public::X25519(x25519_dalek::PublicKey::from(bytes))
            }
            _ => return Err(unsupported_key()),
        })
    }

    fn to_spki(&self) -> Result<Vec<u8>, JsErrorBox> {
        let document = match self {
            Public::Rsa(key) => key.to_public_key_der(),
            Public::P256(key) => key.to_public_key_der(),
            Public::P384(key) => key.to_public_key_der(),
            Public::P521(key) => key.to_public_key_der(),
            Public::Ed25519(key) => key.to_public_key_der(),
            Public::X25519(key) => return Ok([&X25519_SPKI_PREFIX[..], key.as_bytes()].concat()),
        };
        Ok(document.map_err(invalid_key)?.as_bytes().to_vec())
    }

    fn info(&self) -> Result<KeyInfo, JsErrorBox> {
        let (modulus_length, public_exponent, named_curve) = match self {
            Public::Rsa(key) => (Some(key.n().bits()), Some(key.e().to_string()), None),
            Public::P256(_) => (None, None, Some("prime256v1")),
            Public::P384(_) => (None, None, Some("secp384r1")),
            Public::P521(_) => (None, None, Some("secp521r1")),
            Public::Ed25519(_) | Public::X25519(_) => (None, None, None),
        };
        let key_type = public_type(self);
        Ok(KeyInfo {
            kind: "public",
            der: self.to_spki()?.into(),
            key_type,
            modulus_length,
            public_exponent,
            named_curve,
        })
    }
}

/// Reads a key given as `format` ("pem", "der" or "jwk"); `der_type`
/// ("pkcs8", "spki", "pkcs1", "sec1") says what DER holds. A private key
/// asked for as public gives its public half, as `createPublicKey` does.
fn read_key(
    data: &[u8],
    format: &str,
    der_type: &str,
    want_public: bool,
    passphrase: Option<&[u8]>,
) -> Result<KeyInfo, JsErrorBox> {
    let parsed = parse_key(data, format, der_type, want_public, passphrase);
    // workerd's words for a key that cannot be read, whatever the reason
    // (JWK errors keep their own).
    parsed.map_err(|error| match format {
        "jwk" => error,
        _ if want_public => error_of("Failed to parse public key"),
        _ => error_of("Failed to parse private key"),
    })
}

fn error_of(message: &str) -> JsErrorBox {
    error("-", message)
}

fn parse_key(
    data: &[u8],
    format: &str,
    der_type: &str,
    want_public: bool,
    passphrase: Option<&[u8]>,
) -> Result<KeyInfo, JsErrorBox> {
    let private = match format {
        "pem" => {
            let text = std::str::from_utf8(data).map_err(|_| invalid_pem())?;
            let (label, der) =
                pem_rfc7468::decode_vec(text.trim().as_bytes()).map_err(|_| invalid_pem())?;
            match label {
                "PRIVATE KEY" => Private::from_pkcs8(&der)?,
                "RSA PRIVATE KEY" => private_from_pkcs1(&der)?,
                "EC PRIVATE KEY" => private_from_sec1(&der)?,
                "PUBLIC KEY" if want_public => return Public::from_spki(&der)?.info(),
                "RSA PUBLIC KEY" if want_public => return public_from_pkcs1(&der)?.info(),
                "ENCRYPTED PRIVATE KEY" => decrypt_pkcs8(&der, passphrase)?,
                _ => return Err(invalid_pem()),
            }
        }
        "der" => match der_type {
            "pkcs8" if passphrase.is_some() => decrypt_pkcs8(data, passphrase)?,
            "pkcs8" => Private::from_pkcs8(data)?,
            "pkcs1" if want_public => return public_from_pkcs1(data)?.info(),
            "pkcs1" => private_from_pkcs1(data)?,
            "sec1" => private_from_sec1(data)?,
            "spki" if want_public => return Public::from_spki(data)?.info(),
            // No type given: whichever reads.
            _ if want_public => match Public::from_spki(data) {
                Ok(public) => return public.info(),
                Err(_) => Private::from_pkcs8(data)
                    .or_else(|_| private_from_pkcs1(data))
                    .or_else(|_| private_from_sec1(data))?,
            },
            _ => Private::from_pkcs8(data)
                .or_else(|_| private_from_pkcs1(data))
                .or_else(|_| private_from_sec1(data))?,
        },
        _ => {
            let jwk: Value = serde_json::from_slice(data).map_err(invalid_key)?;
            match jwk_key(&jwk, want_public)? {
                Ok(private) => private,
                Err(public) => return public.info(),
            }
        }
    };
    if want_public {
        private.public().info()
    } else {
        private.info()
    }
}

/// An encrypted PKCS#8 key (PBES2), opened with the caller's passphrase.
fn decrypt_pkcs8(der: &[u8], passphrase: Option<&[u8]>) -> Result<Private, JsErrorBox> {
    let passphrase =
        passphrase.ok_or_else(|| invalid_key("the key is encrypted: give a passphrase"))?;
    let encrypted = pkcs8::EncryptedPrivateKeyInfo::from_der(der).map_err(invalid_key)?;
    check_key_derivation(&encrypted.encryption_algorithm)?;
    let document = encrypted.decrypt(passphrase).map_err(invalid_key)?;
    Private::from_pkcs8(document.as_bytes())
}

/// The key derivation an encrypted key asks for, refused when it would
/// take more CPU or memory than one request may: the parameters come with
/// the key, from whoever made it.
fn check_key_derivation(scheme: &pkcs8::pkcs5::EncryptionScheme<'_>) -> Result<(), JsErrorBox> {
    use pkcs8::pkcs5::pbes2::Kdf;
    let pkcs8::pkcs5::EncryptionScheme::Pbes2(params) = scheme else {
        return Err(invalid_key("only PBES2-encrypted keys are supported"));
    };
    match &params.kdf {
        Kdf::Pbkdf2(pbkdf2) if pbkdf2.iteration_count > super::crypto::MAX_PBKDF2_ITERATIONS => {
            Err(invalid_key(format!(
                "the key's PBKDF2 iteration count {} is over {}",
                pbkdf2.iteration_count,
                super::crypto::MAX_PBKDF2_ITERATIONS
            )))
        }
        Kdf::Scrypt(scrypt) => {
            let (r, p) = (
                u32::from(scrypt.block_size),
                u32::from(scrypt.parallelization),
            );
            super::crypto::check_scrypt_cost(scrypt.cost_parameter, r, p)
        }
        _ => Ok(()),
    }
}

/// Encrypts a PKCS#8 key as OpenSSL does by default: PBES2 with
/// PBKDF2-HMAC-SHA256 (2048 iterations) and AES-CBC.
fn encrypt_pkcs8(der: &[u8], cipher: &str, passphrase: &[u8]) -> Result<Vec<u8>, JsErrorBox> {
    use rand_core::RngCore;
    let mut salt = [0u8; 16];
    let mut iv = [0u8; 16];
    OsRng.fill_bytes(&mut salt);
    OsRng.fill_bytes(&mut iv);
    let params = match cipher.to_ascii_lowercase().as_str() {
        "aes-128-cbc" | "aes128" => {
            pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes128cbc(2048, &salt, &iv)
        }
        "aes-256-cbc" | "aes256" => {
            pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(2048, &salt, &iv)
        }
        _ => return Err(error_of(&format!("Unknown cipher: {cipher}"))),
    }
    .map_err(invalid_key)?;
    let info = pkcs8::PrivateKeyInfo::from_der(der).map_err(invalid_key)?;
    let document = info
        .encrypt_with_params(params, passphrase)
        .map_err(invalid_key)?;
    Ok(document.as_bytes().to_vec())
}

fn invalid_pem() -> JsErrorBox {
    error(
        "ERR_OSSL_UNSUPPORTED",
        "error:1E08010C:DECODER routines::unsupported",
    )
}

fn private_from_pkcs1(der: &[u8]) -> Result<Private, JsErrorBox> {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    rsa_private(RsaPrivateKey::from_pkcs1_der(der).map_err(invalid_key)?)
}

/// An RSA private key, refused above [`MAX_RSA_BITS`].
fn rsa_private(key: RsaPrivateKey) -> Result<Private, JsErrorBox> {
    if key.n().bits() > MAX_RSA_BITS {
        return Err(invalid_key(format!(
            "RSA keys over {MAX_RSA_BITS} bits are not supported"
        )));
    }
    Ok(Private::Rsa(Box::new(key)))
}

fn public_from_pkcs1(der: &[u8]) -> Result<Public, JsErrorBox> {
    use rsa::pkcs1::DecodeRsaPublicKey;
    Ok(Public::Rsa(Box::new(
        RsaPublicKey::from_pkcs1_der(der).map_err(invalid_key)?,
    )))
}

fn private_from_sec1(der: &[u8]) -> Result<Private, JsErrorBox> {
    let key = sec1::EcPrivateKey::from_der(der).map_err(invalid_key)?;
    let curve = key
        .parameters
        .and_then(|p| p.named_curve())
        .map(|oid| oid.to_string());
    Ok(match curve.as_deref() {
        Some(OID_P256) => Private::P256(p256::SecretKey::from_sec1_der(der).map_err(invalid_key)?),
        Some(OID_P384) => Private::P384(p384::SecretKey::from_sec1_der(der).map_err(invalid_key)?),
        Some(OID_P521) => Private::P521(p521::SecretKey::from_sec1_der(der).map_err(invalid_key)?),
        _ => return Err(unsupported_key()),
    })
}

/// SEC1's ECPrivateKey as OpenSSL writes it: with the curve and the
/// public key (which RustCrypto's encoder leaves out).
fn sec1_der(private: &[u8], curve: &str, public: &[u8]) -> Result<Vec<u8>, JsErrorBox> {
    use pkcs8::der::Encode;
    let oid = pkcs8::ObjectIdentifier::new(curve).map_err(invalid_key)?;
    sec1::EcPrivateKey {
        private_key: private,
        parameters: Some(sec1::EcParameters::NamedCurve(oid)),
        public_key: Some(public),
    }
    .to_der()
    .map_err(invalid_key)
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A base64url field of a JWK, in workerd's words when it is missing.
fn jwk_bytes(jwk: &Value, field: &str) -> Result<Vec<u8>, JsErrorBox> {
    let kty = jwk["kty"].as_str().unwrap_or("JWK");
    let text = jwk[field]
        .as_str()
        .ok_or_else(|| error_of(&format!("{kty} JWK missing {field} parameter")))?;
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|_| error_of(&format!("{kty} JWK {field} parameter is not base64url")))
}

/// A JWK's key: the private key when it has one and one is wanted, else
/// the public key.
fn jwk_key(jwk: &Value, want_public: bool) -> Result<Result<Private, Public>, JsErrorBox> {
    let private = !want_public && jwk.get("d").is_some();
    let invalid = |e: &dyn std::fmt::Display| {
        error_of(&format!(
            "Invalid JWK {} key: {e}",
            jwk["kty"].as_str().unwrap_or("?")
        ))
    };
    match jwk["kty"].as_str() {
        Some("RSA") => {
            let n = BigUint::from_bytes_be(&jwk_bytes(jwk, "n")?);
            let e = BigUint::from_bytes_be(&jwk_bytes(jwk, "e")?);
            if !private {
                return Ok(Err(Public::Rsa(Box::new(
                    RsaPublicKey::new(n, e).map_err(|e| invalid(&e))?,
                ))));
            }
            let d = BigUint::from_bytes_be(&jwk_bytes(jwk, "d")?);
            let primes = vec![
                BigUint::from_bytes_be(&jwk_bytes(jwk, "p")?),
                BigUint::from_bytes_be(&jwk_bytes(jwk, "q")?),
            ];
            let mut key =
                RsaPrivateKey::from_components(n, e, d, primes).map_err(|e| invalid(&e))?;
            key.precompute().map_err(|e| invalid(&e))?;
            Ok(Ok(Private::Rsa(Box::new(key))))
        }
        Some("EC") => {
            let x = jwk_bytes(jwk, "x")?;
            let y = jwk_bytes(jwk, "y")?;
            let point = [&[4u8][..], &x, &y].concat();
            macro_rules! ec {
                ($curve:ident, $private:ident, $public:ident) => {{
                    if private {
                        let d = jwk_bytes(jwk, "d")?;
                        let key = $curve::SecretKey::from_slice(&d).map_err(|e| invalid(&e))?;
                        Ok(Ok(Private::$private(key)))
                    } else {
                        let key =
                            $curve::PublicKey::from_sec1_bytes(&point).map_err(|e| invalid(&e))?;
                        Ok(Err(Public::$public(key)))
                    }
                }};
            }
            match jwk["crv"].as_str() {
                Some("P-256") => ec!(p256, P256, P256),
                Some("P-384") => ec!(p384, P384, P384),
                Some("P-521") => ec!(p521, P521, P521),
                _ => Err(error_of("Unsupported JWK EC curve")),
            }
        }
        Some("OKP") => {
            let x: [u8; 32] = jwk_bytes(jwk, "x")?
                .try_into()
                .map_err(|_| invalid(&"x must be 32 bytes"))?;
            let d = if private {
                let d: [u8; 32] = jwk_bytes(jwk, "d")?
                    .try_into()
                    .map_err(|_| invalid(&"d must be 32 bytes"))?;
                Some(d)
            } else {
                None
            };
            match (jwk["crv"].as_str(), d) {
                (Some("Ed25519"), Some(d)) => Ok(Ok(Private::Ed25519(
                    ed25519_dalek::SigningKey::from_bytes(&d),
                ))),
                (Some("Ed25519"), None) => Ok(Err(Public::Ed25519(
                    ed25519_dalek::VerifyingKey::from_bytes(&x).map_err(|e| invalid(&e))?,
                ))),
                (Some("X25519"), Some(d)) => {
                    Ok(Ok(Private::X25519(x25519_dalek::StaticSecret::from(d))))
                }
                (Some("X25519"), None) => Ok(Err(Public::X25519(x25519_dalek::PublicKey::from(x)))),
                _ => Err(error_of("Unsupported JWK OKP curve")),
            }
        }
        _ => Err(error_of("Invalid JWK keyType")),
    }
}

fn jwk_of_public(public: &Public) -> Value {
    fn ec(point: &[u8], crv: &str) -> Value {
        // Uncompressed SEC1: 0x04, then x and y of equal length.
        let half = (point.len() - 1) / 2;
        json!({ "kty": "EC", "x": b64(&point[1..1 + half]), "y": b64(&point[1 + half..]), "crv": crv })
    }
    match public {
        Public::Rsa(key) => {
            json!({ "kty": "RSA", "n": b64(&key.n().to_bytes_be()), "e": b64(&key.e().to_bytes_be()) })
        }
        Public::P256(key) => ec(key.to_encoded_point(false).as_bytes(), "P-256"),
        Public::P384(key) => ec(key.to_encoded_point(false).as_bytes(), "P-384"),
        Public::P521(key) => ec(key.to_encoded_point(false).as_bytes(), "P-521"),
        Public::Ed25519(key) => json!({ "kty": "OKP", "crv": "Ed25519", "x": b64(key.as_bytes()) }),
        Public::X25519(key) => json!({ "kty": "OKP", "crv": "X25519", "x": b64(key.as_bytes()) }),
    }
}

fn jwk_of_private(private: &Private) -> Result<Value, JsErrorBox> {
    let mut jwk = jwk_of_public(&private.public());
    let d = match private {
        Private::Rsa(key) => {
            let primes = key.primes();
            let (p, q) = (&primes[0], &primes[1]);
            let one = BigUint::from(1u8);
            jwk["d"] = json!(b64(&key.d().to_bytes_be()));
            jwk["p"] = json!(b64(&p.to_bytes_be()));
            jwk["q"] = json!(b64(&q.to_bytes_be()));
            jwk["dp"] = json!(b64(&(key.d() % (p - &one)).to_bytes_be()));
            jwk["dq"] = json!(b64(&(key.d() % (q - &one)).to_bytes_be()));
            let qi = key
                .crt_coefficient()
                .ok_or_else(|| invalid_key("no CRT coefficient"))?;
            jwk["qi"] = json!(b64(&qi.to_bytes_be()));
            return Ok(jwk);
        }
        Private::P256(key) => key.to_bytes().to_vec(),
        Private::P384(key) => key.to_bytes().to_vec(),
        Private::P521(key) => key.to_bytes().to_vec(),
        Private::Ed25519(key) => key.to_bytes().to_vec(),
        Private::X25519(key) => key.to_bytes().to_vec(),
    };
    jwk["d"] = json!(b64(&d));
    Ok(jwk)
}

/// Reads a key: `format` "pem", "der" or "jwk" (JSON text); `der_type`
/// for DER; `public` to get the public half of a private key.
#[op2]
#[serde]
pub fn op_ridge_key_read(
    #[buffer] data: &[u8],
    #[string] format: &str,
    #[string] der_type: &str,
    public: bool,
    #[buffer] passphrase: Option<JsBuffer>,
) -> Result<KeyInfo, JsErrorBox> {
    read_key(data, format, der_type, public, passphrase.as_deref())
}

/// Writes a key (its PKCS#8 or SPKI DER, `private` saying which) as
/// `format` ("pem", "der", "jwk": JSON text) in `der_type` ("pkcs8",
/// "spki", "pkcs1", "sec1").
#[op2]
#[buffer]
pub fn op_ridge_key_write(
    #[buffer] der: &[u8],
    private: bool,
    #[string] format: &str,
    #[string] der_type: &str,
    #[string] cipher: &str,
    #[buffer] passphrase: &[u8],
) -> Result<Vec<u8>, JsErrorBox> {
    let wrong_type = || {
        error(
            "ERR_CRYPTO_INCOMPATIBLE_KEY_OPTIONS",
            "The selected key encoding pkcs1 can only be used for RSA keys.",
        )
    };
    let (label, bytes): (&str, Vec<u8>) = if private {
        let key = Private::from_pkcs8(der)?;
        if format == "jwk" {
            return Ok(jwk_of_private(&key)?.to_string().into_bytes());
        }
        match (der_type, &key) {
            ("pkcs8", _) if !cipher.is_empty() => (
                "ENCRYPTED PRIVATE KEY",
                encrypt_pkcs8(der, cipher, passphrase)?,
            ),
            ("pkcs8", _) => ("PRIVATE KEY", der.to_vec()),
            ("pkcs1", Private::Rsa(rsa)) => {
                use rsa::pkcs1::EncodeRsaPrivateKey;
                (
                    "RSA PRIVATE KEY",
                    rsa.to_pkcs1_der().map_err(invalid_key)?.as_bytes().to_vec(),
                )
            }
            ("pkcs1", _) => return Err(wrong_type()),
            ("sec1", Private::P256(ec)) => (
                "EC PRIVATE KEY",
                sec1_der(
                    &ec.to_bytes(),
                    OID_P256,
                    ec.public_key().to_encoded_point(false).as_bytes(),
                )?,
            ),
            ("sec1", Private::P384(ec)) => (
                "EC PRIVATE KEY",
                sec1_der(
                    &ec.to_bytes(),
                    OID_P384,
                    ec.public_key().to_encoded_point(false).as_bytes(),
                )?,
            ),
            ("sec1", Private::P521(ec)) => (
                "EC PRIVATE KEY",
                sec1_der(
                    &ec.to_bytes(),
                    OID_P521,
                    ec.public_key().to_encoded_point(false).as_bytes(),
                )?,
            ),
            ("sec1", _) => {
                return Err(error(
                    "ERR_CRYPTO_INCOMPATIBLE_KEY_OPTIONS",
                    "The selected key encoding sec1 can only be used for EC keys.",
                ))
            }
            _ => return Err(error_of("Invalid key encoding type")),
        }
    } else {
        let key = Public::from_spki(der)?;
        if format == "jwk" {
            return Ok(jwk_of_public(&key).to_string().into_bytes());
        }
        match (der_type, &key) {
            ("pkcs1", Public::Rsa(rsa)) => {
                use rsa::pkcs1::EncodeRsaPublicKey;
                (
                    "RSA PUBLIC KEY",
                    rsa.to_pkcs1_der().map_err(invalid_key)?.as_bytes().to_vec(),
                )
            }
            ("pkcs1", _) => return Err(wrong_type()),
            // workerd writes SPKI whatever else is asked.
            _ => ("PUBLIC KEY", der.to_vec()),
        }
    };
    if format == "der" {
        return Ok(bytes);
    }
    pem_rfc7468::encode_string(label, LineEnding::LF, &bytes)
        .map(String::into_bytes)
        .map_err(invalid_key)
}

/// Makes a key pair: `key_type` "rsa" (with `modulus_length` bits and
/// `public_exponent`), "ec" (on `named_curve`), "ed25519" or "x25519".
/// Returns the private key; JS derives the public one.
#[op2]
#[serde]
pub fn op_ridge_key_generate(
    #[string] key_type: &str,
    #[smi] modulus_length: u32,
    #[number] public_exponent: u64,
    #[string] named_curve: &str,
) -> Result<KeyInfo, JsErrorBox> {
    let key = match key_type {
        "rsa" => {
            if !(512..=MAX_RSA_BITS as u32).contains(&modulus_length) {
                return Err(error_of(&format!(
                    "Invalid RSA modulus length {modulus_length}: Ridge generates keys of 512 to {MAX_RSA_BITS} bits"
                )));
            }
            // An even exponent has no inverse: key generation would never end.
            if public_exponent < 3
                || public_exponent.is_multiple_of(2)
                || public_exponent > u64::from(u32::MAX)
            {
                return Err(error_of(&format!(
                    "Invalid RSA public exponent {public_exponent}: it must be odd, at least 3 and below 2^32"
                )));
            }
            let exponent = BigUint::from(public_exponent);
            let key = RsaPrivateKey::new_with_exp(&mut OsRng, modulus_length as usize, &exponent)
                .map_err(invalid_key)?;
            Private::Rsa(Box::new(key))
        }
        "ec" => match named_curve {
            "P-256" | "prime256v1" | "secp256r1" => {
                Private::P256(p256::SecretKey::random(&mut OsRng))
            }
            "P-384" | "secp384r1" => Private::P384(p384::SecretKey::random(&mut OsRng)),
            "P-521" | "secp521r1" => Private::P521(p521::SecretKey::random(&mut OsRng)),
            _ => return Err(error_of("Invalid or unsupported curve")),
        },
        "ed25519" => Private::Ed25519(ed25519_dalek::SigningKey::generate(&mut OsRng)),
        "x25519" => Private::X25519(x25519_dalek::StaticSecret::random_from_rng(OsRng)),
        other => {
            return Err(error(
                "ERR_INVALID_ARG_VALUE",
                &format!("The argument 'type' must be a supported key type. Received '{other}'"),
            ))
        }
    };
    key.info()
}

/// How a signature is made: the digest (empty for Ed25519), RSA's padding
/// (1: PKCS#1 v1.5, 6: PSS) and PSS salt length (negative: Node's
/// RSA_PSS_SALTLEN_DIGEST -1, MAX_SIGN/AUTO -2), and ECDSA's encoding.
struct Scheme<'a> {
    digest: &'a str,
    padding: u32,
    salt_length: i32,
    p1363: bool,
}

fn digest_len(digest: &str) -> Result<usize, JsErrorBox> {
    Ok(digest_once(digest, b"")?.len())
}

macro_rules! with_rsa_digest {
    ($digest:expr, $D:ident => $then:expr) => {
        match $digest.to_ascii_lowercase().trim_start_matches("rsa-") {
            "sha1" => {
                type $D = sha1::Sha1;
                $then
            }
            "sha224" => {
                type $D = sha2::Sha224;
                $then
            }
            "sha256" => {
                type $D = sha2::Sha256;
                $then
            }
            "sha384" => {
                type $D = sha2::Sha384;
                $then
            }
            "sha512" => {
                type $D = sha2::Sha512;
                $then
            }
            other => {
                return Err(error(
                    "ERR_CRYPTO_INVALID_DIGEST",
                    &format!("Invalid digest: {other}"),
                ))
            }
        }
    };
}

fn sign(key: &Private, data: &[u8], scheme: &Scheme) -> Result<Vec<u8>, JsErrorBox> {
    use ecdsa::signature::hazmat::PrehashSigner;
    use ed25519_dalek::Signer;
    let failed = |e: &dyn std::fmt::Display| {
        error(
            "ERR_CRYPTO_OPERATION_FAILED",
            &format!("Signing failed: {e}"),
        )
    };
    macro_rules! ecdsa_sign {
        ($curve:ident, $key:expr) => {{
            let hash = digest_once(scheme.digest, data)?;
            let signer = $curve::ecdsa::SigningKey::from($key);
            let signature: $curve::ecdsa::Signature =
                signer.sign_prehash(&hash).map_err(|e| failed(&e))?;
            Ok(if scheme.p1363 {
                signature.to_bytes().to_vec()
            } else {
                signature.to_der().as_bytes().to_vec()
            })
        }};
    }
    match key {
        Private::Rsa(rsa) => {
            let hash = digest_once(scheme.digest, data)?;
            let signature = if scheme.padding == 6 {
                let too_long =
                    || error_of("Signing failed: the salt is too long for this key and digest");
                let max = rsa
                    .size()
                    .checked_sub(hash.len() + 2)
                    .ok_or_else(too_long)?;
                let salt = match scheme.salt_length {
                    -1 => hash.len(),
                    n if n < 0 => max,
                    n => n as usize,
                };
                if salt > max {
                    return Err(too_long());
                }
                with_rsa_digest!(scheme.digest, D => rsa.sign_with_rng(&mut OsRng, rsa::Pss::new_with_salt::<D>(salt), &hash))
            } else {
                with_rsa_digest!(scheme.digest, D => rsa.sign(rsa::Pkcs1v15Sign::new::<D>(), &hash))
            };
            signature.map_err(|e| failed(&e))
        }
        Private::P256(ec) => ecdsa_sign!(p256, ec),
        Private::P384(ec) => ecdsa_sign!(p384, ec),
        Private::P521(ec) => {
            let hash = digest_once(scheme.digest, data)?;
            let signer =
                p521::ecdsa::SigningKey::from_bytes(&ec.to_bytes()).map_err(|e| failed(&e))?;
            let signature: p521::ecdsa::Signature =
                signer.sign_prehash(&hash).map_err(|e| failed(&e))?;
            Ok(if scheme.p1363 {
                signature.to_bytes().to_vec()
            } else {
                signature.to_der().as_bytes().to_vec()
            })
        }
        Private::Ed25519(ed) => Ok(ed.sign(data).to_bytes().to_vec()),
        // workerd's words; X25519 keys are for key agreement.
        Private::X25519(_) => Err(error_of("Failed to initialize signing context")),
    }
}

fn verify(
    key: &Public,
    data: &[u8],
    signature: &[u8],
    scheme: &Scheme,
) -> Result<bool, JsErrorBox> {
    use ecdsa::signature::hazmat::PrehashVerifier;
    macro_rules! ecdsa_verify {
        ($curve:ident, $key:expr) => {{
            let hash = digest_once(scheme.digest, data)?;
            let verifier = $curve::ecdsa::VerifyingKey::from($key);
            let parsed = if scheme.p1363 {
                $curve::ecdsa::Signature::from_slice(signature)
            } else {
                $curve::ecdsa::Signature::from_der(signature)
            };
            Ok(parsed.is_ok_and(|s| verifier.verify_prehash(&hash, &s).is_ok()))
        }};
    }
    match key {
        Public::Rsa(rsa) => {
            let hash = digest_once(scheme.digest, data)?;
            if scheme.padding != 6 {
                return Ok(with_rsa_digest!(scheme.digest, D => rsa.verify(rsa::Pkcs1v15Sign::new::<D>(), &hash, signature)).is_ok());
            }
            let h = digest_len(scheme.digest)?;
            let max = rsa.size().saturating_sub(h + 2);
            // AUTO (-2) tries the two lengths signers use: the most that
            // fits (Node's default) and the digest's (everyone else's).
            let salts: Vec<usize> = match scheme.salt_length {
                -1 => vec![h],
                n if n < 0 => vec![max, h],
                n => vec![n as usize],
            };
            let verify_with = |salt: usize| -> Result<bool, JsErrorBox> {
                Ok(with_rsa_digest!(scheme.digest, D => rsa.verify(rsa::Pss::new_with_salt::<D>(salt), &hash, signature)).is_ok())
            };
            for salt in salts {
                if verify_with(salt)? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        Public::P256(ec) => ecdsa_verify!(p256, ec),
        Public::P384(ec) => ecdsa_verify!(p384, ec),
        Public::P521(ec) => {
            let hash = digest_once(scheme.digest, data)?;
            let verifier =
                p521::ecdsa::VerifyingKey::from_sec1_bytes(ec.to_encoded_point(false).as_bytes())
                    .map_err(invalid_key)?;
            let parsed = if scheme.p1363 {
                p521::ecdsa::Signature::from_slice(signature)
            } else {
                p521::ecdsa::Signature::from_der(signature)
            };
            Ok(parsed.is_ok_and(|s| verifier.verify_prehash(&hash, &s).is_ok()))
        }
        Public::Ed25519(ed) => Ok(ed25519_dalek::Signature::from_slice(signature)
            .is_ok_and(|s| ed.verify_strict(data, &s).is_ok())),
        Public::X25519(_) => Err(error(
            "ERR_CRYPTO_OPERATION_FAILED",
            "X25519 keys cannot verify: use them for key agreement",
        )),
    }
}

/// Signs `data` with a private key (its PKCS#8 DER).
#[op2]
#[buffer]
pub fn op_ridge_key_sign(
    #[buffer] der: &[u8],
    #[buffer] data: &[u8],
    #[string] digest: &str,
    #[smi] padding: u32,
    #[smi] salt_length: i32,
    p1363: bool,
) -> Result<Vec<u8>, JsErrorBox> {
    let key = Private::from_pkcs8(der)?;
    sign(
        &key,
        data,
        &Scheme {
            digest,
            padding,
            salt_length,
            p1363,
        },
    )
}

/// Verifies `signature` of `data` with a key: SPKI DER, or PKCS#8 DER
/// when `private` (its public half verifies).
#[op2(fast)]
pub fn op_ridge_key_verify(
    #[buffer] der: &[u8],
    private: bool,
    #[buffer] data: &[u8],
    #[buffer] signature: &[u8],
    #[string] digest: &str,
    #[smi] padding: u32,
    #[smi] salt_length: i32,
    p1363: bool,
) -> Result<bool, JsErrorBox> {
    let key = if private {
        Private::from_pkcs8(der)?.public()
    } else {
        Public::from_spki(der)?
    };
    verify(
        &key,
        data,
        signature,
        &Scheme {
            digest,
            padding,
            salt_length,
            p1363,
        },
    )
}

/// `crypto.diffieHellman({ privateKey, publicKey })` for X25519 and ECDH:
/// the shared secret of a private key (PKCS#8 DER) and a public key (SPKI
/// DER) of the same type.
#[op2]
#[buffer]
pub fn op_ridge_key_agree(
    #[buffer] private: &[u8],
    #[buffer] public: &[u8],
) -> Result<Vec<u8>, JsErrorBox> {
    let private = Private::from_pkcs8(private)?;
    let public = Public::from_spki(public)?;
    match (&private, &public) {
        (Private::X25519(secret), Public::X25519(theirs)) => {
            let shared = secret.diffie_hellman(theirs);
            // A low-order public key gives an all-zero secret (OpenSSL refuses it too).
            if !shared.was_contributory() {
                return Err(error_of(
                    "Failed to derive the shared secret: the public key is of low order",
                ));
            }
            Ok(shared.as_bytes().to_vec())
        }
        (Private::P256(secret), Public::P256(theirs)) => Ok(p256::ecdh::diffie_hellman(
            secret.to_nonzero_scalar(),
            theirs.as_affine(),
        )
        .raw_secret_bytes()
        .to_vec()),
        (Private::P384(secret), Public::P384(theirs)) => Ok(p384::ecdh::diffie_hellman(
            secret.to_nonzero_scalar(),
            theirs.as_affine(),
        )
        .raw_secret_bytes()
        .to_vec()),
        (Private::P521(secret), Public::P521(theirs)) => Ok(p521::ecdh::diffie_hellman(
            secret.to_nonzero_scalar(),
            theirs.as_affine(),
        )
        .raw_secret_bytes()
        .to_vec()),
        _ => {
            let (ours, theirs) = (public_type(&private.public()), public_type(&public));
            Err(error(
                "ERR_CRYPTO_INCOMPATIBLE_KEY",
                &format!("Incompatible key types for Diffie-Hellman: {ours} and {theirs}"),
            ))
        }
    }
}

fn public_type(key: &Public) -> &'static str {
    match key {
        Public::Rsa(_) => "rsa",
        Public::P256(_) | Public::P384(_) | Public::P521(_) => "ec",
        Public::Ed25519(_) => "ed25519",
        Public::X25519(_) => "x25519",
    }
}
