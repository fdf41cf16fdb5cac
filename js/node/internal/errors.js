// Node.js-style errors: a standard class (TypeError, RangeError, Error)
// with a `code` property, whose toString() and stack show the code the way
// Node prints it (`TypeError [ERR_INVALID_ARG_TYPE]: ...`). Every module in
// js/node/ makes its errors here, so messages stay the same everywhere.

/** Makes an error of class `Base` with Node's `code`. */
export function nodeError(Base, code, message) {
  const error = new Base(message);
  Object.defineProperty(error, "code", {
    value: code,
    enumerable: true,
    writable: true,
    configurable: true,
  });
  // The stack's first line is what Node shows: the name, the code, the message.
  const name = error.name;
  if (typeof error.stack === "string") {
    error.stack = error.stack.replace(`${name}: `, `${name} [${code}]: `);
  }
  Object.defineProperty(error, "toString", {
    value() {
      return `${this.name} [${this.code}]: ${this.message}`;
    },
    writable: true,
    configurable: true,
  });
  return error;
}

/** How Node's messages describe a value they did not expect. */
export function describeReceived(value) {
  if (value === null || value === undefined) return ` Received ${value}`;
  if (typeof value === "function") {
    return value.name ? ` Received function ${value.name}` : " Received type function ([Function (anonymous)])";
  }
  if (typeof value === "object") {
    const name = value.constructor?.name;
    if (name) return ` Received an instance of ${name}`;
    return " Received [object Object]";
  }
  let shown = typeof value === "string" ? `'${value}'` : String(value);
  if (shown.length > 28) shown = `${shown.slice(0, 25)}...`;
  if (typeof value === "bigint") shown += "n";
  return ` Received type ${typeof value} (${shown})`;
}

const PRIMITIVES = new Set(["string", "function", "number", "object", "boolean", "bigint",
  "symbol", "undefined", "null"]);

/** `The "name" argument must be of type string. Received ...` */
export function invalidArgType(name, expected, actual) {
  const list = Array.isArray(expected) ? expected : [expected];
  // Primitive names and Function/Object read as types ("of type function").
  const types = list.filter((t) => PRIMITIVES.has(t.toLowerCase())).map((t) => t.toLowerCase());
  const classes = list.filter((t) => !PRIMITIVES.has(t.toLowerCase()));
  // With other classes allowed, Object reads as one of them, as in Node.
  if (classes.length > 0 && types.includes("object")) {
    types.splice(types.indexOf("object"), 1);
    classes.push("Object");
  }
  const kind = name.endsWith(" argument") ? name : `"${name}" ${name.includes(".") ? "property" : "argument"}`;
  let message = `The ${kind} must be `;
  const parts = [];
  if (types.length > 0) {
    parts.push(`${types.length > 1 ? "one of type" : "of type"} ${joinOr(types)}`);
  }
  if (classes.length > 0) {
    parts.push(`an instance of ${joinOr(classes)}`);
  }
  message += parts.join(" or ");
  message += "." + describeReceived(actual);
  return nodeError(TypeError, "ERR_INVALID_ARG_TYPE", message);
}

function joinOr(list) {
  if (list.length <= 2) return list.join(" or ");
  return `${list.slice(0, -1).join(", ")}, or ${list[list.length - 1]}`;
}

/** `The argument 'name' is invalid. Received ...` */
export function invalidArgValue(name, value, reason = "is invalid") {
  const kind = name.includes(".") ? "property" : "argument";
  let shown;
  try {
    shown = typeof value === "string" ? `'${value}'` : typeof value === "bigint" ? `${value}n` : JSON.stringify(value) ?? String(value);
  } catch {
    shown = String(value);
  }
  return nodeError(TypeError, "ERR_INVALID_ARG_VALUE", `The ${kind} '${name}' ${reason}. Received ${shown}`);
}

/** `The value of "name" is out of range. It must be RANGE. Received VALUE` */
export function outOfRange(name, range, received) {
  let shown;
  if (typeof received === "number" && Number.isInteger(received) && Math.abs(received) > 2 ** 32) {
    shown = groupDigits(String(received));
  } else if (typeof received === "bigint") {
    shown = `${received > 2n ** 32n || received < -(2n ** 32n) ? groupDigits(String(received)) : received}n`;
  } else {
    shown = typeof received === "string" ? `'${received}'` : String(received);
  }
  return nodeError(RangeError, "ERR_OUT_OF_RANGE",
    `The value of "${name}" is out of range. It must be ${range}. Received ${shown}`);
}

function groupDigits(text) {
  const sign = text.startsWith("-") ? "-" : "";
  let digits = sign ? text.slice(1) : text;
  let out = "";
  while (digits.length > 3) {
    out = `_${digits.slice(-3)}${out}`;
    digits = digits.slice(0, -3);
  }
  return sign + digits + out;
}

export function unknownEncoding(encoding) {
  return nodeError(TypeError, "ERR_UNKNOWN_ENCODING", `Unknown encoding: ${encoding}`);
}

export function missingArgs(...names) {
  const quoted = names.map((n) => `"${n}"`);
  const list = quoted.length <= 2 ? quoted.join(" and ") : `${quoted.slice(0, -1).join(", ")}, and ${quoted.at(-1)}`;
  return nodeError(TypeError, "ERR_MISSING_ARGS", `The ${list} argument${names.length > 1 ? "s" : ""} must be specified`);
}

/** A function Workers do not provide: what was called, by its module. */
export function notImplemented(what) {
  return nodeError(Error, "ERR_METHOD_NOT_IMPLEMENTED", `[ridge] ${what} is not implemented`);
}

/** The error an aborted operation rejects with. */
export class AbortError extends Error {
  constructor(message = "The operation was aborted", options = undefined) {
    super(message, options);
    this.code = "ABORT_ERR";
    this.name = "AbortError";
  }
}

/** workerd's error for a Node.js function it provides only as a stub. */
export function methodNotImplemented(name) {
  return nodeError(Error, "ERR_METHOD_NOT_IMPLEMENTED", `The ${name} method is not implemented`);
}

/** `The "a" or "b" argument must be specified`: one of several alternatives is missing. */
export function missingOneOfArgs(...names) {
  return nodeError(TypeError, "ERR_MISSING_ARGS",
    `The ${names.map((name) => `"${name}"`).join(" or ")} argument must be specified`);
}

/** An option that Workers do not support, as workerd refuses it. */
export function optionNotImplemented(name) {
  return nodeError(Error, "ERR_OPTION_NOT_IMPLEMENTED", `The ${name} option is not implemented`);
}
