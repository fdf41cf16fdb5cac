// Ridge: where Cloudflare's runtime (workerd) and Deno's Web API crates
// disagree on something workers rely on, this makes Ridge answer as workerd
// does. Each change is checked by a case of the conformance corpus
// (fixtures/compat/); DIFFERENCES.md lists what is left different, and why.
import { core, primordials } from "ext:core/mod.js";
import { op_ridge_check_memory, op_ridge_hash_once } from "ext:core/ops";
import { internals } from "ext:ridge/globals/00_globals.js";

const {
  ArrayPrototypeIncludes,
  FunctionPrototypeCall,
  ObjectCreate,
  ObjectDefineProperty,
  ObjectSetPrototypeOf,
  ObjectValues,
  PromisePrototypeThen,
  ReflectConstruct,
  SafeWeakMap,
  StringPrototypeStartsWith,
  StringPrototypeToLowerCase,
  StringPrototypeToUpperCase,
  TypedArrayPrototypeSlice,
  JSONStringify,
  RangeError,
  TypeError,
} = primordials;
const { DOMException } = core.loadExtScript("ext:deno_web/01_dom_exception.js");
const DenoRequest = internals.request.Request;
const DenoResponse = internals.response.Response;

/**
 * Methods workerd knows and upper-cases whatever their case (the Fetch
 * standard upper-cases only six), so `fetch(url, { method: "patch" })`
 * sends PATCH, as on Cloudflare.
 */
const KNOWN_METHODS = [
  "ACL", "CHECKOUT", "CONNECT", "COPY", "DELETE", "GET", "HEAD", "LOCK", "M-SEARCH", "MERGE",
  "MKACTIVITY", "MKCALENDAR", "MKCOL", "MOVE", "NOTIFY", "OPTIONS", "PATCH", "POST", "PROPFIND",
  "PROPPATCH", "PURGE", "PUT", "REPORT", "SEARCH", "SUBSCRIBE", "TRACE", "UNLOCK", "UNSUBSCRIBE",
];

/**
 * `init` with workerd's readings of `method` (known methods upper-cased,
 * unknown ones refused) and `redirect` (any case), or `init` itself.
 */
export function requestInit(init) {
  if (init === null || typeof init !== "object") return init;
  let adjusted = null;
  const { method, redirect } = init;
  if (typeof method === "string") {
    const upper = StringPrototypeToUpperCase(method);
    if (!ArrayPrototypeIncludes(KNOWN_METHODS, upper)) {
      throw new TypeError(`Invalid HTTP method: ${JSONStringify(method)}`);
    }
    if (upper !== method) {
      adjusted = ObjectCreate(init);
      adjusted.method = upper;
    }
  }
  if (typeof redirect === "string" && StringPrototypeToLowerCase(redirect) !== redirect) {
    adjusted ??= ObjectCreate(init);
    adjusted.redirect = StringPrototypeToLowerCase(redirect);
  }
  return adjusted ?? init;
}

/** Statuses that cannot have a body; workerd takes "" as no body for them. */
const NULL_BODY_STATUSES = [101, 204, 205, 304];

function responseBody(body, init) {
  const status = init !== null && typeof init === "object" ? init.status : undefined;
  // 101 is for WebSocket upgrades only.
  if (status === 101 && !init.webSocket) {
    throw new RangeError("Responses may only have status 101 when they carry a webSocket");
  }
  return body === "" && ArrayPrototypeIncludes(NULL_BODY_STATUSES, status) ? null : body;
}

/**
 * Builds a Request: TRACE, which Deno forbids and workerd allows, is built
 * as a GET and then given its method.
 */
function constructRequest(newTarget, [input, init, ...rest]) {
  const adjusted = requestInit(init);
  if (adjusted?.method !== "TRACE") return ReflectConstruct(DenoRequest, [input, adjusted, ...rest], newTarget);
  const asGet = ObjectCreate(adjusted);
  asGet.method = "GET";
  const request = ReflectConstruct(DenoRequest, [input, asGet, ...rest], newTarget);
  internals.request.toInnerRequest(request).method = "TRACE";
  return request;
}

/**
 * A constructor that adjusts its arguments and builds the original class's
 * object: `instanceof`, subclassing, statics and internal brand checks all
 * keep working, and objects Deno's code creates are instances too.
 */
function adjustingConstructor(Original, name, construct, holder = globalThis) {
  const Constructor = {
    [name]: function (...args) {
      if (new.target === undefined) {
        throw new TypeError(`Failed to construct '${name}': please use the 'new' operator`);
      }
      return construct(new.target === Constructor ? Original : new.target, args);
    },
  }[name];
  Constructor.prototype = Original.prototype;
  ObjectDefineProperty(Original.prototype, "constructor", {
    value: Constructor,
    enumerable: false,
    configurable: true,
    writable: true,
  });
  ObjectSetPrototypeOf(Constructor, Original);
  ObjectDefineProperty(Constructor, "length", { value: Original.length });
  ObjectDefineProperty(holder, name, {
    value: Constructor,
    enumerable: false,
    configurable: true,
    writable: true,
  });
  return Constructor;
}

adjustingConstructor(DenoRequest, "Request", constructRequest);
/** The `webSocket` a 101 Response carries (see websocket/08_websocket.js). */
const responseWebSockets = new SafeWeakMap();

export function responseWebSocket(response) {
  return responseWebSockets.get(response) ?? null;
}

// `args` is the constructor's own rest array: adjusting it in place spares
// an array and an iteration on every Response. Exported for the extension's
// own 101 responses (a worker may replace the global).
export const Response = adjustingConstructor(DenoResponse, "Response", (newTarget, args) => {
  const init = args[1];
  args[0] = responseBody(args[0], init);
  const response = ReflectConstruct(DenoResponse, args, newTarget);
  if (init !== null && typeof init === "object" && init.webSocket !== undefined && init.webSocket !== null) {
    if (init.status !== 101) {
      throw new RangeError("A Response with a webSocket must have status 101");
    }
    responseWebSockets.set(response, init.webSocket);
  }
  return response;
});

ObjectDefineProperty(DenoResponse.prototype, "webSocket", {
  get() {
    return responseWebSocket(this);
  },
  enumerable: true,
  configurable: true,
});

/** Only the formats the Compression Streams standard names (Deno also takes "brotli"). */
const COMPRESSION_FORMATS = ["deflate", "deflate-raw", "gzip"];
for (const name of ["CompressionStream", "DecompressionStream"]) {
  const Original = globalThis[name];
  adjustingConstructor(Original, name, (newTarget, [format, ...rest]) => {
    if (!ArrayPrototypeIncludes(COMPRESSION_FORMATS, format)) {
      throw new TypeError(`Unsupported compression format: ${JSONStringify(`${format}`)}`);
    }
    const stream = ReflectConstruct(Original, [format, ...rest], newTarget);
    if (name === "DecompressionStream") boundDecompression(stream);
    return stream;
  });
}

// workerd's Request has a `fetcher` (the service binding it came through),
// null for requests a worker makes itself.
ObjectDefineProperty(DenoRequest.prototype, "fetcher", {
  get() {
    return null;
  },
  enumerable: true,
  configurable: true,
});

// ---- workerd's extensions to the Web APIs -----------------------------------

const {
  ArrayBufferIsView,
  ArrayBufferPrototype,
  ArrayPrototypePush,
  MathMin,
  ObjectPrototypeIsPrototypeOf,
  TypedArrayPrototypeGetBuffer,
  TypedArrayPrototypeGetByteLength,
  TypedArrayPrototypeGetByteOffset,
  TypedArrayPrototypeSet,
  Uint8Array,
} = primordials;
const { TransformStream, WritableStream } = internals.streams;

/** The bytes of a BufferSource (or of a string, as UTF-8). */
function bytesOf(data) {
  if (typeof data === "string") return new TextEncoder().encode(data);
  if (ArrayBufferIsView(data)) {
    return new Uint8Array(
      TypedArrayPrototypeGetBuffer(data),
      TypedArrayPrototypeGetByteOffset(data),
      TypedArrayPrototypeGetByteLength(data),
    );
  }
  if (ObjectPrototypeIsPrototypeOf(ArrayBufferPrototype, data)) return new Uint8Array(data);
  throw new TypeError("Expected an ArrayBuffer or ArrayBufferView");
}

const nonEnumerable = (value) => ({ value, enumerable: false, configurable: true, writable: true });

/** `crypto.subtle.timingSafeEqual(a, b)`: compares in time that depends only on the length. */
ObjectDefineProperty(globalThis.SubtleCrypto.prototype, "timingSafeEqual", nonEnumerable(
  function timingSafeEqual(a, b) {
    const left = bytesOf(a);
    const right = bytesOf(b);
    if (left.length !== right.length) {
      throw new TypeError("timingSafeEqual needs two buffers of the same length");
    }
    let difference = 0;
    for (let i = 0; i < left.length; i++) difference |= left[i] ^ right[i];
    return difference === 0;
  },
));

/** `new crypto.DigestStream(algorithm)`: a WritableStream whose `digest` resolves to the hash of what was written. */
class DigestStream extends WritableStream {
  constructor(algorithm) {
    const chunks = [];
    let length = 0;
    let resolve;
    let reject;
    const promise = new Promise((onResolve, onReject) => {
      resolve = onResolve;
      reject = onReject;
    });
    super({
      write(chunk) {
        const bytes = bytesOf(chunk);
        ArrayPrototypePush(chunks, new Uint8Array(bytes));
        length += bytes.length;
      },
      async close() {
        const all = new Uint8Array(length);
        let offset = 0;
        for (const chunk of chunks) {
          TypedArrayPrototypeSet(all, chunk, offset);
          offset += chunk.length;
        }
        try {
          resolve(await globalThis.crypto.subtle.digest(algorithm, all));
        } catch (error) {
          reject(error);
          throw error;
        }
      },
      abort(reason) {
        reject(reason);
      },
    });
    this.digest = promise;
  }
}
ObjectDefineProperty(globalThis.Crypto.prototype, "DigestStream", nonEnumerable(DigestStream));

/** A TransformStream that passes bytes through unchanged. */
class IdentityTransformStream extends TransformStream {
  constructor() {
    super({
      transform(chunk, controller) {
        controller.enqueue(bytesOf(chunk));
      },
    });
  }
}

/** An IdentityTransformStream that must carry exactly `length` bytes. */
class FixedLengthStream extends TransformStream {
  constructor(length) {
    const expected = Number(length);
    if (!(expected >= 0)) throw new TypeError("FixedLengthStream needs a non-negative length");
    let seen = 0;
    super({
      transform(chunk, controller) {
        const bytes = bytesOf(chunk);
        seen += bytes.length;
        if (seen > expected) throw new TypeError(`FixedLengthStream got more than ${expected} bytes`);
        controller.enqueue(bytes);
      },
      flush() {
        if (seen !== expected) throw new TypeError(`FixedLengthStream got ${seen} of ${expected} bytes`);
      },
    });
  }
}

ObjectDefineProperty(globalThis, "IdentityTransformStream", nonEnumerable(IdentityTransformStream));
ObjectDefineProperty(globalThis, "FixedLengthStream", nonEnumerable(FixedLengthStream));

/** `scheduler.wait(ms)`: a promise that resolves after `ms` milliseconds. */
ObjectDefineProperty(globalThis, "scheduler", nonEnumerable({
  wait(ms) {
    return new Promise((resolve) => globalThis.setTimeout(resolve, MathMin(ms, 2 ** 31 - 1)));
  },
}));

// ---- where Deno's Web APIs differ from workerd's -----------------------------

const {
  ArrayPrototypeFind,
  ArrayPrototypeMap,
  ObjectGetOwnPropertyDescriptor,
  ObjectGetOwnPropertySymbols,
  StringPrototypeToUpperCase: upperCase,
} = primordials;

// Headers iteration: deno_fetch drops an empty value when it joins repeated
// headers ("" then "b" gives "b"); workerd, like get() and the standard,
// gives ", b".
{
  const HeadersPrototype = globalThis.Headers.prototype;
  const iterable = ArrayPrototypeFind(
    ObjectGetOwnPropertySymbols(HeadersPrototype),
    (symbol) => symbol.description === "iterable headers",
  );
  const original = ObjectGetOwnPropertyDescriptor(HeadersPrototype, iterable).get;
  ObjectDefineProperty(HeadersPrototype, iterable, {
    get() {
      return ArrayPrototypeMap(
        original.call(this),
        (entry) => (entry[0] === "set-cookie" ? entry : [entry[0], this.get(entry[0])]),
      );
    },
    configurable: true,
  });
}

// structuredClone: only ArrayBuffers can be transferred (anything else is a
// TypeError, as in workerd).
{
  const clone = globalThis.structuredClone;
  ObjectDefineProperty(globalThis, "structuredClone", {
    value: function structuredClone(value, options = undefined) {
      const transfer = options?.transfer;
      if (transfer !== undefined && transfer !== null) {
        for (const item of transfer) {
          if (!ObjectPrototypeIsPrototypeOf(ArrayBufferPrototype, item)) {
            throw new TypeError("structuredClone can only transfer ArrayBuffers");
          }
        }
      }
      return arguments.length === 1 ? clone(value) : clone(value, options);
    },
    enumerable: true,
    configurable: true,
    writable: true,
  });
}

// SubtleCrypto: workerd also digests with MD5 (for legacy protocols), and
// refuses HMAC keys without a hash as a TypeError (a missing required
// member), where Deno answers DataError.
{
  const SubtleCryptoPrototype = globalThis.SubtleCrypto.prototype;
  const digest = SubtleCryptoPrototype.digest;
  const importKey = SubtleCryptoPrototype.importKey;
  const algorithmName = (algorithm) =>
    typeof algorithm === "string" ? algorithm : typeof algorithm?.name === "string" ? algorithm.name : "";
  ObjectDefineProperty(SubtleCryptoPrototype, "digest", nonEnumerable(
    function digest_(algorithm, data) {
      if (upperCase(algorithmName(algorithm)) === "MD5") {
        try {
          return Promise.resolve(TypedArrayPrototypeGetBuffer(op_ridge_hash_once("md5", bytesOf(data))));
        } catch (error) {
          return Promise.reject(error);
        }
      }
      return digest.call(this, algorithm, data);
    },
  ));
  ObjectDefineProperty(SubtleCryptoPrototype, "importKey", nonEnumerable(
    function importKey_(format, keyData, algorithm, extractable, usages) {
      if (upperCase(algorithmName(algorithm)) === "HMAC" && algorithm.hash === undefined) {
        return Promise.reject(new TypeError("HMAC keys need a hash: { name: \"HMAC\", hash: \"SHA-256\" }"));
      }
      return importKey.call(this, format, keyData, algorithm, extractable, usages);
    },
  ));
  // Work deno_crypto runs off the isolate thread is outside the CPU
  // clock: bound what one call can ask for, as Cloudflare does for PBKDF2
  // (100,000 iterations), and for RSA key generation, which takes seconds
  // past the usual sizes.
  const deriveBits = SubtleCryptoPrototype.deriveBits;
  const deriveKey = SubtleCryptoPrototype.deriveKey;
  const generateKey = SubtleCryptoPrototype.generateKey;
  const tooCostly = (algorithm) => {
    const name = upperCase(algorithmName(algorithm));
    if (name === "PBKDF2" && algorithm.iterations > MAX_PBKDF2_ITERATIONS) {
      return new DOMException(
        `Pbkdf2 failed: iteration counts above ${MAX_PBKDF2_ITERATIONS} are not supported (requested ${algorithm.iterations}).`,
        "NotSupportedError",
      );
    }
    if (StringPrototypeStartsWith(name, "RSA") && algorithm.modulusLength > MAX_RSA_MODULUS_BITS) {
      return new DOMException(
        `RSA keys longer than ${MAX_RSA_MODULUS_BITS} bits are not supported (requested ${algorithm.modulusLength}).`,
        "NotSupportedError",
      );
    }
    return null;
  };
  ObjectDefineProperty(SubtleCryptoPrototype, "deriveBits", nonEnumerable(
    function deriveBits_(algorithm, baseKey, length) {
      const refusal = tooCostly(algorithm);
      if (refusal !== null) return Promise.reject(refusal);
      return deriveBits.call(this, algorithm, baseKey, length);
    },
  ));
  ObjectDefineProperty(SubtleCryptoPrototype, "deriveKey", nonEnumerable(
    function deriveKey_(algorithm, baseKey, derivedKeyType, extractable, usages) {
      const refusal = tooCostly(algorithm);
      if (refusal !== null) return Promise.reject(refusal);
      return deriveKey.call(this, algorithm, baseKey, derivedKeyType, extractable, usages);
    },
  ));
  ObjectDefineProperty(SubtleCryptoPrototype, "generateKey", nonEnumerable(
    function generateKey_(algorithm, extractable, usages) {
      const refusal = tooCostly(algorithm);
      if (refusal !== null) return Promise.reject(refusal);
      return generateKey.call(this, algorithm, extractable, usages);
    },
  ));
  ObjectDefineProperty(SubtleCryptoPrototype.digest, "name", { value: "digest" });
  ObjectDefineProperty(SubtleCryptoPrototype.importKey, "name", { value: "importKey" });
  ObjectDefineProperty(SubtleCryptoPrototype.deriveBits, "name", { value: "deriveBits" });
  ObjectDefineProperty(SubtleCryptoPrototype.deriveKey, "name", { value: "deriveKey" });
  ObjectDefineProperty(SubtleCryptoPrototype.generateKey, "name", { value: "generateKey" });
}

/** Cloudflare's PBKDF2 iteration limit. */
const MAX_PBKDF2_ITERATIONS = 100000;
/** The largest RSA modulus a generated key may have: the usual sizes
 * (2048, 3072, 4096); past them generation takes seconds of CPU. */
const MAX_RSA_MODULUS_BITS = 4096;

// ---- memory outside the heap -------------------------------------------------

/** Input is decompressed this many bytes at a time. */
const DECOMPRESSION_SLICE = 16 * 1024;

/**
 * Deno inflates each written chunk in one native call, so a 1 MiB gzip bomb
 * became a 1 GiB buffer before any limit could look. Input is fed in
 * copied slices (at most about 16 MiB of output each, deflate's ratio
 * being about 1:1032), and the isolate's memory is checked after each
 * piece of output: the stream errors, and the isolate stops, once it is
 * over.
 */
function boundDecompression(stream) {
  const { readable, writable } = stream;
  const slicer = new TransformStream({
    transform(chunk, controller) {
      if (typeof chunk === "string") throw new TypeError("DecompressionStream takes BufferSource chunks, not strings");
      const bytes = bytesOf(chunk);
      // Copies: the writer may reuse its buffer once write() resolves.
      for (let offset = 0; offset < bytes.length; offset += DECOMPRESSION_SLICE) {
        controller.enqueue(TypedArrayPrototypeSlice(bytes, offset, offset + DECOMPRESSION_SLICE));
      }
    },
  });
  const checker = new TransformStream({
    transform(chunk, controller) {
      if (!op_ridge_check_memory(0, true)) {
        throw new RangeError("Decompression stopped: the worker exceeded its memory limit");
      }
      controller.enqueue(chunk);
    },
  });
  PromisePrototypeThen(slicer.readable.pipeTo(writable), undefined, () => {});
  ObjectDefineProperty(stream, "writable", { value: slicer.writable, enumerable: true, configurable: true });
  ObjectDefineProperty(stream, "readable", {
    value: readable.pipeThrough(checker),
    enumerable: true,
    configurable: true,
  });
}

// ---- Wasm memory -------------------------------------------------------------

/** Marks a `WebAssembly` namespace whose memories are already checked. */
const kMemoryBounded = Symbol("memoryBounded");

/** Bytes in a Wasm memory page. */
const WASM_PAGE = 65536;

/**
 * V8 keeps Wasm memories outside both the heap and the ArrayBuffer
 * allocator, so the memory limit would not see them: a memory is checked
 * (with the rest of the isolate's) when it is made, grown from JS, or
 * exported by a new instance, and refused with a RangeError, as V8 refuses
 * one it cannot allocate. Growth from inside Wasm code is not seen (see
 * README, "Security"). Called per isolate: V8 installs `WebAssembly` when
 * a context is restored from the snapshot.
 */
export function boundWasmMemory() {
  const WebAssembly = globalThis.WebAssembly;
  // Absent while a snapshot is made; wrapped once per context.
  if (WebAssembly === undefined || WebAssembly[kMemoryBounded]) return;
  WebAssembly[kMemoryBounded] = true;
  const OriginalMemory = WebAssembly.Memory;
  // A shared memory's buffer is a SharedArrayBuffer: read its length the
  // way both kinds answer.
  const memoryBytes = (memory) => memory.buffer.byteLength;
  const within = (bytes) => op_ridge_check_memory(bytes, false);
  const checkMemory = (memory) => {
    if (!within(memoryBytes(memory))) {
      throw new RangeError("WebAssembly.Memory: the worker exceeded its memory limit");
    }
    return memory;
  };
  adjustingConstructor(OriginalMemory, "Memory", (newTarget, args) => {
    const descriptor = args[0];
    const initial = descriptor?.initial ?? descriptor?.minimum;
    // Refused before V8 reserves and zeroes it.
    if ((typeof initial === "number" || typeof initial === "bigint") && !within(Number(initial) * WASM_PAGE)) {
      throw new RangeError("WebAssembly.Memory: the worker exceeded its memory limit");
    }
    return ReflectConstruct(OriginalMemory, args, newTarget);
  }, WebAssembly);
  const grow = OriginalMemory.prototype.grow;
  ObjectDefineProperty(OriginalMemory.prototype, "grow", nonEnumerable(function grow_(delta) {
    if (!within(memoryBytes(this) + Number(delta) * WASM_PAGE)) {
      throw new RangeError("WebAssembly.Memory.grow(): the worker exceeded its memory limit");
    }
    return FunctionPrototypeCall(grow, this, delta);
  }));
  ObjectDefineProperty(OriginalMemory.prototype.grow, "name", { value: "grow" });
  const checkExports = (instance) => {
    for (const value of ObjectValues(instance.exports)) {
      if (ObjectPrototypeIsPrototypeOf(OriginalMemory.prototype, value)) checkMemory(value);
    }
    return instance;
  };
  const OriginalInstance = WebAssembly.Instance;
  adjustingConstructor(OriginalInstance, "Instance", (newTarget, args) =>
    checkExports(ReflectConstruct(OriginalInstance, args, newTarget)), WebAssembly);
  const instantiate = WebAssembly.instantiate;
  ObjectDefineProperty(WebAssembly, "instantiate", nonEnumerable(function instantiate_(source, imports) {
    return PromisePrototypeThen(FunctionPrototypeCall(instantiate, this, source, imports), (result) => {
      checkExports(ObjectPrototypeIsPrototypeOf(OriginalInstance.prototype, result) ? result : result.instance);
      return result;
    });
  }));
  ObjectDefineProperty(WebAssembly.instantiate, "name", { value: "instantiate" });
}
