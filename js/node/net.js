// node:net: TCP client sockets on top of cloudflare:sockets' connect()
// (js/cloudflare/11_sockets.js), as workerd builds them: a Socket is a
// Duplex whose reads and writes go to the connection; every plain socket
// is opened with secureTransport "starttls" so that node:tls can upgrade
// it later. Servers are not available in Workers.

import { Buffer } from "./buffer.js";
import { Duplex } from "./internal/streams/duplex.js";
import { connect as cfConnect, socketConnection } from "ext:ridge/cloudflare/11_sockets.js";
import { describeReceived, invalidArgType, invalidArgValue, missingArgs, nodeError, outOfRange } from "./internal/errors.js";
import { validateFunction, validateNumber } from "./internal/validators.js";

const IPV4_SEGMENT = "(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]\\d|\\d)";
const IPV4 = `(?:${IPV4_SEGMENT}\\.){3}${IPV4_SEGMENT}`;
const IPV6_SEGMENT = "(?:[0-9a-fA-F]{1,4})";
const IPV6 = "(?:" +
  `(?:${IPV6_SEGMENT}:){7}(?:${IPV6_SEGMENT}|:)|` +
  `(?:${IPV6_SEGMENT}:){6}(?:${IPV4}|:${IPV6_SEGMENT}|:)|` +
  `(?:${IPV6_SEGMENT}:){5}(?::${IPV4}|(?::${IPV6_SEGMENT}){1,2}|:)|` +
  `(?:${IPV6_SEGMENT}:){4}(?:(?::${IPV6_SEGMENT}){0,1}:${IPV4}|(?::${IPV6_SEGMENT}){1,3}|:)|` +
  `(?:${IPV6_SEGMENT}:){3}(?:(?::${IPV6_SEGMENT}){0,2}:${IPV4}|(?::${IPV6_SEGMENT}){1,4}|:)|` +
  `(?:${IPV6_SEGMENT}:){2}(?:(?::${IPV6_SEGMENT}){0,3}:${IPV4}|(?::${IPV6_SEGMENT}){1,5}|:)|` +
  `(?:${IPV6_SEGMENT}:){1}(?:(?::${IPV6_SEGMENT}){0,4}:${IPV4}|(?::${IPV6_SEGMENT}){1,6}|:)|` +
  `(?::(?:(?::${IPV6_SEGMENT}){0,5}:${IPV4}|(?::${IPV6_SEGMENT}){1,7}|:))` +
  ")(?:%[0-9a-zA-Z-.:]{1,})?";
const IPV4_RE = new RegExp(`^${IPV4}$`);
const IPV6_RE = new RegExp(`^${IPV6}$`);

export function isIPv4(input) {
  return IPV4_RE.test(`${input}`);
}

export function isIPv6(input) {
  return IPV6_RE.test(`${input}`);
}

/** 4, 6, or 0 when `input` is not an IP address. */
export function isIP(input) {
  if (isIPv4(input)) return 4;
  if (isIPv6(input)) return 6;
  return 0;
}

/** Largest timeout Node accepts (a 32-bit signed millisecond count). */
const TIMEOUT_MAX = 2 ** 31 - 1;

function validatePort(port) {
  const number = typeof port === "string" && port.trim() !== "" ? +port : port;
  if (typeof number !== "number" || !Number.isInteger(number) || number < 0 || number > 65535) {
    throw nodeError(RangeError, "ERR_SOCKET_BAD_PORT", `Port should be >= 0 and < 65536.${describeReceived(port)}.`);
  }
  return number;
}

/** The arguments of connect(): (options[, cb]), (port[, host][, cb]) or (path[, cb]). */
export function _normalizeArgs(args) {
  if (args.length === 0) return [{}, null];
  const first = args[0];
  let options = {};
  if (first !== null && typeof first === "object") {
    options = first;
  } else if (typeof first === "string" && Number.isNaN(Number(first))) {
    options.path = first;
  } else {
    options.port = first;
    if (args.length > 1 && typeof args[1] === "string") options.host = args[1];
  }
  const callback = args[args.length - 1];
  return [options, typeof callback === "function" ? callback : null];
}

/** The error of a connection that failed, as Node reports it. */
function connectError(error, host, port) {
  const code = error.code ?? "ECONNREFUSED";
  const failure = new Error(`connect ${code} ${host}:${port} (${error.message})`);
  failure.code = code;
  failure.syscall = "connect";
  failure.address = host;
  failure.port = port;
  return failure;
}

const kConnection = Symbol("connection");

export class Socket extends Duplex {
  constructor(options = {}) {
    if (options.objectMode || options.readableObjectMode || options.writableObjectMode) {
      throw invalidArgValue("options.objectMode", true, "is not supported");
    }
    if (options.fd !== undefined) {
      throw nodeError(TypeError, "ERR_OPTION_NOT_IMPLEMENTED", "The options.fd option is not implemented");
    }
    super({
      ...options,
      allowHalfOpen: Boolean(options.allowHalfOpen),
      emitClose: false,
      autoDestroy: true,
      decodeStrings: false,
    });
    this.connecting = false;
    this.bytesRead = 0;
    this._bytesWritten = 0;
    this.remoteAddress = undefined;
    this.remotePort = undefined;
    this.remoteFamily = undefined;
    this.localAddress = undefined;
    this.localPort = undefined;
    this.localFamily = undefined;
    this.encrypted = false;
    this[kConnection] = null; // { socket, reader, writer } once connecting
    this._wantRead = false;
    this._reading = false;
    this._upgraded = false;
    this._timeout = null;
    this._timeoutMs = 0;
  }

  get pending() {
    return this[kConnection] === null || this.connecting;
  }

  get readyState() {
    if (this.connecting) return "opening";
    if (this.readable && this.writable) return "open";
    if (this.readable && !this.writable) return "readOnly";
    if (!this.readable && this.writable) return "writeOnly";
    return "closed";
  }

  get bytesWritten() {
    return this._bytesWritten;
  }

  get bufferSize() {
    return this.writableLength;
  }

  address() {
    if (this.localAddress === undefined) return {};
    return { address: this.localAddress, port: this.localPort, family: this.localFamily };
  }

  connect(...args) {
    const [options, callback] = _normalizeArgs(args);
    if (this.connecting) throw nodeError(Error, "ERR_SOCKET_CONNECTING", "Socket is already connecting");
    if (options.path !== undefined) throw invalidArgValue("path", options.path, "is not supported");
    if (options.port === undefined) throw missingArgs("options", "port", "path");
    if (typeof options.port !== "number" && typeof options.port !== "string") {
      throw invalidArgType("options.port", ["number", "string"], options.port);
    }
    const port = validatePort(options.port);
    let host = options.host ?? "localhost";
    if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
    if (callback) this.once("connect", callback);
    if (options.timeout) this.setTimeout(options.timeout);
    this.connecting = true;
    const family = isIP(host);
    this.remoteAddress = host;
    this.remotePort = port;
    this.remoteFamily = family === 4 ? "IPv4" : family === 6 ? "IPv6" : undefined;
    let socket;
    try {
      socket = cfConnect({ hostname: host, port }, {
        secureTransport: this.encrypted ? "on" : "starttls",
        allowHalfOpen: true,
      });
    } catch (error) {
      // As on workerd, even a refused address is reported as an 'error' event.
      queueMicrotask(() => this.destroy(error));
      return this;
    }
    this._attach(socket, host, port);
    return this;
  }

  /** Starts using `socket` (a cloudflare:sockets Socket): connect, then read. */
  _attach(socket, host, port) {
    this[kConnection] = { socket, reader: socket.readable.getReader(), writer: socket.writable.getWriter() };
    socketConnection(socket).then((opened) => {
      if (this.destroyed || this[kConnection]?.socket !== socket) return;
      this.connecting = false;
      this.localAddress = opened.localAddress;
      this.localPort = opened.localPort;
      this.localFamily = opened.localAddress.includes(":") ? "IPv6" : "IPv4";
      this._connected(opened);
      if (this._wantRead) this._read();
    }, (error) => {
      if (!this.destroyed) this.destroy(connectError(error, host, port));
    });
  }

  /** The connection is open: what a plain socket announces (node:tls
   * announces more). */
  _connected() {
    this._refreshTimeout();
    this.emit("connect");
    this.emit("ready");
  }

  _read() {
    const connection = this[kConnection];
    if (connection === null || this.connecting) {
      this._wantRead = true;
      return;
    }
    if (this._reading) return;
    this._reading = true;
    connection.reader.read().then(({ done, value }) => {
      this._reading = false;
      if (this[kConnection] !== connection) return;
      if (done) {
        this.push(null);
        return;
      }
      this.bytesRead += value.byteLength;
      this._refreshTimeout();
      if (this.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength))) this._read();
    }, (error) => {
      this._reading = false;
      if (this[kConnection] === connection && !this.destroyed) this.destroy(error);
    });
  }

  _write(chunk, encoding, callback) {
    const bytes = typeof chunk === "string" ? Buffer.from(chunk, encoding) : chunk;
    const whenConnected = this.connecting
      ? new Promise((resolve, reject) => {
        this.once("connect", resolve);
        this.once("close", () => reject(nodeError(Error, "ERR_SOCKET_CLOSED_BEFORE_CONNECTION", "Socket closed before connection established")));
      })
      : Promise.resolve();
    whenConnected.then(() => {
      const connection = this[kConnection];
      if (connection === null) throw nodeError(Error, "ERR_SOCKET_CLOSED", "Socket is closed");
      return connection.writer.write(bytes);
    }).then(() => {
      this._bytesWritten += bytes.byteLength;
      this._refreshTimeout();
      callback();
    }, callback);
  }

  _final(callback) {
    const connection = this[kConnection];
    if (connection === null) return callback();
    connection.writer.close().then(() => callback(), callback);
  }

  _destroy(error, callback) {
    this._clearTimeout();
    const connection = this[kConnection];
    this[kConnection] = null;
    this.connecting = false;
    if (connection !== null) connection.socket.close().catch(() => {});
    callback(error);
    queueMicrotask(() => this.emit("close", error != null));
  }

  /** Hands the connection to a TLS socket upgrading it (node:tls). */
  _takeConnection() {
    const connection = this[kConnection];
    this[kConnection] = null;
    this._upgraded = true;
    this._clearTimeout();
    connection.reader.releaseLock();
    connection.writer.releaseLock();
    return connection.socket;
  }

  setTimeout(ms, callback) {
    validateNumber(ms, "msecs", 0);
    if (callback !== undefined) {
      validateFunction(callback, "callback");
      if (ms === 0) this.removeListener("timeout", callback);
      else this.once("timeout", callback);
    }
    this._timeoutMs = Math.min(ms, TIMEOUT_MAX);
    this._refreshTimeout();
    return this;
  }

  get timeout() {
    return this._timeoutMs || undefined;
  }

  _refreshTimeout() {
    this._clearTimeout();
    if (this._timeoutMs > 0 && !this.destroyed) {
      this._timeout = setTimeout(() => this.emit("timeout"), this._timeoutMs);
    }
  }

  _clearTimeout() {
    if (this._timeout !== null) clearTimeout(this._timeout);
    this._timeout = null;
  }

  setNoDelay() {
    return this;
  }

  setKeepAlive() {
    return this;
  }

  ref() {
    return this;
  }

  unref() {
    return this;
  }

  destroySoon() {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once("finish", () => this.destroy());
  }

  resetAndDestroy() {
    return this.destroy(this[kConnection] === null ? nodeError(Error, "ERR_SOCKET_CLOSED", "Socket is closed") : undefined);
  }
}

export const Stream = Socket;

/** net.connect(options[, cb]) / (port[, host][, cb]). */
export function connect(...args) {
  const [options] = _normalizeArgs(args);
  const socket = new Socket(options);
  return socket.connect(...args);
}

export const createConnection = connect;

export function createServer() {
  throw new Error("createServer() is not implemented");
}

export function Server() {
  throw new Error("Server is not implemented");
}

export function getDefaultAutoSelectFamily() {
  return false;
}

export function setDefaultAutoSelectFamily(value) {
  if (value) throw invalidArgValue("value", value, "is not supported");
}

let autoSelectFamilyAttemptTimeout = 250;
export function getDefaultAutoSelectFamilyAttemptTimeout() {
  return autoSelectFamilyAttemptTimeout;
}

export function setDefaultAutoSelectFamilyAttemptTimeout(value) {
  if (!Number.isInteger(value) || value < 1) throw outOfRange("value", ">= 1", value);
  autoSelectFamilyAttemptTimeout = Math.max(value, 10);
}

export default {
  Socket, Stream, Server, connect, createConnection, createServer, isIP, isIPv4, isIPv6, _normalizeArgs,
  getDefaultAutoSelectFamily, setDefaultAutoSelectFamily,
  getDefaultAutoSelectFamilyAttemptTimeout, setDefaultAutoSelectFamilyAttemptTimeout,
};
