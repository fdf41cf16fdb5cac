// node:zlib: deflate/inflate, gzip/gunzip, raw deflate, unzip and brotli,
// as streams (Transform), with callbacks, and synchronously. The work is
// done in Rust (crates/ridge-ext zlib.rs); a stream is a resource fed
// chunk by chunk with Node's flush modes.

import { core } from "ext:core/mod.js";
import { op_ridge_zlib_create, op_ridge_zlib_crc32, op_ridge_zlib_process } from "ext:core/ops";
import { Buffer } from "./buffer.js";
import { nextTick } from "./process.js";
import { Transform } from "./stream.js";
import { invalidArgType, nodeError } from "./internal/errors.js";
import { validateFunction } from "./internal/validators.js";

export const constants = Object.freeze({
  Z_NO_FLUSH: 0, Z_PARTIAL_FLUSH: 1, Z_SYNC_FLUSH: 2, Z_FULL_FLUSH: 3, Z_FINISH: 4, Z_BLOCK: 5,
  Z_OK: 0, Z_STREAM_END: 1, Z_NEED_DICT: 2, Z_ERRNO: -1, Z_STREAM_ERROR: -2, Z_DATA_ERROR: -3,
  Z_MEM_ERROR: -4, Z_BUF_ERROR: -5, Z_VERSION_ERROR: -6,
  Z_NO_COMPRESSION: 0, Z_BEST_SPEED: 1, Z_BEST_COMPRESSION: 9, Z_DEFAULT_COMPRESSION: -1,
  Z_FILTERED: 1, Z_HUFFMAN_ONLY: 2, Z_RLE: 3, Z_FIXED: 4, Z_DEFAULT_STRATEGY: 0, ZLIB_VERNUM: 4865,
  DEFLATE: 1, INFLATE: 2, GZIP: 3, GUNZIP: 4, DEFLATERAW: 5, INFLATERAW: 6, UNZIP: 7,
  BROTLI_DECODE: 8, BROTLI_ENCODE: 9,
  Z_MIN_WINDOWBITS: 8, Z_MAX_WINDOWBITS: 15, Z_DEFAULT_WINDOWBITS: 15,
  Z_MIN_CHUNK: 64, Z_MAX_CHUNK: Infinity, Z_DEFAULT_CHUNK: 16384,
  Z_MIN_MEMLEVEL: 1, Z_MAX_MEMLEVEL: 9, Z_DEFAULT_MEMLEVEL: 8,
  Z_MIN_LEVEL: -1, Z_MAX_LEVEL: 9, Z_DEFAULT_LEVEL: -1,
  BROTLI_OPERATION_PROCESS: 0, BROTLI_OPERATION_FLUSH: 1, BROTLI_OPERATION_FINISH: 2,
  BROTLI_OPERATION_EMIT_METADATA: 3,
  BROTLI_PARAM_MODE: 0, BROTLI_MODE_GENERIC: 0, BROTLI_MODE_TEXT: 1, BROTLI_MODE_FONT: 2,
  BROTLI_DEFAULT_MODE: 0, BROTLI_PARAM_QUALITY: 1, BROTLI_MIN_QUALITY: 0, BROTLI_MAX_QUALITY: 11,
  BROTLI_DEFAULT_QUALITY: 11, BROTLI_PARAM_LGWIN: 2, BROTLI_MIN_WINDOW_BITS: 10,
  BROTLI_MAX_WINDOW_BITS: 24, BROTLI_LARGE_MAX_WINDOW_BITS: 30, BROTLI_DEFAULT_WINDOW: 22,
  BROTLI_PARAM_LGBLOCK: 3, BROTLI_MIN_INPUT_BLOCK_BITS: 16, BROTLI_MAX_INPUT_BLOCK_BITS: 24,
  BROTLI_PARAM_DISABLE_LITERAL_CONTEXT_MODELING: 4, BROTLI_PARAM_SIZE_HINT: 5,
  BROTLI_PARAM_LARGE_WINDOW: 6, BROTLI_PARAM_NPOSTFIX: 7, BROTLI_PARAM_NDIRECT: 8,
});

const { Z_NO_FLUSH, Z_FINISH } = constants;
const ERRNO = { Z_STREAM_ERROR: -2, Z_DATA_ERROR: -3, Z_BUF_ERROR: -5 };
const BROTLI = new Set([constants.BROTLI_ENCODE, constants.BROTLI_DECODE]);

/**
 * The op's error ("CODE|message") as workerd's zlib gives it: a plain
 * Error with the message, carrying `code` and `errno` when it comes from a
 * stream (the one-shot forms have neither there).
 */
function zlibError(error, fromStream) {
  const text = String(error?.message ?? error);
  const bar = text.indexOf("|");
  const code = bar === -1 ? "Z_DATA_ERROR" : text.slice(0, bar);
  const message = bar === -1 ? text : text.slice(bar + 1);
  if (!fromStream) return new Error(message);
  const made = nodeError(Error, code, message);
  if (code in ERRNO) made.errno = ERRNO[code];
  return made;
}

function bytesOf(data) {
  if (typeof data === "string") return Buffer.from(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  throw new TypeError(
    "Failed to execute 'zlibSync' on 'ZlibUtil': parameter 1 is not of type 'string or ArrayBuffer or ArrayBufferView'.",
  );
}

function optionNumber(options, name, min, max, fallback) {
  const value = options?.[name];
  if (value === undefined) return fallback;
  if (typeof value !== "number" || Number.isNaN(value)) throw invalidArgType(`options.${name}`, "number", value);
  if (value < min || value > max) {
    // workerd's range errors here carry no code.
    throw new RangeError(`The value of "options.${name}" is out of range. It must be >= ${min} and <= ${max}. Received ${value}`);
  }
  return value;
}

/** Level and window of a stream's options, for `mode`. */
function settings(mode, options) {
  if (BROTLI.has(mode)) {
    const params = options?.params ?? {};
    return {
      level: params[constants.BROTLI_PARAM_QUALITY] ?? constants.BROTLI_DEFAULT_QUALITY,
      window: params[constants.BROTLI_PARAM_LGWIN] ?? constants.BROTLI_DEFAULT_WINDOW,
    };
  }
  return {
    level: optionNumber(options, "level", -1, 9, -1),
    window: optionNumber(options, "windowBits", 8, 15, 15),
  };
}

function open(mode, options) {
  const { level, window } = settings(mode, options);
  return op_ridge_zlib_create(mode, level, window);
}

/** Runs a whole buffer through a new stream of `mode`. */
function processAll(mode, data, options) {
  const input = bytesOf(data);
  const rid = open(mode, options);
  try {
    const flush = options?.finishFlush ?? Z_FINISH;
    const out = op_ridge_zlib_process(rid, input, flush);
    const limit = options?.maxOutputLength;
    if (limit !== undefined && out.length > limit) {
      throw nodeError(RangeError, "ERR_BUFFER_TOO_LARGE", `Cannot create a Buffer larger than ${limit} bytes`);
    }
    return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  } catch (error) {
    throw error instanceof RangeError ? error : zlibError(error, false);
  } finally {
    core.tryClose(rid);
  }
}

/** The base of every zlib stream: input chunks in, output chunks out. */
class ZlibBase extends Transform {
  #rid;
  #closed = false;
  bytesWritten = 0;

  constructor(mode, options) {
    super({ ...options, readableObjectMode: false, writableObjectMode: false });
    this.#rid = open(mode, options);
    this._finishFlush = options?.finishFlush ?? Z_FINISH;
    this._defaultFlush = options?.flush ?? Z_NO_FLUSH;
  }

  #run(chunk, flush) {
    const out = op_ridge_zlib_process(this.#rid, chunk, flush);
    if (out.length > 0) this.push(Buffer.from(out.buffer, out.byteOffset, out.byteLength));
  }

  _transform(chunk, encoding, callback) {
    try {
      const bytes = bytesOf(typeof chunk === "string" ? Buffer.from(chunk, encoding) : chunk);
      this.bytesWritten += bytes.length;
      this.#run(bytes, this._defaultFlush);
      callback();
    } catch (error) {
      callback(zlibError(error, true));
    }
  }

  // As Node's zlib, whose last output comes from its thread pool: 'finish'
  // (the writable side done) is emitted before the last output and 'end'.
  _final(callback) {
    callback();
  }

  _flush(callback) {
    nextTick(() => {
      if (this.destroyed) return callback();
      try {
        this.#run(new Uint8Array(0), this._finishFlush);
        callback();
      } catch (error) {
        callback(zlibError(error, true));
      }
    });
  }

  _destroy(error, callback) {
    this.close();
    callback(error);
  }

  /** Pushes out what is buffered, with `kind` (Z_FULL_FLUSH by default). */
  flush(kind, callback) {
    if (typeof kind === "function") [callback, kind] = [kind, constants.Z_FULL_FLUSH];
    try {
      this.#run(new Uint8Array(0), kind ?? constants.Z_FULL_FLUSH);
    } catch (error) {
      this.destroy(zlibError(error, true));
    }
    if (callback) nextTick(callback);
  }

  params(level, strategy, callback) {
    if (callback) nextTick(callback);
  }

  reset() {}

  close(callback) {
    if (!this.#closed) {
      this.#closed = true;
      core.tryClose(this.#rid);
    }
    if (callback) nextTick(callback);
  }
}

/** The stream class of `mode`, with the name Node gives it. */
function streamClass(name, mode) {
  return {
    [name]: class extends ZlibBase {
      constructor(options) {
        super(mode, options);
      }
    },
  }[name];
}

export const Deflate = streamClass("Deflate", constants.DEFLATE);
export const Inflate = streamClass("Inflate", constants.INFLATE);
export const Gzip = streamClass("Gzip", constants.GZIP);
export const Gunzip = streamClass("Gunzip", constants.GUNZIP);
export const DeflateRaw = streamClass("DeflateRaw", constants.DEFLATERAW);
export const InflateRaw = streamClass("InflateRaw", constants.INFLATERAW);
export const Unzip = streamClass("Unzip", constants.UNZIP);
export const BrotliCompress = streamClass("BrotliCompress", constants.BROTLI_ENCODE);
export const BrotliDecompress = streamClass("BrotliDecompress", constants.BROTLI_DECODE);

export const createDeflate = (options) => new Deflate(options);
export const createInflate = (options) => new Inflate(options);
export const createGzip = (options) => new Gzip(options);
export const createGunzip = (options) => new Gunzip(options);
export const createDeflateRaw = (options) => new DeflateRaw(options);
export const createInflateRaw = (options) => new InflateRaw(options);
export const createUnzip = (options) => new Unzip(options);
export const createBrotliCompress = (options) => new BrotliCompress(options);
export const createBrotliDecompress = (options) => new BrotliDecompress(options);

/** `name(buffer, [options], callback)`: the sync form, answered on the next tick. */
function withCallback(sync) {
  return (data, options, callback) => {
    if (typeof options === "function") [callback, options] = [options, undefined];
    validateFunction(callback, "callback");
    let result;
    try {
      result = sync(data, options);
    } catch (error) {
      nextTick(callback, error);
      return;
    }
    nextTick(callback, null, result);
  };
}

export const deflateSync = (data, options) => processAll(constants.DEFLATE, data, options);
export const inflateSync = (data, options) => processAll(constants.INFLATE, data, options);
export const gzipSync = (data, options) => processAll(constants.GZIP, data, options);
export const gunzipSync = (data, options) => processAll(constants.GUNZIP, data, options);
export const deflateRawSync = (data, options) => processAll(constants.DEFLATERAW, data, options);
export const inflateRawSync = (data, options) => processAll(constants.INFLATERAW, data, options);
export const unzipSync = (data, options) => processAll(constants.UNZIP, data, options);
export const brotliCompressSync = (data, options) => processAll(constants.BROTLI_ENCODE, data, options);
export const brotliDecompressSync = (data, options) => processAll(constants.BROTLI_DECODE, data, options);

export const deflate = withCallback(deflateSync);
export const inflate = withCallback(inflateSync);
export const gzip = withCallback(gzipSync);
export const gunzip = withCallback(gunzipSync);
export const deflateRaw = withCallback(deflateRawSync);
export const inflateRaw = withCallback(inflateRawSync);
export const unzip = withCallback(unzipSync);
export const brotliCompress = withCallback(brotliCompressSync);
export const brotliDecompress = withCallback(brotliDecompressSync);

/** CRC-32 of `data` (a string is UTF-8), continuing from `value`. */
export function crc32(data, value = 0) {
  if (typeof value !== "number") throw invalidArgType("value", "number", value);
  return op_ridge_zlib_crc32(bytesOf(data), value >>> 0);
}

// Node's legacy names for the flush and status constants.
const codes = Object.freeze({
  Z_OK: 0, Z_STREAM_END: 1, Z_NEED_DICT: 2, Z_ERRNO: -1, Z_STREAM_ERROR: -2, Z_DATA_ERROR: -3,
  Z_MEM_ERROR: -4, Z_BUF_ERROR: -5, Z_VERSION_ERROR: -6,
  "0": "Z_OK", "1": "Z_STREAM_END", "2": "Z_NEED_DICT", "-1": "Z_ERRNO", "-2": "Z_STREAM_ERROR",
  "-3": "Z_DATA_ERROR", "-4": "Z_MEM_ERROR", "-5": "Z_BUF_ERROR", "-6": "Z_VERSION_ERROR",
});
export { codes };

export default {
  constants, codes, crc32, Deflate, Inflate, Gzip, Gunzip, DeflateRaw, InflateRaw, Unzip,
  BrotliCompress, BrotliDecompress, createDeflate, createInflate, createGzip, createGunzip,
  createDeflateRaw, createInflateRaw, createUnzip, createBrotliCompress, createBrotliDecompress,
  deflate, deflateSync, inflate, inflateSync, gzip, gzipSync, gunzip, gunzipSync, deflateRaw,
  deflateRawSync, inflateRaw, inflateRawSync, unzip, unzipSync, brotliCompress,
  brotliCompressSync, brotliDecompress, brotliDecompressSync,
};
