// node:buffer: the `Buffer` class (a Uint8Array with Node's methods), the
// module's functions and constants, as workerd provides them. Where workerd
// differs from Node, this follows workerd: memory is never pooled nor left
// uninitialised (allocUnsafe zero-fills, poolSize is 0), kMaxLength is the
// int32 limit, and error texts are workerd's. Every conversion between
// strings and bytes goes through ./internal/encodings.js.

import { describeReceived, invalidArgType, invalidArgValue, nodeError, outOfRange, unknownEncoding }
  from "./internal/errors.js";
import { validateInteger, validateNumber, validateString } from "./internal/validators.js";
import * as encodings from "./internal/encodings.js";

export const kMaxLength = 2147483647;
export const kStringMaxLength = 536870888;
export const constants = { MAX_LENGTH: kMaxLength, MAX_STRING_LENGTH: kStringMaxLength };
// workerd offers no setter for this, unlike Node.
export const INSPECT_MAX_BYTES = 50;

const customInspect = Symbol.for("nodejs.util.inspect.custom");
const SharedArrayBufferType = globalThis.SharedArrayBuffer;

/**
 * The class of every buffer made here. Its prototype is Buffer.prototype,
 * so `new FastBuffer(...)` makes a Buffer directly (changing an object's
 * prototype afterwards would slow down every later access to it).
 */
class FastBuffer extends Uint8Array {
  get parent() {
    return isBuffer(this) ? this.buffer : undefined;
  }

  get offset() {
    return isBuffer(this) ? this.byteOffset : undefined;
  }

  toString(encoding, start, end) {
    const length = this.length;
    if (start === undefined || start <= 0) start = 0;
    else if (start >= length) return "";
    else start |= 0;
    if (end === undefined || end > length) end = length;
    else end |= 0;
    if (end <= start) return "";
    // Unlike elsewhere, null is not a way of saying utf8 here.
    const normalized = encoding === null ? undefined : encodings.normalizeEncoding(encoding);
    if (normalized === undefined) throw unknownEncoding(encoding);
    return encodings.decode(this, start, end, normalized);
  }

  toJSON() {
    return { type: "Buffer", data: Array.from(this) };
  }

  equals(other) {
    return compare(this, other) === 0;
  }

  compare(target, targetStart, targetEnd, sourceStart, sourceEnd) {
    if (!(target instanceof Uint8Array)) throw invalidArgType("target", ["Buffer", "Uint8Array"], target);
    if (targetStart === undefined) targetStart = 0;
    else validateInteger(targetStart, "targetStart", 0, kMaxLength);
    if (targetEnd === undefined) targetEnd = target.length;
    else validateInteger(targetEnd, "targetEnd", 0, target.length);
    if (sourceStart === undefined) sourceStart = 0;
    else validateInteger(sourceStart, "sourceStart", 0, kMaxLength);
    if (sourceEnd === undefined) sourceEnd = this.length;
    else validateInteger(sourceEnd, "sourceEnd", 0, this.length);
    return compareRanges(this, sourceStart, sourceEnd, target, targetStart, targetEnd);
  }

  copy(target, targetStart, sourceStart, sourceEnd) {
    if (!(target instanceof Uint8Array)) throw invalidArgType("target", ["Buffer", "Uint8Array"], target);
    targetStart = toInteger(targetStart);
    if (targetStart < 0) throw outOfRange("targetStart", ">= 0", targetStart);
    sourceStart = toInteger(sourceStart);
    if (sourceStart < 0) throw outOfRange("sourceStart", ">= 0", sourceStart);
    if (sourceStart >= 2 ** 32) throw outOfRange("sourceStart", `< ${2 ** 32}`, sourceStart);
    sourceEnd = toInteger(sourceEnd ?? this.length);
    if (sourceEnd < 0) throw outOfRange("sourceEnd", ">= 0", sourceEnd);
    if (sourceEnd >= 2 ** 32) throw outOfRange("sourceEnd", `< ${2 ** 32}`, sourceEnd);

    if (targetStart >= target.length) return 0;
    if (sourceEnd > 0 && sourceEnd < sourceStart) sourceEnd = sourceStart;
    if (sourceEnd === sourceStart || target.length === 0 || this.length === 0) return 0;
    if (sourceEnd > this.length) sourceEnd = this.length;
    if (target.length - targetStart < sourceEnd - sourceStart) {
      sourceEnd = target.length - targetStart + sourceStart;
    }
    // workerd reports a negative count when sourceStart lies past the end.
    const count = sourceEnd - sourceStart;
    // set() copies overlapping memory correctly, as copyWithin would.
    if (count > 0) target.set(view(this, sourceStart, sourceEnd), targetStart);
    return count;
  }

  fill(value, start, end, encoding) {
    let normalized;
    if (typeof value === "string") {
      if (typeof start === "string") {
        encoding = start;
        start = 0;
        end = this.length;
      } else if (typeof end === "string") {
        encoding = end;
        end = this.length;
      }
      normalized = encodings.normalizeEncoding(encoding);
      if (normalized === undefined) throw unknownEncoding(encoding);
    }
    if (start !== undefined) validateNumber(start, "start");
    if (end !== undefined) validateNumber(end, "end");
    if (end < 0 || end > this.length) throw outOfRange("end", `0 to ${this.length}`, end);
    if (start < 0 || start > this.length) throw outOfRange("start", "0 to end", start);
    if (end <= start) return this;
    start >>>= 0;
    end = end === undefined ? this.length : end >>> 0;

    if (typeof value === "string") {
      fillPattern(this, fillBytes(value, normalized), start, end);
    } else if (ArrayBuffer.isView(value)) {
      if (value.byteLength === 0) throw invalidArgValue("value", "zero-length");
      // Other views reach workerd's native fill as strings.
      fillPattern(this, value instanceof Uint8Array ? value : encodings.encode(String(value), "utf8"), start, end);
    } else {
      if (typeof value === "number") value &= 255;
      else if (typeof value === "boolean") value = Number(value);
      Uint8Array.prototype.fill.call(this, value ?? 0, start, end);
    }
    return this;
  }

  indexOf(value, byteOffset, encoding) {
    return bidirectionalIndexOf(this, value, byteOffset, encoding, true);
  }

  lastIndexOf(value, byteOffset, encoding) {
    return bidirectionalIndexOf(this, value, byteOffset, encoding, false);
  }

  includes(value, byteOffset, encoding) {
    return this.indexOf(value, byteOffset, encoding) !== -1;
  }

  write(string, offset, length, encoding) {
    string = `${string}`;
    if (offset === undefined) return encodings.writeInto(this, string, 0, this.length, "utf8");
    if (length === undefined && typeof offset === "string") {
      encoding = offset;
      offset = 0;
      length = this.length;
    } else {
      validateInteger(offset, "offset", 0, this.length);
      const remaining = this.length - offset;
      if (length === undefined) {
        length = remaining;
      } else if (typeof length === "string") {
        encoding = length;
        length = remaining;
      } else {
        validateInteger(length, "length", 0, this.length);
        if (length > remaining) length = remaining;
      }
    }
    const normalized = encoding ? encodings.normalizeEncoding(encoding) : "utf8";
    if (normalized === undefined) throw unknownEncoding(encoding);
    return encodings.writeInto(this, string, offset, length, normalized);
  }

  /** Shares memory, like subarray, but clamps its arguments Node's way. */
  slice(start, end) {
    const length = this.length;
    start = ~~start;
    end = end === undefined ? length : ~~end;
    if (start < 0) start = Math.max(start + length, 0);
    else if (start > length) start = length;
    if (end < 0) end = Math.max(end + length, 0);
    else if (end > length) end = length;
    if (end < start) end = start;
    return new FastBuffer(this.buffer, this.byteOffset + start, end - start);
  }

  swap16() {
    return swapBytes(this, 2);
  }

  swap32() {
    return swapBytes(this, 4);
  }

  swap64() {
    return swapBytes(this, 8);
  }

  inspect(recurseTimes, ctx, inspect) {
    const shown = Math.min(this.length, INSPECT_MAX_BYTES);
    let text = encodings.decode(this, 0, shown, "hex").replace(/(.{2})(?!$)/g, "$1 ");
    const remaining = this.length - shown;
    if (remaining > 0) text += ` ... ${remaining} more byte${remaining > 1 ? "s" : ""}`;
    if (ctx) {
      const extras = inspectExtras(this, ctx, inspect);
      if (extras) text += `${this.length !== 0 ? ", " : ""}${extras}`;
    }
    return `<Buffer ${text}>`;
  }

  // --- fixed-width integers ---

  readUInt8(offset = 0) {
    checkBounds(this, offset, 1);
    return this[offset];
  }

  readInt8(offset = 0) {
    checkBounds(this, offset, 1);
    return (this[offset] << 24) >> 24;
  }

  readUInt16LE(offset = 0) {
    checkBounds(this, offset, 2);
    return this[offset] | (this[offset + 1] << 8);
  }

  readUInt16BE(offset = 0) {
    checkBounds(this, offset, 2);
    return (this[offset] << 8) | this[offset + 1];
  }

  readInt16LE(offset = 0) {
    checkBounds(this, offset, 2);
    return ((this[offset] | (this[offset + 1] << 8)) << 16) >> 16;
  }

  readInt16BE(offset = 0) {
    checkBounds(this, offset, 2);
    return (((this[offset] << 8) | this[offset + 1]) << 16) >> 16;
  }

  readUInt32LE(offset = 0) {
    checkBounds(this, offset, 4);
    return uint32At(this, offset, true);
  }

  readUInt32BE(offset = 0) {
    checkBounds(this, offset, 4);
    return uint32At(this, offset, false);
  }

  readInt32LE(offset = 0) {
    checkBounds(this, offset, 4);
    return uint32At(this, offset, true) | 0;
  }

  readInt32BE(offset = 0) {
    checkBounds(this, offset, 4);
    return uint32At(this, offset, false) | 0;
  }

  writeUInt8(value, offset = 0) {
    return writeInteger(this, value, offset, 1, 0, 0xff, true);
  }

  writeInt8(value, offset = 0) {
    return writeInteger(this, value, offset, 1, -0x80, 0x7f, true);
  }

  writeUInt16LE(value, offset = 0) {
    return writeInteger(this, value, offset, 2, 0, 0xffff, true);
  }

  writeUInt16BE(value, offset = 0) {
    return writeInteger(this, value, offset, 2, 0, 0xffff, false);
  }

  writeInt16LE(value, offset = 0) {
    return writeInteger(this, value, offset, 2, -0x8000, 0x7fff, true);
  }

  writeInt16BE(value, offset = 0) {
    return writeInteger(this, value, offset, 2, -0x8000, 0x7fff, false);
  }

  writeUInt32LE(value, offset = 0) {
    return writeInteger(this, value, offset, 4, 0, 0xffffffff, true);
  }

  writeUInt32BE(value, offset = 0) {
    return writeInteger(this, value, offset, 4, 0, 0xffffffff, false);
  }

  writeInt32LE(value, offset = 0) {
    return writeInteger(this, value, offset, 4, -0x80000000, 0x7fffffff, true);
  }

  writeInt32BE(value, offset = 0) {
    return writeInteger(this, value, offset, 4, -0x80000000, 0x7fffffff, false);
  }

  // --- integers of 1 to 6 bytes ---

  readUIntLE(offset, byteLength) {
    checkVariableWidth(this, offset, byteLength);
    return readUnsigned(this, offset, byteLength, true);
  }

  readUIntBE(offset, byteLength) {
    checkVariableWidth(this, offset, byteLength);
    return readUnsigned(this, offset, byteLength, false);
  }

  readIntLE(offset, byteLength) {
    checkVariableWidth(this, offset, byteLength);
    return toSigned(readUnsigned(this, offset, byteLength, true), byteLength);
  }

  readIntBE(offset, byteLength) {
    checkVariableWidth(this, offset, byteLength);
    return toSigned(readUnsigned(this, offset, byteLength, false), byteLength);
  }

  writeUIntLE(value, offset, byteLength) {
    checkByteLength(byteLength);
    return writeInteger(this, value, offset, byteLength, 0, 2 ** (8 * byteLength) - 1, true);
  }

  writeUIntBE(value, offset, byteLength) {
    checkByteLength(byteLength);
    return writeInteger(this, value, offset, byteLength, 0, 2 ** (8 * byteLength) - 1, false);
  }

  writeIntLE(value, offset, byteLength) {
    checkByteLength(byteLength);
    const limit = 2 ** (8 * byteLength - 1);
    return writeInteger(this, value, offset, byteLength, -limit, limit - 1, true);
  }

  writeIntBE(value, offset, byteLength) {
    checkByteLength(byteLength);
    const limit = 2 ** (8 * byteLength - 1);
    return writeInteger(this, value, offset, byteLength, -limit, limit - 1, false);
  }

  // --- 64-bit integers ---

  readBigUInt64LE(offset = 0) {
    // Unlike the other reads, these coerce the offset (as workerd does).
    offset >>>= 0;
    checkBounds(this, offset, 8);
    return readBigUnsigned(this, offset, true);
  }

  readBigUInt64BE(offset = 0) {
    offset >>>= 0;
    checkBounds(this, offset, 8);
    return readBigUnsigned(this, offset, false);
  }

  readBigInt64LE(offset = 0) {
    offset >>>= 0;
    checkBounds(this, offset, 8);
    return BigInt.asIntN(64, readBigUnsigned(this, offset, true));
  }

  readBigInt64BE(offset = 0) {
    offset >>>= 0;
    checkBounds(this, offset, 8);
    return BigInt.asIntN(64, readBigUnsigned(this, offset, false));
  }

  writeBigUInt64LE(value, offset = 0) {
    return writeBigInteger(this, value, offset, false, true);
  }

  writeBigUInt64BE(value, offset = 0) {
    return writeBigInteger(this, value, offset, false, false);
  }

  writeBigInt64LE(value, offset = 0) {
    return writeBigInteger(this, value, offset, true, true);
  }

  writeBigInt64BE(value, offset = 0) {
    return writeBigInteger(this, value, offset, true, false);
  }

  // --- floating point ---

  readFloatLE(offset = 0) {
    return readFloat(this, offset, float32, float32Bytes, true);
  }

  readFloatBE(offset = 0) {
    return readFloat(this, offset, float32, float32Bytes, false);
  }

  readDoubleLE(offset = 0) {
    return readFloat(this, offset, float64, float64Bytes, true);
  }

  readDoubleBE(offset = 0) {
    return readFloat(this, offset, float64, float64Bytes, false);
  }

  writeFloatLE(value, offset = 0) {
    return writeFloat(this, value, offset, float32, float32Bytes, true);
  }

  writeFloatBE(value, offset = 0) {
    return writeFloat(this, value, offset, float32, float32Bytes, false);
  }

  writeDoubleLE(value, offset = 0) {
    return writeFloat(this, value, offset, float64, float64Bytes, true);
  }

  writeDoubleBE(value, offset = 0) {
    return writeFloat(this, value, offset, float64, float64Bytes, false);
  }
}

// Node's per-encoding methods: latin1Slice(start, end), latin1Write(string, offset, length)...
for (const [name, encoding] of [["ascii", "ascii"], ["base64", "base64"], ["base64url", "base64url"],
  ["hex", "hex"], ["latin1", "latin1"], ["ucs2", "utf16le"], ["utf8", "utf8"]]) {
  FastBuffer.prototype[`${name}Slice`] = function (start, end) {
    validateInteger(start, "start", 0, this.length);
    validateInteger(end, "end", 0, this.length);
    return encodings.decode(this, start, end, encoding);
  };
  FastBuffer.prototype[`${name}Write`] = function (string, offset, length) {
    offset ??= 0;
    length ??= this.length;
    validateInteger(offset, "offset", 0, this.length);
    validateInteger(length, "length", 0, this.length - offset);
    return encodings.writeInto(this, `${string}`, offset, length, encoding);
  };
}

// The lowercase spellings Node added later.
for (const name of ["readUInt8", "readUInt16LE", "readUInt16BE", "readUInt32LE", "readUInt32BE",
  "readUIntLE", "readUIntBE", "readBigUInt64LE", "readBigUInt64BE",
  "writeUInt8", "writeUInt16LE", "writeUInt16BE", "writeUInt32LE", "writeUInt32BE",
  "writeUIntLE", "writeUIntBE", "writeBigUInt64LE", "writeBigUInt64BE"]) {
  FastBuffer.prototype[name.replace("UInt", "Uint")] = FastBuffer.prototype[name];
}

// Node and workerd assign their methods, so code that walks a buffer's
// properties (for...in) sees them; class methods would be hidden.
for (const key of Object.getOwnPropertyNames(FastBuffer.prototype)) {
  if (key !== "constructor") Object.defineProperty(FastBuffer.prototype, key, { enumerable: true });
}
FastBuffer.prototype.toLocaleString = FastBuffer.prototype.toString;
FastBuffer.prototype[customInspect] = FastBuffer.prototype.inspect;

/**
 * `Buffer(...)` and `new Buffer(...)`: deprecated in Node but still working,
 * like Buffer.alloc for a number and Buffer.from for anything else.
 */
export function Buffer(value, encodingOrOffset, length) {
  if (typeof value === "number") {
    if (typeof encodingOrOffset === "string") throw invalidArgType("string", "string", value);
    return alloc(value);
  }
  return from(value, encodingOrOffset, length);
}

Buffer.prototype = FastBuffer.prototype;
Object.defineProperty(FastBuffer.prototype, "constructor", { value: Buffer, writable: true, configurable: true });
Object.setPrototypeOf(Buffer, Uint8Array);
// Node pools small allocations; workerd never shares memory between buffers.
Object.defineProperty(Buffer, "poolSize", { value: 0, enumerable: true });

Buffer.from = from;
Buffer.of = of;
Buffer.alloc = alloc;
Buffer.allocUnsafe = allocUnsafe;
Buffer.allocUnsafeSlow = allocUnsafe;
Buffer.isBuffer = isBuffer;
Buffer.compare = compare;
Buffer.isEncoding = isEncoding;
Buffer.concat = concat;
Buffer.byteLength = byteLength;

function from(value, encodingOrOffset, length) {
  if (typeof value === "string") return fromString(value, encodingOrOffset);
  if (typeof value === "object" && value !== null) {
    if (isAnyArrayBuffer(value)) return fromArrayBuffer(value, encodingOrOffset, length);
    const primitive = value.valueOf();
    if (primitive != null && primitive !== value && (typeof primitive === "string" || typeof primitive === "object")) {
      return from(primitive, encodingOrOffset, length);
    }
    if (value.length !== undefined || isAnyArrayBuffer(value.buffer)) {
      // A DataView has a buffer but no length: workerd makes it empty.
      if (typeof value.length !== "number") return new FastBuffer(0);
      return value instanceof Uint8Array ? new FastBuffer(value) : FastBuffer.from(value);
    }
    if (value.type === "Buffer" && Array.isArray(value.data)) return FastBuffer.from(value.data);
    if (typeof value[Symbol.toPrimitive] === "function") {
      const string = value[Symbol.toPrimitive]("string");
      if (typeof string === "string") return fromString(string, encodingOrOffset);
    }
  }
  throw nodeError(TypeError, "ERR_INVALID_ARG_TYPE",
    "The first argument must be of type string or an instance of Buffer, TypedArray, ArrayBuffer, " +
    `SharedArrayBuffer, or Array or an Array-like Object.${describeReceived(value)}`);
}

function fromString(string, encoding) {
  if (typeof encoding !== "string" || encoding === "") encoding = "utf8";
  const normalized = encodings.normalizeEncoding(encoding);
  if (normalized === undefined) throw unknownEncoding(encoding);
  return encodings.encode(string, normalized, FastBuffer);
}

/** A buffer over (not a copy of) part of an ArrayBuffer. */
function fromArrayBuffer(arrayBuffer, byteOffset, length) {
  byteOffset = byteOffset === undefined ? 0 : +byteOffset || 0;
  const maxLength = arrayBuffer.byteLength - byteOffset;
  if (maxLength < 0) throw outOfBounds("offset");
  if (length === undefined) {
    length = maxLength;
  } else {
    length = +length;
    if (!(length > 0)) length = 0;
    else if (length > maxLength) throw outOfBounds("length");
  }
  return new FastBuffer(arrayBuffer, byteOffset, length);
}

function of(...items) {
  return FastBuffer.from(items);
}

function alloc(size, fill, encoding) {
  validateNumber(size, "size");
  if (Number.isNaN(size)) {
    throw nodeError(RangeError, "ERR_INVALID_ARG_VALUE", "The argument 'size' is invalid. Received NaN");
  }
  if (size >= kMaxLength) throw outOfRange("size", `0 to ${kMaxLength}`, size);
  const buffer = new FastBuffer(size);
  if (fill === undefined) return buffer;
  if (encoding !== undefined) validateString(encoding, "encoding");
  return buffer.fill(fill, encoding);
}

/** Zero-filled, as on workerd: uninitialised memory could leak between requests. */
function allocUnsafe(size) {
  return alloc(size);
}

function isBuffer(value) {
  return value instanceof Buffer;
}

function compare(a, b) {
  // workerd describes the type of the bad argument, not the argument itself.
  if (!(a instanceof Uint8Array)) throw invalidArgType("a", ["Buffer", "Uint8Array"], typeof a);
  if (!(b instanceof Uint8Array)) throw invalidArgType("b", ["Buffer", "Uint8Array"], typeof b);
  if (a === b) return 0;
  return compareRanges(a, 0, a.length, b, 0, b.length);
}

function isEncoding(encoding) {
  return typeof encoding === "string" && encoding.length !== 0 && encodings.normalizeEncoding(encoding) !== undefined;
}

function concat(list, length) {
  if (!Array.isArray(list)) throw invalidList(list);
  if (list.length === 0) return new FastBuffer(0);
  if (length === undefined) {
    length = 0;
    for (const item of list) {
      if (item.length === undefined) throw invalidList(item);
      length += item.length;
    }
  }
  validateInteger(length, "length", 0);
  list.forEach((item, i) => {
    if (!(item instanceof Uint8Array)) {
      throw new TypeError(`Incorrect type for array element ${i}: the provided value is not of type 'Uint8Array'.`);
    }
  });
  // A longer length leaves zeros at the end; a shorter one truncates.
  const result = new FastBuffer(length);
  let offset = 0;
  for (const item of list) {
    if (offset >= length) break;
    const count = Math.min(item.length, length - offset);
    result.set(count === item.length ? item : view(item, 0, count), offset);
    offset += count;
  }
  return result;
}

function invalidList(value) {
  return nodeError(TypeError, "ERR_INVALID_ARG_TYPE",
    `The "list" argument must be an (Buffer|Uint8Array)[].${describeReceived(value)}`);
}

function byteLength(string, encoding) {
  if (typeof string !== "string") {
    if (ArrayBuffer.isView(string) || isAnyArrayBuffer(string)) return string.byteLength;
    throw invalidArgType("string", ["string", "Buffer", "ArrayBuffer"], string);
  }
  return encodings.byteLength(string, encodings.normalizeEncoding(encoding) ?? "utf8");
}

/** The deprecated SlowBuffer(size): a zero-filled Buffer. */
export function SlowBuffer(size) {
  return alloc(+size);
}
Object.setPrototypeOf(SlowBuffer.prototype, Uint8Array.prototype);
Object.setPrototypeOf(SlowBuffer, Uint8Array);

export function isAscii(input) {
  checkAttached(input, "ASCII");
  if (!(input instanceof Uint8Array)) throw notUint8Array("isAscii");
  return encodings.isAscii(input);
}

export function isUtf8(input) {
  checkAttached(input, "UTF8");
  if (!(input instanceof Uint8Array)) throw notUint8Array("isUtf8");
  return encodings.isUtf8(input);
}

function checkAttached(input, what) {
  if (input?.detached || input?.buffer?.detached) {
    throw new Error(`Unable to determine if buffer is ${what} when it is detached`);
  }
}

/** workerd's native functions take Uint8Arrays only, and say so this way. */
function notUint8Array(method) {
  return new TypeError(`Failed to execute '${method}' on 'BufferUtil': parameter 1 is not of type 'Uint8Array'.`);
}

/** Re-encodes bytes between utf8, utf16le/ucs2, latin1 and ascii. */
export function transcode(source, fromEncoding, toEncoding) {
  if (!ArrayBuffer.isView(source)) throw invalidArgType("source", "ArrayBufferView", typeof source);
  const from = encodings.normalizeEncoding(fromEncoding);
  if (from === undefined) throw unknownEncoding(fromEncoding);
  const to = encodings.normalizeEncoding(toEncoding);
  if (to === undefined) throw unknownEncoding(toEncoding);
  if (!(source instanceof Uint8Array)) throw notUint8Array("transcode");
  const bytes = encodings.transcode(source, from, to);
  return new FastBuffer(bytes.buffer, bytes.byteOffset, bytes.length);
}

export function resolveObjectURL() {
  throw new Error("resolveObjectURL is not implemented");
}

export const atob = globalThis.atob.bind(globalThis);
export const btoa = globalThis.btoa.bind(globalThis);
export const Blob = globalThis.Blob;
export const File = globalThis.File;

// --- helpers --------------------------------------------------------------------

function isAnyArrayBuffer(value) {
  return value instanceof ArrayBuffer || (SharedArrayBufferType !== undefined && value instanceof SharedArrayBufferType);
}

/** A plain Uint8Array over bytes[start, end), without a species lookup. */
function view(bytes, start, end) {
  return new Uint8Array(bytes.buffer, bytes.byteOffset + start, end - start);
}

function outOfBounds(name) {
  return nodeError(RangeError, "ERR_BUFFER_OUT_OF_BOUNDS",
    name ? `"${name}" is outside of buffer bounds` : "Attempt to access memory outside buffer bounds");
}

/** Node's ToInteger for copy(): NaN, unsafe and missing values become 0. */
function toInteger(value) {
  const number = +value;
  return Number.isNaN(number) || Math.abs(number) > Number.MAX_SAFE_INTEGER ? 0 : Math.floor(number);
}

/** Compares a[aStart, aEnd) with b[bStart, bEnd) as memcmp then length; starts past ends mean empty. */
function compareRanges(a, aStart, aEnd, b, bStart, bEnd) {
  aEnd = Math.min(aEnd, a.length);
  aStart = Math.min(aStart, aEnd);
  bEnd = Math.min(bEnd, b.length);
  bStart = Math.min(bStart, bEnd);
  const aLength = aEnd - aStart;
  const bLength = bEnd - bStart;
  const common = Math.min(aLength, bLength);
  let i = 0;
  // Skip equal 32-bit words first when both ranges are aligned for it.
  if (common >= 64 && ((a.byteOffset + aStart) & 3) === 0 && ((b.byteOffset + bStart) & 3) === 0) {
    const words = common >>> 2;
    const aWords = new Uint32Array(a.buffer, a.byteOffset + aStart, words);
    const bWords = new Uint32Array(b.buffer, b.byteOffset + bStart, words);
    while (i < words && aWords[i] === bWords[i]) i++;
    i *= 4;
  }
  for (; i < common; i++) {
    const x = a[aStart + i];
    const y = b[bStart + i];
    if (x !== y) return x < y ? -1 : 1;
  }
  return aLength === bLength ? 0 : aLength < bLength ? -1 : 1;
}

/** The bytes a string fills with; workerd's fill takes hex strictly. */
function fillBytes(string, encoding) {
  const bytes = encodings.encode(string, encoding);
  if (encoding === "hex" && bytes.length * 2 !== string.length) throw new TypeError("The text is not valid hex");
  return bytes;
}

/** Repeats `pattern` over target[start, end); an empty pattern fills zeros. */
function fillPattern(target, pattern, start, end) {
  end = Math.min(end, target.length);
  if (end <= start) return;
  if (pattern.length <= 1) {
    Uint8Array.prototype.fill.call(target, pattern.length === 0 ? 0 : pattern[0], start, end);
    return;
  }
  const length = end - start;
  const first = Math.min(pattern.length, length);
  target.set(first === pattern.length ? pattern : view(pattern, 0, first), start);
  // Double the filled part until the range is full.
  for (let filled = first; filled < length; filled *= 2) {
    target.copyWithin(start + filled, start, start + Math.min(filled, length - filled));
  }
}

function bidirectionalIndexOf(buffer, value, byteOffset, encoding, forward) {
  if (typeof byteOffset === "string") {
    encoding = byteOffset;
    byteOffset = undefined;
  } else if (byteOffset > 0x7fffffff) {
    byteOffset = 0x7fffffff;
  } else if (byteOffset < -0x80000000) {
    byteOffset = -0x80000000;
  }
  // null and [] mean 0; undefined and other non-numbers the whole buffer.
  byteOffset = +byteOffset;
  if (Number.isNaN(byteOffset)) byteOffset = forward ? 0 : buffer.length;

  if (typeof value === "number") {
    const byte = (value >>> 0) & 0xff;
    return forward
      ? Uint8Array.prototype.indexOf.call(buffer, byte, byteOffset)
      : Uint8Array.prototype.lastIndexOf.call(buffer, byte, byteOffset);
  }
  if (typeof value !== "string" && !(value instanceof Uint8Array)) {
    throw invalidArgType("value", ["number", "string", "Buffer", "Uint8Array"], value);
  }
  const normalized = encodings.normalizeEncoding(encoding);
  if (normalized === undefined) throw unknownEncoding(encoding);
  const needle = typeof value === "string" ? encodings.encode(value, normalized) : value;
  return searchBytes(buffer, needle, byteOffset | 0, normalized === "utf16le", forward);
}

/**
 * Where `needle` occurs in `haystack`, searching forwards from `byteOffset`
 * or backwards from it, with Node's rules for offsets outside the buffer.
 * For UTF-16 only whole code units at even offsets match.
 */
function searchBytes(haystack, needle, byteOffset, utf16, forward) {
  const length = utf16 ? haystack.length & ~1 : haystack.length;
  let start;
  if (byteOffset < 0) {
    if (byteOffset + length >= 0) start = length + byteOffset;
    else if (forward || needle.length === 0) start = 0;
    else return -1;
  } else if (byteOffset + needle.length <= length) {
    start = byteOffset;
  } else if (needle.length === 0) {
    start = length;
  } else if (forward) {
    return -1;
  } else {
    start = length - 1;
  }
  if (needle.length === 0) return start;
  if (length === 0 || (forward && start + needle.length > length) || needle.length > length) return -1;

  const size = utf16 ? needle.length & ~1 : needle.length;
  if (utf16 && size < 2) return -1;
  const step = utf16 ? 2 : 1;
  const last = length - size;
  const hay = view(haystack, 0, length);
  const first = needle[0];
  if (utf16) start &= ~1;
  if (forward) {
    for (let i = hay.indexOf(first, start); i !== -1 && i <= last; i = hay.indexOf(first, i + 1)) {
      if (i % step === 0 && matchesAt(hay, needle, size, i)) return i;
    }
  } else {
    for (let i = hay.lastIndexOf(first, Math.min(start, last)); i !== -1; i = i > 0 ? hay.lastIndexOf(first, i - 1) : -1) {
      if (i % step === 0 && matchesAt(hay, needle, size, i)) return i;
    }
  }
  return -1;
}

function matchesAt(hay, needle, size, at) {
  for (let j = 1; j < size; j++) {
    if (hay[at + j] !== needle[j]) return false;
  }
  return true;
}

function swapBytes(buffer, size) {
  if (buffer.length % size !== 0) {
    throw nodeError(RangeError, "ERR_INVALID_BUFFER_SIZE", `Buffer size must be a multiple of ${size * 8}-bits`);
  }
  for (let i = 0; i < buffer.length; i += size) {
    for (let low = i, high = i + size - 1; low < high; low++, high--) {
      const byte = buffer[low];
      buffer[low] = buffer[high];
      buffer[high] = byte;
    }
  }
  return buffer;
}

/**
 * The `, key: value` part of inspect() for properties added to a buffer,
 * formatted by util.inspect when the caller passes it, as Node does.
 */
function inspectExtras(buffer, ctx, inspect) {
  // Index keys come first in a typed array's own keys.
  const keys = Reflect.ownKeys(buffer).slice(buffer.length)
    .filter((key) => ctx.showHidden || Object.prototype.propertyIsEnumerable.call(buffer, key));
  if (keys.length === 0) return "";
  if (typeof inspect === "function") {
    const extras = Object.create(null);
    for (const key of keys) extras[key] = buffer[key];
    // Drop the "[Object: null prototype] { " and " }" around the properties.
    return inspect(extras, { ...ctx, breakLength: Infinity, compact: true }).slice(27, -2);
  }
  return keys.map((key) => `${formatKey(key)}: ${formatValue(buffer[key])}`).join(", ");
}

function formatKey(key) {
  if (typeof key === "symbol") return `[${key.toString()}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? key : `'${key}'`;
}

function formatValue(value) {
  switch (typeof value) {
    case "string":
      return `'${value}'`;
    case "bigint":
      return `${value}n`;
    case "number":
      return Object.is(value, -0) ? "-0" : String(value);
    case "function":
      return `[Function: ${value.name || "(anonymous)"}]`;
    case "object":
      return value === null ? "null" : Array.isArray(value) ? "[Array]" : "[Object]";
    default:
      return String(value);
  }
}

// --- numbers ----------------------------------------------------------------------

/**
 * Checks that `size` bytes fit at `offset`. A bad offset is an
 * ERR_OUT_OF_RANGE naming the valid range, as Node reports it.
 */
function checkBounds(buffer, offset, size) {
  validateInteger(offset, "offset", 0, buffer.length);
  if (offset + size > buffer.length) boundsError(offset, buffer.length - size);
}

function boundsError(value, last, name) {
  if (Math.floor(value) !== value) throw outOfRange(name ?? "offset", "an integer", value);
  if (last < 0) throw outOfBounds();
  throw outOfRange(name ?? "offset", `>= ${name ? 1 : 0} and <= ${last}`, value);
}

function checkByteLength(byteLength) {
  if (!Number.isInteger(byteLength) || byteLength < 1 || byteLength > 6) boundsError(byteLength, 6, "byteLength");
}

function checkVariableWidth(buffer, offset, byteLength) {
  if (offset === undefined) throw invalidArgType("offset", "number", offset);
  checkByteLength(byteLength);
  checkBounds(buffer, offset, byteLength);
}

function uint32At(buffer, offset, littleEndian) {
  return littleEndian
    ? (buffer[offset] | (buffer[offset + 1] << 8) | (buffer[offset + 2] << 16)) + buffer[offset + 3] * 0x1000000
    : buffer[offset] * 0x1000000 + ((buffer[offset + 1] << 16) | (buffer[offset + 2] << 8) | buffer[offset + 3]);
}

function readUnsigned(buffer, offset, size, littleEndian) {
  let value = 0;
  for (let i = 0; i < size; i++) value = value * 256 + buffer[littleEndian ? offset + size - 1 - i : offset + i];
  return value;
}

function toSigned(value, size) {
  const limit = 2 ** (8 * size - 1);
  return value >= limit ? value - 2 * limit : value;
}

function writeInteger(buffer, value, offset, size, min, max, littleEndian) {
  value = +value;
  validateInteger(offset, "offset", 0, buffer.length);
  if (value > max || value < min) {
    const bits = size * 8;
    const range = size <= 4 ? `>= ${min} and <= ${max}`
      : min === 0 ? `>= 0 and < 2 ** ${bits}` : `>= -(2 ** ${bits - 1}) and < 2 ** ${bits - 1}`;
    throw outOfRange("value", range, value);
  }
  if (offset + size > buffer.length) boundsError(offset, buffer.length - size);
  storeInteger(buffer, value, offset, size, littleEndian);
  return offset + size;
}

/** Stores the low `size` bytes of an integer (of up to 48 bits, or negative). */
function storeInteger(buffer, value, offset, size, littleEndian) {
  // Typed-array stores keep the low 8 bits; >>> takes the low 32 bits of
  // the value and the division the bits above them.
  let low = value;
  let high = Math.floor(value / 2 ** 32);
  for (let i = 0; i < size; i++) {
    const at = littleEndian ? offset + i : offset + size - 1 - i;
    if (i < 4) {
      buffer[at] = low;
      low >>>= 8;
    } else {
      buffer[at] = high;
      high >>>= 8;
    }
  }
}

function readBigUnsigned(buffer, offset, littleEndian) {
  const low = uint32At(buffer, littleEndian ? offset : offset + 4, littleEndian);
  const high = uint32At(buffer, littleEndian ? offset + 4 : offset, littleEndian);
  return (BigInt(high) << 32n) | BigInt(low);
}

function writeBigInteger(buffer, value, offset, signed, littleEndian) {
  if (signed ? value < -(2n ** 63n) || value >= 2n ** 63n : value < 0n || value >= 2n ** 64n) {
    throw outOfRange("value", signed ? ">= -(2n ** 63n) and < 2 ** 63n" : ">= 0n and < 2n ** 64n", value);
  }
  checkBounds(buffer, offset, 8);
  // Throws, as in Node, when value is not a BigInt.
  const low = Number(value & 0xffffffffn);
  const high = Number((value >> 32n) & 0xffffffffn);
  storeInteger(buffer, littleEndian ? low : high, offset, 4, littleEndian);
  storeInteger(buffer, littleEndian ? high : low, offset + 4, 4, littleEndian);
  return offset + 8;
}

// Floats go through a shared scratch value and a view of its bytes.
const float32 = new Float32Array(1);
const float32Bytes = new Uint8Array(float32.buffer);
const float64 = new Float64Array(1);
const float64Bytes = new Uint8Array(float64.buffer);
const platformLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function readFloat(buffer, offset, scratch, bytes, littleEndian) {
  const size = bytes.length;
  checkBounds(buffer, offset, size);
  const reversed = littleEndian !== platformLittleEndian;
  for (let i = 0; i < size; i++) bytes[reversed ? size - 1 - i : i] = buffer[offset + i];
  return scratch[0];
}

function writeFloat(buffer, value, offset, scratch, bytes, littleEndian) {
  const size = bytes.length;
  value = +value;
  checkBounds(buffer, offset, size);
  scratch[0] = value;
  const reversed = littleEndian !== platformLittleEndian;
  for (let i = 0; i < size; i++) buffer[offset + i] = bytes[reversed ? size - 1 - i : i];
  return offset + size;
}

export default {
  Buffer,
  SlowBuffer,
  Blob,
  File,
  atob,
  btoa,
  constants,
  kMaxLength,
  kStringMaxLength,
  INSPECT_MAX_BYTES,
  isAscii,
  isUtf8,
  transcode,
  resolveObjectURL,
};
