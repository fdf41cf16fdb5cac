// node:https: node:http's client and server with https defaults (port 443,
// the https: protocol, https.Agent). TLS is fetch()'s, and the platform's.

import { HttpsAgent as Agent, httpsGlobalAgent as globalAgent } from "./internal/http/agent.js";
import { ClientRequest } from "./internal/http/client.js";
import { isURL, requestURL } from "./internal/http/common.js";
import { HttpsServer as Server } from "./internal/http/server.js";
import { urlToHttpOptions } from "./url.js";

/** request(url[, options][, callback]) or request(options[, callback]), on https. */
export function request(...args) {
  let options = {};
  if (typeof args[0] === "string") {
    options = urlToHttpOptions(requestURL(args.shift()));
  } else if (isURL(args[0])) {
    options = urlToHttpOptions(args.shift());
  }
  // The caller's options are copied, never written to.
  if (args.length > 0 && typeof args[0] !== "function") Object.assign(options, args.shift());
  options._defaultAgent = globalAgent;
  return new ClientRequest(options, ...args);
}

export function get(url, options, callback) {
  const req = request(url, options, callback);
  req.end();
  return req;
}

export function createServer(options, requestListener) {
  return new Server(options, requestListener);
}

export { Agent, Server, globalAgent };

export default { get, request, Agent, globalAgent, createServer, Server };
