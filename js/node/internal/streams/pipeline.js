// stream.pipeline(...streams, callback): pipes each stage into the next
// (streams, iterables, or functions taking the previous stage as an async
// iterable), destroys every stage once one fails, and calls back once,
// with the first error or after the last stage finished.

import { nextTick } from "../../process.js";
import { AbortError, invalidArgType, missingArgs } from "../errors.js";
import { validateAbortSignal, validateFunction } from "../validators.js";
import { eos } from "./end-of-stream.js";
import { destroyer as destroyStream } from "./destroy.js";
import { Duplex } from "./duplex.js";
import { Readable, from } from "./readable.js";
import { PassThrough } from "./transform.js";
import {
  aggregateTwoErrors, isIterable, isNodeStream, isReadable, isReadableNodeStream, once, streamErrors,
} from "./utils.js";

/** Watches one stage; destroy() tears it down unless it already finished cleanly. */
function stageDestroyer(stream, reading, writing) {
  let finished = false;
  stream.on("close", () => {
    finished = true;
  });
  const cleanup = eos(stream, { readable: reading, writable: writing }, (error) => {
    finished = !error;
  });
  return {
    destroy(error) {
      if (finished) return;
      finished = true;
      destroyStream(stream, error || streamErrors.destroyed("pipe"));
    },
    cleanup,
  };
}

function popCallback(streams) {
  validateFunction(streams[streams.length - 1], "streams[stream.length - 1]");
  return streams.pop();
}

/** The previous stage as something a function stage can iterate. */
function makeAsyncIterable(value) {
  if (isIterable(value)) return value;
  if (isReadableNodeStream(value)) return fromReadable(value);
  throw invalidArgType("val", ["Readable", "Iterable", "AsyncIterable"], value);
}

async function* fromReadable(stream) {
  yield* Readable.prototype[Symbol.asyncIterator].call(stream);
}

/** Writes an (async) iterable into a writable, honouring 'drain'. */
async function pump(iterable, writable, finish, { end }) {
  let error;
  let onresolve = null;
  const resume = (e) => {
    if (e) error = e;
    if (onresolve) {
      const callback = onresolve;
      onresolve = null;
      callback();
    }
  };
  const wait = () => new Promise((resolve, reject) => {
    if (error) {
      reject(error);
    } else {
      onresolve = () => (error ? reject(error) : resolve());
    }
  });

  writable.on("drain", resume);
  const cleanup = eos(writable, { readable: false }, resume);
  try {
    if (writable.writableNeedDrain) await wait();
    for await (const chunk of iterable) {
      if (!writable.write(chunk)) await wait();
    }
    if (end) writable.end();
    await wait();
    finish();
  } catch (e) {
    finish(error !== e ? aggregateTwoErrors(error, e) : e);
  } finally {
    cleanup();
    writable.off("drain", resume);
  }
}

export function pipeline(...streams) {
  return pipelineImpl(streams, once(popCallback(streams)));
}

export function pipelineImpl(streams, callback, options) {
  if (streams.length === 1 && Array.isArray(streams[0])) streams = streams[0];
  if (streams.length < 2) throw missingArgs("streams");

  // Function stages get this signal; it aborts when the pipeline fails.
  const controller = new AbortController();
  const signal = controller.signal;
  const outerSignal = options?.signal;
  validateAbortSignal(outerSignal, "options.signal");
  const abort = () => finishImpl(new AbortError());
  outerSignal?.addEventListener("abort", abort);

  let error;
  let value;
  const destroys = [];
  // Listeners to remove from a last stage that stays readable.
  const lastStreamCleanup = [];
  let finishCount = 0;

  function finish(e) {
    finishImpl(e, --finishCount === 0);
  }

  function finishImpl(e, final) {
    // A premature close is only kept if nothing more telling comes along.
    if (e && (!error || error.code === "ERR_STREAM_PREMATURE_CLOSE")) error = e;
    if (!error && !final) return;
    while (destroys.length) destroys.shift()(error);
    outerSignal?.removeEventListener("abort", abort);
    controller.abort();
    if (final) {
      if (!error) for (const fn of lastStreamCleanup) fn();
      nextTick(callback, error, value);
    }
  }

  let ret;
  for (let i = 0; i < streams.length; i++) {
    const stream = streams[i];
    const reading = i < streams.length - 1;
    const writing = i > 0;
    const end = reading || options?.end !== false;
    const isLastStream = i === streams.length - 1;

    if (isNodeStream(stream)) {
      if (end) {
        const { destroy, cleanup } = stageDestroyer(stream, reading, writing);
        destroys.push(destroy);
        if (isReadable(stream) && isLastStream) lastStreamCleanup.push(cleanup);
      }
      // Errors end the pipeline; aborts and premature closes come through eos.
      const onError = (e) => {
        if (e && e.name !== "AbortError" && e.code !== "ERR_STREAM_PREMATURE_CLOSE") finish(e);
      };
      stream.on("error", onError);
      if (isReadable(stream) && isLastStream) {
        lastStreamCleanup.push(() => stream.removeListener("error", onError));
      }
    }

    if (i === 0) {
      if (typeof stream === "function") {
        ret = stream({ signal });
        if (!isIterable(ret)) {
          throw streamErrors.invalidReturnValue("Iterable, AsyncIterable or Stream", "source", ret);
        }
      } else if (isIterable(stream) || isReadableNodeStream(stream)) {
        ret = stream;
      } else {
        ret = from(Duplex, stream);
      }
    } else if (typeof stream === "function") {
      ret = stream(makeAsyncIterable(ret), { signal });
      if (reading) {
        if (!isIterable(ret, true)) {
          throw streamErrors.invalidReturnValue("AsyncIterable", `transform[${i - 1}]`, ret);
        }
      } else {
        // The last stage is a function: its result (a promise, or an async
        // iterable) goes through a PassThrough, the pipeline's return value.
        const pt = new PassThrough({ objectMode: true });
        const then = ret?.then;
        if (typeof then === "function") {
          finishCount++;
          then.call(
            ret,
            (result) => {
              value = result;
              if (result != null) pt.write(result);
              if (end) pt.end();
              nextTick(finish);
            },
            (e) => {
              pt.destroy(e);
              nextTick(finish, e);
            },
          );
        } else if (isIterable(ret, true)) {
          finishCount++;
          pump(ret, pt, finish, { end });
        } else {
          throw streamErrors.invalidReturnValue("AsyncIterable or Promise", "destination", ret);
        }
        ret = pt;
        const { destroy, cleanup } = stageDestroyer(ret, false, true);
        destroys.push(destroy);
        if (isLastStream) lastStreamCleanup.push(cleanup);
      }
    } else if (isNodeStream(stream)) {
      if (isReadableNodeStream(ret)) {
        finishCount += 2;
        const cleanup = pipe(ret, stream, finish, { end });
        if (isReadable(stream) && isLastStream) lastStreamCleanup.push(cleanup);
      } else if (isIterable(ret)) {
        finishCount++;
        pump(ret, stream, finish, { end });
      } else {
        throw invalidArgType("val", ["Readable", "Iterable", "AsyncIterable"], ret);
      }
      ret = stream;
    } else {
      ret = from(Duplex, stream);
    }
  }

  if (signal.aborted || outerSignal?.aborted) nextTick(abort);
  return ret;
}

/** src.pipe(dst), reporting to `finish` once for each side. */
function pipe(src, dst, finish, { end }) {
  let ended = false;
  dst.on("close", () => {
    if (!ended) finish(streamErrors.prematureClose());
  });
  src.pipe(dst, { end });
  if (end) {
    src.once("end", () => {
      ended = true;
      dst.end();
    });
  } else {
    finish();
  }
  eos(src, { readable: true, writable: false }, (error) => {
    const rState = src._readableState;
    if (error?.code === "ERR_STREAM_PREMATURE_CLOSE" && rState?.ended && !rState.errored &&
        !rState.errorEmitted) {
      // Ended but closed before 'end' went out (autoDestroy race): wait for it.
      src.once("end", finish).once("error", finish);
    } else {
      finish(error);
    }
  });
  return eos(dst, { readable: false, writable: true }, finish);
}
