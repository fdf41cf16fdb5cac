// Ridge: installs the Web platform globals a Cloudflare-style worker expects.
//
// Every API here comes from Deno's extension crates (deno_webidl, deno_web,
// deno_crypto, deno_fetch); this file only loads their scripts and puts the
// WinterTC Minimum Common API on `globalThis`. It runs once, while build.rs
// creates the startup snapshot, so every isolate starts with it done.
import { core, internals as coreInternals, primordials } from "ext:core/mod.js";
import { op_ridge_log, op_ridge_now } from "ext:core/ops";

const {
  ArrayPrototypeFilter,
  ArrayPrototypeJoin,
  MapPrototypeGet,
  MathFloor,
  ReflectConstruct,
  ObjectDefineProperty,
  ObjectDefineProperties,
  RegExpPrototypeTest,
  SafeMap,
  StringPrototypeEndsWith,
  StringPrototypeSlice,
  StringPrototypeSplit,
} = primordials;

/** Stack frames of Ridge's and Deno's own JS, hidden from users. */
const INTERNAL_FRAME = /^\s+at .*\bext:/;

// deno_fetch reports spans to Deno's OpenTelemetry integration when it is
// enabled; Ridge keeps it disabled and provides the inert parts it reads.
coreInternals.__telemetry = {
  TRACING_ENABLED: false,
  PROPAGATORS: [],
  DID_NOT_ENTER: Symbol("did not enter"),
  builtinTracer() {},
  ContextManager: { active() {} },
  enterSpan() {},
  exitSpan() {},
};
coreInternals.__telemetryUtil = {
  updateSpanFromClientResponse() {},
  updateSpanFromError() {},
  updateSpanFromRequest() {},
};

const webidl = core.loadExtScript("ext:deno_webidl/00_webidl.js");
const url = core.loadExtScript("ext:deno_web/00_url.js");
const consoleNs = core.loadExtScript("ext:deno_web/01_console.js");
const { DOMException } = core.loadExtScript("ext:deno_web/01_dom_exception.js");
const urlPattern = core.loadExtScript("ext:deno_web/01_urlpattern.js");
const event = core.loadExtScript("ext:deno_web/02_event.js");
const timers = core.loadExtScript("ext:deno_web/02_timers.js");
// Called without a receiver: deno_web's timers reject any `this` but the global.
const { setTimeout: setTimeoutImpl, setInterval: setIntervalImpl } = timers;
const abortSignal = core.loadExtScript("ext:deno_web/03_abort_signal.js");
const globalInterfaces = core.loadExtScript("ext:deno_web/04_global_interfaces.js");
const base64 = core.loadExtScript("ext:deno_web/05_base64.js");
const streams = core.loadExtScript("ext:deno_web/06_streams.js");
const encoding = core.loadExtScript("ext:deno_web/08_text_encoding.js");
const file = core.loadExtScript("ext:deno_web/09_file.js");
const fileReader = core.loadExtScript("ext:deno_web/10_filereader.js");
const messagePort = core.loadExtScript("ext:deno_web/13_message_port.js");
const compression = core.loadExtScript("ext:deno_web/14_compression.js");
const performance = core.loadExtScript("ext:deno_web/15_performance.js");
const crypto = core.loadExtScript("ext:deno_crypto/00_crypto.js");
const headers = core.loadExtScript("ext:deno_fetch/20_headers.js");
const formData = core.loadExtScript("ext:deno_fetch/21_formdata.js");
const request = core.loadExtScript("ext:deno_fetch/23_request.js");
const response = core.loadExtScript("ext:deno_fetch/23_response.js");
const fetch = core.loadExtScript("ext:deno_fetch/26_fetch.js");

// Console output goes to Ridge's log, tagged with the worker and the request
// (see http/10_worker.js for the request tag carried in the async context).
const printToLog = (message, level) => {
  const text = StringPrototypeEndsWith(message, "\n") ? StringPrototypeSlice(message, 0, -1) : message;
  log(level, text);
};

/**
 * The id of the request the running code belongs to, or undefined outside
 * any request. The bridge sets it as the async context (a number);
 * AsyncLocalStorage (js/node/async_hooks.js) replaces the context with a
 * frame that keeps it under `REQUEST_ID`. Every per-request count and tag
 * reads it here, so a worker cannot shed it.
 */
export const REQUEST_ID = Symbol("ridge.requestId");
export function currentRequest() {
  const context = core.getAsyncContext();
  if (typeof context === "number") return context;
  return context instanceof SafeMap ? MapPrototypeGet(context, REQUEST_ID) : undefined;
}

/** Writes a log line tagged with the request being handled, if any. */
export function log(level, text) {
  op_ridge_log(level, text, currentRequest() ?? -1);
}

// An exception thrown by a timer callback is reported like an uncaught
// exception in Workers: logged, without stopping the isolate's event loop.
const reporting = (callback) => {
  // No code from strings: setTimeout("code") is refused, as on Cloudflare.
  if (typeof callback !== "function") {
    throw new TypeError("setTimeout and setInterval take a function, not a string of code");
  }
  return function (...args) {
    try {
      return callback.apply(this, args);
    } catch (error) {
      log(3, `Uncaught ${formatError(error)}`);
    }
  };
};

/**
 * An error as users should see it: message and stack, without Ridge's own
 * frames. Never throws: a thrown value's `stack`, `toString` or Proxy traps
 * are the worker's code, and the failure path that calls this must finish.
 */
export function formatError(error) {
  try {
    if (error !== null && typeof error === "object" && "stack" in error) {
      const lines = StringPrototypeSplit(String(error.stack ?? error), "\n");
      return ArrayPrototypeJoin(ArrayPrototypeFilter(lines, (line) => !RegExpPrototypeTest(INTERNAL_FRAME, line)), "\n");
    }
    return String(error);
  } catch {
    return `a thrown ${error === null ? "null" : typeof error} that cannot be described (describing it threw)`;
  }
}

const nonEnumerable = (value) => ({ value, enumerable: false, configurable: true, writable: true });
const enumerable = (value) => ({ value, enumerable: true, configurable: true, writable: true });
const readOnly = (value) => ({ value, enumerable: true, configurable: true, writable: false });

ObjectDefineProperties(globalThis, {
  // URL
  URL: nonEnumerable(url.URL),
  URLSearchParams: nonEnumerable(url.URLSearchParams),
  URLPattern: nonEnumerable(urlPattern.URLPattern),
  // DOM events and errors
  DOMException: nonEnumerable(DOMException),
  Event: nonEnumerable(event.Event),
  EventTarget: nonEnumerable(event.EventTarget),
  CustomEvent: nonEnumerable(event.CustomEvent),
  ErrorEvent: nonEnumerable(event.ErrorEvent),
  CloseEvent: nonEnumerable(event.CloseEvent),
  MessageEvent: nonEnumerable(event.MessageEvent),
  PromiseRejectionEvent: nonEnumerable(event.PromiseRejectionEvent),
  ProgressEvent: nonEnumerable(event.ProgressEvent),
  reportError: enumerable(event.reportError),
  AbortController: nonEnumerable(abortSignal.AbortController),
  AbortSignal: nonEnumerable(abortSignal.AbortSignal),
  // Timers and scheduling
  setTimeout: enumerable(function setTimeout(callback, delay = 0, ...args) {
    return setTimeoutImpl(reporting(callback), delay, ...args);
  }),
  setInterval: enumerable(function setInterval(callback, delay = 0, ...args) {
    return setIntervalImpl(reporting(callback), delay, ...args);
  }),
  clearTimeout: enumerable(timers.clearTimeout),
  clearInterval: enumerable(timers.clearInterval),
  // Encoding
  atob: enumerable(base64.atob),
  btoa: enumerable(base64.btoa),
  TextEncoder: nonEnumerable(encoding.TextEncoder),
  TextDecoder: nonEnumerable(encoding.TextDecoder),
  TextEncoderStream: nonEnumerable(encoding.TextEncoderStream),
  TextDecoderStream: nonEnumerable(encoding.TextDecoderStream),
  // Streams
  ReadableStream: nonEnumerable(streams.ReadableStream),
  ReadableStreamDefaultReader: nonEnumerable(streams.ReadableStreamDefaultReader),
  ReadableStreamBYOBReader: nonEnumerable(streams.ReadableStreamBYOBReader),
  ReadableStreamBYOBRequest: nonEnumerable(streams.ReadableStreamBYOBRequest),
  ReadableByteStreamController: nonEnumerable(streams.ReadableByteStreamController),
  ReadableStreamDefaultController: nonEnumerable(streams.ReadableStreamDefaultController),
  WritableStream: nonEnumerable(streams.WritableStream),
  WritableStreamDefaultWriter: nonEnumerable(streams.WritableStreamDefaultWriter),
  WritableStreamDefaultController: nonEnumerable(streams.WritableStreamDefaultController),
  TransformStream: nonEnumerable(streams.TransformStream),
  TransformStreamDefaultController: nonEnumerable(streams.TransformStreamDefaultController),
  ByteLengthQueuingStrategy: nonEnumerable(streams.ByteLengthQueuingStrategy),
  CountQueuingStrategy: nonEnumerable(streams.CountQueuingStrategy),
  CompressionStream: nonEnumerable(compression.CompressionStream),
  DecompressionStream: nonEnumerable(compression.DecompressionStream),
  // Files and messaging
  Blob: nonEnumerable(file.Blob),
  File: nonEnumerable(file.File),
  FileReader: nonEnumerable(fileReader.FileReader),
  MessageChannel: nonEnumerable(messagePort.MessageChannel),
  MessagePort: nonEnumerable(messagePort.MessagePort),
  structuredClone: enumerable(messagePort.structuredClone),
  // Performance: the object only, as on Cloudflare (no Performance* classes).
  performance: enumerable(performance.performance),
  // Crypto
  Crypto: nonEnumerable(crypto.Crypto),
  CryptoKey: nonEnumerable(crypto.CryptoKey),
  SubtleCrypto: nonEnumerable(crypto.SubtleCrypto),
  // Created on first use: it is backed by a native object that cannot live
  // in the snapshot.
  crypto: { get: () => crypto.crypto, enumerable: true, configurable: true },
  // Fetch
  fetch: enumerable(fetch.fetch),
  Request: nonEnumerable(request.Request),
  Response: nonEnumerable(response.Response),
  Headers: nonEnumerable(headers.Headers),
  FormData: nonEnumerable(formData.FormData),
  // Console and navigator
  console: nonEnumerable(new consoleNs.Console(printToLog)),
  navigator: readOnly(makeNavigator()),
  // The global scope refers to itself, as in a worker.
  self: { value: globalThis, enumerable: true, configurable: true, writable: true },
});

function makeNavigator() {
  // Cloudflare reports this user agent; libraries use it to detect a
  // Workers-compatible runtime, so Ridge reports the same.
  const navigator = {
    userAgent: "Cloudflare-Workers",
    hardwareConcurrency: 1,
    language: "en",
    /** Fire-and-forget POST, as in browsers and on Cloudflare. */
    sendBeacon(url, data = null) {
      // The global fetch: counted against the request's subrequests.
      globalThis.fetch(url, { method: "POST", body: data }).catch(() => {});
      return true;
    },
  };
  return primordials.ObjectFreeze(navigator);
}

// deno_crypto and deno_web raise DOMExceptions from Rust under these class
// names; without a builder they would reach JS as `undefined`.
for (
  const name of [
    "DataError", "IndexSizeError", "InvalidAccessError", "InvalidCharacterError", "InvalidStateError",
    "NotSupportedError", "OperationError", "QuotaExceededError", "SyntaxError", "TypeMismatchError",
  ]
) {
  core.registerErrorBuilder(`DOMException${name}`, (message) => new DOMException(message, name));
}
// Deno's I/O error classes, as plain Errors that keep their name.
for (const name of ["NotFound", "NotSupported", "TimedOut", "Http"]) {
  core.registerErrorBuilder(name, (message) => {
    const error = new Error(message);
    error.name = name;
    return error;
  });
}

core.setWasmStreamingCallback(fetch.handleWasmStreaming);

// As on Cloudflare, the clock stands still while JS runs and moves on between
// I/O events: Date.now(), new Date() and performance.now() read the time Ridge
// set when this turn of the event loop began. That makes timing attacks much
// harder and loops that wait for the clock finish (at the CPU limit).
const OriginalDate = globalThis.Date;
const frozenNow = () => op_ridge_now();
ObjectDefineProperty(OriginalDate, "now", {
  value: function now() {
    return MathFloor(frozenNow());
  },
  enumerable: false,
  configurable: true,
  writable: true,
});
const FrozenDate = new Proxy(OriginalDate, {
  construct(target, args, newTarget) {
    return ReflectConstruct(target, args.length === 0 ? [MathFloor(frozenNow())] : args, newTarget);
  },
  apply() {
    return new OriginalDate(MathFloor(frozenNow())).toString();
  },
});
ObjectDefineProperty(globalThis, "Date", nonEnumerable(FrozenDate));
let timeOrigin = 0;
ObjectDefineProperty(performance.Performance.prototype, "now", {
  value: function now() {
    return frozenNow() - timeOrigin;
  },
  enumerable: true,
  configurable: true,
  writable: true,
});
ObjectDefineProperty(performance.Performance.prototype, "timeOrigin", {
  get() {
    return timeOrigin;
  },
  enumerable: true,
  configurable: true,
});
/** Called when an isolate starts: performance.now() counts from here. */
export function resetTimeOrigin() {
  timeOrigin = frozenNow();
}

// Console output goes to a log, not a terminal: no ANSI colours.
consoleNs.setNoColorFns(() => true, () => true);

// ---- the binding table --------------------------------------------------------
// Each binding kind's JS file registers how to build its `env` object; the
// bridge builds a worker's `env` from its binding list (one `[kind, name,
// value]` per binding, ridge-runtime's isolate/runtime.rs) with these, passing each its
// index in the list, which is how its ops find it.
const bindingFactories = { __proto__: null, json: (_index, _name, value) => value };

/** Registers how bindings of `kind` are built: `factory(index, name, value)`. */
export function registerBinding(kind, factory) {
  bindingFactories[kind] = factory;
}

/** The `env` object of binding `index` of the worker's list. */
export function makeBinding(index, kind, name, value) {
  const factory = bindingFactories[kind];
  if (factory === undefined) throw new TypeError(`Ridge has no binding of kind ${kind} (binding ${name})`);
  return factory(index, name, value);
}

/**
 * A resource Rust reads `stream` from. A body Rust gave JavaScript (a
 * request's, a subrequest's response) is handed back as the resource behind
 * it, so that passing it on costs no JavaScript per chunk; the stream is
 * locked, as reading it would have. Any other stream is read by JavaScript
 * into a new resource.
 */
export function streamResource(stream, length = undefined) {
  const backing = streams.getReadableStreamResourceBacking(stream);
  if (backing && !stream.locked && !streams.isReadableStreamDisturbed(stream)) {
    streams.acquireReadableStreamDefaultReader(stream);
    return backing.rid;
  }
  return streams.resourceForReadableStream(stream, length);
}

// What the worker bridge (http/10_worker.js) needs from the extension scripts.
export const internals = {
  fetch,
  webidl,
  streams,
  request,
  response,
  headers,
  body: core.loadExtScript("ext:deno_fetch/22_body.js"),
  performance,
  event,
};

ObjectDefineProperty(globalThis, Symbol.toStringTag, {
  value: "ServiceWorkerGlobalScope",
  enumerable: false,
  configurable: true,
  writable: false,
});
