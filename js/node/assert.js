// node:assert: the assert() function carrying every assertion, the Assert
// class, and AssertionError with the messages workerd builds.
//
// workerd is the reference, and its assert differs from Node's in places:
// the module-level equal, notEqual, deepEqual and notDeepEqual are strict
// (only `new Assert({ strict: false })` compares loosely); strictEqual and
// a few others write their own messages (so generatedMessage is false),
// strictEqual with a line or word diff; node:assert/strict is this same
// module. The messages below follow what workerd prints.

import { inspect } from "./util.js";
import { isDeepEqual, isDeepStrictEqual, isPartialDeepStrictEqual } from "./internal/deep_equal.js";
import { describeReceived, invalidArgType, invalidArgValue, missingArgs, nodeError } from "./internal/errors.js";
import { validateOneOf } from "./internal/validators.js";

// ---- AssertionError and the messages it generates.

const READABLE_OPERATOR = {
  __proto__: null,
  deepStrictEqual: "Expected values to be strictly deep-equal:",
  strictEqual: "Expected values to be strictly equal:",
  strictEqualObject: 'Expected "actual" to be reference-equal to "expected":',
  deepEqual: "Expected values to be loosely deep-equal:",
  notDeepStrictEqual: 'Expected "actual" not to be strictly deep-equal to:',
  notStrictEqual: 'Expected "actual" to be strictly unequal to:',
  notStrictEqualObject: 'Expected "actual" not to be reference-equal to "expected":',
  notDeepEqual: 'Expected "actual" not to be loosely deep-equal to:',
  notIdentical: "Values have same structure but are not reference-equal:",
  notDeepEqualUnequal: "Expected values not to be loosely deep-equal:",
};

// Two short primitives are shown as `a !== b` rather than as a diff.
const MAX_SHORT_LENGTH = 12;
// A one-line diff gets a ^ under the first difference below this length.
const MAX_INDICATOR_LENGTH = 80;
// A diff shows about this many lines before it is cut.
const MAX_DIFF_LINES = 50;

function isObjectLike(value) {
  return typeof value === "object" && value !== null;
}

/** How values appear in generated messages: every enumerable key, sorted. */
function inspectValue(value) {
  return inspect(value, {
    compact: true,
    customInspect: false,
    depth: 1000,
    maxArrayLength: Infinity,
    showHidden: false,
    showProxy: false,
    sorted: true,
    getters: true,
  });
}

/** Keeps the first lines of a long inspection, marking the cut with `...`. */
function cutLines(lines) {
  return lines.length > MAX_DIFF_LINES ? [...lines.slice(0, 46), "..."] : lines;
}

function truncate(text, max) {
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}

/**
 * An error's own enumerable properties and message, without its stack, so
 * the message compares what deepStrictEqual compares.
 */
function copyError(source) {
  const copy = Object.create(Object.getPrototypeOf(source));
  for (const key of Object.keys(source)) {
    Object.defineProperty(copy, key, Object.getOwnPropertyDescriptor(source, key));
  }
  Object.defineProperty(copy, "message", { value: source.message });
  return copy;
}

/** The `+ actual - expected` message of strictEqual and deepStrictEqual. */
function diffMessage(actual, expected, operator) {
  const actualInspected = inspectValue(actual);
  const actualLines = actualInspected.split("\n");
  const expectedLines = inspectValue(expected).split("\n");

  const comparesReferences = operator === "strictEqual" &&
    ((isObjectLike(actual) && isObjectLike(expected)) ||
      (typeof actual === "function" && typeof expected === "function"));
  const header = READABLE_OPERATOR[comparesReferences ? "strictEqualObject" : operator];

  let indicator = "";
  if (actualLines.length === 1 && expectedLines.length === 1 && actualLines[0] !== expectedLines[0]) {
    const [actualLine] = actualLines;
    const [expectedLine] = expectedLines;
    const length = actualLine.length + expectedLine.length;
    if (length <= MAX_SHORT_LENGTH) {
      // 0 and -0 are shown as a diff: `0 !== -0` would look wrong.
      if (!isObjectLike(actual) && !isObjectLike(expected) && (actual !== 0 || expected !== 0)) {
        return `${header}\n\n${actualLine} !== ${expectedLine}\n`;
      }
    } else if (!comparesReferences && length < MAX_INDICATOR_LENGTH) {
      let at = 0;
      while (actualLine[at] === expectedLine[at]) at++;
      if (at > 2) indicator = `\n  ${" ".repeat(at)}^`;
    }
  }

  // Identical closing lines are left out of the diff: the last three are
  // shown after it, and the first one above a `...` when more were cut.
  let tail = "";
  let firstOfTail = "";
  let tailLength = 0;
  while (actualLines.length > 0 && expectedLines.length > 0 && actualLines.at(-1) === expectedLines.at(-1)) {
    const line = actualLines.pop();
    expectedLines.pop();
    if (tailLength < 3) tail = `\n  ${line}${tail}`;
    else firstOfTail = line;
    tailLength++;
  }

  const lineCount = Math.max(actualLines.length, expectedLines.length);
  if (lineCount === 0) {
    // Equal inspections of unequal values, e.g. { a: Symbol() } twice.
    return `${READABLE_OPERATOR.notIdentical}\n\n${cutLines(actualInspected.split("\n")).join("\n")}\n`;
  }

  let skipped = false;
  if (tailLength >= 5) {
    tail = `\n...${tail}`;
    skipped = true;
  }
  if (firstOfTail !== "") tail = `\n  ${firstOfTail}${tail}`;

  const title = `${header}\n+ actual - expected`;
  const skippedNote = " ... Lines skipped";
  let result = "";
  // Expected lines wait here so a run of changes reads +++ then ---.
  let pendingExpected = "";
  let printed = 0;
  let identical = 0;

  // Before a change, shows the identical lines leading to it: the first two
  // were shown already, then up to three more, or `...` and the last two.
  const showIdenticalRun = (lines, i) => {
    if (identical > 2) {
      if (identical > 3) {
        if (identical > 4) {
          if (identical === 5) {
            result += `\n  ${lines[i - 3]}`;
            printed++;
          } else {
            result += "\n...";
            skipped = true;
          }
        }
        result += `\n  ${lines[i - 2]}`;
        printed++;
      }
      result += `\n  ${lines[i - 1]}`;
      printed++;
    }
    identical = 0;
  };

  // Lines past the end of the shorter side are all changes.
  const longer = actualLines.length < lineCount ? expectedLines : actualLines;
  const sharedLength = Math.min(actualLines.length, expectedLines.length);
  for (let i = 0; i < lineCount; i++) {
    if (i >= sharedLength) {
      showIdenticalRun(longer, i);
      if (longer === actualLines) result += `\n+ ${longer[i]}`;
      else pendingExpected += `\n- ${longer[i]}`;
      printed++;
    } else {
      const expectedLine = expectedLines[i];
      let actualLine = actualLines[i];
      // Lines that differ only by a trailing comma are the same line.
      let differs = actualLine !== expectedLine &&
        (!actualLine.endsWith(",") || actualLine.slice(0, -1) !== expectedLine);
      if (differs && expectedLine.endsWith(",") && expectedLine.slice(0, -1) === actualLine) {
        differs = false;
        actualLine += ",";
      }
      if (differs) {
        showIdenticalRun(actualLines, i);
        result += `\n+ ${actualLine}`;
        pendingExpected += `\n- ${expectedLine}`;
        printed += 2;
      } else {
        result += pendingExpected;
        pendingExpected = "";
        identical++;
        if (identical <= 2) {
          result += `\n  ${actualLine}`;
          printed++;
        }
      }
    }
    if (printed > MAX_DIFF_LINES && i < lineCount - 2) {
      return `${title}${skippedNote}\n${result}\n...${pendingExpected}\n...`;
    }
  }
  return `${title}${skipped ? skippedNote : ""}\n${result}${pendingExpected}${tail}${indicator}`;
}

/** The message of notStrictEqual / notDeepStrictEqual: the one value shown. */
function sameValueMessage(actual, operator) {
  const referenceOnly = operator === "notStrictEqual" && (isObjectLike(actual) || typeof actual === "function");
  const header = READABLE_OPERATOR[referenceOnly ? "notStrictEqualObject" : operator];
  const lines = cutLines(inspectValue(actual).split("\n"));
  if (lines.length === 1) return `${header}${lines[0].length > 5 ? "\n\n" : " "}${lines[0]}`;
  return `${header}\n\n${lines.join("\n")}\n`;
}

/** The message of every other operator: `actual OP expected`, or a loose comparison. */
function operatorMessage(actual, expected, operator) {
  let shownActual = inspectValue(actual);
  const shownExpected = inspectValue(expected);
  if (operator === "notDeepEqual" && shownActual === shownExpected) {
    return truncate(`${READABLE_OPERATOR.notDeepEqual}\n\n${shownActual}`, 1024);
  }
  shownActual = truncate(shownActual, 512);
  const expectedText = truncate(shownExpected, 512);
  if (operator === "deepEqual") {
    return `${READABLE_OPERATOR.deepEqual}\n\n${shownActual}\n\nshould loosely deep-equal\n\n${expectedText}`;
  }
  const unequal = READABLE_OPERATOR[`${operator}Unequal`];
  if (unequal) return `${unequal}\n\n${shownActual}\n\nshould not loosely deep-equal\n\n${expectedText}`;
  return `${shownActual} ${operator} ${expectedText}`;
}

export class AssertionError extends Error {
  constructor(options) {
    if (!isObjectLike(options)) throw invalidArgType("options", "Object", options);
    const { message, operator, stackStartFn, stackStartFunction, details } = options;
    let { actual, expected } = options;

    // The stack is captured below, from the caller's frame.
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    if (message != null) {
      super(String(message));
    } else {
      if (actual instanceof Error && expected instanceof Error && "stack" in actual && "stack" in expected) {
        actual = copyError(actual);
        expected = copyError(expected);
      }
      if (operator === "deepStrictEqual" || operator === "strictEqual") {
        super(diffMessage(actual, expected, operator));
      } else if (operator === "notDeepStrictEqual" || operator === "notStrictEqual") {
        super(sameValueMessage(actual, operator));
      } else {
        super(operatorMessage(actual, expected, operator));
      }
    }
    Error.stackTraceLimit = stackTraceLimit;

    this.generatedMessage = !message;
    // The stack's first line reads `AssertionError [ERR_ASSERTION]: ...`;
    // the name is that only while the stack is made.
    Object.defineProperty(this, "name", {
      value: "AssertionError [ERR_ASSERTION]",
      enumerable: false,
      writable: true,
      configurable: true,
    });
    this.code = "ERR_ASSERTION";
    if (details) {
      this.actual = undefined;
      this.expected = undefined;
      this.operator = undefined;
      details.forEach((detail, i) => {
        this[`message ${i}`] = detail.message;
        this[`actual ${i}`] = detail.actual;
        this[`expected ${i}`] = detail.expected;
        this[`operator ${i}`] = detail.operator;
        this[`stack trace ${i}`] = detail.stack;
      });
    } else {
      this.actual = actual;
      this.expected = expected;
      this.operator = operator;
    }
    Error.captureStackTrace?.(this, stackStartFn || stackStartFunction);
    // Reading the stack formats it now, with the name above.
    this.stack; // eslint-disable-line no-unused-expressions
    this.name = "AssertionError";
  }

  toString() {
    return `${this.name} [${this.code}]: ${this.message}`;
  }

  // Inspecting the error shows actual and expected shallowly: the message
  // already holds the detailed view.
  [Symbol.for("nodejs.util.inspect.custom")](depth, options) {
    const { actual, expected } = this;
    for (const name of ["actual", "expected"]) {
      const value = this[name];
      if (typeof value !== "string") continue;
      const lines = value.split("\n");
      if (lines.length > 10) this[name] = `${lines.slice(0, 10).join("\n")}\n...`;
      else if (value.length > 512) this[name] = `${value.slice(0, 512)}...`;
    }
    try {
      return inspect(this, { ...options, customInspect: false, depth: 0 });
    } finally {
      this.actual = actual;
      this.expected = expected;
    }
  }
}

/** Makes an AssertionError, marking its message as generated when asked. */
function assertionError(options, generatedMessage = false) {
  const error = new AssertionError(options);
  if (generatedMessage) error.generatedMessage = true;
  return error;
}

// ---- Argument errors with the wording workerd uses.

function ambiguousArgument(name, reason) {
  return nodeError(TypeError, "ERR_AMBIGUOUS_ARGUMENT", `The "${name}" argument is ambiguous. ${reason}`);
}

function invalidReturnValue(input, name, value) {
  const received = describeReceived(value).replace(/^ Received /, "");
  return nodeError(TypeError, "ERR_INVALID_RETURN_VALUE",
    `Expected ${input} to be returned from the "${name}" function but got ${received}.`);
}

/**
 * ERR_INVALID_ARG_TYPE as throws() and doesNotThrow() word it: "Object"
 * counts among the classes, and a function is described by inspecting it.
 */
function invalidExpectationType(name, expected, value) {
  const received = typeof value === "function"
    ? ` Received type function (${inspect(value)})`
    : describeReceived(value);
  return nodeError(TypeError, "ERR_INVALID_ARG_TYPE", `The "${name}" argument must be ${expected}.${received}`);
}

const ERROR_EXPECTATIONS = "of type function or an instance of Error, RegExp, or Object";

// ---- The assertions.

// Assert instances keep their options here; plain and destructured calls
// have no `this` options and use the defaults.
const kOptions = Symbol("options");

function assert(value, message) {
  if (arguments.length === 0) {
    throw new AssertionError({ message: "No value argument passed to `assert.ok()`" });
  }
  if (!value) {
    throw new AssertionError({ message, actual: value, expected: true, operator: "==" });
  }
}

export const ok = assert;

export function strict(value, message) {
  if (arguments.length === 0) {
    throw new AssertionError({ message: "No value argument passed to `assert.ok()`" });
  }
  assert(value, message);
}

// equal / notEqual / deepEqual / notDeepEqual are strict, as in workerd.
export function equal(actual, expected, message) {
  return strictEqual(actual, expected, message);
}

export function notEqual(actual, expected, message) {
  return notStrictEqual(actual, expected, message);
}

export function deepEqual(actual, expected, message) {
  return deepStrictEqual(actual, expected, message);
}

export function notDeepEqual(actual, expected, message) {
  return notDeepStrictEqual(actual, expected, message);
}

export function strictEqual(actual, expected, message) {
  if (arguments.length < 2) throw missingArgs("actual", "expected");
  if (Object.is(actual, expected)) return;
  throw new AssertionError({
    message: message ? `${message}` : strictEqualMessage(actual, expected),
    actual,
    expected,
    operator: "strictEqual",
  });
}

export function notStrictEqual(actual, expected, message) {
  if (arguments.length < 2) throw missingArgs("actual", "expected");
  if (!Object.is(actual, expected)) return;
  throw new AssertionError({
    message: message ? `${message}` : "Expected actual to be strictly unequal to expected",
    actual,
    expected,
    operator: "notStrictEqual",
  });
}

export function deepStrictEqual(actual, expected, message) {
  if (arguments.length < 2) throw missingArgs("actual", "expected");
  if (isDeepStrictEqual(actual, expected, { skipPrototype: this?.[kOptions]?.skipPrototype })) return;
  // An empty message (or none) lets AssertionError write the diff.
  throw new AssertionError({
    message: message ? `${message}` : message,
    actual,
    expected,
    operator: "deepStrictEqual",
  });
}

export function notDeepStrictEqual(actual, expected, message) {
  if (arguments.length < 2) throw missingArgs("actual", "expected");
  if (!isDeepStrictEqual(actual, expected, { skipPrototype: this?.[kOptions]?.skipPrototype })) return;
  throw new AssertionError({
    message: message ? `${message}` : "Expected actual to not be deeply strictly equal to expected",
    actual,
    expected,
    operator: "notDeepStrictEqual",
  });
}

export function partialDeepStrictEqual(actual, expected, message) {
  if (arguments.length < 2) throw missingArgs("actual", "expected");
  if (isPartialDeepStrictEqual(actual, expected)) return;
  throw new AssertionError({
    message: message ? `${message}` : "Expected actual to be partially deeply strictly equal to expected",
    actual,
    expected,
    operator: "partialDeepStrictEqual",
  });
}

// Loose comparisons of `new Assert({ strict: false })`.

function throwLoose(actual, expected, message, operator) {
  if (message instanceof Error) throw message;
  throw new AssertionError({ message, actual, expected, operator });
}

function looseEqual(actual, expected, message) {
  if (arguments.length < 2) throw missingArgs("actual", "expected");
  // eslint-disable-next-line eqeqeq -- loose equality is the point.
  if (actual != expected && !(Number.isNaN(actual) && Number.isNaN(expected))) {
    throwLoose(actual, expected, message, "==");
  }
}

function looseNotEqual(actual, expected, message) {
  if (arguments.length < 2) throw missingArgs("actual", "expected");
  // eslint-disable-next-line eqeqeq -- loose equality is the point.
  if (actual == expected || (Number.isNaN(actual) && Number.isNaN(expected))) {
    throwLoose(actual, expected, message, "!=");
  }
}

function looseDeepEqual(actual, expected, message) {
  if (arguments.length < 2) throw missingArgs("actual", "expected");
  if (!isDeepEqual(actual, expected)) throwLoose(actual, expected, message, "deepEqual");
}

function looseNotDeepEqual(actual, expected, message) {
  if (arguments.length < 2) throw missingArgs("actual", "expected");
  if (isDeepEqual(actual, expected)) throwLoose(actual, expected, message, "notDeepEqual");
}

export function fail(message) {
  if (typeof message !== "string" && message != null) throw message;
  throw assertionError({ message: message ?? "Failed", operator: "fail" }, message == null);
}

export function match(actual, regexp, message) {
  if (arguments.length < 2) throw missingArgs("actual", "regexp");
  if (!(regexp instanceof RegExp)) throw invalidArgType("regexp", "RegExp", regexp);
  if (regexp.test(actual)) return;
  throw new AssertionError({
    message: message ? `${message}` : `actual: "${actual}" expected to match: "${regexp}"`,
    actual,
    expected: regexp,
    operator: "match",
  });
}

export function doesNotMatch(string, regexp, message) {
  if (arguments.length < 2) throw missingArgs("string", "regexp");
  if (!(regexp instanceof RegExp)) throw invalidArgType("regexp", "RegExp", regexp);
  if (typeof string !== "string") {
    if (message instanceof Error) throw message;
    throw new AssertionError({
      message: message ||
        `The "string" argument must be of type string. Received type ${typeof string} (${inspect(string)})`,
      actual: string,
      expected: regexp,
      operator: "doesNotMatch",
    });
  }
  if (!regexp.test(string)) return;
  throw new AssertionError({
    message: message ? `${message}` : `actual: "${string}" expected to not match: "${regexp}"`,
    actual: string,
    expected: regexp,
    operator: "doesNotMatch",
  });
}

export function ifError(value) {
  if (value === null || value === undefined) return;
  let detail;
  if (isObjectLike(value) && typeof value.message === "string") {
    detail = value.message.length === 0 && value.constructor ? value.constructor.name : value.message;
  } else {
    detail = inspect(value);
  }
  const error = new AssertionError({
    message: `ifError got unwanted exception: ${detail}`,
    actual: value,
    expected: null,
    operator: "ifError",
    stackStartFn: ifError,
  });
  // Continue the stack with the frames of the unwanted error, where it came from.
  const originalStack = value.stack;
  if (typeof originalStack === "string") {
    const originalFrames = originalStack.split("\n").slice(1);
    let frames = error.stack.split("\n");
    for (const frame of originalFrames) {
      const at = frames.indexOf(frame);
      if (at !== -1) {
        frames = frames.slice(0, at);
        break;
      }
    }
    error.stack = `${frames.join("\n")}\n${originalFrames.join("\n")}`;
  }
  throw error;
}

// ---- throws / rejects and their opposites.

/**
 * Checks a caught error against the `error` argument of throws()/rejects():
 * a class, a validation function, a RegExp for its text, or an object (or
 * Error) whose properties it must have. Throws when it does not fit.
 */
function checkCaught(caught, error, message, operator, validatorName) {
  if (typeof error === "string") {
    // throws(fn, "message"): the string is the message, not an expectation.
    if (message != null) {
      throw invalidExpectationType("error", ERROR_EXPECTATIONS, error);
    }
    if (isObjectLike(caught)) {
      if (caught.message === error) {
        throw ambiguousArgument("error/message", `The error message "${caught.message}" is identical to the message.`);
      }
    } else if (caught === error) {
      throw ambiguousArgument("error/message", `The error "${caught}" is identical to the message.`);
    }
    message = error;
    error = undefined;
  }

  if (error === undefined) return;

  if (typeof error === "function" && error.prototype !== undefined &&
      (error === Error || error.prototype instanceof Error)) {
    if (caught instanceof error) return;
    throw assertionError({
      message: `The error is expected to be an instance of "${error.name}". ` +
        `Received "${caught?.constructor?.name}"\n\nError message:\n\n${caught?.message}`,
      actual: caught,
      expected: error,
      operator,
    }, true);
  }

  if (typeof error === "function") {
    const result = error(caught);
    if (result === true) return;
    const what = validatorName ? `"${validatorName}" validation` : "validation";
    throw assertionError({
      message: `The ${what} function is expected to return "true". Received ${inspect(result)}` +
        `\n\nCaught error:\n\n${caught}`,
      actual: caught,
      expected: error,
      operator,
    }, true);
  }

  if (error instanceof RegExp) {
    if (error.test(String(caught))) return;
    throw assertionError({
      message: `The input did not match the regular expression ${error}. Input:\n\n'${String(caught)}'\n`,
      actual: caught,
      expected: error,
      operator,
    }, true);
  }

  if (isObjectLike(error)) {
    const keys = Object.keys(error);
    if (error instanceof Error) keys.push("name", "message");
    const fail = (text) => assertionError({ message: message || text, actual: caught, expected: error, operator },
      message == null);
    for (const key of keys) {
      if (caught == null) throw fail("object is expected to thrown, but got null");
      if (typeof caught === "string") throw fail(`object is expected to thrown, but got string: ${caught}`);
      if (typeof caught === "number") throw fail(`object is expected to thrown, but got number: ${caught}`);
      if (!(key in caught)) throw fail(`A key in the expected object is missing: ${key}`);
      if (typeof caught[key] === "string" && error[key] instanceof RegExp) {
        match(caught[key], error[key]);
      } else {
        deepStrictEqual(caught[key], error[key]);
      }
    }
    return;
  }

  throw assertionError({ message: `Invalid expectation: ${error}`, operator }, true);
}

export function throws(fn, error, message) {
  if (typeof fn !== "function") throw invalidArgType("fn", "function", fn);
  if (isObjectLike(error) && Object.getPrototypeOf(error) === Object.prototype && Object.keys(error).length === 0) {
    throw invalidArgValue("error", error, "may not be an empty object");
  }
  const validType = typeof error === "function" || typeof error === "object" ||
    (typeof error === "undefined" || typeof error === "string") && typeof message !== "string";
  if (!validType) throw invalidExpectationType("error", ERROR_EXPECTATIONS, error);

  try {
    fn();
  } catch (caught) {
    checkCaught(caught, error, message, "throws");
    return;
  }

  let text;
  if (message) {
    text = typeof error === "function" && error.name
      ? `Missing expected exception (${error.name}): ${message}`
      : `Missing expected exception: ${message}`;
  } else if (typeof error === "string") {
    text = `Missing expected exception: ${error}`;
  } else if (typeof error === "function" && error.prototype !== undefined) {
    text = `Missing expected exception (${error.name}).`;
  } else {
    text = "Missing expected exception.";
  }
  throw new AssertionError({
    message: text,
    operator: "throws",
    actual: undefined,
    expected: typeof error === "string" && !message ? undefined : error,
  });
}

function isThenable(value) {
  return value instanceof Promise || typeof value?.then === "function";
}

/** The promise of rejects()/doesNotReject(): given, or returned by the function. */
function promiseOf(promiseFn) {
  if (typeof promiseFn === "function") {
    const value = promiseFn();
    if (!isThenable(value)) throw invalidReturnValue("instance of Promise", "promiseFn", value);
    return value;
  }
  if (!isThenable(promiseFn)) throw invalidArgType("promiseFn", ["function", "Promise"], promiseFn);
  return promiseFn;
}

export function rejects(promiseFn, error, message) {
  let promise;
  try {
    promise = promiseOf(promiseFn);
  } catch (thrown) {
    return Promise.reject(thrown);
  }
  const onFulfilled = () => {
    let text = "Missing expected rejection";
    if (typeof error === "string") text += `: ${error}`;
    else if (typeof error === "function" && error.prototype !== undefined) text += ` (${error.name}).`;
    else text += ".";
    throw assertionError({ message: text, operator: "rejects" }, true);
  };
  const onRejected = (caught) => {
    checkCaught(caught, error, message, "rejects", "validate");
  };
  return promise.then(onFulfilled, onRejected);
}

/** Throws the AssertionError of doesNotThrow()/doesNotReject(), or `caught` itself. */
function unwantedError(caught, expected, message, operator) {
  if (typeof expected === "string") {
    // doesNotThrow(fn, "message")
    throw new AssertionError({
      message: `Got unwanted exception: ${expected}\nActual message: "${caught.message}"`,
      operator,
    });
  }
  if (typeof expected === "function" && expected.prototype !== undefined) {
    if (caught instanceof expected) {
      const suffix = message ? ` ${String(message)}` : "";
      throw new AssertionError({
        message: `Got unwanted exception: ${caught.constructor?.name}${suffix}`,
        operator,
      });
    }
    if (!(expected.prototype instanceof Error) && expected(caught) === true) {
      const suffix = message ? ` ${String(message)}` : "";
      throw new AssertionError({
        message: `Got unwanted rejection.\nActual message: "${caught.message}"${suffix}`,
        operator,
      });
    }
    throw caught;
  }
  const actualMessage = caught ? caught.message : String(caught);
  throw new AssertionError({
    message: message
      ? `Got unwanted exception: ${message}\nActual message: "${actualMessage}"`
      : `Got unwanted exception.\nActual message: "${actualMessage}"`,
    operator,
  });
}

export function doesNotThrow(fn, expected, message) {
  if (typeof fn !== "function") throw invalidArgType("fn", "function", fn);
  if (!(expected instanceof RegExp) && !["function", "string", "undefined"].includes(typeof expected)) {
    // workerd reports the function here, not the expectation.
    throw invalidExpectationType("expected", "of type function or an instance of RegExp", fn);
  }
  try {
    fn();
  } catch (caught) {
    unwantedError(caught, expected, message, "doesNotThrow");
  }
}

export function doesNotReject(promiseFn, expected, message) {
  let promise;
  try {
    promise = promiseOf(promiseFn);
  } catch (thrown) {
    return Promise.reject(thrown);
  }
  return promise.then(() => {}, (caught) => unwantedError(caught, expected, message, "doesNotReject"));
}

// ---- strictEqual's own message: a diff of the inspected values, or of the
// strings themselves line by line.

function strictEqualMessage(actual, expected) {
  const actualText = inspect(actual);
  const expectedText = inspect(expected);
  if (actualText === expectedText) {
    const indented = actualText.split("\n").map((line) => `    ${line}`).join("\n");
    return `Values have the same structure but are not reference-equal:\n\n${indented}\n`;
  }
  const stringDiff = typeof actual === "string" && typeof expected === "string";
  const changes = stringDiff ? diffStrings(actual, expected) : diffLists(actualText.split("\n"), expectedText.split("\n"));
  const rows = changes.map(({ type, value, shown = value }) => `${SIGNS[type]}${shown}`);
  // String rows end with their own line breaks.
  const body = stringDiff ? rows.join("") : rows.join("\n");
  return `Values are not strictly equal:\n\n\n[Diff] Actual / Expected\n\n\n${body}\n`;
}

// Actual-only items are "removed" and expected-only ones "added".
const SIGNS = { removed: "-   ", added: "+   ", common: "    " };

/**
 * The shortest edit script between two lists (Wu, Manber, Myers and Miller's
 * O(NP) algorithm), as [{ type: "common" | "removed" | "added", value }] in
 * order, `removed` being items only in `a`, `added` items only in `b`.
 */
function diffLists(a, b) {
  let prefix = 0;
  while (prefix < a.length && prefix < b.length && a[prefix] === b[prefix]) prefix++;
  let suffix = 0;
  while (suffix < a.length - prefix && suffix < b.length - prefix &&
    a[a.length - 1 - suffix] === b[b.length - 1 - suffix]) suffix++;
  const common = (value) => ({ type: "common", value });
  const head = a.slice(0, prefix).map(common);
  const tail = a.slice(a.length - suffix).map(common);
  const middleA = a.slice(prefix, a.length - suffix);
  const middleB = b.slice(prefix, b.length - suffix);

  // The algorithm walks the longer list along x and the shorter along y.
  const swapped = middleB.length > middleA.length;
  const [long, short] = swapped ? [middleB, middleA] : [middleA, middleB];
  const longOnly = swapped ? "added" : "removed";
  const shortOnly = swapped ? "removed" : "added";
  if (short.length === 0) return [...head, ...long.map((value) => ({ type: longOnly, value })), ...tail];

  const M = long.length;
  const N = short.length;
  const delta = M - N;
  // furthest[k + N]: the furthest point reached on diagonal k = x - y, with
  // the edit path that led there (a linked list, newest step first).
  const furthest = new Array(M + N + 1).fill(null);
  const at = (k) => (k < -N || k > M ? null : furthest[k + N]);

  const advance = (k) => {
    if (k < -N || k > M) return null;
    const fromLeft = at(k - 1); // one more item of `long`
    const fromAbove = at(k + 1); // one more item of `short`
    let point;
    if (fromLeft === null && fromAbove === null) {
      point = { y: 0, path: null };
    } else if (fromLeft !== null && (fromAbove === null || k === M || fromLeft.y > fromAbove.y + 1)) {
      point = { y: fromLeft.y, path: { type: longOnly, value: long[fromLeft.y + k - 1], next: fromLeft.path } };
    } else {
      point = { y: fromAbove.y + 1, path: { type: shortOnly, value: short[fromAbove.y], next: fromAbove.path } };
    }
    while (point.y + k < M && point.y < N && long[point.y + k] === short[point.y]) {
      point.path = { type: "common", value: long[point.y + k], next: point.path };
      point.y++;
    }
    return point;
  };

  for (let p = 0; at(delta)?.y !== N; p++) {
    for (let k = -p; k < delta; k++) furthest[k + N] = advance(k);
    for (let k = delta + p; k > delta; k--) furthest[k + N] = advance(k);
    furthest[delta + N] = advance(delta);
  }

  const middle = [];
  for (let step = furthest[delta + N].path; step !== null; step = step.next) {
    middle.unshift({ type: step.type, value: step.value });
  }
  return [...head, ...middle, ...tail];
}

/** Splits a line into words, runs of spaces, brackets, quotes and other characters. */
function words(line) {
  const tokens = line.split(/([^\S\r\n]+|[()[\]{}'"\r\n]|\b)/);
  // \b splits accented words ("cafe"); join letters split that way again.
  const letters = /^[a-zA-Z\u{C0}-\u{FF}\u{D8}-\u{F6}\u{F8}-\u{2C6}\u{2C8}-\u{2D7}\u{2DE}-\u{2FF}\u{1E00}-\u{1EFF}]+$/u;
  for (let i = 0; i < tokens.length - 1; i++) {
    if (!tokens[i + 1] && tokens[i + 2] && letters.test(tokens[i]) && letters.test(tokens[i + 2])) {
      tokens.splice(i, 3, tokens[i] + tokens[i + 2]);
      i--;
    }
  }
  return tokens.filter((token) => token);
}

/**
 * The line diff of two strings, with invisible characters escaped and each
 * line keeping its line break.
 */
function diffStrings(actual, expected) {
  const escape = (text) => text
    .replaceAll("\b", "\\b")
    .replaceAll("\f", "\\f")
    .replaceAll("\t", "\\t")
    .replaceAll("\v", "\\v")
    .replace(/\r\n|\r|\n/g, (brk) => ({ "\r": "\\r", "\n": "\\n\n", "\r\n": "\\r\\n\r\n" })[brk]);
  const lines = (text) => text.match(/[^\n]*?(\r\n|\n)|[^\n]+$/g) ?? [];
  const changes = diffLists(lines(`${escape(actual)}\n`), lines(`${escape(expected)}\n`));

  // workerd pairs each changed line of the side with fewer changes with a
  // changed line of the other side sharing a word (or the last one tried),
  // and shows each of the two with the other's words: their texts trade
  // places when the expected side has fewer changed lines. A line left
  // without a partner shows empty.
  const removed = changes.filter(({ type }) => type === "removed");
  const added = changes.filter(({ type }) => type === "added");
  const fewer = added.length < removed.length ? added : removed;
  const others = fewer === removed ? added : removed;
  for (const line of fewer) {
    let partner;
    while (others.length > 0) {
      partner = others.shift();
      const shared = diffLists(words(line.value), words(partner.value))
        .some(({ type, value }) => type === "common" && value.trim().length > 0);
      if (shared) break;
    }
    if (partner === undefined) {
      line.shown = "";
    } else if (fewer === added) {
      [line.shown, partner.shown] = [partner.value, line.value];
    }
  }
  return changes;
}

// ---- Assert instances and the module's default export.

// Assertions shared by Assert.prototype, assert.strict and the default export.
const sharedAssertions = {
  fail,
  deepStrictEqual,
  notDeepStrictEqual,
  strictEqual,
  notStrictEqual,
  partialDeepStrictEqual,
  match,
  doesNotMatch,
  throws,
  rejects,
  doesNotThrow,
  doesNotReject,
  ifError,
};

/**
 * `new Assert({ strict = true, skipPrototype = false, diff })`: assertions
 * bound to options. A function rather than a class so that its prototype's
 * methods are enumerable, as in workerd.
 */
export function Assert(options) {
  if (!new.target) {
    throw nodeError(TypeError, "ERR_CONSTRUCT_CALL_REQUIRED", "Class constructor Assert cannot be invoked without `new`");
  }
  const settings = { __proto__: null, strict: true, skipPrototype: false, ...options };
  if (settings.diff !== undefined) validateOneOf(settings.diff, "options.diff", ["simple", "full"]);
  this.AssertionError = AssertionError;
  Object.defineProperty(this, kOptions, { value: settings });
  if (settings.strict) {
    this.equal = this.strictEqual;
    this.deepEqual = this.deepStrictEqual;
    this.notEqual = this.notStrictEqual;
    this.notDeepEqual = this.notDeepStrictEqual;
  }
}

Object.assign(Assert.prototype, {
  ...sharedAssertions,
  // Its own function: `assert` itself carries the module's properties.
  ok(...args) {
    assert(...args);
  },
  equal: looseEqual,
  notEqual: looseNotEqual,
  deepEqual: looseDeepEqual,
  notDeepEqual: looseNotDeepEqual,
});

Object.assign(strict, {
  ...sharedAssertions,
  Assert,
  AssertionError,
  ok,
  strict,
  equal: strictEqual,
  notEqual: notStrictEqual,
  deepEqual: deepStrictEqual,
  notDeepEqual: notDeepStrictEqual,
});

export default Object.assign(assert, {
  ...sharedAssertions,
  Assert,
  AssertionError,
  ok,
  strict,
  equal,
  notEqual,
  deepEqual,
  notDeepEqual,
});
