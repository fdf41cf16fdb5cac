// node:readline is not available in Workers: it imports, as on workerd, and
// each function throws "[ridge] node:readline.<name> is not implemented".
// The names are those of Node.js 20.

import { unsupportedModule } from "./internal/unsupported.js";

const module = unsupportedModule("readline", [
  "Interface", "clearLine", "clearScreenDown", "createInterface", "cursorTo", "emitKeypressEvents",
  "moveCursor",
], {
  promises: {},
});

export const {
  Interface, clearLine, clearScreenDown, createInterface, cursorTo, emitKeypressEvents, moveCursor,
  promises,
} = module;
export default module;
