// node:_stream_duplex: the legacy module for stream.Duplex. Its default is
// the class; the named exports are the class's statics.

import { Duplex } from "./stream.js";

export { Duplex };
export const { from, fromWeb, toWeb } = Duplex;
export default Duplex;
