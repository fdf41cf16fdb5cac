// High-water marks: the process-wide defaults (stream.getDefaultHighWaterMark
// and setDefaultHighWaterMark) and reading one from a stream's options.

import { invalidArgValue } from "../errors.js";
import { validateInteger } from "../validators.js";

let defaultBytes = 64 * 1024;
let defaultObjects = 16;

export function getDefaultHighWaterMark(objectMode) {
  return objectMode ? defaultObjects : defaultBytes;
}

export function setDefaultHighWaterMark(objectMode, value) {
  validateInteger(value, "value", 0);
  if (objectMode) defaultObjects = value;
  else defaultBytes = value;
}

/**
 * The high-water mark `options` ask for: `highWaterMark`, or for one side
 * of a Duplex its own `duplexKey` (readableHighWaterMark or
 * writableHighWaterMark); else the default for the state's mode.
 */
export function getHighWaterMark(objectMode, options, duplexKey, isDuplex) {
  const hwm = options.highWaterMark != null ? options.highWaterMark : isDuplex ? options[duplexKey] : null;
  if (hwm != null) {
    if (!Number.isInteger(hwm) || hwm < 0) {
      throw invalidArgValue(isDuplex ? `options.${duplexKey}` : "options.highWaterMark", hwm);
    }
    return hwm;
  }
  return getDefaultHighWaterMark(objectMode);
}
