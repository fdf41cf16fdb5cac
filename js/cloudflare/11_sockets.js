// Ridge: `cloudflare:sockets`, outbound TCP (and TLS) connections as
// Cloudflare defines them: `connect(address, options)` returns a Socket at
// once, with a byte `readable`, a `writable`, and `opened`/`closed`
// promises; a socket made with `secureTransport: "starttls"` can be
// upgraded with `startTls()`. Rust (crates/ridge-ext sockets.rs) owns the
// connection: hosts go through the outbound policy like fetch, each
// connect() counts as a subrequest, and a socket is closed when the request
// that opened it ends. Worker modules reach it through the loader
// (crates/ridge-runtime isolate/loader.rs), which serves a small module that
// re-exports what is registered here under a global symbol; node:net and
// node:tls import it directly.
import { primordials } from "ext:core/mod.js";
import {
  op_ridge_count_subrequest,
  op_ridge_socket_connect,
  op_ridge_socket_read,
  op_ridge_socket_shutdown,
  op_ridge_socket_start_tls,
  op_ridge_socket_write,
} from "ext:core/ops";
import { currentRequest, internals } from "ext:ridge/globals/00_globals.js";

const {
  ArrayBufferIsView,
  ArrayPrototypeIncludes,
  ArrayBufferPrototype,
  NumberIsInteger,
  ObjectDefineProperty,
  ObjectFreeze,
  ObjectPrototypeIsPrototypeOf,
  PromisePrototypeCatch,
  PromisePrototypeThen,
  RegExpPrototypeTest,
  Promise,
  StringPrototypeSlice,
  StringPrototypeEndsWith,
  StringPrototypeStartsWith,
  Symbol,
  SymbolFor,
  TypeError,
  TypedArrayPrototypeGetBuffer,
  TypedArrayPrototypeGetByteLength,
  TypedArrayPrototypeGetByteOffset,
  TypedArrayPrototypeSlice,
  TypedArrayPrototypeSubarray,
  Uint8Array,
} = primordials;
const core = globalThis.Deno.core;
const { ReadableStream, WritableStream } = internals.streams;

/** Bytes asked of the connection per read. */
const READ_SIZE = 64 * 1024;
const SECURE_TRANSPORTS = ["off", "on", "starttls"];
const GLOBAL_SCOPE = "Disallowed operation called within global scope. Asynchronous I/O (ex: fetch() or connect()), setting a timeout, and generating random values are not allowed within global scope. To fix this error, perform this operation within a handler. https://developers.cloudflare.com/workers/runtime-apis/handlers/";
/** Only connect() and startTls() make Sockets. */
const kConstruct = Symbol("Socket");

/** `"host:port"`, `"[v6]:port"` or `{ hostname, port }`, checked (with
 * workerd's messages). */
function parseAddress(address) {
  let hostname;
  let port;
  if (typeof address === "string") {
    let url;
    try {
      url = new URL(`fake://${address}`);
    } catch {
      throw new TypeError("Specified address could not be parsed.");
    }
    hostname = url.hostname;
    if (hostname === "") throw new TypeError("Specified address is missing hostname.");
    if (url.port === "") throw new TypeError("Specified address is missing port.");
    port = +url.port;
  } else if (address !== null && typeof address === "object") {
    hostname = `${address.hostname}`;
    port = toPort(address.port);
  } else {
    throw new TypeError("Specified address could not be parsed.");
  }
  if (StringPrototypeStartsWith(hostname, "[") && StringPrototypeEndsWith(hostname, "]")) {
    hostname = StringPrototypeSlice(hostname, 1, -1);
  }
  if (hostname === "" || hostname.length > 255 || !RegExpPrototypeTest(/^[A-Za-z0-9\-._:]+$/, hostname)) {
    throw new TypeError("Specified address is empty string, contains unsupported characters or is too long.");
  }
  return { hostname, port };
}

/** A port as WebIDL's unsigned short, with workerd's messages. */
function toPort(value) {
  const number = +value;
  if (!NumberIsInteger(number)) {
    throw new TypeError("The value cannot be converted because it is not an integer.");
  }
  if (number < 0) {
    throw new TypeError("The value cannot be converted because it is negative and this API expects a positive number.");
  }
  if (number > 65535) throw new TypeError("Value out of range. Must be less than or equal to 65535.");
  return number;
}

function readOptions(options) {
  if (options === undefined || options === null) return { secureTransport: "off", allowHalfOpen: false };
  if (typeof options !== "object") throw new TypeError("connect() options must be an object");
  const secureTransport = options.secureTransport === undefined ? "off" : `${options.secureTransport}`;
  if (!ArrayPrototypeIncludes(SECURE_TRANSPORTS, secureTransport)) {
    throw new TypeError(`Unsupported value in secureTransport socket option: ${secureTransport}`);
  }
  return { secureTransport, allowHalfOpen: !!options.allowHalfOpen };
}

/** The connection an op reports, or its failure as an Error carrying a
 * Node.js `code` (node:net builds its own errors from it). */
function connection(outcome) {
  if (outcome.outcome === "open") return outcome;
  const error = new Error(outcome.message);
  error.code = outcome.code;
  throw error;
}

function withResolvers() {
  const resolvers = {};
  resolvers.promise = new Promise((resolve, reject) => {
    resolvers.resolve = resolve;
    resolvers.reject = reject;
  });
  return resolvers;
}

/** A chunk written to a socket, as bytes the op can take without a copy. */
function chunkBytes(chunk) {
  if (ArrayBufferIsView(chunk)) {
    return new Uint8Array(
      TypedArrayPrototypeGetBuffer(chunk),
      TypedArrayPrototypeGetByteOffset(chunk),
      TypedArrayPrototypeGetByteLength(chunk),
    );
  }
  if (ObjectPrototypeIsPrototypeOf(ArrayBufferPrototype, chunk)) return new Uint8Array(chunk);
  return null;
}

class Socket {
  #secureTransport;
  #connection; // Promise of the connection's info (its `rid` among it)
  #readable;
  #writable;
  #opened;
  #closed = withResolvers();
  #upgraded = false;
  #address;
  #hostname;
  #allowHalfOpen;
  #readEnded = false;
  #writeEnded = false;
  #done = false;

  constructor(key, connection, address, hostname, secureTransport, allowHalfOpen) {
    if (key !== kConstruct) throw new TypeError("Illegal constructor");
    this.#connection = connection;
    this.#address = address;
    this.#hostname = hostname;
    this.#secureTransport = secureTransport;
    this.#allowHalfOpen = allowHalfOpen;
    // A failed connection rejects `opened` and `closed`, and errors both
    // streams; nobody has to await `opened` for that to be seen.
    PromisePrototypeCatch(this.#closed.promise, () => {});
    // workerd reports the address as it was given, and no local address.
    this.#opened = PromisePrototypeThen(connection, () => ObjectFreeze({ remoteAddress: address }));
    PromisePrototypeCatch(this.#opened, (error) => this.#fail(error));
    this.#readable = new ReadableStream({
      type: "bytes",
      pull: (controller) => this.#pull(controller),
      cancel: () => this.#endRead(),
    }, { highWaterMark: 0 });
    this.#writable = new WritableStream({
      write: (chunk) => this.#write(chunk),
      close: () => this.#endWrite(),
      abort: () => this.close(),
    });
  }

  get readable() {
    return this.#readable;
  }
  get writable() {
    return this.#writable;
  }
  get opened() {
    return this.#opened;
  }
  get closed() {
    return this.#closed.promise;
  }
  get upgraded() {
    return this.#upgraded;
  }
  get secureTransport() {
    return this.#secureTransport;
  }

  /** The connection (its resource id and addresses), for node:net. */
  static connection(socket) {
    return socket.#connection;
  }

  async #pull(controller) {
    const { rid } = await this.#connection;
    const buffer = new Uint8Array(READ_SIZE);
    let read;
    try {
      read = await op_ridge_socket_read(rid, buffer);
    } catch (error) {
      // An upgrade or close() ends reads: the stream just closes then.
      if (this.#upgraded || this.#done) {
        controller.close();
        controller.byobRequest?.respond(0);
        return;
      }
      throw error;
    }
    if (read === 0) {
      controller.close();
      controller.byobRequest?.respond(0);
      this.#endRead();
      return;
    }
    // A small read is copied: a view would keep the whole buffer alive.
    const chunk = read < READ_SIZE / 4 ? TypedArrayPrototypeSlice(buffer, 0, read) : TypedArrayPrototypeSubarray(buffer, 0, read);
    controller.enqueue(chunk);
  }

  async #write(chunk) {
    const bytes = typeof chunk === "string" ? core.encode(chunk) : chunkBytes(chunk);
    if (bytes === null) throw new TypeError("This WritableStream only supports writing byte types.");
    const { rid } = await this.#connection;
    if (TypedArrayPrototypeGetByteLength(bytes) > 0) await op_ridge_socket_write(rid, bytes);
  }

  #endRead() {
    this.#readEnded = true;
    // Without allowHalfOpen, the end of what the peer sends ends the socket.
    if (!this.#allowHalfOpen) {
      PromisePrototypeCatch(this.close(), () => {});
    } else if (this.#writeEnded) {
      this.#finish();
    }
  }

  async #endWrite() {
    this.#writeEnded = true;
    const { rid } = await this.#connection;
    await op_ridge_socket_shutdown(rid);
    if (this.#readEnded) this.#finish();
  }

  #fail(error) {
    if (this.#done) return;
    this.#done = true;
    this.#closed.reject(error);
  }

  #finish() {
    if (this.#done) return;
    this.#done = true;
    PromisePrototypeThen(this.#connection, ({ rid }) => core.tryClose(rid), () => {});
    this.#closed.resolve();
  }

  /** Closes both directions at once; resolves `closed`. */
  close() {
    if (!this.#done) {
      this.#done = true;
      PromisePrototypeThen(this.#connection, ({ rid }) => core.tryClose(rid), () => {});
      this.#closed.resolve();
      for (const stream of [this.#readable, this.#writable]) {
        if (!stream.locked) PromisePrototypeCatch(stream.cancel?.() ?? stream.abort(), () => {});
      }
    }
    return this.#closed.promise;
  }

  /** Upgrades to TLS (for a socket made with secureTransport "starttls"):
   * a new Socket over the same connection; this one is done. */
  startTls(options = undefined) {
    if (this.#secureTransport === "on") throw new TypeError("Cannot startTls on a TLS socket.");
    if (this.#secureTransport !== "starttls") {
      throw new TypeError("The `secureTransport` socket option must be set to 'starttls' for startTls to be used.");
    }
    if (this.#upgraded) {
      throw new TypeError("startTls has already been called on this socket, or the socket was transferred over RPC.");
    }
    const hostname = options?.expectedServerHostname === undefined ? this.#hostname : `${options.expectedServerHostname}`;
    this.#upgraded = true;
    const upgrade = PromisePrototypeThen(this.#connection, ({ rid }) => op_ridge_socket_start_tls(rid, hostname));
    const upgraded = new Socket(kConstruct, PromisePrototypeThen(upgrade, connection), this.#address, hostname, "on", this.#allowHalfOpen);
    this.#done = true;
    this.#closed.resolve();
    return upgraded;
  }
}

/** The request that outbound I/O (a connection, a DNS lookup) is done for,
 * counted as one of its subrequests like a fetch(); throws at the top level
 * of a module and past the request's subrequest limit. */
export function subrequest() {
  const request = currentRequest();
  if (request === undefined) throw new Error(GLOBAL_SCOPE);
  op_ridge_count_subrequest(request);
  return request;
}

/** Opens a connection to `address` (`"host:port"` or `{ hostname, port }`)
 * for the current request. */
export function connect(address, options = undefined) {
  const { hostname, port } = parseAddress(address);
  const { secureTransport, allowHalfOpen } = readOptions(options);
  const request = subrequest();
  const opened = PromisePrototypeThen(op_ridge_socket_connect(request, hostname, port, secureTransport === "on"), connection);
  const given = typeof address === "string" ? address : `${address.hostname}:${port}`;
  return new Socket(kConstruct, opened, given, hostname, secureTransport, allowHalfOpen);
}

/** A promise of a socket's connection: its addresses (node:net's
 * `remoteAddress` and the rest), or the failure with a Node.js code. */
export function socketConnection(socket) {
  return Socket.connection(socket);
}

ObjectDefineProperty(globalThis, SymbolFor("ridge:cloudflare:sockets"), {
  value: ObjectFreeze({ connect }),
  enumerable: false,
  configurable: false,
  writable: false,
});
