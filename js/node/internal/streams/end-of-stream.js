// stream.finished (eos): calls back once a stream is done - ended, finished,
// errored or closed early - working from its events and, for streams that
// are already done, from its state.

import { nextTick } from "../../process.js";
import { AbortError, invalidArgType } from "../errors.js";
import { validateAbortSignal, validateBoolean, validateFunction, validateObject } from "../validators.js";
import {
  nop, once, streamErrors, isClosed, isReadable, isReadableNodeStream, isReadableStream,
  isReadableFinished, isReadableErrored, isWritable, isWritableNodeStream, isWritableStream,
  isWritableFinished, isWritableErrored, isNodeStream, willEmitClose as streamWillEmitClose,
} from "./utils.js";

function isRequest(stream) {
  return typeof stream.setHeader === "function" && typeof stream.abort === "function";
}

/**
 * eos(stream, [options], callback): options.readable / options.writable
 * choose the sides to wait for (default: those the stream has),
 * options.error false ignores 'error' events, options.signal aborts the
 * wait. Returns a function that removes the listeners.
 */
export function eos(stream, options, callback) {
  if (arguments.length === 2) {
    callback = options;
    options = {};
  } else if (options == null) {
    options = {};
  } else {
    validateObject(options, "options");
  }
  validateFunction(callback, "callback");
  validateAbortSignal(options.signal, "options.signal");

  callback = once(callback);

  if (isReadableStream(stream) || isWritableStream(stream)) throw streamErrors.webInterop("finished");
  if (!isNodeStream(stream)) {
    throw invalidArgType("stream", ["ReadableStream", "WritableStream", "Stream"], stream);
  }

  const readable = options.readable ?? isReadableNodeStream(stream);
  const writable = options.writable ?? isWritableNodeStream(stream);
  const wState = stream._writableState;
  const rState = stream._readableState;

  // A stream that emits 'close' when done is waited for until 'close'.
  let willEmitClose = streamWillEmitClose(stream) &&
    isReadableNodeStream(stream) === readable && isWritableNodeStream(stream) === writable;

  let writableFinished = isWritableFinished(stream, false);
  const onfinish = () => {
    writableFinished = true;
    if (stream.destroyed) willEmitClose = false;
    if (willEmitClose && (!stream.readable || readable)) return;
    if (!readable || readableFinished) callback.call(stream);
  };

  let readableFinished = isReadableFinished(stream, false);
  const onend = () => {
    readableFinished = true;
    if (stream.destroyed) willEmitClose = false;
    if (willEmitClose && (!stream.writable || writable)) return;
    if (!writable || writableFinished) callback.call(stream);
  };

  const onerror = (error) => callback.call(stream, error);

  // Legacy writables without state signal the end by turning unwritable.
  const onlegacyfinish = () => {
    if (!stream.writable) onfinish();
  };

  let closed = isClosed(stream);
  const onclose = () => {
    closed = true;
    const errored = isWritableErrored(stream) || isReadableErrored(stream);
    if (errored && typeof errored !== "boolean") return callback.call(stream, errored);
    if (readable && !readableFinished && isReadableNodeStream(stream, true) &&
        !isReadableFinished(stream, false)) {
      return callback.call(stream, streamErrors.prematureClose());
    }
    if (writable && !writableFinished && !isWritableFinished(stream, false)) {
      return callback.call(stream, streamErrors.prematureClose());
    }
    callback.call(stream);
  };

  // For a stream found already done: report its error, if any, or success.
  const onclosed = () => {
    closed = true;
    const errored = isWritableErrored(stream) || isReadableErrored(stream);
    if (errored && typeof errored !== "boolean") return callback.call(stream, errored);
    callback.call(stream);
  };

  const req = stream.req;
  const onrequest = () => req?.on("finish", onfinish);

  if (isRequest(stream)) {
    stream.on("complete", onfinish);
    if (!willEmitClose) stream.on("abort", onclose);
    if (stream.req) onrequest();
    else stream.on("request", onrequest);
  } else if (writable && !wState) {
    stream.on("end", onlegacyfinish);
    stream.on("close", onlegacyfinish);
  }
  if (!willEmitClose && typeof stream.aborted === "boolean") stream.on("aborted", onclose);

  stream.on("end", onend);
  stream.on("finish", onfinish);
  if (options.error !== false) stream.on("error", onerror);
  stream.on("close", onclose);

  if (closed) {
    nextTick(onclose);
  } else if (wState?.errorEmitted || rState?.errorEmitted) {
    if (!willEmitClose) nextTick(onclosed);
  } else if (!readable && (!willEmitClose || isReadable(stream)) &&
      (writableFinished || isWritable(stream) === false) &&
      (wState == null || wState.pendingcb === undefined || wState.pendingcb === 0)) {
    nextTick(onclosed);
  } else if (!writable && (!willEmitClose || isWritable(stream)) &&
      (readableFinished || isReadable(stream) === false)) {
    nextTick(onclosed);
  } else if (rState && stream.req && stream.aborted) {
    nextTick(onclosed);
  }

  const cleanup = () => {
    callback = nop;
    stream.removeListener("aborted", onclose);
    stream.removeListener("complete", onfinish);
    stream.removeListener("abort", onclose);
    stream.removeListener("request", onrequest);
    req?.removeListener("finish", onfinish);
    stream.removeListener("end", onlegacyfinish);
    stream.removeListener("close", onlegacyfinish);
    stream.removeListener("finish", onfinish);
    stream.removeListener("end", onend);
    stream.removeListener("error", onerror);
    stream.removeListener("close", onclose);
  };

  const signal = options.signal;
  if (signal && !closed) {
    const abort = () => {
      const pending = callback;
      cleanup();
      pending.call(stream, new AbortError(undefined, { cause: signal.reason }));
    };
    if (signal.aborted) {
      nextTick(abort);
    } else {
      const removeAbortListener = addAbortListener(signal, abort);
      const original = callback;
      callback = once(function (...args) {
        removeAbortListener();
        original.apply(stream, args);
      });
    }
  }

  return cleanup;
}

/** Listens for `signal`'s abort; returns what removes the listener. */
export function addAbortListener(signal, listener) {
  signal.addEventListener("abort", listener, { once: true });
  return () => signal.removeEventListener("abort", listener);
}

/** finished(stream, [options]) as a promise (stream/promises). */
export function finished(stream, options = {}) {
  let autoCleanup = false;
  if (options.cleanup) {
    validateBoolean(options.cleanup, "cleanup");
    autoCleanup = options.cleanup;
  }
  return new Promise((resolve, reject) => {
    const cleanup = eos(stream, options, (error) => {
      if (autoCleanup) cleanup();
      if (error) reject(error);
      else resolve();
    });
  });
}

eos.finished = finished;
