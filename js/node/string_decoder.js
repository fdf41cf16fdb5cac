// node:string_decoder: `StringDecoder`, which turns a stream of byte chunks
// into text without splitting characters across chunks. It keeps Node's
// native algorithm (which workerd also uses): up to four bytes of an
// unfinished character wait in `lastChar` until the next write completes
// it, or end() flushes it. Decoding itself is ./internal/encodings.js.

import { Buffer } from "./buffer.js";
import { invalidArgType, nodeError, unknownEncoding } from "./internal/errors.js";
import { decode, normalizeEncoding } from "./internal/encodings.js";

export class StringDecoder {
  // Bytes of the unfinished character.
  #lastChar = Buffer.alloc(4);
  // How many of them are held, and how many more the character needs.
  #buffered = 0;
  #missing = 0;
  #encoding;

  constructor(encoding = "utf8") {
    const normalized = normalizeEncoding(encoding);
    if (normalized === undefined) throw unknownEncoding(encoding);
    this.#encoding = normalized;
    this.encoding = normalized;
  }

  /** Returns the complete characters of `buf`, holding back an unfinished last one. */
  write(buf) {
    StringDecoder.#check(this);
    if (typeof buf === "string") return buf;
    if (!ArrayBuffer.isView(buf)) {
      throw invalidArgType("buf", ["Buffer", "TypedArray", "DataView", "string"], buf);
    }
    const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    const encoding = this.#encoding;
    if (encoding === "ascii" || encoding === "latin1" || encoding === "hex") {
      return decode(bytes, 0, bytes.length, encoding);
    }
    if (bytes.length === 0) return "";

    let start = 0;
    let prefix = "";
    if (this.#missing > 0) {
      if (encoding === "utf8") {
        // A byte that is not a continuation ends the character early (it
        // decodes to U+FFFD) and starts the next one.
        const limit = Math.min(bytes.length, this.#missing);
        for (let i = 0; i < limit; i++) {
          if ((bytes[i] & 0xc0) !== 0x80) {
            this.#hold(bytes, 0, i);
            this.#missing = 0;
            start = i;
            break;
          }
        }
      }
      const taken = Math.min(bytes.length - start, this.#missing);
      this.#hold(bytes, start, start + taken);
      start += taken;
      this.#missing -= taken;
      if (this.#missing === 0) prefix = this.#flushHeld();
    }
    if (start === bytes.length) return prefix;

    const end = bytes.length - this.#incompleteTail(bytes, start);
    if (end < bytes.length) this.#hold(bytes, end, bytes.length);
    return prefix + decode(bytes, start, end, encoding);
  }

  /** Returns what write(buf) would, then whatever is held back, decoded as it is. */
  end(buf) {
    StringDecoder.#check(this);
    let text = buf === undefined ? "" : this.write(buf);
    if (this.#buffered > 0) {
      // A lone byte of a UTF-16 code unit is dropped.
      if (this.#encoding === "utf16le" && this.#buffered % 2 === 1) {
        this.#buffered--;
        this.#missing--;
      }
      if (this.#buffered > 0) {
        text += this.#flushHeld();
        this.#missing = 0;
      }
    }
    return text;
  }

  /** Forgets any unfinished character and decodes `buf` from `offset`. */
  text(buf, offset) {
    StringDecoder.#check(this);
    this.#missing = 0;
    this.#buffered = 0;
    return this.write(buf.slice(offset));
  }

  get lastChar() {
    StringDecoder.#check(this);
    return this.#lastChar;
  }

  get lastNeed() {
    StringDecoder.#check(this);
    return this.#missing;
  }

  get lastTotal() {
    StringDecoder.#check(this);
    return this.#buffered + this.#missing;
  }

  /** Appends bytes[start, end) to the held bytes. */
  #hold(bytes, start, end) {
    this.#lastChar.set(bytes.subarray(start, end), this.#buffered);
    this.#buffered += end - start;
  }

  #flushHeld() {
    const text = decode(this.#lastChar, 0, this.#buffered, this.#encoding);
    this.#buffered = 0;
    return text;
  }

  /**
   * How many bytes at the end of bytes[start..] begin a character that the
   * next chunk must finish; sets #missing to the bytes still to come.
   */
  #incompleteTail(bytes, start) {
    const last = bytes.length - 1;
    if (this.#encoding === "utf16le") {
      if ((bytes.length - start) % 2 === 1) {
        this.#missing = 1; // half a code unit
        return 1;
      }
      if ((bytes[last] & 0xfc) === 0xd8) {
        this.#missing = 2; // a high surrogate, whose low surrogate is to come
        return 2;
      }
      return 0;
    }
    if (this.#encoding !== "utf8") {
      // base64 and base64url encode whole 3-byte groups.
      const tail = (bytes.length - start) % 3;
      if (tail > 0) this.#missing = 3 - tail;
      return tail;
    }
    if ((bytes[last] & 0x80) === 0) return 0;
    // Walk back over continuation bytes to the lead byte, which tells the
    // character's length. Invalid input is left to the decoder.
    for (let i = last; ; i--) {
      const tail = last - i + 1;
      const byte = bytes[i];
      if ((byte & 0xc0) === 0x80) {
        if (tail >= 4 || i === start) return 0;
        continue;
      }
      let length;
      if ((byte & 0xe0) === 0xc0) length = 2;
      else if ((byte & 0xf0) === 0xe0) length = 3;
      else if ((byte & 0xf8) === 0xf0) length = 4;
      else return 0;
      if (tail >= length) return 0;
      this.#missing = length - tail;
      return tail;
    }
  }

  /** Throws unless `value` is a StringDecoder (methods may be called on anything). */
  static #check(value) {
    if (value === null || typeof value !== "object" || !(#missing in value)) {
      throw nodeError(TypeError, "ERR_INVALID_THIS", 'Value of "this" must be of type StringDecoder');
    }
  }
}

// Node defines these by assignment, so they are enumerable.
for (const key of ["write", "end", "text", "lastChar", "lastNeed", "lastTotal"]) {
  Object.defineProperty(StringDecoder.prototype, key, { enumerable: true });
}

export default { StringDecoder };
