// Readable: the buffer between a source (_read() pushing chunks) and its
// consumers ('data' in flowing mode, 'readable' + read() in paused mode,
// pipe(), async iteration), with highWaterMark backpressure, string
// decoding and the end / close / error sequence. Also Readable.from,
// wrap, fromWeb/toWeb and the iterator-style operators.
//
// When things happen is part of the contract (libraries depend on the
// order of events), so each nextTick below is where Node has one.

import { Buffer } from "../../buffer.js";
import { StringDecoder } from "../../string_decoder.js";
import { nextTick } from "../../process.js";
import { EventEmitter } from "../../events.js";
import { AbortError, invalidArgType, outOfRange } from "../errors.js";
import { validateObject } from "../validators.js";
import { Stream } from "./legacy.js";
import { getDefaultHighWaterMark, getHighWaterMark } from "./state.js";
import { construct, destroy, destroyer, errorOrDestroy, undestroy } from "./destroy.js";
import { eos } from "./end-of-stream.js";
import { addAbortSignal } from "./add-abort-signal.js";
import { kOnConstructed, nop, aggregateTwoErrors, streamErrors } from "./utils.js";
import * as operators from "./operators.js";
import { newReadableStreamFromStreamReadable, newStreamReadableFromReadableStream } from "./web.js";

export function ReadableState(options, stream, isDuplex) {
  // Object mode: read(n) ignores n, every chunk counts as 1 for length.
  this.objectMode = !!(options?.objectMode || (isDuplex && options?.readableObjectMode));
  // 0 is valid: never call _read() ahead of a read().
  this.highWaterMark = options
    ? getHighWaterMark(this.objectMode, options, "readableHighWaterMark", isDuplex)
    : getDefaultHighWaterMark(false);

  // Chunks are consumed from bufferIndex on, so reading does not shift the array.
  this.buffer = [];
  this.bufferIndex = 0;
  this.length = 0;
  this.pipes = [];
  // null: no mode chosen yet; true: flowing; false: paused by the user.
  this.flowing = null;
  this.ended = false; // push(null) was called.
  this.endEmitted = false;
  this.reading = false; // _read() called and not pushed yet.
  this.constructed = true;
  // Inside a _read() call: pushes made now must not emit synchronously.
  this.sync = true;
  this.needReadable = false;
  this.emittedReadable = false;
  this.readableListening = false;
  this.resumeScheduled = false;
  // null until pause()/resume() is first called.
  this.paused = null;
  this.dataListening = false;
  this.errorEmitted = false;
  this.emitClose = options?.emitClose !== false;
  this.autoDestroy = options?.autoDestroy !== false;
  this.destroyed = false;
  this.errored = null;
  this.closed = false;
  this.closeEmitted = false;
  const defaultEncoding = options?.defaultEncoding;
  this.defaultEncoding = defaultEncoding == null || defaultEncoding === "utf-8" ? "utf8" : defaultEncoding;
  // The pipe destination(s) that asked to wait for 'drain': one stream,
  // or a Set when piping to several.
  this.awaitDrainWriters = null;
  this.multiAwaitDrain = false;
  this.readingMore = false;
  this.dataEmitted = false;
  this.decoder = null;
  this.encoding = null;
  if (options?.encoding) {
    this.decoder = new StringDecoder(options.encoding);
    this.encoding = options.encoding;
  }
}

Object.defineProperty(ReadableState.prototype, "pipesCount", {
  get() {
    return this.pipes.length;
  },
});

ReadableState.prototype[kOnConstructed] = function (stream) {
  if (this.needReadable) maybeReadMore(stream, this);
};

// A function constructor: subclasses written for old Node call Readable.call(this).
export function Readable(options) {
  if (!(this instanceof Readable)) return new Readable(options);
  // Duplex (which inherits from Readable) sets up its own states.
  this._readableState = new ReadableState(options, this, false);
  if (options) {
    if (typeof options.read === "function") this._read = options.read;
    if (typeof options.destroy === "function") this._destroy = options.destroy;
    if (typeof options.construct === "function") this._construct = options.construct;
    if (options.signal) addAbortSignal(options.signal, this);
  }
  Stream.call(this, options);
  if (this._construct != null) {
    construct(this, () => this._readableState[kOnConstructed](this));
  }
}

Object.setPrototypeOf(Readable.prototype, Stream.prototype);
Object.setPrototypeOf(Readable, Stream);
Readable.ReadableState = ReadableState;

Readable.prototype.destroy = destroy;
Readable.prototype._undestroy = undestroy;
Readable.prototype._destroy = function (error, callback) {
  if (callback) callback(error);
};

Readable.prototype[EventEmitter.captureRejectionSymbol] = function (error) {
  this.destroy(error);
};

Readable.prototype[Symbol.asyncDispose] = async function () {
  let error;
  if (!this.destroyed) {
    error = this.readableEnded ? null : new AbortError();
    this.destroy(error);
  }
  await new Promise((resolve, reject) =>
    eos(this, (e) => (e && e !== error ? reject(e) : resolve(null))));
};

// ---- filling the buffer ---------------------------------------------------

/** Adds a chunk at the end; false once the buffer is full (stop pushing). */
Readable.prototype.push = function (chunk, encoding) {
  return addChunk(this, chunk, encoding, false);
};

/** Puts a chunk back at the front, for data read() returned but the consumer could not use. */
Readable.prototype.unshift = function (chunk, encoding) {
  return addChunk(this, chunk, encoding, true);
};

function addChunk(stream, chunk, encoding, toFront) {
  const state = stream._readableState;
  if (chunk === null) {
    state.reading = false;
    onEofChunk(stream, state);
    return false;
  }

  if (!state.objectMode) {
    if (typeof chunk === "string") {
      encoding ||= state.defaultEncoding;
      if (state.encoding !== encoding) {
        // Keep strings in the decoder's encoding, or else as bytes.
        chunk = toFront && state.encoding
          ? Buffer.from(chunk, encoding).toString(state.encoding)
          : Buffer.from(chunk, encoding);
        encoding = "";
      }
    } else if (chunk instanceof Buffer) {
      encoding = "";
    } else if (ArrayBuffer.isView(chunk)) {
      chunk = Stream._uint8ArrayToBuffer(chunk);
      encoding = "";
    } else if (chunk !== undefined) {
      errorOrDestroy(stream, streamErrors.invalidChunk(chunk));
      return false;
    }
    if (!chunk || chunk.length <= 0) {
      // An empty push still ends the pending _read().
      if (!toFront) {
        state.reading = false;
        maybeReadMore(stream, state);
      }
      return canPushMore(state);
    }
  }

  if (toFront) {
    if (state.endEmitted) errorOrDestroy(stream, streamErrors.unshiftAfterEnd());
    else if (state.destroyed || state.errored) return false;
    else bufferChunk(stream, state, chunk, true);
    return canPushMore(state);
  }

  if (state.ended) {
    errorOrDestroy(stream, streamErrors.pushAfterEOF());
    return false;
  }
  if (state.destroyed || state.errored) return false;
  state.reading = false;
  if (state.decoder && !encoding) {
    chunk = state.decoder.write(chunk);
    if (!state.objectMode && chunk.length === 0) {
      maybeReadMore(stream, state);
      return canPushMore(state);
    }
  }
  bufferChunk(stream, state, chunk, false);
  return canPushMore(state);
}

/** Below the high-water mark (or empty, which lets hwm 0 work) and not ended. */
function canPushMore(state) {
  return !state.ended && (state.length < state.highWaterMark || state.length === 0);
}

function bufferChunk(stream, state, chunk, toFront) {
  if (state.flowing && state.length === 0 && !state.sync && state.dataListening) {
    // Flowing with nothing queued: hand the chunk straight to 'data'.
    if (state.multiAwaitDrain) state.awaitDrainWriters.clear();
    else state.awaitDrainWriters = null;
    state.dataEmitted = true;
    stream.emit("data", chunk);
  } else {
    state.length += state.objectMode ? 1 : chunk.length;
    if (!toFront) state.buffer.push(chunk);
    else if (state.bufferIndex > 0) state.buffer[--state.bufferIndex] = chunk;
    else state.buffer.unshift(chunk);
    if (state.needReadable) emitReadable(stream);
  }
  maybeReadMore(stream, state);
}

function onEofChunk(stream, state) {
  if (state.ended) return;
  const rest = state.decoder?.end();
  if (rest?.length) {
    state.buffer.push(rest);
    state.length += state.objectMode ? 1 : rest.length;
  }
  state.ended = true;
  if (state.sync) {
    // Inside _read(): wait a tick, or flow() in the caller's read() would emit now.
    emitReadable(stream);
  } else {
    // Asynchronous EOF: 'readable' right now (some modules rely on it).
    state.needReadable = false;
    state.emittedReadable = true;
    emitReadableNow(stream);
  }
}

// ---- reading ----------------------------------------------------------------

Readable.prototype.isPaused = function () {
  const state = this._readableState;
  return state.paused === true || state.flowing === false;
};

Readable.prototype.setEncoding = function (encoding) {
  const state = this._readableState;
  const decoder = new StringDecoder(encoding);
  state.decoder = decoder;
  state.encoding = decoder.encoding;
  // Decode what is already buffered.
  let content = "";
  for (let i = state.bufferIndex; i < state.buffer.length; i++) content += decoder.write(state.buffer[i]);
  state.buffer.length = 0;
  state.bufferIndex = 0;
  if (content !== "") state.buffer.push(content);
  state.length = content.length;
  return this;
};

const MAX_HWM = 0x40000000;

/** read(n) above the high-water mark raises it to the next power of two. */
function raisedHighWaterMark(n) {
  if (n > MAX_HWM) throw outOfRange("size", "<= 1GiB", n);
  return 2 ** Math.ceil(Math.log2(n));
}

/** How many bytes (or objects) read(n) can return now; 0 if not enough yet. */
function howMuchToRead(n, state) {
  if (n <= 0 || (state.length === 0 && state.ended)) return 0;
  if (state.objectMode) return 1;
  if (Number.isNaN(n)) {
    // read() while flowing returns one chunk at a time.
    if (state.flowing && state.length) return state.buffer[state.bufferIndex].length;
    return state.length;
  }
  if (n <= state.length) return n;
  return state.ended ? state.length : 0;
}

Readable.prototype.read = function (n) {
  if (n === undefined) n = NaN;
  else if (!Number.isInteger(n)) n = Number.parseInt(n, 10);
  const state = this._readableState;
  const requested = n;

  if (n > state.highWaterMark) state.highWaterMark = raisedHighWaterMark(n);
  if (n !== 0) state.emittedReadable = false;

  // read(0) with enough buffered only needs a 'readable' event.
  if (n === 0 && state.needReadable &&
      ((state.highWaterMark !== 0 ? state.length >= state.highWaterMark : state.length > 0) || state.ended)) {
    if (state.length === 0 && state.ended) endReadable(this);
    else emitReadable(this);
    return null;
  }

  n = howMuchToRead(n, state);
  if (n === 0 && state.ended) {
    if (state.length === 0) endReadable(this);
    return null;
  }

  // Call _read() first if the buffer would fall below the mark: a
  // synchronous _read() (a PassThrough's) may push what this read returns.
  let doRead = state.needReadable || state.length === 0 || state.length - n < state.highWaterMark;
  if (state.ended || state.reading || state.destroyed || state.errored || !state.constructed) {
    doRead = false;
  } else if (doRead) {
    state.reading = true;
    state.sync = true;
    if (state.length === 0) state.needReadable = true;
    try {
      this._read(state.highWaterMark);
    } catch (error) {
      errorOrDestroy(this, error);
    }
    state.sync = false;
    if (!state.reading) n = howMuchToRead(requested, state);
  }

  const chunk = n > 0 ? takeFromBuffer(n, state) : null;
  if (chunk === null) {
    state.needReadable = state.needReadable || state.length <= state.highWaterMark;
    n = 0;
  } else {
    state.length -= n;
    if (state.multiAwaitDrain) state.awaitDrainWriters.clear();
    else state.awaitDrainWriters = null;
  }

  if (state.length === 0) {
    // Empty: the next push must raise 'readable'.
    if (!state.ended) state.needReadable = true;
    // Asked past the end: 'end' on the next tick.
    if (requested !== n && state.ended) endReadable(this);
  }

  if (chunk !== null && !state.errorEmitted && !state.closeEmitted) {
    state.dataEmitted = true;
    this.emit("data", chunk);
  }
  return chunk;
};

/** Takes n bytes (one object in object mode) off the front of the buffer. */
function takeFromBuffer(n, state) {
  if (state.length === 0) return null;
  const buffer = state.buffer;
  const end = buffer.length;
  let i = state.bufferIndex;
  let chunk;

  if (state.objectMode) {
    chunk = buffer[i];
    buffer[i++] = null;
  } else if (!n || n >= state.length) {
    // Everything.
    if (state.decoder) {
      chunk = "";
      while (i < end) {
        chunk += buffer[i];
        buffer[i++] = null;
      }
    } else if (end - i === 1) {
      chunk = buffer[i];
      buffer[i++] = null;
    } else {
      chunk = Buffer.allocUnsafe(state.length);
      let offset = 0;
      while (i < end) {
        chunk.set(buffer[i], offset);
        offset += buffer[i].length;
        buffer[i++] = null;
      }
    }
  } else if (n < buffer[i].length) {
    // Part of the first chunk (slice works on strings and Buffers alike).
    chunk = buffer[i].slice(0, n);
    buffer[i] = buffer[i].slice(n);
  } else if (n === buffer[i].length) {
    chunk = buffer[i];
    buffer[i++] = null;
  } else if (state.decoder) {
    // Strings across several chunks. Node and workerd test the last one
    // against the number of buffer slots rather than its own length: when
    // those happen to be equal it is taken whole (more than n characters),
    // else a fitting one leaves an empty string behind. Kept for parity.
    chunk = "";
    while (i < end) {
      const text = buffer[i];
      if (n > text.length) {
        chunk += text;
        n -= text.length;
        buffer[i++] = null;
      } else {
        if (n === buffer.length) {
          chunk += text;
          buffer[i++] = null;
        } else {
          chunk += text.slice(0, n);
          buffer[i] = text.slice(n);
        }
        break;
      }
    }
  } else {
    chunk = Buffer.allocUnsafe(n);
    let offset = 0;
    while (i < end) {
      const data = buffer[i];
      const wanted = n - offset;
      if (wanted >= data.length) {
        chunk.set(data, offset);
        offset += data.length;
        buffer[i++] = null;
        if (offset === n) break;
      } else {
        chunk.set(data.subarray(0, wanted), offset);
        buffer[i] = data.subarray(wanted);
        break;
      }
    }
  }

  if (i === end) {
    buffer.length = 0;
    state.bufferIndex = 0;
  } else if (i > 1024) {
    buffer.splice(0, i);
    state.bufferIndex = 0;
  } else {
    state.bufferIndex = i;
  }
  return chunk;
}

Readable._fromList = takeFromBuffer;

/** 'readable' on the next tick (never synchronously: it may call read()). */
function emitReadable(stream) {
  const state = stream._readableState;
  state.needReadable = false;
  if (!state.emittedReadable) {
    state.emittedReadable = true;
    nextTick(emitReadableNow, stream);
  }
}

function emitReadableNow(stream) {
  const state = stream._readableState;
  if (!state.destroyed && !state.errored && (state.length || state.ended)) {
    stream.emit("readable");
    state.emittedReadable = false;
  }
  // Ask for another 'readable' unless flowing (flow() takes over), ended,
  // or above the mark.
  state.needReadable ||= !state.flowing && !state.ended && state.length <= state.highWaterMark;
  flow(stream);
}

/** After data was consumed, fill the buffer back up to the mark, on the next tick. */
function maybeReadMore(stream, state) {
  if (!state.readingMore && state.constructed) {
    state.readingMore = true;
    nextTick(readMore, stream, state);
  }
}

function readMore(stream, state) {
  // Keep calling read(0) while below the mark (or flowing and empty),
  // until _read() stops pushing synchronously.
  while (!state.reading && !state.ended &&
      (state.length < state.highWaterMark || (state.flowing && state.length === 0))) {
    const length = state.length;
    stream.read(0);
    if (length === state.length) break;
  }
  state.readingMore = false;
}

Readable.prototype._read = function () {
  throw streamErrors.notImplemented("_read()");
};

function endReadable(stream) {
  const state = stream._readableState;
  if (!state.endEmitted) {
    state.ended = true;
    nextTick(endReadableNow, state, stream);
  }
}

function endReadableNow(state, stream) {
  // Nothing may have been unshifted since, and no error or close.
  if (state.errored || state.closeEmitted || state.endEmitted || state.length !== 0) return;
  state.endEmitted = true;
  stream.emit("end");
  if (stream.writable && stream.allowHalfOpen === false) {
    nextTick(endWritableSide, stream);
  } else if (state.autoDestroy) {
    // A Duplex is destroyed only once its writable side is done too.
    const wState = stream._writableState;
    if (!wState || (wState.autoDestroy && (wState.finished || wState.writable === false))) {
      stream.destroy();
    }
  }
}

function endWritableSide(stream) {
  if (stream.writable && !stream.writableEnded && !stream.destroyed) stream.end();
}

// ---- modes: flowing, paused, 'readable' ------------------------------------

// Listening for 'data' starts the flow; listening for 'readable' takes precedence.
Readable.prototype.on = function (event, listener) {
  const result = Stream.prototype.on.call(this, event, listener);
  const state = this._readableState;
  if (event === "data") {
    state.dataListening = true;
    if (this.listenerCount("readable") > 0) state.readableListening = true;
    // Start flowing unless explicitly paused.
    if (state.flowing !== false) this.resume();
  } else if (event === "readable") {
    if (!state.endEmitted && !state.readableListening) {
      state.readableListening = state.needReadable = true;
      state.flowing = false;
      state.emittedReadable = false;
      if (state.length) emitReadable(this);
      else if (!state.reading) nextTick(readZero, this);
    }
  }
  return result;
};
Readable.prototype.addListener = Readable.prototype.on;

Readable.prototype.removeListener = function (event, listener) {
  const result = Stream.prototype.removeListener.call(this, event, listener);
  if (event === "readable") {
    // After this tick, so that once('readable') loops can re-subscribe.
    nextTick(updateReadableListening, this);
  } else if (event === "data" && this.listenerCount("data") === 0) {
    this._readableState.dataListening = false;
  }
  return result;
};
Readable.prototype.off = Readable.prototype.removeListener;

Readable.prototype.removeAllListeners = function (event) {
  const result = Stream.prototype.removeAllListeners.apply(this, arguments);
  if (event === "readable" || event === undefined) nextTick(updateReadableListening, this);
  return result;
};

function updateReadableListening(stream) {
  const state = stream._readableState;
  state.readableListening = stream.listenerCount("readable") > 0;
  if (state.resumeScheduled && state.paused === false) {
    // A resume() is on its way: it must find the stream flowing.
    state.flowing = true;
  } else if (state.dataListening) {
    stream.resume();
  } else if (!state.readableListening) {
    state.flowing = null;
  }
}

function readZero(stream) {
  stream.read(0);
}

Readable.prototype.resume = function () {
  const state = this._readableState;
  if (!state.flowing) {
    // With 'readable' listeners, resume() does not flow.
    state.flowing = !state.readableListening;
    if (!state.resumeScheduled) {
      state.resumeScheduled = true;
      nextTick(resumeNow, this, state);
    }
  }
  state.paused = false;
  return this;
};

function resumeNow(stream, state) {
  if (!state.reading) stream.read(0);
  state.resumeScheduled = false;
  stream.emit("resume");
  flow(stream);
  if (state.flowing && !state.reading) stream.read(0);
}

Readable.prototype.pause = function () {
  const state = this._readableState;
  if (state.flowing !== false) {
    state.flowing = false;
    this.emit("pause");
  }
  state.paused = true;
  return this;
};

/** While flowing, read() (which emits 'data') until the buffer is empty. */
function flow(stream) {
  const state = stream._readableState;
  while (state.flowing && stream.read() !== null);
}

// ---- pipe ---------------------------------------------------------------------

Readable.prototype.pipe = function (dest, options) {
  const src = this;
  const state = this._readableState;

  if (state.pipes.length === 1 && !state.multiAwaitDrain) {
    // A second destination: track the writers awaiting 'drain' in a Set.
    state.multiAwaitDrain = true;
    state.awaitDrainWriters = new Set(state.awaitDrainWriters ? [state.awaitDrainWriters] : []);
  }
  state.pipes.push(dest);

  const endOnEnd = options?.end !== false;
  const endFn = endOnEnd ? onend : unpipe;
  if (state.endEmitted) nextTick(endFn);
  else src.once("end", endFn);

  dest.on("unpipe", onunpipe);
  function onunpipe(readable, unpipeInfo) {
    if (readable === src && unpipeInfo?.hasUnpiped === false) {
      unpipeInfo.hasUnpiped = true;
      cleanup();
    }
  }

  function onend() {
    dest.end();
  }

  let ondrain;
  let cleanedUp = false;
  function cleanup() {
    dest.removeListener("close", onclose);
    dest.removeListener("finish", onfinish);
    if (ondrain) dest.removeListener("drain", ondrain);
    dest.removeListener("error", onerror);
    dest.removeListener("unpipe", onunpipe);
    src.removeListener("end", onend);
    src.removeListener("end", unpipe);
    src.removeListener("data", ondata);
    cleanedUp = true;
    // Were we waiting for this writer's 'drain'? It will not come now.
    if (ondrain && state.awaitDrainWriters && (!dest._writableState || dest._writableState.needDrain)) {
      ondrain();
    }
  }

  function pause() {
    // The user may have unpiped inside dest.write(): then do not wait on dest.
    if (!cleanedUp) {
      if (state.pipes.length === 1 && state.pipes[0] === dest) {
        state.awaitDrainWriters = dest;
        state.multiAwaitDrain = false;
      } else if (state.pipes.length > 1 && state.pipes.includes(dest)) {
        state.awaitDrainWriters.add(dest);
      }
      src.pause();
    }
    if (!ondrain) {
      // Added once and kept: adding and removing per pause is slow.
      ondrain = pipeOnDrain(src, dest);
      dest.on("drain", ondrain);
    }
  }

  src.on("data", ondata);
  function ondata(chunk) {
    if (dest.write(chunk) === false) pause();
  }

  // An error on dest unpipes it; still rethrow when dest has no other listener.
  function onerror(error) {
    unpipe();
    dest.removeListener("error", onerror);
    if (dest.listenerCount("error") === 0) {
      const destState = dest._writableState || dest._readableState;
      if (destState && !destState.errorEmitted) errorOrDestroy(dest, error);
      else dest.emit("error", error);
    }
  }
  dest.prependListener("error", onerror);

  // 'close' or 'finish' unpipes, once.
  function onclose() {
    dest.removeListener("finish", onfinish);
    unpipe();
  }
  dest.once("close", onclose);
  function onfinish() {
    dest.removeListener("close", onclose);
    unpipe();
  }
  dest.once("finish", onfinish);

  function unpipe() {
    src.unpipe(dest);
  }

  dest.emit("pipe", src);

  if (dest.writableNeedDrain === true) pause();
  else if (!state.flowing) src.resume();
  return dest;
};

function pipeOnDrain(src, dest) {
  return function () {
    const state = src._readableState;
    if (state.awaitDrainWriters === dest) state.awaitDrainWriters = null;
    else if (state.multiAwaitDrain) state.awaitDrainWriters.delete(dest);
    if ((!state.awaitDrainWriters || state.awaitDrainWriters.size === 0) && state.dataListening) {
      src.resume();
    }
  };
}

Readable.prototype.unpipe = function (dest) {
  const state = this._readableState;
  if (state.pipes.length === 0) return this;
  if (!dest) {
    const dests = state.pipes;
    state.pipes = [];
    this.pause();
    for (const d of dests) d.emit("unpipe", this, { hasUnpiped: false });
    return this;
  }
  const index = state.pipes.indexOf(dest);
  if (index === -1) return this;
  state.pipes.splice(index, 1);
  if (state.pipes.length === 0) this.pause();
  dest.emit("unpipe", this, { hasUnpiped: false });
  return this;
};

// ---- wrap: an old-style stream as the source ------------------------------------

Readable.prototype.wrap = function (stream) {
  let paused = false;
  stream.on("data", (chunk) => {
    if (!this.push(chunk) && stream.pause) {
      paused = true;
      stream.pause();
    }
  });
  stream.on("end", () => this.push(null));
  stream.on("error", (error) => errorOrDestroy(this, error));
  stream.on("close", () => this.destroy());
  stream.on("destroy", () => this.destroy());
  this._read = () => {
    if (paused && stream.resume) {
      paused = false;
      stream.resume();
    }
  };
  // Proxy the other methods (important when wrapping filters and duplexes).
  const keys = Object.keys(stream);
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i];
    if (this[key] === undefined && typeof stream[key] === "function") {
      this[key] = stream[key].bind(stream);
    }
  }
  return this;
};

Readable.wrap = function (src, options) {
  return new Readable({
    objectMode: src.readableObjectMode ?? src.objectMode ?? true,
    ...options,
    destroy(error, callback) {
      destroyer(src, error);
      callback(error);
    },
  }).wrap(src);
};

// ---- async iteration ------------------------------------------------------------

Readable.prototype[Symbol.asyncIterator] = function () {
  return streamToAsyncIterator(this);
};

/** options.destroyOnReturn false: leaving the loop early keeps the stream open. */
Readable.prototype.iterator = function (options) {
  if (options !== undefined) validateObject(options, "options");
  return streamToAsyncIterator(this, options);
};

function streamToAsyncIterator(stream, options) {
  if (typeof stream.read !== "function") stream = Readable.wrap(stream, { objectMode: true });
  const iterator = createAsyncIterator(stream, options);
  iterator.stream = stream;
  return iterator;
}

async function* createAsyncIterator(stream, options) {
  let wake = nop;
  function next(resolve) {
    // As a 'readable' listener (this === stream), wake the loop; else
    // (as a promise executor) remember how to.
    if (this === stream) {
      wake();
      wake = nop;
    } else {
      wake = resolve;
    }
  }
  stream.on("readable", next);

  // undefined: still going; null: ended cleanly; else the error.
  let error;
  const cleanup = eos(stream, { writable: false }, (e) => {
    error = e ? aggregateTwoErrors(error, e) : null;
    wake();
    wake = nop;
  });

  try {
    while (true) {
      const chunk = stream.destroyed ? null : stream.read();
      if (chunk !== null) yield chunk;
      else if (error) throw error;
      else if (error === null) return;
      else await new Promise(next);
    }
  } catch (e) {
    error = aggregateTwoErrors(error, e);
    throw error;
  } finally {
    if ((error || options?.destroyOnReturn !== false) &&
        (error === undefined || stream._readableState.autoDestroy)) {
      destroyer(stream, null);
    } else {
      stream.off("readable", next);
      cleanup();
    }
  }
}

// ---- properties ---------------------------------------------------------------------

Object.defineProperties(Readable.prototype, {
  readable: {
    get() {
      const r = this._readableState;
      // readable === false: a Duplex whose readable side was turned off.
      return !!r && r.readable !== false && !r.destroyed && !r.errorEmitted && !r.endEmitted;
    },
    set(value) {
      if (this._readableState) this._readableState.readable = !!value;
    },
  },
  readableDidRead: {
    get() {
      return this._readableState.dataEmitted;
    },
  },
  readableAborted: {
    get() {
      const r = this._readableState;
      return !!(r.readable !== false && (r.destroyed || r.errored) && !r.endEmitted);
    },
  },
  readableHighWaterMark: {
    get() {
      return this._readableState.highWaterMark;
    },
  },
  readableBuffer: {
    get() {
      return this._readableState?.buffer;
    },
  },
  readableFlowing: {
    get() {
      return this._readableState.flowing;
    },
    set(value) {
      if (this._readableState) this._readableState.flowing = value;
    },
  },
  readableLength: {
    get() {
      return this._readableState.length;
    },
  },
  readableObjectMode: {
    get() {
      return this._readableState ? this._readableState.objectMode : false;
    },
  },
  readableEncoding: {
    get() {
      return this._readableState ? this._readableState.encoding : null;
    },
  },
  errored: {
    get() {
      return this._readableState ? this._readableState.errored : null;
    },
  },
  closed: {
    get() {
      return this._readableState ? this._readableState.closed : false;
    },
  },
  destroyed: {
    get() {
      return this._readableState ? this._readableState.destroyed : false;
    },
    set(value) {
      if (this._readableState) this._readableState.destroyed = value;
    },
  },
  readableEnded: {
    get() {
      return this._readableState ? this._readableState.endEmitted : false;
    },
  },
});

// ---- Readable.from ------------------------------------------------------------------

Readable.from = function (iterable, options) {
  return from(Readable, iterable, options);
};

/**
 * A stream of `iterable`'s values, made with class `Class` (Readable, or
 * a Duplex class for Duplex.from). Strings and Buffers are one chunk.
 */
export function from(Class, iterable, options) {
  if (typeof iterable === "string" || iterable instanceof Buffer) {
    return new Class({
      objectMode: true,
      ...options,
      read() {
        this.push(iterable);
        this.push(null);
      },
    });
  }

  let iterator;
  let isAsync;
  if (iterable && typeof iterable[Symbol.asyncIterator] === "function") {
    isAsync = true;
    iterator = iterable[Symbol.asyncIterator]();
  } else if (iterable && typeof iterable[Symbol.iterator] === "function") {
    isAsync = false;
    iterator = iterable[Symbol.iterator]();
  } else {
    throw invalidArgType("iterable", ["Iterable"], iterable);
  }

  const readable = new Class({ objectMode: true, highWaterMark: 1, ...options });
  // _read() may come again before the last next() settled: do not overlap.
  let reading = false;
  readable._read = function () {
    if (!reading) {
      reading = true;
      pull();
    }
  };
  readable._destroy = function (error, callback) {
    close(error).then(() => nextTick(callback, error), (e) => nextTick(callback, e || error));
  };

  async function close(error) {
    const hadError = error !== undefined && error !== null;
    if (hadError && typeof iterator.throw === "function") {
      const { value, done } = await iterator.throw(error);
      await value;
      if (done) return;
    }
    if (typeof iterator.return === "function") {
      const { value } = await iterator.return();
      await value;
    }
  }

  async function pull() {
    for (;;) {
      try {
        const { value, done } = isAsync ? await iterator.next() : iterator.next();
        if (done) {
          readable.push(null);
        } else {
          const chunk = value && typeof value.then === "function" ? await value : value;
          if (chunk === null) {
            reading = false;
            throw streamErrors.nullValues();
          } else if (readable.push(chunk)) {
            continue;
          } else {
            reading = false;
          }
        }
      } catch (error) {
        readable.destroy(error);
      }
      break;
    }
  }
  return readable;
}

// ---- web streams ---------------------------------------------------------------------

Readable.fromWeb = function fromWeb(readableStream, options) {
  return newStreamReadableFromReadableStream(readableStream, options);
};

Readable.toWeb = function toWeb(streamReadable, options) {
  return newReadableStreamFromStreamReadable(streamReadable, options);
};

// ---- operators ------------------------------------------------------------------------

// The ones returning a stream wrap an async generator with Readable.from.
Readable.prototype.map = function map(fn, options) {
  return from(Readable, operators.map.call(this, fn, options));
};
Readable.prototype.asIndexedPairs = function asIndexedPairs(options) {
  return from(Readable, operators.asIndexedPairs.call(this, options));
};
Readable.prototype.drop = function drop(number, options) {
  return from(Readable, operators.drop.call(this, number, options));
};
Readable.prototype.filter = function filter(fn, options) {
  return from(Readable, operators.filter.call(this, fn, options));
};
Readable.prototype.flatMap = function flatMap(fn, options) {
  return from(Readable, operators.flatMap.call(this, fn, options));
};
Readable.prototype.take = function take(number, options) {
  return from(Readable, operators.take.call(this, number, options));
};
Readable.prototype.every = operators.every;
Readable.prototype.forEach = operators.forEach;
Readable.prototype.reduce = operators.reduce;
Readable.prototype.toArray = operators.toArray;
Readable.prototype.some = operators.some;
Readable.prototype.find = operators.find;
