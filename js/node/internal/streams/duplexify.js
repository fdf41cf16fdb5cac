// Making Duplexes out of other things: Duplex.from(body) for streams, web
// streams, promises, async functions and { readable, writable } pairs;
// Duplex.fromWeb/toWeb.

import { Buffer } from "../../buffer.js";
import { nextTick } from "../../process.js";
import { AbortError, describeReceived, invalidArgType, invalidArgValue, nodeError } from "../errors.js";
import { validateBoolean, validateObject } from "../validators.js";
import { Duplex } from "./duplex.js";
import { Readable } from "./readable.js";
import { Writable } from "./writable.js";
import { destroyer } from "./destroy.js";
import { eos } from "./end-of-stream.js";
import { newReadableStreamFromStreamReadable, newWritableStreamFromStreamWritable } from "./web.js";
import {
  isDestroyed, isDuplexNodeStream, isIterable, isNodeStream, isReadable, isReadableNodeStream,
  isWritable, isWritableEnded, isWritableNodeStream, streamErrors, withResolvers,
} from "./utils.js";

// Its own class, as in workerd, whose name shows in error messages.
class Duplexify extends Duplex {}

export function duplexify(body, name) {
  if (isDuplexNodeStream(body)) return body;
  if (isReadableNodeStream(body)) return duplexifyPair({ readable: body });
  if (isWritableNodeStream(body)) return duplexifyPair({ writable: body });
  if (isNodeStream(body)) return duplexifyPair({ writable: false, readable: false });
  if (body instanceof ReadableStream) return duplexifyPair({ readable: Readable.fromWeb(body) });
  if (body instanceof WritableStream) return duplexifyPair({ writable: Writable.fromWeb(body) });

  if (typeof body === "function") {
    const { value, write, final, destroy } = fromAsyncGen(body);
    if (isIterable(value)) throw rejectedIterable();
    if (typeof value?.then === "function") {
      // An async function consuming the written data: writable only, and
      // finishing waits for its promise.
      let d;
      const promise = value.then(
        (result) => {
          if (result != null) throw streamErrors.invalidReturnValue("nully", "body", result);
        },
        (error) => destroyer(d, error),
      );
      d = new Duplexify({
        objectMode: true,
        readable: false,
        write,
        final(callback) {
          final(async () => {
            try {
              await promise;
              nextTick(callback, null);
            } catch (error) {
              nextTick(callback, error);
            }
          });
        },
        destroy,
      });
      return d;
    }
    throw streamErrors.invalidReturnValue("Iterable, AsyncIterable or AsyncFunction", name, value);
  }

  if (body instanceof Blob) return duplexify(body.arrayBuffer(), name);
  if (isIterable(body)) throw rejectedIterable();

  if (body?.readable instanceof ReadableStream && body?.writable instanceof WritableStream) {
    return Duplexify.fromWeb(body);
  }

  if (typeof body?.writable === "object" || typeof body?.readable === "object") {
    const readable = body.readable
      ? isReadableNodeStream(body.readable) ? body.readable : duplexify(body.readable, name)
      : undefined;
    const writable = body.writable
      ? isWritableNodeStream(body.writable) ? body.writable : duplexify(body.writable, name)
      : undefined;
    return duplexifyPair({ readable, writable });
  }

  if (typeof body?.then === "function") {
    // A promise: its value, if not null, is the one chunk.
    let d;
    body.then(
      (value) => {
        if (value != null) d.push(value);
        d.push(null);
      },
      (error) => destroyer(d, error),
    );
    d = new Duplexify({ objectMode: true, writable: false, read() {} });
    return d;
  }

  throw nodeError(TypeError, "ERR_INVALID_ARG_TYPE",
    `The "${name}" argument must be of type function or an instance of Blob, ReadableStream, ` +
    "WritableStream, Stream, Iterable, AsyncIterable, or Promise or { readable, writable } pair." +
    describeReceived(body));
}

// workerd hands iterables (and async generator functions) to Readable.from
// in a way that always fails; its error is kept so that code behaves alike.
function rejectedIterable() {
  return invalidArgType("iterable", ["Iterable"], Duplexify);
}

/**
 * Runs `fn(source, { signal })` where source is an async iterable of what
 * gets written; returns fn's result and the write/final/destroy that feed it.
 */
function fromAsyncGen(fn) {
  let { promise, resolve } = withResolvers();
  const controller = new AbortController();
  const signal = controller.signal;
  const value = fn((async function* () {
    while (true) {
      const pending = promise;
      promise = null;
      const { chunk, done, callback } = await pending;
      nextTick(callback);
      if (done) return;
      if (signal.aborted) throw new AbortError(undefined, { cause: signal.reason });
      ({ promise, resolve } = withResolvers());
      yield chunk;
    }
  })(), { signal });

  return {
    value,
    write(chunk, encoding, callback) {
      const pending = resolve;
      resolve = null;
      pending({ chunk, done: false, callback });
    },
    final(callback) {
      const pending = resolve;
      resolve = null;
      pending({ done: true, callback });
    },
    destroy(error, callback) {
      controller.abort();
      callback(error);
    },
  };
}

/** One Duplex over a Node readable and/or writable. */
function duplexifyPair(pair) {
  const r = pair.readable && typeof pair.readable.read !== "function"
    ? Readable.wrap(pair.readable)
    : pair.readable;
  const w = pair.writable;
  let readable = !!isReadable(r);
  let writable = !!isWritable(w);
  // Callbacks parked until the inner streams are ready.
  let ondrain;
  let onfinish;
  let onreadable;
  let onclose;
  let d;

  function onfinished(error) {
    const callback = onclose;
    onclose = null;
    if (callback) callback(error);
    else if (error) d.destroy(error);
    else if (!readable && !writable) d.destroy();
  }

  d = new Duplexify({
    readableObjectMode: !!r?.readableObjectMode,
    writableObjectMode: !!w?.writableObjectMode,
    readable,
    writable,
  });

  if (writable) {
    eos(w, (error) => {
      writable = false;
      if (error) destroyer(r, error);
      onfinished(error);
    });
    d._write = function (chunk, encoding, callback) {
      if (w.write(chunk, encoding)) callback();
      else ondrain = callback;
    };
    d._final = function (callback) {
      w.end();
      onfinish = callback;
    };
    w.on("drain", () => {
      if (ondrain) {
        const callback = ondrain;
        ondrain = null;
        callback();
      }
    });
    w.on("finish", () => {
      if (onfinish) {
        const callback = onfinish;
        onfinish = null;
        callback();
      }
    });
  }

  if (readable) {
    eos(r, (error) => {
      readable = false;
      if (error) destroyer(r, error);
      onfinished(error);
    });
    r.on("readable", () => {
      if (onreadable) {
        const callback = onreadable;
        onreadable = null;
        callback();
      }
    });
    r.on("end", () => d.push(null));
    d._read = function () {
      while (true) {
        const chunk = r.read();
        if (chunk === null) {
          onreadable = d._read;
          return;
        }
        if (!d.push(chunk)) return;
      }
    };
  }

  d._destroy = function (error, callback) {
    if (!error && onclose !== null) error = new AbortError();
    onreadable = null;
    ondrain = null;
    onfinish = null;
    if (onclose === null) {
      callback(error);
    } else {
      onclose = callback;
      destroyer(w, error);
      destroyer(r, error);
    }
  };
  return d;
}

// ---- web streams -------------------------------------------------------------------

/** Duplex.toWeb: { readable, writable } web streams over a Duplex. */
export function newReadableWritablePairFromDuplex(duplex) {
  if (typeof duplex?._writableState !== "object" || typeof duplex?._readableState !== "object") {
    throw streamErrors.notAStream("duplex", "stream.Duplex", duplex);
  }
  if (isDestroyed(duplex)) {
    const writable = new WritableStream();
    const readable = new ReadableStream();
    writable.close();
    readable.cancel();
    return { readable, writable };
  }
  const writable = isWritable(duplex) ? newWritableStreamFromStreamWritable(duplex) : new WritableStream();
  if (!isWritable(duplex)) writable.close();
  const readable = isReadable(duplex) ? newReadableStreamFromStreamReadable(duplex) : new ReadableStream();
  if (!isReadable(duplex)) readable.cancel();
  return { writable, readable };
}

/** Duplex.fromWeb: a Duplex over a { readable, writable } pair of web streams. */
export function newStreamDuplexFromReadableWritablePair(pair = {}, options = {}) {
  validateObject(pair, "pair");
  const { readable: readableStream, writable: writableStream } = pair;
  if (!(readableStream instanceof ReadableStream)) {
    throw invalidArgType("pair.readable", "ReadableStream", readableStream);
  }
  if (!(writableStream instanceof WritableStream)) {
    throw invalidArgType("pair.writable", "WritableStream", writableStream);
  }
  validateObject(options, "options");
  const {
    allowHalfOpen = false, objectMode = false, encoding, decodeStrings = true, highWaterMark, signal,
  } = options;
  validateBoolean(objectMode, "options.objectMode");
  if (encoding !== undefined && !Buffer.isEncoding(encoding)) {
    throw invalidArgValue("options.encoding", encoding);
  }

  const writer = writableStream.getWriter();
  const reader = readableStream.getReader();
  let writableClosed = false;
  let readableClosed = false;

  const duplex = new Duplex({
    allowHalfOpen,
    highWaterMark,
    objectMode,
    encoding,
    decodeStrings,
    signal,
    writev(chunks, callback) {
      const done = (errors) => {
        errors = errors.filter((e) => e);
        try {
          callback(errors.length === 0 ? undefined : errors);
        } catch (thrown) {
          nextTick(() => destroyer(duplex, thrown));
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
          destroyer(duplex, thrown);
        }
      };
      writer.ready.then(() => writer.write(chunk).then(done, done), done);
    },
    final(callback) {
      const done = (error) => {
        try {
          callback(error);
        } catch (thrown) {
          nextTick(() => destroyer(duplex, thrown));
        }
      };
      if (!writableClosed) writer.close().then(done, done);
    },
    read() {
      reader.read().then(
        (chunk) => duplex.push(chunk.done ? null : chunk.value),
        (error) => destroyer(duplex, error),
      );
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
      const closeWriter = async () => {
        if (!writableClosed) await writer.abort(error);
      };
      const closeReader = async () => {
        if (!readableClosed) await reader.cancel(error);
      };
      if (!writableClosed || !readableClosed) {
        Promise.all([closeWriter(), closeReader()]).then(done, done);
        return;
      }
      done();
    },
  });

  writer.closed.then(
    () => {
      writableClosed = true;
      if (!isWritableEnded(duplex)) destroyer(duplex, streamErrors.prematureClose());
    },
    (error) => {
      writableClosed = true;
      readableClosed = true;
      destroyer(duplex, error);
    },
  );
  reader.closed.then(
    () => {
      readableClosed = true;
    },
    (error) => {
      writableClosed = true;
      readableClosed = true;
      destroyer(duplex, error);
    },
  );
  return duplex;
}
