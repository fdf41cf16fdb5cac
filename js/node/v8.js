// node:v8 is not available in Workers: it imports, as on workerd, and
// each function throws "[ridge] node:v8.<name> is not implemented".
// The names are those of Node.js 20.

import { unsupportedModule } from "./internal/unsupported.js";

const module = unsupportedModule("v8", [
  "DefaultDeserializer", "DefaultSerializer", "Deserializer", "GCProfiler", "Serializer",
  "cachedDataVersionTag", "deserialize", "getHeapCodeStatistics", "getHeapSnapshot",
  "getHeapSpaceStatistics", "getHeapStatistics", "queryObjects", "serialize", "setFlagsFromString",
  "setHeapSnapshotNearHeapLimit", "stopCoverage", "takeCoverage", "writeHeapSnapshot",
], {
  promiseHooks: {},
  startupSnapshot: {},
});

export const {
  DefaultDeserializer, DefaultSerializer, Deserializer, GCProfiler, Serializer,
  cachedDataVersionTag, deserialize, getHeapCodeStatistics, getHeapSnapshot,
  getHeapSpaceStatistics, getHeapStatistics, promiseHooks, queryObjects, serialize,
  setFlagsFromString, setHeapSnapshotNearHeapLimit, startupSnapshot, stopCoverage, takeCoverage,
  writeHeapSnapshot,
} = module;
export default module;
