// node:crypto's signatures: sign()/verify() in one call, and createSign/
// createVerify fed in pieces. RSA (PKCS#1 v1.5 and PSS), ECDSA (DER or
// IEEE P1363 encoded) and Ed25519, computed in Rust (crates/ridge-ext
// keys.rs) from the KeyObjects of keys.js.

import { op_ridge_key_sign, op_ridge_key_verify } from "ext:core/ops";
import { Buffer } from "../../buffer.js";
import { nextTick } from "../../process.js";
import { Writable } from "../../stream.js";
import { invalidArgType, invalidArgValue, nodeError } from "../errors.js";
import { validateFunction, validateString } from "../validators.js";
import { keyData, privateKeyOf, verifyingKeyOf } from "./keys.js";
import { bytesOf, callOp, encoded } from "./util.js";

const RSA_PKCS1_PADDING = 1;
const RSA_PKCS1_PSS_PADDING = 6;
const RSA_PSS_SALTLEN_AUTO = -2;

const DIGESTS = new Set([
  "md5", "sha1", "sha224", "sha256", "sha384", "sha512", "sha512-224", "sha512-256",
  "sha3-224", "sha3-256", "sha3-384", "sha3-512",
]);

/** Node's digest names for signatures: "sha256", "RSA-SHA256",
 * "sha256WithRSAEncryption", "ecdsa-with-SHA256" all mean SHA-256; an
 * unknown one is refused in workerd's words. */
function digestName(algorithm) {
  const lower = algorithm.toLowerCase();
  const match = /^(?:rsa-|ecdsa-with-)?(sha[0-9-]+|md5)(?:withrsaencryption)?$/.exec(lower);
  const name = match ? match[1].replace(/^sha-(?=\d)/, "sha") : lower;
  if (!DIGESTS.has(name)) throw new Error(`Unknown digest: ${algorithm}`);
  return name;
}

/** Data to sign or a signature: bytes only, as Node and workerd take them. */
function viewOf(value, name) {
  if (!ArrayBuffer.isView(value)) throw invalidArgType(name, ["Buffer", "TypedArray", "DataView"], value);
  return bytesOf(value, name);
}

/** The signing options a key argument may carry beside the key. */
function schemeOf(key, keyType) {
  const options = typeof key === "object" && key !== null && !ArrayBuffer.isView(key) ? key : {};
  const padding = options.padding ?? (keyType === "rsa-pss" ? RSA_PKCS1_PSS_PADDING : RSA_PKCS1_PADDING);
  if (padding !== RSA_PKCS1_PADDING && padding !== RSA_PKCS1_PSS_PADDING) {
    throw invalidArgValue("options.padding", padding);
  }
  const saltLength = options.saltLength ?? RSA_PSS_SALTLEN_AUTO;
  if (!Number.isInteger(saltLength) || saltLength < -2) throw invalidArgValue("options.saltLength", saltLength);
  const dsaEncoding = options.dsaEncoding ?? "der";
  if (dsaEncoding !== "der" && dsaEncoding !== "ieee-p1363") {
    throw nodeError(TypeError, "ERR_INVALID_ARG_VALUE", `The property 'options.dsaEncoding' is invalid. Received '${dsaEncoding}'`);
  }
  return { padding, saltLength, p1363: dsaEncoding === "ieee-p1363" };
}

/** The digest for a key: Ed25519 takes none, the others need one.
 * `streaming` says whether createSign chose it (workerd's words differ). */
function digestFor(algorithm, keyType, streaming = false) {
  if (keyType === "ed25519") {
    if (algorithm !== null && algorithm !== undefined) {
      throw new Error(streaming ? "Failed to set signature digest" : "Failed to initialize signing context");
    }
    return "";
  }
  if (algorithm === null || algorithm === undefined) return keyType === "rsa" || keyType === "ec" ? "sha256" : "";
  validateString(algorithm, "algorithm");
  return digestName(algorithm);
}

function signWith(algorithm, data, key, streaming = false) {
  if (key === undefined || key === null) {
    throw nodeError(Error, "ERR_CRYPTO_SIGN_KEY_REQUIRED", "No key provided to sign");
  }
  const privateKey = privateKeyOf(key);
  const info = keyData(privateKey);
  const { padding, saltLength, p1363 } = schemeOf(key, info.keyType);
  const digest = digestFor(algorithm, info.keyType, streaming);
  const signature = callOp(() => op_ridge_key_sign(info.der, data, digest, padding, saltLength, p1363));
  return Buffer.from(signature.buffer, signature.byteOffset, signature.byteLength);
}

function verifyWith(algorithm, data, key, signature) {
  const publicKey = verifyingKeyOf(key);
  const info = keyData(publicKey);
  const { padding, saltLength, p1363 } = schemeOf(key, info.keyType);
  const digest = digestFor(algorithm, info.keyType);
  return callOp(() => op_ridge_key_verify(info.der, publicKey.type === "private", data, signature, digest, padding, saltLength, p1363));
}

/** crypto.sign(algorithm, data, key[, callback]). */
export function sign(algorithm, data, key, callback) {
  const signature = signWith(algorithm, viewOf(data, "data"), key);
  if (callback === undefined) return signature;
  validateFunction(callback, "callback");
  nextTick(callback, null, signature);
}

/** crypto.verify(algorithm, data, key, signature[, callback]). */
export function verify(algorithm, data, key, signature, callback) {
  const valid = verifyWith(algorithm, viewOf(data, "data"), key, viewOf(signature, "signature"));
  if (callback === undefined) return valid;
  validateFunction(callback, "callback");
  nextTick(callback, null, valid);
}

/** What Sign and Verify share: the algorithm and the data written so far. */
class Signer extends Writable {
  #algorithm;
  #chunks = [];

  constructor(algorithm, options) {
    validateString(algorithm, "algorithm");
    digestName(algorithm);
    super(options);
    this.#algorithm = algorithm;
  }

  update(data, inputEncoding) {
    this.#chunks.push(Buffer.from(bytesOf(data, "data", inputEncoding)));
    return this;
  }

  _write(chunk, encoding, callback) {
    this.update(chunk, encoding === "buffer" ? undefined : encoding);
    callback();
  }

  /** The algorithm and everything written, once. */
  _take() {
    const data = Buffer.concat(this.#chunks);
    this.#chunks = [];
    return [this.#algorithm, data];
  }
}

export class Sign extends Signer {
  #signed = false;

  sign(privateKey, outputEncoding) {
    if (this.#signed) throw new Error("Signing context has already been finalized");
    const [algorithm, data] = this._take();
    const signature = signWith(algorithm, data, privateKey, true);
    this.#signed = true;
    return encoded(signature, outputEncoding);
  }
}

export class Verify extends Signer {
  verify(key, signature, signatureEncoding) {
    const [algorithm, data] = this._take();
    return verifyWith(algorithm, data, key, bytesOf(signature, "signature", signatureEncoding));
  }
}

export function createSign(algorithm, options) {
  return new Sign(algorithm, options);
}

export function createVerify(algorithm, options) {
  return new Verify(algorithm, options);
}
