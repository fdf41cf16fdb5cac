// What node:crypto's parts share: turning data into bytes, bytes into the
// caller's encoding, and the "CODE|message" errors of Ridge's crypto ops
// into Node's errors.

import { Buffer } from "../../buffer.js";
import { invalidArgType, nodeError } from "../errors.js";

/** `data` as bytes: strings in `encoding` (UTF-8 by default), any view or buffer. */
export function bytesOf(data, name, encoding) {
  if (typeof data === "string") return Buffer.from(data, encoding);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  throw invalidArgType(name, ["string", "Buffer", "TypedArray", "DataView"], data);
}

/** The bytes in `encoding`, or a Buffer without one. */
export function encoded(bytes, encoding) {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return encoding === undefined || encoding === "buffer" ? buffer : buffer.toString(encoding);
}

/** The class of Node's error for each code the ops use (Error otherwise). */
const CLASSES = {
  ERR_CRYPTO_INVALID_KEYLEN: RangeError,
  ERR_CRYPTO_INVALID_IV: TypeError,
  ERR_CRYPTO_INVALID_AUTH_TAG: TypeError,
  ERR_CRYPTO_INVALID_SCRYPT_PARAMS: RangeError,
  ERR_CRYPTO_INVALID_DIGEST: TypeError,
  ERR_INVALID_ARG_VALUE: TypeError,
};

/** An op's "CODE|message" error as Node's error (a code of "-" means Node
 * gives none). Other errors pass through. */
export function opError(error) {
  const text = String(error?.message ?? error);
  const bar = text.indexOf("|");
  if (bar === -1) return error;
  const code = text.slice(0, bar);
  const message = text.slice(bar + 1);
  return code === "-" ? new Error(message) : nodeError(CLASSES[code] ?? Error, code, message);
}

/** Runs an op, turning its "CODE|message" error into Node's. */
export function callOp(run) {
  try {
    return run();
  } catch (error) {
    throw opError(error);
  }
}
