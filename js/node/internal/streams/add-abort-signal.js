// stream.addAbortSignal(signal, stream): destroys the stream with an
// AbortError when the signal aborts.

import { AbortError, invalidArgType } from "../errors.js";
import { addAbortListener, eos } from "./end-of-stream.js";
import { isNodeStream, isWebStream, streamErrors } from "./utils.js";

export function addAbortSignal(signal, stream) {
  if (signal == null || typeof signal !== "object" || !("aborted" in signal)) {
    throw invalidArgType("signal", "AbortSignal", signal);
  }
  if (isWebStream(stream)) throw streamErrors.webInterop("addAbortSignal");
  if (!isNodeStream(stream)) {
    throw invalidArgType("stream", ["ReadableStream", "WritableStream", "Stream"], stream);
  }
  const onAbort = () => stream.destroy(new AbortError(undefined, { cause: signal.reason }));
  if (signal.aborted) {
    onAbort();
  } else {
    eos(stream, addAbortListener(signal, onAbort));
  }
  return stream;
}
