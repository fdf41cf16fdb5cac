// The namespaces of every node:* module by name, for
// `process.getBuiltinModule`. They are registered once, when the bridge
// loads (js/node/internal/globals.js), since the module that lists them
// imports process.js itself.

let registered = { __proto__: null };

export function registerBuiltinModules(modules) {
  registered = modules;
}

export function builtinModules() {
  return registered;
}
