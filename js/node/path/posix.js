// node:path/posix - the POSIX flavour of node:path (js/node/path.js) as
// its own module: its functions as named exports, and itself as default.

import { posix, win32 } from "../path.js";

export const {
  resolve, normalize, isAbsolute, join, relative, toNamespacedPath, dirname, basename,
  extname, format, parse, matchesGlob, sep, delimiter,
} = posix;

export { posix, win32 };
export default posix;
