// node:events: EventEmitter and the module's helpers (once, on,
// getEventListeners, setMaxListeners, addAbortListener, ...), behaving as
// workerd's do.
//
// An emitter keeps its listeners in `this._events`, a null-prototype object
// mapping each event name to a single function or, from the second listener
// on, to an array of them; `this._eventsCount` counts the names. Old npm
// packages read and even assign these fields, so that layout is kept as
// Node has it. EventEmitter is a plain function, not a class, because those
// packages also inherit from it with `EventEmitter.call(this)`.

import { AbortError, invalidArgType, nodeError, outOfRange } from "./internal/errors.js";
import {
  validateAbortSignal,
  validateBoolean,
  validateFunction,
  validateObject,
} from "./internal/validators.js";

const kCapture = Symbol("kCapture");
const kRejection = Symbol.for("nodejs.rejection");
const kErrorMonitor = Symbol("events.errorMonitor");
const kMaxEventTargetListeners = Symbol("events.maxEventTargetListeners");
const kMaxEventTargetListenersWarned = Symbol("events.maxEventTargetListenersWarned");

export let defaultMaxListeners = 10;
export const errorMonitor = kErrorMonitor;
export const captureRejectionSymbol = kRejection;
export const usingDomains = false;
// A snapshot, as on workerd: `EventEmitter.captureRejections` is the live switch.
export const captureRejections = false;

export function EventEmitter(options) {
  EventEmitter.init.call(this, options);
  return this;
}

EventEmitter.init = function (options) {
  // A fresh listener table, unless the object already has its own (init called
  // twice); one inherited from a prototype emitter must not be shared.
  if (this._events === undefined || this._events === Object.getPrototypeOf(this)._events) {
    this._events = { __proto__: null };
    this._eventsCount = 0;
  }
  this._maxListeners ??= undefined;
  this.domain = null;
  if (options?.captureRejections) {
    validateBoolean(options.captureRejections, "options.captureRejections");
    this[kCapture] = true;
  } else {
    // An own property keeps emit's rejection check off the prototype chain.
    this[kCapture] = EventEmitter.prototype[kCapture];
  }
};

const proto = EventEmitter.prototype;
proto._events = undefined;
proto._eventsCount = 0;
proto._maxListeners = undefined;
Object.defineProperty(proto, kCapture, { value: false, writable: true, enumerable: false });

function checkMaxListeners(n, name) {
  if (typeof n !== "number" || n < 0 || Number.isNaN(n)) {
    throw outOfRange(name, "a non-negative number", n);
  }
}

proto.setMaxListeners = function setMaxListeners(n) {
  checkMaxListeners(n, "n");
  this._maxListeners = n;
  return this;
};

function maxListenersOf(emitter) {
  return emitter._maxListeners === undefined ? defaultMaxListeners : emitter._maxListeners;
}

proto.getMaxListeners = function getMaxListeners() {
  return maxListenersOf(this);
};

proto.emit = function emit(type, ...args) {
  const events = this._events;
  if (type === "error") {
    if (events?.[kErrorMonitor] !== undefined) this.emit(kErrorMonitor, ...args);
    if (events?.error === undefined) throw unhandledError(args[0]);
  } else if (events === undefined) {
    return false;
  }
  const handler = events[type];
  if (handler === undefined) return false;
  if (typeof handler === "function") {
    // The common case: one listener, stored bare, called without copying anything.
    const result = Reflect.apply(handler, this, args);
    if (result !== undefined && result !== null) captureRejection(this, result, type, args);
  } else {
    // A copy, so that listeners added or removed by a listener count from the next emit.
    const listeners = handler.slice();
    for (let i = 0; i < listeners.length; i++) {
      const result = Reflect.apply(listeners[i], this, args);
      if (result !== undefined && result !== null) captureRejection(this, result, type, args);
    }
  }
  return true;
};

/** What emit("error") throws when nothing listens: the error itself, or one wrapping the value. */
function unhandledError(value) {
  if (value instanceof Error) return value;
  const error = nodeError(Error, "ERR_UNHANDLED_ERROR", `Unhandled error. (${inspect(value)})`);
  error.context = value;
  return error;
}

/** Sends a listener's rejected promise to the emitter, when it captures rejections. */
function captureRejection(emitter, promise, type, args) {
  if (!emitter[kCapture]) return;
  try {
    // Read once: `then` may be a getter that throws or changes.
    const then = promise.then;
    if (typeof then === "function") {
      Reflect.apply(then, promise, [undefined, (error) => {
        // A later turn, so that a throwing 'error' handler is not a rejection of this promise.
        // (process.nextTick is queueMicrotask on Workers; ./process.js imports this module.)
        queueMicrotask(() => emitRejection(emitter, error, type, args));
      }]);
    }
  } catch (error) {
    emitter.emit("error", error);
  }
}

function emitRejection(emitter, error, type, args) {
  if (typeof emitter[kRejection] === "function") {
    emitter[kRejection](error, type, ...args);
    return;
  }
  // Off while the 'error' event runs, so a rejecting 'error' listener cannot loop.
  const previous = emitter[kCapture];
  try {
    emitter[kCapture] = false;
    emitter.emit("error", error);
  } finally {
    emitter[kCapture] = previous;
  }
}

function addListenerTo(target, type, listener, prepend) {
  validateFunction(listener, "listener");
  let events = target._events;
  if (events === undefined) {
    events = target._events = { __proto__: null };
    target._eventsCount = 0;
  } else if (events.newListener !== undefined) {
    target.emit("newListener", type, listener.listener ?? listener);
    // A 'newListener' listener may have replaced the table.
    events = target._events;
  }

  const existing = events[type];
  if (existing === undefined) {
    events[type] = listener;
    ++target._eventsCount;
    return target;
  }
  let list;
  if (typeof existing === "function") {
    list = events[type] = prepend ? [listener, existing] : [existing, listener];
  } else {
    list = existing;
    if (prepend) list.unshift(listener);
    else list.push(listener);
  }
  const max = maxListenersOf(target);
  if (max > 0 && list.length > max && !list.warned) {
    list.warned = true;
    // workerd prints this line rather than emitting a process warning.
    console.log(`Possible EventEmitter memory leak detected. ${list.length} ${String(type)} ` +
      "listeners added to an EventEmitter. Use emitter.setMaxListeners() to increase limit");
  }
  return target;
}

proto.addListener = function addListener(type, listener) {
  return addListenerTo(this, type, listener, false);
};
proto.on = proto.addListener;

proto.prependListener = function prependListener(type, listener) {
  return addListenerTo(this, type, listener, true);
};

// A once-listener is a bound onceWrapper over this state; its `listener`
// property names the user's function, for listeners() and removeListener().
function onceWrapper(...args) {
  if (this.fired) return undefined;
  this.target.removeListener(this.type, this.wrapper);
  this.fired = true;
  return Reflect.apply(this.listener, this.target, args);
}

function onceWrap(target, type, listener) {
  const state = { fired: false, wrapper: undefined, target, type, listener };
  const wrapper = onceWrapper.bind(state);
  wrapper.listener = listener;
  state.wrapper = wrapper;
  return wrapper;
}

proto.once = function once(type, listener) {
  validateFunction(listener, "listener");
  this.on(type, onceWrap(this, type, listener));
  return this;
};

proto.prependOnceListener = function prependOnceListener(type, listener) {
  validateFunction(listener, "listener");
  this.prependListener(type, onceWrap(this, type, listener));
  return this;
};

proto.removeListener = function removeListener(type, listener) {
  validateFunction(listener, "listener");
  const events = this._events;
  const list = events?.[type];
  if (list === undefined) return this;

  if (list === listener || list.listener === listener) {
    // Removing the emitter's last listener of all drops the table quietly.
    if (--this._eventsCount === 0) {
      this._events = { __proto__: null };
    } else {
      delete events[type];
      if (events.removeListener !== undefined) {
        this.emit("removeListener", type, list.listener || listener);
      }
    }
  } else if (typeof list !== "function") {
    // The most recently added match goes first.
    let position = list.length - 1;
    while (position >= 0 && list[position] !== listener && list[position].listener !== listener) {
      position--;
    }
    if (position < 0) return this;
    list.splice(position, 1);
    if (list.length === 1) events[type] = list[0];
    if (events.removeListener !== undefined) this.emit("removeListener", type, listener);
  }
  return this;
};
proto.off = proto.removeListener;

proto.removeAllListeners = function removeAllListeners(type) {
  const events = this._events;
  if (events === undefined) return this;
  const all = arguments.length === 0;

  // With no 'removeListener' listener, nobody needs telling: just drop them.
  if (events.removeListener === undefined) {
    if (all) {
      this._events = { __proto__: null };
      this._eventsCount = 0;
    } else if (events[type] !== undefined) {
      if (--this._eventsCount === 0) this._events = { __proto__: null };
      else delete events[type];
    }
    return this;
  }

  if (all) {
    // 'removeListener' listeners go last, so they hear about every other removal.
    for (const key of Reflect.ownKeys(events)) {
      if (key !== "removeListener") this.removeAllListeners(key);
    }
    this.removeAllListeners("removeListener");
    this._events = { __proto__: null };
    this._eventsCount = 0;
    return this;
  }

  const listeners = events[type];
  if (typeof listeners === "function") {
    this.removeListener(type, listeners);
  } else if (listeners !== undefined) {
    // Last added, first removed.
    for (let i = listeners.length - 1; i >= 0; i--) this.removeListener(type, listeners[i]);
  }
  return this;
};

/** The user's function behind a once-wrapper, or the listener itself. */
function unwrap(listener) {
  return typeof listener.listener === "function" ? listener.listener : listener;
}

function listenersOf(emitter, type, unwrapOnce) {
  const found = emitter._events?.[type];
  if (found === undefined) return [];
  if (typeof found === "function") return [unwrapOnce ? unwrap(found) : found];
  return unwrapOnce ? found.map(unwrap) : found.slice();
}

proto.listeners = function listeners(type) {
  return listenersOf(this, type, true);
};

proto.rawListeners = function rawListeners(type) {
  return listenersOf(this, type, false);
};

// workerd counts every listener of the event, ignoring a second argument.
const countListeners = function listenerCount(type) {
  const found = this._events?.[type];
  if (found === undefined) return 0;
  return typeof found === "function" ? 1 : found.length;
};
proto.listenerCount = countListeners;

proto.eventNames = function eventNames() {
  return this._eventsCount > 0 ? Reflect.ownKeys(this._events) : [];
};

export function listenerCount(emitter, type) {
  if (typeof emitter.listenerCount === "function") return emitter.listenerCount(type);
  return Reflect.apply(countListeners, emitter, [type]);
}

export function getMaxListeners(emitterOrTarget) {
  return maxListenersOf(emitterOrTarget);
}

export function setMaxListeners(n = defaultMaxListeners, ...eventTargets) {
  checkMaxListeners(n, "n");
  if (eventTargets.length === 0) {
    defaultMaxListeners = n;
    return;
  }
  for (const target of eventTargets) {
    if (target instanceof EventTarget) {
      target[kMaxEventTargetListeners] = n;
      target[kMaxEventTargetListenersWarned] = false;
    } else if (typeof target.setMaxListeners === "function") {
      target.setMaxListeners(n);
    } else {
      throw invalidArgType("eventTargets", ["EventEmitter", "EventTarget"], target);
    }
  }
}

export function getEventListeners(emitterOrTarget, type) {
  if (typeof emitterOrTarget.listeners === "function") return emitterOrTarget.listeners(type);
  // An EventTarget does not tell its listeners on Workers.
  if (emitterOrTarget instanceof EventTarget) return [];
  throw invalidArgType("emitter", ["EventEmitter", "EventTarget"], emitterOrTarget);
}

/** Calls `listener` once `signal` aborts; the answer removes it again when disposed. */
export function addAbortListener(signal, listener) {
  if (signal === undefined) throw invalidArgType("signal", "AbortSignal", signal);
  validateAbortSignal(signal, "signal");
  validateFunction(listener, "listener");
  let remove;
  if (signal.aborted) {
    queueMicrotask(() => listener());
  } else {
    signal.addEventListener("abort", listener, { once: true });
    remove = () => signal.removeEventListener("abort", listener);
  }
  return {
    __proto__: null,
    [Symbol.dispose]() {
      remove?.();
    },
  };
}

// once() and on() take an EventEmitter or an EventTarget.
function listen(emitter, name, listener, once) {
  if (typeof emitter.on === "function") {
    if (once) emitter.once(name, listener);
    else emitter.on(name, listener);
  } else if (typeof emitter.addEventListener === "function") {
    emitter.addEventListener(name, listener, { once });
  } else {
    throw invalidArgType("emitter", "EventEmitter", emitter);
  }
}

function unlisten(emitter, name, listener) {
  if (typeof emitter.removeListener === "function") {
    emitter.removeListener(name, listener);
  } else if (typeof emitter.removeEventListener === "function") {
    emitter.removeEventListener(name, listener);
  } else {
    throw invalidArgType("emitter", "EventEmitter", emitter);
  }
}

/** Resolves with the arguments of the next `name` event; an 'error' event rejects. */
export async function once(emitter, name, options = {}) {
  validateObject(options, "options");
  const signal = options.signal;
  validateAbortSignal(signal, "options.signal");
  if (signal?.aborted) throw new AbortError();
  return new Promise((resolve, reject) => {
    const onEvent = (...args) => {
      if (typeof emitter.removeListener === "function") emitter.removeListener("error", onError);
      signal?.removeEventListener("abort", onAbort);
      resolve(args);
    };
    const onError = (error) => {
      emitter.removeListener(name, onEvent);
      signal?.removeEventListener("abort", onAbort);
      reject(error);
    };
    const onAbort = () => {
      unlisten(emitter, name, onEvent);
      unlisten(emitter, "error", onError);
      reject(new AbortError());
    };
    listen(emitter, name, onEvent, true);
    // An EventTarget's 'error' is an ordinary event, not a failure.
    if (name !== "error" && typeof emitter.once === "function") emitter.once("error", onError);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

const AsyncIteratorPrototype = Object.getPrototypeOf(Object.getPrototypeOf(async function* () {}).prototype);

/** An async iterator over the arguments of every `name` event; an 'error' event ends it by rejecting. */
export function on(emitter, name, options = {}) {
  const signal = options?.signal;
  validateAbortSignal(signal, "options.signal");
  if (signal?.aborted) throw new AbortError();

  const unconsumedEvents = [];
  const waiting = [];
  let error = null;
  let finished = false;

  const stopListening = () => {
    unlisten(emitter, name, onEvent);
    unlisten(emitter, "error", onError);
  };

  const iterator = Object.setPrototypeOf({
    next() {
      // Events already received go first, then an error (reported once), then the end.
      if (unconsumedEvents.length > 0) {
        return Promise.resolve({ value: unconsumedEvents.shift(), done: false });
      }
      if (error) {
        const rejected = Promise.reject(error);
        error = null;
        return rejected;
      }
      if (finished) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
    },

    return() {
      stopListening();
      signal?.removeEventListener("abort", onAbort);
      finished = true;
      for (const pending of waiting.splice(0)) pending.resolve({ value: undefined, done: true });
      return Promise.resolve({ value: undefined, done: true });
    },

    throw(err) {
      if (!(err instanceof Error)) throw invalidArgType("EventEmitter.AsyncIterator", "Error", err);
      error = err;
      stopListening();
    },

    [Symbol.asyncIterator]() {
      return this;
    },
  }, AsyncIteratorPrototype);

  function onEvent(...args) {
    const pending = waiting.shift();
    if (pending) pending.resolve({ value: args, done: false });
    else unconsumedEvents.push(args);
  }

  function onError(err) {
    finished = true;
    const pending = waiting.shift();
    if (pending) pending.reject(err);
    else error = err;
    iterator.return();
  }

  function onAbort() {
    onError(new AbortError());
  }

  listen(emitter, name, onEvent, false);
  if (name !== "error" && typeof emitter.on === "function") emitter.on("error", onError);
  signal?.addEventListener("abort", onAbort, { once: true });
  return iterator;
}

/**
 * The async resource of an EventEmitterAsyncResource, pointing back at its
 * emitter. It is not Ridge's AsyncResource (./async_hooks.js): that one needs
 * the runtime's async-context ops, and this module must load without them,
 * since ./process.js imports it. So the emitter's listeners run in the async
 * context of whoever emits, not of whoever created the emitter. Like
 * workerd's, it tracks no async ids.
 */
class EventEmitterReferencingAsyncResource {
  #eventEmitter;

  constructor(emitter) {
    this.#eventEmitter = emitter;
  }

  get eventEmitter() {
    return this.#eventEmitter;
  }

  runInAsyncScope(fn, thisArg, ...args) {
    return Reflect.apply(fn, thisArg, args);
  }

  asyncId() {
    return 0;
  }

  triggerAsyncId() {
    return 0;
  }

  emitDestroy() {
    return this;
  }
}

/** An EventEmitter with an `asyncResource`, whose listeners run through it. */
export class EventEmitterAsyncResource extends EventEmitter {
  #asyncResource;

  constructor(options) {
    super(options);
    this.#asyncResource = new EventEmitterReferencingAsyncResource(this);
  }

  get asyncResource() {
    return this.#asyncResource;
  }

  emit(type, ...args) {
    this.#asyncResource.runInAsyncScope(super.emit, this, type, ...args);
    // workerd answers true whether or not anything listened.
    return true;
  }
}

Object.assign(EventEmitter, {
  EventEmitter,
  EventEmitterAsyncResource,
  once,
  on,
  getEventListeners,
  getMaxListeners,
  setMaxListeners,
  listenerCount,
  addAbortListener,
  usingDomains,
  captureRejectionSymbol,
  errorMonitor,
});

Object.defineProperties(EventEmitter, {
  captureRejections: {
    get() {
      return proto[kCapture];
    },
    set(value) {
      validateBoolean(value, "EventEmitter.captureRejections");
      proto[kCapture] = value;
    },
    enumerable: true,
  },
  defaultMaxListeners: {
    get() {
      return defaultMaxListeners;
    },
    set(value) {
      checkMaxListeners(value, "defaultMaxListeners");
      defaultMaxListeners = value;
    },
    enumerable: true,
  },
  kMaxEventTargetListeners: { value: kMaxEventTargetListeners },
  kMaxEventTargetListenersWarned: { value: kMaxEventTargetListenersWarned },
});

export default EventEmitter;

/** Node's util.inspect for the values an unhandled 'error' event reports (a short, shallow form). */
function inspect(value, depth = 0) {
  switch (typeof value) {
    case "string":
      // Node's choice of quotes: the first kind the text does not contain.
      if (!value.includes("'")) return `'${value}'`;
      if (!value.includes('"')) return `"${value}"`;
      if (!value.includes("`") && !value.includes("${")) return `\`${value}\``;
      return `'${value.replaceAll("'", "\\'")}'`;
    case "bigint":
      return `${value}n`;
    case "symbol":
      return value.toString();
    case "function":
      return value.name ? `[Function: ${value.name}]` : "[Function (anonymous)]";
    case "number":
      return Object.is(value, -0) ? "-0" : String(value);
    case "object":
      break;
    default:
      return String(value);
  }
  if (value === null) return "null";
  if (Array.isArray(value)) {
    if (depth > 2) return "[Array]";
    return value.length === 0 ? "[]" : `[ ${value.map((item) => inspect(item, depth + 1)).join(", ")} ]`;
  }
  const nullPrototype = Object.getPrototypeOf(value) === null;
  const name = nullPrototype ? "[Object: null prototype]" : value.constructor?.name ?? "Object";
  if (depth > 2) return nullPrototype ? name : `[${name}]`;
  const entries = Object.keys(value).map((key) => {
    const shown = /^[A-Za-z_$][\w$]*$/.test(key) ? key : `'${key}'`;
    return `${shown}: ${inspect(value[key], depth + 1)}`;
  });
  const prefix = name === "Object" ? "" : `${name} `;
  return entries.length === 0 ? `${prefix}{}` : `${prefix}{ ${entries.join(", ")} }`;
}
