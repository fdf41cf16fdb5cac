// node:_stream_transform: the legacy module for stream.Transform; its
// default is the class.

import { Transform } from "./stream.js";

export { Transform };
export default Transform;
