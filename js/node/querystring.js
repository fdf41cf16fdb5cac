// node:querystring - Node's query-string codec: parse/decode,
// stringify/encode, escape, unescape and unescapeBuffer, with Node's
// leniency (malformed percent sequences are kept, lone surrogates are
// paired with whatever follows them) as workerd reproduces it.

import { Buffer } from "./buffer.js";
import { nodeError } from "./internal/errors.js";

const uriMalformed = () => nodeError(URIError, "ERR_INVALID_URI", "URI malformed");

/**
 * Percent-encodes `str` like encodeURIComponent (the same characters are
 * kept), except that a surrogate code unit is always read as a pair with
 * the next one, valid or not, as Node does; only a surrogate at the very
 * end throws.
 */
function encodeComponent(str) {
  if (str.isWellFormed()) return encodeURIComponent(str);
  let out = "";
  for (let i = 0; i < str.length; i++) {
    const unit = str.charCodeAt(i);
    if (unit < 0xd800 || unit > 0xdfff) {
      out += encodeURIComponent(str[i]);
      continue;
    }
    if (++i >= str.length) throw uriMalformed();
    const codePoint = 0x10000 + (((unit & 0x3ff) << 10) | (str.charCodeAt(i) & 0x3ff));
    out += encodeURIComponent(String.fromCodePoint(codePoint));
  }
  return out;
}

/** querystring.escape(): encodeURIComponent for any value, leniently. */
export function escape(str) {
  if (typeof str !== "string") str = typeof str === "object" ? String(str) : `${str}`;
  return encodeComponent(str);
}

const hexValue = (code) => {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  const lower = code | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
};

/**
 * Decodes `%XX` sequences (and `+` when `decodeSpaces`) into bytes; any
 * other character, including a `%` not followed by two hex digits, becomes
 * the low byte of its code unit.
 */
export function unescapeBuffer(s, decodeSpaces = false) {
  const out = Buffer.allocUnsafe(s.length);
  let length = 0;
  for (let i = 0; i < s.length; i++) {
    const code = s.charCodeAt(i);
    if (code === 0x2b && decodeSpaces) {
      out[length++] = 0x20;
      continue;
    }
    if (code === 0x25 && i < s.length - 2) {
      const high = hexValue(s.charCodeAt(i + 1));
      const low = hexValue(s.charCodeAt(i + 2));
      if (high >= 0 && low >= 0) {
        out[length++] = high * 16 + low;
        i += 2;
        continue;
      }
    }
    out[length++] = code;
  }
  return out.subarray(0, length);
}

/** decodeURIComponent, falling back to a lenient byte-wise decode. */
export function unescape(s, decodeSpaces) {
  try {
    return decodeURIComponent(s);
  } catch {
    return unescapeBuffer(s, decodeSpaces).toString();
  }
}

/** A value as a query-string component, with the default encoder. */
function encodeValue(value) {
  switch (typeof value) {
    case "string":
      return value.length > 0 ? escape(value) : "";
    case "number":
      if (!Number.isFinite(value)) return "";
      // From 1e21 on numbers print with an exponent ("1e+21"), whose "+"
      // needs escaping.
      return Math.abs(value) < 1e21 ? `${value}` : escape(`${value}`);
    case "bigint":
      return `${value}`;
    case "boolean":
      return value ? "true" : "false";
    default:
      return "";
  }
}

/** A value as a string before a custom encoder sees it. */
function primitiveString(value) {
  switch (typeof value) {
    case "string":
      return value;
    case "number":
      return Number.isFinite(value) ? `${value}` : "";
    case "bigint":
      return `${value}`;
    case "boolean":
      return value ? "true" : "false";
    default:
      return "";
  }
}

/**
 * querystring.stringify(): an object's own enumerable keys, each with its
 * value (arrays repeat the key; empty arrays are left out; anything that is
 * not a string, number, bigint or boolean gives an empty value).
 */
export function stringify(obj, sep, eq, options) {
  sep ||= "&";
  eq ||= "=";
  const custom = typeof options?.encodeURIComponent === "function" && options.encodeURIComponent !== escape
    ? options.encodeURIComponent
    : null;
  const convert = custom ? (value) => custom(primitiveString(value)) : encodeValue;
  if (obj === null || typeof obj !== "object") return "";

  const fields = [];
  for (const key of Object.keys(obj)) {
    const value = obj[key];
    const prefix = convert(key) + eq;
    if (Array.isArray(value)) {
      for (const item of value) fields.push(prefix + convert(item));
    } else {
      fields.push(prefix + convert(value));
    }
  }
  return fields.join(sep);
}

const ENCODED_BYTE = /%[0-9a-fA-F]{2}/;

/** Decodes one key or value; a decoder that throws gets the lenient decode. */
function decodeComponent(text, decode) {
  try {
    return decode(text);
  } catch {
    return unescape(text, true);
  }
}

/**
 * querystring.parse(): `key=value` pairs split by `sep` and `eq` into an
 * object without prototype; repeated keys collect their values in an array.
 * At most `maxKeys` pairs are read (1000 by default; 0 or less: no limit).
 */
export function parse(qs, sep, eq, options) {
  const obj = { __proto__: null };
  if (typeof qs !== "string" || qs.length === 0) return obj;
  sep = sep ? String(sep) : "&";
  eq = eq ? String(eq) : "=";

  let maxKeys = 1000;
  if (typeof options?.maxKeys === "number") {
    // Node counts down to exactly zero, so a fractional limit is no limit.
    maxKeys = options.maxKeys > 0 && Number.isInteger(options.maxKeys) ? options.maxKeys : Infinity;
  }
  let decode = unescape;
  if (typeof options?.decodeURIComponent === "function") decode = options.decodeURIComponent;
  const custom = decode !== unescape;
  // A custom decoder sees "+" as the "%20" it stands for.
  const space = custom ? "%20" : " ";

  const pairs = qs.split(sep);
  const count = Math.min(pairs.length, maxKeys);
  for (let n = 0; n < count; n++) {
    const pair = pairs[n];
    if (pair.length === 0) continue;
    const eqAt = pair.indexOf(eq);
    const rawKey = eqAt === -1 ? pair : pair.slice(0, eqAt);
    const rawValue = eqAt === -1 ? "" : pair.slice(eqAt + eq.length);
    // The default decoder only runs on text holding an escaped byte; Node's
    // scan for one looks past "+" in values but not in keys.
    let key = rawKey.replaceAll("+", space);
    let value = rawValue.replaceAll("+", space);
    if (key.length > 0 && (custom || ENCODED_BYTE.test(rawKey))) key = decodeComponent(key, decode);
    if (value.length > 0 && (custom || ENCODED_BYTE.test(rawValue.replaceAll("+", "")))) {
      value = decodeComponent(value, decode);
    }
    const existing = obj[key];
    if (existing === undefined) obj[key] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else obj[key] = [existing, value];
  }
  return obj;
}

export { parse as decode, stringify as encode };

export default {
  decode: parse,
  encode: stringify,
  escape,
  parse,
  stringify,
  unescape,
  unescapeBuffer,
};
