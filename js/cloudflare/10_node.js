// Ridge: `cloudflare:node`, the bridge between Node's `http` servers and
// the worker's fetch handler (`export default httpServerHandler(server)`),
// as workerd provides it. Worker modules reach it through the loader
// (crates/ridge-runtime isolate/loader.rs), which serves a small module
// that re-exports what is registered here under a global symbol.
import { primordials } from "ext:core/mod.js";
import { handleAsNodeRequest, httpServerHandler } from "ext:ridge/node/internal/http/server.js";

const { ObjectDefineProperty, ObjectFreeze, SymbolFor } = primordials;

ObjectDefineProperty(globalThis, SymbolFor("ridge:cloudflare:node"), {
  value: ObjectFreeze({ handleAsNodeRequest, httpServerHandler }),
  enumerable: false,
  configurable: false,
  writable: false,
});
