// Shared pieces of node:stream: the predicates that tell what kind of
// stream an object is and what state it is in (they accept any object
// shaped like a Node stream, not only ours), the streams' own errors, and
// small helpers.

import { describeReceived, nodeError, invalidArgType } from "../errors.js";

// Symbol.for so that copies of the streams code (readable-stream from npm)
// and this one can read each other's state.
export const kIsDestroyed = Symbol.for("nodejs.stream.destroyed");
const kIsErrored = Symbol.for("nodejs.stream.errored");
const kIsReadable = Symbol.for("nodejs.stream.readable");
const kIsWritable = Symbol.for("nodejs.stream.writable");
const kIsDisturbed = Symbol.for("nodejs.stream.disturbed");

/** Called on a state object once the stream's _construct has finished. */
export const kOnConstructed = Symbol("kOnConstructed");

export function nop() {}

/** Wraps `fn` so that only its first call goes through. */
export function once(fn) {
  let called = false;
  return function (...args) {
    if (called) return;
    called = true;
    return fn.apply(this, args);
  };
}

/** Promise.withResolvers(), which not every engine Ridge's modules are tested on has. */
export function withResolvers() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Folds a second error into a first one, as Node reports both. */
export function aggregateTwoErrors(inner, outer) {
  if (inner && outer && inner !== outer) {
    if (Array.isArray(outer.errors)) {
      outer.errors.push(inner);
      return outer;
    }
    const error = new AggregateError([outer, inner], outer.message);
    error.code = outer.code;
    return error;
  }
  return inner || outer;
}

// ---- errors -------------------------------------------------------------

const CHUNK_TYPES = ["string", "Buffer", "TypedArray", "DataView"];

export const streamErrors = {
  invalidChunk: (chunk) => invalidArgType("chunk", CHUNK_TYPES, chunk),
  notImplemented: (method) =>
    nodeError(Error, "ERR_METHOD_NOT_IMPLEMENTED", `The ${method} method is not implemented`),
  pushAfterEOF: () => nodeError(Error, "ERR_STREAM_PUSH_AFTER_EOF", "stream.push() after EOF"),
  unshiftAfterEnd: () =>
    nodeError(Error, "ERR_STREAM_UNSHIFT_AFTER_END_EVENT", "stream.unshift() after end event"),
  writeAfterEnd: () => nodeError(Error, "ERR_STREAM_WRITE_AFTER_END", "write after end"),
  destroyed: (method) =>
    nodeError(Error, "ERR_STREAM_DESTROYED", `Cannot call ${method} after a stream was destroyed`),
  alreadyFinished: (method) =>
    nodeError(Error, "ERR_STREAM_ALREADY_FINISHED", `Cannot call ${method} after a stream was finished`),
  nullValues: () => nodeError(TypeError, "ERR_STREAM_NULL_VALUES", "May not write null values to stream"),
  cannotPipe: () => nodeError(Error, "ERR_STREAM_CANNOT_PIPE", "Cannot pipe, not readable"),
  multipleCallback: () => nodeError(Error, "ERR_MULTIPLE_CALLBACK", "Callback called multiple times"),
  // workerd makes this one a TypeError, where Node has a plain Error.
  prematureClose: () => nodeError(TypeError, "ERR_STREAM_PREMATURE_CLOSE", "Premature close"),
  // For the web bridges' "stream.Readable"-like types (worded as workerd words them).
  notAStream: (name, type, value) => nodeError(TypeError, "ERR_INVALID_ARG_TYPE",
    `The "${name}" argument must be an ${type}.${describeReceived(value)}`),
  // workerd's web streams do not expose what Node's use to interoperate.
  webInterop: (what) => nodeError(TypeError, "ERR_WEB_STREAM_INTEROP_UNSUPPORTED",
    `${what}() is not supported for web streams by the streams implementation in use`),
  invalidReturnValue: (expected, name, value) =>
    nodeError(TypeError, "ERR_INVALID_RETURN_VALUE",
      `Expected ${expected} to be returned from the "${name}" function but got ${describeType(value)}.`),
};

function describeType(value) {
  if (value == null) return String(value);
  if (typeof value === "function") return `function ${value.name}`;
  if (typeof value === "object") {
    return value.constructor?.name ? `an instance of ${value.constructor.name}` : "an object";
  }
  let shown = typeof value === "string" ? `'${value}'` : String(value);
  if (shown.length > 28) shown = `${shown.slice(0, 25)}...`;
  return `type ${typeof value} (${shown})`;
}

// ---- what kind of stream ------------------------------------------------

/** A Node-style readable: has pipe/on, and is not a Writable (which has pipe too). */
export function isReadableNodeStream(obj, strict = false) {
  return !!(
    obj &&
    typeof obj.pipe === "function" &&
    typeof obj.on === "function" &&
    (!strict || (typeof obj.pause === "function" && typeof obj.resume === "function")) &&
    (!obj._writableState || obj._readableState?.readable !== false) &&
    (!obj._writableState || obj._readableState)
  );
}

export function isWritableNodeStream(obj) {
  return !!(
    obj &&
    typeof obj.write === "function" &&
    typeof obj.on === "function" &&
    (!obj._readableState || obj._writableState?.writable !== false)
  );
}

export function isDuplexNodeStream(obj) {
  return !!(
    obj &&
    typeof obj.pipe === "function" &&
    obj._readableState &&
    typeof obj.on === "function" &&
    typeof obj.write === "function"
  );
}

export function isNodeStream(obj) {
  return !!(
    obj &&
    (obj._readableState != null ||
      obj._writableState != null ||
      (typeof obj.write === "function" && typeof obj.on === "function") ||
      (typeof obj.pipe === "function" && typeof obj.on === "function"))
  );
}

export function isReadableStream(obj) {
  return !!(obj && !isNodeStream(obj) && typeof obj.pipeThrough === "function" &&
    typeof obj.getReader === "function" && typeof obj.cancel === "function");
}

export function isWritableStream(obj) {
  return !!(obj && !isNodeStream(obj) && typeof obj.getWriter === "function" &&
    typeof obj.abort === "function");
}

export function isTransformStream(obj) {
  return !!(obj && !isNodeStream(obj) && typeof obj.readable === "object" &&
    typeof obj.writable === "object");
}

export function isWebStream(obj) {
  return isReadableStream(obj) || isWritableStream(obj) || isTransformStream(obj);
}

/** `isAsync` true/false asks for that kind only; undefined accepts both. */
export function isIterable(obj, isAsync) {
  if (obj == null) return false;
  if (isAsync === true) return typeof obj[Symbol.asyncIterator] === "function";
  if (isAsync === false) return typeof obj[Symbol.iterator] === "function";
  return typeof obj[Symbol.asyncIterator] === "function" ||
    typeof obj[Symbol.iterator] === "function";
}

// ---- what state it is in --------------------------------------------------

export function isDestroyed(stream) {
  if (!isNodeStream(stream)) return null;
  const state = stream._writableState || stream._readableState;
  return !!(stream.destroyed || stream[kIsDestroyed] || state?.destroyed);
}

/** end() has been called. */
export function isWritableEnded(stream) {
  if (!isWritableNodeStream(stream)) return null;
  if (stream.writableEnded === true) return true;
  const state = stream._writableState;
  if (state?.errored) return false;
  if (typeof state?.ended !== "boolean") return null;
  return state.ended;
}

/** 'finish' has been emitted (or, not strict, is sure to come). */
export function isWritableFinished(stream, strict) {
  if (!isWritableNodeStream(stream)) return null;
  if (stream.writableFinished === true) return true;
  const state = stream._writableState;
  if (state?.errored) return false;
  if (typeof state?.finished !== "boolean") return null;
  return !!(state.finished || (strict === false && state.ended === true && state.length === 0));
}

/** 'end' has been emitted (or, not strict, is sure to come). */
export function isReadableFinished(stream, strict) {
  if (!isReadableNodeStream(stream)) return null;
  const state = stream._readableState;
  if (state?.errored) return false;
  if (typeof state?.endEmitted !== "boolean") return null;
  return !!(state.endEmitted || (strict === false && state.ended === true && state.length === 0));
}

export function isReadable(stream) {
  if (stream && stream[kIsReadable] != null) return stream[kIsReadable];
  if (typeof stream?.readable !== "boolean") return null;
  if (isDestroyed(stream)) return false;
  return isReadableNodeStream(stream) && stream.readable && !isReadableFinished(stream);
}

export function isWritable(stream) {
  if (stream && stream[kIsWritable] != null) return stream[kIsWritable];
  if (typeof stream?.writable !== "boolean") return null;
  if (isDestroyed(stream)) return false;
  return isWritableNodeStream(stream) && stream.writable && !isWritableEnded(stream);
}

export function isFinished(stream, options) {
  if (!isNodeStream(stream)) return null;
  if (isDestroyed(stream)) return true;
  if (options?.readable !== false && isReadable(stream)) return false;
  if (options?.writable !== false && isWritable(stream)) return false;
  return true;
}

export function isWritableErrored(stream) {
  if (!isNodeStream(stream)) return null;
  if (stream.writableErrored) return stream.writableErrored;
  return stream._writableState?.errored ?? null;
}

export function isReadableErrored(stream) {
  if (!isNodeStream(stream)) return null;
  if (stream.readableErrored) return stream.readableErrored;
  return stream._readableState?.errored ?? null;
}

export function isClosed(stream) {
  if (!isNodeStream(stream)) return null;
  if (typeof stream.closed === "boolean") return stream.closed;
  const w = stream._writableState;
  const r = stream._readableState;
  if (typeof w?.closed === "boolean" || typeof r?.closed === "boolean") {
    return (w?.closed || r?.closed) ?? null;
  }
  return null;
}

/** Whether the stream will emit 'close' by itself once it is done. */
export function willEmitClose(stream) {
  if (!isNodeStream(stream)) return null;
  const state = stream._writableState || stream._readableState;
  return !!(state?.autoDestroy && state.emitClose && state.closed === false);
}

/** Has anything been read from it, or was it aborted? */
export function isDisturbed(stream) {
  return !!(stream &&
    (stream[kIsDisturbed] ?? (stream.readableDidRead || stream.readableAborted)));
}

export function isErrored(stream) {
  return !!(stream &&
    (stream[kIsErrored] ??
      stream.readableErrored ??
      stream.writableErrored ??
      stream._readableState?.errorEmitted ??
      stream._writableState?.errorEmitted ??
      stream._readableState?.errored ??
      stream._writableState?.errored));
}
