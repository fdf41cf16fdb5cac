// ClientRequest: http.request() on top of fetch(), as workerd does it.
// The body written is gathered until end(); the request goes out with
// fetch() on 'finish', and the fetch Response becomes an IncomingMessage
// ('response'). Without sockets, errors and teardown follow what Node
// shows a caller: a failed fetch is the request's 'error', destroy() before
// a response is a "socket hang up", and 'close' ends every exchange.

import { Buffer } from "../../buffer.js";
import { Writable } from "../streams/writable.js";
import { AbortError, invalidArgType } from "../errors.js";
import {
  validateAbortSignal, validateBoolean, validateFunction, validateInteger, validateNumber, validateString,
} from "../validators.js";
import { urlToHttpOptions } from "../../url.js";
import { globalAgent } from "./agent.js";
import { checkIsHttpToken, getTimerDuration, httpErrors, isURL, requestURL } from "./common.js";
import { IncomingMessage, receiveResponse } from "./incoming.js";
import {
  OutgoingMessage, endAgain, endArguments, kHeadLines, kOutHeaders, kUniqueHeaders, parseUniqueHeadersOption,
} from "./outgoing.js";

// A request path is Latin-1 without spaces or controls...
const INVALID_PATH = /[^\u0021-\u00ff]/;
// ...and may not name another host: no "//", "/\", "\/", "\\" at its start
// (the URL parser reads any of them as an authority) and no scheme.
const AUTHORITY_OVERRIDE = /^(?:[/\\]{2}|[^/\\]*:)/;

function validateHost(host, name) {
  if (host != null && typeof host !== "string") {
    throw httpErrors.invalidType(`options.${name}`, "of type string or one of undefined or null", host);
  }
  return host;
}

// What a method may not carry as a body.
const BODYLESS = new Set(["GET", "HEAD"]);

export class ClientRequest extends OutgoingMessage {
  #abortController = new AbortController();
  #body = [];
  #response = null;
  #timer = null;
  #sent = false;
  agent;
  aborted = false;
  host;
  method = "GET";
  path = "/";
  port = "80";
  protocol = "http:";
  timeout;
  joinDuplicateHeaders;
  reusedSocket = false;
  maxHeadersCount = Infinity;
  socket = null;
  connection = null;

  constructor(input, options, callback) {
    super();
    // request(url[, options][, callback]) or request(options[, callback]).
    if (typeof input === "string") {
      input = urlToHttpOptions(requestURL(input));
    } else if (isURL(input)) {
      input = urlToHttpOptions(input);
    } else {
      callback = options;
      options = input;
      input = null;
    }
    if (typeof options === "function") {
      callback = options;
      options = input ?? {};
    } else {
      options = Object.assign(input ?? {}, options);
    }

    if (options.path) {
      if (INVALID_PATH.test(options.path)) throw httpErrors.unescapedCharacters("Request path");
      if (AUTHORITY_OVERRIDE.test(options.path)) {
        throw httpErrors.invalidValue("options.path", options.path, "must be a path-only request target");
      }
    }

    const defaultAgent = options._defaultAgent || globalAgent;
    let agent = options.agent;
    if (agent === false) {
      agent = new defaultAgent.constructor();
    } else if (agent == null) {
      if (typeof options.createConnection !== "function") agent = defaultAgent;
    } else if (typeof agent === "object" && typeof agent.addRequest !== "function") {
      throw httpErrors.invalidType("options.agent", "one of Agent-like Object, undefined, or false", agent);
    }
    this.agent = agent;

    // The protocol must be the agent's: http.request() takes no https: URL.
    let expectedProtocol = defaultAgent.protocol;
    const protocol = options.protocol || expectedProtocol;
    if (this.agent?.protocol) expectedProtocol = this.agent.protocol;
    const defaultPort = options.defaultPort || this.agent?.defaultPort || 80;
    if (protocol !== expectedProtocol) throw httpErrors.invalidProtocol(protocol, expectedProtocol);
    this.protocol = protocol;
    const port = (options.port = options.port || defaultPort || 80);
    this.port = String(port);
    const host = (options.host = validateHost(options.hostname, "hostname") || validateHost(options.host, "host") ||
      "localhost");
    const setHost = options.setHost !== undefined ? Boolean(options.setHost) : options.setDefaultHeaders !== false;
    if (options.timeout !== undefined) this.timeout = getTimerDuration(options.timeout, "timeout");
    if (options.signal) this.#abortOn(options.signal);

    const method = options.method;
    if (method != null && typeof method !== "string") throw invalidArgType("options.method", "string", method);
    if (method) {
      if (!checkIsHttpToken(method)) throw httpErrors.invalidToken("Method", method);
      this.method = method.toUpperCase();
    }

    // Options about the connection or the parser, which fetch() does not expose.
    if (options.maxHeaderSize !== undefined) {
      validateInteger(options.maxHeaderSize, "maxHeaderSize", 0);
      throw httpErrors.optionNotImplemented("options.maxHeaderSize");
    }
    if (options.insecureHTTPParser !== undefined) {
      validateBoolean(options.insecureHTTPParser, "options.insecureHTTPParser");
    }
    if (options.createConnection !== undefined) {
      validateFunction(options.createConnection, "options.createConnection");
      throw httpErrors.optionNotImplemented("options.createConnection");
    }
    if (options.lookup !== undefined) {
      validateFunction(options.lookup, "options.lookup");
      throw httpErrors.optionNotImplemented("options.lookup");
    }
    if (options.socketPath !== undefined) {
      validateString(options.socketPath, "options.socketPath");
      throw httpErrors.optionNotImplemented("options.socketPath");
    }
    if (options.joinDuplicateHeaders !== undefined) {
      validateBoolean(options.joinDuplicateHeaders, "options.joinDuplicateHeaders");
    }
    this.joinDuplicateHeaders = options.joinDuplicateHeaders;

    this.path = options.path || "/";
    if (callback) this.once("response", callback);
    this.host = host;

    const headers = options.headers;
    if (Array.isArray(headers)) {
      // Given as alternating names and values: taken as they are, with no
      // Host or Authorization added.
      if (headers.length % 2 !== 0) throw httpErrors.invalidValue("headers", headers);
      for (let i = 0; i < headers.length; i += 2) this.setHeader(headers[i], headers[i + 1]);
    } else {
      if (headers != null) {
        if ("host" in headers) validateString(headers.host, "host");
        for (const [name, value] of Object.entries(headers)) this.setHeader(name, value);
      }
      if (host && !this.getHeader("host") && setHost) {
        // An IPv6 address goes in brackets; the port only when not the default.
        let hostHeader = host;
        const colon = host.indexOf(":");
        if (colon !== -1 && host.includes(":", colon + 1) && host[0] !== "[") hostHeader = `[${host}]`;
        if (port && +port !== defaultPort) hostHeader += `:${port}`;
        this.setHeader("Host", hostHeader);
      }
      if (options.auth && !this.getHeader("Authorization")) {
        this.setHeader("Authorization", `Basic ${Buffer.from(options.auth).toString("base64")}`);
      }
    }

    this.on("finish", () => this.#onFinish());
    this[kUniqueHeaders] = parseUniqueHeadersOption(options.uniqueHeaders);
  }

  // The signal aborts the whole exchange, until 'close' (stream's
  // addAbortSignal() would stop at 'finish', once the body is written).
  #abortOn(signal) {
    validateAbortSignal(signal, "signal");
    const abort = () => this.destroy(new AbortError(undefined, { cause: signal.reason }));
    if (signal.aborted) {
      abort();
    } else {
      signal.addEventListener("abort", abort, { once: true });
      this.once("close", () => signal.removeEventListener("abort", abort));
    }
  }

  _implicitHeader() {
    if (this._header) throw httpErrors.headersSent("render");
    this._storeHeader(`${this.method} ${this.path} HTTP/1.1\r\n`, this[kOutHeaders]);
  }

  // As on workerd: the head is rendered when the request is sent, on
  // 'finish' (so headersSent stays false after end()), and the callback
  // runs as the request finishes, before the 'finish' listeners.
  end(chunk, encoding, callback) {
    [chunk, encoding, callback] = endArguments(chunk, encoding, callback);
    if (endAgain(this, chunk, encoding, callback)) return this;
    this.finished = true;
    Writable.prototype.end.call(this, chunk, encoding, callback);
    return this;
  }

  // Bytes are copied as they are written: what the caller does to its
  // buffer afterwards does not change what is sent.
  _write(chunk, encoding, callback) {
    if (!BODYLESS.has(this.method) && chunk.length > 0) this.#body.push(Buffer.from(chunk));
    callback();
  }

  #onFinish() {
    if (this.destroyed) return;
    // A request that cannot be made (a host or path no URL can hold) fails
    // as a connection would.
    try {
      this.#send();
    } catch (error) {
      this.destroy(error);
    }
  }

  #send() {
    if (!this._header) this._implicitHeader();
    this.#sent = true;
    this.#armTimer();
    // An HTTP/1.1 request needs a Host: a request that has no headers at all
    // (setHost: false, none given) gets the 400 a server would answer.
    if (this.host && !this.getHeader("host") && this.getHeaderNames().length === 0) {
      const badRequest = { status: 400, statusText: "Bad Request", headers: { connection: "close" } };
      queueMicrotask(() => this.#onResponse(new Response(null, badRequest)));
      return;
    }
    const host = this.host.includes(":") && this.host[0] !== "[" ? `[${this.host}]` : this.host;
    let url = new URL(`http://${host}`);
    url.protocol = this.protocol;
    url.port = this.port;
    if (this.path.length > 0 && this.path !== "/") {
      // `path` is a public field: checked again, since it may have changed.
      if (AUTHORITY_OVERRIDE.test(this.path)) {
        this.destroy(httpErrors.invalidValue("options.path", this.path, "must be a path-only request target"));
        return;
      }
      url = new URL(this.path, url);
    }
    const body = this.#body.length > 0 ? Buffer.concat(this.#body) : null;
    this.#body = [];
    // Nothing waits for this fetch: a worker that must see the response
    // keeps the request alive itself (ctx.waitUntil, or awaiting an event).
    // Redirects and Content-Encoding reach the caller as they are, as Node's
    // client leaves them.
    fetch(url, {
      method: this.method,
      // The body goes whole, with its length: fetch() frames it, so a
      // Transfer-Encoding of the caller's has nothing to say.
      headers: this[kHeadLines].filter(([name]) => name.toLowerCase() !== "transfer-encoding"),
      body,
      signal: this.#abortController.signal,
      redirect: "manual",
      encodeResponseBody: "manual",
    })
      .then((response) => this.#onResponse(response))
      .catch((error) => this.#onFetchError(error));
  }

  #onResponse(response) {
    // Destroyed while the response was on its way: nobody will read it.
    if (this.destroyed) {
      response.body?.cancel().catch(() => {});
      return;
    }
    const incoming = new IncomingMessage();
    receiveResponse(incoming, response, {
      setTimeout: (msecs) => this.#setIdleTimeout(msecs),
      touch: () => this.#armTimer(),
    });
    this.#armTimer();
    // The response's failure is the request's, as a socket error would be.
    incoming.on("error", (error) => {
      if (!this.destroyed) this.emit("error", error);
    });
    incoming.once("close", () => this.#emitClose());
    this.#response = incoming;
    this.res = incoming;
    // A response nobody listens for is read to nowhere, so that the
    // exchange completes and closes.
    if (!this.emit("response", incoming)) incoming._dump();
  }

  // The fetch failed before a response (no connection, refused): unless
  // this request aborted it itself, that is its error.
  #onFetchError(error) {
    // workerd's fetch fails with a plain Error; Deno's (Ridge's) with a
    // TypeError. Code that checks the class sees what it sees on workerd.
    const failure = error instanceof TypeError ? new Error(error.message, { cause: error }) : error;
    if (!this.destroyed) this.destroy(failure);
  }

  #emitClose() {
    if (this._closed) return;
    this._closed = true;
    this._writableState.destroyed = true;
    this._writableState.closed = true;
    this.#clearTimer();
    this.emit("close");
  }

  /**
   * Tears the exchange down: the error (for a bare destroy() before any
   * response, "socket hang up") comes on a later tick, as a socket's would;
   * a fetch in flight is aborted, a response being read is aborted with
   * ECONNRESET; 'close' follows.
   */
  destroy(error) {
    if (this.destroyed) return this;
    this._writableState.destroyed = true;
    this._writableState.errored = error ?? null;
    this.#clearTimer();
    const incoming = this.#response;
    if (incoming === null && error == null && !this.aborted) {
      error = httpErrors.connectionReset("socket hang up");
    }
    if (error != null) queueMicrotask(() => this.emit("error", error));
    if (incoming === null) this.#abortController.abort();
    else if (!incoming.complete) incoming.destroy(httpErrors.connectionReset("aborted"));
    queueMicrotask(() => this.#emitClose());
    return this;
  }

  /** The quiet teardown: 'abort', then 'close', and no error. */
  abort() {
    if (this.aborted) return;
    this.aborted = true;
    queueMicrotask(() => this.emit("abort"));
    this.destroy();
  }

  // fetch() sends no trailers.
  addTrailers() {
    throw httpErrors.methodNotImplemented("addTrailers");
  }

  // Socket options: checked, with no socket to apply them to.
  setNoDelay(noDelay) {
    validateBoolean(noDelay, "noDelay");
  }

  setSocketKeepAlive(enable, initialDelay) {
    validateBoolean(enable, "enable");
    validateNumber(initialDelay, "initialDelay");
  }

  onSocket() {}

  /**
   * Sets (0 clears) the idle timeout, which runs from when the request is
   * sent and starts over with the response and each of its chunks.
   */
  setTimeout(msecs, callback) {
    this.#setIdleTimeout(getTimerDuration(msecs, "msecs"));
    if (callback) this.once("timeout", callback);
    return this;
  }

  clearTimeout(callback) {
    return this.setTimeout(0, callback);
  }

  #setIdleTimeout(msecs) {
    this.timeout = msecs;
    this.#armTimer();
  }

  // On timeout Node only emits 'timeout'; here the request is also
  // destroyed, since one left open would hold its fetch forever.
  #armTimer() {
    this.#clearTimer();
    if (!this.timeout || !this.#sent || this.destroyed) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.emit("timeout");
      this.#response?.emit("timeout");
      this.destroy(new AbortError());
    }, this.timeout);
  }

  #clearTimer() {
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
  }
}
