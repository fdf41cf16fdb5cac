// node:net: TCP client sockets on top of cloudflare:sockets' connect()
// (js/cloudflare/11_sockets.js), as workerd builds them: a Socket is a
// Duplex whose reads and writes go to the connection; every plain socket
// is opened with secureTransport "starttls" so that node:tls can upgrade
// it later. A Server opens no socket: listen() takes one of the isolate's
// virtual ports, which no connection ever reaches. BlockList and
// SocketAddress live in internal/net/blocklist.js, the IP address rules in
// internal/net/ip.js.

import { Buffer } from "./buffer.js";
import { EventEmitter } from "./events.js";
import { nextTick } from "./process.js";
import { Duplex } from "./internal/streams/duplex.js";
import { connect as cfConnect, socketConnection } from "ext:ridge/cloudflare/11_sockets.js";
import {
  invalidArgType, invalidArgValue, missingOneOfArgs, nodeError, optionNotImplemented, outOfRange,
} from "./internal/errors.js";
import {
  validateBoolean, validateFunction, validateInt32, validateNumber, validateObject, validatePort, validateString,
} from "./internal/validators.js";
import { isIP, isIPv4, isIPv6 } from "./internal/net/ip.js";
import { BlockList, SocketAddress } from "./internal/net/blocklist.js";
import { tcpPorts } from "./internal/http/ports.js";

export { BlockList, SocketAddress, isIP, isIPv4, isIPv6 };

/** Largest timeout Node accepts (a 32-bit signed millisecond count). */
const TIMEOUT_MAX = 2 ** 31 - 1;

/** Node's test for a pipe name: a string that is not a non-negative number. */
function isPipeName(value) {
  return typeof value === "string" && !(Number(value) >= 0);
}

/** The arguments of connect(): (options[, cb]), (port[, host][, cb]) or (path[, cb]). */
export function _normalizeArgs(args) {
  if (args.length === 0) return [{}, null];
  const first = args[0];
  let options = {};
  if (first !== null && typeof first === "object") {
    options = first;
  } else if (isPipeName(first)) {
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

/**
 * A TCP client socket. A plain constructor function rather than a class,
 * because Node lets `net.Socket()` be called without `new`.
 */
export function Socket(options = undefined) {
  if (!new.target) return new Socket(options);
  if (options?.objectMode) {
    throw invalidArgValue("options.objectMode", options.objectMode, "is not supported");
  }
  if (options?.readableObjectMode || options?.writableObjectMode) {
    const name = options.readableObjectMode ? "readableObjectMode" : "writableObjectMode";
    throw invalidArgValue(`options.${name}`, options[name], "is not supported");
  }
  if (options?.keepAliveInitialDelay !== undefined) {
    validateNumber(options.keepAliveInitialDelay, "options.keepAliveInitialDelay");
  }
  // A number is a file descriptor, which Workers do not have.
  const settings = typeof options === "number" ? { fd: options } : { ...options };
  if (settings.fd !== undefined) throw optionNotImplemented("options.fd");
  Duplex.call(this, {
    ...settings,
    allowHalfOpen: Boolean(settings.allowHalfOpen),
    emitClose: false,
    autoDestroy: true,
    decodeStrings: false,
    readable: true,
    writable: true,
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

Object.setPrototypeOf(Socket.prototype, Duplex.prototype);
Object.setPrototypeOf(Socket, Duplex);

Object.defineProperties(Socket.prototype, {
  pending: {
    get() {
      return this[kConnection] === null || this.connecting;
    },
    configurable: true,
  },
  readyState: {
    get() {
      if (this.connecting) return "opening";
      if (this.readable && this.writable) return "open";
      if (this.readable && !this.writable) return "readOnly";
      if (!this.readable && this.writable) return "writeOnly";
      return "closed";
    },
    configurable: true,
  },
  bytesWritten: {
    get() {
      return this._bytesWritten;
    },
    configurable: true,
  },
  /** What is queued for writing; undefined until there is a connection. */
  bufferSize: {
    get() {
      return this[kConnection] === null ? undefined : this.writableLength;
    },
    configurable: true,
  },
  timeout: {
    get() {
      return this._timeoutMs || undefined;
    },
    configurable: true,
  },
});

Socket.prototype.address = function address() {
  if (this.localAddress === undefined) return {};
  return { address: this.localAddress, port: this.localPort, family: this.localFamily };
};

Socket.prototype.connect = function connect(...args) {
  const [options, callback] = _normalizeArgs(args);
  if (this.connecting) throw nodeError(Error, "ERR_SOCKET_CONNECTING", "Socket is already connecting");
  if (options.port === undefined && options.path == null) throw missingOneOfArgs("options", "port", "path");
  if (options.path != null) throw invalidArgValue("path", options.path, "is not supported");
  const { localAddress, localPort, autoSelectFamily, autoSelectFamilyAttemptTimeout } = options;
  if (localAddress && !isIP(localAddress)) {
    throw nodeError(TypeError, "ERR_INVALID_IP_ADDRESS", `Invalid IP address: ${localAddress}`);
  }
  if (localPort) validateNumber(localPort, "options.localPort");
  if (typeof options.port !== "number" && typeof options.port !== "string") {
    throw invalidArgType("options.port", ["number", "string"], options.port);
  }
  const port = validatePort(options.port);
  // Accepted and checked, as on workerd, though connect() picks no family.
  if (autoSelectFamily != null) validateBoolean(autoSelectFamily, "options.autoSelectFamily");
  if (autoSelectFamilyAttemptTimeout != null) {
    validateInt32(autoSelectFamilyAttemptTimeout, "options.autoSelectFamilyAttemptTimeout", 1);
  }
  let host = options.host ?? "localhost";
  validateString(host, "options.host");
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
    // The address as text, as workerd gives it, so that a malformed host is
    // refused in the same words.
    const address = family === 6 ? `[${host}]:${port}` : `${host}:${port}`;
    socket = cfConnect(address, {
      secureTransport: this.encrypted ? "on" : "starttls",
      allowHalfOpen: true,
    });
  } catch (error) {
    // As on workerd, even a refused address is reported as an 'error' event
    // (destroy emits it on a later tick).
    this.destroy(error);
    return this;
  }
  this._attach(socket, host, port);
  return this;
};

/** Starts using `socket` (a cloudflare:sockets Socket): connect, then read. */
Socket.prototype._attach = function _attach(socket, host, port) {
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
};

/** The connection is open: what a plain socket announces (node:tls
 * announces more). */
Socket.prototype._connected = function _connected() {
  this._refreshTimeout();
  this.emit("connect");
  this.emit("ready");
};

Socket.prototype._read = function _read() {
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
};

Socket.prototype._write = function _write(chunk, encoding, callback) {
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
};

Socket.prototype._final = function _final(callback) {
  const connection = this[kConnection];
  if (connection === null) return callback();
  connection.writer.close().then(() => callback(), callback);
};

Socket.prototype._destroy = function _destroy(error, callback) {
  this._clearTimeout();
  const connection = this[kConnection];
  this[kConnection] = null;
  this.connecting = false;
  if (connection !== null) connection.socket.close().catch(() => {});
  callback(error);
  queueMicrotask(() => this.emit("close", error != null));
};

/** Hands the connection to a TLS socket upgrading it (node:tls). */
Socket.prototype._takeConnection = function _takeConnection() {
  const connection = this[kConnection];
  this[kConnection] = null;
  this._upgraded = true;
  this._clearTimeout();
  connection.reader.releaseLock();
  connection.writer.releaseLock();
  return connection.socket;
};

Socket.prototype.setTimeout = function setTimeout(msecs, callback) {
  validateNumber(msecs, "msecs");
  if (msecs < 0 || !Number.isFinite(msecs)) throw outOfRange("msecs", "a non-negative finite number", msecs);
  if (callback !== undefined) {
    validateFunction(callback, "callback");
    if (msecs === 0) this.removeListener("timeout", callback);
    else this.once("timeout", callback);
  }
  this._timeoutMs = Math.min(msecs, TIMEOUT_MAX);
  this._refreshTimeout();
  return this;
};

Socket.prototype._refreshTimeout = function _refreshTimeout() {
  this._clearTimeout();
  if (this._timeoutMs > 0 && !this.destroyed) {
    this._timeout = globalThis.setTimeout(() => this.emit("timeout"), this._timeoutMs);
  }
};

Socket.prototype._clearTimeout = function _clearTimeout() {
  if (this._timeout !== null) clearTimeout(this._timeout);
  this._timeout = null;
};

// Workers' connect() has no such socket options: accepted and ignored, as
// on workerd (drivers such as MySQL's and Redis's set them).
Socket.prototype.setNoDelay = function setNoDelay() {
  return this;
};

Socket.prototype.setKeepAlive = function setKeepAlive() {
  return this;
};

// Nothing here keeps an event loop alive; workerd returns nothing either.
Socket.prototype.ref = function ref() {};

Socket.prototype.unref = function unref() {};

Socket.prototype.destroySoon = function destroySoon() {
  if (this.writable) this.end();
  if (this.writableFinished) this.destroy();
  else this.once("finish", () => this.destroy());
};

Socket.prototype.resetAndDestroy = function resetAndDestroy() {
  return this.destroy(this[kConnection] === null ? nodeError(Error, "ERR_SOCKET_CLOSED", "Socket is closed") : undefined);
};

export const Stream = Socket;

/** net.connect(options[, cb]) / (port[, host][, cb]) / (path[, cb]). */
export function connect(...args) {
  const [options] = _normalizeArgs(args);
  const socket = new Socket(options);
  return socket.connect(...args);
}

export const createConnection = connect;

/** listen()'s arguments: ([port][, host][, backlog][, callback]) or (options[, callback]). */
function listenArguments(args) {
  const last = args.at(-1);
  const callback = typeof last === "function" ? last : null;
  const first = args[0];
  if (first !== null && typeof first === "object") return [first, callback];
  if (isPipeName(first)) return [{ path: first }, callback];
  return [{ port: first, host: typeof args[1] === "string" ? args[1] : undefined }, callback];
}

/** A port held by a net.Server: node:http's handlers cannot reach it. */
const rawPortHandler = {
  fetch() {
    throw new Error("this port belongs to a net.Server, which receives no connections on Workers");
  },
};

/**
 * A TCP server, as workerd has one: it never receives a connection, but
 * listen() takes a port in the isolate's table (shared with node:http's
 * servers), so that 'listening', address() and close() behave.
 */
export class Server extends EventEmitter {
  #port = null;

  constructor(options = undefined, connectionListener = undefined) {
    super();
    if (typeof options === "function") {
      connectionListener = options;
      options = {};
    } else if (options == null) {
      options = {};
    } else {
      validateObject(options, "options");
    }
    let keepAliveInitialDelay = 0;
    if (options.keepAliveInitialDelay !== undefined) {
      validateNumber(options.keepAliveInitialDelay, "options.keepAliveInitialDelay");
      keepAliveInitialDelay = Math.max(options.keepAliveInitialDelay, 0);
    }
    this.allowHalfOpen = Boolean(options.allowHalfOpen);
    this.pauseOnConnect = Boolean(options.pauseOnConnect);
    this.noDelay = Boolean(options.noDelay);
    this.keepAlive = Boolean(options.keepAlive);
    // Node keeps the delay in seconds.
    this.keepAliveInitialDelay = Math.trunc(keepAliveInitialDelay / 1000);
    if (connectionListener) this.on("connection", connectionListener);
  }

  get listening() {
    return this.#port !== null;
  }

  /** Every server is at 127.0.0.1, on its virtual port. */
  address() {
    return this.#port === null ? null : { port: this.#port, family: "IPv4", address: "127.0.0.1" };
  }

  listen(...args) {
    const [options, callback] = listenArguments(args);
    if (options.path != null) throw invalidArgValue("path", options.path, "is not supported");
    let port = options.port == null ? 0 : validatePort(options.port, "options.port");
    if (this.#port !== null) {
      throw nodeError(Error, "ERR_SERVER_ALREADY_LISTEN", "Listen method has been called more than once without closing.");
    }
    if (callback) this.once("listening", callback);
    if (port === 0) port = tcpPorts.ephemeral();
    if (port === 0 || !tcpPorts.bind(port, rawPortHandler)) {
      const host = typeof options.host === "string" ? options.host : "127.0.0.1";
      throw Object.assign(nodeError(Error, "EADDRINUSE", `bind EADDRINUSE ${host}:${port}`),
        { syscall: "bind", address: host, port });
    }
    this.#port = port;
    nextTick(() => this.emit("listening"));
    return this;
  }

  close(callback) {
    if (typeof callback === "function") {
      const running = this.#port !== null;
      this.once("close", () => callback(running ? undefined : nodeError(Error, "ERR_SERVER_NOT_RUNNING", "Server is not running.")));
    }
    if (this.#port !== null) {
      tcpPorts.release(this.#port);
      this.#port = null;
    }
    nextTick(() => this.emit("close"));
    return this;
  }

  async [Symbol.asyncDispose]() {
    await new Promise((resolve) => this.close(resolve));
  }

  getConnections(callback) {
    validateFunction(callback, "callback");
    nextTick(callback, null, 0);
    return this;
  }

  ref() {
    return this;
  }

  unref() {
    return this;
  }
}

export function createServer(options = undefined, connectionListener = undefined) {
  return new Server(options, connectionListener);
}

export function getDefaultAutoSelectFamily() {
  return false;
}

/** Only false is supported: connect() picks no address family. */
export function setDefaultAutoSelectFamily(value) {
  if (value) throw invalidArgValue("val", value);
}

// Kept for compatibility only, as on workerd: nothing uses it.
let autoSelectFamilyAttemptTimeout = 10;

export function getDefaultAutoSelectFamilyAttemptTimeout() {
  return autoSelectFamilyAttemptTimeout;
}

export function setDefaultAutoSelectFamilyAttemptTimeout(value) {
  validateInt32(value, "val", 1);
  autoSelectFamilyAttemptTimeout = Math.max(value, 10);
}

export default {
  BlockList, SocketAddress, Socket, Stream, Server, connect, createConnection, createServer,
  isIP, isIPv4, isIPv6, _normalizeArgs,
  getDefaultAutoSelectFamily, setDefaultAutoSelectFamily,
  getDefaultAutoSelectFamilyAttemptTimeout, setDefaultAutoSelectFamilyAttemptTimeout,
};
