// Duplex: a Readable that is also a Writable, two independent sides on one
// object (allowHalfOpen: whether the end of the readable side ends the
// writable side too). Also duplexPair() and the Duplex statics.

import { nextTick } from "../../process.js";
import { Readable, ReadableState } from "./readable.js";
import { Writable, WritableState } from "./writable.js";
import { Stream } from "./legacy.js";
import { construct } from "./destroy.js";
import { addAbortSignal } from "./add-abort-signal.js";
import { kOnConstructed } from "./utils.js";
import {
  duplexify, newReadableWritablePairFromDuplex, newStreamDuplexFromReadableWritablePair,
} from "./duplexify.js";

export function Duplex(options) {
  if (!(this instanceof Duplex)) return new Duplex(options);
  this._readableState = new ReadableState(options, this, true);
  this._writableState = new WritableState(options, this, true);
  if (options) {
    this.allowHalfOpen = options.allowHalfOpen !== false;
    if (options.readable === false) {
      this._readableState.readable = false;
      this._readableState.ended = true;
      this._readableState.endEmitted = true;
    }
    if (options.writable === false) {
      this._writableState.writable = false;
      this._writableState.ending = true;
      this._writableState.ended = true;
      this._writableState.finished = true;
    }
    if (typeof options.read === "function") this._read = options.read;
    if (typeof options.write === "function") this._write = options.write;
    if (typeof options.writev === "function") this._writev = options.writev;
    if (typeof options.destroy === "function") this._destroy = options.destroy;
    if (typeof options.final === "function") this._final = options.final;
    if (typeof options.construct === "function") this._construct = options.construct;
    if (options.signal) addAbortSignal(options.signal, this);
  } else {
    this.allowHalfOpen = true;
  }
  Stream.call(this, options);
  if (this._construct != null) {
    construct(this, () => {
      this._readableState[kOnConstructed](this);
      this._writableState[kOnConstructed](this);
    });
  }
}

Object.setPrototypeOf(Duplex.prototype, Readable.prototype);
Object.setPrototypeOf(Duplex, Readable);

// The writable methods Readable does not have already (write, end, cork...).
for (const method of Object.keys(Writable.prototype)) {
  Duplex.prototype[method] ||= Writable.prototype[method];
}
// Writable's destroy also fails the queued writes.
Duplex.prototype.destroy = Writable.prototype.destroy;

for (const name of ["writable", "writableHighWaterMark", "writableObjectMode", "writableBuffer",
  "writableLength", "writableFinished", "writableCorked", "writableEnded", "writableNeedDrain"]) {
  Object.defineProperty(Duplex.prototype, name, Object.getOwnPropertyDescriptor(Writable.prototype, name));
}

Object.defineProperty(Duplex.prototype, "destroyed", {
  get() {
    if (this._readableState === undefined || this._writableState === undefined) return false;
    return this._readableState.destroyed && this._writableState.destroyed;
  },
  set(value) {
    if (this._readableState && this._writableState) {
      this._readableState.destroyed = value;
      this._writableState.destroyed = value;
    }
  },
});

Duplex.fromWeb = function fromWeb(pair, options) {
  return newStreamDuplexFromReadableWritablePair(pair, options);
};

Duplex.toWeb = function toWeb(duplex) {
  return newReadableWritablePairFromDuplex(duplex);
};

/** Duplex.from(body): a Duplex over a stream, web stream, promise, async function or pair. */
Duplex.from = function from(body) {
  return duplexify(body, "body");
};

// ---- duplexPair ------------------------------------------------------------------

const kCallback = Symbol("kCallback");
const kConnect = Symbol("kConnect");

/** One end of a duplexPair: what is written here is read on the other side. */
class DuplexSide extends Duplex {
  #otherSide = null;

  constructor(options) {
    super(options);
    // The other side's pending write callback, called once this side reads.
    this[kCallback] = null;
  }

  [kConnect](otherSide) {
    this.#otherSide = otherSide;
  }

  _read() {
    const callback = this[kCallback];
    if (callback) {
      this[kCallback] = null;
      callback();
    }
  }

  _write(chunk, encoding, callback) {
    if (chunk.length === 0) {
      nextTick(callback);
    } else {
      this.#otherSide.push(chunk);
      this.#otherSide[kCallback] = callback;
    }
  }

  _final(callback) {
    this.#otherSide.on("end", callback);
    this.#otherSide.push(null);
  }
}

export function duplexPair(options) {
  const side0 = new DuplexSide(options);
  const side1 = new DuplexSide(options);
  side0[kConnect](side1);
  side1[kConnect](side0);
  return [side0, side1];
}
