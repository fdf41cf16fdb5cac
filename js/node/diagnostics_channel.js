// node:diagnostics_channel: named channels that carry diagnostic messages
// from libraries to whoever subscribes, and tracing channels (five channels
// around one operation: start, end, asyncStart, asyncEnd, error).
//
// It behaves as workerd's does at the compatibility date Ridge follows, which
// differs from Node in places: `hasSubscribers` is a method rather than a
// getter, a throwing subscriber's error reaches the publisher, channels have
// no `name` property, argument errors are the runtime's plain TypeErrors, and
// traceCallback takes its callback at a non-negative position only.

import { invalidArgType } from "./internal/errors.js";
import { validateObject } from "./internal/validators.js";

// Lets this module, and no one else, construct channels.
const kCreate = Symbol("kCreate");

/** The TypeError workerd throws for an argument of the wrong kind. */
function argumentTypeError(type, method, position, expected) {
  return new TypeError(
    `Failed to execute '${method}' on '${type}': parameter ${position} is not of type '${expected}'.`);
}

function illegalInvocation() {
  return new TypeError("Illegal invocation: function called with incorrect `this` reference. " +
    "See https://developers.cloudflare.com/workers/observability/errors/#illegal-invocation-errors for details.");
}

// Stores are AsyncLocalStorage instances; any object with their run() and
// getStore() is taken as one, so this module need not load ./async_hooks.js
// (which needs the runtime's async-context ops). runStores only calls run().
function isAsyncLocalStorage(store) {
  return typeof store === "object" && store !== null &&
    typeof store.run === "function" && typeof store.getStore === "function";
}

// How many subscribers a channel has, read past its overridable methods;
// set by Channel's static block, the only place its private fields are visible.
let subscriberCount;

export class Channel {
  #name;
  // Replaced, never changed in place: publish() walks the array it started
  // with, so (un)subscribing during a publish takes effect from the next one.
  #subscribers = [];
  #stores = new Map();

  constructor(token, name) {
    if (token !== kCreate) throw new TypeError("Illegal constructor");
    this.#name = name;
  }

  static #check(channel) {
    if (typeof channel !== "object" || channel === null || !(#subscribers in channel)) {
      throw illegalInvocation();
    }
  }

  static {
    subscriberCount = (channel) => channel.#subscribers.length;
    Object.defineProperty(this.prototype, Symbol.toStringTag, {
      value: "Channel",
      writable: true,
      configurable: true,
    });
  }

  #publish(message) {
    for (const subscriber of this.#subscribers) {
      Reflect.apply(subscriber, globalThis, [message, this.#name]);
    }
  }

  hasSubscribers() {
    Channel.#check(this);
    return this.#subscribers.length !== 0;
  }

  publish(message) {
    Channel.#check(this);
    if (arguments.length === 0) throw argumentTypeError("Channel", "publish", 1, "Value");
    this.#publish(message);
  }

  subscribe(subscriber) {
    Channel.#check(this);
    if (typeof subscriber !== "function") throw argumentTypeError("Channel", "subscribe", 1, "function");
    if (!this.#subscribers.includes(subscriber)) this.#subscribers = [...this.#subscribers, subscriber];
  }

  unsubscribe(subscriber) {
    Channel.#check(this);
    if (typeof subscriber !== "function") throw argumentTypeError("Channel", "unsubscribe", 1, "function");
    if (this.#subscribers.includes(subscriber)) {
      this.#subscribers = this.#subscribers.filter((existing) => existing !== subscriber);
    }
  }

  bindStore(store, transform) {
    Channel.#check(this);
    if (!isAsyncLocalStorage(store)) throw argumentTypeError("Channel", "bindStore", 1, "AsyncLocalStorage");
    if (transform !== undefined && typeof transform !== "function") {
      throw argumentTypeError("Channel", "bindStore", 2, "function");
    }
    this.#stores.set(store, transform);
  }

  unbindStore(store) {
    Channel.#check(this);
    if (!isAsyncLocalStorage(store)) throw argumentTypeError("Channel", "unbindStore", 1, "AsyncLocalStorage");
    this.#stores.delete(store);
  }

  /**
   * Runs `fn` with each bound store set to the message (or to what the store's
   * transform makes of it), publishing the message once all are set.
   */
  runStores(message, fn, thisArg, ...args) {
    Channel.#check(this);
    if (arguments.length === 0) throw argumentTypeError("Channel", "runStores", 1, "Value");
    if (typeof fn !== "function") throw argumentTypeError("Channel", "runStores", 2, "function");
    const receiver = thisArg === undefined ? globalThis : thisArg;
    const run = () => {
      this.#publish(message);
      return Reflect.apply(fn, receiver, args);
    };
    if (this.#stores.size === 0) return run();

    // Each store is entered inside the ones before it, so a transform sees them set.
    const stores = [...this.#stores];
    const enter = (index) => {
      if (index === stores.length) return run();
      const [store, transform] = stores[index];
      const value = transform === undefined ? message : Reflect.apply(transform, globalThis, [message]);
      return store.run(value, () => enter(index + 1));
    };
    return enter(0);
  }
}

// Channels live as long as the isolate: a name always gives back the same one.
const channels = new Map();

function toName(name) {
  return typeof name === "symbol" ? name : String(name);
}

export function channel(name) {
  const key = toName(name);
  let found = channels.get(key);
  if (found === undefined) {
    found = new Channel(kCreate, key);
    channels.set(key, found);
  }
  return found;
}

export function hasSubscribers(name) {
  const found = channels.get(toName(name));
  return found !== undefined && subscriberCount(found) !== 0;
}

export function subscribe(name, subscriber) {
  const key = toName(name);
  if (typeof subscriber !== "function") {
    throw argumentTypeError("DiagnosticsChannelModule", "subscribe", 2, "function");
  }
  channel(key).subscribe(subscriber);
}

export function unsubscribe(name, subscriber) {
  const key = toName(name);
  if (typeof subscriber !== "function") {
    throw argumentTypeError("DiagnosticsChannelModule", "unsubscribe", 2, "function");
  }
  channels.get(key)?.unsubscribe(subscriber);
}

const TRACING_EVENTS = ["start", "end", "asyncStart", "asyncEnd", "error"];

export class TracingChannel {
  #start;
  #end;
  #asyncStart;
  #asyncEnd;
  #error;

  constructor(token, channels) {
    if (token !== kCreate) {
      throw new Error("Use diagnostic_channel.tracingChannels() to create TracingChannel");
    }
    this.#start = channels.start;
    this.#end = channels.end;
    this.#asyncStart = channels.asyncStart;
    this.#asyncEnd = channels.asyncEnd;
    this.#error = channels.error;
  }

  get start() {
    return this.#start;
  }

  get end() {
    return this.#end;
  }

  get asyncStart() {
    return this.#asyncStart;
  }

  get asyncEnd() {
    return this.#asyncEnd;
  }

  get error() {
    return this.#error;
  }

  hasSubscribers() {
    return TRACING_EVENTS.some((event) => subscriberCount(this[event]) !== 0);
  }

  subscribe(handlers) {
    for (const event of TRACING_EVENTS) {
      if (handlers[event] !== undefined) this[event].subscribe(handlers[event]);
    }
  }

  unsubscribe(handlers) {
    for (const event of TRACING_EVENTS) {
      if (handlers[event] !== undefined) this[event].unsubscribe(handlers[event]);
    }
  }

  /** Runs `fn` between start and end, publishing error if it throws. */
  traceSync(fn, context = {}, thisArg = globalThis, ...args) {
    const start = this.#start, end = this.#end, error = this.#error;
    return start.runStores(context, () => {
      try {
        const result = Reflect.apply(fn, thisArg, args);
        context.result = result;
        return result;
      } catch (err) {
        context.error = err;
        error.publish(context);
        throw err;
      } finally {
        end.publish(context);
      }
    }, thisArg);
  }

  /** traceSync for a function answering a promise: asyncStart and asyncEnd follow its settling. */
  tracePromise(fn, context = {}, thisArg = globalThis, ...args) {
    const start = this.#start, end = this.#end, error = this.#error;
    const asyncStart = this.#asyncStart, asyncEnd = this.#asyncEnd;
    const settled = () => {
      asyncStart.publish(context);
      asyncEnd.publish(context);
    };
    const onFulfilled = (result) => {
      context.result = result;
      settled();
      return result;
    };
    const onRejected = (err) => {
      context.error = err;
      error.publish(context);
      settled();
      throw err;
    };
    return start.runStores(context, () => {
      try {
        const answer = Reflect.apply(fn, thisArg, args);
        const promise = answer instanceof Promise ? answer : Promise.resolve(answer);
        return promise.then(onFulfilled, onRejected);
      } catch (err) {
        context.error = err;
        error.publish(context);
        throw err;
      } finally {
        end.publish(context);
      }
    }, thisArg);
  }

  /**
   * traceSync for a function taking a Node-style callback at args[position]:
   * asyncStart and asyncEnd surround the callback's run. As on workerd, the
   * position is an index into args (the default -1 finds no callback).
   */
  traceCallback(fn, position = -1, context = {}, thisArg = globalThis, ...args) {
    const start = this.#start, end = this.#end, error = this.#error;
    const asyncStart = this.#asyncStart, asyncEnd = this.#asyncEnd;
    const callback = args[position];
    if (typeof callback !== "function") throw invalidArgType("callback", ["function"], callback);

    args.splice(position, 1, function wrappedCallback(...callbackArgs) {
      const [err, result] = callbackArgs;
      if (err) {
        context.error = err;
        error.publish(context);
      } else {
        context.result = result;
      }
      // Through runStores, so the callback runs with the stores set again.
      asyncStart.runStores(context, () => {
        try {
          Reflect.apply(callback, this, callbackArgs);
        } finally {
          asyncEnd.publish(context);
        }
      }, thisArg);
    });

    return start.runStores(context, () => {
      try {
        return Reflect.apply(fn, thisArg, args);
      } catch (err) {
        context.error = err;
        error.publish(context);
        throw err;
      } finally {
        end.publish(context);
      }
    }, thisArg);
  }
}

function validateChannel(value, name) {
  if (!(value instanceof Channel)) throw invalidArgType(name, "Channel", value);
  return value;
}

/** The tracing channels `tracing:NAME:start` etc., or a group of five given channels. */
export function tracingChannel(nameOrChannels) {
  const parts = {};
  if (typeof nameOrChannels === "string") {
    for (const event of TRACING_EVENTS) parts[event] = channel(`tracing:${nameOrChannels}:${event}`);
  } else {
    validateObject(nameOrChannels, "channels");
    for (const event of TRACING_EVENTS) {
      parts[event] = validateChannel(nameOrChannels[event], `channels.${event}`);
    }
  }
  return new TracingChannel(kCreate, parts);
}

export default {
  hasSubscribers,
  channel,
  subscribe,
  unsubscribe,
  tracingChannel,
  Channel,
};
