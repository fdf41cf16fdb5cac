// node:stream: Node's streams (Readable, Writable, Duplex, Transform,
// PassThrough) and their helpers. The implementation is in
// internal/streams/; this module puts the public names together. The
// default export is what `require("stream")` gives: the legacy Stream
// class, carrying everything else as properties.

import { Stream } from "./internal/streams/legacy.js";
import { Readable } from "./internal/streams/readable.js";
import { Writable } from "./internal/streams/writable.js";
import { Duplex, duplexPair } from "./internal/streams/duplex.js";
import { Transform, PassThrough } from "./internal/streams/transform.js";
import { pipeline } from "./internal/streams/pipeline.js";
import { compose } from "./internal/streams/compose.js";
import { eos as finished } from "./internal/streams/end-of-stream.js";
import { addAbortSignal } from "./internal/streams/add-abort-signal.js";
import { destroyer as destroy } from "./internal/streams/destroy.js";
import { getDefaultHighWaterMark, setDefaultHighWaterMark } from "./internal/streams/state.js";
import { isDestroyed, isDisturbed, isErrored, isReadable, isWritable } from "./internal/streams/utils.js";
import { promises } from "./stream/promises.js";

export const _isArrayBufferView = Stream._isArrayBufferView;
export const _isUint8Array = Stream._isUint8Array;
export const _uint8ArrayToBuffer = Stream._uint8ArrayToBuffer;

export {
  Stream, Readable, Writable, Duplex, Transform, PassThrough, duplexPair, pipeline, compose,
  finished, addAbortSignal, destroy, getDefaultHighWaterMark, setDefaultHighWaterMark,
  isDestroyed, isDisturbed, isErrored, isReadable, isWritable, promises,
};

// A readable's .compose(...streams) is compose(readable, ...streams).
Readable.prototype.compose = function (...streams) {
  return compose(this, ...streams);
};

Object.assign(Stream, {
  addAbortSignal, compose, destroy, finished, isReadable, isWritable, isErrored, isDisturbed,
  pipeline, Writable, Readable, Duplex, Transform, PassThrough, promises,
  getDefaultHighWaterMark, setDefaultHighWaterMark, isDestroyed, duplexPair,
});

export default Stream;
