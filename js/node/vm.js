// node:vm is not available in Workers: it imports, as on workerd, and
// each function throws "[ridge] node:vm.<name> is not implemented".
// The names are those of Node.js 20.

import { unsupportedModule } from "./internal/unsupported.js";

const module = unsupportedModule("vm", [
  "Script", "compileFunction", "createContext", "createScript", "isContext", "measureMemory",
  "runInContext", "runInNewContext", "runInThisContext",
], {
  constants: {},
});

export const {
  Script, compileFunction, constants, createContext, createScript, isContext, measureMemory,
  runInContext, runInNewContext, runInThisContext,
} = module;
export default module;
