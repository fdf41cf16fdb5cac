// node:module. A worker has no CommonJS loader, so, as on workerd, this is
// mostly stubs: `Module` and most functions throw ERR_METHOD_NOT_IMPLEMENTED,
// the compile-cache and source-map helpers answer "off". What works:
// `builtinModules`, `isBuiltin`, and `createRequire`, whose require() gives
// a built-in module's namespace (`require("node:path")`, `require("path")`).
// Any other specifier is resolved the way workerd resolves it against the
// bundle (relative to the require's directory) and, as Ridge cannot load a
// bundle module synchronously here, reported missing.

import { builtinModules as loadedModules } from "./internal/builtins.js";
import { invalidArgValue, methodNotImplemented } from "./internal/errors.js";

// Node 22's list, which workerd gives whatever it implements.
export const builtinModules = Object.freeze([
  "_http_agent", "_http_client", "_http_common", "_http_incoming", "_http_outgoing",
  "_http_server", "_stream_duplex", "_stream_passthrough", "_stream_readable",
  "_stream_transform", "_stream_wrap", "_stream_writable", "_tls_common", "_tls_wrap", "assert",
  "assert/strict", "async_hooks", "buffer", "child_process", "cluster", "console", "constants",
  "crypto", "dgram", "diagnostics_channel", "dns", "dns/promises", "domain", "events", "fs",
  "fs/promises", "http", "http2", "https", "inspector", "inspector/promises", "module", "net",
  "os", "path", "path/posix", "path/win32", "perf_hooks", "process", "punycode", "querystring",
  "readline", "readline/promises", "repl", "stream", "stream/consumers", "stream/promises",
  "stream/web", "string_decoder", "sys", "timers", "timers/promises", "tls", "trace_events",
  "tty", "url", "util", "util/types", "v8", "vm", "wasi", "worker_threads", "zlib",
]);

// The names that also work without `node:`: workerd counts `sqlite` among
// them though the list above does not.
const bareBuiltins = new Set([...builtinModules, "sqlite"]);

/** Whether `name` names a built-in: any `node:` specifier, or a bare built-in name. */
export function isBuiltin(name) {
  const text = `${name}`;
  return text.startsWith("node:") || bareBuiltins.has(text);
}

/** A `require` for the module at `path` (an absolute path or a file: URL). */
export function createRequire(path) {
  const text = `${path}`;
  if (!text.startsWith("/") && !text.startsWith("file:")) {
    throw invalidArgValue("path", text,
      "The argument must be a file URL object, a file URL string, or an absolute path string.");
  }
  // The directory holding `path`, as bundle path segments (a trailing `/`
  // does not count: workerd takes "/a/b/" as the file "b" in "/a").
  const directory = new URL(text, "file:///").pathname.split("/").filter((part) => part !== "").slice(0, -1);
  // An anonymous function, as workerd's is.
  return function (specifier) {
    const name = String(specifier);
    const builtin = name.startsWith("node:") ? name : bareBuiltins.has(name) ? `node:${name}` : null;
    if (builtin !== null) {
      const namespace = loadedModules()[builtin.slice(5)];
      if (namespace) return namespace;
      throw new Error(`No such module "${builtin}".`);
    }
    throw new Error(`No such module "${resolveInBundle(directory, name)}".`);
  };
}

/** `specifier` as a bundle path (no leading `/`), relative to `directory` unless absolute. */
function resolveInBundle(directory, specifier) {
  const parts = specifier.startsWith("/") ? [] : [...directory];
  for (const part of specifier.split("/")) {
    if (part === "" || part === ".") continue;
    if (part !== "..") {
      parts.push(part);
    } else if (parts.pop() === undefined) {
      throw new Error(`Invalid specifier path: ${specifier}`);
    }
  }
  return parts.length === 0 ? "." : parts.join("/");
}

/** A function that throws workerd's ERR_METHOD_NOT_IMPLEMENTED for `module.<name>`. */
function stub(name, what = `module.${name}`) {
  return { [name]: () => { throw methodNotImplemented(what); } }[name];
}

export function Module() {
  throw methodNotImplemented("module.Module");
}
Module.prototype.load = function load() {};
Module.prototype.require = function require() {};
Module.prototype._compile = function _compile() {};
Object.defineProperty(Module.prototype, "isPreloading", { get: () => false });

export function SourceMap() {
  throw methodNotImplemented("module.SourceMap");
}

export const constants = {
  compileCacheStatus: { FAILED: 0, ENABLED: 1, ALREADY_ENABLED: 2, DISABLED: 3 },
};

// There is no compile cache and there are no source maps: the queries
// answer "off" and enabling does nothing.
export function enableCompileCache() {}
export function flushCompileCache() {}
export function getCompileCacheDir() {}
export function getSourceMapsSupport() {
  return { enabled: false, nodeModules: false, generatedCode: false };
}

export const register = stub("register");
export const findPackageJSON = stub("findPackageJSON");
export const stripTypeScriptTypes = stub("stripTypeScriptTypes");
export const findSourceMap = stub("findSourceMap");
export const setSourceMapsSupport = stub("setSourceMapsSupport");
export const runMain = stub("runMain");
export const syncBuiltinESMExports = stub("syncBuiltinESMExports");
export const wrap = stub("wrap");
export const registerHooks = stub("registerHooks");
export const _debug = stub("_debug");
export const _findPath = stub("_findPath");
export const _initPaths = stub("_initPaths");
export const _load = stub("_load");
export const _preloadModules = stub("_preloadModules");
export const _resolveFilename = stub("_resolveFilename");
export const _resolveLookupPaths = stub("_resolveLookupPaths");
export const _nodeModulePaths = stub("_nodeModulePaths");

export const globalPaths = [];
export const _cache = { __proto__: null };
export const _pathCache = { __proto__: null };
export const _extensions = {};
for (const extension of [".js", ".json", ".node"]) {
  _extensions[extension] = stub(extension, `module._extensions${extension}`);
}

// What require("module") gives: Module, carrying everything as statics
// (enumerable and writable but not configurable, in workerd's order).
const statics = {
  register, constants, enableCompileCache, findPackageJSON, flushCompileCache,
  getCompileCacheDir, stripTypeScriptTypes, findSourceMap, SourceMap, getSourceMapsSupport,
  setSourceMapsSupport, createRequire, builtinModules, globalPaths, isBuiltin, runMain,
  syncBuiltinESMExports, wrap, _cache, _debug, _extensions, _findPath, _initPaths, _load,
  _pathCache, _preloadModules, _resolveFilename, _resolveLookupPaths, _nodeModulePaths, Module,
  registerHooks,
};
for (const [name, value] of Object.entries(statics)) {
  Object.defineProperty(Module, name, { value, writable: true, enumerable: true });
}

export default Module;
