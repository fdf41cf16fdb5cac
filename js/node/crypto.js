// node:crypto: hashing, HMAC, key derivation and randomness for Workers
// code and npm packages (jsonwebtoken, SDKs that sign requests). Digests
// run in Rust (crates/ridge-ext crypto.rs); a hash in progress is a
// resource fed by `update`. Randomness comes from Web Crypto.
// `webcrypto`/`subtle` are the global Web Crypto objects. Errors are
// worded as workerd words them (its BoringSSL and Web IDL messages), which
// is not always Node's wording. Beyond workerd, SHA-3 digests are here.

import {
  op_ridge_hash_copy,
  op_ridge_hash_create,
  op_ridge_hash_digest,
  op_ridge_hash_once,
  op_ridge_hash_update,
  op_ridge_hash_update_text,
  op_ridge_hkdf,
  op_ridge_hmac_create,
  op_ridge_pbkdf2,
  op_ridge_scrypt,
} from "ext:core/ops";
import { Buffer } from "./buffer.js";
import { nextTick } from "./process.js";
import { Transform } from "./stream.js";
import { invalidArgType, invalidArgValue, nodeError, notImplemented, outOfRange } from "./internal/errors.js";
import { validateFunction, validateInteger, validateNumber, validateObject, validateString } from "./internal/validators.js";
import { bytesOf, encoded } from "./internal/crypto/util.js";
import {
  Cipheriv, Decipheriv, createCipheriv, createDecipheriv, getCipherInfo, getCiphers,
} from "./internal/crypto/cipher.js";
import {
  KeyObject, createPrivateKey, createPublicKey, createSecretKey, diffieHellman, generateKey,
  generateKeyPair, generateKeyPairSync, generateKeySync,
} from "./internal/crypto/keys.js";
import { Sign, Verify, createSign, createVerify, sign, verify } from "./internal/crypto/sign.js";

const HASHES = [
  "RSA-MD5", "RSA-SHA1", "RSA-SHA224", "RSA-SHA256", "RSA-SHA384", "RSA-SHA512",
  "md5", "sha1", "sha224", "sha256", "sha3-224", "sha3-256", "sha3-384", "sha3-512",
  "sha384", "sha512", "sha512-224", "sha512-256",
];

// Names a hash's resource: its getter, and `copy`'s way to make a Hash of one.
const kResource = Symbol("resource");

/** What Hash and Hmac share: the resource, `update`, `digest`, the stream side. */
class Digester extends Transform {
  #rid;
  #done = false;

  constructor(rid, options) {
    super(options);
    this.#rid = rid;
  }

  update(data, inputEncoding) {
    if (this.#done) throw nodeError(Error, "ERR_CRYPTO_HASH_FINALIZED", "Digest already called");
    if (typeof data === "string" && (inputEncoding === undefined || /^utf-?8$/i.test(inputEncoding))) {
      op_ridge_hash_update_text(this.#rid, data);
    } else {
      op_ridge_hash_update(this.#rid, bytesOf(data, "data", inputEncoding));
    }
    return this;
  }

  digest(outputEncoding) {
    if (this.#done) throw nodeError(Error, "ERR_CRYPTO_HASH_FINALIZED", "Digest already called");
    this.#done = true;
    return encoded(op_ridge_hash_digest(this.#rid), outputEncoding);
  }

  _transform(chunk, encoding, callback) {
    this.update(chunk, encoding === "buffer" ? undefined : encoding);
    callback();
  }

  _flush(callback) {
    this.push(this.digest());
    callback();
  }

  /** The resource, for `copy`. */
  get [kResource]() {
    if (this.#done) throw nodeError(Error, "ERR_CRYPTO_HASH_FINALIZED", "Digest already called");
    return this.#rid;
  }
}

function hashRid(algorithm) {
  validateString(algorithm, "algorithm");
  try {
    return op_ridge_hash_create(algorithm);
  } catch {
    throw new Error("Digest method not supported");
  }
}

export class Hash extends Digester {
  constructor(algorithm, options, copiedResource) {
    super(algorithm === kResource ? copiedResource : hashRid(algorithm), options);
  }

  copy(options) {
    return new Hash(kResource, options, op_ridge_hash_copy(this[kResource]));
  }
}

export class Hmac extends Digester {
  constructor(algorithm, key, options) {
    validateString(algorithm, "hmac");
    const keyBytes = key instanceof KeyObject ? key.export() : bytesOf(key, "key", options?.encoding);
    let rid;
    try {
      rid = op_ridge_hmac_create(algorithm, keyBytes);
    } catch {
      throw new Error("Digest method not supported");
    }
    super(rid, options);
  }
}

export function createHash(algorithm, options) {
  return new Hash(algorithm, options);
}

export function createHmac(algorithm, key, options) {
  return new Hmac(algorithm, key, options);
}

/** One-shot digest (Node 21.7+): hex by default. */
export function hash(algorithm, data, outputEncoding = "hex") {
  validateString(algorithm, "algorithm");
  if (typeof data !== "string" && !ArrayBuffer.isView(data)) {
    throw invalidArgType("data", ["string", "Buffer", "TypedArray", "DataView"], data);
  }
  let digest;
  try {
    digest = op_ridge_hash_once(algorithm, bytesOf(data, "data"));
  } catch {
    throw new Error("Digest method not supported");
  }
  return encoded(digest, outputEncoding);
}

export function getHashes() {
  return [...HASHES];
}

export function getCurves() {
  return [];
}

// ---- Randomness -------------------------------------------------------

const MAX_RANDOM_BYTES = 2 ** 31 - 1;
/** Web Crypto fills at most 65,536 bytes per call. */
const RANDOM_CHUNK = 65536;

function fillRandom(bytes) {
  for (let at = 0; at < bytes.length; at += RANDOM_CHUNK) {
    globalThis.crypto.getRandomValues(bytes.subarray(at, Math.min(at + RANDOM_CHUNK, bytes.length)));
  }
  return bytes;
}

export function randomBytes(size, callback) {
  validateNumber(size, "size", 0, MAX_RANDOM_BYTES);
  if (callback !== undefined) validateFunction(callback, "callback");
  const buffer = fillRandom(Buffer.alloc(size));
  if (callback === undefined) return buffer;
  nextTick(callback, null, buffer);
}

export function randomFillSync(target, offset = 0, size) {
  if (!ArrayBuffer.isView(target) && !(target instanceof ArrayBuffer)) {
    throw invalidArgType("buf", ["ArrayBuffer", "ArrayBufferView"], target);
  }
  const bytes = target instanceof ArrayBuffer
    ? new Uint8Array(target)
    : new Uint8Array(target.buffer, target.byteOffset, target.byteLength);
  validateNumber(offset, "offset", 0, bytes.length);
  const length = size === undefined ? bytes.length - offset : size;
  validateNumber(length, "size", 0, bytes.length - offset);
  fillRandom(bytes.subarray(offset, offset + length));
  return target;
}

export function randomFill(target, offset, size, callback) {
  if (typeof offset === "function") [callback, offset, size] = [offset, 0, undefined];
  else if (typeof size === "function") [callback, size] = [size, undefined];
  validateFunction(callback, "callback");
  randomFillSync(target, offset, size);
  nextTick(callback, null, target);
}

/** A uniform integer in [min, max), without modulo bias. */
export function randomInt(min, max, callback) {
  if (max === undefined || typeof max === "function") [callback, max, min] = [max, min, 0];
  if (!Number.isSafeInteger(min)) throw invalidArgType("min", "a safe integer", min);
  if (!Number.isSafeInteger(max)) throw invalidArgType("max", "a safe integer", max);
  if (max <= min) throw outOfRange("min", "min < max", min);
  const range = max - min;
  if (range >= 2 ** 48) throw outOfRange("max - min", `<= ${2 ** 48 - 1}`, range);
  const limit = 2 ** 48 - (2 ** 48 % range);
  const six = new Uint8Array(6);
  let value;
  do {
    fillRandom(six);
    value = six.reduce((sum, byte) => sum * 256 + byte, 0);
  } while (value >= limit);
  const result = min + (value % range);
  if (callback === undefined) return result;
  validateFunction(callback, "callback");
  nextTick(callback, null, result);
}

export function randomUUID() {
  return globalThis.crypto.randomUUID();
}

export function getRandomValues(array) {
  return globalThis.crypto.getRandomValues(array);
}

// ---- Key derivation ---------------------------------------------------

function keyMaterial(value, name) {
  if (value instanceof KeyObject) return value.export();
  return bytesOf(value, name);
}

export function pbkdf2Sync(password, salt, iterations, keylen, digest) {
  const pass = keyMaterial(password, "password");
  const saltBytes = keyMaterial(salt, "salt");
  validateInteger(iterations, "iterations", 1, 2 ** 31 - 1);
  validateInteger(keylen, "keylen", 0, 2 ** 31 - 1);
  validateString(digest, "digest");
  let derived;
  try {
    derived = op_ridge_pbkdf2(digest, pass, saltBytes, iterations, keylen);
  } catch (error) {
    // Above 100,000 iterations, or a key longer than the digest allows,
    // the op says so; anything else is the digest's name.
    if (!(error instanceof TypeError)) throw error;
    throw new TypeError(`Invalid Pbkdf2 digest: ${digest}.`);
  }
  return Buffer.from(derived.buffer, derived.byteOffset, derived.byteLength);
}

export function pbkdf2(password, salt, iterations, keylen, digest, callback) {
  validateFunction(callback, "callback");
  const derived = pbkdf2Sync(password, salt, iterations, keylen, digest);
  nextTick(callback, null, derived);
}

/** HKDF: the derived key as an ArrayBuffer, as Node gives it. */
export function hkdfSync(digest, ikm, salt, info, keylen) {
  validateString(digest, "digest");
  const key = keyMaterial(ikm, "ikm");
  const saltBytes = keyMaterial(salt, "salt");
  const infoBytes = keyMaterial(info, "info");
  validateInteger(keylen, "length", 0, 2 ** 31 - 1);
  if (infoBytes.length > 1024) {
    throw outOfRange("info", "must not contain more than 1024 bytes", infoBytes.length);
  }
  let derived;
  try {
    derived = op_ridge_hkdf(digest, key, saltBytes, infoBytes, keylen);
  } catch (error) {
    if (error instanceof RangeError) throw new RangeError("Invalid Hkdf key length");
    throw new TypeError(`Invalid Hkdf digest: ${digest}.`);
  }
  return derived.buffer.slice(derived.byteOffset, derived.byteOffset + derived.byteLength);
}

/** Node's scrypt defaults: N = 2^14, r = 8, p = 1, 32 MiB of memory at most;
 * a 0 in the options means the default too. */
const SCRYPT_DEFAULTS = { N: 16384, r: 8, p: 1, maxmem: 32 << 20 };
/** The largest cost workerd accepts (BoringSSL's bound). */
const SCRYPT_MAX_COST = 1048576;
const SCRYPT_INPUT_TYPES = ["string", "ArrayBuffer", "Buffer", "TypedArray", "DataView"];

/** A password or salt: a KeyObject's bytes, or bytes. */
function scryptInput(value, name) {
  if (value instanceof KeyObject) return value.export();
  if (typeof value !== "string" && !ArrayBuffer.isView(value) && !(value instanceof ArrayBuffer)) {
    throw invalidArgType(name, SCRYPT_INPUT_TYPES, value);
  }
  return bytesOf(value, name);
}

/** The arguments checked (errors thrown, as Node throws them) and the
 * parameters with their defaults. */
function scryptArguments(password, salt, keylen, options) {
  const pass = scryptInput(password, "password");
  const saltBytes = scryptInput(salt, "salt");
  validateInteger(keylen, "keylen", 0, 2 ** 31 - 1);
  const params = { ...SCRYPT_DEFAULTS };
  if (options !== undefined && options !== null) {
    validateObject(options, "options");
    for (const [short, long] of [["N", "cost"], ["r", "blockSize"], ["p", "parallelization"]]) {
      let value = options[short];
      if (options[long] !== undefined) {
        if (value !== undefined) throw invalidArgValue(long, options[long]);
        value = options[long];
      }
      if (value === undefined) continue;
      if (typeof value !== "number") throw invalidArgType(short, "number", value);
      if (!Number.isInteger(value)) throw outOfRange(short, "an integer", value);
      if (value < 0 || value >= 2 ** 32) throw outOfRange(short, ">= 0 && < 4294967296", value);
      if (value !== 0) params[short] = value;
    }
    if (options.maxmem !== undefined) {
      validateInteger(options.maxmem, "maxmem", 0);
      if (options.maxmem !== 0) params.maxmem = options.maxmem;
    }
  }
  return { pass, saltBytes, keylen, ...params };
}

/** Derives the key; errors are workerd's ("Scrypt failed"). */
function scryptDerive({ pass, saltBytes, keylen, N, r, p, maxmem }) {
  if (N >= SCRYPT_MAX_COST) throw new RangeError(`Scrypt failed: cost exceeds maximum (${SCRYPT_MAX_COST}).`);
  // The memory scrypt takes: 128 * r * (N + 2) for its tables, 128 * r * p for its blocks.
  if (N < 2 || (N & (N - 1)) !== 0 || 128 * r * (N + 2) + 128 * r * p > maxmem) throw new Error("Scrypt failed");
  let derived;
  try {
    derived = op_ridge_scrypt(pass, saltBytes, N, r, p, keylen);
  } catch {
    throw new Error("Scrypt failed");
  }
  return Buffer.from(derived.buffer, derived.byteOffset, derived.byteLength);
}

export function scryptSync(password, salt, keylen, options) {
  return scryptDerive(scryptArguments(password, salt, keylen, options));
}

export function scrypt(password, salt, keylen, options, callback) {
  // The callback is the last argument, whichever position that is.
  if (callback === undefined) {
    callback = options;
    options = undefined;
  }
  const args = scryptArguments(password, salt, keylen, options);
  validateFunction(callback, "callback");
  let derived;
  try {
    derived = scryptDerive(args);
  } catch (error) {
    nextTick(callback, error);
    return;
  }
  nextTick(callback, null, derived);
}

export function hkdf(digest, ikm, salt, info, keylen, callback) {
  validateFunction(callback, "callback");
  const derived = hkdfSync(digest, ikm, salt, info, keylen);
  nextTick(callback, null, derived);
}

// ---- Comparison -------------------------------------------------------

/** Compares in time that depends on the length alone. */
export function timingSafeEqual(a, b) {
  for (const [index, value] of [[1, a], [2, b]]) {
    if (!ArrayBuffer.isView(value) && !(value instanceof ArrayBuffer)) {
      throw new TypeError(
        `Failed to execute 'timingSafeEqual' on 'SubtleCrypto': parameter ${index} is not of type 'BufferSource'.`,
      );
    }
  }
  const left = bytesOf(a, "buf1");
  const right = bytesOf(b, "buf2");
  if (left.length !== right.length) {
    throw new TypeError("Input buffers must have the same byte length.");
  }
  let difference = 0;
  for (let i = 0; i < left.length; i++) difference |= left[i] ^ right[i];
  return difference === 0;
}

const unimplemented = (name) => () => {
  throw notImplemented(`node:crypto.${name}`);
};

export const publicEncrypt = unimplemented("publicEncrypt");
export const privateDecrypt = unimplemented("privateDecrypt");
export const privateEncrypt = unimplemented("privateEncrypt");
export const publicDecrypt = unimplemented("publicDecrypt");
export const createDiffieHellman = unimplemented("createDiffieHellman");
export const createECDH = unimplemented("createECDH");

// The global `crypto` and its `subtle` are native objects made on first
// access, which cannot be in the startup snapshot these modules are
// evaluated into: these objects forward to them instead.
export const subtle = {};
export const webcrypto = {
  get subtle() {
    return subtle;
  },
  getRandomValues: (array) => globalThis.crypto.getRandomValues(array),
  randomUUID: () => globalThis.crypto.randomUUID(),
  get CryptoKey() {
    return globalThis.CryptoKey;
  },
};
for (const method of ["encrypt", "decrypt", "sign", "verify", "digest", "generateKey", "deriveKey",
  "deriveBits", "importKey", "exportKey", "wrapKey", "unwrapKey", "timingSafeEqual"]) {
  subtle[method] = (...args) => {
    const native = globalThis.crypto.subtle;
    return native[method](...args);
  };
}
export const constants = Object.freeze({ __proto__: null });

export {
  Cipheriv, Decipheriv, createCipheriv, createDecipheriv, getCipherInfo, getCiphers, KeyObject,
  createPrivateKey, createPublicKey, createSecretKey, generateKey, generateKeyPair,
  generateKeyPairSync, generateKeySync, Sign, Verify, createSign, createVerify, sign, verify,
  diffieHellman,
};

export default {
  Cipheriv, Decipheriv, getCipherInfo, Sign, Verify, Hash, Hmac, KeyObject, createHash, createHmac, hash, getHashes, getCiphers, getCurves,
  randomBytes, randomFillSync, randomFill, randomInt, randomUUID, getRandomValues,
  pbkdf2, pbkdf2Sync, hkdf, hkdfSync, timingSafeEqual, createSecretKey, createPublicKey,
  createPrivateKey, createSign, createVerify, sign, verify, generateKeyPair,
  generateKeyPairSync, generateKey, generateKeySync, createCipheriv, createDecipheriv,
  publicEncrypt, privateDecrypt, privateEncrypt, publicDecrypt, scrypt, scryptSync,
  createDiffieHellman, createECDH, diffieHellman, webcrypto, subtle, constants,
  pseudoRandomBytes: randomBytes, prng: randomBytes, rng: randomBytes,
};
