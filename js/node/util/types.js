// node:util/types: predicates telling built-in objects apart. Each check
// reads an internal slot the way the engine would (a brand-checking getter
// or method called on the value inside try/catch), so forged prototypes,
// Symbol.toStringTag and subclasses do not fool it.
//
// isProxy asks the engine (deno_core). Plain JavaScript cannot see the rest
// of what V8 can: whether an object is a promise, an
// iterator or a generator object without side effects (those checks look
// at the prototype chain), or a V8 External (never, in a worker).

import { core } from "ext:core/mod.js";

const getter = (proto, key) => Object.getOwnPropertyDescriptor(proto, key).get;

/** True when `method` accepts `value` as its receiver (it has the slot). */
function hasSlot(method, value, ...args) {
  if (value === null || (typeof value !== "object" && typeof value !== "function")) return false;
  try {
    method.call(value, ...args);
    return true;
  } catch {
    return false;
  }
}

const TypedArray = Object.getPrototypeOf(Uint8Array);
const typedArrayTag = getter(TypedArray.prototype, Symbol.toStringTag);
const arrayBufferByteLength = getter(ArrayBuffer.prototype, "byteLength");
const sharedArrayBufferByteLength = typeof SharedArrayBuffer === "function"
  ? getter(SharedArrayBuffer.prototype, "byteLength")
  : undefined;
// `buffer`, unlike `byteLength`, does not throw for a view on a detached buffer.
const dataViewBuffer = getter(DataView.prototype, "buffer");
const mapSize = getter(Map.prototype, "size");
const setSize = getter(Set.prototype, "size");
const regExpGlobal = getter(RegExp.prototype, "global");

const AsyncFunctionPrototype = Object.getPrototypeOf(async function () {});
const GeneratorFunctionPrototype = Object.getPrototypeOf(function* () {});
const AsyncGeneratorFunctionPrototype = Object.getPrototypeOf(async function* () {});
const GeneratorPrototype = GeneratorFunctionPrototype.prototype;
const AsyncGeneratorPrototype = AsyncGeneratorFunctionPrototype.prototype;
const MapIteratorPrototype = Object.getPrototypeOf(new Map().entries());
const SetIteratorPrototype = Object.getPrototypeOf(new Set().values());

/** The kind of a typed array ("Uint8Array", ...), or undefined. */
function typedArrayKind(value) {
  return typedArrayTag.call(value);
}

export function isTypedArray(value) {
  return typedArrayKind(value) !== undefined;
}

export const isUint8Array = (value) => typedArrayKind(value) === "Uint8Array";
export const isUint8ClampedArray = (value) => typedArrayKind(value) === "Uint8ClampedArray";
export const isUint16Array = (value) => typedArrayKind(value) === "Uint16Array";
export const isUint32Array = (value) => typedArrayKind(value) === "Uint32Array";
export const isInt8Array = (value) => typedArrayKind(value) === "Int8Array";
export const isInt16Array = (value) => typedArrayKind(value) === "Int16Array";
export const isInt32Array = (value) => typedArrayKind(value) === "Int32Array";
export const isFloat16Array = (value) => typedArrayKind(value) === "Float16Array";
export const isFloat32Array = (value) => typedArrayKind(value) === "Float32Array";
export const isFloat64Array = (value) => typedArrayKind(value) === "Float64Array";
export const isBigInt64Array = (value) => typedArrayKind(value) === "BigInt64Array";
export const isBigUint64Array = (value) => typedArrayKind(value) === "BigUint64Array";

export function isArrayBufferView(value) {
  return ArrayBuffer.isView(value);
}

export function isArrayBuffer(value) {
  return hasSlot(arrayBufferByteLength, value);
}

export function isSharedArrayBuffer(value) {
  return sharedArrayBufferByteLength !== undefined && hasSlot(sharedArrayBufferByteLength, value);
}

export function isAnyArrayBuffer(value) {
  return isArrayBuffer(value) || isSharedArrayBuffer(value);
}

export function isDataView(value) {
  return hasSlot(dataViewBuffer, value);
}

export function isMap(value) {
  return hasSlot(mapSize, value);
}

export function isSet(value) {
  return hasSlot(setSize, value);
}

export function isWeakMap(value) {
  return hasSlot(WeakMap.prototype.has, value, {});
}

export function isWeakSet(value) {
  return hasSlot(WeakSet.prototype.has, value, {});
}

export function isDate(value) {
  return hasSlot(Date.prototype.getTime, value);
}

export function isRegExp(value) {
  if (value === null || typeof value !== "object") return false;
  // The `global` getter answers undefined for RegExp.prototype itself and
  // throws for any other object without the regexp slot.
  try {
    return typeof regExpGlobal.call(value) === "boolean";
  } catch {
    return false;
  }
}

// Boxed primitives: the valueOf of their type accepts only them (and primitives).
export function isNumberObject(value) {
  return typeof value === "object" && hasSlot(Number.prototype.valueOf, value);
}

export function isStringObject(value) {
  return typeof value === "object" && hasSlot(String.prototype.valueOf, value);
}

export function isBooleanObject(value) {
  return typeof value === "object" && hasSlot(Boolean.prototype.valueOf, value);
}

export function isBigIntObject(value) {
  return typeof value === "object" && hasSlot(BigInt.prototype.valueOf, value);
}

export function isSymbolObject(value) {
  return typeof value === "object" && hasSlot(Symbol.prototype.valueOf, value);
}

export function isBoxedPrimitive(value) {
  return isNumberObject(value) || isStringObject(value) || isBooleanObject(value) ||
    isBigIntObject(value) || isSymbolObject(value);
}

export function isNativeError(value) {
  if (typeof Error.isError === "function") return Error.isError(value);
  // Without Error.isError: only objects with the error slot get the
  // "Error" builtin tag, unless a Symbol.toStringTag overrides it.
  return value !== null && typeof value === "object" &&
    Object.prototype.toString.call(value) === "[object Error]" && !(Symbol.toStringTag in value);
}

export function isArgumentsObject(value) {
  return value !== null && typeof value === "object" &&
    Object.prototype.toString.call(value) === "[object Arguments]" && !(Symbol.toStringTag in value);
}

/** Native functions print as `[native code]`; none is async or a generator. */
function isSourceFunction(fn) {
  return !/\{\s*\[native code\]\s*\}$/.test(Function.prototype.toString.call(fn));
}

export function isAsyncFunction(value) {
  if (typeof value !== "function") return false;
  const proto = Object.getPrototypeOf(value);
  return (proto === AsyncFunctionPrototype || proto === AsyncGeneratorFunctionPrototype) &&
    isSourceFunction(value);
}

export function isGeneratorFunction(value) {
  if (typeof value !== "function") return false;
  const proto = Object.getPrototypeOf(value);
  return (proto === GeneratorFunctionPrototype || proto === AsyncGeneratorFunctionPrototype) &&
    isSourceFunction(value);
}

// Promises, iterators and generator objects have no side-effect-free brand
// check in JavaScript (their methods settle or advance them), so these look
// at the prototype chain and the builtin tag.
const inChain = (proto, value) =>
  value !== null && typeof value === "object" && Object.prototype.isPrototypeOf.call(proto, value);

export function isGeneratorObject(value) {
  return inChain(GeneratorPrototype, value) || inChain(AsyncGeneratorPrototype, value);
}

export function isMapIterator(value) {
  return inChain(MapIteratorPrototype, value);
}

export function isSetIterator(value) {
  return inChain(SetIteratorPrototype, value);
}

export function isPromise(value) {
  return inChain(Promise.prototype, value) && Object.prototype.toString.call(value) === "[object Promise]";
}

export function isModuleNamespaceObject(value) {
  if (value === null || typeof value !== "object" || Object.getPrototypeOf(value) !== null ||
      Object.isExtensible(value)) {
    return false;
  }
  const tag = Object.getOwnPropertyDescriptor(value, Symbol.toStringTag);
  return tag !== undefined && tag.value === "Module" && !tag.writable && !tag.enumerable && !tag.configurable;
}

/** The engine knows a proxy (deno_core's getProxyDetails). */
export function isProxy(value) {
  return (typeof value === "object" || typeof value === "function") && value !== null &&
    core.getProxyDetails(value) !== null;
}

/** V8 Externals never reach a worker's JavaScript. */
export function isExternal(value) {
  return false;
}

const cryptoKeyType = typeof CryptoKey === "function"
  ? Object.getOwnPropertyDescriptor(CryptoKey.prototype, "type")?.get
  : undefined;

export function isCryptoKey(value) {
  if (cryptoKeyType === undefined) return typeof CryptoKey === "function" && value instanceof CryptoKey;
  return hasSlot(cryptoKeyType, value);
}

/** node:crypto's KeyObject (and its Secret/Public/Private subclasses). */
export function isKeyObject(value) {
  if (value === null || typeof value !== "object") return false;
  for (let proto = Object.getPrototypeOf(value); proto !== null; proto = Object.getPrototypeOf(proto)) {
    const ctor = Object.getOwnPropertyDescriptor(proto, "constructor")?.value;
    if (typeof ctor === "function" && ctor.name === "KeyObject") return true;
  }
  return false;
}

export default {
  isCryptoKey,
  isKeyObject,
  isAsyncFunction,
  isGeneratorFunction,
  isGeneratorObject,
  isAnyArrayBuffer,
  isArrayBuffer,
  isArgumentsObject,
  isBoxedPrimitive,
  isDataView,
  isMap,
  isMapIterator,
  isModuleNamespaceObject,
  isNativeError,
  isPromise,
  isProxy,
  isSet,
  isSetIterator,
  isSharedArrayBuffer,
  isWeakMap,
  isWeakSet,
  isRegExp,
  isDate,
  isStringObject,
  isSymbolObject,
  isNumberObject,
  isBooleanObject,
  isBigIntObject,
  isArrayBufferView,
  isBigInt64Array,
  isBigUint64Array,
  isFloat16Array,
  isFloat32Array,
  isFloat64Array,
  isInt8Array,
  isInt16Array,
  isInt32Array,
  isTypedArray,
  isUint8Array,
  isUint8ClampedArray,
  isUint16Array,
  isUint32Array,
  isExternal,
};
