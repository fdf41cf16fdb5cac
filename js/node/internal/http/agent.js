// http.Agent and https.Agent. Requests go out through fetch(), which keeps
// its own connections, so an agent pools nothing: it holds its options and
// the defaults a request takes from it (port, protocol), as on workerd, and
// its socket methods do nothing.

import { EventEmitter } from "../../events.js";
import { validateNumber, validateOneOf } from "../validators.js";
import { httpErrors } from "./common.js";

export class Agent extends EventEmitter {
  defaultPort;
  protocol;
  options;
  agentKeepAliveTimeoutBuffer = 1000;
  keepAliveMsecs = 1000;
  keepAlive = false;
  maxSockets;
  maxFreeSockets;
  scheduling = "lifo";
  maxTotalSockets;
  totalSocketCount = 0;
  freeSockets = {};
  sockets = {};
  requests = {};

  static defaultMaxSockets = Infinity;

  constructor(options) {
    super({});
    const stored = { __proto__: null, ...options };
    this.options = stored;
    this.defaultPort = stored.defaultPort || 80;
    this.protocol = stored.protocol || "http:";
    // The keys Node's agent adds to its options.
    stored.path = null;
    if (!("proxyEnv" in stored)) stored.proxyEnv = undefined;
    if (stored.noDelay === undefined) stored.noDelay = true;

    this.keepAliveMsecs = stored.keepAliveMsecs || 1000;
    this.keepAlive = stored.keepAlive || false;
    this.maxSockets = stored.maxSockets || Agent.defaultMaxSockets;
    this.maxFreeSockets = stored.maxFreeSockets || 256;
    this.scheduling = stored.scheduling || "lifo";
    validateOneOf(this.scheduling, "scheduling", ["fifo", "lifo"]);
    if (stored.maxTotalSockets !== undefined) {
      validateNumber(stored.maxTotalSockets, "maxTotalSockets", 1);
      this.maxTotalSockets = stored.maxTotalSockets;
    } else {
      this.maxTotalSockets = Infinity;
    }
  }

  /** The key Node pools a request's sockets under. */
  getName(options = {}) {
    let name = `${options.host || "localhost"}:`;
    if (options.port) name += options.port;
    name += ":";
    if (options.localAddress) name += options.localAddress;
    if (options.family === 4 || options.family === 6) name += `:${options.family}`;
    if (options.socketPath) name += `:${options.socketPath}`;
    return name;
  }

  // fetch() makes the connections; an agent cannot be asked for one.
  createConnection() {
    throw httpErrors.methodNotImplemented("createConnection");
  }

  addRequest() {}

  createSocket() {}

  removeSocket() {}

  keepSocketAlive() {
    return false;
  }

  reuseSocket() {}

  destroy() {}
}

// The TLS options that tell https agents' pools apart, in Node's order.
const TLS_NAME_PARTS = [
  "ca", "cert", "clientCertEngine", "ciphers", "key", "pfx", "rejectUnauthorized", "servername", "minVersion",
  "maxVersion", "secureProtocol", "crl", "honorCipherOrder", "ecdhCurve", "dhparam", "secureOptions",
  "sessionIdContext", "sigalgs", "privateKeyIdentifier", "privateKeyEngine",
];
// Options named in the key even when false (the others only when truthy).
const NAMED_WHEN_DEFINED = new Set(["rejectUnauthorized", "honorCipherOrder", "secureOptions"]);

export class HttpsAgent extends Agent {
  maxCachedSessions = 100;

  constructor(options) {
    // The https defaults go into the options, as Node's https.Agent puts them.
    super({ ...options, defaultPort: options?.defaultPort ?? 443, protocol: options?.protocol ?? "https:" });
  }

  getName(options = {}) {
    let name = super.getName(options);
    for (const key of TLS_NAME_PARTS) {
      const value = options[key];
      name += ":";
      if (key === "servername") {
        if (value && value !== options.host) name += value;
      } else if (NAMED_WHEN_DEFINED.has(key) ? value !== undefined : value) {
        name += key === "sigalgs" ? JSON.stringify(value) : value;
      }
    }
    return name;
  }
}

// https.Agent is called Agent too.
Object.defineProperty(HttpsAgent, "name", { value: "Agent" });

const GLOBAL_AGENT_OPTIONS = { keepAlive: true, scheduling: "lifo", timeout: 5000 };
export const globalAgent = new Agent(GLOBAL_AGENT_OPTIONS);
export const httpsGlobalAgent = new HttpsAgent(GLOBAL_AGENT_OPTIONS);
