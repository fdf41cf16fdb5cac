// node:_stream_passthrough: the legacy module for stream.PassThrough; its
// default is the class.

import { PassThrough } from "./stream.js";

export { PassThrough };
export default PassThrough;
