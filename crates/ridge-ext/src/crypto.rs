//! Hashing in Rust for `node:crypto` (js/node/crypto.js) and for the
//! digests the Web Crypto crates do not offer but workers use (MD5, which
//! Cloudflare's `crypto.subtle.digest` accepts for legacy protocols):
//! `createHash`, `createHmac`, `crypto.hash`, PBKDF2, HKDF and scrypt. A hash in
//! progress is a resource, fed by `update` calls and consumed by `digest`.

use std::borrow::Cow;
use std::cell::RefCell;

use deno_core::{op2, OpState, Resource, ResourceId};
use deno_error::JsErrorBox;
use digest::DynDigest;
use hmac::{Hmac, Mac};

/// PBKDF2 iterations Cloudflare allows (Web Crypto's limit too).
pub(crate) const MAX_PBKDF2_ITERATIONS: u32 = 100_000;

/// The hash algorithms Ridge knows, by Node's names (lower case, with the
/// `RSA-` aliases OpenSSL also accepts), as Node's `getHashes()` lists them.
pub const HASHES: &[&str] = &[
    "md5",
    "sha1",
    "sha224",
    "sha256",
    "sha3-224",
    "sha3-256",
    "sha3-384",
    "sha3-512",
    "sha384",
    "sha512",
    "sha512-224",
    "sha512-256",
];

fn canonical(algorithm: &str) -> Cow<'_, str> {
    let lower = algorithm.to_ascii_lowercase();
    let name = lower.strip_prefix("rsa-").unwrap_or(&lower);
    Cow::Owned(match name {
        "sha-1" => "sha1".into(),
        "sha-224" => "sha224".into(),
        "sha-256" => "sha256".into(),
        "sha-384" => "sha384".into(),
        "sha-512" => "sha512".into(),
        other => other.to_string(),
    })
}

fn unknown(algorithm: &str) -> JsErrorBox {
    JsErrorBox::new("Error", format!("Digest method not supported: {algorithm}"))
}

/// Runs `$then` with `$D` bound to the digest type `$algorithm` names.
macro_rules! with_digest {
    ($algorithm:expr, $D:ident => $then:expr, else $otherwise:expr) => {
        match canonical($algorithm).as_ref() {
            "md5" => {
                type $D = md5::Md5;
                $then
            }
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
            "sha512-224" => {
                type $D = sha2::Sha512_224;
                $then
            }
            "sha512-256" => {
                type $D = sha2::Sha512_256;
                $then
            }
            "sha3-224" => {
                type $D = sha3::Sha3_224;
                $then
            }
            "sha3-256" => {
                type $D = sha3::Sha3_256;
                $then
            }
            "sha3-384" => {
                type $D = sha3::Sha3_384;
                $then
            }
            "sha3-512" => {
                type $D = sha3::Sha3_512;
                $then
            }
            _ => $otherwise,
        }
    };
}

/// An HMAC in progress, whatever its digest.
trait DynMac {
    fn update(&mut self, data: &[u8]);
    fn finish(self: Box<Self>) -> Vec<u8>;
    fn boxed_clone(&self) -> Box<dyn DynMac>;
}

/// `DynMac` for the HMAC of each digest Ridge knows.
macro_rules! dyn_mac {
    ($($D:ty),* $(,)?) => {$(
        impl DynMac for Hmac<$D> {
            fn update(&mut self, data: &[u8]) {
                Mac::update(self, data);
            }
            fn finish(self: Box<Self>) -> Vec<u8> {
                Mac::finalize(*self).into_bytes().to_vec()
            }
            fn boxed_clone(&self) -> Box<dyn DynMac> {
                Box::new(self.clone())
            }
        }
    )*};
}

dyn_mac!(
    md5::Md5,
    sha1::Sha1,
    sha2::Sha224,
    sha2::Sha256,
    sha2::Sha384,
    sha2::Sha512,
    sha2::Sha512_224,
    sha2::Sha512_256,
    sha3::Sha3_224,
    sha3::Sha3_256,
    sha3::Sha3_384,
    sha3::Sha3_512,
);

enum Hasher {
    Digest(Box<dyn DynDigest>),
    Hmac(Box<dyn DynMac>),
}

impl Hasher {
    fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Digest(digest) => digest.update(data),
            Hasher::Hmac(mac) => mac.update(data),
        }
    }

    fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Digest(digest) => digest.finalize().to_vec(),
            Hasher::Hmac(mac) => mac.finish(),
        }
    }

    fn duplicate(&self) -> Hasher {
        match self {
            Hasher::Digest(digest) => Hasher::Digest(digest.box_clone()),
            Hasher::Hmac(mac) => Hasher::Hmac(mac.boxed_clone()),
        }
    }
}

/// A hash being fed; `None` once digested (Node refuses to go on then).
struct HashResource(RefCell<Option<Hasher>>);

impl Resource for HashResource {
    fn name(&self) -> Cow<'_, str> {
        "ridgeHash".into()
    }
}

fn add(state: &mut OpState, hasher: Hasher) -> ResourceId {
    state
        .resource_table
        .add(HashResource(RefCell::new(Some(hasher))))
}

fn with_hasher<T>(
    state: &mut OpState,
    rid: ResourceId,
    then: impl FnOnce(&mut Hasher) -> T,
) -> Result<T, JsErrorBox> {
    let resource = state
        .resource_table
        .get::<HashResource>(rid)
        .map_err(JsErrorBox::from_err)?;
    let mut slot = resource.0.borrow_mut();
    let hasher = slot
        .as_mut()
        .ok_or_else(|| JsErrorBox::new("Error", "Digest already called"))?;
    Ok(then(hasher))
}

#[op2(fast)]
#[smi]
pub fn op_ridge_hash_create(
    state: &mut OpState,
    #[string] algorithm: &str,
) -> Result<ResourceId, JsErrorBox> {
    let digest: Box<dyn DynDigest> =
        with_digest!(algorithm, D => Box::new(D::default()), else return Err(unknown(algorithm)));
    Ok(add(state, Hasher::Digest(digest)))
}

#[op2(fast)]
#[smi]
pub fn op_ridge_hmac_create(
    state: &mut OpState,
    #[string] algorithm: &str,
    #[buffer] key: &[u8],
) -> Result<ResourceId, JsErrorBox> {
    let mac: Box<dyn DynMac> = with_digest!(
        algorithm,
        D => Box::new(<Hmac<D> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length")),
        else return Err(JsErrorBox::new("Error", format!("Invalid digest: {algorithm}")))
    );
    Ok(add(state, Hasher::Hmac(mac)))
}

#[op2(fast)]
pub fn op_ridge_hash_update(
    state: &mut OpState,
    #[smi] rid: ResourceId,
    #[buffer] data: &[u8],
) -> Result<(), JsErrorBox> {
    with_hasher(state, rid, |hasher| hasher.update(data))
}

/// `update` with a string, as UTF-8, without a JavaScript encoding step.
#[op2(fast)]
pub fn op_ridge_hash_update_text(
    state: &mut OpState,
    #[smi] rid: ResourceId,
    #[string] text: &str,
) -> Result<(), JsErrorBox> {
    with_hasher(state, rid, |hasher| hasher.update(text.as_bytes()))
}

/// The digest; the resource is consumed (JavaScript remembers that it was
/// digested, and answers a second `digest` with Node's error).
#[op2]
#[buffer]
pub fn op_ridge_hash_digest(
    state: &mut OpState,
    #[smi] rid: ResourceId,
) -> Result<Vec<u8>, JsErrorBox> {
    let resource = state
        .resource_table
        .take::<HashResource>(rid)
        .map_err(JsErrorBox::from_err)?;
    let hasher = resource
        .0
        .borrow_mut()
        .take()
        .ok_or_else(|| JsErrorBox::new("Error", "Digest already called"))?;
    Ok(hasher.finish())
}

/// `hash.copy()`: a second hash with the same state.
#[op2(fast)]
#[smi]
pub fn op_ridge_hash_copy(
    state: &mut OpState,
    #[smi] rid: ResourceId,
) -> Result<ResourceId, JsErrorBox> {
    let copy = with_hasher(state, rid, |hasher| hasher.duplicate())?;
    Ok(add(state, copy))
}

/// One-shot digest (`crypto.hash`, and MD5 for `crypto.subtle.digest`).
#[op2]
#[buffer]
pub fn op_ridge_hash_once(
    #[string] algorithm: &str,
    #[buffer] data: &[u8],
) -> Result<Vec<u8>, JsErrorBox> {
    digest_once(algorithm, data)
}

pub(crate) fn digest_once(algorithm: &str, data: &[u8]) -> Result<Vec<u8>, JsErrorBox> {
    with_digest!(algorithm, D => Ok(<D as digest::Digest>::digest(data).to_vec()), else Err(unknown(algorithm)))
}

/// The longest key PBKDF2 or HKDF may derive with `algorithm`: 255 of its
/// blocks (HKDF's limit, which Cloudflare applies to PBKDF2 too).
fn max_derived_length(algorithm: &str) -> Result<usize, JsErrorBox> {
    with_digest!(
        algorithm,
        D => Ok(255 * <D as digest::Digest>::output_size()),
        else Err(JsErrorBox::type_error(format!("Invalid digest: {algorithm}")))
    )
}

#[op2]
#[buffer]
pub fn op_ridge_pbkdf2(
    #[string] algorithm: &str,
    #[buffer] password: &[u8],
    #[buffer] salt: &[u8],
    iterations: u32,
    #[smi] length: u32,
) -> Result<Vec<u8>, JsErrorBox> {
    // Cloudflare's bounds: the work must stay within a request's CPU, and
    // the key within what the digest can derive.
    if iterations > MAX_PBKDF2_ITERATIONS {
        return Err(JsErrorBox::new(
            "NotSupportedError",
            format!("Pbkdf2 failed: iteration counts above {MAX_PBKDF2_ITERATIONS} are not supported (requested {iterations})."),
        ));
    }
    if length as usize > max_derived_length(algorithm)? {
        return Err(JsErrorBox::range_error(
            "Pbkdf2 failed: derived key length exceeds maximum for this hash",
        ));
    }
    let mut out = vec![0; length as usize];
    with_digest!(
        algorithm,
        D => pbkdf2::pbkdf2::<Hmac<D>>(password, salt, iterations, &mut out)
            .expect("HMAC takes keys of any length"),
        else return Err(JsErrorBox::type_error(format!("Invalid digest: {algorithm}")))
    );
    Ok(out)
}

#[op2]
#[buffer]
pub fn op_ridge_hkdf(
    #[string] algorithm: &str,
    #[buffer] key: &[u8],
    #[buffer] salt: &[u8],
    #[buffer] info: &[u8],
    #[smi] length: u32,
) -> Result<Vec<u8>, JsErrorBox> {
    if length as usize > max_derived_length(algorithm)? {
        return Err(JsErrorBox::range_error("Invalid key length"));
    }
    let mut out = vec![0; length as usize];
    let expanded = with_digest!(
        algorithm,
        D => hkdf::Hkdf::<D, Hmac<D>>::new(Some(salt), key).expand(info, &mut out).is_ok(),
        else return Err(JsErrorBox::type_error(format!("Invalid digest: {algorithm}")))
    );
    if !expanded {
        return Err(JsErrorBox::range_error("Invalid key length"));
    }
    Ok(out)
}

/// The most memory one scrypt derivation may take (Node's default `maxmem`
/// is 32 MiB; a worker may raise it up to this): the buffers are Rust's,
/// outside the isolate's heap limit.
const MAX_SCRYPT_MEMORY: u64 = 128 << 20;
/// The most mixing one derivation may do (N·r·p), 8 times Node's default:
/// the op cannot be interrupted by the CPU limit once it runs.
const MAX_SCRYPT_WORK: u64 = 8 * 16384 * 8;
/// The longest key scrypt derives.
const MAX_SCRYPT_LENGTH: u32 = 1 << 20;

/// Refuses scrypt parameters past Ridge's bounds: memory as scrypt
/// allocates it (128·r·p for B, 128·r·(N+2) for V and XY) and work N·r·p.
pub(crate) fn check_scrypt_cost(n: u64, r: u32, p: u32) -> Result<(), JsErrorBox> {
    let (r, p) = (u64::from(r), u64::from(p));
    let memory = 128u64
        .saturating_mul(r)
        .saturating_mul(p)
        .saturating_add(128u64.saturating_mul(r).saturating_mul(n.saturating_add(2)));
    if memory > MAX_SCRYPT_MEMORY {
        return Err(JsErrorBox::range_error(
            "Invalid scrypt params: memory limit exceeded",
        ));
    }
    if n.saturating_mul(r).saturating_mul(p) > MAX_SCRYPT_WORK {
        return Err(JsErrorBox::range_error(
            "Invalid scrypt params: the work (N * r * p) is over Ridge's limit",
        ));
    }
    Ok(())
}

/// scrypt with cost `n` (a power of two), block size `r` and
/// parallelisation `p`; JS has checked them against the caller's `maxmem`.
#[op2]
#[buffer]
pub fn op_ridge_scrypt(
    #[buffer] password: &[u8],
    #[buffer] salt: &[u8],
    n: u32,
    r: u32,
    p: u32,
    #[smi] length: u32,
) -> Result<Vec<u8>, JsErrorBox> {
    scrypt_derive(password, salt, n, r, p, length)
}

fn scrypt_derive(
    password: &[u8],
    salt: &[u8],
    n: u32,
    r: u32,
    p: u32,
    length: u32,
) -> Result<Vec<u8>, JsErrorBox> {
    let invalid = |why: &str| JsErrorBox::range_error(format!("Invalid scrypt params: {why}"));
    if n < 2 || !n.is_power_of_two() {
        return Err(invalid("N must be a power of 2 greater than 1"));
    }
    check_scrypt_cost(u64::from(n), r, p)?;
    if length > MAX_SCRYPT_LENGTH {
        return Err(invalid("the key is too long"));
    }
    let mut out = vec![0; length as usize];
    if out.is_empty() {
        return Ok(out);
    }
    // The length in Params is for password-hash strings (10 to 64 bytes);
    // the derived key's length is the output buffer's.
    let params = scrypt::Params::new(
        n.trailing_zeros() as u8,
        r,
        p,
        scrypt::Params::RECOMMENDED_LEN,
    )
    .map_err(|error| invalid(&error.to_string()))?;
    scrypt::scrypt(password, salt, &params, &mut out)
        .map_err(|error| invalid(&error.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn digests_match_known_answers() {
        let once = |algorithm| hex(&digest_once(algorithm, b"abc").unwrap());
        assert_eq!(once("md5"), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(once("RSA-SHA1"), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(
            once("sha256"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(digest_once("whirlpool", b"").is_err());
    }

    #[test]
    fn scrypt_matches_rfc_7914() {
        // RFC 7914 section 12, the second vector.
        let key = scrypt_derive(b"password", b"NaCl", 1024, 8, 16, 64).unwrap();
        assert_eq!(
            hex(&key),
            "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640"
        );
    }
}
