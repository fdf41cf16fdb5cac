// node:wasi is not available in Workers: it imports, as on workerd, and
// each function throws "[ridge] node:wasi.<name> is not implemented".
// The names are those of Node.js 20.

import { unsupportedModule } from "./internal/unsupported.js";

const module = unsupportedModule("wasi", [
  "WASI",
], {
});

export const {
  WASI,
} = module;
export default module;
