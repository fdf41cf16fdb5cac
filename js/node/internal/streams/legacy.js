// Stream: the legacy base that every stream class inherits from, an
// EventEmitter with the old pipe() that only moves 'data' along. Readable
// replaces that pipe() with the real one.

import { EventEmitter } from "../../events.js";
import { Buffer } from "../../buffer.js";

// A function, not a class: old code subclasses it with util.inherits and
// calls `Stream.call(this)`.
export function Stream(options) {
  EventEmitter.call(this, options);
}

Object.setPrototypeOf(Stream.prototype, EventEmitter.prototype);
Object.setPrototypeOf(Stream, EventEmitter);

Stream.prototype.pipe = function pipe(dest, options) {
  const source = this;

  function ondata(chunk) {
    if (dest.writable && dest.write(chunk) === false && source.pause) source.pause();
  }
  function ondrain() {
    if (source.readable && source.resume) source.resume();
  }
  source.on("data", ondata);
  dest.on("drain", ondrain);

  // dest.end() once, when the source ends or closes, unless told not to.
  let ended = false;
  function onend() {
    if (ended) return;
    ended = true;
    dest.end();
  }
  function onclose() {
    if (ended) return;
    ended = true;
    if (typeof dest.destroy === "function") dest.destroy();
  }
  if (!dest._isStdio && options?.end !== false) {
    source.on("end", onend);
    source.on("close", onclose);
  }

  // An error on either side ends the pipe; rethrow it if nobody else listens.
  function onerror(error) {
    cleanup();
    if (EventEmitter.listenerCount(this, "error") === 0) this.emit("error", error);
  }
  source.prependListener("error", onerror);
  dest.prependListener("error", onerror);

  function cleanup() {
    source.removeListener("data", ondata);
    dest.removeListener("drain", ondrain);
    source.removeListener("end", onend);
    source.removeListener("close", onclose);
    source.removeListener("error", onerror);
    dest.removeListener("error", onerror);
    source.removeListener("end", cleanup);
    source.removeListener("close", cleanup);
    dest.removeListener("close", cleanup);
  }
  source.on("end", cleanup);
  source.on("close", cleanup);
  dest.on("close", cleanup);

  dest.emit("pipe", source);
  return dest;
};

// Old names, kept for code written against Node 0.x and readable-stream.
Stream.Stream = Stream;
Stream._isUint8Array = function isUint8Array(value) {
  return value instanceof Uint8Array;
};
Stream._isArrayBufferView = function isArrayBufferView(value) {
  return ArrayBuffer.isView(value);
};
Stream._uint8ArrayToBuffer = function _uint8ArrayToBuffer(chunk) {
  return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
};
