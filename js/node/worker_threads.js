// node:worker_threads is not available in Workers: it imports, as on workerd, and
// each function throws "[ridge] node:worker_threads.<name> is not implemented".
// The names are those of Node.js 20.

import { unsupportedModule } from "./internal/unsupported.js";

const module = unsupportedModule("worker_threads", [
  "BroadcastChannel", "Worker", "getEnvironmentData", "markAsUntransferable",
  "moveMessagePortToContext", "postMessageToThread", "receiveMessageOnPort", "setEnvironmentData",
], {
  MessageChannel: globalThis.MessageChannel,
  MessagePort: globalThis.MessagePort,
  SHARE_ENV: Symbol.for("nodejs.worker_threads.SHARE_ENV"),
  isMainThread: true,
  parentPort: null,
  resourceLimits: {},
  threadId: 0,
  workerData: null,
});

export const {
  BroadcastChannel, MessageChannel, MessagePort, SHARE_ENV, Worker, getEnvironmentData,
  isMainThread, markAsUntransferable, moveMessagePortToContext, parentPort, postMessageToThread,
  receiveMessageOnPort, resourceLimits, setEnvironmentData, threadId, workerData,
} = module;
export default module;
