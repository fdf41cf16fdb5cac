// Ridge: Durable Objects (`durable_objects` in the configuration).
//
// A namespace binding makes ids (crates/ridge-ext objects.rs) and stubs;
// a stub's fetch() and methods are RPC calls (js/service/08_service.js)
// that reach the object in its worker's isolate, where `objectReceiver`
// keeps one instance per id. An object's storage is its own SQLite
// database, used synchronously: values of the key-value API are
// V8-serialized, as Cloudflare stores them.
import { core, primordials } from "ext:core/mod.js";
import {
  op_ridge_do_alarm_delete,
  op_ridge_do_alarm_get,
  op_ridge_do_alarm_set,
  op_ridge_do_alive,
  op_ridge_do_close,
  op_ridge_do_delete,
  op_ridge_do_delete_all,
  op_ridge_do_deletions_pending,
  op_ridge_do_get,
  op_ridge_do_id,
  op_ridge_do_idle_timeout,
  op_ridge_do_id_valid,
  op_ridge_do_list,
  op_ridge_do_put,
  op_ridge_do_savepoint,
  op_ridge_do_size,
  op_ridge_do_sql,
  op_ridge_do_take_deletions,
  op_ridge_do_websocket_event,
} from "ext:core/ops";
import { formatError, internals, log, registerBinding } from "ext:ridge/globals/00_globals.js";
import { deserialize, objectStub, serialize } from "ext:ridge/service/08_service.js";
import {
  acceptForObject,
  clientEndRid,
  WebSocket,
  whenPlainSocketCloses,
} from "ext:ridge/websocket/08_websocket.js";

const {
  ArrayBufferIsView,
  ArrayBufferPrototype,
  ArrayBufferPrototypeSlice,
  ArrayIsArray,
  ArrayPrototypeMap,
  ArrayPrototypePush,
  Date,
  DateNow,
  DatePrototype,
  DatePrototypeGetTime,
  Error,
  ObjectEntries,
  ObjectPrototypeIsPrototypeOf,
  NumberIsFinite,
  ObjectDefineProperty,
  Promise,
  PromisePrototypeThen,
  PromiseReject,
  PromiseResolve,
  ArrayPrototypeIncludes,
  ArrayPrototypeSort,
  Map,
  MapPrototypeSet,
  MathMax,
  MathMin,
  StringPrototypeToLowerCase,
  SymbolToStringTag,
  RangeError,
  ReflectApply,
  SafeArrayIterator,
  SafeMap,
  SafeMapIterator,
  SafeWeakMap,
  String,
  Symbol,
  SymbolIterator,
  TypeError,
  TypedArrayPrototypeGetBuffer,
  TypedArrayPrototypeGetByteLength,
  TypedArrayPrototypeGetByteOffset,
  Uint8Array,
} = primordials;

const { ResponsePrototype } = internals.response;

const kConstruct = Symbol("DurableObject");

class DurableObjectId {
  #id;
  #name;

  constructor(token, id, name) {
    if (token !== kConstruct) throw new TypeError("Illegal constructor");
    this.#id = id;
    this.#name = name;
  }

  toString() {
    return this.#id;
  }

  equals(other) {
    return ObjectPrototypeIsPrototypeOf(DurableObjectId.prototype, other) && other.toString() === this.#id;
  }

  get name() {
    return this.#name;
  }

  get [SymbolToStringTag]() {
    return "DurableObjectId";
  }
}

function notThisNamespace() {
  return new TypeError("Durable Object ID is not valid for this namespace.");
}

class DurableObjectNamespace {
  #index;
  #className;

  constructor(token, index, className) {
    if (token !== kConstruct) throw new TypeError("Illegal constructor");
    this.#index = index;
    this.#className = className;
  }

  idFromName(name) {
    name = String(name);
    return new DurableObjectId(kConstruct, op_ridge_do_id(this.#index, name), name);
  }

  newUniqueId(_options = undefined) {
    // A jurisdiction changes nothing on one node.
    return new DurableObjectId(kConstruct, op_ridge_do_id(this.#index, null), undefined);
  }

  idFromString(id) {
    if (typeof id !== "string" || id.length !== 64) {
      throw new TypeError("Invalid Durable Object ID: must be 64 hex digits");
    }
    // Hex digits in either case, as workerd takes them.
    id = StringPrototypeToLowerCase(id);
    if (!op_ridge_do_id_valid(this.#index, id)) throw notThisNamespace();
    return new DurableObjectId(kConstruct, id, undefined);
  }

  get(id, _options = undefined) {
    if (!ObjectPrototypeIsPrototypeOf(DurableObjectId.prototype, id)) {
      throw new TypeError(
        "Failed to execute 'get' on 'DurableObjectNamespace': parameter 1 is not of type 'DurableObjectId'.",
      );
    }
    if (!op_ridge_do_id_valid(this.#index, id.toString())) throw notThisNamespace();
    return objectStub(this.#index, this.#className, id);
  }

  getByName(name, options = undefined) {
    return this.get(this.idFromName(name), options);
  }

  jurisdiction(_name) {
    return this;
  }
}

/** The classes this worker's own namespace bindings name: `[binding, class]`. */
const ownClasses = [];

registerBinding("durable_object", (index, name, { 0: className, 2: own }) => {
  if (own) ArrayPrototypePush(ownClasses, [name, className]);
  return new DurableObjectNamespace(kConstruct, index, className);
});

/** Refuses a worker whose own namespace bindings name a class it does not
 * export (run at startup, so at upload too). */
export function checkObjectClasses(namespace) {
  for (const { 0: binding, 1: className } of ownClasses) {
    if (typeof namespace[className] !== "function") {
      throw new TypeError(
        `The Durable Object binding ${binding} names class "${className}", which the worker does not export ` +
          `(export class ${className} extends DurableObject { ... })`,
      );
    }
  }
}

/** The objects alive in this isolate, by class and id. */
const objects = new SafeMap();

/** Drops the objects an operator deleted (`ridge do delete`) since the
 * last event: the next call makes a new one, on empty storage; their
 * hibernatable sockets are closed. */
function forgetDeleted() {
  if (!op_ridge_do_deletions_pending()) return;
  for (const { 0: className, 1: id } of op_ridge_do_take_deletions()) {
    const key = objectKey(className, id);
    if (objects.delete(key)) op_ridge_do_alive(-1);
    autoResponses.delete(key);
    const sockets = hibernatable.get(key);
    if (sockets === undefined) continue;
    hibernatable.delete(key);
    for (const { 0: ws } of new SafeMapIterator(sockets)) {
      try {
        ws.close(1011, "The Durable Object was deleted");
      } catch {
        // Closed already.
      }
    }
  }
}

/** Milliseconds an object stays in memory without events (the node's
 * --object-idle-timeout), read on first use. */
let idleTimeout;
let lastSweep = 0;

/** Drops the objects that had no event for the idle timeout: their memory
 * goes, their storage stays, and the next call makes a new instance. It
 * runs as events arrive, at most twice per timeout, and on a timer while
 * objects are in memory (a room whose hibernated sockets are quiet gets no
 * events, and its isolate stays while they are open). */
function evictIdle() {
  idleTimeout ??= op_ridge_do_idle_timeout();
  const now = DateNow();
  if (now - lastSweep < idleTimeout / 2) return;
  lastSweep = now;
  for (const { 0: key, 1: object } of new SafeMapIterator(objects)) {
    // One whose database is in a transaction (a `transaction()` that
    // outlived its event) stays: a new instance would write inside it.
    if (object.events === 0 && now - object.lastUsed >= idleTimeout && op_ridge_do_close(object.className, object.id)) {
      objects.delete(key);
      op_ridge_do_alive(-1);
    }
  }
}

let sweepTimer = null;

/** Sweeps again in half a timeout if objects are in memory. */
function scheduleSweep() {
  if (sweepTimer !== null || objects.size === 0) return;
  sweepTimer = systemTimer(
    () => {
      sweepTimer = null;
      try {
        evictIdle();
      } catch (error) {
        log(3, `Uncaught (in the Durable Object sweep) ${formatError(error)}`);
      }
      scheduleSweep();
    },
    // At most once a second; timers take at most 2^31 - 1 ms.
    MathMin(MathMax(idleTimeout / 2 + 1, 1000), 2 ** 31 - 1),
  );
}

/** A timer of no invocation (no async context) that keeps nothing alive. */
function systemTimer(callback, ms) {
  const context = core.getAsyncContext();
  core.setAsyncContext(undefined);
  try {
    return core.createSystemTimer(callback, ms, false);
  } finally {
    core.setAsyncContext(context);
  }
}

/**
 * Delivers an RPC call to Durable Object `[className, id, name]`: `run`
 * gets what the call is made on, the object's one instance in this
 * isolate (made on first use). Cloudflare's input gate holds: events start
 * one at a time, in order, each once the object's storage operations in
 * flight have settled (and the code awaiting them has run) and no
 * `blockConcurrencyWhile()` holds them back; an event that awaits
 * something else (a fetch) lets the next one start.
 */
export async function callObject(namespace, { 0: className, 1: id, 2: name }, env, run) {
  forgetDeleted();
  evictIdle();
  const key = objectKey(className, id);
  let object = objects.get(key);
  if (object === undefined) {
    const Class = namespace[className];
    if (typeof Class !== "function") {
      throw new TypeError(`The worker exports no Durable Object class named "${className}"`);
    }
    // A constructor that throws leaves no object behind: the next call tries again.
    const address = [className, id, name];
    const state = new DurableObjectState(kConstruct, address, Class, new DurableObjectId(kConstruct, id, name ?? undefined));
    object = { className, id, state, turn: PromiseResolve(), instance: new Class(state, env), events: 0, lastUsed: 0 };
    state[kInstance] = object.instance;
    objects.set(key, object);
    op_ridge_do_alive(1);
    scheduleSweep();
  }
  // Counted from now on: an object with events waiting is not evicted.
  object.events++;
  const previous = object.turn;
  let release;
  object.turn = new Promise((resolve) => (release = resolve));
  const ended = () => {
    object.events--;
    object.lastUsed = DateNow();
  };
  try {
    await previous;
    await gatesOpen(object.state);
  } catch (error) {
    release();
    ended();
    throw error;
  }
  try {
    // The next event may start once this one awaits (the gate, not a lock).
    let result;
    try {
      result = run({ target: object.instance, handlers: false });
    } finally {
      release();
    }
    const value = await result;
    keepWhileSocketOpen(object, value);
    return value;
  } finally {
    // No answer (nor error) leaves before the writes it follows commit.
    object.state.storage[kFlush]();
    ended();
  }
}

/** An object that answered with a WebSocket it accepted with `accept()`
 * stays in memory while the socket is open: its listeners are its own.
 * (A hibernatable socket lets it go.) */
function keepWhileSocketOpen(object, value) {
  const webSocket = ObjectPrototypeIsPrototypeOf(ResponsePrototype, value) ? value.webSocket : null;
  if (webSocket === null) return;
  object.events++;
  const pinned = whenPlainSocketCloses(clientEndRid(webSocket), () => {
    object.events--;
    object.lastUsed = DateNow();
  });
  if (!pinned) object.events--;
}

// ---- WebSocket hibernation --------------------------------------------------

/** What this worker's objects' hibernatable WebSocket events need: the
 * module (for the classes), `env`, and how an event runs as an invocation
 * (js/http/10_worker.js). */
let eventHost = null;

export function serveObjectEvents(namespace, env, runEvent) {
  eventHost = { namespace, env, runEvent };
}

/** Hibernatable WebSockets by object key (they outlive the object's
 * instance): socket -> `{ tags, autoResponseAt }`. */
const hibernatable = new SafeMap();
/** `setWebSocketAutoResponse()` pairs, by object key. */
const autoResponses = new SafeMap();
/** WebSocket attachments (serialized). */
const attachments = new SafeWeakMap();

/** Hibernatable sockets one object may hold, and the tags of each
 * (Cloudflare's limits). */
const MAX_HIBERNATABLE = 32768;
const MAX_TAGS = 10;
const MAX_TAG_LENGTH = 256;
/** Largest serialized attachment, in bytes (workerd's limit). */
const MAX_ATTACHMENT = 16384;

const EVENT_KINDS = { message: 0, close: 1, error: 2 };
const HANDLERS = { message: "webSocketMessage", close: "webSocketClose", error: "webSocketError" };

function objectKey(className, id) {
  return `${className}\u0000${id}`;
}

/** Delivers what hibernatable socket `ws` of object `address` received
 * (`kind`: message, close) to the object's handler, as an event of its
 * own; resolves when the handler settled. An auto-response answers its
 * request without an event. */
function deliver(address, ws, kind, args) {
  const { 0: className, 1: id, 2: name } = address;
  const key = objectKey(className, id);
  const record = hibernatable.get(key)?.get(ws);
  // Not the object's any more (it was deleted): nothing to deliver to.
  if (record === undefined) return PromiseResolve();
  if (kind === "message") {
    const pair = autoResponses.get(key);
    if (pair !== undefined && args[0] === pair.request) {
      try {
        ws.send(pair.response);
        record.autoResponseAt = new Date(DateNow());
      } catch {
        // Closing, or a client that does not read: no answer.
      }
      return PromiseResolve();
    }
  } else if (kind === "close") {
    hibernatable.get(key).delete(ws);
  }
  const { namespace, env, runEvent } = eventHost;
  const rid = op_ridge_do_websocket_event(className, id, name, EVENT_KINDS[kind]);
  const result = runEvent(rid, () =>
    callObject(namespace, address, env, ({ target }) => {
      const handler = target[HANDLERS[kind]];
      if (typeof handler !== "function") {
        if (kind === "message") {
          throw new TypeError(`The Durable Object class ${className} has no webSocketMessage() handler`);
        }
        return undefined;
      }
      return ReflectApply(handler, target, [ws, ...new SafeArrayIterator(args)]);
    }),
  );
  return PromisePrototypeThen(PromiseResolve(result), noop, noop);
}

function checkTags(tags) {
  if (tags === undefined) return [];
  if (!ArrayIsArray(tags)) throw new TypeError("acceptWebSocket()'s tags must be an array of strings");
  if (tags.length > MAX_TAGS) throw new Error(`a Hibernatable WebSocket cannot have more than ${MAX_TAGS} tags`);
  return ArrayPrototypeMap(tags, (tag) => {
    tag = String(tag);
    if (tag.length > MAX_TAG_LENGTH) {
      throw new Error(`a Hibernatable WebSocket tag cannot be longer than ${MAX_TAG_LENGTH} characters`);
    }
    return tag;
  });
}

/** The request and response of `setWebSocketAutoResponse()`. */
class WebSocketRequestResponsePair {
  #request;
  #response;

  constructor(request, response) {
    this.#request = String(request);
    this.#response = String(response);
  }

  get request() {
    return this.#request;
  }

  get response() {
    return this.#response;
  }
}

ObjectDefineProperty(globalThis, "WebSocketRequestResponsePair", {
  value: WebSocketRequestResponsePair,
  enumerable: false,
  configurable: true,
  writable: true,
});

// Attachments: a small value kept with a socket, across hibernation.
ObjectDefineProperty(WebSocket.prototype, "serializeAttachment", {
  value: function serializeAttachment(value) {
    const bytes = serialize(value);
    if (bytes.byteLength > MAX_ATTACHMENT) {
      throw new Error(
        `A WebSocket 'attachment' cannot be larger than ${MAX_ATTACHMENT} bytes. ` +
          `'attachment' was ${bytes.byteLength} bytes.`,
      );
    }
    attachments.set(this, bytes);
  },
  enumerable: false,
  configurable: true,
  writable: true,
});
ObjectDefineProperty(WebSocket.prototype, "deserializeAttachment", {
  value: function deserializeAttachment() {
    const bytes = attachments.get(this);
    return bytes === undefined ? null : deserialize(bytes);
  },
  enumerable: false,
  configurable: true,
  writable: true,
});

/** Resolves once neither a storage operation nor blockConcurrencyWhile()
 * holds the object's events back. */
async function gatesOpen(state) {
  for (;;) {
    const blocked = state[kBlocked];
    const storage = state[kStorage];
    await blocked;
    await storage;
    if (blocked === state[kBlocked] && storage === state[kStorage]) return;
  }
}

const kBlocked = Symbol("blocked");
const kStorage = Symbol("storage in flight");
const kInstance = Symbol("instance");
const kFlush = Symbol("flush");
const kAddress = Symbol("address");

/** `ctx` of a Durable Object: its id, its storage, and the way to hold its
 * events back. */
class DurableObjectState {
  [kBlocked] = PromiseResolve();
  [kStorage] = PromiseResolve();
  /** The object, once its constructor returned. */
  [kInstance] = undefined;
  /** `[class, id, name]`. */
  [kAddress];
  /** Its key in this module's maps (`objectKey`). */
  #key;
  #storage;

  constructor(token, address, Class, id) {
    if (token !== kConstruct) throw new TypeError("Illegal constructor");
    const className = address[0];
    this[kAddress] = address;
    this.#key = objectKey(className, address[1]);
    this.id = id;
    // setAlarm() needs an alarm() handler (it may be called in the
    // constructor, before the instance exists).
    const hasAlarmHandler = () => typeof (this[kInstance] ?? Class.prototype).alarm === "function";
    // The input gate waits for every operation in flight (failed or not):
    // each is chained after the ones before, so that a transaction's own
    // writes do not open the gate before the transaction ends.
    const inFlight = (promise) => {
      const before = this[kStorage];
      this[kStorage] = PromisePrototypeThen(before, () => PromisePrototypeThen(promise, noop, noop));
      return promise;
    };
    this.#storage = new DurableObjectStorage(kConstruct, className, id, inFlight, hasAlarmHandler);
  }

  get storage() {
    return this.#storage;
  }

  waitUntil(_promise) {
    // An object's work runs to its end anyway.
  }

  /** Accepts server end `ws` so that what it receives reaches this
   * object's webSocketMessage()/webSocketClose() handlers, even after the
   * object left memory (it is made again to take the event). */
  acceptWebSocket(ws, tags = undefined) {
    tags = checkTags(tags);
    const key = this.#key;
    let sockets = hibernatable.get(key);
    if (sockets === undefined) {
      sockets = new SafeMap();
      hibernatable.set(key, sockets);
    }
    if (sockets.size >= MAX_HIBERNATABLE) {
      throw new RangeError(`A Durable Object may hold at most ${MAX_HIBERNATABLE} hibernatable WebSockets`);
    }
    const address = this[kAddress];
    acceptForObject(ws, (kind, ...args) => deliver(address, ws, kind, args));
    sockets.set(ws, { tags, autoResponseAt: null });
  }

  /** The open hibernatable WebSockets of this object (with tag `tag`). */
  getWebSockets(tag = undefined) {
    const sockets = hibernatable.get(this.#key);
    const found = [];
    if (sockets === undefined) return found;
    for (const { 0: ws, 1: record } of new SafeMapIterator(sockets)) {
      if (tag === undefined || ArrayPrototypeIncludes(record.tags, String(tag))) ArrayPrototypePush(found, ws);
    }
    return found;
  }

  getTags(ws) {
    const record = hibernatable.get(this.#key)?.get(ws);
    if (record === undefined) {
      throw new Error("you must call 'acceptWebSocket()' before attempting to access the tags of a WebSocket.");
    }
    return [...new SafeArrayIterator(record.tags)];
  }

  /** Answers `pair.request` with `pair.response` on every hibernatable
   * socket of this object, without an event; none: stops. */
  setWebSocketAutoResponse(pair = undefined) {
    const key = this.#key;
    if (pair === undefined || pair === null) {
      autoResponses.delete(key);
      return;
    }
    if (!ObjectPrototypeIsPrototypeOf(WebSocketRequestResponsePair.prototype, pair)) {
      throw new TypeError("setWebSocketAutoResponse() takes a WebSocketRequestResponsePair");
    }
    autoResponses.set(key, pair);
  }

  getWebSocketAutoResponse() {
    return autoResponses.get(this.#key) ?? null;
  }

  /** When `ws` last got an auto-response, or null. */
  getWebSocketAutoResponseTimestamp(ws) {
    return hibernatable.get(this.#key)?.get(ws)?.autoResponseAt ?? null;
  }

  /** Runs `callback`; events that arrive meanwhile wait until it settles. */
  blockConcurrencyWhile(callback) {
    const result = PromisePrototypeThen(PromiseResolve(), () => callback());
    this[kBlocked] = PromisePrototypeThen(result, () => {}, () => {});
    return result;
  }
}

/** A storage key: any value, as a string (workerd's conversion). */
function checkKey(key) {
  return String(key);
}

/** Stored `[key, value]` entries as the API gives them: a Map. */
function entriesMap(found) {
  const values = new Map();
  for (const { 0: key, 1: value } of new SafeArrayIterator(found)) MapPrototypeSet(values, key, deserialize(value));
  return values;
}

// Ridge's savepoints (op_ridge_do_savepoint): the writes of a turn, and
// transactions (which nest).
const BEGIN_TURN = 0;
const COMMIT_TURN = 1;
const BEGIN = 2;
const COMMIT = 3;
const ROLL_BACK = 4;

/** The key-value and SQL storage of one object. */
class DurableObjectStorage {
  #class;
  #id;
  #name;
  #sql;
  #inFlight;
  #hasAlarmHandler;
  /** This turn's savepoint (a token), while one is open. */
  #turn = null;
  /** The `transaction()`s running, and the `transactionSync()`s. */
  #transactions = 0;
  #syncTransactions = 0;

  constructor(token, className, id, inFlight, hasAlarmHandler) {
    if (token !== kConstruct) throw new TypeError("Illegal constructor");
    this.#class = className;
    this.#id = id.toString();
    this.#name = id.name ?? null;
    this.#sql = new SqlStorage(kConstruct, className, this.#id, () => this.#coalesce());
    this.#inFlight = inFlight;
    this.#hasAlarmHandler = hasAlarmHandler;
  }

  /** Before a write: puts it in the open turn's savepoint, opened by the
   * first write since the last commit. The turn commits when the event
   * ends, before its answer leaves (`callObject` flushes it), or a
   * millisecond after it opened if the event goes on awaiting I/O: the
   * writes in between commit together, as Cloudflare coalesces them. */
  #coalesce() {
    if (this.#turn !== null || this.#transactions > 0) return;
    this.#savepoint(BEGIN_TURN);
    const turn = systemTimer(() => {
      if (this.#turn === turn) this.#commitTurn(false);
    }, 1);
    this.#turn = turn;
  }

  /** Commits the open turn now (the event ends: its answer waits for it). */
  [kFlush]() {
    if (this.#turn !== null) this.#commitTurn();
  }

  /** Commits the open turn; `early`: before its timer fired. */
  #commitTurn(early = true) {
    if (early) core.cancelTimer(this.#turn);
    this.#turn = null;
    try {
      this.#savepoint(COMMIT_TURN);
    } catch (error) {
      // Ridge rolled the turn back (op_ridge_do_savepoint): its writes are
      // lost, which the object's log says.
      log(3, `Uncaught (in Durable Object storage) ${formatError(error)}`);
    }
  }

  /** A promise of what `work` returns or throws, which holds the
   * object's next events back until it settles. */
  #settled(work) {
    return this.#inFlight(new Promise((resolve) => resolve(work())));
  }

  get sql() {
    return this.#sql;
  }

  // Each operation is synchronous underneath; the promises are the API's.
  get(keys, _options = undefined) {
    return this.#settled(() => {
      if (ArrayIsArray(keys)) {
        // In key order, as workerd gives them.
        const found = op_ridge_do_get(this.#class, this.#id, ArrayPrototypeMap(keys, checkKey));
        ArrayPrototypeSort(found, (a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
        return entriesMap(found);
      }
      const found = op_ridge_do_get(this.#class, this.#id, [checkKey(keys)]);
      return found.length === 0 ? undefined : deserialize(found[0][1]);
    });
  }

  put(keyOrEntries, value = undefined, _options = undefined) {
    return this.#settled(() => {
      const entries =
        typeof keyOrEntries === "object" && keyOrEntries !== null
          ? ObjectEntries(keyOrEntries)
          : [[checkKey(keyOrEntries), value]];
      const serialized = ArrayPrototypeMap(entries, ({ 0: key, 1: entry }) => {
        if (entry === undefined) throw new TypeError("put() called with undefined value.");
        return [checkKey(key), serialize(entry)];
      });
      this.#coalesce();
      op_ridge_do_put(this.#class, this.#id, serialized);
    });
  }

  delete(keys, _options = undefined) {
    return this.#settled(() => {
      this.#coalesce();
      if (ArrayIsArray(keys)) return op_ridge_do_delete(this.#class, this.#id, ArrayPrototypeMap(keys, checkKey));
      return op_ridge_do_delete(this.#class, this.#id, [checkKey(keys)]) === 1;
    });
  }

  list(options = {}) {
    return this.#settled(() => {
      const found = op_ridge_do_list(this.#class, this.#id, {
        start: options.start,
        startAfter: options.startAfter,
        end: options.end,
        prefix: options.prefix,
        reverse: options.reverse === true,
        limit: options.limit,
      });
      return entriesMap(found);
    });
  }

  deleteAll(_options = undefined) {
    return this.#settled(() => {
      this.#coalesce();
      op_ridge_do_delete_all(this.#class, this.#id);
    });
  }

  /** Runs `callback` in a transaction: what it wrote is undone if it throws. */
  transactionSync(callback) {
    this.#coalesce();
    this.#savepoint(BEGIN);
    this.#syncTransactions++;
    try {
      const result = callback();
      this.#savepoint(COMMIT);
      return result;
    } catch (error) {
      this.#savepoint(ROLL_BACK);
      throw error;
    } finally {
      this.#syncTransactions--;
    }
  }

  /** Runs `callback` in a transaction, holding the object's other events
   * back until it ends (they would write inside it otherwise). */
  transaction(callback) {
    if (this.#syncTransactions > 0) {
      return PromiseReject(new Error("transaction() cannot be called inside transactionSync()"));
    }
    const run = async () => {
      // Outermost: the turn's writes commit first, and none coalesce
      // while it runs (its savepoint would end inside theirs).
      if (this.#turn !== null) this.#commitTurn();
      this.#transactions++;
      this.#savepoint(BEGIN);
      try {
        const result = await callback(this);
        this.#savepoint(COMMIT);
        return result;
      } catch (error) {
        this.#savepoint(ROLL_BACK);
        throw error;
      } finally {
        this.#transactions--;
      }
    };
    return this.#inFlight(run());
  }

  #savepoint(step) {
    op_ridge_do_savepoint(this.#class, this.#id, step);
  }

  /** Resolves once the writes made so far are durable: this turn's
   * commit runs before the code awaiting it resumes. */
  sync() {
    return PromiseResolve();
  }

  /** The time the object's alarm is set for (ms since the epoch), or
   * null (also while it runs). */
  getAlarm(_options = undefined) {
    return this.#settled(() => op_ridge_do_alarm_get(this.#class, this.#id));
  }

  /** Sets the object's one alarm (replacing any) to `scheduledTime`, a
   * Date or ms since the epoch; a time past runs it at once. */
  setAlarm(scheduledTime, _options = undefined) {
    return this.#settled(() => {
      const time = ObjectPrototypeIsPrototypeOf(DatePrototype, scheduledTime)
        ? DatePrototypeGetTime(scheduledTime)
        : scheduledTime;
      if (typeof time !== "number") {
        throw new TypeError("Failed to execute 'setAlarm' on 'DurableObjectStorage': parameter 1 is not of type 'date'.");
      }
      if (!NumberIsFinite(time) || time <= 0) {
        throw new TypeError("setAlarm() cannot be called with an alarm time <= 0");
      }
      if (!this.#hasAlarmHandler()) {
        throw new TypeError("Your Durable Object class must have an alarm() handler in order to call setAlarm()");
      }
      op_ridge_do_alarm_set(this.#class, this.#id, this.#name, time);
    });
  }

  deleteAlarm(_options = undefined) {
    return this.#settled(() => op_ridge_do_alarm_delete(this.#class, this.#id));
  }
}

function noop() {}

/** A value bound to a SQL statement, as the op takes it; what is not a
 * number, bytes or null is bound as its string, as workerd binds it. */
function sqlParam(value) {
  if (value === null || value === undefined) return null;
  if (typeof value === "number" || typeof value === "string") return value;
  if (typeof value === "bigint") throw new TypeError("Cannot convert a BigInt value to a number");
  if (ObjectPrototypeIsPrototypeOf(ArrayBufferPrototype, value)) return { bytes: [...new Uint8Array(value)] };
  if (ArrayBufferIsView(value)) {
    const view = new Uint8Array(
      TypedArrayPrototypeGetBuffer(value),
      TypedArrayPrototypeGetByteOffset(value),
      TypedArrayPrototypeGetByteLength(value),
    );
    return { bytes: [...view] };
  }
  return String(value);
}

/** A SQL value as the API gives it: bytes as an ArrayBuffer. */
function sqlValue(value) {
  if (!ArrayBufferIsView(value)) return value;
  const buffer = TypedArrayPrototypeGetBuffer(value);
  const offset = TypedArrayPrototypeGetByteOffset(value);
  return ArrayBufferPrototypeSlice(buffer, offset, offset + TypedArrayPrototypeGetByteLength(value));
}

class SqlStorage {
  #class;
  #id;
  #coalesce;

  constructor(token, className, id, coalesce) {
    if (token !== kConstruct) throw new TypeError("Illegal constructor");
    this.#class = className;
    this.#id = id;
    this.#coalesce = coalesce;
  }

  exec(query, ...bindings) {
    query = String(query);
    bindings = ArrayPrototypeMap(bindings, sqlParam);
    // Any statement may write.
    this.#coalesce();
    const { 0: columns, 1: rows, 2: rowsRead, 3: rowsWritten } = op_ridge_do_sql(
      this.#class,
      this.#id,
      query,
      bindings,
    );
    return new SqlStorageCursor(kConstruct, columns, rows, rowsRead, rowsWritten);
  }

  get databaseSize() {
    return op_ridge_do_size(this.#class, this.#id);
  }
}

/** The rows of a statement: objects by column name, or arrays (`raw()`). */
class SqlStorageCursor {
  #rows;
  #next = 0;

  constructor(token, columns, rows, rowsRead, rowsWritten) {
    if (token !== kConstruct) throw new TypeError("Illegal constructor");
    this.columnNames = columns;
    this.#rows = rows;
    this.rowsRead = rowsRead;
    this.rowsWritten = rowsWritten;
  }

  #take() {
    if (this.#next >= this.#rows.length) return null;
    return ArrayPrototypeMap(this.#rows[this.#next++], sqlValue);
  }

  #object(row) {
    const object = {};
    for (let column = 0; column < this.columnNames.length; column++) object[this.columnNames[column]] = row[column];
    return object;
  }

  next() {
    const row = this.#take();
    return row === null ? { done: true, value: undefined } : { done: false, value: this.#object(row) };
  }

  [SymbolIterator]() {
    return this;
  }

  toArray() {
    const rows = [];
    for (let row = this.#take(); row !== null; row = this.#take()) ArrayPrototypePush(rows, this.#object(row));
    return rows;
  }

  one() {
    const rows = this.toArray();
    if (rows.length === 0) throw new Error("Expected exactly one result from SQL query, but got no results.");
    if (rows.length > 1) throw new Error("Expected exactly one result from SQL query, but got multiple results.");
    return rows[0];
  }

  raw() {
    const take = () => this.#take();
    return {
      next() {
        const row = take();
        return row === null ? { done: true, value: undefined } : { done: false, value: row };
      },
      toArray() {
        const rows = [];
        for (let row = take(); row !== null; row = take()) ArrayPrototypePush(rows, row);
        return rows;
      },
      [SymbolIterator]() {
        return this;
      },
    };
  }
}
