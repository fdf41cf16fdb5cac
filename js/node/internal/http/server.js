// http.Server and ServerResponse as workerd has them (from compatibility
// date 2025-09-01 with nodejs_compat): a server opens no socket. listen()
// takes a virtual port (ports.js), and the worker hands requests to it with
// httpServerHandler(server or port) as its fetch handler (workerd exports
// that from `cloudflare:node`). Each Request becomes an IncomingMessage and
// a ServerResponse, whose head and body become the fetch Response.

import { EventEmitter } from "../../events.js";
import { nodeError, outOfRange } from "../errors.js";
import { validateBoolean, validateFunction, validateInteger, validateNumber, validateObject } from "../validators.js";
import { getDefaultHighWaterMark } from "../streams/state.js";
import { streamErrors, withResolvers } from "../streams/utils.js";
import { STATUS_CODES, checkInvalidHeaderChar, httpErrors } from "./common.js";
import { IncomingMessage, receiveRequest } from "./incoming.js";
import { OutgoingMessage, kHeadLines, kOutHeaders, kUniqueHeaders, parseUniqueHeadersOption } from "./outgoing.js";
import { tcpPorts } from "./ports.js";

export const kIncomingMessage = Symbol("IncomingMessage");
export const kServerResponse = Symbol("ServerResponse");
export const kConnectionsCheckingInterval = Symbol("http.server.connectionsCheckingInterval");
// The promise of the fetch Response a ServerResponse turns into.
const kFetchResponse = Symbol("kFetchResponse");

const serverErrors = {
  badPort: (name, port) => nodeError(Error, "ERR_SOCKET_BAD_PORT",
    `${name} should be >= 0 and < 65536. Received ${typeof port}.`),
  alreadyListening: () => nodeError(Error, "ERR_SERVER_ALREADY_LISTEN",
    "Listen method has been called more than once without closing."),
  addressInUse: (address, port) => Object.assign(nodeError(Error, "EADDRINUSE", `bind EADDRINUSE ${address}:${port}`),
    { syscall: "bind", address, port }),
};

function validatePort(port, name) {
  if ((typeof port !== "number" && typeof port !== "string") || (typeof port === "string" && port.trim() === "") ||
      +port !== +port >>> 0 || +port > 0xffff) {
    throw serverErrors.badPort(name, port);
  }
  return +port | 0;
}

/** listen()'s arguments: ([port][, host][, backlog][, callback]) or (options[, callback]). */
function listenArguments(args) {
  const last = args.at(-1);
  const callback = typeof last === "function" ? last : null;
  const first = args[0];
  if (typeof first === "object" && first !== null) return [first, callback];
  // A string that is not a number names a pipe, which a server here has none of.
  if (typeof first === "string" && !(Number(first) >= 0)) return [{ path: first }, callback];
  return [{ port: first, host: typeof args[1] === "string" ? args[1] : undefined }, callback];
}

export class Server extends EventEmitter {
  [kIncomingMessage] = IncomingMessage;
  [kServerResponse] = ServerResponse;
  [kUniqueHeaders] = null;
  httpAllowHalfOpen = false;
  timeout = 0;
  maxHeadersCount = null;
  maxRequestsPerSocket = 0;
  connectionsCheckingInterval = 30_000;
  requestTimeout = 300_000;
  headersTimeout = 60_000;
  requireHostHeader = false;
  joinDuplicateHeaders = false;
  rejectNonStandardBodyWrites = false;
  keepAliveTimeout = 5_000;
  keepAliveTimeoutBuffer = 1_000;
  highWaterMark = getDefaultHighWaterMark(false);
  #port = null;

  constructor(options, requestListener) {
    // Rejections of async listeners are captured: a 'request' listener's
    // failure must reach its response (see the handler below).
    super({ captureRejections: true });
    if (options != null) storeHTTPOptions.call(this, options);
    if (options?.highWaterMark !== undefined) {
      validateNumber(options.highWaterMark, "options.highWaterMark");
      if (options.highWaterMark > 0) this.highWaterMark = options.highWaterMark;
    }
    if (typeof options === "function") {
      requestListener = options;
      options = {};
    } else if (options == null) {
      options = {};
    } else {
      validateObject(options, "options");
    }
    if (requestListener) this.on("request", requestListener);
    this[kUniqueHeaders] = parseUniqueHeadersOption(options.uniqueHeaders);
  }

  get listening() {
    return this.#port !== null;
  }

  get maxConnections() {
    return Infinity;
  }

  get connections() {
    return 0;
  }

  /** Every server is at 127.0.0.1, on its virtual port. */
  address() {
    return this.#port === null ? null : { port: this.#port, family: "IPv4", address: "127.0.0.1" };
  }

  listen(...args) {
    const [options, callback] = listenArguments(args);
    let port = 0;
    if (typeof options.port === "number" || typeof options.port === "string") {
      port = validatePort(options.port, "options.port");
    }
    if (this.#port !== null) throw serverErrors.alreadyListening();
    if (callback) this.once("listening", callback);
    const host = typeof options.host === "string" ? options.host : "127.0.0.1";
    if (port === 0) port = tcpPorts.ephemeral();
    if (port === 0 || !tcpPorts.bind(port, { fetch: (request, env, ctx) => this.#onRequest(request, env, ctx) })) {
      throw serverErrors.addressInUse(host, port);
    }
    this.#port = port;
    queueMicrotask(() => this.emit("listening"));
    return this;
  }

  close(callback) {
    httpServerPreClose(this);
    if (this.#port !== null) {
      tcpPorts.release(this.#port);
      this.#port = null;
    }
    if (typeof callback === "function") this.once("close", callback);
    queueMicrotask(() => this.emit("close"));
    return this;
  }

  async [Symbol.asyncDispose]() {
    await new Promise((resolve) => this.close(resolve));
  }

  // There are no connections to manage, count or keep alive.
  closeAllConnections() {}

  closeIdleConnections() {}

  getConnections(callback) {
    if (callback) {
      validateFunction(callback, "callback");
      queueMicrotask(() => callback(null, 0));
    }
    return this;
  }

  ref() {
    return this;
  }

  unref() {
    return this;
  }

  setTimeout(msecs, callback) {
    if (typeof msecs === "function") callback = msecs;
    else if (typeof msecs === "number") this.timeout = msecs;
    if (typeof callback === "function") this.once("timeout", callback);
    return this;
  }

  // A rejected async 'request' listener tears its response down (the client
  // would otherwise wait forever); a rejected 'error' listener is thrown
  // uncaught; any other listener's rejection becomes an 'error'.
  [EventEmitter.captureRejectionSymbol](error, event, ...args) {
    if (event === "request") {
      args[1].destroy(error);
    } else if (event === "error") {
      queueMicrotask(() => {
        throw error;
      });
    } else {
      this.emit("error", error);
    }
  }

  async #onRequest(request, env, ctx) {
    const incoming = new this[kIncomingMessage]();
    receiveRequest(incoming, request, { localPort: this.#port, env, ctx });
    const response = new this[kServerResponse](incoming, { highWaterMark: this.highWaterMark });
    // The reply to a HEAD carries no body, whatever the handler writes.
    if (request.method === "HEAD") response._hasBody = false;
    try {
      this.emit("connection", incoming.socket);
      this.emit("request", incoming, response);
      return await response[kFetchResponse];
    } catch (error) {
      response.destroy(error);
      throw error;
    }
  }
}

/** The server's options, checked and stored (Node's name; `this` is the server). */
export function storeHTTPOptions(options) {
  this[kIncomingMessage] = options.IncomingMessage || IncomingMessage;
  this[kServerResponse] = options.ServerResponse || ServerResponse;
  // Options about the connection or the parser, which a Request does not have.
  if (options.maxHeaderSize !== undefined) {
    validateInteger(options.maxHeaderSize, "maxHeaderSize", 0);
    throw httpErrors.optionNotImplemented("maxHeaderSize");
  }
  if (options.insecureHTTPParser !== undefined) {
    validateBoolean(options.insecureHTTPParser, "options.insecureHTTPParser");
  }
  if (options.requestTimeout !== undefined) validateInteger(options.requestTimeout, "requestTimeout", 0);
  this.requestTimeout = options.requestTimeout ?? 300_000;
  if (options.headersTimeout !== undefined) validateInteger(options.headersTimeout, "headersTimeout", 0);
  this.headersTimeout = options.headersTimeout ?? Math.min(60_000, this.requestTimeout);
  if (this.requestTimeout > 0 && this.headersTimeout > 0 && this.headersTimeout > this.requestTimeout) {
    throw outOfRange("headersTimeout", "<= requestTimeout", options.headersTimeout);
  }
  for (const [name, min] of [["keepAliveTimeout", 0], ["keepAliveTimeoutBuffer", undefined],
    ["connectionsCheckingInterval", 0]]) {
    if (options[name] !== undefined) {
      validateInteger(options[name], name, min);
      throw httpErrors.optionNotImplemented(name);
    }
  }
  if (options.requireHostHeader !== undefined) {
    validateBoolean(options.requireHostHeader, "options.requireHostHeader");
  }
  this.requireHostHeader = options.requireHostHeader ?? true;
  if (options.joinDuplicateHeaders !== undefined) {
    validateBoolean(options.joinDuplicateHeaders, "options.joinDuplicateHeaders");
  }
  this.joinDuplicateHeaders = options.joinDuplicateHeaders ?? false;
  if (options.rejectNonStandardBodyWrites !== undefined) {
    validateBoolean(options.rejectNonStandardBodyWrites, "options.rejectNonStandardBodyWrites");
  }
  this.rejectNonStandardBodyWrites = options.rejectNonStandardBodyWrites ?? false;
}

export function httpServerPreClose(server) {
  server.closeIdleConnections();
  clearInterval(server[kConnectionsCheckingInterval]);
}

// Node's hooks into its sockets, which servers here have none of.
export function setupConnectionsTracking() {
  throw httpErrors.methodNotImplemented("setupConnectionsTracking");
}

export function _connectionListener() {
  throw httpErrors.methodNotImplemented("_connectionListener");
}

// Statuses whose Response may not have a body.
const NULL_BODY_STATUSES = new Set([204, 205, 304]);

export class ServerResponse extends OutgoingMessage {
  statusCode = 200;
  // workerd's default, which writeHead() keeps when given no message.
  statusMessage = "unknown";
  // The body stream the Response carries, fed by _write() as the body is written.
  #body;
  #controller;
  #bodySettled = false;
  #bytesWritten = 0;
  #responded = false;
  #resolve;
  #reject;

  constructor(req, options = {}) {
    super(req, options);
    const { promise, resolve, reject } = withResolvers();
    // Whoever asked for the Response hears of its failure; a response made
    // by hand has nobody asking.
    promise.catch(() => {});
    this[kFetchResponse] = promise;
    this.#resolve = resolve;
    this.#reject = reject;
    this.#body = new ReadableStream({
      start: (controller) => {
        this.#controller = controller;
      },
      cancel: (reason) => this.destroy(reason),
    });
    this.once("finish", () => {
      this.#settleBody();
      queueMicrotask(() => this.#emitClose());
    });
  }

  writeHead(statusCode, reason, headers) {
    if (this._header) throw httpErrors.headersSent("write");
    const code = statusCode | 0;
    // Workers' responses cannot be informational (1xx).
    if (code < 200 || code > 999) throw httpErrors.invalidStatusCode(statusCode);
    if (typeof reason === "string") {
      this.statusMessage = reason;
    } else {
      this.statusMessage ||= STATUS_CODES[code] || "unknown";
      headers ??= reason;
    }
    this.statusCode = code;

    // Headers set before add to those given here, which win.
    let lines = headers;
    if (this[kOutHeaders]) {
      if (Array.isArray(headers)) {
        if (headers.length % 2 !== 0) throw httpErrors.invalidValue("headers", headers);
        for (let i = 0; i < headers.length; i += 2) this.removeHeader(`${headers[i]}`);
        for (let i = 0; i < headers.length; i += 2) this.appendHeader(`${headers[i]}`, headers[i + 1]);
      } else if (headers) {
        for (const name of Object.keys(headers)) {
          if (headers[name]) this.setHeader(name, headers[name]);
        }
      }
      lines = this[kOutHeaders];
    }
    if (checkInvalidHeaderChar(this.statusMessage)) throw httpErrors.invalidChar("statusMessage");
    if (code === 204 || code === 304) this._hasBody = false;
    this._storeHeader(`HTTP/1.1 ${code} ${this.statusMessage}\r\n`, lines ?? null);
    return this;
  }

  writeHeader(statusCode, reason, headers) {
    return this.writeHead(statusCode, reason, headers);
  }

  _implicitHeader() {
    this.writeHead(this.statusCode);
  }

  write(chunk, encoding, callback) {
    const ok = super.write(chunk, encoding, callback);
    this.#respond();
    return ok;
  }

  end(chunk, encoding, callback) {
    super.end(chunk, encoding, callback);
    this.#respond();
    return this;
  }

  flushHeaders() {
    super.flushHeaders();
    this.#respond();
  }

  // Bytes beyond a declared Content-Length are dropped, as a client would
  // stop reading there; the rest are copied, so that the caller's buffer
  // stays the caller's.
  _write(chunk, encoding, callback) {
    if (this._hasBody && !this.#bodySettled) {
      let bytes = chunk;
      if (typeof this._contentLength === "number") {
        bytes = bytes.subarray(0, Math.max(0, this._contentLength - this.#bytesWritten));
      }
      this.#bytesWritten += bytes.length;
      if (bytes.length > 0) this.#controller.enqueue(new Uint8Array(bytes));
    }
    callback();
  }

  /**
   * Tears the response down: before its head went out the Response is never
   * made (the worker's fetch handler fails); after, its body ends with the
   * error. Once end() was called the body is complete and is left to be
   * sent, as in Node.
   */
  destroy(error) {
    if (this.destroyed) return this;
    this._writableState.destroyed = true;
    this._writableState.errored = error ?? null;
    if (this.writableEnded) return this;
    const reason = error ?? streamErrors.prematureClose();
    if (this.#responded) this.#settleBody(reason);
    else this.#reject(reason);
    if (error != null && this.listenerCount("error") > 0) this.emit("error", error);
    queueMicrotask(() => this.#emitClose());
    return this;
  }

  // Sockets, 1xx responses: nothing a fetch Response can carry.
  assignSocket() {
    throw httpErrors.methodNotImplemented("assignSocket");
  }

  detachSocket() {
    throw httpErrors.methodNotImplemented("detachSocket");
  }

  writeContinue() {
    throw httpErrors.methodNotImplemented("writeContinue");
  }

  writeProcessing() {
    throw httpErrors.methodNotImplemented("writeProcessing");
  }

  writeEarlyHints() {
    throw httpErrors.methodNotImplemented("writeEarlyHints");
  }

  // The head went out (write, end or flushHeaders): the Response is made,
  // with the body stream that has (and will have) what is written.
  #respond() {
    if (this.#responded || !this._header) return;
    this.#responded = true;
    const hasBody = this._hasBody && !NULL_BODY_STATUSES.has(this.statusCode);
    try {
      // workerd's words (the global Response's are deno_fetch's).
      if (!(this.statusCode >= 200 && this.statusCode <= 599)) {
        throw new RangeError("Responses may only be constructed with status codes in the range 200 to 599, inclusive.");
      }
      this.#resolve(new Response(hasBody ? this.#body : null, {
        status: this.statusCode,
        statusText: this.statusMessage,
        headers: this[kHeadLines],
      }));
    } catch (error) {
      // A status or header a Response cannot have.
      this.#reject(error);
    }
  }

  /** Ends the body stream, with `error` or as complete. */
  #settleBody(error) {
    if (this.#bodySettled) return;
    this.#bodySettled = true;
    if (error) this.#controller.error(error);
    else this.#controller.close();
  }

  #emitClose() {
    if (this._closed) return;
    this._writableState.destroyed = true;
    this._closed = true;
    this.emit("close");
  }
}

export class HttpsServer extends Server {
  // TLS is the platform's: a server here has no context or keys of its own.
  addContext() {
    throw httpErrors.methodNotImplemented("addContext");
  }

  getTicketKeys() {
    throw httpErrors.methodNotImplemented("getTicketKeys");
  }

  setSecureContext() {
    throw httpErrors.methodNotImplemented("setSecureContext");
  }

  setTicketKeys() {
    throw httpErrors.methodNotImplemented("setTicketKeys");
  }
}

// https.Server is called Server too.
Object.defineProperty(HttpsServer, "name", { value: "Server" });

function resolvePort(port) {
  if (!Number.isFinite(port) || port < 0 || port > 65535) throw new Error("Failed to determine port for server");
  return port;
}

/**
 * Answers `request` with the server listening on `port` (a number or
 * `{ port }`): workerd's handleAsNodeRequest from `cloudflare:node`.
 */
export async function handleAsNodeRequest(port, request, env, ctx) {
  const number = resolvePort(typeof port === "number" ? port : port?.port);
  const handler = tcpPorts.handler(number);
  if (!handler) {
    const error = new Error(`Http server with port ${number} not found. This is likely a bug with your code. ` +
      `You should check if server.listen() was called with the same port (${number})`);
    error.code = "ERR_INVALID_ARG_VALUE";
    throw error;
  }
  return await handler.fetch(request, env, ctx);
}

/**
 * A fetch handler for a worker that serves with a Node server: given the
 * server (listen() is called if it has no port yet), `{ port }` or a port.
 * workerd's httpServerHandler from `cloudflare:node`.
 */
export function httpServerHandler(server) {
  if (server == null) throw new Error("Server descriptor cannot be null or undefined");
  let port = typeof server === "number" ? server : server.port;
  if (port == null && typeof server.listen === "function") {
    port = server.address()?.port;
    if (typeof port !== "number") {
      // listen() takes its port at once.
      server.listen();
      port = server.address()?.port;
    }
  }
  port = resolvePort(port);
  return {
    async fetch(request, env, ctx) {
      return await handleAsNodeRequest(port, request, env, ctx);
    },
  };
}
