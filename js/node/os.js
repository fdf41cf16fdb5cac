// node:os: what a worker can truthfully say about its machine, which is
// little (as on workerd: a worker does not see the host it runs on). The
// answers are fixed: Linux on x64, one CPU that reports nothing, no network
// interfaces, "/tmp" and "/" for the temporary and home folders.

import allConstants from "./constants.js";
import { notImplemented } from "./internal/errors.js";

export const EOL = "\n";
export const devNull = "/dev/null";

export function arch() {
  return "x64";
}

export function machine() {
  return "x86_64";
}

export function platform() {
  return "linux";
}

export function type() {
  return "Linux";
}

export function release() {
  return "";
}

export function version() {
  return "";
}

export function availableParallelism() {
  return 1;
}

export function cpus() {
  return [];
}

export function endianness() {
  return "LE";
}

export function freemem() {
  return 0;
}

export function totalmem() {
  return 0;
}

export function uptime() {
  return 0;
}

export function loadavg() {
  return [0, 0, 0];
}

export function hostname() {
  return "localhost";
}

export function homedir() {
  return "/";
}

export function tmpdir() {
  return "/tmp";
}

export function networkInterfaces() {
  return {};
}

export function userInfo() {
  return { uid: -1, gid: -1, username: "", homedir: "/", shell: null };
}

export function getPriority() {
  return 0;
}

export function setPriority() {
  throw notImplemented("node:os.setPriority");
}

/** os.constants: node:constants' table (workerd's numbers), grouped as
 * Node groups them. */
function grouped(pattern) {
  const group = {};
  for (const [name, value] of Object.entries(allConstants)) {
    if (pattern.test(name)) group[name] = value;
  }
  return Object.freeze(group);
}

export const constants = Object.freeze({
  UV_UDP_REUSEADDR: 4,
  dlopen: grouped(/^RTLD_/),
  errno: grouped(/^E(?!NGINE_)[A-Z0-9]+$/),
  signals: grouped(/^SIG/),
  priority: grouped(/^PRIORITY_/),
});

export default {
  EOL, devNull, arch, machine, platform, type, release, version, availableParallelism, cpus, endianness,
  freemem, totalmem, uptime, loadavg, hostname, homedir, tmpdir, networkInterfaces, userInfo,
  getPriority, setPriority, constants,
};
