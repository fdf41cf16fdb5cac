// node:trace_events is not available in Workers: it imports, as on workerd, and
// each function throws "[ridge] node:trace_events.<name> is not implemented".
// The names are those of Node.js 20.

import { unsupportedModule } from "./internal/unsupported.js";

const module = unsupportedModule("trace_events", [
  "createTracing", "getEnabledCategories",
], {
});

export const {
  createTracing, getEnabledCategories,
} = module;
export default module;
