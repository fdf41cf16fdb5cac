// node:punycode - Punycode (RFC 3492) and its IDNA helpers, the API of the
// punycode.js 2.1.0 package that Node bundles (deprecated there, plain in
// workerd, which offers the module from compatibility date 2025-12-04 or
// with `enable_nodejs_punycode_module`). node:url uses it to show
// international domain names.

const MAX_INT = 0x7fffffff;
// Bootstring parameters for Punycode (RFC 3492, section 5).
const BASE = 36;
const T_MIN = 1;
const T_MAX = 26;
const SKEW = 38;
const DAMP = 700;
const INITIAL_BIAS = 72;
const INITIAL_N = 0x80;
const DELIMITER = "-";

const ERRORS = {
  overflow: "Overflow: input needs wider integers to process",
  notBasic: "Illegal input >= 0x80 (not a basic code point)",
  invalidInput: "Invalid input",
};

function fail(kind) {
  throw new RangeError(ERRORS[kind]);
}

/** The code points of a string; a lone surrogate stays a code point of its own. */
function ucs2decode(string) {
  const output = [];
  for (let i = 0; i < string.length; i++) {
    const unit = string.charCodeAt(i);
    const next = string.charCodeAt(i + 1);
    if (unit >= 0xd800 && unit <= 0xdbff && (next & 0xfc00) === 0xdc00) {
      output.push(((unit & 0x3ff) << 10) + (next & 0x3ff) + 0x10000);
      i++;
    } else {
      output.push(unit);
    }
  }
  return output;
}

const ucs2encode = (codePoints) => String.fromCodePoint(...codePoints);

/** The value of a Punycode digit (a-z: 0-25, 0-9: 26-35), or BASE if it is none. */
function digitValue(code) {
  if (code >= 0x30 && code <= 0x39) return code - 0x30 + 26;
  if (code >= 0x41 && code <= 0x5a) return code - 0x41;
  if (code >= 0x61 && code <= 0x7a) return code - 0x61;
  return BASE;
}

/** The lower-case digit for a value 0-35. */
const digitChar = (value) => String.fromCharCode(value < 26 ? 0x61 + value : 0x30 + value - 26);

/** The threshold of the digit at position `k` (RFC 3492, section 6.2). */
const threshold = (k, bias) => (k <= bias ? T_MIN : k >= bias + T_MAX ? T_MAX : k - bias);

/** Bias adaptation (RFC 3492, section 6.1). */
function adapt(delta, numPoints, firstTime) {
  delta = firstTime ? Math.floor(delta / DAMP) : delta >> 1;
  delta += Math.floor(delta / numPoints);
  let k = 0;
  while (delta > ((BASE - T_MIN) * T_MAX) >> 1) {
    delta = Math.floor(delta / (BASE - T_MIN));
    k += BASE;
  }
  return Math.floor(k + ((BASE - T_MIN + 1) * delta) / (delta + SKEW));
}

/** Decodes a Punycode string (without "xn--") into Unicode. */
export function decode(input) {
  const output = [];
  // Basic code points come first, up to the last delimiter.
  const basic = Math.max(input.lastIndexOf(DELIMITER), 0);
  for (let j = 0; j < basic; j++) {
    if (input.charCodeAt(j) >= 0x80) fail("notBasic");
    output.push(input.charCodeAt(j));
  }

  let n = INITIAL_N;
  let bias = INITIAL_BIAS;
  let i = 0;
  for (let index = basic > 0 ? basic + 1 : 0; index < input.length;) {
    // Each variable-length integer is the distance to the next insertion.
    const oldI = i;
    let weight = 1;
    for (let k = BASE; ; k += BASE) {
      if (index >= input.length) fail("invalidInput");
      const digit = digitValue(input.charCodeAt(index++));
      if (digit >= BASE) fail("invalidInput");
      if (digit > Math.floor((MAX_INT - i) / weight)) fail("overflow");
      i += digit * weight;
      const t = threshold(k, bias);
      if (digit < t) break;
      if (weight > Math.floor(MAX_INT / (BASE - t))) fail("overflow");
      weight *= BASE - t;
    }
    const length = output.length + 1;
    bias = adapt(i - oldI, length, oldI === 0);
    if (Math.floor(i / length) > MAX_INT - n) fail("overflow");
    n += Math.floor(i / length);
    i %= length;
    output.splice(i++, 0, n);
  }
  return String.fromCodePoint(...output);
}

/** Encodes a Unicode string as Punycode (without "xn--"). */
export function encode(input) {
  const codePoints = ucs2decode(input);
  let output = "";
  for (const cp of codePoints) {
    if (cp < 0x80) output += String.fromCharCode(cp);
  }
  const basicLength = output.length;
  let handled = basicLength;
  if (basicLength > 0) output += DELIMITER;

  let n = INITIAL_N;
  let delta = 0;
  let bias = INITIAL_BIAS;
  while (handled < codePoints.length) {
    // The smallest code point not handled yet.
    let m = MAX_INT;
    for (const cp of codePoints) {
      if (cp >= n && cp < m) m = cp;
    }
    if (m - n > Math.floor((MAX_INT - delta) / (handled + 1))) fail("overflow");
    delta += (m - n) * (handled + 1);
    n = m;

    for (const cp of codePoints) {
      if (cp < n && ++delta > MAX_INT) fail("overflow");
      if (cp !== n) continue;
      // Write `delta` as a variable-length integer.
      let q = delta;
      for (let k = BASE; ; k += BASE) {
        const t = threshold(k, bias);
        if (q < t) break;
        output += digitChar(t + ((q - t) % (BASE - t)));
        q = Math.floor((q - t) / (BASE - t));
      }
      output += digitChar(q);
      bias = adapt(delta, handled + 1, handled === basicLength);
      delta = 0;
      handled++;
    }
    delta++;
    n++;
  }
  return output;
}

/**
 * Applies `convert` to each label of a domain name or of the part after the
 * "@" of an e-mail address, splitting labels at any IDNA dot.
 */
function mapDomain(domain, convert) {
  const parts = domain.split("@");
  let prefix = "";
  if (parts.length > 1) {
    prefix = `${parts[0]}@`;
    domain = parts[1];
  }
  const labels = domain.replace(/[\x2E\u3002\uFF0E\uFF61]/g, ".").split(".");
  return prefix + labels.map(convert).join(".");
}

/** Turns the Punycode labels ("xn--...") of a domain into Unicode. */
export function toUnicode(input) {
  return mapDomain(input, (label) => (/^xn--/.test(label) ? decode(label.slice(4).toLowerCase()) : label));
}

/** Turns the non-ASCII labels of a domain into Punycode ("xn--..."). */
export function toASCII(input) {
  return mapDomain(input, (label) => (/[^\0-\x7F]/.test(label) ? `xn--${encode(label)}` : label));
}

export const version = "2.1.0";

export const ucs2 = { decode: ucs2decode, encode: ucs2encode };

export default { version, ucs2, decode, encode, toASCII, toUnicode };
