// Ridge: `cloudflare:workers`, the module Workers code imports its base
// classes from (`WorkerEntrypoint`, `DurableObject`, `WorkflowEntrypoint`,
// `RpcTarget`) and its bindings as `env`, usable at the top level as on
// Cloudflare. The bridge fills `env` before the worker's modules run
// (`provideEnv`). Worker modules reach this module through the loader
// (crates/ridge-runtime isolate/loader.rs), which serves a small module
// that re-exports what is registered here under a global symbol.
import { primordials } from "ext:core/mod.js";
import { makeBinding } from "ext:ridge/globals/00_globals.js";
import { processEnvReadEarly, provideProcessEnv } from "ext:ridge/node/internal/process_env.js";

const {
  ArrayPrototypePush,
  JSONParse,
  JSONStringify,
  ObjectDefineProperty,
  ObjectFreeze,
  Proxy,
  ReflectGet,
  ReflectGetOwnPropertyDescriptor,
  ReflectHas,
  ReflectOwnKeys,
  SymbolFor,
} = primordials;

/** The loopback bindings of the worker's own exports (`ctx.exports` on
 * Cloudflare). Empty until Ridge has service bindings and Durable Objects:
 * code that looks an export up finds none, as it would without the
 * compatibility flag that adds them. */
const exports = ObjectFreeze({ __proto__: null });

/** The worker's bindings: one object for the isolate's life. */
export const env = {};

// While a worker snapshot is made, `env` holds no bindings (and must never
// hold secrets). The `env` worker modules import notes a read before
// `provideEnv`, so that the snapshot builder refuses such a worker instead
// of freezing an empty `env` into it. Handlers get `env` itself.
let provided = false;
let readBeforeProvided = false;
const noteRead = () => {
  if (!provided) readBeforeProvided = true;
};
const importedEnv = new Proxy(env, {
  get(target, key) {
    noteRead();
    return ReflectGet(target, key);
  },
  has(target, key) {
    noteRead();
    return ReflectHas(target, key);
  },
  ownKeys(target) {
    noteRead();
    return ReflectOwnKeys(target);
  },
  getOwnPropertyDescriptor(target, key) {
    noteRead();
    return ReflectGetOwnPropertyDescriptor(target, key);
  },
});

/**
 * Whether worker code read the imported `env`, or `process.env`, before
 * they were provided.
 */
export function envReadBeforeProvided() {
  return readBeforeProvided || processEnvReadEarly();
}

/**
 * Fills `env` from the version's bindings (`[kind, name, value]` each), and
 * `process.env` with the vars and secrets when `processEnv` (nodejs_compat).
 */
export function provideEnv(bindingsJson, processEnv) {
  provided = true;
  const bindings = JSONParse(bindingsJson);
  const texts = [];
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
    // Vars and secrets ("json" bindings): text as it is, other values as
    // their JSON text, as workerd fills process.env.
    if (processEnv && kind === "json") {
      ArrayPrototypePush(texts, [name, typeof value === "string" ? value : JSONStringify(value)]);
    }
  }
  provideProcessEnv(texts);
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
  value: ObjectFreeze({ WorkerEntrypoint, DurableObject, WorkflowEntrypoint, RpcTarget, env: importedEnv, exports }),
  enumerable: false,
  configurable: false,
  writable: false,
});
