// Writable: queues write() calls into one _write() (or batched _writev())
// at a time, reports backpressure through write()'s return value and
// 'drain', and runs the ending sequence end() -> _final() -> 'prefinish'
// -> 'finish' -> autoDestroy 'close'. Also Writable.fromWeb/toWeb.
//
// As in readable.js, every nextTick is where Node has one: write callbacks
// of synchronous _write()s, 'drain' and 'finish' come a tick later.

import { Buffer } from "../../buffer.js";
import { nextTick } from "../../process.js";
import { EventEmitter } from "../../events.js";
import { AbortError, unknownEncoding } from "../errors.js";
import { Stream } from "./legacy.js";
import { getDefaultHighWaterMark, getHighWaterMark } from "./state.js";
import { construct, destroy, errorOrDestroy, undestroy } from "./destroy.js";
import { eos } from "./end-of-stream.js";
import { addAbortSignal } from "./add-abort-signal.js";
import { kOnConstructed, nop, streamErrors } from "./utils.js";
import { newStreamWritableFromWritableStream, newWritableStreamFromStreamWritable } from "./web.js";

export function WritableState(options, stream, isDuplex) {
  this.objectMode = !!(options?.objectMode || (isDuplex && options?.writableObjectMode));
  this.highWaterMark = options
    ? getHighWaterMark(this.objectMode, options, "writableHighWaterMark", isDuplex)
    : getDefaultHighWaterMark(false);
  this.finalCalled = false;
  this.needDrain = false; // A write() returned false; 'drain' is owed.
  this.ending = false; // end() was called.
  this.ended = false; // end() has returned.
  this.finished = false; // 'finish' was emitted.
  this.destroyed = false;
  // Strings are turned into Buffers before _write() unless told not to.
  this.decodeStrings = options?.decodeStrings !== false;
  const defaultEncoding = options?.defaultEncoding;
  this.defaultEncoding = defaultEncoding == null || defaultEncoding === "utf-8" ? "utf8" : defaultEncoding;
  // Bytes (or objects) written but not yet through _write().
  this.length = 0;
  this.writing = false;
  this.corked = 0;
  // Inside a _write() call: its callback, if called now, defers to the next tick.
  this.sync = true;
  this.bufferProcessing = false;
  // The callback handed to _write(), bound once.
  this.onwrite = onwrite.bind(undefined, stream);
  this.writecb = null;
  this.writelen = 0;
  this.expectWriteCb = false;
  // Several sync write callbacks of the same function share one tick.
  this.afterWriteTickInfo = null;
  this.afterWritePending = false;
  resetBuffer(this);
  // Writes (and _final) whose callbacks are still to come.
  this.pendingcb = 0;
  this.constructed = true;
  this.prefinished = false;
  this.errorEmitted = false;
  this.emitClose = options?.emitClose !== false;
  this.autoDestroy = options?.autoDestroy !== false;
  this.errored = null;
  this.closed = false;
  this.closeEmitted = false;
  // end(callback)s waiting for 'finish'.
  this.onFinished = [];
}

/** The writes queued while one is in progress (or corked), from bufferedIndex on. */
function resetBuffer(state) {
  state.buffered = [];
  state.bufferedIndex = 0;
  state.allBuffers = true;
  state.allNoop = true;
}

WritableState.prototype.getBuffer = function getBuffer() {
  return this.buffered.slice(this.bufferedIndex);
};

Object.defineProperty(WritableState.prototype, "bufferedRequestCount", {
  get() {
    return this.buffered.length - this.bufferedIndex;
  },
});

WritableState.prototype[kOnConstructed] = function (stream) {
  if (!this.writing) clearBuffer(stream, this);
  if (this.ending) finishMaybe(stream, this);
};

export function Writable(options) {
  if (!(this instanceof Writable)) return new Writable(options);
  this._writableState = new WritableState(options, this, false);
  if (options) {
    if (typeof options.write === "function") this._write = options.write;
    if (typeof options.writev === "function") this._writev = options.writev;
    if (typeof options.destroy === "function") this._destroy = options.destroy;
    if (typeof options.final === "function") this._final = options.final;
    if (typeof options.construct === "function") this._construct = options.construct;
    if (options.signal) addAbortSignal(options.signal, this);
  }
  Stream.call(this, options);
  if (this._construct != null) {
    construct(this, () => this._writableState[kOnConstructed](this));
  }
}

Object.setPrototypeOf(Writable.prototype, Stream.prototype);
Object.setPrototypeOf(Writable, Stream);
Writable.WritableState = WritableState;

// A Duplex is a Writable too, though it inherits from Readable.
Object.defineProperty(Writable, Symbol.hasInstance, {
  value(object) {
    if (Function.prototype[Symbol.hasInstance].call(this, object)) return true;
    if (this !== Writable) return false;
    return !!object && object._writableState instanceof WritableState;
  },
});

Writable.prototype.pipe = function () {
  errorOrDestroy(this, streamErrors.cannotPipe());
};

/** Checks and converts a chunk, then writes or queues it. Returns the error instead of throwing it for end(). */
function writeChunk(stream, chunk, encoding, callback) {
  const state = stream._writableState;
  if (typeof callback !== "function") callback = nop;
  if (chunk === null) throw streamErrors.nullValues();

  if (!state.objectMode) {
    if (!encoding) encoding = state.defaultEncoding;
    else if (encoding !== "buffer" && !Buffer.isEncoding(encoding)) throw unknownEncoding(encoding);

    if (typeof chunk === "string") {
      if (state.decodeStrings) {
        chunk = Buffer.from(chunk, encoding);
        encoding = "buffer";
      }
    } else if (chunk instanceof Buffer) {
      encoding = "buffer";
    } else if (ArrayBuffer.isView(chunk)) {
      chunk = Stream._uint8ArrayToBuffer(chunk);
      encoding = "buffer";
    } else {
      throw streamErrors.invalidChunk(chunk);
    }
  }

  let error;
  if (state.ending) error = streamErrors.writeAfterEnd();
  else if (state.destroyed) error = streamErrors.destroyed("write");
  if (error) {
    nextTick(callback, error);
    errorOrDestroy(stream, error, true);
    return error;
  }
  state.pendingcb++;
  return writeOrBuffer(stream, state, chunk, encoding, callback);
}

/** False when the buffer is at the high-water mark: wait for 'drain'. */
Writable.prototype.write = function (chunk, encoding, callback) {
  if (typeof encoding === "function") {
    callback = encoding;
    encoding = null;
  }
  return writeChunk(this, chunk, encoding, callback) === true;
};

Writable.prototype.cork = function () {
  this._writableState.corked++;
};

Writable.prototype.uncork = function () {
  const state = this._writableState;
  if (state.corked) {
    state.corked--;
    if (!state.writing) clearBuffer(this, state);
  }
};

Writable.prototype.setDefaultEncoding = function setDefaultEncoding(encoding) {
  if (typeof encoding === "string") encoding = encoding.toLowerCase();
  if (!Buffer.isEncoding(encoding)) throw unknownEncoding(encoding);
  this._writableState.defaultEncoding = encoding;
  return this;
};

function writeOrBuffer(stream, state, chunk, encoding, callback) {
  const length = state.objectMode ? 1 : chunk.length;
  state.length += length;
  const ret = state.length < state.highWaterMark || state.length === 0;
  // Once owed, 'drain' stays owed.
  if (!ret) state.needDrain = true;

  if (state.writing || state.corked || state.errored || !state.constructed) {
    state.buffered.push({ chunk, encoding, callback });
    if (state.allBuffers && encoding !== "buffer") state.allBuffers = false;
    if (state.allNoop && callback !== nop) state.allNoop = false;
  } else {
    state.writelen = length;
    state.writecb = callback;
    state.writing = true;
    state.sync = true;
    state.expectWriteCb = true;
    stream._write(chunk, encoding, state.onwrite);
    state.sync = false;
  }
  // False when errored or destroyed, to break `while (write())` loops.
  return ret && !state.errored && !state.destroyed;
}

function doWrite(stream, state, writev, length, chunk, encoding, callback) {
  state.writelen = length;
  state.writecb = callback;
  state.writing = true;
  state.sync = true;
  state.expectWriteCb = true;
  if (state.destroyed) state.onwrite(streamErrors.destroyed("write"));
  else if (writev) stream._writev(chunk, state.onwrite);
  else stream._write(chunk, encoding, state.onwrite);
  state.sync = false;
}

function onwriteError(stream, state, error, callback) {
  --state.pendingcb;
  callback(error);
  // Fail what is queued behind it, then the stream.
  errorBuffer(state);
  errorOrDestroy(stream, error);
}

/** The callback _write() and _writev() get (bound to the stream). */
function onwrite(stream, error) {
  const state = stream._writableState;
  if (!state.expectWriteCb) {
    errorOrDestroy(stream, streamErrors.multipleCallback());
    return;
  }
  const sync = state.sync;
  const callback = state.writecb || nop;
  state.writecb = null;
  state.writing = false;
  state.expectWriteCb = false;
  state.length -= state.writelen;
  state.writelen = 0;

  if (error) {
    if (!state.errored) state.errored = error;
    // A Duplex's readable side errors too, so that reads stop.
    if (stream._readableState && !stream._readableState.errored) stream._readableState.errored = error;
    if (sync) nextTick(onwriteError, stream, state, error, callback);
    else onwriteError(stream, state, error, callback);
    return;
  }

  if (state.buffered.length > state.bufferedIndex) clearBuffer(stream, state);

  if (!sync) {
    afterWrite(stream, state, 1, callback);
    return;
  }
  // Synchronous: the user callback and 'drain' wait for the next tick.
  // Node tests the objectMode bit here where it means destroyed (a quirk
  // of its bit flags, kept by workerd): object-mode writes always take a tick.
  const needTick = (state.needDrain && state.length === 0) || state.objectMode || callback !== nop;
  if (callback === nop) {
    if (!state.afterWritePending && needTick) {
      nextTick(afterWrite, stream, state, 1, callback);
      state.afterWritePending = true;
    } else {
      state.pendingcb--;
      if (state.ending) finishMaybe(stream, state, true);
    }
  } else if (state.afterWriteTickInfo?.callback === callback) {
    state.afterWriteTickInfo.count++;
  } else if (needTick) {
    state.afterWriteTickInfo = { count: 1, callback, stream, state };
    nextTick(afterWriteTick, state.afterWriteTickInfo);
    state.afterWritePending = true;
  } else {
    state.pendingcb--;
    if (state.ending) finishMaybe(stream, state, true);
  }
}

function afterWriteTick({ stream, state, count, callback }) {
  state.afterWriteTickInfo = null;
  afterWrite(stream, state, count, callback);
}

function afterWrite(stream, state, count, callback) {
  state.afterWritePending = false;
  if (state.needDrain && state.length === 0 && !state.ending && !state.destroyed) {
    state.needDrain = false;
    stream.emit("drain");
  }
  while (count-- > 0) {
    state.pendingcb--;
    callback(undefined);
  }
  if (state.destroyed) errorBuffer(state);
  if (state.ending) finishMaybe(stream, state, true);
}

/** Fails every queued write (and end callbacks) after an error or destroy. */
function errorBuffer(state) {
  if (state.writing) return;
  for (let i = state.bufferedIndex; i < state.buffered.length; i++) {
    const { chunk, callback } = state.buffered[i];
    state.length -= state.objectMode ? 1 : chunk.length;
    callback(state.errored ?? streamErrors.destroyed("write"));
  }
  callFinishedCallbacks(state, state.errored ?? streamErrors.destroyed("end"));
  resetBuffer(state);
}

/** Writes out the queue: all at once through _writev, else one by one while each completes synchronously. */
function clearBuffer(stream, state) {
  if (state.corked || state.bufferProcessing || state.destroyed || !state.constructed) return;
  const { buffered, bufferedIndex, objectMode } = state;
  const count = buffered.length - bufferedIndex;
  if (!count) return;

  let i = bufferedIndex;
  state.bufferProcessing = true;
  if (count > 1 && stream._writev) {
    state.pendingcb -= count - 1;
    const callback = state.allNoop ? nop : (error) => {
      for (let n = i; n < buffered.length; ++n) buffered[n].callback(error);
    };
    const chunks = state.allNoop && i === 0 ? buffered : buffered.slice(i);
    chunks.allBuffers = state.allBuffers;
    doWrite(stream, state, true, state.length, chunks, "", callback);
    resetBuffer(state);
  } else {
    do {
      const { chunk, encoding, callback } = buffered[i];
      buffered[i++] = null;
      doWrite(stream, state, false, objectMode ? 1 : chunk.length, chunk, encoding, callback);
    } while (i < buffered.length && !state.writing);

    if (i === buffered.length) {
      resetBuffer(state);
    } else if (i > 256) {
      buffered.splice(0, i);
      state.bufferedIndex = 0;
    } else {
      state.bufferedIndex = i;
    }
  }
  state.bufferProcessing = false;
}

Writable.prototype._write = function (chunk, encoding, callback) {
  if (this._writev) this._writev([{ chunk, encoding }], callback);
  else throw streamErrors.notImplemented("_write()");
};

Writable.prototype._writev = null;

Writable.prototype.end = function (chunk, encoding, callback) {
  const state = this._writableState;
  if (typeof chunk === "function") {
    callback = chunk;
    chunk = null;
    encoding = null;
  } else if (typeof encoding === "function") {
    callback = encoding;
    encoding = null;
  }

  let error;
  if (chunk != null) {
    const result = writeChunk(this, chunk, encoding);
    if (result instanceof Error) error = result;
  }
  // end() flushes a corked stream, however deeply corked.
  if (state.corked) {
    state.corked = 1;
    this.uncork();
  }

  if (error) {
    // The write's own error is reported below.
  } else if (!state.errored && !state.ending) {
    // ending before finishMaybe, ended after: _final may see ending but not ended.
    state.ending = true;
    finishMaybe(this, state, true);
    state.ended = true;
  } else if (state.finished) {
    error = streamErrors.alreadyFinished("end");
  } else if (state.destroyed) {
    error = streamErrors.destroyed("end");
  }

  if (typeof callback === "function") {
    if (error || state.finished) nextTick(callback, error);
    else if (state.errored) nextTick(callback, state.errored);
    else state.onFinished.push(callback);
  }
  return this;
};

/** Ending, nothing left to write, and not finished, errored or destroyed. */
function needFinish(state) {
  return state.ending && !state.destroyed && state.constructed && state.length === 0 &&
    !state.errored && state.buffered.length === 0 && !state.finished && !state.writing &&
    !state.errorEmitted && !state.closeEmitted;
}

function callFinal(stream, state) {
  function onFinal(error) {
    if (state.prefinished) {
      errorOrDestroy(stream, error ?? streamErrors.multipleCallback());
      return;
    }
    state.pendingcb--;
    if (error) {
      callFinishedCallbacks(state, error);
      errorOrDestroy(stream, error, state.sync);
    } else if (needFinish(state)) {
      state.prefinished = true;
      stream.emit("prefinish");
      // 'finish' a tick later, so that 'prefinish' listeners can still act.
      state.pendingcb++;
      nextTick(finish, stream, state);
    }
  }
  state.sync = true;
  state.pendingcb++;
  try {
    stream._final(onFinal);
  } catch (error) {
    onFinal(error);
  }
  state.sync = false;
}

function prefinish(stream, state) {
  if (state.prefinished || state.finalCalled) return;
  if (typeof stream._final === "function" && !state.destroyed) {
    state.finalCalled = true;
    callFinal(stream, state);
  } else {
    state.prefinished = true;
    stream.emit("prefinish");
  }
}

function finishMaybe(stream, state, sync) {
  if (!needFinish(state)) return;
  prefinish(stream, state);
  if (state.pendingcb !== 0) return;
  if (sync) {
    state.pendingcb++;
    nextTick(() => {
      if (needFinish(state)) finish(stream, state);
      else state.pendingcb--;
    });
  } else if (needFinish(state)) {
    state.pendingcb++;
    finish(stream, state);
  }
}

function finish(stream, state) {
  state.pendingcb--;
  state.finished = true;
  callFinishedCallbacks(state, null);
  stream.emit("finish");
  if (state.autoDestroy) {
    // A Duplex waits for its readable side to have ended too.
    const rState = stream._readableState;
    if (!rState || (rState.autoDestroy && (rState.endEmitted || rState.readable === false))) {
      stream.destroy();
    }
  }
}

function callFinishedCallbacks(state, error) {
  if (state.onFinished.length === 0) return;
  const callbacks = state.onFinished;
  state.onFinished = [];
  for (const callback of callbacks) callback(error);
}

Object.defineProperties(Writable.prototype, {
  closed: {
    get() {
      return this._writableState ? this._writableState.closed : false;
    },
  },
  destroyed: {
    get() {
      return this._writableState ? this._writableState.destroyed : false;
    },
    set(value) {
      if (this._writableState) this._writableState.destroyed = value;
    },
  },
  writable: {
    get() {
      const w = this._writableState;
      // writable === false: a Duplex whose writable side was turned off.
      return !!w && w.writable !== false && !w.destroyed && !w.errored && !w.ending && !w.ended;
    },
    set(value) {
      if (this._writableState) this._writableState.writable = !!value;
    },
  },
  writableFinished: {
    get() {
      return this._writableState ? this._writableState.finished : false;
    },
  },
  writableObjectMode: {
    get() {
      return this._writableState ? this._writableState.objectMode : false;
    },
  },
  writableBuffer: {
    get() {
      return this._writableState && this._writableState.getBuffer();
    },
  },
  writableEnded: {
    get() {
      return this._writableState ? this._writableState.ending : false;
    },
  },
  writableNeedDrain: {
    get() {
      const w = this._writableState;
      return w ? !w.destroyed && !w.ending && w.needDrain : false;
    },
  },
  writableHighWaterMark: {
    get() {
      return this._writableState?.highWaterMark;
    },
  },
  writableCorked: {
    get() {
      return this._writableState ? this._writableState.corked : 0;
    },
  },
  writableLength: {
    get() {
      return this._writableState?.length;
    },
  },
  errored: {
    get() {
      return this._writableState ? this._writableState.errored : null;
    },
  },
  writableAborted: {
    get() {
      const w = this._writableState;
      return w.writable !== false && !!(w.destroyed || w.errored) && !w.finished;
    },
  },
});

Writable.prototype.destroy = function (error, callback) {
  const state = this._writableState;
  // Queued writes and end callbacks fail on the next tick.
  if (!state.destroyed && (state.bufferedIndex < state.buffered.length || state.onFinished.length)) {
    nextTick(errorBuffer, state);
  }
  destroy.call(this, error, callback);
  return this;
};

Writable.prototype._undestroy = undestroy;
Writable.prototype._destroy = function (error, callback) {
  callback(error);
};

Writable.prototype[EventEmitter.captureRejectionSymbol] = function (error) {
  this.destroy(error);
};

Writable.prototype[Symbol.asyncDispose] = async function () {
  let error;
  if (!this.destroyed) {
    error = this.writableFinished ? null : new AbortError();
    this.destroy(error);
  }
  await new Promise((resolve, reject) =>
    eos(this, (e) => (e && e.name !== "AbortError" ? reject(e) : resolve(null))));
};

Writable.fromWeb = function fromWeb(writableStream, options) {
  return newStreamWritableFromWritableStream(writableStream, options);
};

Writable.toWeb = function toWeb(streamWritable) {
  return newWritableStreamFromStreamWritable(streamWritable);
};
