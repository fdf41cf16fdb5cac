// node:readline/promises is not available in Workers: it imports, as on workerd, and
// each function throws "[ridge] node:readline/promises.<name> is not implemented".
// The names are those of Node.js 20.

import { unsupportedModule } from "../internal/unsupported.js";

const module = unsupportedModule("readline/promises", [
  "Interface", "Readline", "createInterface",
], {
});

export const {
  Interface, Readline, createInterface,
} = module;
export default module;
