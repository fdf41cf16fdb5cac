// node:http: an HTTP client on top of fetch() (http.request, http.get) and
// a server reached through the worker's fetch handler (http.createServer,
// see internal/http/server.js), as workerd provides them.

import { Agent, globalAgent } from "./internal/http/agent.js";
import { ClientRequest } from "./internal/http/client.js";
import { METHODS, STATUS_CODES, parsers, validateHeaderName, validateHeaderValue } from "./internal/http/common.js";
import { IncomingMessage } from "./internal/http/incoming.js";
import { OutgoingMessage } from "./internal/http/outgoing.js";
import { Server, ServerResponse, _connectionListener } from "./internal/http/server.js";
import { validateInteger } from "./internal/validators.js";

export function request(url, options, callback) {
  return new ClientRequest(url, options, callback);
}

/** request(), ended at once: a GET has no body to write. */
export function get(url, options, callback) {
  const req = request(url, options, callback);
  req.end();
  return req;
}

export function createServer(options, requestListener) {
  return new Server(options, requestListener);
}

// Node's default limit on the size of a response's headers, in bytes.
export const maxHeaderSize = 16384;

export function setMaxIdleHTTPParsers(max) {
  validateInteger(max, "max", 1);
  parsers.max = max;
}

// Workers' own WebSocket and its events, as workerd's node:http gives them.
export const WebSocket = globalThis.WebSocket;
export const CloseEvent = globalThis.CloseEvent;
export const MessageEvent = globalThis.MessageEvent;

export {
  Agent, ClientRequest, IncomingMessage, METHODS, OutgoingMessage, STATUS_CODES, Server, ServerResponse,
  _connectionListener, globalAgent, validateHeaderName, validateHeaderValue,
};

export default {
  validateHeaderName, validateHeaderValue, METHODS, STATUS_CODES, ClientRequest, request, get, OutgoingMessage,
  Agent, globalAgent, IncomingMessage, Server, ServerResponse, createServer, maxHeaderSize, setMaxIdleHTTPParsers,
  _connectionListener, WebSocket, CloseEvent, MessageEvent,
};
