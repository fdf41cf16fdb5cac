// OutgoingMessage: what ClientRequest and ServerResponse share. The
// headers a message will send, which can be set, read and removed until
// its head is rendered (by the first write(), end() or flushHeaders()),
// the head itself as Node renders it (`_header`, which also makes
// `headersSent` true), and a Writable for the body, whose bytes the
// subclasses hand to fetch().

import { Buffer } from "../../buffer.js";
import { Writable } from "../streams/writable.js";
import { streamErrors } from "../streams/utils.js";
import { invalidArgType } from "../errors.js";
import { validateString } from "../validators.js";
import { chunkExpression, httpErrors, validateHeaderName, validateHeaderValue } from "./common.js";

/** The headers set so far: lower-cased name -> [name as given, value]. */
export const kOutHeaders = Symbol("kOutHeaders");
/** Header names (lower case) whose several values go on one line. */
export const kUniqueHeaders = Symbol("kUniqueHeaders");
/** The head's header lines as [name, value] pairs, less the framing ones. */
export const kHeadLines = Symbol("kHeadLines");

const CONNECTION_CLOSE = /(?:^|\W)close(?:$|\W)/i;

/** The `uniqueHeaders` option as a set of lower-cased names, or null. */
export function parseUniqueHeadersOption(headers) {
  if (!Array.isArray(headers)) return null;
  return new Set(headers.flat().map((name) => name.toLowerCase()));
}

function validateChunk(chunk) {
  if (chunk === null) throw streamErrors.nullValues();
  if (typeof chunk !== "string" && !(chunk instanceof Uint8Array)) {
    throw invalidArgType("chunk", ["string", "Buffer", "Uint8Array"], chunk);
  }
}

export class OutgoingMessage extends Writable {
  [kOutHeaders] = null;
  [kUniqueHeaders] = null;
  [kHeadLines] = [];
  req;
  // The head, once rendered; it and the flags below keep Node's names,
  // which libraries read.
  _header = null;
  _headerSent = false;
  _closed = false;
  _contentLength = null;
  _hasBody = true;
  _last = false;
  _removedConnection = false;
  _removedContLen = false;
  _removedTE = false;
  chunkedEncoding = false;
  sendDate = false;
  shouldKeepAlive = true;
  useChunkedEncodingByDefault = true;
  finished = false;

  constructor(req, options) {
    // 'close' is the subclasses' to emit, when the exchange is over.
    super({ autoDestroy: false, highWaterMark: options?.highWaterMark });
    this.req = req;
  }

  get headersSent() {
    return !!this._header;
  }

  get closed() {
    return this._closed;
  }

  setHeader(name, value) {
    if (this._header) throw httpErrors.headersSent("set");
    validateHeaderName(name);
    validateHeaderValue(name, value);
    this[kOutHeaders] ??= { __proto__: null };
    this[kOutHeaders][name.toLowerCase()] = [name, value];
    return this;
  }

  /** Sets every header of a Headers or a Map; Set-Cookie values accumulate. */
  setHeaders(headers) {
    if (this._header) throw httpErrors.headersSent("set");
    if (headers === null || typeof headers !== "object" || Array.isArray(headers) ||
        typeof headers.keys !== "function" || typeof headers.get !== "function") {
      throw invalidArgType("headers", ["Headers", "Map"], headers);
    }
    const cookies = [];
    for (const [name, value] of headers) {
      if (name === "set-cookie") cookies.push(...(Array.isArray(value) ? value : [value]));
      else this.setHeader(name, value);
    }
    if (cookies.length > 0) this.setHeader("set-cookie", cookies);
    return this;
  }

  appendHeader(name, value) {
    if (this._header) throw httpErrors.headersSent("append");
    validateHeaderName(name);
    validateHeaderValue(name, value);
    const entry = this[kOutHeaders]?.[name.toLowerCase()];
    if (!entry) return this.setHeader(name, value);
    if (!Array.isArray(entry[1])) entry[1] = [entry[1]];
    entry[1].push(...(Array.isArray(value) ? value : [value]));
    return this;
  }

  getHeader(name) {
    validateString(name, "name");
    return this[kOutHeaders]?.[name.toLowerCase()]?.[1];
  }

  /** A copy of the headers, by lower-cased name. */
  getHeaders() {
    const headers = {};
    for (const [key, [, value]] of Object.entries(this[kOutHeaders] ?? {})) headers[key] = value;
    return headers;
  }

  getHeaderNames() {
    return Object.keys(this[kOutHeaders] ?? {});
  }

  getRawHeaderNames() {
    return Object.values(this[kOutHeaders] ?? {}).map(([name]) => name);
  }

  hasHeader(name) {
    validateString(name, "name");
    return !!this[kOutHeaders]?.[name.toLowerCase()];
  }

  removeHeader(name) {
    validateString(name, "name");
    if (this._header) throw httpErrors.headersSent("remove");
    const key = name.toLowerCase();
    // Removing a framing header also stops the head from adding its own.
    if (key === "connection") this._removedConnection = true;
    else if (key === "content-length") this._removedContLen = true;
    else if (key === "transfer-encoding") this._removedTE = true;
    else if (key === "date") this.sendDate = false;
    if (this[kOutHeaders]) delete this[kOutHeaders][key];
  }

  /** The headers by their names as given (Node's internal view, read by some libraries). */
  _renderHeaders() {
    if (this._header) throw httpErrors.headersSent("render");
    const headers = {};
    for (const [name, value] of Object.values(this[kOutHeaders] ?? {})) headers[name] = value;
    return headers;
  }

  flushHeaders() {
    if (!this._header) this._implicitHeader();
    this._headerSent = true;
  }

  /** Renders the head from the message's own state; each subclass knows its first line. */
  _implicitHeader() {
    throw httpErrors.methodNotImplemented("_implicitHeader()");
  }

  /**
   * Renders the head: `firstLine`, then the given headers (the message's own,
   * an object, or an array of pairs or of alternating names and values),
   * then the Date, Connection and framing lines Node adds.
   */
  _storeHeader(firstLine, headers) {
    const lines = headers == null ? [] : headerLines(this, headers);
    const seen = new Set();
    for (const [name, value] of lines) {
      const key = name.toLowerCase();
      seen.add(key);
      if (key === "connection") {
        this._removedConnection = false;
        if (CONNECTION_CLOSE.test(value)) this._last = true;
        else this.shouldKeepAlive = true;
      } else if (key === "transfer-encoding") {
        this._removedTE = false;
        if (chunkExpression.test(value)) this.chunkedEncoding = true;
      } else if (key === "content-length") {
        this._contentLength = +value;
        this._removedContLen = false;
      }
    }
    if (this.sendDate && !seen.has("date")) lines.push(["Date", new Date().toUTCString()]);

    // Connection and Transfer-Encoding are the connection's framing: they go
    // into the rendered head but not into the lines a fetch Response is
    // given, since the runtime frames the body itself.
    const framing = [];
    if (this._removedConnection) {
      this._last = !this.shouldKeepAlive;
    } else if (!seen.has("connection")) {
      if (this.shouldKeepAlive && (seen.has("content-length") || this.useChunkedEncodingByDefault || this.agent)) {
        framing.push(["Connection", "keep-alive"]);
      } else {
        this._last = true;
        framing.push(["Connection", "close"]);
      }
    }
    const length = [];
    if (!seen.has("content-length") && !seen.has("transfer-encoding")) {
      if (!this._hasBody) {
        this.chunkedEncoding = false;
      } else if (!this.useChunkedEncodingByDefault) {
        this._last = true;
      } else if (!seen.has("trailer") && !this._removedContLen && typeof this._contentLength === "number") {
        length.push(["Content-Length", String(this._contentLength)]);
      } else if (!this._removedTE) {
        framing.push(["Transfer-Encoding", "chunked"]);
        this.chunkedEncoding = true;
      } else {
        this._last = true;
      }
    }
    const rendered = [...lines, ...framing, ...length].map(([name, value]) => `${name}: ${value}\r\n`);
    this._header = `${firstLine}${rendered.join("")}\r\n`;
    this._headerSent = false;
    this[kHeadLines] = [...lines, ...length];
  }

  write(chunk, encoding, callback) {
    if (typeof encoding === "function") {
      callback = encoding;
      encoding = null;
    }
    validateChunk(chunk);
    // Refused as workerd refuses them: through the callback, and as an
    // 'error' unless the message is destroyed. (Writable's own refusal
    // would mark it errored, which would stop its 'finish'.)
    if (this.writableEnded || this.destroyed) {
      const error = this.destroyed ? streamErrors.destroyed("write") : streamErrors.writeAfterEnd();
      queueMicrotask(() => {
        callback?.(error);
        if (!this.destroyed) this.emit("error", error);
      });
      return false;
    }
    if (!this._header) this._implicitHeader();
    this._headerSent = true;
    return super.write(chunk, encoding, callback);
  }

  end(chunk, encoding, callback) {
    [chunk, encoding, callback] = endArguments(chunk, encoding, callback);
    if (endAgain(this, chunk, encoding, callback)) return this;
    if (chunk) validateChunk(chunk);
    if (!this._header) {
      this._contentLength = chunk ? Buffer.byteLength(chunk, encoding ?? undefined) : 0;
      this._implicitHeader();
    }
    this._headerSent = true;
    this.finished = true;
    // The callback is a 'finish' listener, after those added before.
    if (typeof callback === "function") this.once("finish", callback);
    super.end(chunk, encoding);
    return this;
  }

  // Without a socket to tear down, a bare message reports the error at once
  // and is done, as on workerd.
  destroy(error) {
    if (this.destroyed) return this;
    if (error != null) this.emit("error", error);
    this._writableState.destroyed = true;
    this._writableState.errored = error;
    return this;
  }

  // A message is written to, never read from.
  pipe(destination) {
    this.emit("error", streamErrors.cannotPipe());
    return destination;
  }
}

/** end()'s arguments: ([chunk][, encoding][, callback]). */
export function endArguments(chunk, encoding, callback) {
  if (typeof chunk === "function") return [null, null, chunk];
  if (typeof encoding === "function") return [chunk, null, encoding];
  return [chunk, encoding, callback];
}

/**
 * end() on a message ended or destroyed already, which it deals with and
 * returns true for: after end(), a chunk is a write after end and a
 * callback waits for 'finish'; a destroyed message never finishes.
 */
export function endAgain(message, chunk, encoding, callback) {
  if (message.writableEnded) {
    if (chunk) {
      message.write(chunk, encoding, callback);
    } else if (typeof callback === "function") {
      if (message.writableFinished) callback(streamErrors.alreadyFinished("end"));
      else message.once("finish", () => callback());
    }
    return true;
  }
  return message.destroyed;
}

function isCookieField(name) {
  return name.length === 6 && name.toLowerCase() === "cookie";
}

/**
 * The [name, value] lines of `headers`, each value a string: an array of
 * values makes a line each, but Cookie's (and a unique header's) join on
 * one line. Headers other than the message's own are checked first.
 */
function headerLines(message, headers) {
  let entries;
  let validate = true;
  if (headers === message[kOutHeaders]) {
    entries = Object.values(headers);
    validate = false;
  } else if (Array.isArray(headers)) {
    if (headers.length > 0 && Array.isArray(headers[0])) {
      entries = headers;
    } else {
      if (headers.length % 2 !== 0) throw httpErrors.invalidValue("headers", headers);
      entries = [];
      for (let i = 0; i < headers.length; i += 2) entries.push([headers[i], headers[i + 1]]);
    }
  } else {
    entries = Object.entries(headers);
  }
  const lines = [];
  for (const [name, value] of entries) {
    if (validate) validateHeaderName(name);
    let values = [value];
    if (Array.isArray(value)) {
      const oneLine = (value.length > 1 && isCookieField(name)) || message[kUniqueHeaders]?.has(name.toLowerCase());
      values = oneLine ? [value.join("; ")] : value;
    }
    for (const item of values) {
      if (validate) validateHeaderValue(name, item);
      lines.push([name, String(item)]);
    }
  }
  return lines;
}
