// node:crypto's KeyObject: secret keys, and RSA, EC, Ed25519 and X25519
// key pairs read from PEM, DER and JWK, written back in any of them, and
// generated. Rust (crates/ridge-ext keys.rs) does the reading and writing;
// an asymmetric KeyObject keeps its key as PKCS#8 (private) or SPKI
// (public) DER, which sign.js hands to the signing ops.

import { op_ridge_key_agree, op_ridge_key_generate, op_ridge_key_read, op_ridge_key_write } from "ext:core/ops";
import { Buffer } from "../../buffer.js";
import { nextTick } from "../../process.js";
import { describeReceived, invalidArgType, invalidArgValue, nodeError, notImplemented, outOfRange } from "../errors.js";
import { validateFunction, validateObject, validateString } from "../validators.js";
import { bytesOf, callOp } from "./util.js";

const kKey = Symbol("key");
/** Only this module makes KeyObjects (workerd's rule). */
const kConstruct = Symbol("KeyObject");

/** A key held by Node's API; made by the create*Key and generate* functions. */
export class KeyObject {
  #type;

  constructor(type, key, token) {
    if (token !== kConstruct) throw new Error("Illegal constructor");
    this.#type = type;
    this[kKey] = key;
  }

  get type() {
    return this.#type;
  }

  equals(other) {
    if (!(other instanceof KeyObject) || other.type !== this.#type) return false;
    const mine = this[kKey].der ?? this[kKey];
    const theirs = other[kKey].der ?? other[kKey];
    if (mine.length !== theirs.length) return false;
    let difference = 0;
    for (let i = 0; i < mine.length; i++) difference |= mine[i] ^ theirs[i];
    return difference === 0;
  }

  static from(key) {
    throw notImplemented("node:crypto.KeyObject.from");
  }
}

class SecretKeyObject extends KeyObject {
  constructor(bytes) {
    super("secret", bytes, kConstruct);
  }

  get symmetricKeySize() {
    return this[kKey].length;
  }

  export(options) {
    if (options !== undefined) validateObject(options, "options");
    if (options?.format === "jwk") {
      return { kty: "oct", ext: true, k: Buffer.from(this[kKey]).toString("base64url") };
    }
    return Buffer.from(this[kKey]);
  }
}

class AsymmetricKeyObject extends KeyObject {
  get asymmetricKeyType() {
    return this[kKey].keyType;
  }

  get asymmetricKeyDetails() {
    const { modulusLength, publicExponent, namedCurve } = this[kKey];
    if (modulusLength !== null) return { modulusLength, publicExponent: BigInt(publicExponent) };
    if (namedCurve !== null) return { namedCurve };
    return {};
  }

  export(options = {}) {
    validateObject(options, "options");
    const { format = "pem" } = options;
    if (format === "jwk") return orderedJwk(JSON.parse(new TextDecoder().decode(write(this, "jwk", ""))));
    if (format !== "pem" && format !== "der") throw new Error("Invalid key format");
    const type = options.type;
    if (type === undefined) throw new TypeError("Missing type option");
    const { cipher = "", passphrase = "" } = options;
    const bytes = write(this, format, type, cipher, bytesOf(passphrase, "options.passphrase", options.encoding));
    return format === "pem" ? new TextDecoder().decode(bytes) : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
}

/** JWK members in workerd's order (Ed25519 keys say their algorithm). */
const JWK_ORDER = ["kty", "alg", "crv", "n", "e", "x", "y", "d", "p", "q", "dp", "dq", "qi"];

function orderedJwk(jwk) {
  if (jwk.crv === "Ed25519") jwk.alg = "EdDSA";
  const ordered = {};
  for (const name of JWK_ORDER) if (jwk[name] !== undefined) ordered[name] = jwk[name];
  return ordered;
}

function write(key, format, type, cipher = "", passphrase = new Uint8Array(0)) {
  return callOp(() => op_ridge_key_write(key[kKey].der, key.type === "private", format, type, cipher, passphrase));
}

class PublicKeyObject extends AsymmetricKeyObject {
  constructor(info) {
    super("public", info, kConstruct);
  }
}

class PrivateKeyObject extends AsymmetricKeyObject {
  constructor(info) {
    super("private", info, kConstruct);
  }
}

/** The KeyObject of what Rust read. */
function keyObject(info) {
  info.der = new Uint8Array(info.der);
  return info.kind === "private" ? new PrivateKeyObject(info) : new PublicKeyObject(info);
}

/** The key's DER and kind, for the signing ops. */
export function keyData(key) {
  return key[kKey];
}

export function createSecretKey(key, encoding) {
  if (typeof key === "string") return new SecretKeyObject(Buffer.from(key, encoding));
  if (!ArrayBuffer.isView(key) && !(key instanceof ArrayBuffer)) {
    throw new TypeError("Failed to execute 'createSecretKey' on 'CryptoImpl': parameter 1 is not of type 'BufferSource'.");
  }
  return new SecretKeyObject(Uint8Array.from(bytesOf(key, "key")));
}

const KEY_INPUT_TYPES = ["string", "ArrayBuffer", "Buffer", "TypedArray", "DataView", "Object"];

function isKeyBytes(value) {
  return typeof value === "string" || ArrayBuffer.isView(value) || value instanceof ArrayBuffer;
}

/** Reads `key` (PEM text or bytes, or { key, format, type, encoding }),
 * as a public key when `asPublic`. */
function readKey(key, asPublic, name) {
  if (key === null || key === undefined) throw invalidArgType("key", KEY_INPUT_TYPES, key);
  let options = { format: "pem" };
  if (!isKeyBytes(key)) {
    options = key;
    key = options.key;
  }
  const format = options.format ?? "pem";
  const passphrase = options.passphrase === undefined ? undefined : bytesOf(options.passphrase, "options.passphrase", options.encoding);
  let data;
  if (format === "jwk" && typeof key === "object" && key !== null && !isKeyBytes(key)) {
    data = new TextEncoder().encode(JSON.stringify(key));
  } else if (format === "pem" || format === "der") {
    if (!isKeyBytes(key)) throw invalidArgType("options.key", KEY_INPUT_TYPES, key);
    data = bytesOf(key, "key", options.encoding);
  } else {
    throw invalidArgValue("format", format, "must be one of: 'pem', 'der'");
  }
  return keyObject(callOp(() => op_ridge_key_read(data, format, options.type ?? "", asPublic, passphrase)));
}

export function createPrivateKey(key) {
  if (key instanceof KeyObject) throw invalidArgType("key", KEY_INPUT_TYPES, key);
  return readKey(key, false, "createPrivateKey");
}

export function createPublicKey(key) {
  const given = key?.key instanceof KeyObject ? key.key : key;
  if (given instanceof KeyObject) {
    if (given.type === "public") return given;
    if (given.type !== "private") throw invalidArgType("key", "PrivateKeyObject", given);
    return keyObject(callOp(() => op_ridge_key_read(given[kKey].der, "der", "pkcs8", true, undefined)));
  }
  return readKey(key, true, "createPublicKey");
}

/** A private key as the signing functions take it: a KeyObject, PEM, or
 * { key, ... } with the signing options beside it. */
export function privateKeyOf(key) {
  const given = key?.key instanceof KeyObject ? key.key : key;
  if (given instanceof KeyObject) {
    // workerd's words for the two wrong kinds.
    if (given.type === "secret") {
      throw invalidArgType("options", ["PublicKeyObject", "PrivateKeyObject", "CryptoKey", "Object"], given.type);
    }
    if (given.type !== "private") {
      throw nodeError(Error, "ERR_CRYPTO_INVALID_KEY_OBJECT_TYPE", `Invalid key object type ${given.type}, expected private.`);
    }
    return given;
  }
  return createPrivateKey(key);
}

/** A key verification takes: public, or private (its public half). */
export function verifyingKeyOf(key) {
  const given = key?.key instanceof KeyObject ? key.key : key;
  if (given instanceof KeyObject) {
    if (given.type === "secret") throw new Error("Invalid key for verification operation");
    return given;
  }
  return createPublicKey(key);
}

// ---- Generation -------------------------------------------------------

/** The key, encoded as the caller asked (`publicKeyEncoding`, ...), or the KeyObject. */
function encodeGenerated(key, encoding, name) {
  if (encoding === undefined) return key;
  validateObject(encoding, name);
  try {
    return key.export(encoding);
  } catch (error) {
    // workerd words this one case differently from export().
    if (error.code === "ERR_CRYPTO_INCOMPATIBLE_KEY_OPTIONS" && encoding.type === "pkcs1") {
      throw new Error("PKCS1 can only be used for RSA keys");
    }
    throw error;
  }
}

const PAIR_TYPES = ["rsa", "ec", "ed25519", "x25519", "dh"];

/** An unsigned 32-bit option, in Node's words when it is not one. */
function uint32Option(value, name) {
  if (typeof value !== "number") throw invalidArgType(name, "number", value);
  if (!Number.isInteger(value)) throw outOfRange(name, "an integer", value);
  if (value < 0 || value >= 2 ** 32) throw outOfRange(name, ">= 0 && < 4294967296", value);
  return value;
}

export function generateKeyPairSync(type, options = {}) {
  if (!PAIR_TYPES.includes(type)) {
    throw invalidArgValue("type", type, `must be one of: ${PAIR_TYPES.map((t) => `'${t}'`).join(", ")}`);
  }
  validateObject(options, "options");
  let modulusLength = 0;
  let publicExponent = 0x10001;
  let namedCurve = "";
  if (type === "rsa") {
    modulusLength = uint32Option(options.modulusLength, "options.modulusLength");
    if (options.publicExponent !== undefined) publicExponent = uint32Option(options.publicExponent, "options.publicExponent");
  } else if (type === "ec") {
    validateString(options.namedCurve, "options.namedCurve");
    namedCurve = options.namedCurve;
  } else if (type === "dh") {
    throw notImplemented("node:crypto.generateKeyPair for dh");
  }
  const privateKey = keyObject(callOp(() => op_ridge_key_generate(type, modulusLength, publicExponent, namedCurve)));
  const publicKey = createPublicKey(privateKey);
  return {
    publicKey: encodeGenerated(publicKey, options.publicKeyEncoding, "options.publicKeyEncoding"),
    privateKey: encodeGenerated(privateKey, options.privateKeyEncoding, "options.privateKeyEncoding"),
  };
}

export function generateKeyPair(type, options, callback) {
  if (typeof options === "function") {
    callback = options;
    options = undefined;
  }
  validateFunction(callback, "callback");
  let pair;
  try {
    pair = generateKeyPairSync(type, options);
  } catch (error) {
    nextTick(callback, error);
    return;
  }
  nextTick(callback, null, pair.publicKey, pair.privateKey);
}

/** A secret key: "hmac" (8 to 2^31-1 bits) or "aes" (128, 192 or 256). */
export function generateKeySync(type, options) {
  if (type !== "hmac" && type !== "aes") throw invalidArgValue("type", type, "must be one of: 'hmac', 'aes'");
  validateObject(options, "options");
  const { length } = options;
  if (typeof length !== "number") throw invalidArgType("options.length", "number", length);
  if (type === "hmac") {
    if (!Number.isInteger(length)) throw outOfRange("options.length", "an integer", length);
    if (length < 8 || length > 65536) throw outOfRange("options.length", ">= 8 && <= 65536", length);
  } else if (![128, 192, 256].includes(length)) {
    throw invalidArgValue("options.length", length, "must be one of: 128, 192, 256");
  }
  const bytes = new Uint8Array(Math.floor(length / 8));
  globalThis.crypto.getRandomValues(bytes);
  return new SecretKeyObject(bytes);
}

export function generateKey(type, options, callback) {
  validateFunction(callback, "callback");
  const key = generateKeySync(type, options);
  nextTick(callback, null, key);
}

/** crypto.diffieHellman({ privateKey, publicKey }): the shared secret of
 * X25519 or ECDH keys of the same type. */
export function diffieHellman(options) {
  validateObject(options, "options");
  const { privateKey, publicKey } = options;
  // workerd's words for the wrong kinds of key.
  const mustBe = (name, kind, value) =>
    nodeError(TypeError, "ERR_INVALID_ARG_TYPE", `The "options.${name}" property must be ${kind} key.${describeReceived(value)}`);
  if (!(privateKey instanceof KeyObject) || privateKey.type !== "private") throw mustBe("privateKey", "private", privateKey);
  if (!(publicKey instanceof KeyObject) || publicKey.type === "secret") throw mustBe("publicKey", "public", publicKey);
  if (publicKey.asymmetricKeyType !== privateKey.asymmetricKeyType) {
    throw nodeError(TypeError, "ERR_INVALID_ARG_VALUE",
      `The property 'options.publicKey.asymmetricKeyType' must equal privateKey.asymmetricKeyType. Received '${publicKey.asymmetricKeyType}'`);
  }
  const theirs = publicKey.type === "public" ? publicKey : createPublicKey(publicKey);
  const secret = callOp(() => op_ridge_key_agree(privateKey[kKey].der, theirs[kKey].der));
  return Buffer.from(secret.buffer, secret.byteOffset, secret.byteLength);
}
