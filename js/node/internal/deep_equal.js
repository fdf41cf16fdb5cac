// Deep equality with Node's rules, shared by node:assert (deepEqual,
// deepStrictEqual, partialDeepStrictEqual) and node:util (isDeepStrictEqual).
//
// Strict mode compares primitives with Object.is (so NaN equals NaN and -0
// differs from +0), requires equal prototypes and compares enumerable symbol
// keys. Loose mode compares primitives with == and ignores prototypes and
// symbol keys. Both modes compare only own enumerable properties, plus the
// internal state of the built-in types (Date time, RegExp source/flags/
// lastIndex, Error name/message, boxed values, bytes of buffers and typed
// arrays, entries of Maps and Sets), and they handle circular structures.

const STRICT = "strict";
const LOOSE = "loose";
// Strict, except that prototypes may differ (the `skipPrototype` option).
const STRICT_ANY_PROTOTYPE = "strict-any-prototype";

/**
 * Node's `util.isDeepStrictEqual` / `assert.deepStrictEqual` test; with
 * `{ skipPrototype: true }` the prototypes of objects are not compared.
 */
export function isDeepStrictEqual(a, b, options = undefined) {
  return deepEqual(a, b, options?.skipPrototype ? STRICT_ANY_PROTOTYPE : STRICT, []);
}

/** Node's `assert.deepEqual` (loose) test. */
export function isDeepEqual(a, b) {
  return deepEqual(a, b, LOOSE, []);
}

/**
 * `assert.partialDeepStrictEqual`: does `actual` hold everything `expected`
 * has? Objects may have more keys (inherited ones count), arrays more items
 * after expected's, Sets and Maps more entries. Compared the way workerd
 * does: Dates, RegExps and Errors as wholes, Set values and Map keys with
 * full deep strict equality.
 */
export function isPartialDeepStrictEqual(actual, expected) {
  return partialEqual(actual, expected, []);
}

// ---- Brand checks. These read internal slots, so unlike `instanceof` they
// work across realms and are not fooled by a forged prototype.

function hasSlot(method, value) {
  try {
    method.call(value);
    return true;
  } catch {
    return false;
  }
}

const getterOf = (proto, name) => Object.getOwnPropertyDescriptor(proto, name).get;
const mapSize = getterOf(Map.prototype, "size");
const setSize = getterOf(Set.prototype, "size");
const regExpSource = getterOf(RegExp.prototype, "source");
const arrayBufferLength = getterOf(ArrayBuffer.prototype, "byteLength");
const sharedArrayBufferLength = typeof SharedArrayBuffer === "function"
  ? getterOf(SharedArrayBuffer.prototype, "byteLength")
  : null;
const typedArrayTag = getterOf(Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag);

const isDate = (v) => hasSlot(Date.prototype.getTime, v);
const isMap = (v) => hasSlot(mapSize, v);
const isSet = (v) => hasSlot(setSize, v);
// RegExp.prototype's own `source` getter answers for the prototype too, which
// is not a RegExp.
const isRegExp = (v) => v !== RegExp.prototype && hasSlot(regExpSource, v);
const isAnyArrayBuffer = (v) =>
  hasSlot(arrayBufferLength, v) || (sharedArrayBufferLength !== null && hasSlot(sharedArrayBufferLength, v));
const isError = (v) => v instanceof Error || Object.prototype.toString.call(v) === "[object Error]";

// The boxed primitive kinds, each with the valueOf that unwraps it.
const BOXES = [Number, String, Boolean, BigInt, Symbol].map((Type) => Type.prototype.valueOf);

function boxedValueOf(value) {
  for (const valueOf of BOXES) {
    if (hasSlot(valueOf, value)) return valueOf;
  }
  return null;
}

function isSpecial(v) {
  return Array.isArray(v) || ArrayBuffer.isView(v) || isMap(v) || isSet(v) || isDate(v) ||
    isRegExp(v) || isAnyArrayBuffer(v) || boxedValueOf(v) !== null || isError(v);
}

// ---- The comparison.

// Views longer than this (in bytes) have only their contents compared.
const MAX_VIEW_KEY_SCAN = 1 << 16;

function isObjectLike(v) {
  return typeof v === "object" && v !== null;
}

function deepEqual(a, b, mode, inProgress) {
  if (a === b) return a !== 0 || mode === LOOSE || Object.is(a, b);

  if (mode !== LOOSE) {
    if (!isObjectLike(a) || !isObjectLike(b)) {
      return typeof a === "number" && Number.isNaN(a) && Number.isNaN(b);
    }
    if (mode === STRICT && Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  } else {
    if (!isObjectLike(a) || !isObjectLike(b)) {
      if (isObjectLike(a) || isObjectLike(b)) return false;
      // eslint-disable-next-line eqeqeq -- loose mode is ==.
      return a == b || (Number.isNaN(a) && Number.isNaN(b));
    }
  }

  const tag = Object.prototype.toString.call(a);
  if (tag !== Object.prototype.toString.call(b)) return false;

  if (isInProgress(inProgress, a, b)) return true;
  inProgress.push(a, b);
  try {
    return objectsEqual(a, b, tag, mode, inProgress);
  } finally {
    inProgress.pop();
    inProgress.pop();
  }
}

/**
 * Whether the pair (a, b) is already being compared further up: a cycle.
 * It then counts as equal here; if the two differ, the comparison in
 * progress finds it. `inProgress` holds those pairs flattened, as many as
 * the nesting is deep.
 */
function isInProgress(inProgress, a, b) {
  for (let i = 0; i < inProgress.length; i += 2) {
    if (inProgress[i] === a && inProgress[i + 1] === b) return true;
  }
  return false;
}

function objectsEqual(a, b, tag, mode, inProgress) {
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    return keysEqual(a, b, mode, inProgress, true) && arrayItemsEqual(a, b, mode, inProgress);
  }
  // Plain objects and class instances (the common case) hold only keys.
  if (tag === "[object Object]") return keysEqual(a, b, mode, inProgress);
  if (ArrayBuffer.isView(a)) {
    if (!ArrayBuffer.isView(b) || !viewsEqual(a, b, mode)) return false;
    // Listing a typed array's keys lists every index (JavaScript cannot list
    // only the others), which takes seconds for megabytes; the extra keys of
    // big views, all but unheard of, go unchecked.
    if (a.byteLength > MAX_VIEW_KEY_SCAN) return true;
    return keysEqual(a, b, mode, inProgress, true);
  }
  if (isMap(a)) {
    return isMap(b) && a.size === b.size && mapsEqual(a, b, mode, inProgress) && keysEqual(a, b, mode, inProgress);
  }
  if (isSet(a)) {
    return isSet(b) && a.size === b.size && setsEqual(a, b, mode, inProgress) && keysEqual(a, b, mode, inProgress);
  }
  if (isDate(a)) {
    if (!isDate(b) || Date.prototype.getTime.call(a) !== Date.prototype.getTime.call(b)) return false;
  } else if (isRegExp(a)) {
    if (!isRegExp(b) || a.source !== b.source || a.flags !== b.flags || a.lastIndex !== b.lastIndex) {
      return false;
    }
  } else if (isError(a)) {
    // The stack is left out: equal errors made at different places differ there.
    if (!isError(b) || a.message !== b.message || a.name !== b.name) return false;
  } else if (isAnyArrayBuffer(a)) {
    if (!isAnyArrayBuffer(b) || !bytesEqual(new Uint8Array(a), new Uint8Array(b))) return false;
  } else if (boxedValueOf(a) !== null) {
    const valueOf = boxedValueOf(a);
    if (boxedValueOf(b) !== valueOf || !Object.is(valueOf.call(a), valueOf.call(b))) return false;
  } else if (isSpecial(b)) {
    return false;
  }
  return keysEqual(a, b, mode, inProgress);
}

function isIndex(key) {
  return typeof key === "string" && /^(0|[1-9]\d*)$/.test(key) && Number(key) < 2 ** 32 - 1;
}

/** Own enumerable keys the mode compares (symbols only when strict). */
function comparedKeys(object, mode) {
  const keys = Object.keys(object);
  if (mode !== LOOSE) {
    for (const symbol of Object.getOwnPropertySymbols(object)) {
      if (Object.prototype.propertyIsEnumerable.call(object, symbol)) keys.push(symbol);
    }
  }
  return keys;
}

/** The keys after an array's indices (the items are compared apart). */
function afterIndices(keys) {
  // Own keys list array indices first.
  let start = keys.length;
  while (start > 0 && !isIndex(keys[start - 1])) start--;
  return keys.slice(start);
}

/** Compares own enumerable properties; `indexed` leaves out array indices. */
function keysEqual(a, b, mode, inProgress, indexed = false) {
  let keysA = comparedKeys(a, mode);
  let keysB = comparedKeys(b, mode);
  if (indexed) {
    keysA = afterIndices(keysA);
    keysB = afterIndices(keysB);
  }
  if (keysA.length !== keysB.length) return false;
  for (const key of keysA) {
    if (!Object.prototype.propertyIsEnumerable.call(b, key)) return false;
  }
  for (const key of keysA) {
    if (!deepEqual(a[key], b[key], mode, inProgress)) return false;
  }
  return true;
}

function arrayItemsEqual(a, b, mode, inProgress) {
  for (let i = 0; i < a.length; i++) {
    // A hole differs from an undefined item.
    if (Object.hasOwn(a, i) !== Object.hasOwn(b, i)) return false;
    if (!deepEqual(a[i], b[i], mode, inProgress)) return false;
  }
  return true;
}

function viewsEqual(a, b, mode) {
  if (typedArrayTag.call(a) !== typedArrayTag.call(b)) return false;
  if (a.byteLength !== b.byteLength) return false;
  // Loose mode compares float arrays by value (0 equals -0, NaN never equals
  // NaN); everything else compares by bytes.
  if (mode === LOOSE && /^Float(16|32|64)Array$/.test(typedArrayTag.call(a))) {
    for (let i = 0; i < a.length; i++) {
      if (a[i] !== b[i]) return false;
    }
    return true;
  }
  return bytesEqual(
    new Uint8Array(a.buffer, a.byteOffset, a.byteLength),
    new Uint8Array(b.buffer, b.byteOffset, b.byteLength),
  );
}

function bytesEqual(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return false;
  }
  return true;
}

/**
 * Removes from `pending` the first value deep-equal to `value` (as judged by
 * `matches`); false when there is none. Used for the entries of Sets and Maps
 * that `has`/`get` cannot find because equality is deep or loose.
 */
function takeMatch(pending, matches) {
  for (const candidate of pending) {
    if (matches(candidate)) {
      pending.delete(candidate);
      return true;
    }
  }
  return false;
}

function setsEqual(a, b, mode, inProgress) {
  // Values of `a` that `b.has` cannot find: objects, and in loose mode
  // primitives that may still equal one of `b`'s (1 == "1").
  const pending = new Set();
  for (const value of a) {
    if (isObjectLike(value)) {
      pending.add(value);
    } else if (!b.has(value)) {
      if (mode !== LOOSE) return false;
      pending.add(value);
    }
  }
  if (pending.size === 0) return true;
  for (const value of b) {
    const needsMatch = isObjectLike(value) || (mode === LOOSE && !a.has(value));
    if (needsMatch && !takeMatch(pending, (candidate) => deepEqual(candidate, value, mode, inProgress))) {
      return false;
    }
  }
  return pending.size === 0;
}

function mapsEqual(a, b, mode, inProgress) {
  // Keys of `a` whose entry `b.get` cannot confirm.
  const pending = new Set();
  for (const [key, value] of a) {
    if (isObjectLike(key)) {
      pending.add(key);
    } else if (!b.has(key) || !deepEqual(value, b.get(key), mode, inProgress)) {
      if (mode !== LOOSE) return false;
      pending.add(key);
    }
  }
  if (pending.size === 0) return true;
  for (const [key, value] of b) {
    const needsMatch = isObjectLike(key) ||
      (mode === LOOSE && (!a.has(key) || !deepEqual(a.get(key), value, mode, inProgress)));
    const entryMatches = (candidate) =>
      deepEqual(candidate, key, mode, inProgress) && deepEqual(a.get(candidate), value, mode, inProgress);
    if (needsMatch && !takeMatch(pending, entryMatches)) return false;
  }
  return pending.size === 0;
}

function partialEqual(actual, expected, inProgress) {
  if (!isObjectLike(expected)) return Object.is(actual, expected);
  if (!isObjectLike(actual)) return false;

  if (isInProgress(inProgress, actual, expected)) return true;
  inProgress.push(actual, expected);
  try {
    return partialObjectsEqual(actual, expected, inProgress);
  } finally {
    inProgress.pop();
    inProgress.pop();
  }
}

function partialObjectsEqual(actual, expected, inProgress) {
  if (expected instanceof Date) {
    return actual instanceof Date && actual.getTime() === expected.getTime();
  }
  if (expected instanceof RegExp) {
    return actual instanceof RegExp && actual.source === expected.source &&
      actual.flags === expected.flags && actual.lastIndex === expected.lastIndex;
  }
  if (expected instanceof Error) {
    return actual instanceof Error && actual.name === expected.name && actual.message === expected.message;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return false;
    for (let i = 0; i < expected.length; i++) {
      if (i in expected && (!(i in actual) || !partialEqual(actual[i], expected[i], inProgress))) return false;
    }
    return true;
  }
  if (expected instanceof Set) {
    if (!(actual instanceof Set)) return false;
    for (const value of expected) {
      if (![...actual].some((candidate) => isDeepStrictEqual(value, candidate))) return false;
    }
    return true;
  }
  if (expected instanceof Map) {
    if (!(actual instanceof Map)) return false;
    for (const [key, value] of expected) {
      // The first key of `actual` equal to this one decides.
      const entry = [...actual].find(([candidate]) => isDeepStrictEqual(key, candidate));
      if (entry === undefined || !partialEqual(entry[1], value, inProgress)) return false;
    }
    return true;
  }
  if (Object.getPrototypeOf(actual) !== Object.getPrototypeOf(expected)) return false;
  return comparedKeys(expected, STRICT).every((key) => key in actual && partialEqual(actual[key], expected[key], inProgress));
}
