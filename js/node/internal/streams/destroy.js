// Tearing streams down and building them up: destroy() shared by Readable,
// Writable and Duplex ('error' then 'close', each on a later tick),
// errorOrDestroy() for errors the stream itself runs into, the asynchronous
// _construct() step, and destroyer() for destroying any stream-like object.

import { nextTick } from "../../process.js";
import { AbortError } from "../errors.js";
import {
  kIsDestroyed, isDestroyed, isFinished, streamErrors, aggregateTwoErrors,
} from "./utils.js";

const kConstruct = Symbol("kConstruct");
const kDestroy = Symbol("kDestroy");

/** Records the first error on each side's state. */
function recordError(error, w, r) {
  if (!error) return;
  if (w && !w.errored) w.errored = error;
  if (r && !r.errored) r.errored = error;
}

/** stream.destroy([error], [callback]) for Readable and Duplex (Writable wraps it). */
export function destroy(error, callback) {
  const r = this._readableState;
  const w = this._writableState;
  if (w?.destroyed || r?.destroyed) {
    if (typeof callback === "function") callback();
    return this;
  }

  recordError(error, w, r);
  if (w) w.destroyed = true;
  if (r) r.destroyed = true;

  // Still constructing: _destroy waits for _construct to finish.
  if (!(w || r).constructed) {
    this.once(kDestroy, function (constructError) {
      runDestroy(this, aggregateTwoErrors(constructError, error), callback);
    });
  } else {
    runDestroy(this, error, callback);
  }
  return this;
}

function runDestroy(stream, error, callback) {
  let called = false;
  function onDestroyed(destroyError) {
    if (called) return;
    called = true;
    const r = stream._readableState;
    const w = stream._writableState;
    recordError(destroyError, w, r);
    if (w) w.closed = true;
    if (r) r.closed = true;
    if (typeof callback === "function") callback(destroyError);
    if (destroyError) nextTick(emitErrorAndClose, stream, destroyError);
    else nextTick(emitClose, stream);
  }
  try {
    stream._destroy(error || null, onDestroyed);
  } catch (thrown) {
    onDestroyed(thrown);
  }
}

function emitErrorAndClose(stream, error) {
  emitError(stream, error);
  emitClose(stream);
}

function emitClose(stream) {
  const r = stream._readableState;
  const w = stream._writableState;
  if (w) w.closeEmitted = true;
  if (r) r.closeEmitted = true;
  if (w?.emitClose || r?.emitClose) stream.emit("close");
}

/** Emits 'error' once per stream, whichever side runs into it first. */
function emitError(stream, error) {
  const r = stream._readableState;
  const w = stream._writableState;
  if (w?.errorEmitted || r?.errorEmitted) return;
  if (w) w.errorEmitted = true;
  if (r) r.errorEmitted = true;
  stream.emit("error", error);
}

/** stream._undestroy(): back to a fresh state (used by code that reuses streams). */
export function undestroy() {
  const r = this._readableState;
  const w = this._writableState;
  if (r) {
    r.constructed = true;
    r.closed = false;
    r.closeEmitted = false;
    r.destroyed = false;
    r.errored = null;
    r.errorEmitted = false;
    r.reading = false;
    r.ended = r.readable === false;
    r.endEmitted = r.readable === false;
  }
  if (w) {
    w.constructed = true;
    w.destroyed = false;
    w.closed = false;
    w.closeEmitted = false;
    w.errored = null;
    w.errorEmitted = false;
    w.finalCalled = false;
    w.prefinished = false;
    w.ended = w.writable === false;
    w.ending = w.writable === false;
    w.finished = w.writable === false;
  }
}

/**
 * An error the stream ran into by itself (a bad push, write after end...):
 * destroys it when autoDestroy is on, else only records and emits it.
 */
export function errorOrDestroy(stream, error, sync = false) {
  const r = stream._readableState;
  const w = stream._writableState;
  if (w?.destroyed || r?.destroyed) return;
  if (r?.autoDestroy || w?.autoDestroy) {
    stream.destroy(error);
  } else if (error) {
    if (w && !w.errored) w.errored = error;
    if (r && !r.errored) r.errored = error;
    if (sync) nextTick(emitError, stream, error);
    else emitError(stream, error);
  }
}

/**
 * Runs stream._construct(callback) on the next tick; reads, writes and
 * destroy wait for it (their states say constructed: false until then).
 * `onConstructed` runs once it succeeded.
 */
export function construct(stream, onConstructed) {
  if (typeof stream._construct !== "function") return;
  const r = stream._readableState;
  const w = stream._writableState;
  if (r) r.constructed = false;
  if (w) w.constructed = false;
  stream.once(kConstruct, onConstructed);
  if (stream.listenerCount(kConstruct) > 1) return; // Already under way.
  nextTick(runConstruct, stream);
}

function runConstruct(stream) {
  let called = false;
  function onConstructed(error) {
    if (called) {
      errorOrDestroy(stream, error ?? streamErrors.multipleCallback());
      return;
    }
    called = true;
    const r = stream._readableState;
    const w = stream._writableState;
    if (r) r.constructed = true;
    if (w) w.constructed = true;
    if ((w || r)?.destroyed) stream.emit(kDestroy, error);
    else if (error) errorOrDestroy(stream, error, true);
    else stream.emit(kConstruct);
  }
  try {
    stream._construct((error) => nextTick(onConstructed, error));
  } catch (error) {
    nextTick(onConstructed, error);
  }
}

/**
 * Destroys any stream-like object: a Node stream (with an AbortError if it
 * had not finished), or an old-style emitter with close() or nothing.
 */
export function destroyer(stream, error) {
  if (!stream || isDestroyed(stream)) return;
  if (!error && !isFinished(stream)) error = new AbortError();
  if (typeof stream.setHeader === "function" && typeof stream.abort === "function") {
    stream.abort(); // An HTTP client request.
  } else if (typeof stream.destroy === "function") {
    stream.destroy(error);
  } else if (typeof stream.close === "function") {
    stream.close();
  } else if (error) {
    nextTick(() => {
      stream.emit("error", error);
      nextTick(() => stream.emit("close"));
    });
  } else {
    nextTick(() => stream.emit("close"));
  }
  if (!stream.destroyed) stream[kIsDestroyed] = true;
}
