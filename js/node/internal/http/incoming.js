// IncomingMessage: a client's response (made from a fetch Response) or a
// server's request (made from the Request the worker received). Its
// headers are Node's view of the fetch headers; its body is a Readable fed
// from the web body stream, read only as fast as it is consumed.

import { EventEmitter } from "../../events.js";
import { Readable } from "../streams/readable.js";
import { getTimerDuration } from "./common.js";

const kHeaders = Symbol("kHeaders");
const kHeadersDistinct = Symbol("kHeadersDistinct");
const kHeadersCount = Symbol("kHeadersCount");
// The web body stream, its reader once reading started, whether a read
// loop is running, the hooks of the request's idle timer, the socket stub.
const kBody = Symbol("kBody");
const kReader = Symbol("kReader");
const kReading = Symbol("kReading");
const kIdleTimer = Symbol("kIdleTimer");
const kSocket = Symbol("kSocket");

// Headers whose repeats Node drops (the first one counts), unless
// joinDuplicateHeaders; Set-Cookie's make an array, Cookie's join with
// "; ", and every other header's with ", ".
const SINGLE_VALUE_HEADERS = new Set([
  "age", "authorization", "content-length", "content-type", "etag", "expires", "from", "host",
  "if-modified-since", "if-unmodified-since", "last-modified", "location", "max-forwards",
  "proxy-authorization", "referer", "retry-after", "server", "user-agent",
]);

export class IncomingMessage extends Readable {
  aborted = false;
  url = "";
  method = null;
  statusCode = null;
  statusMessage = null;
  httpVersionMajor = 1;
  httpVersionMinor = 1;
  httpVersion = "1.1";
  complete = false;
  rawHeaders = [];
  joinDuplicateHeaders = false;
  // What a server request knows of Cloudflare: the request's `cf`, and the
  // worker's `env` and `ctx`.
  cloudflare = { cf: undefined, env: undefined, ctx: undefined };
  _dumped = false;
  _consuming = false;
  [kHeaders] = null;
  [kHeadersDistinct] = null;
  [kHeadersCount] = 0;
  [kBody] = null;
  [kReader] = null;
  [kReading] = false;
  [kIdleTimer] = null;
  [kSocket] = undefined;

  constructor() {
    super({});
    // As in Node: nothing is read ahead until the body is asked for.
    this._readableState.readingMore = true;
  }

  get headers() {
    if (!this[kHeaders]) {
      this[kHeaders] = {};
      for (let i = 0; i < this[kHeadersCount]; i += 2) {
        this._addHeaderLine(this.rawHeaders[i], this.rawHeaders[i + 1], this[kHeaders]);
      }
    }
    return this[kHeaders];
  }

  set headers(value) {
    this[kHeaders] = value;
  }

  get headersDistinct() {
    if (!this[kHeadersDistinct]) {
      this[kHeadersDistinct] = {};
      for (let i = 0; i < this[kHeadersCount]; i += 2) {
        this._addHeaderLineDistinct(this.rawHeaders[i], this.rawHeaders[i + 1], this[kHeadersDistinct]);
      }
    }
    return this[kHeadersDistinct];
  }

  set headersDistinct(value) {
    this[kHeadersDistinct] = value;
  }

  // fetch() has no trailers.
  get trailers() {
    return {};
  }

  set trailers(value) {}

  get trailersDistinct() {
    return {};
  }

  set trailersDistinct(value) {}

  get socket() {
    return this[kSocket];
  }

  get connection() {
    return this[kSocket];
  }

  set connection(value) {
    this[kSocket] = value;
  }

  /** Adds one header to `dest` as Node's parser does. */
  _addHeaderLine(field, value, dest) {
    const name = field.toLowerCase();
    if (name === "set-cookie") {
      if (dest[name] === undefined) dest[name] = [value];
      else dest[name].push(value);
    } else if (dest[name] === undefined) {
      dest[name] = value;
    } else if (!SINGLE_VALUE_HEADERS.has(name) || this.joinDuplicateHeaders) {
      dest[name] += (name === "cookie" ? "; " : ", ") + value;
    }
  }

  /** Takes `headers`, alternating names and values, as the message's raw headers. */
  _addHeaderLines(headers, n) {
    if (!Array.isArray(headers) || this.complete) return;
    this.rawHeaders = headers;
    this[kHeadersCount] = n;
    if (this[kHeaders]) {
      for (let i = 0; i < n; i += 2) this._addHeaderLine(headers[i], headers[i + 1], this[kHeaders]);
    }
  }

  _addHeaderLineDistinct(field, value, dest) {
    const name = field.toLowerCase();
    if (dest[name]) dest[name].push(value);
    else dest[name] = [value];
  }

  /** Reads the body to nowhere: nobody wants it, but the exchange must complete. */
  _dump() {
    if (this._dumped) return;
    this._dumped = true;
    this.removeAllListeners("data");
    this.resume();
  }

  /** Sets the idle timeout of the request this is the response to. */
  setTimeout(msecs, callback) {
    msecs = getTimerDuration(msecs, "msecs");
    if (callback) this.on("timeout", callback);
    this[kIdleTimer]?.setTimeout(msecs);
    return this;
  }

  _read() {
    if (!this._consuming) {
      this._readableState.readingMore = false;
      this._consuming = true;
    }
    if (this[kBody] == null) {
      this.complete = true;
      this.push(null);
      return;
    }
    this.#pump();
  }

  // Moves chunks from the body stream into the Readable until it wants no
  // more (push() returns false; the next _read() resumes) or the body ends.
  async #pump() {
    if (this[kReading]) return;
    this[kReading] = true;
    try {
      this[kReader] ??= this[kBody].getReader();
      while (!this.destroyed) {
        const { done, value } = await this[kReader].read();
        // Destroyed while the read was pending: what it read is void.
        if (this.destroyed) break;
        if (done) {
          this.complete = true;
          this.push(null);
          break;
        }
        this[kIdleTimer]?.touch();
        if (!this.push(value)) break;
      }
    } catch (error) {
      this.destroy(error);
    } finally {
      this[kReading] = false;
    }
  }

  _destroy(error, callback) {
    if (!this.readableEnded || !this.complete) {
      this.aborted = true;
      this.emit("aborted");
    }
    // A body nobody will read is cancelled, so that its sender learns of it.
    if (!this.complete && this[kBody] != null) {
      (this[kReader] ?? this[kBody]).cancel(error ?? undefined).catch(() => {});
    }
    // As on workerd, the error is reported only to whoever listens for it.
    queueMicrotask(() => callback(this.listenerCount("error") > 0 ? error : undefined));
  }
}

/**
 * Fills a client's response from a fetch Response. `idleTimer` has the
 * request's idle-timeout hooks: setTimeout(msecs), and touch() for activity.
 */
export function receiveResponse(message, response, idleTimer) {
  for (const [name, value] of response.headers) message.rawHeaders.push(name, value);
  message[kHeadersCount] = message.rawHeaders.length;
  message.url = response.url;
  message.statusCode = response.status;
  message.statusMessage = response.statusText;
  message[kBody] = response.body;
  message[kIdleTimer] = idleTimer;
}

// Headers Node keeps one value of, which a Request joins with commas.
const FIRST_VALUE_ONLY = new Set([
  "host", "content-type", "user-agent", "referer", "authorization", "proxy-authorization",
  "if-modified-since", "if-unmodified-since", "from", "location", "max-forwards",
]);

/** The first of a header's comma-separated values (commas in quoted strings do not count). */
function firstHeaderValue(value) {
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === '"') quoted = !quoted;
    else if (c === "\\" && quoted) i++;
    else if (c === "," && !quoted) return value.slice(0, i);
  }
  return value;
}

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/**
 * Fills a server's request from the Request the worker received, for the
 * server listening on `localPort`.
 */
export function receiveRequest(message, request, { localPort, env, ctx }) {
  const url = new URL(request.url);
  message.url = url.pathname + url.search;
  message.method = request.method;
  const headers = [];
  for (const [name, value] of request.headers) {
    headers.push(name, FIRST_VALUE_ONLY.has(name) ? firstHeaderValue(value) : value);
  }
  message._addHeaderLines(headers, headers.length);
  message[kBody] = request.body;
  message[kSocket] = socketStub(message, request.headers, localPort);
  message.cloudflare = { env, ctx, cf: request.cf };
}

/**
 * What a server request's `socket` can tell without a socket: the client's
 * address (from cf-connecting-ip), the local port, whether it came over
 * https. An EventEmitter, since middleware listens on it.
 */
function socketStub(message, headers, localPort) {
  const clientIp = headers.get("cf-connecting-ip");
  // A port in the ephemeral range, as a client's would be.
  const remotePort = Math.floor(Math.random() * 0x8000) | 0x8000;
  const socket = new EventEmitter();
  const whileOpen = (value) => () => (message.destroyed ? undefined : value);
  Object.defineProperties(socket, {
    encrypted: { value: headers.get("x-forwarded-proto") === "https", configurable: true },
    readable: { get: () => message.readable, configurable: true },
    remoteFamily: { get: whileOpen(!clientIp || IPV4.test(clientIp) ? "IPv4" : "IPv6"), configurable: true },
    remoteAddress: { get: whileOpen(clientIp ?? "127.0.0.1"), configurable: true },
    remotePort: { get: whileOpen(remotePort), configurable: true },
    localAddress: { value: headers.get("host") ?? "127.0.0.1", configurable: true },
    localPort: { value: localPort, configurable: true },
    destroy: { value: (error) => message.destroy(error), configurable: true },
  });
  return socket;
}
