// node:timers/promises: promise-returning timers (setTimeout, setImmediate),
// an async-iterator setInterval, and the experimental `scheduler`
// (wait/yield), with workerd's argument checks and AbortSignal handling.
// Built straight on the global setTimeout/setInterval: node:timers imports
// this module, so importing it back would make a cycle.
// `ref` options are validated but have no effect: a Worker has no event loop
// for a timer to keep alive.

import { AbortError, invalidArgType, nodeError } from "../internal/errors.js";
import {
  validateAbortSignal,
  validateBoolean,
  validateNumber,
  validateObject,
} from "../internal/validators.js";

/** Checks `{ signal, ref }` the way workerd does; gives the signal. */
function validateOptions(options) {
  // Unlike the shared validateObject, workerd refuses functions here.
  if (typeof options === "function") throw invalidArgType("options", "object", options);
  validateObject(options, "options");
  const { signal, ref } = options;
  if (signal !== undefined) validateAbortSignal(signal, "options.signal");
  if (ref !== undefined) validateBoolean(ref, "options.ref");
  return signal;
}

function abortError(signal) {
  return new AbortError(undefined, { cause: signal.reason });
}

/**
 * Settles with `value` after a host timeout of `delay` ms, or rejects with an
 * AbortError when `signal` aborts first.
 */
function settleAfter(delay, value, signal) {
  if (signal?.aborted) return Promise.reject(abortError(signal));
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      globalThis.clearTimeout(id);
      reject(abortError(signal));
    };
    const id = globalThis.setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(value);
    }, delay);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

export async function setTimeout(delay, value, options = {}) {
  if (delay !== undefined) validateNumber(delay, "delay");
  const signal = validateOptions(options);
  return settleAfter(delay ?? 1, value, signal);
}

// In workerd an immediate is a zero-delay timeout: it runs in turn with
// timeouts of 0 ms, in the order they were scheduled.
export async function setImmediate(value, options = {}) {
  const signal = validateOptions(options);
  return settleAfter(0, value, signal);
}

/**
 * Yields `value` once per tick of a `delay` ms interval. Ticks that come
 * while the consumer is busy are counted and yielded back to back; an abort
 * ends the iteration with an AbortError.
 */
export async function* setInterval(delay, value, options = {}) {
  if (delay !== undefined) validateNumber(delay, "delay");
  const signal = validateOptions(options);
  if (signal?.aborted) throw abortError(signal);

  let pending = 0;
  let wake;
  const id = globalThis.setInterval(() => {
    pending++;
    wake?.();
    wake = undefined;
  }, delay ?? 1);
  const onAbort = () => {
    globalThis.clearInterval(id);
    wake?.();
    wake = undefined;
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    while (!signal?.aborted) {
      if (pending === 0) await new Promise((resolve) => { wake = resolve; });
      for (; pending > 0; pending--) yield value;
    }
    throw abortError(signal);
  } finally {
    globalThis.clearInterval(id);
    signal?.removeEventListener("abort", onAbort);
  }
}

// Error classes workerd's scheduler.wait() can rebuild by name.
const ERROR_CLASSES = {
  Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError, AggregateError,
};

/**
 * What workerd's scheduler.wait() rejects with when its signal aborts: never
 * the reason itself but a new error made from it (the reason crosses
 * workerd's C++ as text). A DOMException or a built-in error class comes back
 * as a fresh one of its kind with the same message; any other error as an
 * Error reading "name: message"; anything else as an Error describing it.
 */
function waitRejection(reason) {
  if (reason instanceof DOMException) return new DOMException(reason.message, reason.name);
  if (reason instanceof Error) {
    const Kind = Object.hasOwn(ERROR_CLASSES, reason.name) ? ERROR_CLASSES[reason.name] : null;
    if (Kind === AggregateError) return new AggregateError([], reason.message);
    if (Kind) return new Kind(reason.message);
    return new Error(`${reason.name}: ${reason.message}`);
  }
  return new Error(describeValue(reason));
}

/** How V8 names a value in a message without calling its own methods. */
function describeValue(value) {
  if (typeof value !== "object" || value === null) return String(value);
  if (Array.isArray(value)) return "[object Array]";
  const name = Object.getPrototypeOf(value)?.constructor?.name;
  return name ? `#<${name}>` : "[object Object]";
}

/** workerd's global `scheduler.wait(delay, { signal })`, argument checks included. */
async function wait(delay, options) {
  delay = +delay;
  if (options != null && typeof options !== "object" && typeof options !== "function") {
    throw new TypeError("Failed to execute 'wait' on 'Scheduler': parameter 2 is not of type 'WaitOptions'.");
  }
  const signal = options?.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError("Incorrect type for the 'signal' field on 'WaitOptions': " +
      "the provided value is not of type 'AbortSignal'.");
  }
  if (signal?.aborted) throw waitRejection(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      globalThis.clearTimeout(id);
      reject(waitRejection(signal.reason));
    };
    const id = globalThis.setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, delay);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

const kScheduler = Symbol.for("kScheduler");

function invalidThis() {
  return nodeError(TypeError, "ERR_INVALID_THIS", 'Value of "this" must be of type Scheduler');
}

// The WICG scheduling API's shape (https://github.com/WICG/scheduling-apis):
// yield() is an awaitable setImmediate, wait() an awaitable setTimeout.
class Scheduler {
  [kScheduler] = true;

  yield() {
    if (!this[kScheduler]) throw invalidThis();
    return setImmediate();
  }

  wait(delay, options) {
    if (!this[kScheduler]) throw invalidThis();
    return wait(delay, options);
  }
}

export const scheduler = new Scheduler();

export default { scheduler, setImmediate, setInterval, setTimeout };
