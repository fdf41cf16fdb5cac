// node:_stream_readable: the legacy module for stream.Readable. Its default
// is the class itself (with `_fromList` among its statics); the named
// exports are the class's statics, except `from`, which is the internal
// from(Class, iterable, options) that workerd exports in its place.

import { Readable } from "./stream.js";
import { from } from "./internal/streams/readable.js";

export { Readable, from };
export const { ReadableState, fromWeb, toWeb, wrap } = Readable;
export default Readable;
