// The globals nodejs_compat (v2) adds, as workerd adds them: `Buffer`,
// `process`, `global`, `setImmediate` and `clearImmediate`. Installed by the
// bridge (js/http/10_worker.js) before the worker's modules run.

import { builtinModules } from "ext:ridge/node/all.js";
import { Buffer } from "../buffer.js";
import { registerBuiltinModules } from "./builtins.js";
import process from "../process.js";
import { clearImmediate, setImmediate } from "../timers.js";

registerBuiltinModules(builtinModules);

export function installNodeGlobals() {
  const define = (name, value) =>
    Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
  define("Buffer", Buffer);
  define("process", process);
  define("global", globalThis);
  define("setImmediate", setImmediate);
  define("clearImmediate", clearImmediate);
}
