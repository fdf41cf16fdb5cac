//! Node's lenient decoding of base64 (either alphabet; characters outside
//! it are skipped, decoding stops at `=`) and hex (it stops at the first bad
//! pair) for `node:buffer` (js/node/internal/encodings.js), for the long
//! texts V8's strict decoders refuse. Encoding is V8's own.

use deno_core::op2;

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
#[op2]
#[buffer]
pub fn op_ridge_base64_decode(#[string] text: &str) -> Vec<u8> {
    base64_decode(text.as_bytes())
}

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
#[op2]
#[buffer]
pub fn op_ridge_hex_decode(#[string] text: &str) -> Vec<u8> {
    let digit = |c: u8| (c as char).to_digit(16);
    text.as_bytes()
        .chunks_exact(2)
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
