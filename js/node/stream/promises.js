// node:stream/promises: pipeline and finished, returning promises.

import { pipelineImpl } from "../internal/streams/pipeline.js";
import { finished } from "../internal/streams/end-of-stream.js";
import { isIterable, isNodeStream } from "../internal/streams/utils.js";

export { finished };

/** pipeline(...streams, [options]): options { signal, end } may come last. */
export function pipeline(...streams) {
  return new Promise((resolve, reject) => {
    let signal;
    let end;
    const last = streams[streams.length - 1];
    if (last && typeof last === "object" && !isNodeStream(last) && !isIterable(last)) {
      ({ signal, end } = streams.pop());
    }
    pipelineImpl(streams, (error, value) => (error ? reject(error) : resolve(value)), { signal, end });
  });
}

export const promises = { pipeline, finished };

export default promises;
