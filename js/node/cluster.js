// node:cluster is not available in Workers: it imports, as on workerd, and
// each function throws "[ridge] node:cluster.<name> is not implemented".
// The names are those of Node.js 20.

import { unsupportedModule } from "./internal/unsupported.js";

const module = unsupportedModule("cluster", [
  "Worker", "disconnect", "fork", "setupMaster", "setupPrimary",
], {
  SCHED_NONE: 1,
  SCHED_RR: 2,
  _events: {},
  _eventsCount: 0,
  _maxListeners: undefined,
  isMaster: true,
  isPrimary: true,
  isWorker: false,
  schedulingPolicy: 2,
  settings: {},
  workers: {},
});

export const {
  SCHED_NONE, SCHED_RR, Worker, _events, _eventsCount, _maxListeners, disconnect, fork, isMaster,
  isPrimary, isWorker, schedulingPolicy, settings, setupMaster, setupPrimary, workers,
} = module;
export default module;
