// Ridge: Workers KV namespaces, as a worker sees them in `env`.
//
// Each binding is a KvNamespace holding only its index in the worker's
// binding list; Rust (kv.rs in crates/ridge-ext) maps the index to the namespace, so
// worker code can reach no namespace it is not bound to. Values cross as
// bytes; reads the node's cache can answer complete without a promise turn
// through the event loop.
import { core, primordials } from "ext:core/mod.js";
import {
  op_ridge_count_kv_operation,
  op_ridge_kv_delete,
  op_ridge_kv_get,
  op_ridge_kv_get_cached,
  op_ridge_kv_list,
  op_ridge_kv_put,
  op_ridge_kv_put_stream,
} from "ext:core/ops";
import { currentRequest, internals, registerBinding } from "ext:ridge/globals/00_globals.js";
import { SPAN_KV, traced } from "ext:ridge/trace/04_trace.js";

const {
  ArrayBufferIsView,
  ArrayBufferPrototype,
  ArrayBufferPrototypeGetByteLength,
  ArrayPrototypeIncludes,
  ArrayPrototypeMap,
  JSONParse,
  JSONStringify,
  MathMin,
  NumberIsNaN,
  ObjectPrototypeIsPrototypeOf,
  RangeError,
  TypeError,
  TypedArrayPrototypeGetBuffer,
  TypedArrayPrototypeGetByteLength,
  TypedArrayPrototypeGetByteOffset,
  TypedArrayPrototypeSlice,
  TypedArrayPrototypeSubarray,
  Uint8Array,
} = primordials;
const { ReadableStream, ReadableStreamPrototype, resourceForReadableStream } = internals.streams;

const TYPES = ["text", "json", "arrayBuffer", "stream"];
/** Largest value, as kv::MAX_VALUE_BYTES: checked here too so that an
 * oversized buffer is refused before it is handed to Rust. */
const MAX_VALUE_BYTES = 25 * 1024 * 1024;
/** Chunk size of `get(key, "stream")`. */
const STREAM_CHUNK = 64 * 1024;
/** Only Ridge creates KvNamespace objects. */
const kConstruct = Symbol("KvNamespace");

function readGetOptions(options) {
  let type = "text";
  let cacheTtl = NaN;
  if (typeof options === "string") {
    type = options;
  } else if (options !== undefined && options !== null) {
    if (typeof options !== "object") {
      throw new TypeError("KV get() options must be a type string or an object {type, cacheTtl}");
    }
    if (options.type !== undefined) type = `${options.type}`;
    if (options.cacheTtl !== undefined) cacheTtl = toNumber(options.cacheTtl, "cacheTtl");
  }
  if (!ArrayPrototypeIncludes(TYPES, type)) {
    throw new TypeError(`Unknown KV value type "${type}": use "text", "json", "arrayBuffer" or "stream"`);
  }
  return { type, cacheTtl };
}

function toNumber(value, name) {
  const number = +value;
  if (typeof value === "symbol" || NumberIsNaN(number)) {
    throw new TypeError(`${name} must be a number, got ${typeof value === "symbol" ? "a symbol" : JSONStringify(value) ?? typeof value}`);
  }
  return number;
}

function bytesStream(bytes) {
  let offset = 0;
  // A default (not "bytes") stream: enqueueing must not transfer, and so
  // detach, the buffer every chunk shares.
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) {
        controller.close();
        return;
      }
      const end = MathMin(offset + STREAM_CHUNK, bytes.length);
      controller.enqueue(TypedArrayPrototypeSubarray(bytes, offset, end));
      offset = end;
    },
  });
}

function decodeValue(bytes, type) {
  switch (type) {
    case "text":
      return core.decode(bytes);
    case "json":
      return JSONParse(core.decode(bytes));
    case "arrayBuffer": {
      const buffer = TypedArrayPrototypeGetBuffer(bytes);
      const whole = TypedArrayPrototypeGetByteOffset(bytes) === 0 &&
        ArrayBufferPrototypeGetByteLength(buffer) === TypedArrayPrototypeGetByteLength(bytes);
      return whole ? buffer : TypedArrayPrototypeGetBuffer(TypedArrayPrototypeSlice(bytes));
    }
    case "stream":
      return bytesStream(bytes);
  }
}

/** The bytes of a put() value, or null for a stream. */
function valueBytes(value) {
  if (typeof value === "string") return core.encode(value);
  if (ArrayBufferIsView(value)) {
    return new Uint8Array(
      TypedArrayPrototypeGetBuffer(value),
      TypedArrayPrototypeGetByteOffset(value),
      TypedArrayPrototypeGetByteLength(value),
    );
  }
  if (ObjectPrototypeIsPrototypeOf(ArrayBufferPrototype, value)) return new Uint8Array(value);
  if (ObjectPrototypeIsPrototypeOf(ReadableStreamPrototype, value)) return null;
  throw new TypeError(
    "KV put() accepts only strings, ArrayBuffers, ArrayBufferViews and ReadableStreams as values",
  );
}

/** Counts a KV operation against the request's 1,000 (Rust refuses the
 * one too many). Work outside any request is not counted. */
function countOperation() {
  const rid = currentRequest();
  if (rid !== undefined) op_ridge_count_kv_operation(rid);
}

export class KvNamespace {
  #index;
  /** The binding's name in `env`, for trace spans. */
  #binding;

  constructor(token, index, binding) {
    if (token !== kConstruct) throw new TypeError("Illegal constructor: KV namespaces come from env bindings");
    this.#index = index;
    this.#binding = binding;
  }

  /** [state, bytes, metadata, cacheHit], state 1 = missing, 2 = found. */
  async #read(key, cacheTtl) {
    const cached = op_ridge_kv_get_cached(this.#index, key, cacheTtl);
    return cached[0] === 0 ? await op_ridge_kv_get(this.#index, key, cacheTtl) : cached;
  }

  get(key, options) {
    return traced(SPAN_KV, "get", this.#binding, () => this.#get(key, options));
  }

  getWithMetadata(key, options) {
    return traced(SPAN_KV, "getWithMetadata", this.#binding, () => this.#getWithMetadata(key, options));
  }

  put(key, value, options = undefined) {
    return traced(SPAN_KV, "put", this.#binding, () => this.#put(key, value, options));
  }

  delete(key) {
    return traced(SPAN_KV, "delete", this.#binding, () => this.#delete(key));
  }

  list(options = undefined) {
    return traced(SPAN_KV, "list", this.#binding, () => this.#list(options));
  }

  async #get(key, options) {
    countOperation();
    const { type, cacheTtl } = readGetOptions(options);
    const read = await this.#read(`${key}`, cacheTtl);
    return read[0] === 1 ? null : decodeValue(read[1], type);
  }

  async #getWithMetadata(key, options) {
    countOperation();
    const { type, cacheTtl } = readGetOptions(options);
    const read = await this.#read(`${key}`, cacheTtl);
    if (read[0] === 1) return { value: null, metadata: null, cacheStatus: null };
    return {
      value: decodeValue(read[1], type),
      metadata: read[2] === null ? null : JSONParse(read[2]),
      cacheStatus: read[3] ? "HIT" : "MISS",
    };
  }

  async #put(key, value, options = undefined) {
    countOperation();
    key = `${key}`;
    let expiration = NaN;
    let expirationTtl = NaN;
    let metadata = "";
    if (options !== undefined && options !== null) {
      if (typeof options !== "object") throw new TypeError("KV put() options must be an object");
      if (options.expiration !== undefined) expiration = toNumber(options.expiration, "expiration");
      if (options.expirationTtl !== undefined) {
        expirationTtl = toNumber(options.expirationTtl, "expirationTtl");
      }
      if (options.metadata !== undefined && options.metadata !== null) {
        metadata = JSONStringify(options.metadata) ?? "";
      }
    }
    const bytes = valueBytes(value);
    if (bytes === null) {
      const rid = resourceForReadableStream(value);
      await op_ridge_kv_put_stream(this.#index, key, rid, expiration, expirationTtl, metadata);
    } else {
      if (bytes.length > MAX_VALUE_BYTES) {
        throw new RangeError(
          `KV value is ${bytes.length} bytes, more than the ${MAX_VALUE_BYTES}-byte (25 MiB) limit`,
        );
      }
      await op_ridge_kv_put(this.#index, key, bytes, expiration, expirationTtl, metadata);
    }
  }

  async #delete(key) {
    countOperation();
    await op_ridge_kv_delete(this.#index, `${key}`);
  }

  async #list(options = undefined) {
    countOperation();
    let prefix = "";
    let limit = NaN;
    let cursor = "";
    if (options !== undefined && options !== null) {
      if (typeof options !== "object") throw new TypeError("KV list() options must be an object");
      if (options.prefix !== undefined && options.prefix !== null) prefix = `${options.prefix}`;
      if (options.limit !== undefined) limit = toNumber(options.limit, "limit");
      if (options.cursor !== undefined && options.cursor !== null) cursor = `${options.cursor}`;
    }
    const { 0: keys, 1: listComplete, 2: next } = await op_ridge_kv_list(this.#index, prefix, limit, cursor);
    const result = {
      keys: ArrayPrototypeMap(keys, ({ 0: name, 1: expiration, 2: metadata }) => {
        const key = { name };
        if (expiration !== null) key.expiration = expiration;
        if (metadata !== null) key.metadata = JSONParse(metadata);
        return key;
      }),
      list_complete: listComplete,
      cacheStatus: null,
    };
    if (!listComplete) result.cursor = next;
    return result;
  }
}

// A KV namespace binding (`kv_namespaces`) is a KvNamespace.
registerBinding("kv", (index, name) => new KvNamespace(kConstruct, index, name));
