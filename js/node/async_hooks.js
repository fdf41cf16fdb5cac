// node:async_hooks: `AsyncLocalStorage` and `AsyncResource`, on V8's
// continuation-preserved embedder data, which V8 carries into every promise
// reaction (so across `await`), and which deno_core's timers, microtasks
// and op promises (fetch, KV, ...) carry too. The value carried is a frame:
// a Map from each storage to its store, never changed once made, so a
// continuation always sees the stores of the moment it was scheduled and
// concurrent requests never see each other's. The frame also carries the
// id of the request the code runs for, which the bridge reads for its
// per-request limits and log tags. Async hooks themselves
// (`createHook`) do not exist in Workers: their functions do nothing.

import { core, primordials } from "ext:core/mod.js";
import { currentRequest, REQUEST_ID } from "ext:ridge/globals/00_globals.js";
import { validateFunction } from "./internal/validators.js";

const {
  ReflectApply,
  SafeMap,
  MapPrototypeDelete,
  MapPrototypeForEach,
  MapPrototypeGet,
  MapPrototypeHas,
  MapPrototypeSet,
} = primordials;
const { getAsyncContext, setAsyncContext } = core;

/**
 * A frame copied from the current context, with the request the code runs
 * for kept in it (the bridge's context is that request's id alone).
 */
function copyOfCurrent() {
  const current = getAsyncContext();
  const frame = new SafeMap();
  if (current instanceof SafeMap) {
    MapPrototypeForEach(current, (value, key) => MapPrototypeSet(frame, key, value));
  } else if (typeof current === "number") {
    MapPrototypeSet(frame, REQUEST_ID, current);
  }
  return frame;
}

/** The current frame with `storage` set to `store` (or removed). */
function frameWith(storage, store, remove = false) {
  const frame = copyOfCurrent();
  if (remove) MapPrototypeDelete(frame, storage);
  else MapPrototypeSet(frame, storage, store);
  return frame;
}

/**
 * Runs `fn` in `frame`, then restores the previous context. A frame
 * captured outside any request (at the top level) still runs as part of
 * the request that enters it: per-request limits and log tags follow the
 * request, whatever the stores say.
 */
function runInFrame(frame, fn, thisArg, args) {
  const previous = getAsyncContext();
  const request = currentRequest();
  let entered = frame;
  if (request !== undefined && !(frame instanceof SafeMap && MapPrototypeHas(frame, REQUEST_ID))) {
    entered = new SafeMap();
    if (frame instanceof SafeMap) {
      MapPrototypeForEach(frame, (value, key) => MapPrototypeSet(entered, key, value));
    }
    MapPrototypeSet(entered, REQUEST_ID, request);
  }
  setAsyncContext(entered);
  try {
    return ReflectApply(fn, thisArg, args);
  } finally {
    setAsyncContext(previous);
  }
}

export class AsyncLocalStorage {
  #enabled = true;

  /** Runs `fn` with `store` as this storage's store, for it and everything it schedules. */
  run(store, fn, ...args) {
    this.#enabled = true;
    return runInFrame(frameWith(this, store), fn, undefined, args);
  }

  /** Runs `fn` outside this storage: its store is undefined there. */
  exit(fn, ...args) {
    return runInFrame(frameWith(this, undefined, true), fn, undefined, args);
  }

  getStore() {
    if (!this.#enabled) return undefined;
    const frame = getAsyncContext();
    return frame instanceof SafeMap ? MapPrototypeGet(frame, this) : undefined;
  }

  /** Sets the store for the rest of the current execution and what it schedules. */
  enterWith(store) {
    this.#enabled = true;
    setAsyncContext(frameWith(this, store));
  }

  /** Turns the storage off: `getStore` answers undefined until the next `run`. */
  disable() {
    this.#enabled = false;
  }

  /** `fn`, bound to the current frame: it sees today's stores whenever it runs. */
  static bind(fn) {
    validateFunction(fn, "fn");
    const frame = getAsyncContext();
    return function bound(...args) {
      return runInFrame(frame, fn, this, args);
    };
  }

  /** A function that runs its argument in the frame current now. */
  static snapshot() {
    const frame = getAsyncContext();
    return (fn, ...args) => runInFrame(frame, fn, undefined, args);
  }
}

let nextAsyncId = 1;

/** A resource that runs callbacks in the frame current when it was made. */
export class AsyncResource {
  #frame;
  #asyncId;
  #triggerAsyncId;
  #type;

  constructor(type, options = {}) {
    if (typeof type !== "string") {
      throw new TypeError(`The "type" argument must be of type string.`);
    }
    this.#type = type;
    this.#frame = getAsyncContext();
    this.#asyncId = ++nextAsyncId;
    this.#triggerAsyncId = typeof options === "number" ? options : (options?.triggerAsyncId ?? 0);
  }

  runInAsyncScope(fn, thisArg, ...args) {
    return runInFrame(this.#frame, fn, thisArg, args);
  }

  bind(fn, thisArg) {
    validateFunction(fn, "fn");
    const resource = this;
    const bound = function (...args) {
      return resource.runInAsyncScope(fn, thisArg === undefined ? this : thisArg, ...args);
    };
    Object.defineProperties(bound, {
      length: { value: fn.length, configurable: true },
      asyncResource: { value: this, configurable: true, enumerable: true, writable: true },
    });
    return bound;
  }

  static bind(fn, type, thisArg) {
    return new AsyncResource(type || fn.name || "bound-anonymous-fn").bind(fn, thisArg);
  }

  emitDestroy() {
    return this;
  }

  asyncId() {
    return this.#asyncId;
  }

  triggerAsyncId() {
    return this.#triggerAsyncId;
  }

  get type() {
    return this.#type;
  }
}

/** Async hooks are not tracked in Workers: a hook that never fires. */
export function createHook() {
  const hook = {
    enable: () => hook,
    disable: () => hook,
  };
  return hook;
}

export function executionAsyncId() {
  return 0;
}

export function triggerAsyncId() {
  return 0;
}

export function executionAsyncResource() {
  return {};
}

export const asyncWrapProviders = Object.freeze({ __proto__: null });

export default {
  AsyncLocalStorage,
  AsyncResource,
  createHook,
  executionAsyncId,
  triggerAsyncId,
  executionAsyncResource,
  asyncWrapProviders,
};
