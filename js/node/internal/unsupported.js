// The Node.js modules Workers do not provide (fs, child_process,
// worker_threads, ...) still import, as on workerd, so that packages which
// import them without calling them load; calling one of their functions
// throws `[ridge] node:fs.readFileSync is not implemented`, naming what was
// called. Each such module (js/node/fs.js, ...) lists Node's names and the
// values that hold in a worker (constants, `isMainThread`, ...).

import { notImplemented } from "./errors.js";

/** The module object: a throwing function for each of `functions` (usable
 * with `new` too, for the classes among them), and `values` as they are. */
export function unsupportedModule(name, functions, values) {
  const module = {};
  for (const fn of functions) {
    // A named function expression per name, so stack traces and `.name` say it.
    module[fn] = {
      [fn]: function () {
        throw notImplemented(`node:${name}.${fn}`);
      },
    }[fn];
  }
  return Object.assign(module, values);
}
