// Every conversion between JS strings and bytes that node:buffer and
// node:string_decoder make, behind one small interface, so that the hot
// ones (base64 and hex now, utf8 later) can move to native ops without touching
// the modules above:
//
//   normalizeEncoding(value)                    -> canonical name | undefined
//   byteLength(string, encoding)                -> Node's byte count (for base64,
//                                                  an upper bound, as in Node)
//   encode(string, encoding, Type?)             -> a new Type (default Uint8Array)
//   decode(bytes, start, end, encoding)         -> string of bytes[start, end)
//   writeInto(bytes, string, offset, maxLength, encoding) -> bytes written
//   isAscii(bytes), isUtf8(bytes)               -> boolean
//   transcode(bytes, fromEncoding, toEncoding)  -> Uint8Array
//
// Canonical names: "utf8", "utf16le", "latin1", "ascii", "base64",
// "base64url", "hex". Callers pass canonical names and in-range indices.
// The lenient decoding rules are workerd's (which follow Node's): invalid
// hex ends the bytes at the last valid pair, base64 skips characters outside
// both alphabets and stops at the first "=", and one-byte encodings keep the
// low byte of each UTF-16 code unit.

// Long base64 and hex go to Rust's SIMD codecs (crates/ridge-ext
// encoding.rs), which also apply Node's lenient decoding rules. Short
// inputs stay here, where calling out would cost more than it saves, and so
// does text with characters above U+00FF.
import { op_ridge_bytes_to_text, op_ridge_text_into_bytes } from "ext:core/ops";

const NATIVE_MIN = 256;
// The codec numbers encoding.rs takes.
const CODEC = { base64: 0, base64url: 1, hex: 2 };

const ENCODINGS = new Map([
  ["utf8", "utf8"], ["utf-8", "utf8"], ["", "utf8"],
  ["utf16le", "utf16le"], ["utf-16le", "utf16le"], ["ucs2", "utf16le"], ["ucs-2", "utf16le"],
  ["latin1", "latin1"], ["binary", "latin1"],
  ["ascii", "ascii"],
  ["base64", "base64"],
  ["base64url", "base64url"],
  ["hex", "hex"],
]);

/**
 * The canonical name of an encoding label (case-insensitive), or undefined
 * for labels Node does not know. undefined and null mean utf8.
 */
export function normalizeEncoding(value) {
  if (value === undefined || value === null) return "utf8";
  const label = `${value}`;
  return ENCODINGS.get(label) ?? ENCODINGS.get(label.toLowerCase());
}

const encoder = new TextEncoder();
// ignoreBOM: a leading U+FEFF is content to Node, not a marker to strip.
// Made on first use: a TextDecoder holds a native object, which cannot be
// part of the startup snapshot these modules are evaluated into.
let lenientDecoder;
let strictDecoder;
const utf8Decoder = () => (lenientDecoder ??= new TextDecoder("utf-8", { ignoreBOM: true }));
const strictUtf8Decoder = () => (strictDecoder ??= new TextDecoder("utf-8", { ignoreBOM: true, fatal: true }));

// Up to this many characters, a loop beats a call to TextEncoder.
const SHORT = 64;
const NON_ASCII = /[^\x00-\x7f]/;
// Code units per String.fromCharCode.apply call (the engine's argument limit).
const CHUNK = 0x2000;

const HEX_DIGITS = "0123456789abcdef";
const HEX_VALUES = new Int8Array(256).fill(-1);
for (let i = 0; i < 16; i++) {
  HEX_VALUES[HEX_DIGITS.charCodeAt(i)] = i;
  HEX_VALUES[HEX_DIGITS.toUpperCase().charCodeAt(i)] = i;
}

const BASE64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const BASE64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const BASE64_CODES = Uint8Array.from(BASE64_ALPHABET, (c) => c.charCodeAt(0));
const BASE64URL_CODES = Uint8Array.from(BASE64URL_ALPHABET, (c) => c.charCodeAt(0));
// Sextet of each byte in either alphabet (decoding accepts both at once);
// SKIP for characters that are ignored, PAD for "=", which ends the data.
const SKIP = -1;
const PAD = -2;
const BASE64_VALUES = new Int8Array(256).fill(SKIP);
for (let i = 0; i < 64; i++) {
  BASE64_VALUES[BASE64_CODES[i]] = i;
  BASE64_VALUES[BASE64URL_CODES[i]] = i;
}
BASE64_VALUES[0x3d] = PAD;

// --- string -> bytes --------------------------------------------------------

export function byteLength(string, encoding) {
  switch (encoding) {
    case "utf8":
      return utf8Length(string);
    case "utf16le":
      return string.length * 2;
    case "latin1":
    case "ascii":
      return string.length;
    case "hex":
      return string.length >>> 1;
    default:
      return base64Length(string);
  }
}

function utf8Length(string) {
  const length = string.length;
  // The regular expression engine finds the first non-ASCII character fastest.
  const first = length > SHORT ? string.search(NON_ASCII) : 0;
  if (first === -1) return length;
  let bytes = length;
  for (let i = first; i < length; i++) {
    const code = string.charCodeAt(i);
    if (code < 0x80) continue;
    if (code < 0x800) {
      bytes += 1;
    } else if ((code & 0xfc00) === 0xd800 && i + 1 < length && (string.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 2; // a surrogate pair: two code units, four bytes
      i++;
    } else {
      bytes += 2; // three bytes, lone surrogates included (they become U+FFFD)
    }
  }
  return bytes;
}

/** Node's estimate: the length less up to two trailing "=", times 3/4. */
function base64Length(string) {
  let length = string.length;
  if (length > 0 && string.charCodeAt(length - 1) === 0x3d) length--;
  if (length > 1 && string.charCodeAt(length - 1) === 0x3d) length--;
  return (length * 3) >>> 2;
}

/**
 * The bytes of `string` in a new typed array of class `Type` (a Uint8Array
 * or a subclass), allocated directly: wrapping a small Uint8Array's buffer
 * afterwards would cost more than encoding it.
 */
export function encode(string, encoding, Type = Uint8Array) {
  switch (encoding) {
    case "utf8":
      return encodeUtf8(string, Type);
    case "utf16le": {
      const bytes = new Type(string.length * 2);
      writeUtf16le(bytes, string, 0, string.length);
      return bytes;
    }
    case "latin1":
    case "ascii": {
      const bytes = new Type(string.length);
      writeLatin1(bytes, string, 0, string.length);
      return bytes;
    }
    case "hex": {
      const bytes = new Type(string.length >>> 1);
      return truncate(bytes, writeHexOrBase64(bytes, string, encoding), Type);
    }
    default: {
      const bytes = new Type(base64Length(string));
      return truncate(bytes, writeHexOrBase64(bytes, string, encoding), Type);
    }
  }
}

/** Decodes all of `string` into `bytes` (long enough); the bytes written. */
function writeHexOrBase64(bytes, string, encoding) {
  if (string.length >= NATIVE_MIN) {
    const written = op_ridge_text_into_bytes(string, bytes, CODEC[encoding]);
    if (written >= 0) return written;
  }
  if (encoding === "hex") return writeHex(bytes, string, 0, bytes.length);
  // Whole strings keep the low byte of wide characters, as workerd does.
  return writeBase64(bytes, string, 0, bytes.length, true);
}

function truncate(bytes, length, Type) {
  return length === bytes.length ? bytes : new Type(bytes.buffer, bytes.byteOffset, length);
}

function encodeUtf8(string, Type) {
  if (string.length > SHORT) {
    const bytes = encoder.encode(string);
    return Type === Uint8Array ? bytes : new Type(bytes.buffer, bytes.byteOffset, bytes.length);
  }
  const bytes = new Type(utf8Length(string));
  writeUtf8(bytes, string, 0, bytes.length);
  return bytes;
}

/**
 * Encodes whole characters into bytes[offset, end) while they fit, lone
 * surrogates as U+FFFD; returns the end. For short strings, where a loop
 * beats a call to TextEncoder.
 */
function writeUtf8(bytes, string, offset, end) {
  const length = string.length;
  for (let i = 0; i < length; i++) {
    let code = string.charCodeAt(i);
    if (code < 0x80) {
      if (offset >= end) break;
      bytes[offset++] = code;
    } else if (code < 0x800) {
      if (offset + 2 > end) break;
      bytes[offset++] = 0xc0 | (code >>> 6);
      bytes[offset++] = 0x80 | (code & 0x3f);
    } else if ((code & 0xfc00) === 0xd800 && i + 1 < length && (string.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      if (offset + 4 > end) break;
      code = 0x10000 + ((code - 0xd800) << 10) + (string.charCodeAt(++i) - 0xdc00);
      bytes[offset++] = 0xf0 | (code >>> 18);
      bytes[offset++] = 0x80 | ((code >>> 12) & 0x3f);
      bytes[offset++] = 0x80 | ((code >>> 6) & 0x3f);
      bytes[offset++] = 0x80 | (code & 0x3f);
    } else {
      if (offset + 3 > end) break;
      if ((code & 0xf800) === 0xd800) code = 0xfffd;
      bytes[offset++] = 0xe0 | (code >>> 12);
      bytes[offset++] = 0x80 | ((code >>> 6) & 0x3f);
      bytes[offset++] = 0x80 | (code & 0x3f);
    }
  }
  return offset;
}

export function writeInto(bytes, string, offset, maxLength, encoding) {
  if (maxLength === 0 || string.length === 0) return 0;
  switch (encoding) {
    case "utf8":
      // Neither way writes part of a character, as Node requires.
      if (string.length <= SHORT) return writeUtf8(bytes, string, offset, offset + maxLength) - offset;
      return encoder.encodeInto(string, view(bytes, offset, offset + maxLength)).written;
    case "utf16le":
      return writeUtf16le(bytes, string, offset, Math.min(string.length, maxLength >>> 1)) * 2;
    case "latin1":
    case "ascii":
      return writeLatin1(bytes, string, offset, Math.min(string.length, maxLength));
    case "hex":
      return writeHex(bytes, string, offset, offset + maxLength) - offset;
    default:
      // Writes see the string as UTF-8, so wide characters are skipped.
      return writeBase64(bytes, string, offset, offset + maxLength, false) - offset;
  }
}

/** Writes `count` code units as UTF-16LE at `offset`; returns `count`. */
function writeUtf16le(bytes, string, offset, count) {
  for (let i = 0; i < count; i++) {
    const code = string.charCodeAt(i);
    bytes[offset++] = code;
    bytes[offset++] = code >>> 8;
  }
  return count;
}

/** Writes the low byte of `count` code units at `offset`; returns `count`. */
function writeLatin1(bytes, string, offset, count) {
  for (let i = 0; i < count; i++) bytes[offset + i] = string.charCodeAt(i);
  return count;
}

/** Decodes hex pairs into bytes[offset, end) up to the first invalid pair; returns the end. */
function writeHex(bytes, string, offset, end) {
  const pairsEnd = string.length - 1;
  for (let i = 0; i < pairsEnd && offset < end; i += 2) {
    const high = HEX_VALUES[string.charCodeAt(i) & 0xff];
    const low = HEX_VALUES[string.charCodeAt(i + 1) & 0xff];
    if (high < 0 || low < 0) break;
    bytes[offset++] = (high << 4) | low;
  }
  return offset;
}

/**
 * Decodes base64 or base64url leniently into bytes[offset, end); returns
 * the end. Each byte is written as soon as its bits are known, so a
 * trailing partial group yields what it can and a lone last character
 * nothing. `lowByte`: wide characters count as their low byte, else skip.
 */
function writeBase64(bytes, string, offset, end, lowByte) {
  const length = string.length;
  let bits = 0;
  let sextets = 0;
  let i = 0;
  while (i < length && offset < end) {
    // Fast path: four alphabet characters at a group boundary are three bytes.
    if ((sextets & 3) === 0 && i + 4 <= length && offset + 3 <= end) {
      const a = string.charCodeAt(i);
      const b = string.charCodeAt(i + 1);
      const c = string.charCodeAt(i + 2);
      const d = string.charCodeAt(i + 3);
      if ((a | b | c | d) <= 0xff) {
        // Negative (skipped or "=") values make the whole group negative.
        const group = (BASE64_VALUES[a] << 18) | (BASE64_VALUES[b] << 12) | (BASE64_VALUES[c] << 6) | BASE64_VALUES[d];
        if (group >= 0) {
          bytes[offset++] = group >>> 16;
          bytes[offset++] = group >>> 8;
          bytes[offset++] = group;
          i += 4;
          continue;
        }
      }
    }
    let code = string.charCodeAt(i++);
    if (code > 0xff) {
      if (!lowByte) continue;
      code &= 0xff;
    }
    const value = BASE64_VALUES[code];
    if (value < 0) {
      if (value === PAD) break;
      continue;
    }
    bits = (bits << 6) | value;
    switch (sextets++ & 3) {
      case 1:
        bytes[offset++] = bits >>> 4;
        break;
      case 2:
        bytes[offset++] = bits >>> 2;
        break;
      case 3:
        bytes[offset++] = bits;
        bits = 0;
        break;
    }
  }
  return offset;
}

// --- bytes -> string --------------------------------------------------------

export function decode(bytes, start, end, encoding) {
  if (end <= start) return "";
  switch (encoding) {
    case "utf8":
      return decodeUtf8(bytes, start, end);
    case "utf16le":
      return decodeUtf16le(bytes, start, end);
    case "latin1":
      return decodeLatin1(bytes, start, end);
    case "ascii":
      return decodeAscii(bytes, start, end);
    case "hex":
      if (end - start >= NATIVE_MIN) return op_ridge_bytes_to_text(bytes, start, end, CODEC.hex);
      return decodeHex(bytes, start, end);
    case "base64":
      if (end - start >= NATIVE_MIN) return op_ridge_bytes_to_text(bytes, start, end, CODEC.base64);
      return decodeBase64(bytes, start, end, BASE64_CODES, true);
    default:
      if (end - start >= NATIVE_MIN) return op_ridge_bytes_to_text(bytes, start, end, CODEC.base64url);
      return decodeBase64(bytes, start, end, BASE64URL_CODES, false);
  }
}

/**
 * bytes[start, end) without a copy: `bytes` itself when that is all of it
 * (reading a small typed array's `.buffer` costs an allocation), else a
 * plain Uint8Array over the range (subarray would look up a species).
 */
function view(bytes, start, end) {
  if (start === 0 && end === bytes.length) return bytes;
  return new Uint8Array(bytes.buffer, bytes.byteOffset + start, end - start);
}

function decodeUtf8(bytes, start, end) {
  // Invalid sequences become U+FFFD the WHATWG way, as V8 does for workerd.
  return utf8Decoder().decode(view(bytes, start, end));
}

/** The index of the first byte >= 0x80 in bytes[start, end), or `end`. */
function asciiEnd(bytes, start, end) {
  let i = start;
  while (i < end && bytes[i] < 0x80) i++;
  return i;
}

/** The decoder is the quickest way to a string for ASCII bytes. */
function asciiString(bytes, start, end) {
  return utf8Decoder().decode(view(bytes, start, end));
}

function decodeLatin1(bytes, start, end) {
  if (asciiEnd(bytes, start, end) === end) return asciiString(bytes, start, end);
  let string = "";
  for (let i = start; i < end; i += CHUNK) {
    string += String.fromCharCode.apply(null, view(bytes, i, Math.min(end, i + CHUNK)));
  }
  return string;
}

/** ascii drops the high bit of each byte. */
function decodeAscii(bytes, start, end) {
  const high = asciiEnd(bytes, start, end);
  if (high === end) return asciiString(bytes, start, end);
  const masked = new Uint8Array(view(bytes, start, end));
  for (let i = high - start; i < masked.length; i++) masked[i] &= 0x7f;
  return asciiString(masked, 0, masked.length);
}

function decodeUtf16le(bytes, start, end) {
  const units = new Uint16Array((end - start) >>> 1);
  for (let i = 0, j = start; i < units.length; i++, j += 2) units[i] = bytes[j] | (bytes[j + 1] << 8);
  return unitsString(units);
}

/** The string of an array of UTF-16 code units. */
function unitsString(units) {
  let string = "";
  for (let i = 0; i < units.length; i += CHUNK) {
    string += String.fromCharCode.apply(null, units.subarray(i, i + CHUNK));
  }
  return string;
}

function decodeHex(bytes, start, end) {
  const codes = new Uint8Array((end - start) * 2);
  for (let i = start, j = 0; i < end; i++) {
    const byte = bytes[i];
    codes[j++] = HEX_DIGITS.charCodeAt(byte >>> 4);
    codes[j++] = HEX_DIGITS.charCodeAt(byte & 15);
  }
  return asciiString(codes, 0, codes.length);
}

function decodeBase64(bytes, start, end, alphabet, pad) {
  const length = end - start;
  const whole = start + length - (length % 3);
  const tail = length % 3;
  const codes = new Uint8Array(pad ? Math.ceil(length / 3) * 4 : Math.ceil((length * 4) / 3));
  let j = 0;
  for (let i = start; i < whole; i += 3) {
    const group = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    codes[j++] = alphabet[group >>> 18];
    codes[j++] = alphabet[(group >>> 12) & 63];
    codes[j++] = alphabet[(group >>> 6) & 63];
    codes[j++] = alphabet[group & 63];
  }
  if (tail > 0) {
    const group = (bytes[whole] << 16) | (tail === 2 ? bytes[whole + 1] << 8 : 0);
    codes[j++] = alphabet[group >>> 18];
    codes[j++] = alphabet[(group >>> 12) & 63];
    if (tail === 2) codes[j++] = alphabet[(group >>> 6) & 63];
    if (pad) codes.fill(0x3d, j);
  }
  return asciiString(codes, 0, codes.length);
}

// --- validation --------------------------------------------------------------

export function isAscii(bytes) {
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] >= 0x80) return false;
  }
  return true;
}

export function isUtf8(bytes) {
  try {
    strictUtf8Decoder().decode(bytes);
    return true;
  } catch {
    return false;
  }
}

// --- transcode -----------------------------------------------------------------
// workerd transcodes with ICU, whose "latin1" and "ascii" are both
// windows-1252 (the WHATWG meaning of those labels), except that one-byte
// input to UTF-16 is widened byte by byte. Characters the target cannot
// hold become "?".

// windows-1252 characters for bytes 0x80-0x9f (the rest are Latin-1).
const WINDOWS_1252_HIGH = [
  0x20ac, 0x81, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021, 0x2c6, 0x2030, 0x160, 0x2039, 0x152, 0x8d, 0x17d, 0x8f,
  0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x2dc, 0x2122, 0x161, 0x203a, 0x153, 0x9d, 0x17e, 0x178,
];
const WINDOWS_1252_BYTES = new Map(WINDOWS_1252_HIGH.map((code, i) => [code, 0x80 + i]));

const TRANSCODABLE = new Set(["utf8", "utf16le", "latin1", "ascii"]);

export function transcode(bytes, fromEncoding, toEncoding) {
  if (!TRANSCODABLE.has(fromEncoding) || !TRANSCODABLE.has(toEncoding)) {
    throw new Error("Unable to transcode buffer due to unsupported encoding");
  }
  if (fromEncoding === "utf16le" && bytes.length % 2 !== 0) {
    throw new Error(toEncoding === "utf16le" ? "Unable to transcode buffer" : "UTF-16le input size should be multiple of 2");
  }
  const oneByteSource = fromEncoding === "latin1" || fromEncoding === "ascii";
  let text;
  if (oneByteSource) {
    text = toEncoding === "utf16le" ? decodeLatin1(bytes, 0, bytes.length) : decodeWindows1252(bytes);
  } else if (fromEncoding === "utf8") {
    if (toEncoding === "utf16le" && !isUtf8(bytes)) throw new Error("Unable to transcode buffer");
    text = decodeUtf8(bytes, 0, bytes.length);
  } else {
    text = decodeUtf16le(bytes, 0, bytes.length);
    if (toEncoding === "utf8" && !text.isWellFormed()) throw new Error("Expected UTF8 length mismatch");
    if (toEncoding === "utf16le") text = text.toWellFormed();
  }
  return toEncoding === "latin1" || toEncoding === "ascii" ? encodeWindows1252(text) : encode(text, toEncoding);
}

function decodeWindows1252(bytes) {
  const units = new Uint16Array(bytes.length);
  for (let i = 0; i < units.length; i++) {
    const byte = bytes[i];
    units[i] = byte >= 0x80 && byte < 0xa0 ? WINDOWS_1252_HIGH[byte - 0x80] : byte;
  }
  return unitsString(units);
}

function encodeWindows1252(text) {
  const bytes = new Uint8Array(text.length);
  let length = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.codePointAt(i);
    if (code > 0xffff) i++; // one "?" for a whole surrogate pair
    bytes[length++] = code < 0x80 || (code >= 0xa0 && code <= 0xff) ? code : (WINDOWS_1252_BYTES.get(code) ?? 0x3f);
  }
  return bytes.subarray(0, length);
}
