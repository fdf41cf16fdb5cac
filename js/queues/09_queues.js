// Ridge: Queues, as a worker sees them: the producer binding in `env`
// (`env.JOBS.send(body)`), and the batch a `queue(batch, env, ctx)`
// handler receives.
//
// A producer holds only its index in the worker's binding list; Rust
// (queues.rs in crates/ridge-ext) maps it to the queue. Bodies are
// serialized here by content type, as workerd does, with its messages;
// the size limits are checked in Rust (ridge-queues). A batch's verdicts
// (ack, retry, ackAll, retryAll) follow workerd's precedence, and each one
// that takes effect is recorded in Rust at once, so that a handler stopped
// by a limit keeps what it acknowledged.
import { core, primordials } from "ext:core/mod.js";
import { op_ridge_queue_send, op_ridge_queue_verdict } from "ext:core/ops";
import { log, registerBinding } from "ext:ridge/globals/00_globals.js";
import { deserialize, serialize } from "ext:ridge/service/08_service.js";
import { SPAN_QUEUE, traced, traceparentFor } from "ext:ridge/trace/04_trace.js";

const {
  ArrayBufferIsView,
  ArrayIsArray,
  DataViewPrototype,
  DataViewPrototypeGetBuffer,
  DataViewPrototypeGetByteLength,
  DataViewPrototypeGetByteOffset,
  NumberIsInteger,
  ObjectPrototypeIsPrototypeOf,
  RangeError,
  ArrayPrototypeIncludes,
  ArrayPrototypeMap,
  ArrayPrototypePush,
  Date,
  JSONParse,
  JSONStringify,
  ObjectFreeze,
  SafeMap,
  StringPrototypeToLowerCase,
  SymbolIterator,
  TypeError,
  TypedArrayPrototypeGetBuffer,
  TypedArrayPrototypeGetByteLength,
  TypedArrayPrototypeGetByteOffset,
  TypedArrayPrototypeSet,
  Uint8Array,
} = primordials;

const CONTENT_TYPES = ["text", "bytes", "json", "v8"];
/** Only Ridge creates producers and messages. */
const kConstruct = Symbol("Queue");
/** The longest delay of a send or a retry: 24 hours. */
const MAX_DELAY_SECONDS = 86400;

/** The bytes of `body` sent as `contentType` (checked first, as workerd
 * checks it, by its lower-case form). */
function serializeBody(body, contentType) {
  if (body === undefined) throw new TypeError("Message body cannot be undefined");
  switch (contentType) {
    case "text":
      if (typeof body !== "string") {
        throw new TypeError(`Content Type "text" requires a value of type string, but received: ${typeof body}`);
      }
      return core.encode(body);
    case "bytes":
      if (!ArrayBufferIsView(body)) {
        throw new TypeError(
          `Content Type "bytes" requires a value of type ArrayBufferView, but received: ${typeof body}`,
        );
      }
      if (ObjectPrototypeIsPrototypeOf(DataViewPrototype, body)) {
        return new Uint8Array(
          DataViewPrototypeGetBuffer(body),
          DataViewPrototypeGetByteOffset(body),
          DataViewPrototypeGetByteLength(body),
        );
      }
      return new Uint8Array(
        TypedArrayPrototypeGetBuffer(body),
        TypedArrayPrototypeGetByteOffset(body),
        TypedArrayPrototypeGetByteLength(body),
      );
    case "json": {
      const text = JSONStringify(body);
      // A function or a symbol has no JSON: it could never be delivered.
      if (text === undefined) throw new TypeError(`A ${typeof body} cannot be sent as JSON`);
      return core.encode(text);
    }
    case "v8":
      return serialize(body);
  }
  throw new TypeError(`Unsupported queue message content type: ${contentType}`);
}

/** The content type a send names, or the worker's default. */
function contentTypeOf(options, fallback) {
  const given = options?.contentType;
  if (given === undefined) return fallback;
  const lower = StringPrototypeToLowerCase(`${given}`);
  if (!ArrayPrototypeIncludes(CONTENT_TYPES, lower)) {
    throw new TypeError(`Unsupported queue message content type: ${given}`);
  }
  return lower;
}

/** Sends `messages` (`[contentType, bytes, delaySeconds]`) in one op: the
 * bodies back to back in one buffer; traced as span `span` (-1: not). */
function sendMessages(index, messages, batch, batchDelay, span) {
  let total = 0;
  for (let i = 0; i < messages.length; i++) total += TypedArrayPrototypeGetByteLength(messages[i][1]);
  const bodies = new Uint8Array(total);
  let offset = 0;
  const meta = ArrayPrototypeMap(messages, ({ 0: contentType, 1: bytes, 2: delay }) => {
    TypedArrayPrototypeSet(bodies, bytes, offset);
    offset += TypedArrayPrototypeGetByteLength(bytes);
    return [contentType, TypedArrayPrototypeGetByteLength(bytes), delay ?? null];
  });
  const traceparent = span < 0 ? null : traceparentFor(span);
  return op_ridge_queue_send(index, bodies, [meta, batchDelay ?? null, traceparent], batch);
}

/** A number of seconds as given (undefined when absent). */
function delayOf(options) {
  const delay = options?.delaySeconds;
  return delay === undefined ? undefined : +delay;
}

/** `env.JOBS`: sends messages to the binding's queue. */
class Queue {
  #index;
  #queue;
  #contentType;

  constructor(key, index, queue, contentType) {
    if (key !== kConstruct) throw new TypeError("Illegal constructor");
    this.#index = index;
    this.#queue = queue;
    this.#contentType = contentType;
  }

  /** Resolves once the message is stored. */
  async send(body, options = undefined) {
    const contentType = contentTypeOf(options, this.#contentType);
    const message = [contentType, serializeBody(body, contentType), delayOf(options)];
    await traced(SPAN_QUEUE, "send", this.#queue, (span) =>
      sendMessages(this.#index, [message], false, undefined, span),
    );
  }

  /** Sends every message of `messages` (`{ body, contentType,
   * delaySeconds }`), all or none. */
  async sendBatch(messages, options = undefined) {
    if (messages === null || messages === undefined || typeof messages[SymbolIterator] !== "function") {
      throw new TypeError("sendBatch() requires an iterable of messages");
    }
    const list = [];
    for (const message of messages) {
      const contentType = contentTypeOf(message, this.#contentType);
      ArrayPrototypePush(list, [contentType, serializeBody(message?.body, contentType), delayOf(message)]);
    }
    if (list.length === 0) throw new TypeError("sendBatch() requires at least one message");
    const delay = delayOf(options);
    await traced(SPAN_QUEUE, "sendBatch", this.#queue, (span) => sendMessages(this.#index, list, true, delay, span));
  }
}

registerBinding("queue", (index, _name, { 0: queue, 1: contentType }) => new Queue(kConstruct, index, queue, contentType));

/** `message.body` from its bytes. */
function decodeBody(contentType, bytes) {
  switch (contentType) {
    case "text":
      return core.decode(bytes);
    case "bytes":
      return bytes;
    case "json":
      return JSONParse(core.decode(bytes));
    default:
      return deserialize(bytes);
  }
}

/** Delay seconds of `retry()`/`retryAll()` options, for Rust: -1 for
 * "the consumer's retry_delay". */
function retryDelay(options) {
  const delay = options?.delaySeconds;
  if (delay === undefined) return -1;
  if (typeof delay !== "number" || !NumberIsInteger(delay) || delay < 0 || delay > MAX_DELAY_SECONDS) {
    throw new RangeError(`delaySeconds must be a whole number of seconds from 0 to ${MAX_DELAY_SECONDS}`);
  }
  return delay;
}

/** What a batch's handler said so far, with workerd's precedence: once a
 * message is acknowledged nothing changes it, and an `ack()` after a
 * retry is ignored (a second `retry()` replaces the first's delay);
 * `ackAll()`/`retryAll()` do not override a message's own call, and
 * `retry()` after `retryAll()` still counts. */
class Verdicts {
  constructor(rid) {
    this.rid = rid;
    this.batch = undefined;
    this.messages = new SafeMap();
  }

  message(index, id, verdict, options) {
    const previous = this.messages.get(index);
    const refused = (earlier) =>
      log(
        2,
        `Received a call to ${verdict}() on message ${id} after ${earlier}() was already called. ` +
          `Calling ${verdict}() on a message after calling ${earlier}() has no effect.`,
      );
    if (previous === "ack") return verdict === "ack" ? undefined : refused("ack");
    if (this.batch === "ackAll") return verdict === "ack" ? undefined : refused("ackAll");
    if (verdict === "ack" && (previous === "retry" || this.batch === "retryAll")) {
      return refused(previous ?? "retryAll");
    }
    this.messages.set(index, verdict);
    op_ridge_queue_verdict(this.rid, index, verdict === "ack", verdict === "ack" ? -1 : retryDelay(options));
  }

  all(verdict, options) {
    if (this.batch !== undefined && this.batch !== verdict) {
      log(
        2,
        `Received a call to ${verdict}() on a batch after ${this.batch}() was already called. ` +
          `Calling ${verdict}() after calling ${this.batch}() has no effect.`,
      );
      return;
    }
    this.batch = verdict;
    op_ridge_queue_verdict(this.rid, -1, verdict === "ackAll", verdict === "ackAll" ? -1 : retryDelay(options));
  }
}

class Message {
  #verdicts;
  #index;

  constructor(key, verdicts, index, id, timestamp, contentType, bytes, attempts) {
    if (key !== kConstruct) throw new TypeError("Illegal constructor");
    this.#verdicts = verdicts;
    this.#index = index;
    this.id = id;
    this.timestamp = new Date(timestamp);
    this.body = decodeBody(contentType, bytes);
    this.attempts = attempts;
  }

  ack() {
    this.#verdicts.message(this.#index, this.id, "ack");
  }

  retry(options = undefined) {
    this.#verdicts.message(this.#index, this.id, "retry", options);
  }
}

class MessageBatch {
  #verdicts;

  constructor(key, verdicts, queue, messages) {
    if (key !== kConstruct) throw new TypeError("Illegal constructor");
    this.#verdicts = verdicts;
    this.queue = queue;
    this.messages = ObjectFreeze(messages);
  }

  ackAll() {
    this.#verdicts.all("ackAll");
  }

  retryAll(options = undefined) {
    this.#verdicts.all("retryAll", options);
  }
}

/** The batch of invocation `rid` (`messages` as Rust sends them: `[id,
 * timestamp, contentType, body, attempts]`). */
export function queueBatch(rid, queue, messages) {
  if (!ArrayIsArray(messages)) throw new TypeError("Ridge sent a malformed queue batch");
  const verdicts = new Verdicts(rid);
  const list = ArrayPrototypeMap(
    messages,
    ({ 0: id, 1: timestamp, 2: contentType, 3: body, 4: attempts }, index) =>
      new Message(kConstruct, verdicts, index, id, timestamp, contentType, body, attempts),
  );
  return new MessageBatch(kConstruct, verdicts, queue, list);
}
