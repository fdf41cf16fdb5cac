// node:path/win32 - the Windows flavour of node:path (js/node/path.js) as
// its own module: its functions as named exports, and itself as default.

import { posix, win32 } from "../path.js";

export const {
  resolve, normalize, isAbsolute, join, relative, toNamespacedPath, dirname, basename,
  extname, format, parse, matchesGlob, sep, delimiter,
} = win32;

export { posix, win32 };
export default win32;
