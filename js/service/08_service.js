// Ridge: service bindings (`services` in the configuration): another worker
// of the node as a Fetcher. `fetch(request)` hands the request to that
// worker's isolate (crates/ridge-ext service.rs) as an invocation of its
// own: both bodies stream, the callee's limits apply to the callee, and the
// call counts as one subrequest of the caller.
import { primordials } from "ext:core/mod.js";
import { op_ridge_count_subrequest, op_ridge_service_fetch } from "ext:core/ops";
import { currentRequest, internals, registerBinding } from "ext:ridge/globals/00_globals.js";
import { SPAN_FETCH, traced, traceparentFor } from "ext:ridge/trace/04_trace.js";

const { ArrayPrototypeIncludes, ArrayPrototypePush, Error, PromiseReject, Symbol, TypeError } = primordials;
const { Request } = internals.request;
const { Response } = internals.response;
const { readableStreamForRid, resourceForReadableStream } = internals.streams;

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
    const bodyRid = request.body === null ? -1 : resourceForReadableStream(request.body);
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

registerBinding("service", (index) => new Fetcher(kConstruct, index));
