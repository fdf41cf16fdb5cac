// node:crypto's AES ciphers: createCipheriv/createDecipheriv (GCM, CBC,
// CTR, ECB), streaming through Rust (crates/ridge-ext cipher.rs), each a
// Transform stream as in Node. String output goes through a StringDecoder,
// as Node's does, so multi-byte characters and base64 groups split across
// updates come out whole.

import {
  op_ridge_cipher_create,
  op_ridge_cipher_final,
  op_ridge_cipher_info,
  op_ridge_cipher_set_aad,
  op_ridge_cipher_set_padding,
  op_ridge_cipher_set_tag,
  op_ridge_cipher_update,
} from "ext:core/ops";
import { core } from "ext:core/mod.js";
import { Buffer } from "../../buffer.js";
import { StringDecoder } from "../../string_decoder.js";
import { Transform } from "../../stream.js";
import { invalidArgType, invalidArgValue } from "../errors.js";
import { validateString } from "../validators.js";
import { bytesOf, callOp } from "./util.js";

const CIPHERS = [
  "aes-128-cbc", "aes-128-ctr", "aes-128-ecb", "aes-128-gcm", "aes-192-cbc", "aes-192-ctr",
  "aes-192-ecb", "aes-192-gcm", "aes-256-cbc", "aes-256-ctr", "aes-256-ecb", "aes-256-gcm",
  "id-aes128-gcm", "id-aes192-gcm", "id-aes256-gcm",
];

export function getCiphers() {
  return [...CIPHERS];
}

const KEY_TYPES = ["string", "Buffer", "TypedArray", "DataView", "KeyObject", "CryptoKey"];

/** Key material: a secret KeyObject's bytes, or bytes. */
function keyBytes(key, encoding) {
  if (key?.type === "secret" && typeof key.export === "function") return key.export();
  if (typeof key !== "string" && !ArrayBuffer.isView(key) && !(key instanceof ArrayBuffer)) {
    throw invalidArgType("key", KEY_TYPES, key);
  }
  return bytesOf(key, "key", encoding);
}

// A cipher's Rust state is freed by final(); one abandoned before that is
// freed when it is garbage collected.
const abandoned = new FinalizationRegistry((rid) => core.tryClose(rid));

class CipherBase extends Transform {
  #rid;
  #decoder = null;
  #decoderEncoding;
  /** A GCM encryption's tag, once final() made it. */
  #tag = null;

  constructor(decrypt, cipher, key, iv, options) {
    validateString(cipher, "cipher");
    const authTagLength = options?.authTagLength ?? 16;
    const ivBytes = iv === null ? new Uint8Array(0) : bytesOf(iv, "iv");
    const rid = callOp(() => op_ridge_cipher_create(cipher, keyBytes(key, options?.encoding), ivBytes, decrypt, authTagLength));
    super(options);
    this.#rid = rid;
    abandoned.register(this, rid, this);
  }

  /** Bytes in the output encoding; with a string encoding, whole characters. */
  #output(bytes, outputEncoding, last) {
    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (outputEncoding === undefined || outputEncoding === "buffer") return buffer;
    if (this.#decoder === null || this.#decoderEncoding !== outputEncoding) {
      this.#decoder = new StringDecoder(outputEncoding);
      this.#decoderEncoding = outputEncoding;
    }
    return last ? this.#decoder.end(buffer) : this.#decoder.write(buffer);
  }

  update(data, inputEncoding, outputEncoding) {
    if (typeof data !== "string" && !ArrayBuffer.isView(data)) {
      throw invalidArgType("data", ["string", "Buffer", "TypedArray", "DataView"], data);
    }
    const bytes = bytesOf(data, "data", inputEncoding);
    return this.#output(callOp(() => op_ridge_cipher_update(this.#rid, bytes)), outputEncoding, false);
  }

  final(outputEncoding) {
    const { output, tag } = callOp(() => op_ridge_cipher_final(this.#rid));
    abandoned.unregister(this);
    this.#tag = tag;
    return this.#output(output, outputEncoding, true);
  }

  setAutoPadding(autoPadding = true) {
    callOp(() => op_ridge_cipher_set_padding(this.#rid, !!autoPadding));
    return this;
  }

  setAAD(buffer, options) {
    callOp(() => op_ridge_cipher_set_aad(this.#rid, bytesOf(buffer, "buffer", options?.encoding)));
    return this;
  }

  /** For subclasses: the cipher's resource. */
  get _rid() {
    return this.#rid;
  }

  /** For Cipheriv: the tag final() made, or null. */
  _finishedTag() {
    return this.#tag;
  }

  _transform(chunk, encoding, callback) {
    try {
      this.push(this.update(chunk, encoding === "buffer" ? undefined : encoding));
      callback();
    } catch (error) {
      callback(error);
    }
  }

  _flush(callback) {
    try {
      this.push(this.final());
      callback();
    } catch (error) {
      callback(error);
    }
  }
}

export class Cipheriv extends CipherBase {
  constructor(cipher, key, iv, options) {
    super(false, cipher, key, iv, options);
  }

  getAuthTag() {
    const tag = this._finishedTag();
    if (tag === null) throw new Error("Auth tag is only available once cipher context has been finalized");
    return Buffer.from(tag.buffer, tag.byteOffset, tag.byteLength);
  }
}

export class Decipheriv extends CipherBase {
  constructor(cipher, key, iv, options) {
    super(true, cipher, key, iv, options);
  }

  setAuthTag(tag, encoding) {
    callOp(() => op_ridge_cipher_set_tag(this._rid, bytesOf(tag, "buffer", encoding)));
    return this;
  }
}

export function createCipheriv(cipher, key, iv, options) {
  return new Cipheriv(cipher, key, iv, options);
}

export function createDecipheriv(cipher, key, iv, options) {
  return new Decipheriv(cipher, key, iv, options);
}

/** What Node tells of a cipher: its name, mode and lengths; undefined for
 * one Ridge does not have. */
export function getCipherInfo(nameOrNid, options) {
  if (typeof nameOrNid !== "string" && typeof nameOrNid !== "number") {
    throw invalidArgType("nameOrNid", ["string", "number"], nameOrNid);
  }
  if (typeof nameOrNid === "number") return undefined;
  const info = op_ridge_cipher_info(nameOrNid);
  if (info === null) return undefined;
  const [keyLength, ivLength, mode] = info;
  if (options?.keyLength !== undefined && options.keyLength !== keyLength) return undefined;
  if (options?.ivLength !== undefined) {
    if (mode !== "gcm" && options.ivLength !== ivLength) return undefined;
    if (mode === "gcm" && options.ivLength < 1) throw invalidArgValue("options.ivLength", options.ivLength);
  }
  const bits = keyLength * 8;
  // workerd's (BoringSSL's) names and order of fields.
  const name = mode === "gcm" ? `id-aes${bits}-GCM` : `aes-${bits}-${mode}`;
  const described = { name, nid: NIDS[`${bits}-${mode}`], blockSize: mode === "cbc" || mode === "ecb" ? 16 : 1 };
  if (ivLength > 0) described.ivLength = ivLength;
  described.keyLength = keyLength;
  described.mode = mode;
  return described;
}

/** OpenSSL's numeric ids of the ciphers, which getCipherInfo reports. */
const NIDS = {
  "128-ecb": 418, "128-cbc": 419, "192-ecb": 422, "192-cbc": 423, "256-ecb": 426, "256-cbc": 427,
  "128-gcm": 895, "192-gcm": 898, "256-gcm": 901, "128-ctr": 904, "192-ctr": 905, "256-ctr": 906,
};
