// Ridge: child spans of a request's OpenTelemetry trace (trace.rs in crates/ridge-ext).
//
// Subrequests and KV operations run inside `traced`, which opens a span of
// the request they belong to (found through the async context) and closes
// it when the operation settles. When trace export is off (the default)
// `traced` calls no op at all.
import { primordials } from "ext:core/mod.js";
import { op_ridge_span_end, op_ridge_span_start, op_ridge_span_traceparent } from "ext:core/ops";
import { currentRequest } from "ext:ridge/globals/00_globals.js";

const { PromisePrototypeThen, String } = primordials;

export const SPAN_FETCH = 0;
export const SPAN_KV = 1;
export const SPAN_RPC = 2;
export const SPAN_QUEUE = 3;

let exporting = false;

/** Called by `start` with whether this node exports traces. */
export function setTraceExport(on) {
  exporting = on;
}

export function tracesExported() {
  return exporting;
}

/**
 * Runs `operation(span)` (which returns a promise) as a child span of the
 * current request, `span` being -1 when untraced. `statusOf` maps the
 * result to an HTTP status for the span (0 when it has none).
 */
export function traced(kind, name, target, operation, statusOf = undefined) {
  if (!exporting) return operation(-1);
  const rid = currentRequest();
  if (rid === undefined) return operation(-1);
  const span = op_ridge_span_start(rid, kind, name, target);
  if (span < 0) return operation(-1);
  return PromisePrototypeThen(
    operation(span),
    (result) => {
      op_ridge_span_end(rid, span, statusOf === undefined ? 0 : statusOf(result), "");
      return result;
    },
    (error) => {
      op_ridge_span_end(rid, span, -1, String(error?.message ?? error));
      throw error;
    },
  );
}

/** The `traceparent` header for a subrequest opened as `span`. */
export function traceparentFor(span) {
  return op_ridge_span_traceparent(currentRequest(), span);
}
