// Ridge: `cloudflare:workers`, the module Workers code imports its base
// classes from (`WorkerEntrypoint`, `DurableObject`, `WorkflowEntrypoint`,
// `RpcTarget`) and its bindings as `env`, usable at the top level as on
// Cloudflare. The bridge fills `env` before the worker's modules run
// (`provideEnv`). Worker modules reach this module through the loader
// (crates/ridge-runtime isolate/loader.rs), which serves a small module
// that re-exports what is registered here under a global symbol.
import { primordials } from "ext:core/mod.js";
import { makeBinding } from "ext:ridge/globals/00_globals.js";

const { JSONParse, ObjectDefineProperty, ObjectFreeze, SymbolFor } = primordials;

/** The worker's bindings: one object for the isolate's life. */
export const env = {};

/** Fills `env` from the version's bindings (`[kind, name, value]` each). */
export function provideEnv(bindingsJson) {
  const bindings = JSONParse(bindingsJson);
  for (let index = 0; index < bindings.length; index++) {
    const { 0: kind, 1: name, 2: value } = bindings[index];
    // Defined, not assigned: a binding named `__proto__` is a property too.
    ObjectDefineProperty(env, name, {
      __proto__: null,
      value: makeBinding(index, kind, name, value),
      enumerable: true,
      configurable: true,
      writable: true,
    });
  }
}

/**
 * The base of a class-based worker (`export default class extends
 * WorkerEntrypoint { fetch(request) { ... } }`): an instance per event,
 * with the event's context as `this.ctx` and the bindings as `this.env`.
 */
export class WorkerEntrypoint {
  constructor(ctx, env) {
    this.ctx = ctx;
    this.env = env;
  }
}

/** A Durable Object's base class. Ridge does not run Durable Objects yet. */
export class DurableObject {
  constructor(ctx, env) {
    this.ctx = ctx;
    this.env = env;
  }
}

/** A Workflow's base class. Ridge does not run Workflows yet. */
export class WorkflowEntrypoint {
  constructor(ctx, env) {
    this.ctx = ctx;
    this.env = env;
  }
}

/** The base of objects passed by reference over RPC. */
export class RpcTarget {}

/** Whether `value` is a class extending `WorkerEntrypoint`. */
export function isEntrypointClass(value) {
  return typeof value === "function" && value.prototype instanceof WorkerEntrypoint;
}

ObjectDefineProperty(globalThis, SymbolFor("ridge:cloudflare:workers"), {
  value: ObjectFreeze({ WorkerEntrypoint, DurableObject, WorkflowEntrypoint, RpcTarget, env }),
  enumerable: false,
  configurable: false,
  writable: false,
});
