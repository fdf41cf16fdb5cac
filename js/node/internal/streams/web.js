// Bridges between Node streams and Web Streams: Readable.fromWeb/toWeb and
// Writable.fromWeb/toWeb (Duplex's are in duplexify.js).

import { Buffer } from "../../buffer.js";
import { nextTick } from "../../process.js";
import { AbortError, invalidArgType, invalidArgValue } from "../errors.js";
import { validateBoolean, validateObject } from "../validators.js";
import { Readable } from "./readable.js";
import { Writable } from "./writable.js";
import { destroyer } from "./destroy.js";
import { eos } from "./end-of-stream.js";
import {
  isDestroyed, isReadable, isReadableStream, isWritable, isWritableEnded, isWritableStream,
  streamErrors, withResolvers,
} from "./utils.js";

/** A premature close shows on the web side as an abort. */
function webError(error) {
  if (error?.code === "ERR_STREAM_PREMATURE_CLOSE") return new AbortError(undefined, { cause: error });
  return error;
}

/** Readable.toWeb: a ReadableStream pulling from a Node Readable. */
export function newReadableStreamFromStreamReadable(streamReadable, options = {}, bytes = false) {
  // Not isReadableNodeStream: a Duplex with its readable side off passes,
  // and gives a closed stream.
  if (typeof streamReadable?._readableState !== "object") {
    throw streamErrors.notAStream("streamReadable", "stream.Readable", streamReadable);
  }
  if (isDestroyed(streamReadable) || !isReadable(streamReadable)) {
    const readable = new ReadableStream();
    readable.cancel();
    return readable;
  }

  const objectMode = streamReadable.readableObjectMode;
  const highWaterMark = streamReadable.readableHighWaterMark;
  const strategy = options?.strategy ?? (objectMode
    ? new CountQueuingStrategy({ highWaterMark })
    : new ByteLengthQueuingStrategy({ highWaterMark }));

  let controller;
  let wasCanceled = false;

  function onData(chunk) {
    // A copy, so the web side does not share memory with Node's buffers.
    if (Buffer.isBuffer(chunk) && !objectMode) chunk = new Uint8Array(chunk);
    controller.enqueue(chunk);
    if (controller.desiredSize <= 0) streamReadable.pause();
  }

  streamReadable.pause();
  const cleanup = eos(streamReadable, (error) => {
    error = webError(error);
    cleanup();
    // Legacy streams may emit 'error' again after finishing.
    streamReadable.on("error", () => {});
    if (error) return controller.error(error);
    if (!wasCanceled) controller.close();
  });
  streamReadable.on("data", onData);

  return new ReadableStream({
    type: bytes ? "bytes" : undefined,
    start(c) {
      controller = c;
    },
    pull() {
      streamReadable.resume();
    },
    cancel(reason) {
      wasCanceled = true;
      destroyer(streamReadable, reason);
    },
  }, strategy);
}

/** Readable.fromWeb: a Node Readable reading from a ReadableStream. */
export function newStreamReadableFromReadableStream(readableStream, options = {}) {
  if (!isReadableStream(readableStream)) {
    throw invalidArgType("readableStream", "ReadableStream", readableStream);
  }
  validateObject(options, "options");
  const { highWaterMark, encoding, objectMode = false, signal } = options;
  if (encoding !== undefined && !Buffer.isEncoding(encoding)) {
    throw invalidArgValue("options.encoding", encoding);
  }
  validateBoolean(objectMode, "options.objectMode");

  const reader = readableStream.getReader();
  let closed = false;

  const readable = new Readable({
    objectMode,
    highWaterMark,
    encoding,
    signal,
    read() {
      reader.read().then(
        (chunk) => readable.push(chunk.done ? null : chunk.value),
        (error) => destroyer(readable, error),
      );
    },
    destroy(error, callback) {
      const done = () => {
        try {
          callback(error);
        } catch (thrown) {
          // Out of the promise, so it is not an unhandled rejection.
          nextTick(() => {
            throw thrown;
          });
        }
      };
      if (!closed) reader.cancel(error).then(done, done);
      else done();
    },
  });

  reader.closed.then(
    () => {
      closed = true;
    },
    (error) => {
      closed = true;
      destroyer(readable, error);
    },
  );
  return readable;
}

/** Writable.toWeb: a WritableStream writing into a Node Writable. */
export function newWritableStreamFromStreamWritable(streamWritable) {
  if (!(typeof streamWritable?.write === "function" && typeof streamWritable?.on === "function")) {
    throw streamErrors.notAStream("streamWritable", "stream.Writable", streamWritable);
  }
  if (isDestroyed(streamWritable) || !isWritable(streamWritable)) {
    const writable = new WritableStream();
    writable.close();
    return writable;
  }

  const highWaterMark = streamWritable.writableHighWaterMark;
  const strategy = streamWritable.writableObjectMode
    ? new CountQueuingStrategy({ highWaterMark })
    : { highWaterMark };

  let controller;
  let backpressure; // Resolvers while a write waits for 'drain'.
  let closed; // Resolvers while close() waits for 'finish'.

  function onDrain() {
    backpressure?.resolve();
  }

  const cleanup = eos(streamWritable, (error) => {
    error = webError(error);
    cleanup();
    streamWritable.on("error", () => {});
    if (error != null) {
      backpressure?.reject(error);
      if (closed !== undefined) {
        closed.reject(error);
        closed = undefined;
      }
      controller.error(error);
      controller = undefined;
      return;
    }
    if (closed !== undefined) {
      closed.resolve();
      closed = undefined;
      return;
    }
    controller.error(new AbortError());
    controller = undefined;
  });
  streamWritable.on("drain", onDrain);

  return new WritableStream({
    start(c) {
      controller = c;
    },
    write(chunk) {
      if (streamWritable.writableNeedDrain || !streamWritable.write(chunk)) {
        backpressure = withResolvers();
        return backpressure.promise.finally(() => {
          backpressure = undefined;
        });
      }
    },
    abort(reason) {
      destroyer(streamWritable, reason);
    },
    close() {
      if (closed === undefined && !isWritableEnded(streamWritable)) {
        closed = withResolvers();
        streamWritable.end();
        return closed.promise;
      }
      controller = undefined;
      return Promise.resolve();
    },
  }, strategy);
}

/** Writable.fromWeb: a Node Writable writing into a WritableStream. */
export function newStreamWritableFromWritableStream(writableStream, options = {}) {
  if (!isWritableStream(writableStream)) {
    throw invalidArgType("writableStream", "WritableStream", writableStream);
  }
  validateObject(options, "options");
  const { highWaterMark, decodeStrings = true, objectMode = false, signal } = options;
  validateBoolean(objectMode, "options.objectMode");
  validateBoolean(decodeStrings, "options.decodeStrings");

  const writer = writableStream.getWriter();
  let closed = false;

  const writable = new Writable({
    highWaterMark,
    objectMode,
    decodeStrings,
    signal,
    writev(chunks, callback) {
      const done = (errors) => {
        errors = errors.filter((e) => e);
        try {
          callback(errors.length === 0 ? undefined : errors);
        } catch (thrown) {
          nextTick(() => destroyer(writable, thrown));
        }
      };
      writer.ready.then(
        () => Promise.all(chunks.map((data) => writer.write(data.chunk))).then(done, done),
        done,
      );
    },
    write(chunk, encoding, callback) {
      const done = (error) => {
        try {
          callback(error);
        } catch (thrown) {
          destroyer(writable, thrown);
        }
      };
      writer.ready.then(() => writer.write(chunk).then(done, done), done);
    },
    destroy(error, callback) {
      const done = () => {
        try {
          callback(error);
        } catch (thrown) {
          nextTick(() => {
            throw thrown;
          });
        }
      };
      if (!closed) {
        if (error != null) writer.abort(error).then(done, done);
        else writer.close().then(done, done);
        return;
      }
      done();
    },
    final(callback) {
      const done = (error) => {
        try {
          callback(error);
        } catch (thrown) {
          nextTick(() => destroyer(writable, thrown));
        }
      };
      if (!closed) writer.close().then(done, done);
    },
  });

  writer.closed.then(
    () => {
      closed = true;
      if (!isWritableEnded(writable)) destroyer(writable, streamErrors.prematureClose());
    },
    (error) => {
      closed = true;
      destroyer(writable, error);
    },
  );
  return writable;
}
