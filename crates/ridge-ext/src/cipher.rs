//! AES ciphers for `node:crypto`'s `createCipheriv`/`createDecipheriv`
//! (js/node/internal/crypto/cipher.js): ECB, CBC, CTR and GCM over the
//! `aes` block cipher, streaming as OpenSSL does: `update` returns what it
//! can (CBC and ECB hold back a partial block, and on decryption with
//! padding the last whole one), `final` pads or unpads, and GCM's tag comes
//! from GHASH over the AAD and the ciphertext as they pass. A cipher in
//! progress is a resource. Errors read "CODE|message" for JS to turn into
//! Node's errors.

use std::borrow::Cow;
use std::cell::RefCell;

use aes::cipher::generic_array::GenericArray;
use aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use deno_core::{op2, JsBuffer, OpState, Resource, ResourceId, ToJsBuffer};
use deno_error::JsErrorBox;
use ghash::universal_hash::UniversalHash;
use ghash::GHash;

const BLOCK: usize = 16;

fn error(code: &str, message: &str) -> JsErrorBox {
    JsErrorBox::generic(format!("{code}|{message}"))
}

/// workerd's words for every way decryption can fail: a wrong tag, key or
/// AAD, bad padding, a truncated ciphertext (telling them apart would help
/// an attacker).
fn authentication_failed() -> JsErrorBox {
    error("-", "Authentication failed")
}

fn finalized() -> JsErrorBox {
    error("-", "Cipher/decipher context has already been finalized")
}

/// AES with a 128, 192 or 256-bit key.
enum Aes {
    A128(Box<aes::Aes128>),
    A192(Box<aes::Aes192>),
    A256(Box<aes::Aes256>),
}

impl Aes {
    fn new(bits: usize, key: &[u8]) -> Result<Self, JsErrorBox> {
        if key.len() * 8 != bits {
            return Err(error("-", "Invalid key length"));
        }
        Ok(match bits {
            128 => Aes::A128(Box::new(aes::Aes128::new(GenericArray::from_slice(key)))),
            192 => Aes::A192(Box::new(aes::Aes192::new(GenericArray::from_slice(key)))),
            _ => Aes::A256(Box::new(aes::Aes256::new(GenericArray::from_slice(key)))),
        })
    }

    fn encrypt(&self, block: &mut [u8; BLOCK]) {
        let block = GenericArray::from_mut_slice(block);
        match self {
            Aes::A128(aes) => aes.encrypt_block(block),
            Aes::A192(aes) => aes.encrypt_block(block),
            Aes::A256(aes) => aes.encrypt_block(block),
        }
    }

    fn decrypt(&self, block: &mut [u8; BLOCK]) {
        let block = GenericArray::from_mut_slice(block);
        match self {
            Aes::A128(aes) => aes.decrypt_block(block),
            Aes::A192(aes) => aes.decrypt_block(block),
            Aes::A256(aes) => aes.decrypt_block(block),
        }
    }
}

/// What the mode keeps between calls.
enum Mode {
    Ecb,
    Cbc {
        previous: [u8; BLOCK],
    },
    Ctr {
        counter: u128,
        keystream: [u8; BLOCK],
        used: usize,
    },
    Gcm(Box<Gcm>),
}

/// GCM: CTR with a 32-bit counter, and GHASH over the AAD and ciphertext.
struct Gcm {
    ctr: Mode,
    ghash: GHash,
    /// The encrypted first counter block, which masks the tag.
    tag_mask: [u8; BLOCK],
    /// Ciphertext not yet hashed (GHASH takes whole blocks).
    pending: Vec<u8>,
    aad_len: u64,
    text_len: u64,
    tag_len: usize,
    /// The tag a decryption must match (`setAuthTag`).
    expected_tag: Option<Vec<u8>>,
    /// The tag an encryption produced (`getAuthTag`).
    tag: Option<Vec<u8>>,
}

/// A cipher in progress.
pub struct CipherResource(RefCell<Cipher>);

impl Resource for CipherResource {
    fn name(&self) -> Cow<'_, str> {
        "ridgeCipher".into()
    }
}

struct Cipher {
    aes: Aes,
    mode: Mode,
    decrypt: bool,
    padding: bool,
    /// Input not yet processed: a partial block (ECB, CBC), and on
    /// decryption with padding also the last whole block.
    held: Vec<u8>,
    finished: bool,
}

/// GCM tag lengths Node (and NIST SP 800-38D) allow: 4, 8, or 12 to 16 bytes.
fn valid_tag_length(length: usize) -> bool {
    matches!(length, 4 | 8 | 12..=16)
}

/// Splits a name such as `aes-256-gcm` into key bits and mode.
fn parse_name(name: &str) -> Option<(usize, &'static str)> {
    let lower = name.to_ascii_lowercase();
    let (bits, mode) = match lower.as_str() {
        "id-aes128-gcm" => ("128", "gcm"),
        "id-aes192-gcm" => ("192", "gcm"),
        "id-aes256-gcm" => ("256", "gcm"),
        other => {
            let rest = other.strip_prefix("aes-")?;
            let (bits, mode) = rest.split_once('-')?;
            let mode = ["ecb", "cbc", "ctr", "gcm"]
                .into_iter()
                .find(|m| *m == mode)?;
            (bits, mode)
        }
    };
    let bits = match bits {
        "128" => 128,
        "192" => 192,
        "256" => 256,
        _ => return None,
    };
    Some((bits, mode))
}

/// The IV length a cipher takes (0: none), and the key length, in bytes;
/// None for an unknown cipher (`getCipherInfo`).
pub fn cipher_info(name: &str) -> Option<(usize, usize, &'static str)> {
    let (bits, mode) = parse_name(name)?;
    let iv = match mode {
        "ecb" => 0,
        "gcm" => 12,
        _ => BLOCK,
    };
    Some((bits / 8, iv, mode))
}

fn counter_block(counter: u128) -> [u8; BLOCK] {
    counter.to_be_bytes()
}

impl Mode {
    /// CTR (and GCM's CTR): XORs `data` with the keystream in place.
    fn apply_keystream(&mut self, aes: &Aes, data: &mut [u8], counter_bits: u32) {
        let Mode::Ctr {
            counter,
            keystream,
            used,
        } = self
        else {
            unreachable!("only CTR has a keystream")
        };
        for byte in data {
            if *used == BLOCK {
                *keystream = counter_block(*counter);
                aes.encrypt(keystream);
                *counter = if counter_bits == 128 {
                    counter.wrapping_add(1)
                } else {
                    // GCM: only the low 32 bits count.
                    (*counter & !0xffff_ffff) | ((*counter as u32).wrapping_add(1) as u128)
                };
                *used = 0;
            }
            *byte ^= keystream[*used];
            *used += 1;
        }
    }
}

impl Gcm {
    fn new(aes: &Aes, iv: &[u8], tag_len: usize) -> Self {
        let mut h = [0u8; BLOCK];
        aes.encrypt(&mut h);
        let ghash = GHash::new(GenericArray::from_slice(&h));
        // J0: the IV and a counter of 1 for 96-bit IVs, else GHASH of the IV.
        let j0 = if iv.len() == 12 {
            let mut j0 = [0u8; BLOCK];
            j0[..12].copy_from_slice(iv);
            j0[15] = 1;
            j0
        } else {
            let mut hasher = ghash.clone();
            hasher.update_padded(iv);
            let mut lengths = [0u8; BLOCK];
            lengths[8..].copy_from_slice(&((iv.len() as u64) * 8).to_be_bytes());
            hasher.update(&[GenericArray::clone_from_slice(&lengths)]);
            hasher.finalize().into()
        };
        let mut tag_mask = j0;
        aes.encrypt(&mut tag_mask);
        let start = u128::from_be_bytes(j0);
        let first = (start & !0xffff_ffff) | ((start as u32).wrapping_add(1) as u128);
        Gcm {
            ctr: Mode::Ctr {
                counter: first,
                keystream: [0; BLOCK],
                used: BLOCK,
            },
            ghash,
            tag_mask,
            pending: Vec::new(),
            aad_len: 0,
            text_len: 0,
            tag_len,
            expected_tag: None,
            tag: None,
        }
    }

    /// Hashes ciphertext, whole blocks now and the rest when more comes.
    fn hash_text(&mut self, ciphertext: &[u8]) {
        self.text_len += ciphertext.len() as u64;
        self.pending.extend_from_slice(ciphertext);
        let whole = self.pending.len() / BLOCK * BLOCK;
        for block in self.pending[..whole].chunks_exact(BLOCK) {
            self.ghash.update(&[GenericArray::clone_from_slice(block)]);
        }
        self.pending.drain(..whole);
    }

    fn tag(&mut self) -> Vec<u8> {
        let pending = std::mem::take(&mut self.pending);
        self.ghash.update_padded(&pending);
        let mut lengths = [0u8; BLOCK];
        lengths[..8].copy_from_slice(&(self.aad_len * 8).to_be_bytes());
        lengths[8..].copy_from_slice(&(self.text_len * 8).to_be_bytes());
        self.ghash
            .update(&[GenericArray::clone_from_slice(&lengths)]);
        let mut tag: [u8; BLOCK] = self.ghash.clone().finalize().into();
        for (byte, mask) in tag.iter_mut().zip(self.tag_mask) {
            *byte ^= mask;
        }
        tag[..self.tag_len].to_vec()
    }
}

impl Cipher {
    fn new(
        name: &str,
        key: &[u8],
        iv: Option<&[u8]>,
        decrypt: bool,
        tag_len: usize,
    ) -> Result<Self, JsErrorBox> {
        let Some((bits, mode)) = parse_name(name) else {
            return Err(error(
                "-",
                &format!("Unknown or unsupported cipher: {name}"),
            ));
        };
        let aes = Aes::new(bits, key)?;
        let iv = iv.unwrap_or_default();
        let invalid_iv = || error("-", "Invalid initialization vector");
        let mode = match mode {
            "ecb" => Mode::Ecb,
            "cbc" | "ctr" => {
                let iv: [u8; BLOCK] = iv.try_into().map_err(|_| invalid_iv())?;
                match mode {
                    "cbc" => Mode::Cbc { previous: iv },
                    _ => Mode::Ctr {
                        counter: u128::from_be_bytes(iv),
                        keystream: [0; BLOCK],
                        used: BLOCK,
                    },
                }
            }
            _ => {
                if iv.is_empty() {
                    return Err(invalid_iv());
                }
                if !valid_tag_length(tag_len) {
                    return Err(error(
                        "ERR_CRYPTO_INVALID_AUTH_TAG",
                        &format!("Invalid authentication tag length: {tag_len}"),
                    ));
                }
                Mode::Gcm(Box::new(Gcm::new(&aes, iv, tag_len)))
            }
        };
        Ok(Cipher {
            aes,
            mode,
            decrypt,
            padding: true,
            held: Vec::new(),
            finished: false,
        })
    }

    fn update(&mut self, data: &[u8]) -> Result<Vec<u8>, JsErrorBox> {
        if self.finished {
            return Err(finalized());
        }
        match &mut self.mode {
            Mode::Ctr { .. } => {
                let mut out = data.to_vec();
                self.mode.apply_keystream(&self.aes, &mut out, 128);
                Ok(out)
            }
            Mode::Gcm(gcm) => {
                let mut out = data.to_vec();
                if self.decrypt {
                    gcm.hash_text(data);
                    gcm.ctr.apply_keystream(&self.aes, &mut out, 32);
                } else {
                    gcm.ctr.apply_keystream(&self.aes, &mut out, 32);
                    gcm.hash_text(&out);
                }
                Ok(out)
            }
            Mode::Ecb | Mode::Cbc { .. } => {
                self.held.extend_from_slice(data);
                // Decrypting with padding keeps the last whole block back:
                // it may be all padding, which final() removes.
                let keep = if self.decrypt && self.padding && self.held.len().is_multiple_of(BLOCK)
                {
                    BLOCK.min(self.held.len())
                } else {
                    self.held.len() % BLOCK
                };
                let ready = self.held.len() - keep;
                let mut out: Vec<u8> = self.held.drain(..ready).collect();
                self.process_blocks(&mut out);
                Ok(out)
            }
        }
    }

    /// ECB or CBC over whole blocks, in place.
    fn process_blocks(&mut self, data: &mut [u8]) {
        for chunk in data.chunks_exact_mut(BLOCK) {
            let block: &mut [u8; BLOCK] = chunk.try_into().expect("a whole block");
            match (&mut self.mode, self.decrypt) {
                (Mode::Ecb, false) => self.aes.encrypt(block),
                (Mode::Ecb, true) => self.aes.decrypt(block),
                (Mode::Cbc { previous }, false) => {
                    for (byte, prev) in block.iter_mut().zip(previous.iter()) {
                        *byte ^= prev;
                    }
                    self.aes.encrypt(block);
                    *previous = *block;
                }
                (Mode::Cbc { previous }, true) => {
                    let input = *block;
                    self.aes.decrypt(block);
                    for (byte, prev) in block.iter_mut().zip(previous.iter()) {
                        *byte ^= prev;
                    }
                    *previous = input;
                }
                _ => unreachable!("only ECB and CBC work in blocks"),
            }
        }
    }

    fn finish(&mut self) -> Result<Vec<u8>, JsErrorBox> {
        if self.finished {
            return Err(finalized());
        }
        self.finished = true;
        match &mut self.mode {
            Mode::Ctr { .. } => Ok(Vec::new()),
            Mode::Gcm(gcm) => {
                let tag = gcm.tag();
                if !self.decrypt {
                    gcm.tag = Some(tag);
                    return Ok(Vec::new());
                }
                let Some(expected) = gcm.expected_tag.as_ref() else {
                    return Err(error("-", "No auth tag provided"));
                };
                let matches = expected.len() == tag.len()
                    && expected.iter().zip(&tag).fold(0, |d, (a, b)| d | (a ^ b)) == 0;
                if !matches {
                    return Err(authentication_failed());
                }
                Ok(Vec::new())
            }
            Mode::Ecb | Mode::Cbc { .. } => {
                let mut last = std::mem::take(&mut self.held);
                if !self.decrypt && self.padding {
                    let pad = BLOCK - last.len() % BLOCK;
                    last.extend(std::iter::repeat_n(pad as u8, pad));
                }
                if !last.len().is_multiple_of(BLOCK) {
                    return Err(authentication_failed());
                }
                self.process_blocks(&mut last);
                if self.decrypt && self.padding {
                    let pad = last.last().copied().unwrap_or(0) as usize;
                    let valid = (1..=BLOCK).contains(&pad)
                        && pad <= last.len()
                        && last[last.len() - pad..].iter().all(|&b| b as usize == pad);
                    if !valid {
                        return Err(authentication_failed());
                    }
                    last.truncate(last.len() - pad);
                }
                Ok(last)
            }
        }
    }
}

fn cipher(state: &OpState, rid: ResourceId) -> Result<std::rc::Rc<CipherResource>, JsErrorBox> {
    state
        .resource_table
        .get::<CipherResource>(rid)
        // Only a finished cipher has left the table.
        .map_err(|_| finalized())
}

/// Starts an encryption or decryption; `iv` may be empty for ECB.
#[op2(fast)]
#[smi]
pub fn op_ridge_cipher_create(
    state: &mut OpState,
    #[string] name: &str,
    #[buffer] key: &[u8],
    #[buffer] iv: &[u8],
    decrypt: bool,
    #[smi] tag_len: u32,
) -> Result<ResourceId, JsErrorBox> {
    let cipher = Cipher::new(name, key, Some(iv), decrypt, tag_len as usize)?;
    Ok(state
        .resource_table
        .add(CipherResource(RefCell::new(cipher))))
}

#[op2]
#[serde]
pub fn op_ridge_cipher_update(
    state: &mut OpState,
    #[smi] rid: ResourceId,
    #[buffer] data: JsBuffer,
) -> Result<ToJsBuffer, JsErrorBox> {
    let cipher = cipher(state, rid)?;
    let out = cipher.0.borrow_mut().update(&data)?;
    Ok(out.into())
}

/// GCM's additional authenticated data, before any `update`.
#[op2(fast)]
pub fn op_ridge_cipher_set_aad(
    state: &mut OpState,
    #[smi] rid: ResourceId,
    #[buffer] aad: &[u8],
) -> Result<(), JsErrorBox> {
    let cipher = cipher(state, rid)?;
    let mut cipher = cipher.0.borrow_mut();
    match &mut cipher.mode {
        Mode::Gcm(gcm) if gcm.text_len == 0 && gcm.aad_len == 0 => {
            gcm.aad_len = aad.len() as u64;
            gcm.ghash.update_padded(aad);
            Ok(())
        }
        _ => Err(error(
            "ERR_CRYPTO_INVALID_STATE",
            "Invalid state for operation setAAD",
        )),
    }
}

#[op2(fast)]
pub fn op_ridge_cipher_set_padding(
    state: &mut OpState,
    #[smi] rid: ResourceId,
    padding: bool,
) -> Result<(), JsErrorBox> {
    cipher(state, rid)?.0.borrow_mut().padding = padding;
    Ok(())
}

/// The tag a GCM decryption must match.
#[op2(fast)]
pub fn op_ridge_cipher_set_tag(
    state: &mut OpState,
    #[smi] rid: ResourceId,
    #[buffer] tag: &[u8],
) -> Result<(), JsErrorBox> {
    let cipher = cipher(state, rid)?;
    let mut cipher = cipher.0.borrow_mut();
    let decrypt = cipher.decrypt;
    match &mut cipher.mode {
        Mode::Gcm(gcm) if decrypt && valid_tag_length(tag.len()) => {
            gcm.tag_len = tag.len();
            gcm.expected_tag = Some(tag.to_vec());
            Ok(())
        }
        Mode::Gcm(_) if decrypt => Err(error("-", "Invalid authentication tag length")),
        _ => Err(error(
            "ERR_CRYPTO_INVALID_STATE",
            "Invalid state for operation setAuthTag",
        )),
    }
}

/// What `final` gives: the last output, and a GCM encryption's tag.
#[derive(serde::Serialize)]
pub struct Finished {
    output: ToJsBuffer,
    tag: Option<ToJsBuffer>,
}

/// Finishes the cipher and frees it (JS keeps the tag for `getAuthTag`).
#[op2]
#[serde]
pub fn op_ridge_cipher_final(
    state: &mut OpState,
    #[smi] rid: ResourceId,
) -> Result<Finished, JsErrorBox> {
    let cipher = state
        .resource_table
        .take::<CipherResource>(rid)
        .map_err(|_| finalized())?;
    let mut cipher = cipher.0.borrow_mut();
    let output = cipher.finish()?.into();
    let tag = match &cipher.mode {
        Mode::Gcm(gcm) => gcm.tag.clone().map(Into::into),
        _ => None,
    };
    Ok(Finished { output, tag })
}

/// `getCipherInfo(name)`: key and IV lengths, and the mode.
#[op2]
#[serde]
pub fn op_ridge_cipher_info(#[string] name: &str) -> Option<(usize, usize, &'static str)> {
    cipher_info(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(name: &str, key: &[u8], iv: &[u8], decrypt: bool, pieces: &[&[u8]]) -> Vec<u8> {
        let mut cipher = Cipher::new(name, key, Some(iv), decrypt, 16).unwrap();
        let mut out = Vec::new();
        for piece in pieces {
            out.extend(cipher.update(piece).unwrap());
        }
        out.extend(cipher.finish().unwrap());
        out
    }

    #[test]
    fn gcm_matches_the_nist_test_vector() {
        // NIST SP 800-38D test case 4 (AES-128, 60-byte text, 20-byte AAD).
        let key = hex::decode("feffe9928665731c6d6a8f9467308308").unwrap();
        let iv = hex::decode("cafebabefacedbaddecaf888").unwrap();
        let text = hex::decode("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39").unwrap();
        let aad = hex::decode("feedfacedeadbeeffeedfacedeadbeefabaddad2").unwrap();
        let mut cipher = Cipher::new("aes-128-gcm", &key, Some(&iv), false, 16).unwrap();
        let Mode::Gcm(gcm) = &mut cipher.mode else {
            unreachable!()
        };
        gcm.aad_len = aad.len() as u64;
        gcm.ghash.update_padded(&aad);
        let mut out = cipher.update(&text[..7]).unwrap();
        out.extend(cipher.update(&text[7..]).unwrap());
        cipher.finish().unwrap();
        assert_eq!(hex::encode(&out), "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091");
        let Mode::Gcm(gcm) = &cipher.mode else {
            unreachable!()
        };
        assert_eq!(
            hex::encode(gcm.tag.as_ref().unwrap()),
            "5bc94fbc3221a5db94fae95ae7121a47"
        );
    }

    #[test]
    fn cbc_and_ctr_round_trip_in_any_pieces() {
        let key = [7u8; 32];
        let iv = [9u8; 16];
        let text: Vec<u8> = (0..100u8).collect();
        for name in ["aes-256-cbc", "aes-256-ctr", "aes-256-ecb"] {
            let iv: &[u8] = if name.ends_with("ecb") { &[] } else { &iv };
            let sealed = run(
                name,
                &key,
                iv,
                false,
                &[&text[..5], &text[5..40], &text[40..]],
            );
            let opened = run(name, &key, iv, true, &[&sealed[..17], &sealed[17..]]);
            assert_eq!(opened, text, "{name}");
        }
        // PKCS#7: a whole block of padding after 32 bytes.
        assert_eq!(
            run("aes-128-cbc", &[1; 16], &[2; 16], false, &[&[0; 32]]).len(),
            48
        );
    }
}
