// Ridge: WebSockets the Cloudflare way.
//
// `new WebSocketPair()` gives two ends. The worker calls `accept()` on the
// server end, talks through it (`send`, `close`, "message"/"close"/"error"
// events), and returns the client end as `new Response(null, { status: 101,
// webSocket: client })`. Rust carries the messages between the server end
// and the real connection (websocket.rs in crates/ridge-ext and in crates/ridge-server).
import { primordials } from "ext:core/mod.js";
import {
  op_ridge_ws_accept,
  op_ridge_ws_close,
  op_ridge_ws_next,
  op_ridge_ws_pair,
  op_ridge_ws_release,
  op_ridge_ws_send_binary,
  op_ridge_ws_send_text,
} from "ext:core/ops";
import { formatError, internals, log } from "ext:ridge/globals/00_globals.js";

const {
  ArrayBufferIsView,
  ArrayBufferPrototype,
  ObjectDefineProperty,
  ObjectPrototypeIsPrototypeOf,
  RangeError,
  SafeFinalizationRegistry,
  TypeError,
  TypedArrayPrototypeGetBuffer,
  TypedArrayPrototypeGetByteLength,
  TypedArrayPrototypeGetByteOffset,
  Uint8Array,
  ArrayPrototypePush,
  SafeArrayIterator,
  SafeMap,
} = primordials;
const { EventTarget, MessageEvent, CloseEvent, ErrorEvent, defineEventHandler } = internals.event;

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

const kRid = Symbol("rid");
const kServer = Symbol("server");
const kCreate = Symbol("create");
const kSink = Symbol("sink");
const kAccept = Symbol("accept");

/** Pairs whose server end is accepted with `accept()` (not hibernatable)
 * and not closed yet: rid -> what to call when it closes. */
const openPairs = new SafeMap();

class WebSocket extends EventTarget {
  [kRid];
  [kServer];
  /** Set for a Durable Object's hibernatable socket (js/objects): what it
   * receives goes to `sink(kind, ...args)`, not to listeners. */
  [kSink] = null;
  #state = CONNECTING;
  #accepted = false;

  constructor(key, rid, server) {
    if (key !== kCreate) {
      throw new TypeError(
        "Ridge workers cannot open WebSockets with `new WebSocket(url)`; use `new WebSocketPair()` to accept one",
      );
    }
    super();
    this[kRid] = rid;
    this[kServer] = server;
  }

  get readyState() {
    return this.#state;
  }
  get url() {
    return null;
  }
  get protocol() {
    return "";
  }
  get extensions() {
    return "";
  }

  /** Starts delivering the client's messages to this (server) end. */
  accept() {
    this[kAccept](null);
  }

  [kAccept](sink) {
    if (!this[kServer]) {
      throw new TypeError("accept() is for the server end of a WebSocketPair (pair[1]); return pair[0] in the Response");
    }
    if (this.#accepted) {
      throw sink === null
        ? new TypeError("accept() was already called on this WebSocket")
        : new Error("Cannot call `acceptWebSocket()` if the WebSocket was already accepted via `accept()`");
    }
    this.#accepted = true;
    this.#state = OPEN;
    this[kSink] = sink;
    op_ridge_ws_accept(this[kRid]);
    if (sink === null) openPairs.set(this[kRid], []);
    this.#receive();
  }

  send(data) {
    this.#checkOpen("send");
    if (typeof data === "string") {
      op_ridge_ws_send_text(this[kRid], data);
    } else if (ObjectPrototypeIsPrototypeOf(ArrayBufferPrototype, data)) {
      op_ridge_ws_send_binary(this[kRid], new Uint8Array(data));
    } else if (ArrayBufferIsView(data)) {
      op_ridge_ws_send_binary(
        this[kRid],
        new Uint8Array(TypedArrayPrototypeGetBuffer(data), TypedArrayPrototypeGetByteOffset(data), TypedArrayPrototypeGetByteLength(data)),
      );
    } else {
      throw new TypeError("WebSocket.send() takes a string, an ArrayBuffer or an ArrayBufferView");
    }
  }

  close(code = undefined, reason = undefined) {
    this.#checkOpen("close");
    if (code !== undefined && !validCloseCode(code)) {
      throw new RangeError(
        `Invalid WebSocket close code ${code}: use 1000-1003, 1007-1014 or 3000-4999`,
      );
    }
    const text = reason === undefined ? "" : `${reason}`;
    if (new TextEncoder().encode(text).length > 123) {
      throw new RangeError("A WebSocket close reason may be at most 123 bytes long");
    }
    if (this.#state >= CLOSING) return;
    this.#state = CLOSING;
    op_ridge_ws_close(this[kRid], code ?? (text === "" ? 0 : 1000), text);
  }

  #checkOpen(what) {
    if (what === "close" && this.#state === CLOSED) return;
    if (!this[kServer]) {
      throw new TypeError(`${what}() is for the server end of a WebSocketPair; the client end belongs to the client`);
    }
    if (!this.#accepted) {
      throw new TypeError(`You must call accept() on this WebSocket before calling ${what}()`);
    }
    if (what === "send" && this.#state !== OPEN) {
      throw new TypeError("The WebSocket is closing or closed");
    }
  }

  async #receive() {
    while (true) {
      let next;
      try {
        next = await op_ridge_ws_next(this[kRid]);
      } catch (error) {
        this.#finish(1006, "", false, error);
        return;
      }
      if (next === null) {
        this.#finish(1006, "", false, new Error("The WebSocket connection was lost"));
        return;
      }
      const { 0: kind, 1: text, 2: bytes, 3: code } = next;
      if (kind === 2) {
        this.#finish(code, text ?? "", true, null);
        return;
      }
      // The bytes arrive in a buffer of their own.
      const data = kind === 0 ? text : TypedArrayPrototypeGetBuffer(bytes);
      // A hibernatable socket's next message waits for this one's event.
      if (this[kSink] !== null) await this[kSink]("message", data);
      else this.#dispatch(new MessageEvent("message", { data }));
    }
  }

  #finish(code, reason, wasClean, error) {
    if (this.#state === CLOSED) return;
    this.#state = CLOSED;
    op_ridge_ws_release(this[kRid]);
    const onClose = openPairs.get(this[kRid]) ?? [];
    openPairs.delete(this[kRid]);
    for (const callback of new SafeArrayIterator(onClose)) callback();
    if (this[kSink] !== null) {
      if (error !== null) this[kSink]("error", error);
      this[kSink]("close", code, reason, wasClean && code !== 1006);
      return;
    }
    // 1006: the connection was lost without a close frame.
    if (code === 1006 && error === null) {
      error = new Error("The WebSocket connection was lost");
    }
    if (error !== null) {
      this.#dispatch(new ErrorEvent("error", { error, message: error.message }));
    }
    this.#dispatch(new CloseEvent("close", { code, reason, wasClean: wasClean && code !== 1006 }));
  }

  /** Listeners' errors are the worker's: logged, and the socket goes on. */
  #dispatch(event) {
    try {
      this.dispatchEvent(event);
    } catch (error) {
      log(3, `Uncaught (in WebSocket ${event.type} listener) ${formatError(error)}`);
    }
  }
}

for (const [name, value] of [
  ["CONNECTING", CONNECTING],
  ["OPEN", OPEN],
  ["CLOSING", CLOSING],
  ["CLOSED", CLOSED],
]) {
  ObjectDefineProperty(WebSocket, name, { value, enumerable: true });
  ObjectDefineProperty(WebSocket.prototype, name, { value, enumerable: true });
}
defineEventHandler(WebSocket.prototype, "message");
defineEventHandler(WebSocket.prototype, "close");
defineEventHandler(WebSocket.prototype, "error");
defineEventHandler(WebSocket.prototype, "open");

/** Close codes a worker may send: the standard's, less those only a
 * stack reports (1004-1006, 1015), and the application range. */
function validCloseCode(code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

/** A pair whose server end is garbage (never accepted, or dropped by the
 * worker) is released; an accepted end stays alive through its receive loop. */
const unusedPairs = new SafeFinalizationRegistry((rid) => op_ridge_ws_release(rid));

class WebSocketPair {
  constructor() {
    const rid = op_ridge_ws_pair();
    this[0] = new WebSocket(kCreate, rid, false);
    this[1] = new WebSocket(kCreate, rid, true);
    unusedPairs.register(this[1], rid);
  }
}

/** The client end whose pair is `rid` (another worker's WebSocket, passed
 * on by a service binding: websocket.rs' add_passed_client_end). */
export function clientEndOf(rid) {
  const client = new WebSocket(kCreate, rid, false);
  unusedPairs.register(client, rid);
  return client;
}

/** Accepts server end `ws` for a Durable Object that hibernates: what it
 * receives goes to `sink("message", data)` (awaited before the next) and
 * `sink("close", code, reason, wasClean)`. */
export function acceptForObject(ws, sink) {
  if (!ObjectPrototypeIsPrototypeOf(WebSocket.prototype, ws)) {
    throw new TypeError("acceptWebSocket() takes the server end of a WebSocketPair");
  }
  ws[kAccept](sink);
}

/** Calls `callback` once the server end of pair `rid`, accepted with
 * `accept()` (not hibernatable), closes; false if it is not open so. */
export function whenPlainSocketCloses(rid, callback) {
  const onClose = openPairs.get(rid);
  if (onClose === undefined) return false;
  ArrayPrototypePush(onClose, callback);
  return true;
}

/** The pair rid of a Response's `webSocket`, which must be a client end. */
export function clientEndRid(webSocket) {
  if (!ObjectPrototypeIsPrototypeOf(WebSocket.prototype, webSocket) || webSocket[kServer]) {
    throw new TypeError("A 101 Response's webSocket must be the client end of a WebSocketPair (pair[0])");
  }
  return webSocket[kRid];
}

for (const [name, value] of [
  ["WebSocket", WebSocket],
  ["WebSocketPair", WebSocketPair],
]) {
  ObjectDefineProperty(globalThis, name, { value, enumerable: false, configurable: true, writable: true });
}
export { WebSocket };
