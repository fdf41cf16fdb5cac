// stream.compose(...streams): pipes the streams together and returns one
// Duplex that writes into the first and reads from the last.

import { AbortError, invalidArgValue, missingArgs } from "../errors.js";
import { pipeline } from "./pipeline.js";
import { Duplex } from "./duplex.js";
import { destroyer } from "./destroy.js";
import { isNodeStream, isReadable, isWritable } from "./utils.js";

export function compose(...streams) {
  if (streams.length === 0) throw missingArgs("streams");
  if (streams.length === 1) return Duplex.from(streams[0]);
  const original = [...streams];
  if (typeof streams[0] === "function") streams[0] = Duplex.from(streams[0]);
  const last = streams.length - 1;
  if (typeof streams[last] === "function") streams[last] = Duplex.from(streams[last]);

  for (let n = 0; n < streams.length; ++n) {
    if (!isNodeStream(streams[n])) continue;
    if (n < last && !isReadable(streams[n])) {
      throw invalidArgValue(`streams[${n}]`, original[n], "must be readable");
    }
    if (n > 0 && !isWritable(streams[n])) {
      throw invalidArgValue(`streams[${n}]`, original[n], "must be writable");
    }
  }

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

  const head = streams[0];
  const tail = pipeline(streams, onfinished);
  const writable = !!isWritable(head);
  const readable = !!isReadable(tail);

  d = new Duplex({
    writableObjectMode: !!head?.writableObjectMode,
    readableObjectMode: !!tail?.readableObjectMode,
    writable,
    readable,
  });

  if (writable) {
    d._write = function (chunk, encoding, callback) {
      if (head.write(chunk, encoding)) callback();
      else ondrain = callback;
    };
    d._final = function (callback) {
      head.end();
      onfinish = callback;
    };
    head.on("drain", () => {
      if (ondrain) {
        const callback = ondrain;
        ondrain = null;
        callback();
      }
    });
    tail.on("finish", () => {
      if (onfinish) {
        const callback = onfinish;
        onfinish = null;
        callback();
      }
    });
  }

  if (readable) {
    tail.on("readable", () => {
      if (onreadable) {
        const callback = onreadable;
        onreadable = null;
        callback();
      }
    });
    tail.on("end", () => d.push(null));
    d._read = function () {
      while (true) {
        const chunk = tail.read();
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
      destroyer(tail, error);
    }
  };
  return d;
}
