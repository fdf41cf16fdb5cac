// node:timers: Node's timer functions as workerd gives them. setTimeout and
// setInterval return a Timeout wrapping a host timer (the global
// setTimeout/setInterval); a Timeout converts to the host's numeric id, so
// the global clearTimeout works on it too. setImmediate returns an Immediate,
// which in workerd is a zero-delay timeout. ref()/unref() only record a flag:
// a Worker has no event loop for a timer to keep alive.

import { validateFunction } from "./internal/validators.js";
import promises from "./timers/promises.js";

export { promises };

// Set by the classes' static blocks: how the clear functions reach a timer's
// private host id.
let stopTimeout;
let stopImmediate;

export class Timeout {
  #id;
  #callback;
  #after;
  #args;
  #repeat;
  #refed;

  constructor(callback, after = 1, args = [], isRepeat = false, isRefed = false) {
    this.#callback = callback;
    // `* 1` rather than Number(): a BigInt delay throws, as in workerd.
    this.#after = after * 1;
    this.#args = args;
    this.#repeat = isRepeat;
    this.#refed = isRefed;
    this.#start();
  }

  #start() {
    const schedule = this.#repeat ? globalThis.setInterval : globalThis.setTimeout;
    // Kept as a number even where the host's timer handle is an object.
    this.#id = +schedule(this.#callback, this.#after, ...this.#args);
  }

  #stop() {
    if (this.#repeat) globalThis.clearInterval(this.#id);
    else globalThis.clearTimeout(this.#id);
  }

  /** Starts the timer over, with a new host id. */
  refresh() {
    this.#stop();
    this.#start();
    return this;
  }

  ref() {
    this.#refed = true;
    return this;
  }

  unref() {
    this.#refed = false;
    return this;
  }

  hasRef() {
    return this.#refed;
  }

  close() {
    this.#stop();
    return this;
  }

  [Symbol.dispose]() {
    this.#stop();
  }

  [Symbol.toPrimitive]() {
    return this.#id;
  }

  static {
    stopTimeout = (timeout) => timeout.#stop();
  }
}

// Only timers.js makes Immediates; `new Immediate()` elsewhere is refused,
// as workerd's is not constructible.
const kCreate = Symbol("create Immediate");

class Immediate {
  #id;

  constructor(token, callback, args) {
    if (token !== kCreate) throw new TypeError("Illegal constructor");
    this.#id = globalThis.setTimeout(callback, 0, ...args);
  }

  // workerd's Immediates are never ref'ed, and ref()/unref() return nothing.
  ref() {}

  unref() {}

  hasRef() {
    return false;
  }

  [Symbol.dispose]() {
    globalThis.clearTimeout(this.#id);
  }

  get [Symbol.toStringTag]() {
    return "Immediate";
  }

  static {
    stopImmediate = (immediate) => globalThis.clearTimeout(immediate.#id);
  }
}

export function setTimeout(callback, delay, ...args) {
  validateFunction(callback, "callback");
  return new Timeout(callback, delay, args, false, true);
}

export function setInterval(callback, delay, ...args) {
  validateFunction(callback, "callback");
  return new Timeout(callback, delay, args, true, true);
}

/** Cancels a Timeout, or a host timer by its numeric id; ignores anything else. */
export function clearTimeout(timer) {
  if (timer instanceof Timeout) stopTimeout(timer);
  else if (typeof timer === "number") globalThis.clearTimeout(timer);
}

export function clearInterval(timer) {
  if (timer instanceof Timeout) stopTimeout(timer);
  else if (typeof timer === "number") globalThis.clearInterval(timer);
}

// workerd checks these two arguments with Web IDL, hence the wording.
export function setImmediate(callback, ...args) {
  if (typeof callback !== "function") {
    throw new TypeError("Failed to execute 'setImmediate' on 'TimersUtil': parameter 1 is not of type 'function'.");
  }
  return new Immediate(kCreate, callback, args);
}

// null and undefined are accepted, but only when passed: a call with no
// argument at all is refused, as in workerd.
export function clearImmediate(immediate) {
  if (immediate == null && arguments.length > 0) return;
  if (!(immediate instanceof Immediate)) {
    throw new TypeError("Failed to execute 'clearImmediate' on 'TimersUtil': parameter 1 is not of type 'Immediate'.");
  }
  stopImmediate(immediate);
}

/** @deprecated Node's old way to restart a timer: refresh() it. */
export function active(timer) {
  if (timer instanceof Timeout) timer.refresh();
}

/** @deprecated Node's old way to cancel a timer. */
export function unenroll(timer) {
  clearTimeout(timer);
}

/** @deprecated Works on Node's internal timer lists, which Workers do not have. */
export function enroll() {
  throw new Error("Not implemented. Please use setTimeout() instead.");
}

export default {
  promises,
  setTimeout,
  clearTimeout,
  setImmediate,
  clearImmediate,
  setInterval,
  clearInterval,
  active,
  unenroll,
  enroll,
};
