// node:child_process is not available in Workers: it imports, as on workerd, and
// each function throws "[ridge] node:child_process.<name> is not implemented".
// The names are those of Node.js 20.

import { unsupportedModule } from "./internal/unsupported.js";

const module = unsupportedModule("child_process", [
  "ChildProcess", "_forkChild", "exec", "execFile", "execFileSync", "execSync", "fork", "spawn",
  "spawnSync",
], {
});

export const {
  ChildProcess, _forkChild, exec, execFile, execFileSync, execSync, fork, spawn, spawnSync,
} = module;
export default module;
