// node:process: the `process` object Workers code sees. There is no real
// process behind a worker: `env` holds the worker's text bindings (filled
// by the runtime when the worker starts), `nextTick` runs on the microtask
// queue as on workerd, and `exit` throws.

import { EventEmitter } from "./events.js";
import { builtinModules } from "./internal/builtins.js";
import { env } from "./internal/process_env.js";
import { nodeError } from "./internal/errors.js";
import { validateFunction } from "./internal/validators.js";

export function nextTick(callback, ...args) {
  validateFunction(callback, "callback");
  queueMicrotask(args.length === 0 ? callback : () => callback(...args));
}

export { env };
export const argv = ["workerd"];
export const execArgv = [];
export const argv0 = "workerd";
export const execPath = "";
export const pid = 1;
export const ppid = 0;
export const title = "workerd";
export const platform = "linux";
export const arch = "x64";
// The Node.js version workerd reports, so that packages checking it take
// the same paths as on Cloudflare.
export const version = "v22.23.4";
export const versions = { node: "22.23.4" };
export const release = { name: "node", lts: true, sourceUrl: "", headersUrl: "" };
export const features = {
  cached_builtins: true, debug: false, inspector: false, ipv6: true, openssl_is_boringssl: true,
  require_module: false, tls: true, tls_alpn: true, tls_ocsp: true, tls_sni: true,
  typescript: false, uv: true,
};
export const exitCode = undefined;

export function cwd() {
  return "/";
}

export function chdir() {
  throw nodeError(Error, "ERR_METHOD_NOT_IMPLEMENTED", "[ridge] node:process.chdir is not implemented");
}

export function umask() {
  return 0o22;
}

/** `process.exit` cannot end a worker: it throws, as on workerd. */
export function exit(code) {
  throw nodeError(Error, "ERR_PROCESS_EXIT", `process.exit(${code ?? ""}) was called`);
}

export function abort() {
  exit();
}

/** High-resolution time as [seconds, nanoseconds], relative to `previous`. */
export function hrtime(previous) {
  const nanos = hrtimeBigint();
  let seconds = Number(nanos / 1_000_000_000n);
  let rest = Number(nanos % 1_000_000_000n);
  if (previous) {
    seconds -= previous[0];
    rest -= previous[1];
    if (rest < 0) {
      seconds -= 1;
      rest += 1_000_000_000;
    }
  }
  return [seconds, rest];
}

function hrtimeBigint() {
  return BigInt(Math.round(performance.now() * 1e6));
}
hrtime.bigint = hrtimeBigint;

export function uptime() {
  return performance.now() / 1000;
}

export function memoryUsage() {
  return { rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
}
memoryUsage.rss = () => 0;

export function emitWarning(warning, type = "Warning") {
  const text = typeof warning === "string" ? `${type}: ${warning}` : `${warning.name}: ${warning.message}`;
  console.warn(text);
}

/** A built-in module's `default` export, by name (`node:` optional). */
export function getBuiltinModule(name) {
  if (typeof name !== "string") return undefined;
  const module = builtinModules()[name.startsWith("node:") ? name.slice(5) : name];
  return module?.default;
}

const emitter = new EventEmitter();
const process = Object.assign(emitter, {
  nextTick, env, argv, execArgv, argv0, execPath, pid, ppid, title, platform, arch,
  version, versions, release, features, exitCode, cwd, chdir, umask, exit, abort, hrtime,
  uptime, memoryUsage, emitWarning, getBuiltinModule,
});

export default process;
