// Ridge: service bindings (`services` in the configuration): another worker
// of the node as a Fetcher. `fetch(request)` hands the request to that
// worker's isolate (crates/ridge-ext service.rs) as an invocation of its
// own: both bodies stream, the callee's limits apply to the callee, and the
// call counts as one subrequest of the caller. Any other property is a
// method of the worker's entrypoint (JavaScript RPC): arguments and results
// cross V8-serialized (structured clone), and an error thrown by the method
// is thrown to the caller. Functions and `RpcTarget`s cross as stubs, in
// both directions (crates/ridge-ext rpc.rs). The receiving side
// (`rpcReceiver`, `callRpc`, `serveStubs`) is here too; js/http/10_worker.js
// delivers RPC invocations to it.
import { core, primordials } from "ext:core/mod.js";
import {
  op_deserialize,
  op_ridge_count_subrequest,
  op_ridge_rpc_answer,
  op_ridge_rpc_next,
  op_ridge_rpc_serve_next,
  op_ridge_rpc_sink_abort,
  op_ridge_rpc_sink_write,
  op_ridge_rpc_stub_call,
  op_ridge_rpc_stub_dispose,
  op_ridge_rpc_writable,
  op_ridge_service_call,
  op_ridge_service_fetch,
  op_ridge_status_text,
  op_serialize,
} from "ext:core/ops";
import {
  currentRequest,
  formatError,
  internals,
  log,
  registerBinding,
  streamResource,
} from "ext:ridge/globals/00_globals.js";
import { isEntrypointClass, RpcTarget } from "ext:ridge/cloudflare/09_workers.js";
import { Response as WorkersResponse } from "ext:ridge/globals/02_workers_compat.js";
import { SPAN_FETCH, SPAN_RPC, traced, traceparentFor } from "ext:ridge/trace/04_trace.js";
import { clientEndOf, clientEndRid } from "ext:ridge/websocket/08_websocket.js";

const {
  ArrayBufferIsView,
  ArrayBufferPrototype,
  ArrayIsArray,
  ArrayPrototypeIncludes,
  ArrayPrototypePush,
  Error,
  ErrorPrototype,
  FunctionPrototypeBind,
  NumberIsInteger,
  ObjectDefineProperty,
  ObjectGetPrototypeOf,
  ObjectHasOwn,
  ObjectKeys,
  ObjectPrototype,
  ObjectPrototypeIsPrototypeOf,
  PromisePrototypeThen,
  PromiseReject,
  Proxy,
  ReflectApply,
  ReflectGet,
  RegExpPrototypeTest,
  SafeMap,
  SafeSet,
  SafeWeakSet,
  Symbol,
  TypeError,
} = primordials;
const SymbolDispose = Symbol.dispose;
const SymbolToStringTag = Symbol.toStringTag;
const { DOMException } = core.loadExtScript("ext:deno_web/01_dom_exception.js");
const { Request, RequestPrototype } = internals.request;
const { Response, ResponsePrototype } = internals.response;
const { Headers } = internals.headers;
const HeadersPrototype = Headers.prototype;
const { readableStreamForRid, ReadableStreamPrototype, WritableStream } = internals.streams;
const WritableStreamPrototype = WritableStream.prototype;

const kConstruct = Symbol("Fetcher");
const REDIRECT_STATUSES = [301, 302, 303, 307, 308];
/** Redirects a service-binding fetch follows, as fetch() does. */
const MAX_REDIRECTS = 20;
const NULL_BODY_STATUSES = [101, 204, 205, 304];

class Fetcher {
  #index;

  static {
    ObjectDefineProperty(this.prototype, SymbolToStringTag, { value: "Fetcher", configurable: true });
  }

  #service;
  #entrypoint;

  constructor(token, index, service, entrypoint) {
    if (token !== kConstruct) throw new TypeError("Illegal constructor");
    this.#index = index;
    this.#service = service;
    this.#entrypoint = entrypoint;
  }

  fetch(input, init = undefined) {
    const rid = currentRequest();
    let request;
    try {
      if (rid === undefined) {
        throw new Error("Cannot call a service binding outside of a request (for example at the top level of a module)");
      }
      request = new Request(input, init);
      // A named entrypoint's fetch() is called as an RPC method would be.
      if (this.#entrypoint) return this.#fetchEntrypoint(request);
      op_ridge_count_subrequest(rid);
    } catch (error) {
      return PromiseReject(error);
    }
    return traced(SPAN_FETCH, request.method, request.url, (span) => this.#follow(rid, request, span), (response) => response.status);
  }

  /** Sends `request`, and follows the redirects its answers give when its
   * redirect mode is "follow" (to the same service, as workerd does); each
   * one more subrequest. */
  async #follow(rid, request, span) {
    for (let redirects = 0; ; redirects++) {
      const response = await this.#send(rid, request, span);
      const location = response.headers.get("location");
      if (request.redirect !== "follow" || !ArrayPrototypeIncludes(REDIRECT_STATUSES, response.status) || location === null) {
        return response;
      }
      // The redirect's own body is not wanted.
      await response.body?.cancel();
      if (redirects === MAX_REDIRECTS) throw new TypeError("Too many redirects.");
      const { status } = response;
      const toGet = status === 303 || ((status === 301 || status === 302) && request.method === "POST");
      if (!toGet && request.body !== null) {
        throw new TypeError("A redirect asks to send the request body again, which was streamed once already.");
      }
      op_ridge_count_subrequest(rid);
      const method = toGet && request.method !== "HEAD" ? "GET" : request.method;
      request = new Request(new URL(location, request.url).href, { method, headers: request.headers, redirect: "follow" });
    }
  }

  async #fetchEntrypoint(request) {
    try {
      const response = await callRemote(this.#index, this.#service, "fetch", [request]);
      if (response.statusText !== "") return response;
      // As over HTTP (and as the default entrypoint's): the status's text.
      const { status, headers, body } = response;
      return new Response(body, { status, statusText: op_ridge_status_text(status), headers });
    } catch (error) {
      // As for the default entrypoint: the caller sees a 500.
      log(3, `the service's fetch() threw: ${formatError(error)}`);
      return new Response("Worker threw exception", { status: 500 });
    }
  }

  async #send(rid, request, span) {
    const headers = [];
    for (const { 0: name, 1: value } of request.headers) ArrayPrototypePush(headers, [name, value]);
    // A traced call carries the trace on to the service.
    if (span >= 0) ArrayPrototypePush(headers, ["traceparent", traceparentFor(span)]);
    const bodyRid = request.body === null ? -1 : streamResource(request.body);
    const { 0: status, 1: statusText, 2: responseHeaders, 3: responseRid, 4: webSocket } = await op_ridge_service_fetch(
      rid,
      this.#index,
      request.method,
      request.url,
      headers,
      bodyRid,
    );
    // The service's WebSocket: returned by the caller, the client talks to
    // the service's end directly.
    if (webSocket !== null) {
      const init = { status, statusText, headers: responseHeaders, webSocket: clientEndOf(webSocket) };
      return new WorkersResponse(null, init);
    }
    const body = responseRid === null || ArrayPrototypeIncludes(NULL_BODY_STATUSES, status) ? null : readableStreamForRid(responseRid);
    return new Response(body, { status, statusText, headers: responseHeaders });
  }

  connect() {
    throw new TypeError("Ridge's service bindings do not open sockets");
  }
}

/** Serialized RPC arguments or results may be this large, as on Cloudflare. */
const MAX_RPC_MESSAGE = 32 * 1024 * 1024;

/** `value` V8-serialized, as RPC (and Durable Object storage) carries it;
 * what cannot be cloned is a DataCloneError, as structuredClone's. */
export function serialize(value) {
  let bytes;
  try {
    bytes = op_serialize(value, undefined, undefined, false);
  } catch (error) {
    throw new DOMException(error.message, "DataCloneError");
  }
  if (bytes.byteLength > MAX_RPC_MESSAGE) {
    throw new Error(
      `Serialized RPC arguments or return values are limited to 32MiB, but the size of this value was: ${bytes.byteLength} bytes.`,
    );
  }
  return bytes;
}

export function deserialize(bytes) {
  return op_deserialize(bytes, undefined, undefined, undefined, false);
}

/** Calls `method` of binding `index`'s entrypoint (of worker `service`)
 * with `args`. */
function callRemote(index, service, method, args) {
  return rpcPromise(remotePromise(index, service, method, args));
}

/** The promise of what `method` returns, or of the property `method` when
 * `args` is null (`await env.S.name`); `object` (`[id, name]`) says which
 * Durable Object when binding `index` is a namespace. */
function remotePromise(index, service, method, args, object = null) {
  const rid = currentRequest();
  const stubs = [];
  const streams = [];
  const writables = [];
  let bytes;
  try {
    if (rid === undefined) {
      throw new Error("Cannot call a service binding outside of a request (for example at the top level of a module)");
    }
    op_ridge_count_subrequest(rid);
    bytes = serialize(withStubMarkers(args, stubs, streams, writables, undefined));
  } catch (error) {
    // Writable streams already piped from their sinks end (unwritten to).
    for (const sink of writables) core.tryClose(sink);
    return PromiseReject(error);
  }
  return traced(SPAN_RPC, method, service, (span) => {
    // A traced call carries the trace on to the callee.
    const traceparent = span >= 0 ? traceparentFor(span) : "";
    return follow(rid, op_ridge_service_call(rid, index, method, bytes, traceparent, streams, writables, object), stubs);
  });
}

/**
 * Member `name` of a remote object (an entrypoint, or a stub's target),
 * whose `call(name, args)` sends calls: called, a method call; awaited (or
 * chained on), a read of the property `name` (`call(name, null)`), made
 * once, on first use.
 */
function rpcMember(call, name) {
  let read;
  const value = () => (read ??= call(name, null));
  return new Proxy(function rpcMember() {}, {
    get(_target, property) {
      if (ArrayPrototypeIncludes(PROMISE_METHODS, property)) {
        const promise = value();
        return FunctionPrototypeBind(promise[property], promise);
      }
      if (typeof property === "symbol") return undefined;
      return rpcPromise(PromisePrototypeThen(value(), (result) => pipelinedProperty(result, property)), value(), property);
    },
    apply(_target, _this, args) {
      return rpcPromise(call(name, args));
    },
  });
}

/** Follows an RPC call to its result, running the callee's calls of the
 * stubs among its arguments (`stubs`) as they come. */
async function follow(rid, call, stubs) {
  for (;;) {
    const step = await op_ridge_rpc_next(call);
    if (step[0]) {
      const { 1: thrown, 2: data, 3: streams, 4: remote, 5: sockets } = step;
      if (thrown) throw deserialize(data);
      return remote === null
        ? withStubs(deserialize(data), null, streams, [], sockets)
        : withResultStubs(deserialize(data), remote, streams, sockets);
    }
    // The callee disposing of an argument's stub changes nothing here: the
    // caller's objects are the caller's, and the call's end releases them.
    const { 0: number, 1: stub, 2: method, 3: args } = step[1];
    if (number !== -1) answerCallback(call, number, stubs[stub], method, args);
  }
}

const PROMISE_METHODS = ["then", "catch", "finally"];

/**
 * What an RPC call returns: a promise of its result on which properties
 * and method calls can be chained before it settles, as on Cloudflare
 * (`await env.S.getUser(id).profile.name`). The call is made once, and
 * what is chained applies to its result when it arrives: one round trip.
 * `parent` and `key` say which property of which result this is, so that
 * calling it calls it as a method of that result.
 */
function rpcPromise(promise, parent = undefined, key = undefined) {
  return new Proxy(function rpcPromise() {}, {
    get(_target, property) {
      if (ArrayPrototypeIncludes(PROMISE_METHODS, property)) {
        return FunctionPrototypeBind(promise[property], promise);
      }
      // Disposing of a result not yet arrived disposes of it on arrival.
      if (property === SymbolDispose) {
        return () => PromisePrototypeThen(promise, (value) => value?.[SymbolDispose]?.(), () => {});
      }
      if (typeof property === "symbol") return undefined;
      return rpcPromise(PromisePrototypeThen(promise, (value) => pipelinedProperty(value, property)), promise, property);
    },
    apply(_target, _this, args) {
      if (parent === undefined) throw new TypeError("An RPC result is not a function.");
      return rpcPromise(PromisePrototypeThen(parent, (value) => ReflectApply(pipelinedProperty(value, key), value, args)));
    },
  });
}

/** Property `property` of a call's result, chained before it arrived, by
 * workerd's rules: a stub's member, a plain object's own property, and
 * `undefined` for an array's element; anything else is not implemented. */
function pipelinedProperty(value, property) {
  if (STUBS.has(value)) return value[property];
  if (ArrayIsArray(value)) {
    if (RegExpPrototypeTest(ARRAY_INDEX, property)) return undefined;
  } else if (isPlainObject(value) && ObjectHasOwn(value, property)) {
    return value[property];
  }
  throw notImplemented(property);
}

const ARRAY_INDEX = /^(0|[1-9][0-9]*)$/;

/** Runs the other side's call of one of our stubs (`target`, a function or
 * an `RpcTarget`) and sends back, through `server`, what it returned or
 * threw. */
function answerCallback(server, number, target, name, data) {
  const run = async () => {
    const args = deserialize(data);
    if (name === null) return await ReflectApply(target, undefined, args);
    if (args === null) return await rpcValue(target, name);
    return await ReflectApply(rpcMethod(target, name), target, args);
  };
  const reply = (thrown, value) => {
    const { 0: failed, 1: bytes } = rpcOutcome(thrown, value);
    op_ridge_rpc_answer(server, number, failed, bytes);
  };
  PromisePrototypeThen(run(), (value) => reply(false, value), (error) => reply(true, error));
}

/**
 * Serves the other side's calls of `targets` (the functions and
 * `RpcTarget`s of a method's result) through `server`, until every stub of
 * them is disposed of or the caller's request ends; each target's
 * `Symbol.dispose` runs once no stub of it is left. The callee's
 * invocation stays open while this runs (as `waitUntil` work).
 */
export async function serveStubs(server, targets) {
  const live = new SafeSet(ObjectKeys(targets));
  for (;;) {
    const message = await op_ridge_rpc_serve_next(server);
    if (message === null) break;
    const { 0: number, 1: stub, 2: method, 3: args } = message;
    if (number !== -1) {
      answerCallback(server, number, targets[stub], method, args);
    } else if (live.delete(`${stub}`)) {
      disposeTarget(targets[stub]);
    }
  }
  core.tryClose(server);
  for (const stub of live) disposeTarget(targets[stub]);
}

function disposeTarget(target) {
  const dispose = target[SymbolDispose];
  if (typeof dispose !== "function") return;
  try {
    ReflectApply(dispose, target, []);
  } catch (error) {
    log(3, `an RpcTarget's Symbol.dispose threw: ${formatError(error)}`);
  }
}

// Functions, `RpcTarget`s and `ReadableStream`s among RPC arguments and
// results cross as markers (an object with this one key, holding `[number,
// kind]`). The other side gets stubs in place of the first two, which call
// back (op_ridge_rpc_stub_call): while the call lasts, for arguments; until
// disposed of or the caller's request ends, for results. Streams read as
// the sender's are (Rust pumps them across, a few chunks at a time).
const STUB_KEY = "\u0000ridge:rpc-stub";

function isPlainObject(value) {
  if (value === null || typeof value !== "object") return false;
  const prototype = ObjectGetPrototypeOf(value);
  return prototype === ObjectPrototype || prototype === null;
}

/** A copy of `value` with its functions and `RpcTarget`s (pushed onto
 * `stubs`), readable streams (their resources pushed onto `streams`) and
 * writable ones (the sinks they are piped from pushed onto `writables`;
 * only arguments carry them, so undefined refuses them) and the WebSockets
 * of 101 responses (their pairs pushed onto `sockets`; only results carry
 * them), in arrays and plain objects at any depth, replaced by markers. */
function withStubMarkers(value, stubs, streams, writables, sockets, copies = new SafeMap()) {
  if (typeof value === "function" || value instanceof RpcTarget) {
    ArrayPrototypePush(stubs, value);
    return { [STUB_KEY]: [stubs.length - 1, typeof value === "function" ? "function" : "target"] };
  }
  if (ObjectPrototypeIsPrototypeOf(ReadableStreamPrototype, value)) {
    ArrayPrototypePush(streams, streamResource(value));
    return { [STUB_KEY]: [streams.length - 1, "stream"] };
  }
  if (ObjectPrototypeIsPrototypeOf(WritableStreamPrototype, value)) {
    if (writables === undefined) {
      throw new TypeError("A WritableStream cannot be returned over RPC: return a ReadableStream instead.");
    }
    // What the other side writes arrives as a body, piped into the stream.
    const { 0: body, 1: sink } = op_ridge_rpc_writable();
    PromisePrototypeThen(readableStreamForRid(body).pipeTo(value), noop, noop);
    ArrayPrototypePush(writables, sink);
    return { [STUB_KEY]: [writables.length - 1, "writable"] };
  }
  // Requests, responses and headers cross as their parts; bodies stream.
  const body = (message) => {
    if (message.body === null) return -1;
    ArrayPrototypePush(streams, streamResource(message.body));
    return streams.length - 1;
  };
  if (ObjectPrototypeIsPrototypeOf(HeadersPrototype, value)) {
    return { [STUB_KEY]: [[...value], "headers"] };
  }
  if (ObjectPrototypeIsPrototypeOf(RequestPrototype, value)) {
    const { method, url, redirect } = value;
    return { [STUB_KEY]: [{ method, url, redirect, headers: [...value.headers], body: body(value) }, "request"] };
  }
  if (ObjectPrototypeIsPrototypeOf(ResponsePrototype, value)) {
    const { status, statusText } = value;
    const parts = { status, statusText, headers: [...value.headers], body: body(value), webSocket: -1 };
    if (value.webSocket !== null) {
      if (sockets === undefined) throw new TypeError("A Response with a webSocket can be returned over RPC, not passed.");
      ArrayPrototypePush(sockets, clientEndRid(value.webSocket));
      parts.webSocket = sockets.length - 1;
    }
    return { [STUB_KEY]: [parts, "response"] };
  }
  const array = ArrayIsArray(value);
  if (!array && !isPlainObject(value)) return value;
  // Only this code writes markers: data that looks like one is refused.
  if (!array && ObjectHasOwn(value, STUB_KEY)) throw new TypeError("This object cannot be passed over RPC.");
  if (copies.has(value)) return copies.get(value);
  const copy = array ? [] : {};
  copies.set(value, copy);
  for (const key of ObjectKeys(value)) {
    copy[key] = withStubMarkers(value[key], stubs, streams, writables, sockets, copies);
  }
  return copy;
}

/** `value` (deserialized, so ours to change) with its markers replaced by
 * stubs called through `holder` (see `stubHolder`), by the readable
 * streams whose resources are `streams`, by writable streams into the
 * sinks `writables` and by the client ends of the pairs `sockets`. */
function withStubs(value, holder, streams, writables = [], sockets = [], seen = new SafeSet()) {
  if (!ArrayIsArray(value) && !isPlainObject(value)) return value;
  if (ObjectHasOwn(value, STUB_KEY)) {
    const { 0: part, 1: kind } = value[STUB_KEY];
    // Indexes come from the other side: only those of what it sent.
    const index = (number, list) => {
      if (!NumberIsInteger(number) || number < 0 || number >= list.length) throw new TypeError("Malformed RPC message");
      return list[number];
    };
    const stream = (number) => (number === -1 ? null : readableStreamForRid(index(number, streams)));
    switch (kind) {
      case "stream":
        return stream(part);
      case "writable":
        return writableForSink(index(part, writables));
      case "headers":
        return new Headers(part);
      case "request": {
        const { method, url, redirect, headers, body } = part;
        return new Request(url, { method, redirect, headers, body: stream(body) });
      }
      case "response": {
        const { status, statusText, headers, body, webSocket } = part;
        if (webSocket !== -1) {
          const client = clientEndOf(index(webSocket, sockets));
          return new WorkersResponse(null, { status, statusText, headers, webSocket: client });
        }
        const nullBody = ArrayPrototypeIncludes(NULL_BODY_STATUSES, status);
        return new Response(nullBody ? null : stream(body), { status, statusText, headers });
      }
      default:
        return makeStub(holder, part, kind === "function");
    }
  }
  if (seen.has(value)) return value;
  seen.add(value);
  for (const key of ObjectKeys(value)) value[key] = withStubs(value[key], holder, streams, writables, sockets, seen);
  return value;
}

/** A WritableStream whose writes go to sink `sink` (the caller's stream,
 * on the other side of an RPC call). */
function writableForSink(sink) {
  return new WritableStream({
    write(chunk) {
      if (!ArrayBufferIsView(chunk) && !ObjectPrototypeIsPrototypeOf(ArrayBufferPrototype, chunk)) {
        throw new TypeError("This WritableStream takes bytes (an ArrayBuffer or ArrayBufferView).");
      }
      return op_ridge_rpc_sink_write(sink, chunk);
    },
    close() {
      core.tryClose(sink);
    },
    abort(reason) {
      op_ridge_rpc_sink_abort(sink, String(reason?.message ?? reason));
    },
  });
}

function noop() {}

/** A method's result with its stubs, called through `remote` (a
 * RemoteStubs resource): disposing of the result (when it is not a stub
 * itself) disposes of every stub in it. */
function withResultStubs(value, remote, streams, sockets) {
  const holder = stubHolder(remote);
  const result = withStubs(value, holder, streams, [], sockets);
  if (!STUBS.has(result) && (ArrayIsArray(result) || isPlainObject(result))) {
    ObjectDefineProperty(result, SymbolDispose, { value: () => holder.disposeAll(), configurable: true });
  }
  return result;
}

/** The stubs made through one RemoteStubs resource: how many of each
 * target are live, so that the owner hears of a target once its last stub
 * (dups included) is disposed of, and the resource is closed once none is
 * left. */
function stubHolder(remote) {
  const live = new SafeMap();
  const disposers = new SafeSet();
  return {
    remote,
    add(stub, dispose) {
      live.set(stub, (live.get(stub) ?? 0) + 1);
      disposers.add(dispose);
    },
    release(stub, dispose) {
      disposers.delete(dispose);
      const left = live.get(stub) - 1;
      if (left > 0) {
        live.set(stub, left);
        return;
      }
      live.delete(stub);
      op_ridge_rpc_stub_dispose(remote, stub);
      if (live.size === 0) core.tryClose(remote);
    },
    disposeAll() {
      for (const dispose of disposers) dispose();
    },
  };
}

/** The stubs this side made, to tell them from objects holding stubs. */
const STUBS = new SafeWeakSet();

const STUB_DISPOSED = "RPC stub used after being disposed.";

/** A stub of the other side's function (`isFunction`) or `RpcTarget`
 * number `stub`: calling it (or a method of it) calls the original;
 * `dup()` makes another stub of it, `Symbol.dispose` releases this one. */
function makeStub(holder, stub, isFunction) {
  let disposed = false;
  const dispose = () => {
    if (disposed) return;
    disposed = true;
    holder.release(stub, dispose);
  };
  holder.add(stub, dispose);
  const dup = () => {
    if (disposed) throw new Error(STUB_DISPOSED);
    return makeStub(holder, stub, isFunction);
  };
  const call = (method, args) => {
    if (disposed) return PromiseReject(new Error(STUB_DISPOSED));
    return callStub(holder.remote, stub, method, args);
  };
  const special = (property) => {
    if (property === SymbolDispose) return dispose;
    if (property === "dup") return dup;
    return undefined;
  };
  // Both kinds are functions, as workerd's stubs are; calling a target's
  // stub calls nothing there.
  const made = isFunction
    ? new Proxy(function rpcStub() {}, {
        get: (_target, property) => special(property),
        apply: (_target, _this, args) => rpcPromise(call(null, args)),
      })
    : new Proxy(function rpcStub() {}, {
        get(_target, property) {
          if (property === SymbolDispose || property === "dup") return special(property);
          if (typeof property === "symbol" || property === "then") return undefined;
          return rpcMember(call, property);
        },
        apply() {
          throw new TypeError("An RpcTarget's stub is not a function.");
        },
      });
  STUBS.add(made);
  return made;
}

async function callStub(remote, stub, method, args) {
  const { 0: thrown, 1: data } = await op_ridge_rpc_stub_call(remote, stub, method, serialize(args));
  const value = deserialize(data);
  if (thrown) throw value;
  return value;
}

/**
 * `env.SVC`: the Fetcher, whose unknown properties are the entrypoint's
 * methods. `then` stays undefined, so that awaiting the binding itself
 * does not call the service.
 */
function serviceBinding(index, service, entrypoint) {
  const fetcher = new Fetcher(kConstruct, index, service, entrypoint);
  return new Proxy(fetcher, {
    get(target, property) {
      if (property === "constructor") return illegalConstructor;
      if (typeof property === "symbol" || property === "then" || property in target) {
        const value = ReflectGet(target, property, target);
        return typeof value === "function" ? FunctionPrototypeBind(value, target) : value;
      }
      return rpcMember((method, args) => remotePromise(index, service, method, args), property);
    },
  });
}

/**
 * The stub of Durable Object `id` (a DurableObjectId) of binding `index`'s
 * namespace, of class `className`: `fetch()` and any method are RPC calls
 * to the object (a throw in its fetch() is thrown to the caller, as on
 * Cloudflare).
 */
export function objectStub(index, className, id) {
  const object = [id.toString(), id.name ?? null];
  const call = (method, args) => remotePromise(index, className, method, args, object);
  const stub = {
    id,
    name: id.name,
    fetch(input, init = undefined) {
      try {
        return rpcPromise(call("fetch", [new Request(input, init)]));
      } catch (error) {
        return PromiseReject(error);
      }
    },
    connect() {
      throw new TypeError("Ridge's Durable Object stubs do not open sockets");
    },
  };
  return new Proxy(stub, {
    get(target, property) {
      if (typeof property === "symbol" || property === "then" || ObjectHasOwn(target, property)) return target[property];
      return rpcMember(call, property);
    },
  });
}

function illegalConstructor() {
  throw new TypeError("Illegal constructor");
}

registerBinding("service", (index, _name, { 0: service, 1: entrypoint }) => serviceBinding(index, service, entrypoint));

// ---- the receiving side --------------------------------------------------------

/** Names no entrypoint method may have over RPC (workerd's list). */
const RESERVED = ["fetch", "connect", "alarm", "webSocketMessage", "webSocketClose", "webSocketError", "dup", "constructor"];

/**
 * What an RPC call to `entrypoint` (null: the default export) of the
 * module `namespace` is made on: an entrypoint class's new instance, or
 * the default export object.
 */
export function rpcReceiver(namespace, entrypoint, env, ctx) {
  const exported = entrypoint === null ? namespace.default : namespace[entrypoint];
  if (isEntrypointClass(exported)) return { target: new exported(ctx, env), handlers: false };
  if (entrypoint === null && exported !== null && typeof exported === "object") return { target: exported, handlers: true };
  throw new TypeError(
    entrypoint === null
      ? "The worker's default export is not a WorkerEntrypoint class nor an object of handlers, so it has no RPC methods"
      : `The worker has no entrypoint named "${entrypoint}" (an exported class extending WorkerEntrypoint)`,
  );
}

function notImplemented(method) {
  return new TypeError(`The RPC receiver does not implement the method "${method}".`);
}

/**
 * Calls `method` on `receiver` with the serialized `args`, as workerd
 * does: an entrypoint's methods are its class's (not own properties, not
 * Object.prototype's); a handler object's are its own functions, called
 * with `(arg, env, ctx)`.
 */
export function callRpc(receiver, call, env, ctx) {
  const { method, args: argsBytes, streams, stubs, writables } = call;
  const { target, handlers } = receiver;
  // A binding to a named entrypoint, and a Durable Object's stub, send
  // fetch() this way (worker code never reaches it as an RPC method).
  if (method === "fetch" && !handlers) {
    const { 0: request } = withStubs(deserialize(argsBytes), null, streams);
    if (typeof target.fetch !== "function") throw new TypeError("The entrypoint has no fetch() method");
    return target.fetch(request);
  }
  if (ArrayPrototypeIncludes(RESERVED, method)) {
    throw new TypeError(`'${method}' is a reserved method and cannot be called over RPC.`);
  }
  // The caller's stubs live while the call lasts (the resource is closed
  // when it returns); disposing of them early changes nothing for it.
  const args = withStubs(deserialize(argsBytes), stubHolder(stubs), streams, writables);
  // No arguments at all: a read of the property (`await env.S.name`).
  if (args === null) {
    if (handlers) {
      if (!ObjectHasOwn(target, method)) throw notImplemented(method);
      return target[method];
    }
    return rpcValue(target, method);
  }
  if (handlers) {
    if (!ObjectHasOwn(target, method)) throw notImplemented(method);
    const handler = target[method];
    if (typeof handler !== "function") throw new TypeError(`"${method}" is not a function.`);
    if (args.length !== 1) {
      throw new TypeError(
        `Attempted to call RPC function "${method}" with the wrong number of arguments. ` +
          "When calling a top-level handler function that is not declared as part of a class, you must always " +
          "send exactly one argument. In order to support variable numbers of arguments, the server must use " +
          "class-based syntax (extending WorkerEntrypoint) instead.",
      );
    }
    if (handler.length !== 3) {
      throw new TypeError(
        `Cannot call handler function "${method}" over RPC because it has the wrong number of arguments. ` +
          "A simple function handler can only be called over RPC if it has exactly the arguments (arg, env, ctx), " +
          "where only the first argument comes from the client. To support multi-argument RPC functions, " +
          "use class-based syntax (extending WorkerEntrypoint) instead.",
      );
    }
    return ReflectApply(handler, target, [args[0], env, ctx]);
  }
  return ReflectApply(rpcMethod(target, method), target, args);
}

/** Method `method` of an entrypoint or `RpcTarget` instance, by workerd's
 * rules: its class's (not an own property, not Object.prototype's). */
function rpcMethod(target, method) {
  const value = rpcValue(target, method);
  if (typeof value !== "function") throw new TypeError(`"${method}" is not a function.`);
  return value;
}

/** Property `name` of an entrypoint or `RpcTarget` instance, as RPC may
 * reach it: its class's (getters included), not an own property nor
 * Object.prototype's. */
function rpcValue(target, name) {
  if (ObjectHasOwn(target, name)) throw notImplemented(name);
  const value = target[name];
  if (value === undefined || value === ObjectPrototype[name]) throw notImplemented(name);
  return value;
}

/** The result or error of an RPC method, serialized for the caller:
 * `[thrown, bytes]`. For a method's result (when `streams` is given, not a
 * callback's), the resources of the streams in it are pushed onto
 * `streams`, its functions and `RpcTarget`s onto `stubs` and the pairs of
 * its WebSockets onto `sockets`. What cannot be serialized is thrown as
 * an error. */
export function rpcOutcome(thrown, value, streams = undefined, stubs = undefined, sockets = undefined) {
  try {
    // What is thrown arrives as an Error, as on Cloudflare.
    if (thrown) return [true, serialize(ObjectPrototypeIsPrototypeOf(ErrorPrototype, value) ? value : new Error(String(value)))];
    if (streams === undefined) return [false, serialize(value)];
    return [false, serialize(withStubMarkers(value, stubs, streams, undefined, sockets))];
  } catch (error) {
    // Nothing of a result that failed is sent.
    if (stubs !== undefined) stubs.length = 0;
    if (streams !== undefined) streams.length = 0;
    if (sockets !== undefined) sockets.length = 0;
    try {
      return [true, serialize(error)];
    } catch {
      return [true, serialize(new Error(String(error?.message ?? error)))];
    }
  }
}
