// node:_stream_writable: the legacy module for stream.Writable. Its default
// is the class; the named exports are the class's statics.

import { Writable } from "./stream.js";

export { Writable };
export const { WritableState, fromWeb, toWeb } = Writable;
export default Writable;
