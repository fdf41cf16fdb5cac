// node:tty is not available in Workers: it imports, as on workerd, and
// each function throws "[ridge] node:tty.<name> is not implemented".
// The names are those of Node.js 20.

import { unsupportedModule } from "./internal/unsupported.js";

const module = unsupportedModule("tty", [
  "ReadStream", "WriteStream",
], {
  isatty: () => false,
});

export const {
  ReadStream, WriteStream, isatty,
} = module;
export default module;
