//! Digests the Web Crypto crates do not offer but workers use: MD5, which
//! Cloudflare's `crypto.subtle.digest` accepts for legacy protocols.

use deno_core::op2;
use md5::{Digest, Md5};

#[op2]
#[buffer]
pub fn op_ridge_md5(#[buffer] data: &[u8]) -> Vec<u8> {
    Md5::digest(data).to_vec()
}
