// `process.env`: the worker's vars (JSON ones as their JSON text) and
// secrets when nodejs_compat's process.env is on, filled by the bridge
// before the worker's modules run. Reads before then are noted, so that a
// worker snapshot (made with no bindings, and never with secrets) is
// refused for a worker whose top level reads it.

const values = {};
let provided = false;
let readEarly = false;
const note = () => {
  if (!provided) readEarly = true;
};

export const env = new Proxy(values, {
  get(target, key) {
    note();
    return Reflect.get(target, key);
  },
  has(target, key) {
    note();
    return Reflect.has(target, key);
  },
  ownKeys(target) {
    note();
    return Reflect.ownKeys(target);
  },
  getOwnPropertyDescriptor(target, key) {
    note();
    return Reflect.getOwnPropertyDescriptor(target, key);
  },
});

/** Fills `process.env` with `[name, text]` pairs (none when it is off). */
export function provideProcessEnv(entries) {
  provided = true;
  for (const [name, text] of entries) {
    Object.defineProperty(values, name, { value: text, enumerable: true, configurable: true, writable: true });
  }
}

/** Whether worker code read `process.env` before it was provided. */
export function processEnvReadEarly() {
  return readEarly;
}
