// Ridge: `cloudflare:email`, whose EmailMessage is what a Workers email
// handler replies with and a send_email binding sends. Ridge has neither
// yet, so the class only holds its parts; it exists so that packages that
// import it (the `agents` SDK does) load. Worker modules reach it through
// the loader (crates/ridge-runtime isolate/loader.rs), which re-exports what
// is registered here under a global symbol.
import { primordials } from "ext:core/mod.js";
import { internals } from "ext:ridge/globals/00_globals.js";

const { ObjectDefineProperty, ObjectFreeze, ObjectPrototypeIsPrototypeOf, SymbolFor, TypeError } = primordials;
const { ReadableStreamPrototype } = internals.streams;

class EmailMessage {
  #from;
  #to;


  constructor(from, to, raw) {
    if (typeof from !== "string" || typeof to !== "string") {
      throw new TypeError("EmailMessage takes the sender and recipient addresses as strings");
    }
    if (typeof raw !== "string" && !ObjectPrototypeIsPrototypeOf(ReadableStreamPrototype, raw)) {
      throw new TypeError("EmailMessage takes the raw message as a string or a ReadableStream");
    }
    this.#from = from;
    this.#to = to;
  }

  get from() {
    return this.#from;
  }

  get to() {
    return this.#to;
  }
}

ObjectDefineProperty(globalThis, SymbolFor("ridge:cloudflare:email"), {
  value: ObjectFreeze({ EmailMessage }),
  enumerable: false,
  configurable: false,
  writable: false,
});
