// The iterator-helper style methods of Readable (map, filter, take, reduce...).
// Each is called with the stream as `this`. Those that make a new stream
// return an async generator (readable.js wraps it in Readable.from); the
// others return a promise. Arguments are checked at call time.

import { AbortError, invalidArgType, nodeError, outOfRange } from "../errors.js";
import { validateAbortSignal, validateInteger, validateObject } from "../validators.js";
import { finished } from "./end-of-stream.js";

// What a mapper returns to drop a value (filter, forEach).
const kEmpty = Symbol("kEmpty");
// Queued after the last value.
const kEof = Symbol("kEof");

function validateFn(fn, name = "fn") {
  if (typeof fn !== "function") throw invalidArgType(name, ["Function", "AsyncFunction"], fn);
}

function validateOptions(options) {
  if (options != null) validateObject(options, "options");
  if (options?.signal != null) validateAbortSignal(options.signal, "options.signal");
}

function throwIfAborted(options) {
  if (options?.signal?.aborted) throw new AbortError(undefined, { cause: options.signal.reason });
}

/**
 * Calls fn on each value, up to `concurrency` calls in flight, and yields
 * the results in order.
 */
export function map(fn, options) {
  validateFn(fn);
  validateOptions(options);
  let concurrency = 1;
  if (options?.concurrency != null) concurrency = Math.floor(options.concurrency);
  validateInteger(concurrency, "concurrency", 1);
  return mapGenerator(this, fn, options, concurrency);
}

async function* mapGenerator(stream, fn, options, concurrency) {
  const controller = new AbortController();
  const signal = controller.signal;
  const fnOptions = { signal };
  const abort = () => controller.abort();
  if (options?.signal?.aborted) abort();
  options?.signal?.addEventListener("abort", abort);

  // Results (values or promises) in input order, then kEof or a rejection.
  const queue = [];
  let wakeConsumer = null; // Set while the consumer waits for the queue.
  let wakePump = null; // Set while the pump waits for room.
  let done = false;
  const stop = () => {
    done = true;
  };

  async function pump() {
    try {
      for await (const value of stream) {
        if (done) return;
        if (signal.aborted) throw new AbortError();
        let result;
        try {
          result = fn(value, fnOptions);
        } catch (error) {
          result = Promise.reject(error);
        }
        if (result === kEmpty) continue;
        // A failed call stops taking input (the consumer rethrows it).
        if (typeof result?.catch === "function") result.catch(stop);
        queue.push(result);
        if (wakeConsumer) {
          wakeConsumer();
          wakeConsumer = null;
        }
        if (!done && queue.length && queue.length >= concurrency) {
          await new Promise((resolve) => {
            wakePump = resolve;
          });
        }
      }
      queue.push(kEof);
    } catch (error) {
      const rejected = Promise.reject(error);
      rejected.then(undefined, stop);
      queue.push(rejected);
    } finally {
      done = true;
      if (wakeConsumer) {
        wakeConsumer();
        wakeConsumer = null;
      }
      options?.signal?.removeEventListener("abort", abort);
    }
  }

  pump();
  try {
    while (true) {
      while (queue.length > 0) {
        const value = await queue[0];
        if (value === kEof) return;
        if (signal.aborted) throw new AbortError();
        if (value !== kEmpty) yield value;
        queue.shift();
        if (wakePump) {
          wakePump();
          wakePump = null;
        }
      }
      await new Promise((resolve) => {
        wakeConsumer = resolve;
      });
    }
  } finally {
    controller.abort();
    done = true;
    if (wakePump) {
      wakePump();
      wakePump = null;
    }
  }
}

export function asIndexedPairs(options) {
  validateOptions(options);
  return (async function* asIndexedPairs(stream) {
    let index = 0;
    for await (const value of stream) {
      if (options?.signal?.aborted) throw new AbortError("Aborted", { cause: options.signal.reason });
      yield [index++, value];
    }
  })(this);
}

export async function some(fn, options) {
  validateFn(fn);
  for await (const _ of filter.call(this, fn, options)) return true;
  return false;
}

export async function every(fn, options) {
  validateFn(fn);
  return !(await some.call(this, async (...args) => !(await fn(...args)), options));
}

export async function find(fn, options) {
  for await (const result of filter.call(this, fn, options)) return result;
  return undefined;
}

export async function forEach(fn, options) {
  validateFn(fn);
  async function forEachFn(value, fnOptions) {
    await fn(value, fnOptions);
    return kEmpty;
  }
  for await (const _ of map.call(this, forEachFn, options));
}

export function filter(fn, options) {
  validateFn(fn);
  async function filterFn(value, fnOptions) {
    return (await fn(value, fnOptions)) ? value : kEmpty;
  }
  return map.call(this, filterFn, options);
}

export async function reduce(reducer, initialValue, options) {
  validateFn(reducer, "reducer");
  validateOptions(options);
  let hasInitialValue = arguments.length > 1;
  if (options?.signal?.aborted) {
    const error = new AbortError(undefined, { cause: options.signal.reason });
    this.once("error", () => {}); // The error is reported by the rejection.
    await finished(this.destroy(error));
    throw error;
  }
  const controller = new AbortController();
  const signal = controller.signal;
  const abort = () => controller.abort();
  options?.signal?.addEventListener("abort", abort, { once: true });
  let gotAny = false;
  try {
    for await (const value of this) {
      gotAny = true;
      if (options?.signal?.aborted) throw new AbortError();
      if (!hasInitialValue) {
        initialValue = value;
        hasInitialValue = true;
      } else {
        initialValue = await reducer(initialValue, value, { signal });
      }
    }
    if (!gotAny && !hasInitialValue) {
      throw nodeError(TypeError, "ERR_MISSING_ARGS", "Reduce of an empty stream requires an initial value");
    }
  } finally {
    controller.abort();
    options?.signal?.removeEventListener("abort", abort);
  }
  return initialValue;
}

export async function toArray(options) {
  validateOptions(options);
  const result = [];
  for await (const value of this) {
    throwIfAborted(options);
    result.push(value);
  }
  return result;
}

export function flatMap(fn, options) {
  const values = map.call(this, fn, options);
  return (async function* flatMap() {
    for await (const value of values) yield* value;
  })();
}

/** Number(n), NaN as 0; negative is an error. */
function toIntegerOrInfinity(number) {
  number = Number(number);
  if (Number.isNaN(number)) return 0;
  if (number < 0) throw outOfRange("number", ">= 0", number);
  return number;
}

export function drop(number, options) {
  validateOptions(options);
  number = toIntegerOrInfinity(number);
  return (async function* drop(stream) {
    if (options?.signal?.aborted) throw new AbortError();
    for await (const value of stream) {
      if (options?.signal?.aborted) throw new AbortError();
      if (number-- <= 0) yield value;
    }
  })(this);
}

export function take(number, options) {
  validateOptions(options);
  number = toIntegerOrInfinity(number);
  return (async function* take(stream) {
    if (options?.signal?.aborted) throw new AbortError();
    for await (const value of stream) {
      if (options?.signal?.aborted) throw new AbortError();
      if (number-- > 0) yield value;
      else return;
    }
  })(this);
}
