//! `node:buffer`'s base64 and hex codecs for long inputs
//! (js/node/internal/encodings.js keeps short ones in JavaScript): SIMD
//! encoders and decoders (base64-simd, hex-simd, which pick AVX2/NEON at
//! run time, as workerd's simdutf does), with Node's lenient decoding
//! (either base64 alphabet; characters outside it are skipped, decoding
//! stops at `=`; hex stops at the first bad pair) for the texts the strict
//! SIMD decoders refuse.
//!
//! Strings cross as Latin-1 (one byte per character), never as UTF-8:
//! every base64 or hex character is ASCII. Text with characters above
//! U+00FF is left to JavaScript, which keeps each one's low byte as workerd
//! does.

use base64_simd::AsOut;
use deno_core::op2;
use deno_core::v8;
use deno_error::JsErrorBox;

/// Which codec an op runs; the numbers are the ones encodings.js passes.
#[derive(Clone, Copy)]
enum Codec {
    Base64,
    Base64Url,
    Hex,
}

impl Codec {
    fn from_index(index: u32) -> Result<Codec, JsErrorBox> {
        match index {
            0 => Ok(Codec::Base64),
            1 => Ok(Codec::Base64Url),
            2 => Ok(Codec::Hex),
            _ => Err(JsErrorBox::type_error(format!("unknown codec {index}"))),
        }
    }
}

/// bytes[start, end) as base64 (padded), base64url (unpadded, as Node) or
/// lowercase hex.
#[op2]
pub fn op_ridge_bytes_to_text<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    #[buffer] bytes: &[u8],
    #[smi] start: u32,
    #[smi] end: u32,
    #[smi] codec: u32,
) -> Result<v8::Local<'s, v8::String>, JsErrorBox> {
    let bytes = bytes
        .get(start as usize..end as usize)
        .ok_or_else(|| JsErrorBox::range_error("the range is outside the buffer"))?;
    let text = match Codec::from_index(codec)? {
        Codec::Base64 => base64_simd::STANDARD.encode_type::<Vec<u8>>(bytes),
        Codec::Base64Url => base64_simd::URL_SAFE_NO_PAD.encode_type::<Vec<u8>>(bytes),
        Codec::Hex => hex_simd::encode_type::<Vec<u8>>(bytes, hex_simd::AsciiCase::Lower),
    };
    v8::String::new_from_one_byte(scope, &text, v8::NewStringType::Normal).ok_or_else(|| {
        JsErrorBox::range_error("Cannot create a string longer than 0x1fffffe8 characters")
    })
}

/// Decodes `text` into `into` (at least as long as the strict decoding,
/// as encodings.js sizes it) under Node's rules: the number of bytes
/// written, or -1 when `text` has characters above U+00FF (JavaScript
/// decodes those). The caller allocates `into` so that V8 accounts for it
/// and collects garbage before the allocation, as for any Uint8Array.
#[op2(fast)]
pub fn op_ridge_text_into_bytes<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    text: v8::Local<'s, v8::String>,
    #[buffer] into: &mut [u8],
    #[smi] codec: u32,
) -> Result<i32, JsErrorBox> {
    let codec = Codec::from_index(codec)?;
    // A view of the string's own characters, not a copy.
    let view = v8::ValueView::new(scope, text);
    let written = match view.data() {
        v8::ValueViewData::OneByte(latin1) => decode_into(latin1, into, codec),
        v8::ValueViewData::TwoByte(units) => {
            let latin1: Option<Vec<u8>> =
                units.iter().map(|&unit| u8::try_from(unit).ok()).collect();
            match latin1 {
                Some(latin1) => decode_into(&latin1, into, codec),
                None => return Ok(-1),
            }
        }
    };
    i32::try_from(written).map_err(|_| JsErrorBox::range_error("the decoded bytes are too long"))
}

/// Strictly with SIMD when the text is canonical (almost always), else
/// leniently; as much as fits.
fn decode_into(text: &[u8], into: &mut [u8], codec: Codec) -> usize {
    let strict = match codec {
        Codec::Base64 | Codec::Base64Url => {
            let base64 = match codec {
                Codec::Base64 => base64_simd::STANDARD,
                _ => base64_simd::URL_SAFE_NO_PAD,
            };
            match base64.decoded_length(text) {
                Ok(length) if length <= into.len() => base64
                    .decode(text, into.as_out())
                    .ok()
                    .map(|bytes| bytes.len()),
                _ => None,
            }
        }
        Codec::Hex if text.len() / 2 <= into.len() => hex_simd::decode(text, into.as_out())
            .ok()
            .map(|bytes| bytes.len()),
        Codec::Hex => None,
    };
    if let Some(written) = strict {
        return written;
    }
    let bytes = match codec {
        Codec::Hex => hex_decode(text),
        _ => base64_decode(text),
    };
    let written = bytes.len().min(into.len());
    into[..written].copy_from_slice(&bytes[..written]);
    written
}

/// Each character's sextet, or SKIP / PAD; both alphabets at once, as
/// Node accepts either in either encoding.
const SKIP: i8 = -1;
const PAD: i8 = -2;
const BASE64_VALUES: [i8; 256] = {
    let mut table = [SKIP; 256];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut i = 0;
    while i < 64 {
        table[alphabet[i] as usize] = i as i8;
        i += 1;
    }
    table[b'-' as usize] = 62;
    table[b'_' as usize] = 63;
    table[b'=' as usize] = PAD;
    table
};

/// Decodes as Node does. Whole groups of four take a fast path; a trailing
/// partial group yields the bytes its bits complete.
fn base64_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3 + 3);
    let mut bits: u32 = 0;
    let mut sextets = 0u32;
    let mut i = 0;
    while i < input.len() {
        if sextets & 3 == 0 && i + 4 <= input.len() {
            let [a, b, c, d] = [0, 1, 2, 3].map(|k| BASE64_VALUES[input[i + k] as usize]);
            if a >= 0 && b >= 0 && c >= 0 && d >= 0 {
                let group = (a as u32) << 18 | (b as u32) << 12 | (c as u32) << 6 | d as u32;
                out.extend_from_slice(&[(group >> 16) as u8, (group >> 8) as u8, group as u8]);
                i += 4;
                continue;
            }
        }
        let value = BASE64_VALUES[input[i] as usize];
        i += 1;
        match value {
            PAD => break,
            SKIP => continue,
            value => {
                bits = bits << 6 | value as u32;
                match sextets & 3 {
                    1 => out.push((bits >> 4) as u8),
                    2 => out.push((bits >> 2) as u8),
                    3 => {
                        out.push(bits as u8);
                        bits = 0;
                    }
                    _ => {}
                }
                sextets += 1;
            }
        }
    }
    out
}

/// Pairs of hex digits up to the first pair that is not one.
fn hex_decode(text: &[u8]) -> Vec<u8> {
    let digit = |c: u8| (c as char).to_digit(16);
    text.chunks_exact(2)
        .map_while(|pair| Some((digit(pair[0])? << 4 | digit(pair[1])?) as u8))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::base64_decode;

    #[test]
    fn base64_decoding_is_lenient_as_in_node() {
        assert_eq!(base64_decode(b"aGVsbG8="), b"hello");
        assert_eq!(base64_decode(b"aGVs bG8"), b"hello");
        assert_eq!(base64_decode(b"aGVsbG8-_w"), b"hello\x3e\xff");
        assert_eq!(base64_decode(b"aGk=aGk="), b"hi");
        assert_eq!(base64_decode(b"a"), b"");
    }
}
