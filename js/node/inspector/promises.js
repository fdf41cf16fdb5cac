// node:inspector/promises is not available in Workers: it imports, as on workerd, and
// each function throws "[ridge] node:inspector/promises.<name> is not implemented".
// The names are those of Node.js 20.

import { unsupportedModule } from "../internal/unsupported.js";

const module = unsupportedModule("inspector/promises", [
  "Session", "close", "open", "url", "waitForDebugger",
], {
  Network: {},
  console: {},
});

export const {
  Network, Session, close, console, open, url, waitForDebugger,
} = module;
export default module;
