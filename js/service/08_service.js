// Ridge: service bindings (`services` in the configuration): another worker
// of the node as a Fetcher. `fetch(request)` hands the request to that
// worker's isolate (crates/ridge-ext service.rs) as an invocation of its
// own: both bodies stream, the callee's limits apply to the callee, and the
// call counts as one subrequest of the caller. Any other property is a
// method of the worker's entrypoint (JavaScript RPC): arguments and results
// cross V8-serialized (structured clone), and an error thrown by the method
// is thrown to the caller. The receiving side (`rpcReceiver`, `callRpc`) is
// here too; js/http/10_worker.js delivers RPC invocations to it.
import { primordials } from "ext:core/mod.js";
import {
  op_deserialize,
  op_ridge_count_subrequest,
  op_ridge_service_call,
  op_ridge_service_fetch,
  op_serialize,
} from "ext:core/ops";
import { currentRequest, internals, registerBinding, streamResource } from "ext:ridge/globals/00_globals.js";
import { isEntrypointClass } from "ext:ridge/cloudflare/09_workers.js";
import { SPAN_FETCH, traced, traceparentFor } from "ext:ridge/trace/04_trace.js";

const {
  ArrayPrototypeIncludes,
  ArrayPrototypePush,
  Error,
  FunctionPrototypeBind,
  ObjectHasOwn,
  ObjectPrototype,
  PromiseReject,
  Proxy,
  ReflectApply,
  ReflectGet,
  Symbol,
  TypeError,
} = primordials;
const { Request } = internals.request;
const { Response } = internals.response;
const { readableStreamForRid } = internals.streams;

const kConstruct = Symbol("Fetcher");
const NULL_BODY_STATUSES = [101, 204, 205, 304];

class Fetcher {
  #index;

  constructor(token, index) {
    if (token !== kConstruct) throw new TypeError("Illegal constructor");
    this.#index = index;
  }

  fetch(input, init = undefined) {
    const rid = currentRequest();
    let request;
    try {
      if (rid === undefined) {
        throw new Error("Cannot call a service binding outside of a request (for example at the top level of a module)");
      }
      op_ridge_count_subrequest(rid);
      request = new Request(input, init);
    } catch (error) {
      return PromiseReject(error);
    }
    return traced(SPAN_FETCH, request.method, request.url, (span) => this.#send(rid, request, span), (response) => response.status);
  }

  async #send(rid, request, span) {
    const headers = [];
    for (const { 0: name, 1: value } of request.headers) ArrayPrototypePush(headers, [name, value]);
    // A traced call carries the trace on to the service.
    if (span >= 0) ArrayPrototypePush(headers, ["traceparent", traceparentFor(span)]);
    const bodyRid = request.body === null ? -1 : streamResource(request.body);
    const { 0: status, 1: statusText, 2: responseHeaders, 3: responseRid } = await op_ridge_service_fetch(
      rid,
      this.#index,
      request.method,
      request.url,
      headers,
      bodyRid,
    );
    const body = responseRid === null || ArrayPrototypeIncludes(NULL_BODY_STATUSES, status) ? null : readableStreamForRid(responseRid);
    return new Response(body, { status, statusText, headers: responseHeaders });
  }

  connect() {
    throw new TypeError("Ridge's service bindings do not open sockets");
  }
}

/** Serialized RPC arguments or results may be this large, as on Cloudflare. */
const MAX_RPC_MESSAGE = 32 * 1024 * 1024;

/** `value` V8-serialized, as RPC carries it. */
function serialize(value) {
  const bytes = op_serialize(value, undefined, undefined, false);
  if (bytes.byteLength > MAX_RPC_MESSAGE) {
    throw new Error(
      `Serialized RPC arguments or return values are limited to 32MiB, but the size of this value was: ${bytes.byteLength} bytes.`,
    );
  }
  return bytes;
}

function deserialize(bytes) {
  return op_deserialize(bytes, undefined, undefined, undefined, false);
}

/** Calls `method` of binding `index`'s entrypoint with `args`. */
function callRemote(index, method, args) {
  const rid = currentRequest();
  let bytes;
  try {
    if (rid === undefined) {
      throw new Error("Cannot call a service binding outside of a request (for example at the top level of a module)");
    }
    op_ridge_count_subrequest(rid);
    bytes = serialize(args);
  } catch (error) {
    return PromiseReject(error);
  }
  return (async () => {
    const { 0: thrown, 1: result } = await op_ridge_service_call(rid, index, method, bytes);
    const value = deserialize(result);
    if (thrown) throw value;
    return value;
  })();
}

/**
 * `env.SVC`: the Fetcher, whose unknown properties are the entrypoint's
 * methods. `then` stays undefined, so that awaiting the binding itself
 * does not call the service.
 */
function serviceBinding(index) {
  const fetcher = new Fetcher(kConstruct, index);
  return new Proxy(fetcher, {
    get(target, property) {
      if (typeof property === "symbol" || property === "then" || property in target) {
        const value = ReflectGet(target, property, target);
        return typeof value === "function" ? FunctionPrototypeBind(value, target) : value;
      }
      return (...args) => callRemote(index, property, args);
    },
  });
}

registerBinding("service", (index) => serviceBinding(index));

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
export function callRpc(receiver, method, argsBytes, env, ctx) {
  if (ArrayPrototypeIncludes(RESERVED, method)) {
    throw new TypeError(`'${method}' is a reserved method and cannot be called over RPC.`);
  }
  const { target, handlers } = receiver;
  const args = deserialize(argsBytes);
  if (handlers) {
    if (!ObjectHasOwn(target, method)) throw notImplemented(method);
    const handler = target[method];
    if (typeof handler !== "function") throw new TypeError(`"${method}" is not a function.`);
    if (handler.length !== 3) {
      throw new TypeError(
        `Cannot call handler function "${method}" over RPC because it has the wrong number of arguments. ` +
          "A simple function handler can only be called over RPC if it has exactly the arguments (arg, env, ctx), " +
          "where only the first argument comes from the client. To support multi-argument RPC functions, " +
          "use class-based syntax (extending WorkerEntrypoint) instead.",
      );
    }
    if (args.length !== 1) {
      throw new TypeError(
        `Attempted to call RPC function "${method}" with the wrong number of arguments. ` +
          "When calling a top-level handler function that is not declared as part of a class, you must always " +
          "send exactly one argument. In order to support variable numbers of arguments, the server must use " +
          "class-based syntax (extending WorkerEntrypoint) instead.",
      );
    }
    return ReflectApply(handler, target, [args[0], env, ctx]);
  }
  if (ObjectHasOwn(target, method)) throw notImplemented(method);
  const value = target[method];
  if (value === undefined || value === ObjectPrototype[method]) throw notImplemented(method);
  if (typeof value !== "function") throw new TypeError(`"${method}" is not a function.`);
  return ReflectApply(value, target, args);
}

/** The result or error of an RPC method, serialized for the caller:
 * `[thrown, bytes]`. What cannot be serialized is thrown as an error. */
export function rpcOutcome(thrown, value) {
  try {
    return [thrown, serialize(value)];
  } catch (error) {
    try {
      return [true, serialize(error)];
    } catch {
      return [true, serialize(new Error(String(error?.message ?? error)))];
    }
  }
}
