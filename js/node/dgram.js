// node:dgram is not available in Workers: it imports, as on workerd, and
// each function throws "[ridge] node:dgram.<name> is not implemented".
// The names are those of Node.js 20.

import { unsupportedModule } from "./internal/unsupported.js";

const module = unsupportedModule("dgram", [
  "Socket", "_createSocketHandle", "createSocket",
], {
});

export const {
  Socket, _createSocketHandle, createSocket,
} = module;
export default module;
