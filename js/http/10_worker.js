// Ridge: the worker model and the request/response bridge.
//
// A worker is either an ES module (`export default { fetch(request, env, ctx) }`)
// or a service-worker script (`addEventListener("fetch", e => e.respondWith(...))`).
// Rust starts it through `start()` below, then this file takes invocations
// (HTTP requests, cron runs) from Rust with `op_ridge_take_invocation`, calls
// the worker's handler for each, and hands the outcome back: a Response
// (small bodies in one op call, streams chunk by chunk), or the end of a
// scheduled run.
import { core, primordials } from "ext:core/mod.js";
import {
  op_ridge_count_subrequest,
  op_ridge_event_done,
  op_ridge_invocation_arrival,
  op_ridge_log,
  op_ridge_pipe_response_body,
  op_ridge_respond,
  op_ridge_respond_error,
  op_ridge_rpc_return,
  op_ridge_invocation_props,
  op_ridge_respond_websocket,
  op_ridge_take_invocation,
  op_ridge_wait_until_settled,
} from "ext:core/ops";
import { currentRequest, formatError, internals, log, resetTimeOrigin, streamResource } from "ext:ridge/globals/00_globals.js";
import { boundWasmMemory, requestInit, responseWebSocket } from "ext:ridge/globals/02_workers_compat.js";
import { setTraceExport, SPAN_FETCH, traced, traceparentFor, tracesExported } from "ext:ridge/trace/04_trace.js";
import "ext:ridge/kv/06_kv.js";
import "ext:ridge/cache/07_cache.js";
import "ext:ridge/assets/07_assets.js";
import { queueBatch } from "ext:ridge/queues/09_queues.js";
import { callRpc, rpcOutcome, rpcReceiver, serveStubs } from "ext:ridge/service/08_service.js";
import { callObject, checkObjectClasses, serveObjectEvents } from "ext:ridge/objects/12_objects.js";
import { clientEndRid } from "ext:ridge/websocket/08_websocket.js";
import { env, envReadBeforeProvided, isEntrypointClass, provideEnv } from "ext:ridge/cloudflare/09_workers.js";
// Every node:* module, evaluated into the startup snapshot.
import "ext:ridge/node/all.js";
import "ext:ridge/cloudflare/10_node.js";
import "ext:ridge/cloudflare/11_sockets.js";
import "ext:ridge/cloudflare/12_email.js";
import { installNodeGlobals } from "ext:ridge/node/internal/globals.js";

const {
  ArrayPrototypePush,
  JSONParse,
  ObjectDefineProperty,
  ObjectGetOwnPropertyDescriptor,
  ObjectSetPrototypeOf,
  ObjectKeys,
  ObjectPrototypeIsPrototypeOf,
  PromisePrototypeThen,
  ReflectApply,
  PromiseRace,
  PromiseReject,
  PromiseResolve,
  SafeMap,
  SafePromiseAllSettled,
  StringPrototypeIndexOf,
  StringPrototypeSlice,
  TypeError,
} = primordials;
const { InnerBody } = internals.body;
const { fromInnerRequest, Request } = internals.request;
const {
  getInnerResponse,
  ResponsePrototype,
  SERVE_FAST_HEADER_DEFAULT_TEXT,
  SERVE_FAST_HEADER_NONE,
  serveFastBodyKey,
  serveFastConsumedKey,
  serveFastContentTypeKey,
  serveFastHeaderKindKey,
  serveFastStatusKey,
  toInnerResponse,
  wireHeaderList,
} = internals.response;
const { readableStreamForRid, ReadableStreamPrototype } = internals.streams;
const { Event } = internals.event;

// ---- service-worker format -------------------------------------------------

/** Listeners added with addEventListener, by event type. */
const listeners = new SafeMap();
/** The Response promise given to respondWith(), read by the dispatcher. */
const kResponded = Symbol("responded");

/** An event whose handling may go on after it was dispatched (`waitUntil`). */
class ExtendableEvent extends Event {
  #waitUntil;
  constructor(type, init = undefined, waitUntil = undefined) {
    super(type, init);
    this.#waitUntil = waitUntil;
  }
  waitUntil(promise) {
    if (this.#waitUntil === undefined) {
      throw new DOMException("waitUntil() is only available while the event is handled", "InvalidStateError");
    }
    this.#waitUntil(promise);
  }
}

class FetchEvent extends ExtendableEvent {
  #respondWith = null;
  constructor(request, waitUntil) {
    super("fetch", undefined, waitUntil);
    this.request = request;
  }
  respondWith(response) {
    if (this.#respondWith !== null) {
      throw new DOMException("respondWith() was already called for this event", "InvalidStateError");
    }
    this.#respondWith = PromiseResolve(response);
  }
  passThroughOnException() {}
  get [kResponded]() {
    return this.#respondWith;
  }
}

/** What a service-worker script's "scheduled" listeners receive. */
class ScheduledEvent extends ExtendableEvent {
  constructor(type, init = {}, waitUntil = undefined) {
    super(type, undefined, waitUntil);
    this.scheduledTime = init.scheduledTime ?? 0;
    this.cron = init.cron ?? "";
  }
  noRetry() {}
}

function addEventListener(type, listener) {
  if (typeof listener !== "function" && typeof listener?.handleEvent !== "function") {
    throw new TypeError(`addEventListener('${type}', listener): listener must be a function`);
  }
  const list = listeners.get(type) ?? [];
  if (!list.includes(listener)) ArrayPrototypePush(list, listener);
  listeners.set(type, list);
}

function removeEventListener(type, listener) {
  const list = listeners.get(type);
  const index = list?.indexOf(listener) ?? -1;
  if (index !== -1) list.splice(index, 1);
}

/** Calls the global listeners for `event.type`; false if one cancelled it. */
function dispatchEvent(event) {
  for (const listener of listeners.get(event.type) ?? []) {
    if (typeof listener === "function") listener.call(globalThis, event);
    else listener.handleEvent(event);
  }
  return !event.defaultPrevented;
}

for (const [name, value, enumerable] of [
  ["addEventListener", addEventListener, true],
  ["removeEventListener", removeEventListener, true],
  ["dispatchEvent", dispatchEvent, true],
  ["ExtendableEvent", ExtendableEvent, false],
  ["FetchEvent", FetchEvent, false],
  ["ScheduledEvent", ScheduledEvent, false],
]) {
  ObjectDefineProperty(globalThis, name, { value, enumerable, configurable: true, writable: true });
}

async function dispatchFetchEvent(request, waitUntil) {
  const event = new FetchEvent(request, waitUntil);
  for (const listener of listeners.get("fetch") ?? []) {
    if (typeof listener === "function") listener.call(globalThis, event);
    else listener.handleEvent(event);
    if (event[kResponded] !== null) break;
  }
  if (event[kResponded] === null) {
    throw new TypeError("No fetch event listener called event.respondWith(); every request needs a Response");
  }
  return await event[kResponded];
}

// ---- incoming requests -------------------------------------------------------

/**
 * The inner request deno_fetch's Request wraps, for a request from the
 * network: the same fields as deno_fetch's `newInnerRequest` makes, with the
 * accessors on a shared prototype instead of on every object, which V8 makes
 * much faster to create (this runs for every request).
 */
class IncomingInnerRequest {
  constructor(method, url, headerBlock, body) {
    this.methodInner = method;
    // Split into the header list on first use (wire.rs in crates/ridge-ext).
    this.headerBlock = headerBlock;
    this.headerListInner = null;
    this.body = body;
    // As on Cloudflare: passing an incoming request on to fetch() returns
    // redirects rather than following them.
    this.redirectMode = "manual";
    this.redirectCount = 0;
    this.urlList = [() => url];
    this.urlListProcessed = [url];
    this.clientRid = null;
    this.blobUrlEntry = null;
  }
  get method() {
    return this.methodInner;
  }
  set method(value) {
    this.methodInner = value;
  }
  get headerList() {
    if (this.headerListInner === null) this.headerListInner = parseHeaderBlock(this.headerBlock);
    return this.headerListInner;
  }
  set headerList(value) {
    this.headerListInner = value;
  }
  url() {
    return this.urlListProcessed[0];
  }
  currentUrl() {
    const last = this.urlList.length - 1;
    if (this.urlListProcessed[last] === undefined) {
      this.urlListProcessed[last] = this.urlList[last]();
    }
    return this.urlListProcessed[last];
  }
}

/** A header block (`name:value\r\n` lines) as a list of [name, value]. */
function parseHeaderBlock(block) {
  const list = [];
  let start = 0;
  while (start < block.length) {
    const colon = StringPrototypeIndexOf(block, ":", start);
    const end = StringPrototypeIndexOf(block, "\r\n", colon);
    ArrayPrototypePush(list, [StringPrototypeSlice(block, start, colon), StringPrototypeSlice(block, colon + 1, end)]);
    start = end + 2;
  }
  return list;
}

/** A header list as a header block, the form Rust reads (wire.rs in crates/ridge-ext). */
function headerBlock(list) {
  let block = "";
  for (let index = 0; index < list.length; index++) {
    const header = list[index];
    block += header[0] + ":" + header[1] + "\r\n";
  }
  return block;
}

/** `ctx`: what a module worker's fetch handler gets as its third argument. */
const kPending = Symbol("pending");

class ExecutionContext {
  #rid;
  #props;
  constructor(rid) {
    this[kPending] = [];
    this.#rid = rid;
  }
  /** The `props` of the service binding the event came through (`{}`
   * for the rest), read on first use. */
  get props() {
    this.#props ??= JSONParse(op_ridge_invocation_props(this.#rid) ?? "{}");
    return this.#props;
  }
  /** Keeps the request's work going after the response, within its limits. */
  waitUntil(promise) {
    ArrayPrototypePush(this[kPending], PromiseResolve(promise));
  }
  passThroughOnException() {}
}

// ---- limits ------------------------------------------------------------------

/** How long `waitUntil` work may run on, from the worker's wall-clock limit
 * (set by `start`, before any request; the numbers are ridge-core's). */
const limits = { wallMs: 0 };
const fetchImpl = internals.fetch.fetch;

function fetch(input, init = undefined) {
  const rid = currentRequest();
  if (rid !== undefined) {
    // Rust keeps the count, in the request's record, and refuses one too many.
    try {
      op_ridge_count_subrequest(rid);
    } catch (error) {
      return PromiseReject(error);
    }
  }
  if (!tracesExported()) return fetchImpl(input, requestInit(init));
  let request;
  try {
    request = new Request(input, requestInit(init));
  } catch (error) {
    return PromiseReject(error);
  }
  return traced(SPAN_FETCH, request.method, request.url, (span) => {
    // A traced subrequest carries the trace on to whatever it calls.
    if (span >= 0) request.headers.set("traceparent", traceparentFor(span));
    return fetchImpl(request);
  }, (response) => response.status);
}

ObjectDefineProperty(globalThis, "fetch", { value: fetch, enumerable: true, configurable: true, writable: true });

// ---- the worker -----------------------------------------------------------

/** Describes a value that is not a Response, for the error message. */
function describe(value) {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (typeof value !== "object") return `a ${typeof value}`;
  try {
    return `an object (${value.constructor?.name ?? "Object"})`;
  } catch {
    // A Proxy whose traps throw.
    return "an object";
  }
}

/**
 * Called once by Rust after the worker's main module has been evaluated
 * (and `provideEnv` has filled `env`), with the worker's limits.
 * Returns the worker's format ("modules" or "service-worker"), or throws if
 * the worker has no handler.
 */
function start(namespace, configJson) {
  const configured = JSONParse(configJson);
  limits.wallMs = configured.wallMs;
  setTraceExport(configured.traces);
  resetTimeOrigin();
  const exported = namespace.default;
  const has = (name) => exported !== undefined && exported !== null && typeof exported[name] === "function";
  const listening = (type) => (listeners.get(type)?.length ?? 0) > 0;
  let handlers;
  let format;
  if (isEntrypointClass(exported)) {
    // `export default class extends WorkerEntrypoint`: an instance per
    // event. Its handlers may be methods or class fields, so they are
    // looked up on the instance.
    format = "modules";
    const call = (method) => (event, ctx) => {
      const instance = new exported(ctx, env);
      if (typeof instance[method] !== "function") {
        throw new TypeError(
          `The worker's default export (class ${exported.name || "extends WorkerEntrypoint"}) has no ${method}() method`,
        );
      }
      return instance[method](event);
    };
    handlers = { fetch: call("fetch"), scheduled: call("scheduled"), queue: call("queue") };
  } else if (has("fetch") || has("scheduled") || has("queue")) {
    format = "modules";
    handlers = {
      fetch: has("fetch") ? (request, ctx) => exported.fetch(request, env, ctx) : null,
      scheduled: has("scheduled") ? (event, ctx) => exported.scheduled(event, env, ctx) : null,
      queue: has("queue") ? (batch, ctx) => exported.queue(batch, env, ctx) : null,
    };
  } else if (listening("fetch") || listening("scheduled")) {
    format = "service-worker";
    // Service-worker scripts see their bindings as globals.
    for (const name of ObjectKeys(env)) {
      ObjectDefineProperty(globalThis, name, { value: env[name], enumerable: true, configurable: true, writable: true });
    }
    handlers = {
      fetch: listening("fetch")
        ? (request, ctx) => dispatchFetchEvent(request, (promise) => ctx.waitUntil(promise))
        : null,
      scheduled: listening("scheduled")
        ? (event, ctx) => dispatchEvent(new ScheduledEvent("scheduled", event, (promise) => ctx.waitUntil(promise)))
        : null,
      queue: null,
    };
  } else {
    throw new TypeError(
      "The worker has no fetch handler (nor a scheduled or queue one): export default { fetch(request, env, ctx) { ... } } " +
        "or call addEventListener('fetch', event => event.respondWith(...))",
    );
  }
  checkObjectClasses(namespace);
  serveObjectEvents(namespace, env, runObjectEvent);
  serve(handlers, namespace);
  return format;
}

/** Event kinds, as `op_ridge_take_invocation` tags them (src/wire.rs of ridge-ext). */
const EVENT_FETCH = 0;
const EVENT_SCHEDULED = 1;
const EVENT_RPC = 2;
const EVENT_ALARM = 3;
const EVENT_QUEUE = 4;

async function serve(handlers, namespace) {
  // Sleeps until invocations arrive (false: the isolate is shutting down),
  // then takes all that wait. Waiting first also keeps them out of
  // `start`, which runs under the startup limits.
  while (await op_ridge_invocation_arrival()) {
    for (let next = op_ridge_take_invocation(); next !== null; next = op_ridge_take_invocation()) {
      try {
        if (next[1] === EVENT_FETCH) handleRequest(next, handlers.fetch ?? noFetchHandler);
        else if (next[1] === EVENT_SCHEDULED) handleScheduled(next, handlers.scheduled);
        else if (next[1] === EVENT_RPC) handleRpc(next, namespace);
        else if (next[1] === EVENT_ALARM) handleAlarm(next, namespace);
        else if (next[1] === EVENT_QUEUE) handleQueue(next, handlers.queue);
        else throw new TypeError(`Ridge sent an event of unknown kind ${next[1]}`);
      } catch (error) {
        // Setting the invocation up failed: answer it, and keep serving.
        fail(next[0], [], error);
      }
    }
  }
}

function noFetchHandler() {
  throw new TypeError("The worker has no fetch handler: export default { fetch(request, env, ctx) { ... } }");
}

/**
 * What a scheduled handler gets as its controller (module workers) or event
 * (service-worker scripts). Ridge does not retry failed cron runs, so
 * `noRetry()` has nothing to turn off (see DIFFERENCES.md).
 */
class ScheduledController {
  constructor(cron, scheduledTime) {
    this.cron = cron;
    this.scheduledTime = scheduledTime;
    this.type = "scheduled";
  }
  noRetry() {}
}

/**
 * Calls `handler(event, ctx)` for invocation `rid`: every log line written
 * while it runs, including in its callbacks and waitUntil work, and every
 * subrequest it makes are tagged with the invocation (the async context).
 * A throw becomes a rejected promise.
 */
function callInContext(rid, handler, event, ctx) {
  const previousContext = core.getAsyncContext();
  core.setAsyncContext(rid);
  try {
    return handler(event, ctx);
  } catch (error) {
    return PromiseReject(error);
  } finally {
    core.setAsyncContext(previousContext);
  }
}

/** Runs the scheduled handler for a cron run `[rid, EVENT_SCHEDULED, cron, scheduledTime]`. */
function handleScheduled(next, scheduled) {
  const { 0: rid, 2: cron, 3: scheduledTime } = next;
  if (scheduled === null) {
    throw new TypeError("The worker has no scheduled handler: export default { scheduled(controller, env, ctx) { ... } }");
  }
  const ctx = new ExecutionContext(rid);
  const result = callInContext(rid, scheduled, new ScheduledController(cron, scheduledTime), ctx);
  eventDone(rid, ctx[kPending], result);
}

/** Answers event `rid` (not a fetch nor an RPC call) once its handler's
 * `result` settles. */
function eventDone(rid, pending, result) {
  PromisePrototypeThen(
    PromiseResolve(result),
    () => {
      const finished = pending.length === 0;
      op_ridge_event_done(rid, finished);
      if (!finished) settle(rid, pending);
    },
    (error) => fail(rid, pending, error),
  );
}

/** Runs `run` as the handler of event `rid`, which the isolate opened
 * itself (a hibernatable WebSocket's message); returns its result. */
function runObjectEvent(rid, run) {
  const ctx = new ExecutionContext(rid);
  const result = callInContext(rid, run);
  eventDone(rid, ctx[kPending], result);
  return result;
}

/** Runs the queue handler for a batch `[rid, EVENT_QUEUE, queue,
 * messages]`. The batch is done once the handler's promise and its
 * `waitUntil` work settled, as workerd reports it, whether the handler
 * succeeded or threw: only then are the messages acknowledged or
 * retried. */
function handleQueue(next, queue) {
  const { 0: rid, 2: name, 3: messages } = next;
  if (queue === null) {
    throw new TypeError("The worker has no queue handler: export default { queue(batch, env, ctx) { ... } }");
  }
  const ctx = new ExecutionContext(rid);
  const result = callInContext(rid, queue, queueBatch(rid, name, messages), ctx);
  const pending = ctx[kPending];
  const afterWaitUntil = (then) => PromisePrototypeThen(SafePromiseAllSettled(pending), then);
  PromisePrototypeThen(
    PromiseResolve(result),
    () =>
      afterWaitUntil(() => {
        op_ridge_event_done(rid, false);
        // Logs what waitUntil work threw, and ends the invocation.
        settle(rid, pending);
      }),
    (error) => afterWaitUntil(() => fail(rid, pending, error)),
  );
}

/** Runs a Durable Object's alarm `[rid, EVENT_ALARM, [class, id, name],
 * retryCount]`: its `alarm()` handler, as an event of the object. */
function handleAlarm(next, namespace) {
  const { 0: rid, 2: object, 3: retryCount } = next;
  const ctx = new ExecutionContext(rid);
  const run = () =>
    callObject(namespace, object, env, ({ target }) => {
      if (typeof target.alarm !== "function") {
        throw new TypeError(`The Durable Object class ${object[0]} has no alarm() handler`);
      }
      return target.alarm({ retryCount, isRetry: retryCount > 0 });
    });
  eventDone(rid, ctx[kPending], callInContext(rid, run));
}

/** Runs an RPC call `[rid, EVENT_RPC, method, entrypoint, args, streams,
 * stubs, writables, object]` (object: `[class, id, name]` of the Durable
 * Object called, or null); what it returns or throws goes back serialized, and
 * the functions and `RpcTarget`s in its result are served to the caller as
 * long as it holds them (js/service/08_service.js). */
function handleRpc(next, namespace) {
  const { 0: rid, 2: method, 3: entrypoint, 4: args, 5: streams, 6: stubs, 7: writables, 8: object } = next;
  const ctx = new ExecutionContext(rid);
  const pending = ctx[kPending];
  const rpc = { method, args, streams, stubs, writables };
  // A Durable Object's call waits for its object to take events.
  const call =
    object === null
      ? () => callRpc(rpcReceiver(namespace, entrypoint, env, ctx), rpc, env, ctx)
      : () => callObject(namespace, object, env, (receiver) => callRpc(receiver, rpc, env, ctx));
  const result = callInContext(rid, call);
  const answer = (thrown, value) => {
    // The caller's stubs among the arguments end with the call.
    core.tryClose(stubs);
    const streams = [];
    const targets = [];
    const sockets = [];
    const { 0: failed, 1: bytes } = rpcOutcome(thrown, value, streams, targets, sockets);
    const server = op_ridge_rpc_return(rid, failed, bytes, streams, targets.length > 0, sockets);
    if (server !== null) ArrayPrototypePush(pending, serveStubs(server, targets));
    settle(rid, pending);
  };
  PromisePrototypeThen(
    PromiseResolve(result),
    (value) => answer(false, value),
    (error) => answer(true, error),
  );
}

function handleRequest(next, callHandler) {
  const { 0: rid, 2: method, 3: url, 4: headers, 5: bodyRid } = next;
  const body = bodyRid === null ? null : new InnerBody(readableStreamForRid(bodyRid));
  const request = fromInnerRequest(new IncomingInnerRequest(method, url, headers, body), "immutable");

  const ctx = new ExecutionContext(rid);
  const pending = ctx[kPending];
  const result = callInContext(rid, callHandler, request, ctx);

  // A Response returned synchronously is sent at once; anything else is
  // awaited first, as a promise or thenable.
  try {
    if (ObjectPrototypeIsPrototypeOf(ResponsePrototype, result)) {
      answer(rid, pending, result);
    } else {
      PromisePrototypeThen(
        PromiseResolve(result),
        (response) => answer(rid, pending, response),
        (error) => fail(rid, pending, error),
      );
    }
  } catch (error) {
    fail(rid, pending, error);
  }
}

/** Sends the handler's response; the request is over once its `waitUntil`
 * work has settled too. */
function answer(rid, pending, response) {
  try {
    if (sendResponse(rid, response, pending.length === 0)) return;
  } catch (error) {
    op_ridge_respond_error(rid, formatError(error));
  }
  settle(rid, pending);
}

/** Answers with the handler's error. */
function fail(rid, pending, error) {
  op_ridge_respond_error(rid, formatError(error));
  settle(rid, pending);
}

/** Lets `waitUntil` work run on after the response, within the wall-clock
 * limit of the request, then ends the request. */
async function settle(rid, pending) {
  if (pending.length > 0) {
    let timer;
    const timedOut = new Promise((resolve) => (timer = setTimeout(() => resolve(null), limits.wallMs)));
    const outcomes = await PromiseRace([SafePromiseAllSettled(pending), timedOut]);
    clearTimeout(timer);
    if (outcomes === null) {
      op_ridge_log(3, `waitUntil work abandoned: worker exceeded its wall-clock time limit (${limits.wallMs} ms)`, rid);
    } else {
      for (const outcome of outcomes) {
        if (outcome.status === "rejected") {
          op_ridge_log(3, `Uncaught (in waitUntil) ${formatError(outcome.reason)}`, rid);
        }
      }
    }
  }
  op_ridge_wait_until_settled(rid);
}

/**
 * Sends `response` for request `rid`. With `finished` (no `waitUntil` work
 * is pending), a whole body also ends the request; returns whether it did.
 */
function sendResponse(rid, response, finished) {
  if (!ObjectPrototypeIsPrototypeOf(ResponsePrototype, response)) {
    throw new TypeError(`The fetch handler returned ${describe(response)} instead of a Response`);
  }
  if (sendStaticResponse(rid, response, finished)) return finished;
  // Sent before, on the static path.
  if (response[serveFastConsumedKey]) throw bodyUsedError();
  const inner = toInnerResponse(response);
  const headers = headerBlock(wireHeaderList(inner));
  const webSocket = responseWebSocket(response);
  if (webSocket !== null) {
    op_ridge_respond_websocket(rid, headers, clientEndRid(webSocket));
    return false;
  }
  const body = inner.body;
  if (body === null) {
    op_ridge_respond(rid, inner.status, inner.statusMessage, headers, null, false, finished);
    return finished;
  }
  const source = body.streamOrStatic;
  if (!ObjectPrototypeIsPrototypeOf(ReadableStreamPrototype, source)) {
    if (source.consumed) throw bodyUsedError();
    source.consumed = true;
    op_ridge_respond(rid, inner.status, inner.statusMessage, headers, source.body, false, finished);
    return finished;
  }
  const streamRid = streamResource(body.stream, body.length);
  op_ridge_respond(rid, inner.status, inner.statusMessage, headers, null, true, false);
  PromisePrototypeThen(op_ridge_pipe_response_body(rid, streamRid), undefined, (error) => {
    op_ridge_log(3, `Response body stream failed: ${formatError(error)}`, rid);
  });
  return false;
}

function bodyUsedError() {
  return new TypeError("The Response body has already been used");
}

/**
 * The common case, `new Response(text or bytes, { headers: { "content-type":
 * ... } })` answered unchanged: deno_fetch keeps such a response's status,
 * body and content type aside (its "serve fast static" slots, which deno's
 * own server reads too), so it is sent without building its header list.
 * False when the response is not of that kind (deno_fetch drops the slots
 * as soon as the worker touches the headers).
 */
function sendStaticResponse(rid, response, finished) {
  const status = response[serveFastStatusKey];
  if (status === 0 || status === undefined) return false;
  const inner = getInnerResponse(response);
  const source = inner.body?.streamOrStatic;
  if (response[serveFastConsumedKey] || source?.consumed === true) throw bodyUsedError();
  const kind = response[serveFastHeaderKindKey];
  let headers = "";
  if (kind === SERVE_FAST_HEADER_DEFAULT_TEXT) {
    headers = "content-type:text/plain;charset=UTF-8\r\n";
  } else if (kind !== SERVE_FAST_HEADER_NONE) {
    headers = "content-type:" + response[serveFastContentTypeKey] + "\r\n";
  }
  response[serveFastConsumedKey] = true;
  if (source !== undefined) source.consumed = true;
  op_ridge_respond(rid, status, inner.statusMessage, headers, response[serveFastBodyKey], false, finished);
  return true;
}

// Rust calls this once per isolate, before the worker's code runs: it hides
// Deno's internals (deno_core needs them on the global object until the
// isolate is restored from the snapshot) and hands back `start`, and
// `reinstate`, which puts the internals back before a worker snapshot is
// taken (isolate/worker_snapshot.rs in crates/ridge-runtime), so that the worker's snapshot
// restores as Ridge's own does. Worker code never runs while they are back.
// By index, with null-prototype descriptors: worker code has run by the
// time `reinstate` does, and must not reach them through a patched
// iterator or an `Object.prototype` getter.
const hiddenInternals = ["__ridgeTakeStart", "Deno", "__bootstrap"];
const hiddenDescriptors = [];
// While a worker snapshot is being made, console output is dropped: the
// console's native half (a cppgc object) cannot exist in a snapshot.
let buildingSnapshot = false;
function reinstate() {
  buildingSnapshot = false;
  for (let index = 0; index < hiddenInternals.length; index++) {
    ObjectDefineProperty(globalThis, hiddenInternals[index], hiddenDescriptors[index]);
  }
}
function quietConsoleWhileBuilding() {
  buildingSnapshot = true;
  const console = globalThis.console;
  const names = ObjectKeys(console);
  for (let index = 0; index < names.length; index++) {
    const method = console[names[index]];
    if (typeof method !== "function") continue;
    console[names[index]] = function (...args) {
      if (!buildingSnapshot) return ReflectApply(method, this, args);
    };
  }
}
ObjectDefineProperty(globalThis, "__ridgeTakeStart", {
  value: (forSnapshot, nodeGlobals) => {
    for (let index = 0; index < hiddenInternals.length; index++) {
      const descriptor = ObjectGetOwnPropertyDescriptor(globalThis, hiddenInternals[index]);
      ObjectSetPrototypeOf(descriptor, null);
      hiddenDescriptors[index] = descriptor;
      delete globalThis[hiddenInternals[index]];
    }
    if (forSnapshot) quietConsoleWhileBuilding();
    // No shared memory between threads in a worker, as on Cloudflare. (V8
    // installs these when the context is restored, so this runs per isolate.)
    delete globalThis.SharedArrayBuffer;
    delete globalThis.Atomics.wait;
    delete globalThis.Atomics.waitAsync;
    // Wasm memories count against the memory limit (also installed by V8
    // per context).
    boundWasmMemory();
    if (nodeGlobals) installNodeGlobals();
    return [start, reinstate, provideEnv, envReadBeforeProvided];
  },
  enumerable: false,
  configurable: true,
  writable: false,
});

core.setUnhandledPromiseRejectionHandler((_promise, reason) => {
  log(3, `Uncaught (in promise) ${formatError(reason)}`);
  return true;
});
