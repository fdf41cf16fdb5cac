// node:util. Owns util.inspect and util.format (Node's exact output, as
// workerd prints it: other modules import `inspect` from here for their
// messages), promisify/callbackify, inherits, debuglog, parseArgs, styleText,
// MIMEType/MIMEParams, util.diff, the system-error tables and the legacy
// `is*` helpers. `util.types` is node:util/types.
//
// Where workerd differs from Node, this follows workerd: debuglog loggers are
// enabled and print with console.log, deprecate() returns the function
// unchanged, symbol keys print without brackets (`{ Symbol(a): 1 }`). One
// exception: parseArgs, which workerd does not implement, follows Node.
//
// A promise's state, a proxy's target, the constructor an object was made
// by once its prototype is gone, and the entries of an iterator or a weak
// collection (which reading from JavaScript would consume) come from the
// engine: deno_core's getPromiseDetails, getProxyDetails and
// op_get_constructor_name, and Ridge's op_ridge_preview_entries.

import { core } from "ext:core/mod.js";
import { op_get_constructor_name, op_ridge_preview_entries } from "ext:core/ops";
import {
  describeReceived,
  invalidArgType,
  invalidArgValue,
  nodeError,
  outOfRange,
} from "./internal/errors.js";
import {
  validateAbortSignal,
  validateArray,
  validateBoolean,
  validateFunction,
  validateNumber,
  validateObject,
  validateOneOf,
  validateString,
} from "./internal/validators.js";
import { isDeepStrictEqual } from "./internal/deep_equal.js";
import types, {
  isAnyArrayBuffer,
  isArgumentsObject,
  isArrayBuffer,
  isAsyncFunction,
  isBigIntObject,
  isBooleanObject,
  isBoxedPrimitive,
  isDataView,
  isDate as isDateObject,
  isGeneratorFunction,
  isMap,
  isMapIterator,
  isModuleNamespaceObject,
  isNativeError,
  isNumberObject,
  isPromise,
  isRegExp as isRegExpObject,
  isSet,
  isSetIterator,
  isStringObject,
  isTypedArray,
  isUint8Array,
  isWeakMap,
  isWeakSet,
} from "./util/types.js";

export { isDeepStrictEqual, types };

// ---------------------------------------------------------------------------
// inspect

const customInspectSymbol = Symbol.for("nodejs.util.inspect.custom");

const inspectDefaultOptions = Object.seal({
  showHidden: false,
  depth: 2,
  colors: false,
  customInspect: true,
  showProxy: false,
  maxArrayLength: 100,
  maxStringLength: 10000,
  breakLength: 80,
  compact: 3,
  sorted: false,
  getters: false,
  numericSeparator: false,
});

// How a property is printed: as `key: value`, as an array element (value
// only), or as an extra key on an array-like (`key: value`, grouped after
// the elements).
const kObjectType = 0;
const kArrayType = 1;
const kArrayExtrasType = 2;

// No string is split into lines shorter than this.
const kMinLineLength = 16;

// Names of the JavaScript built-ins (and Buffer, a global in Node and in
// workerd with nodejs_compat). A prototype whose constructor has one of these
// names counts as built-in: its toString is not a custom one (util.format's
// %s), and showHidden stops collecting inherited properties there.
const builtInObjects = new Set([
  "AggregateError", "Array", "ArrayBuffer", "AsyncDisposableStack", "Atomics", "BigInt",
  "BigInt64Array", "BigUint64Array", "Boolean", "Buffer", "DataView", "Date", "DisposableStack",
  "Error", "EvalError", "FinalizationRegistry", "Float16Array", "Float32Array", "Float64Array",
  "Function", "Infinity", "Int16Array", "Int32Array", "Int8Array", "Intl", "Iterator", "JSON",
  "Map", "Math", "NaN", "Number", "Object", "Promise", "Proxy", "RangeError", "ReferenceError",
  "Reflect", "RegExp", "Set", "SharedArrayBuffer", "String", "SuppressedError", "Symbol",
  "SyntaxError", "TypeError", "URIError", "Uint16Array", "Uint32Array", "Uint8Array",
  "Uint8ClampedArray", "WeakMap", "WeakRef", "WeakSet", "WebAssembly",
]);

const getter = (proto, key) => Object.getOwnPropertyDescriptor(proto, key).get;
const TypedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype);
const typedArrayLength = getter(TypedArrayPrototype, "length");
const typedArrayKind = getter(TypedArrayPrototype, Symbol.toStringTag);
const setSize = getter(Set.prototype, "size");
const mapSize = getter(Map.prototype, "size");
const hasOwn = (object, key) => Object.prototype.hasOwnProperty.call(object, key);
const isEnumerable = (object, key) => Object.prototype.propertyIsEnumerable.call(object, key);

/** A native error, or anything inheriting from Error. */
function isErrorLike(value) {
  return isNativeError(value) || value instanceof Error;
}

// Strings are quoted with single quotes; with a single quote inside, with
// double quotes, then backticks, and only then escaped single quotes.
// Control characters, backslashes and lone surrogates are always escaped.
const escapeWithSingleQuote =
  /[\x00-\x1f\x27\x5c\x7f-\x9f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const escapeKeepSingleQuote =
  /[\x00-\x1f\x5c\x7f-\x9f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const namedEscapes = { 8: "\\b", 9: "\\t", 10: "\\n", 12: "\\f", 13: "\\r", 39: "\\'", 92: "\\\\" };

function escapeCharacter(character) {
  const code = character.charCodeAt(0);
  if (code in namedEscapes) return namedEscapes[code];
  if (code < 0xa0) return `\\x${code.toString(16).toUpperCase().padStart(2, "0")}`;
  return `\\u${code.toString(16)}`;
}

function quoteString(text) {
  let quote = "'";
  if (text.includes("'")) {
    if (!text.includes('"')) quote = '"';
    else if (!text.includes("`") && !text.includes("${")) quote = "`";
  }
  const pattern = quote === "'" ? escapeWithSingleQuote : escapeKeepSingleQuote;
  return `${quote}${text.replace(pattern, escapeCharacter)}${quote}`;
}

// Property names printed bare; others are quoted like strings.
const plainKey = /^[a-zA-Z_][a-zA-Z_0-9]*$/;
const arrayIndexKey = /^(0|[1-9][0-9]*)$/;
const classSignature = /^(\s+[^(]*?)\s*{/;
const sourceComments = /(\/\/.*?\n)|(\/\*(.|\n)*?\*\/)/g;
const nodeModulesPath = /[/\\]node_modules[/\\](.+?)(?=[/\\])/g;

function stylizeNoColor(text) {
  return text;
}

function stylizeWithColor(text, styleType) {
  const style = inspect.styles[styleType];
  if (style !== undefined) {
    const color = inspect.colors[style];
    if (color !== undefined) return `\u001b[${color[0]}m${text}\u001b[${color[1]}m`;
  }
  return text;
}

/**
 * Node's util.inspect: a readable representation of any value. Accepts an
 * options object, or the legacy positional (showHidden, depth, colors).
 */
export function inspect(value, opts) {
  const ctx = {
    ...inspectDefaultOptions,
    budget: {},
    indentationLvl: 0,
    seen: [],
    currentDepth: 0,
    stylize: stylizeNoColor,
    userOptions: undefined,
    circular: undefined,
  };
  if (arguments.length > 1) {
    if (arguments.length > 2) {
      if (arguments[2] !== undefined) ctx.depth = arguments[2];
      if (arguments.length > 3 && arguments[3] !== undefined) ctx.colors = arguments[3];
    }
    if (typeof opts === "boolean") {
      ctx.showHidden = opts;
    } else if (opts) {
      for (const key of Object.keys(opts)) {
        if (hasOwn(inspectDefaultOptions, key) || key === "stylize") {
          ctx[key] = opts[key];
        } else if (ctx.userOptions === undefined) {
          // Custom inspect functions get the caller's own options too.
          ctx.userOptions = opts;
        }
      }
    }
  }
  if (ctx.colors) ctx.stylize = stylizeWithColor;
  if (ctx.maxArrayLength === null) ctx.maxArrayLength = Infinity;
  if (ctx.maxStringLength === null) ctx.maxStringLength = Infinity;
  return formatValue(ctx, value, 0);
}

inspect.custom = customInspectSymbol;

Object.defineProperty(inspect, "defaultOptions", {
  get() {
    return inspectDefaultOptions;
  },
  set(options) {
    validateObject(options, "options");
    Object.assign(inspectDefaultOptions, options);
  },
});

// ANSI SGR codes: [start, end] of each style.
inspect.colors = {
  __proto__: null,
  reset: [0, 0],
  bold: [1, 22],
  dim: [2, 22],
  italic: [3, 23],
  underline: [4, 24],
  blink: [5, 25],
  inverse: [7, 27],
  hidden: [8, 28],
  strikethrough: [9, 29],
  doubleunderline: [21, 24],
  black: [30, 39],
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  blue: [34, 39],
  magenta: [35, 39],
  cyan: [36, 39],
  white: [37, 39],
  bgBlack: [40, 49],
  bgRed: [41, 49],
  bgGreen: [42, 49],
  bgYellow: [43, 49],
  bgBlue: [44, 49],
  bgMagenta: [45, 49],
  bgCyan: [46, 49],
  bgWhite: [47, 49],
  framed: [51, 54],
  overlined: [53, 55],
  gray: [90, 39],
  redBright: [91, 39],
  greenBright: [92, 39],
  yellowBright: [93, 39],
  blueBright: [94, 39],
  magentaBright: [95, 39],
  cyanBright: [96, 39],
  whiteBright: [97, 39],
  bgGray: [100, 49],
  bgRedBright: [101, 49],
  bgGreenBright: [102, 49],
  bgYellowBright: [103, 49],
  bgBlueBright: [104, 49],
  bgMagentaBright: [105, 49],
  bgCyanBright: [106, 49],
  bgWhiteBright: [107, 49],
};

// Aliases are accessors (not enumerable) so Object.keys lists each style once.
for (const [alias, target] of [
  ["grey", "gray"], ["blackBright", "gray"], ["bgGrey", "bgGray"], ["bgBlackBright", "bgGray"],
  ["faint", "dim"], ["crossedout", "strikethrough"], ["strikeThrough", "strikethrough"],
  ["crossedOut", "strikethrough"], ["conceal", "hidden"], ["swapColors", "inverse"],
  ["swapcolors", "inverse"], ["doubleUnderline", "doubleunderline"],
]) {
  Object.defineProperty(inspect.colors, alias, {
    get() {
      return this[target];
    },
    set(value) {
      this[target] = value;
    },
    configurable: true,
    enumerable: false,
  });
}

// Which color each kind of output gets with `colors: true`.
inspect.styles = {
  __proto__: null,
  special: "cyan",
  number: "yellow",
  bigint: "yellow",
  boolean: "yellow",
  undefined: "grey",
  null: "bold",
  string: "green",
  symbol: "green",
  date: "magenta",
  name: undefined,
  regexp: "red",
  module: "underline",
};

/** The options object a custom inspect function receives. */
function userOptions(ctx, crossContext) {
  const options = { stylize: ctx.stylize };
  for (const key of Object.keys(inspectDefaultOptions)) options[key] = ctx[key];
  Object.assign(options, ctx.userOptions);
  // An object not inheriting from this realm's Object gets no objects of
  // ours: only primitive options and a stylize that cannot leak our realm.
  if (crossContext) {
    Object.setPrototypeOf(options, null);
    for (const key of Object.keys(options)) {
      const option = options[key];
      if ((typeof option === "object" || typeof option === "function") && option !== null) {
        delete options[key];
      }
    }
    options.stylize = Object.setPrototypeOf((text, styleType) => {
      let styled;
      try {
        styled = `${ctx.stylize(text, styleType)}`;
      } catch {
        // Fall back to the unstyled text.
      }
      return typeof styled === "string" ? styled : text;
    }, null);
  }
  return options;
}

function formatValue(ctx, value, recurseTimes, typedArray) {
  if (typeof value !== "object" && typeof value !== "function") {
    return formatPrimitive(ctx.stylize, value, ctx);
  }
  if (value === null) return ctx.stylize("null", "null");
  if (isRevokedProxy(value)) return ctx.stylize("<Revoked Proxy>", "special");
  const proxy = core.getProxyDetails(value);
  if (proxy) {
    // Seen through, as workerd prints it; `showProxy` shows target and handler.
    if (ctx.showProxy) {
      const [target, handler] = proxy;
      return `Proxy [ ${formatValue(ctx, target, recurseTimes + 1)}, ${formatValue(ctx, handler, recurseTimes + 1)} ]`;
    }
    return `Proxy(${formatValue(ctx, proxy[0], recurseTimes)})`;
  }

  if (ctx.customInspect) {
    const custom = value[customInspectSymbol];
    // A prototype carrying the method for its instances is printed as itself.
    if (typeof custom === "function" && custom !== inspect &&
        !(value.constructor && value.constructor.prototype === value)) {
      const depth = ctx.depth === null ? null : ctx.depth - recurseTimes;
      const options = userOptions(ctx, !(value instanceof Object));
      const result = Reflect.apply(custom, value, [depth, options, inspect]);
      if (result !== value) {
        if (typeof result !== "string") return formatValue(ctx, result, recurseTimes);
        return result.replaceAll("\n", `\n${" ".repeat(ctx.indentationLvl)}`);
      }
    }
  }

  if (ctx.seen.includes(value)) {
    ctx.circular ??= new Map();
    let index = ctx.circular.get(value);
    if (index === undefined) {
      index = ctx.circular.size + 1;
      ctx.circular.set(value, index);
    }
    return ctx.stylize(`[Circular *${index}]`, "special");
  }

  return formatRaw(ctx, value, recurseTimes, typedArray);
}

/** Every operation on a revoked proxy throws; V8 says why. */
function isRevokedProxy(value) {
  try {
    Object.getPrototypeOf(value);
    return false;
  } catch (error) {
    return error instanceof TypeError && error.message.includes("revoked");
  }
}

function formatRaw(ctx, value, recurseTimes, typedArray) {
  let protoProps;
  if (ctx.showHidden && (ctx.depth === null || recurseTimes <= ctx.depth)) protoProps = [];
  const constructor = getConstructorName(value, ctx, recurseTimes, protoProps);
  if (protoProps !== undefined && protoProps.length === 0) protoProps = undefined;

  // A Symbol.toStringTag is shown unless it is an own property printed anyway.
  let tag = value[Symbol.toStringTag];
  if (typeof tag !== "string" ||
      (tag !== "" && (ctx.showHidden ? hasOwn : isEnumerable)(value, Symbol.toStringTag))) {
    tag = "";
  }

  let shape;
  if (Symbol.iterator in value || constructor === null) {
    shape = iterableShape(ctx, value, constructor, tag, protoProps);
  }
  shape ??= objectShape(ctx, value, recurseTimes, constructor, tag, protoProps, typedArray);
  if (typeof shape === "string") return shape;
  const { keys, braces, formatter, extrasType } = shape;
  let { base } = shape;

  if (ctx.depth !== null && recurseTimes > ctx.depth) {
    let name = contextPrefix(value, constructor, tag).slice(0, -1);
    if (constructor !== null) name = `[${name}]`;
    return ctx.stylize(name, "special");
  }
  recurseTimes += 1;

  ctx.seen.push(value);
  ctx.currentDepth = recurseTimes;
  let output;
  const indentationLvl = ctx.indentationLvl;
  try {
    output = formatter(ctx, value, recurseTimes);
    // Formatters may empty `keys` (namespaces) or extend it (errors).
    for (let i = 0; i < keys.length; i++) {
      output.push(formatProperty(ctx, value, recurseTimes, keys[i], extrasType));
    }
    if (protoProps !== undefined) output.push(...protoProps);
  } catch (error) {
    return interruptedByStackOverflow(ctx, error, contextPrefix(value, constructor, tag).slice(0, -1),
      indentationLvl);
  }

  if (ctx.circular !== undefined) {
    const index = ctx.circular.get(value);
    if (index !== undefined) {
      const reference = ctx.stylize(`<ref *${index}>`, "special");
      if (ctx.compact !== true) {
        base = base === "" ? reference : `${reference} ${base}`;
      } else {
        braces[0] = `${reference} ${braces[0]}`;
      }
    }
  }
  ctx.seen.pop();

  if (ctx.sorted) {
    const comparator = ctx.sorted === true ? undefined : ctx.sorted;
    if (extrasType === kObjectType) {
      output.sort(comparator);
    } else if (keys.length > 1) {
      // Only the extra keys of an array-like are sorted, not its elements.
      const sorted = output.slice(output.length - keys.length).sort(comparator);
      output.splice(output.length - keys.length, keys.length, ...sorted);
    }
  }

  const result = reduceToSingleString(ctx, output, base, braces, extrasType, recurseTimes, value);
  // Past ~128 MiB of output at one level, stop descending: the string would
  // soon exceed V8's maximum length.
  const budget = (ctx.budget[ctx.indentationLvl] ?? 0) + result.length;
  ctx.budget[ctx.indentationLvl] = budget;
  if (budget > 2 ** 27) ctx.depth = -1;
  return result;
}

const noEntries = () => [];

/**
 * Arrays, Sets, Maps, typed arrays and collection iterators: how to print
 * them, or the finished text when they are empty. Undefined for anything
 * else (an iterable that is none of these is printed as an object).
 */
function iterableShape(ctx, value, constructor, tag, protoProps) {
  const bare = protoProps === undefined;
  if (Array.isArray(value)) {
    // Only arrays that are not plain `Array`s say what they are.
    const prefix = constructor !== "Array" || tag !== ""
      ? getPrefix(constructor, tag, "Array", `(${value.length})`)
      : "";
    const keys = nonIndexKeys(value, ctx.showHidden);
    const braces = [`${prefix}[`, "]"];
    if (value.length === 0 && keys.length === 0 && bare) return `${braces[0]}]`;
    return { keys, braces, base: "", formatter: formatArray, extrasType: kArrayExtrasType };
  }
  if (isSet(value)) {
    const size = setSize.call(value);
    const prefix = getPrefix(constructor, tag, "Set", `(${size})`);
    const keys = getKeys(value, ctx.showHidden);
    if (size === 0 && keys.length === 0 && bare) return `${prefix}{}`;
    const entries = constructor !== null ? value : Set.prototype.values.call(value);
    return {
      keys,
      braces: [`${prefix}{`, "}"],
      base: "",
      formatter: (ctx, _, recurseTimes) => formatSet(ctx, entries, size, recurseTimes),
      extrasType: kObjectType,
    };
  }
  if (isMap(value)) {
    const size = mapSize.call(value);
    const prefix = getPrefix(constructor, tag, "Map", `(${size})`);
    const keys = getKeys(value, ctx.showHidden);
    if (size === 0 && keys.length === 0 && bare) return `${prefix}{}`;
    const entries = constructor !== null ? value : Map.prototype.entries.call(value);
    return {
      keys,
      braces: [`${prefix}{`, "}"],
      base: "",
      formatter: (ctx, _, recurseTimes) => formatMap(ctx, entries, size, recurseTimes),
      extrasType: kObjectType,
    };
  }
  if (isTypedArray(value)) {
    const keys = nonIndexKeys(value, ctx.showHidden);
    let elements = value;
    let fallback = "";
    if (constructor === null) {
      // Rebuild a normal typed array to read the elements from.
      fallback = typedArrayKind.call(value);
      elements = new globalThis[fallback](value);
    }
    const size = typedArrayLength.call(value);
    const braces = [`${getPrefix(constructor, tag, fallback, `(${size})`)}[`, "]"];
    if (size === 0 && keys.length === 0 && !ctx.showHidden) return `${braces[0]}]`;
    return {
      keys,
      braces,
      base: "",
      formatter: (ctx, _, recurseTimes) => formatTypedArray(ctx, elements, size, recurseTimes),
      extrasType: kArrayExtrasType,
    };
  }
  if (isMapIterator(value) || isSetIterator(value)) {
    const [entries, isKeyValue] = op_ridge_preview_entries(value) ?? [[], false];
    const braces = iteratorBraces(isMapIterator(value) ? "Map" : "Set", tag);
    // An iterator of [key, value] pairs shows as entries.
    if (isKeyValue) braces[0] = braces[0].replace(/ Iterator\] \{$/, " Entries] {");
    return {
      keys: getKeys(value, ctx.showHidden),
      braces,
      base: "",
      formatter: (ctx, _, recurseTimes) => isKeyValue
        ? formatPreviewPairs(ctx, entries, recurseTimes, false)
        : formatPreviewValues(ctx, entries, recurseTimes, false),
      extrasType: kObjectType,
    };
  }
  return undefined;
}

/** Every other object: functions, errors, dates, buffers, boxed values... */
function objectShape(ctx, value, recurseTimes, constructor, tag, protoProps, typedArray) {
  const bare = protoProps === undefined;
  const keys = getKeys(value, ctx.showHidden);
  const braces = ["{", "}"];
  let base = "";
  let formatter = noEntries;

  if (constructor === "Object") {
    if (isArgumentsObject(value)) {
      braces[0] = "[Arguments] {";
    } else if (tag !== "") {
      braces[0] = `${getPrefix(constructor, tag, "Object")}{`;
    }
    if (keys.length === 0 && bare) return `${braces[0]}}`;
  } else if (typeof value === "function") {
    base = functionBase(ctx, value, constructor, tag);
    if (keys.length === 0 && bare) return ctx.stylize(base, "special");
  } else if (isRegExpObject(value)) {
    base = RegExp.prototype.toString.call(constructor !== null ? value : new RegExp(value));
    const prefix = getPrefix(constructor, tag, "RegExp");
    if (prefix !== "RegExp ") base = `${prefix}${base}`;
    if ((keys.length === 0 && bare) || (ctx.depth !== null && recurseTimes > ctx.depth)) {
      return ctx.stylize(base, "regexp");
    }
  } else if (isDateObject(value)) {
    base = Number.isNaN(Date.prototype.getTime.call(value))
      ? Date.prototype.toString.call(value)
      : Date.prototype.toISOString.call(value);
    const prefix = getPrefix(constructor, tag, "Date");
    if (prefix !== "Date ") base = `${prefix}${base}`;
    if (keys.length === 0 && bare) return ctx.stylize(base, "date");
  } else if (isErrorLike(value)) {
    base = formatError(value, constructor, tag, ctx, keys);
    if (keys.length === 0 && bare) return base;
  } else if (isAnyArrayBuffer(value)) {
    const prefix = getPrefix(constructor, tag, isArrayBuffer(value) ? "ArrayBuffer" : "SharedArrayBuffer");
    // A typed array's buffer (showHidden) shows only its length.
    if (typedArray === undefined) {
      formatter = formatArrayBuffer;
    } else if (keys.length === 0 && bare) {
      return `${prefix}{ byteLength: ${formatNumber(ctx.stylize, value.byteLength, false)} }`;
    }
    braces[0] = `${prefix}{`;
    keys.unshift("byteLength");
  } else if (isDataView(value)) {
    braces[0] = `${getPrefix(constructor, tag, "DataView")}{`;
    // The buffer goes last: it is the only one that is not a number.
    keys.unshift("byteLength", "byteOffset", "buffer");
  } else if (isPromise(value)) {
    braces[0] = `${getPrefix(constructor, tag, "Promise")}{`;
    // The engine tells the state: 0 pending, 1 fulfilled, 2 rejected.
    formatter = (ctx, promise, recurseTimes) => {
      const [state, result] = core.getPromiseDetails(promise);
      if (state === 0) return [ctx.stylize("<pending>", "special")];
      ctx.indentationLvl += 2;
      const shown = formatValue(ctx, result, recurseTimes);
      ctx.indentationLvl -= 2;
      return [state === 2 ? `${ctx.stylize("<rejected>", "special")} ${shown}` : shown];
    };
  } else if (isWeakSet(value)) {
    braces[0] = `${getPrefix(constructor, tag, "WeakSet")}{`;
    formatter = weakFormatter((ctx, entries, recurseTimes) => formatPreviewValues(ctx, entries, recurseTimes, true));
  } else if (isWeakMap(value)) {
    braces[0] = `${getPrefix(constructor, tag, "WeakMap")}{`;
    formatter = weakFormatter((ctx, entries, recurseTimes) => formatPreviewPairs(ctx, entries, recurseTimes, true));
  } else if (isModuleNamespaceObject(value)) {
    braces[0] = `${getPrefix(constructor, tag, "Module")}{`;
    formatter = (ctx, namespace, recurseTimes) => formatNamespace(ctx, namespace, recurseTimes, keys);
  } else if (isBoxedPrimitive(value)) {
    base = boxedBase(value, ctx, keys, constructor, tag);
    if (keys.length === 0 && bare) return base;
  } else {
    if (keys.length === 0 && bare) return `${contextPrefix(value, constructor, tag)}{}`;
    braces[0] = `${contextPrefix(value, constructor, tag)}{`;
  }
  return { keys, braces, base, formatter, extrasType: kObjectType };
}

/** A weak collection's entries: shown only with showHidden (they may be
 * collected any time), sorted, as Node does. */
function weakFormatter(format) {
  return (ctx, collection, recurseTimes) => {
    if (!ctx.showHidden) return [ctx.stylize("<items unknown>", "special")];
    return format(ctx, op_ridge_preview_entries(collection)?.[0] ?? [], recurseTimes);
  };
}

/** Previewed values (a Set iterator, a WeakSet), up to maxArrayLength. */
function formatPreviewValues(ctx, entries, recurseTimes, sorted) {
  const shown = Math.min(Math.max(0, ctx.maxArrayLength), entries.length);
  ctx.indentationLvl += 2;
  const output = entries.slice(0, shown).map((entry) => formatValue(ctx, entry, recurseTimes));
  ctx.indentationLvl -= 2;
  if (sorted && !ctx.sorted) output.sort();
  if (entries.length > shown) output.push(moreItems(entries.length - shown));
  return output;
}

/** Previewed pairs, flat as V8 gives them (key, value, key, value...):
 * `[ key, value ]` for an iterator's entries, `key => value` for a WeakMap. */
function formatPreviewPairs(ctx, entries, recurseTimes, weak) {
  const pairs = entries.length / 2;
  const shown = Math.min(Math.max(0, ctx.maxArrayLength), pairs);
  const output = [];
  ctx.indentationLvl += 2;
  for (let i = 0; i < shown; i++) {
    const key = formatValue(ctx, entries[2 * i], recurseTimes);
    const entry = formatValue(ctx, entries[2 * i + 1], recurseTimes);
    output.push(weak
      ? `${key} => ${entry}`
      : reduceToSingleString(ctx, [key, entry], "", ["[", "]"], kArrayExtrasType, recurseTimes));
  }
  ctx.indentationLvl -= 2;
  if (weak && !ctx.sorted) output.sort();
  if (pairs > shown) output.push(moreItems(pairs - shown));
  return output;
}

function iteratorBraces(type, tag) {
  if (tag !== `${type} Iterator`) {
    if (tag !== "") tag += "] [";
    tag += `${type} Iterator`;
  }
  return [`[${tag}] {`, "}"];
}

function interruptedByStackOverflow(ctx, error, name, indentationLvl) {
  if (error instanceof RangeError && error.message === "Maximum call stack size exceeded") {
    ctx.seen.pop();
    ctx.indentationLvl = indentationLvl;
    return ctx.stylize(
      `[${name}: Inspection interrupted prematurely. Maximum call stack size exceeded.]`,
      "special");
  }
  // Anything else thrown while formatting a nested value surfaces as an
  // Error carrying the original stack, as on workerd.
  throw new Error(error?.stack ?? "Assertion failed");
}

/** `Name(size) [tag] ` or `[Fallback(size): null prototype] [tag] `. */
function getPrefix(constructor, tag, fallback, size = "") {
  if (constructor === null) {
    if (tag !== "" && fallback !== tag) return `[${fallback}${size}: null prototype] [${tag}] `;
    return `[${fallback}${size}: null prototype] `;
  }
  if (tag !== "" && constructor !== tag) return `${constructor}${size} [${tag}] `;
  return `${constructor}${size} `;
}

function contextPrefix(value, constructor, tag) {
  let fallback = "";
  if (constructor === null) {
    fallback = engineConstructorName(value);
    if (fallback === tag) fallback = "Object";
  }
  return getPrefix(constructor, tag, fallback);
}

/** The keys inspect prints: enumerable ones, or all with showHidden. */
function getKeys(value, showHidden) {
  const symbols = Object.getOwnPropertySymbols(value);
  let keys;
  if (showHidden) {
    keys = Object.getOwnPropertyNames(value);
    keys.push(...symbols);
    return keys;
  }
  try {
    keys = Object.keys(value);
  } catch (error) {
    // A namespace of a module not yet evaluated throws on Object.keys.
    if (!(error instanceof ReferenceError) || !isModuleNamespaceObject(value)) throw error;
    keys = Object.getOwnPropertyNames(value);
  }
  keys.push(...symbols.filter((symbol) => isEnumerable(value, symbol)));
  return keys;
}

// Listing an array's keys lists each of its indices too, at about a
// microsecond apiece. Past this length only symbol keys are looked for, so
// extra string keys of huge arrays are not shown (an engine op listing
// only non-index keys, as V8 can, would lift this).
const kMaxScannedLength = 2 ** 14;

const isArrayIndex = (key) => arrayIndexKey.test(key) && Number(key) < 2 ** 32 - 1;

/** Own keys of an array or typed array other than its indices. */
function nonIndexKeys(value, showHidden) {
  const isArray = Array.isArray(value);
  const length = isArray ? value.length : typedArrayLength.call(value);
  let keys;
  if (length <= kMaxScannedLength) {
    keys = (showHidden ? Object.getOwnPropertyNames(value) : Object.keys(value))
      .filter((key) => !isArrayIndex(key));
  } else {
    keys = showHidden && isArray ? ["length"] : [];
  }
  for (const symbol of Object.getOwnPropertySymbols(value)) {
    if (showHidden || isEnumerable(value, symbol)) keys.push(symbol);
  }
  return keys;
}

// Prototypes that answer for themselves, even with a tampered `constructor`.
const wellKnownPrototypes = new Map([
  [Array.prototype, ["Array", Array]],
  [ArrayBuffer.prototype, ["ArrayBuffer", ArrayBuffer]],
  [Function.prototype, ["Function", Function]],
  [Map.prototype, ["Map", Map]],
  [Set.prototype, ["Set", Set]],
  [Object.prototype, ["Object", Object]],
  [TypedArrayPrototype, ["TypedArray", Object.getPrototypeOf(Uint8Array)]],
  [RegExp.prototype, ["RegExp", RegExp]],
  [Date.prototype, ["Date", Date]],
  [DataView.prototype, ["DataView", DataView]],
  [Error.prototype, ["Error", Error]],
  [Boolean.prototype, ["Boolean", Boolean]],
  [Number.prototype, ["Number", Number]],
  [String.prototype, ["String", String]],
  [Promise.prototype, ["Promise", Promise]],
  [WeakMap.prototype, ["WeakMap", WeakMap]],
  [WeakSet.prototype, ["WeakSet", WeakSet]],
]);

function isInstanceof(value, constructor) {
  try {
    return value instanceof constructor;
  } catch {
    return false;
  }
}

/**
 * The name of the nearest constructor in `value`'s prototype chain that
 * `value` is an instance of; null when the chain ends without one. With
 * showHidden (`protoProps` set) it also collects inherited data properties.
 */
function getConstructorName(value, ctx, recurseTimes, protoProps) {
  let firstProto;
  let object = value;
  while (object) {
    const known = wellKnownPrototypes.get(object);
    if (known !== undefined && Function.prototype[Symbol.hasInstance].call(known[1], value)) {
      if (protoProps !== undefined && firstProto !== object) {
        addPrototypeProperties(ctx, value, firstProto || value, recurseTimes, protoProps);
      }
      return known[0];
    }
    const descriptor = Object.getOwnPropertyDescriptor(object, "constructor");
    if (descriptor !== undefined && typeof descriptor.value === "function" &&
        descriptor.value.name !== "" && isInstanceof(value, descriptor.value)) {
      if (protoProps !== undefined &&
          (firstProto !== object || !builtInObjects.has(descriptor.value.name))) {
        addPrototypeProperties(ctx, value, firstProto || value, recurseTimes, protoProps);
      }
      return String(descriptor.value.name);
    }
    object = Object.getPrototypeOf(object);
    if (firstProto === undefined) firstProto = object;
  }

  if (firstProto === null) return null;

  // The chain has prototypes but none names a constructor.
  const name = engineConstructorName(value);
  if (ctx.depth !== null && recurseTimes > ctx.depth) return `${name} <Complex prototype>`;
  const protoName = getConstructorName(firstProto, ctx, recurseTimes + 1, protoProps);
  if (protoName === null) {
    const shown = inspect(firstProto, { ...optionsOf(ctx), customInspect: false, depth: -1 });
    return `${name} <${shown}>`;
  }
  return `${name} <${protoName}>`;
}

function optionsOf(ctx) {
  const options = { stylize: ctx.stylize };
  for (const key of Object.keys(inspectDefaultOptions)) options[key] = ctx[key];
  return options;
}

/**
 * What V8 calls an object's constructor when its prototype chain does not
 * say: a Symbol.toStringTag or `constructor` data property found along the
 * chain, else the kind of object it is. (V8 also remembers the function
 * that made the object, which JavaScript cannot see.)
 */
function engineConstructorName(value) {
  // The engine remembers the constructor even when the prototype is gone.
  const remembered = op_get_constructor_name(value);
  if (remembered && remembered !== "Object") return remembered;
  for (let object = value; object !== null; object = Object.getPrototypeOf(object)) {
    const tag = Object.getOwnPropertyDescriptor(object, Symbol.toStringTag);
    if (tag !== undefined && typeof tag.value === "string") return tag.value;
  }
  for (let object = value; object !== null; object = Object.getPrototypeOf(object)) {
    const constructor = Object.getOwnPropertyDescriptor(object, "constructor")?.value;
    if (typeof constructor === "function" && constructor.name !== "") return constructor.name;
  }
  if (typeof value === "function") return "Function";
  if (Array.isArray(value)) return "Array";
  if (isTypedArray(value)) return typedArrayKind.call(value);
  for (const [check, name] of [
    [isMap, "Map"], [isSet, "Set"], [isWeakMap, "WeakMap"], [isWeakSet, "WeakSet"],
    [isDateObject, "Date"], [isRegExpObject, "RegExp"], [isNativeError, "Error"],
    [isArrayBuffer, "ArrayBuffer"], [isDataView, "DataView"], [isNumberObject, "Number"],
    [isStringObject, "String"], [isBooleanObject, "Boolean"], [isBigIntObject, "BigInt"],
  ]) {
    if (check(value)) return name;
  }
  return "Object";
}

// With showHidden, data properties that instances inherit from user-defined
// prototypes (up to three levels) are listed as `[key]: value`.
function addPrototypeProperties(ctx, main, object, recurseTimes, output) {
  let depth = 0;
  let keys;
  let seenKeys;
  do {
    if (depth !== 0 || main === object) {
      object = Object.getPrototypeOf(object);
      if (object === null) return;
      const descriptor = Object.getOwnPropertyDescriptor(object, "constructor");
      if (descriptor !== undefined && typeof descriptor.value === "function" &&
          builtInObjects.has(descriptor.value.name)) {
        return;
      }
    }
    if (depth === 0) {
      seenKeys = new Set();
    } else {
      for (const key of keys) seenKeys.add(key);
    }
    keys = Reflect.ownKeys(object);
    ctx.seen.push(main);
    for (const key of keys) {
      if (key === "constructor" || hasOwn(main, key) || (depth !== 0 && seenKeys.has(key))) continue;
      const descriptor = Object.getOwnPropertyDescriptor(object, key);
      if (typeof descriptor.value === "function") continue;
      const text = formatProperty(ctx, object, recurseTimes, key, kObjectType, descriptor, main);
      output.push(ctx.colors ? `\u001b[2m${text}\u001b[22m` : text);
    }
    ctx.seen.pop();
  } while (++depth !== 3);
}

// ---- functions and boxed primitives

function functionBase(ctx, value, constructor, tag) {
  const source = Function.prototype.toString.call(value);
  if (source.startsWith("class") && source.endsWith("}")) {
    const body = source.slice(5, -1);
    const brace = body.indexOf("{");
    if (brace !== -1 &&
        (!body.slice(0, brace).includes("(") ||
         // `class` could also start a method's name; look closer.
         classSignature.exec(body.replace(sourceComments, "")) !== null)) {
      return classBase(value, constructor, tag);
    }
  }
  let type = "Function";
  if (isGeneratorFunction(value)) type = `Generator${type}`;
  if (isAsyncFunction(value)) type = `Async${type}`;
  let base = `[${type}`;
  if (constructor === null) base += " (null prototype)";
  if (value.name === "") {
    base += " (anonymous)";
  } else {
    base += `: ${typeof value.name === "string" ? value.name : formatValue(ctx, value.name, NaN)}`;
  }
  base += "]";
  if (constructor !== type && constructor !== null) base += ` ${constructor}`;
  if (tag !== "" && constructor !== tag) base += ` [${tag}]`;
  return base;
}

function classBase(value, constructor, tag) {
  const name = (hasOwn(value, "name") && value.name) || "(anonymous)";
  let base = `class ${name}`;
  if (constructor !== "Function" && constructor !== null) base += ` [${constructor}]`;
  if (tag !== "" && constructor !== tag) base += ` [${tag}]`;
  if (constructor !== null) {
    const superName = Object.getPrototypeOf(value).name;
    if (superName) base += ` extends ${superName}`;
  } else {
    base += " extends [null prototype]";
  }
  return `[${base}]`;
}

function boxedBase(value, ctx, keys, constructor, tag) {
  let type;
  let primitive;
  if (isNumberObject(value)) {
    type = "Number";
    primitive = Number.prototype.valueOf.call(value);
  } else if (isStringObject(value)) {
    type = "String";
    primitive = String.prototype.valueOf.call(value);
    // The characters are already shown as the string.
    keys.splice(0, primitive.length);
  } else if (isBooleanObject(value)) {
    type = "Boolean";
    primitive = Boolean.prototype.valueOf.call(value);
  } else if (isBigIntObject(value)) {
    type = "BigInt";
    primitive = BigInt.prototype.valueOf.call(value);
  } else {
    type = "Symbol";
    primitive = Symbol.prototype.valueOf.call(value);
  }
  let base = `[${type}`;
  if (type !== constructor) base += constructor === null ? " (null prototype)" : ` (${constructor})`;
  base += `: ${formatPrimitive(stylizeNoColor, primitive, ctx)}]`;
  if (tag !== "" && tag !== constructor) base += ` [${tag}]`;
  if (keys.length !== 0 || ctx.stylize === stylizeNoColor) return base;
  return ctx.stylize(base, type.toLowerCase());
}

// ---- errors

function formatError(error, constructor, tag, ctx, keys) {
  const name = error.name != null ? error.name : "Error";
  let stack = stackText(ctx, error);

  removeDuplicateErrorKeys(ctx, keys, error, stack);
  if ("cause" in error && !keys.includes("cause")) keys.push("cause");
  // AggregateError's errors are not enumerable but worth showing.
  if (Array.isArray(error.errors) && !keys.includes("errors")) keys.push("errors");

  stack = improveStack(stack, constructor, name, tag);

  // Frames start after the message (which may itself contain "\n    at").
  let position = (error.message && stack.indexOf(error.message)) || -1;
  if (position !== -1) position += error.message.length;
  const framesStart = stack.indexOf("\n    at", position);
  if (framesStart === -1) {
    stack = `[${stack}]`;
  } else {
    const frames = stackFrames(ctx, error, stack.slice(framesStart + 1));
    const shown = ctx.colors ? frames.map((line) => markNodeModules(ctx, line)) : frames;
    stack = `${stack.slice(0, framesStart)}\n${shown.join("\n")}`;
  }
  if (ctx.indentationLvl !== 0) {
    stack = stack.replaceAll("\n", `\n${" ".repeat(ctx.indentationLvl)}`);
  }
  return stack;
}

function stackText(ctx, error) {
  if (error.stack) {
    if (typeof error.stack === "string") return error.stack;
    return formatValue(ctx, error.stack, NaN);
  }
  return Error.prototype.toString.call(error);
}

// Frames the error shares with its cause are summarized in one line.
function stackFrames(ctx, error, framesText) {
  const frames = framesText.split("\n");
  let cause;
  try {
    ({ cause } = error);
  } catch {
    // A throwing `cause` getter is ignored.
  }
  if (cause != null && isErrorLike(cause)) {
    const causeStack = stackText(ctx, cause);
    const causeFramesStart = causeStack.indexOf("\n    at");
    if (causeFramesStart !== -1) {
      const causeFrames = causeStack.slice(causeFramesStart + 1).split("\n");
      const { length, offset } = identicalSequenceRange(frames, causeFrames);
      if (length > 0) {
        const skipped = length - 2;
        const message = `    ... ${skipped} lines matching cause stack trace ...`;
        frames.splice(offset + 1, skipped, ctx.stylize(message, "undefined"));
      }
    }
  }
  return frames;
}

/** The longest run (over three) of entries of `a` found in order in `b`. */
function identicalSequenceRange(a, b) {
  for (let i = 0; i < a.length - 3; i++) {
    const position = b.indexOf(a[i]);
    if (position === -1) continue;
    const rest = b.length - position;
    if (rest > 3) {
      let length = 1;
      const maxLength = Math.min(a.length - i, rest);
      while (maxLength > length && a[i + length] === b[position + length]) length++;
      if (length > 3) return { length, offset: i };
    }
  }
  return { length: 0, offset: 0 };
}

// A stack's first line names the error; say what class it really is when
// that differs (`TypeError [FooError]: ...`, `[Error: null prototype]: ...`).
function improveStack(stack, constructor, name, tag) {
  if (typeof name !== "string") {
    stack = stack.replace(`${name}`, `${name} [${getPrefix(constructor, tag, "Error").slice(0, -1)}]`);
  }
  let length = typeof name === "string" ? name.length : undefined;
  // Only stacks that look like a regular error's are rewritten.
  if (constructor === null ||
      (typeof name === "string" && name.endsWith("Error") && stack.startsWith(name) &&
       (stack.length === length || stack[length] === ":" || stack[length] === "\n"))) {
    let fallback = "Error";
    if (constructor === null) {
      const start = /^([A-Z][a-z_ A-Z0-9[\]()-]+)(?::|\n {4}at)/.exec(stack) ||
        /^([a-z_A-Z0-9-]*Error)$/.exec(stack);
      fallback = (start && start[1]) || "";
      length = fallback.length;
      fallback ||= "Error";
    }
    const prefix = getPrefix(constructor, tag, fallback).slice(0, -1);
    if (name !== prefix) {
      if (typeof name === "string" && prefix.includes(name)) {
        stack = length === 0 ? `${prefix}: ${stack}` : `${prefix}${stack.slice(length)}`;
      } else {
        stack = `${prefix} [${name}]${stack.slice(length)}`;
      }
    }
  }
  return stack;
}

// name, message and stack are not listed again when the stack shows them.
function removeDuplicateErrorKeys(ctx, keys, error, stack) {
  if (ctx.showHidden || keys.length === 0) return;
  for (const name of ["name", "message", "stack"]) {
    const index = keys.indexOf(name);
    if (index !== -1 && (typeof error[name] !== "string" || stack.includes(error[name]))) {
      keys.splice(index, 1);
    }
  }
}

function markNodeModules(ctx, line) {
  let marked = "";
  let position = 0;
  for (const match of line.matchAll(nodeModulesPath)) {
    marked += line.slice(position, match.index + "/node_modules/".length);
    marked += ctx.stylize(match[1], "module");
    position = match.index + match[0].length;
  }
  return position === 0 ? line : marked + line.slice(position);
}

// ---- primitives

function formatPrimitive(stylize, value, ctx) {
  if (typeof value === "string") {
    let trailer = "";
    if (ctx.maxStringLength !== null && value.length > ctx.maxStringLength) {
      const remaining = value.length - ctx.maxStringLength;
      value = value.slice(0, ctx.maxStringLength);
      trailer = `... ${remaining} more character${remaining > 1 ? "s" : ""}`;
    }
    // Long strings are split after their line breaks, one quoted line each.
    if (ctx.compact !== true && value.length > kMinLineLength &&
        value.length > ctx.breakLength - ctx.indentationLvl - 4) {
      return value
        .split(/(?<=\n)/)
        .map((line) => stylize(quoteString(line), "string"))
        .join(` +\n${" ".repeat(ctx.indentationLvl + 2)}`) + trailer;
    }
    return stylize(quoteString(value), "string") + trailer;
  }
  if (typeof value === "number") return formatNumber(stylize, value, ctx.numericSeparator);
  if (typeof value === "bigint") return formatBigInt(stylize, value, ctx.numericSeparator);
  if (typeof value === "boolean") return stylize(`${value}`, "boolean");
  if (typeof value === "undefined") return stylize("undefined", "undefined");
  return stylize(Symbol.prototype.toString.call(value), "symbol");
}

/** `1234567` as `1_234_567`. */
function groupIntegerDigits(digits) {
  const start = digits.startsWith("-") ? 1 : 0;
  let result = "";
  let i = digits.length;
  for (; i >= start + 4; i -= 3) result = `_${digits.slice(i - 3, i)}${result}`;
  return i === digits.length ? digits : `${digits.slice(0, i)}${result}`;
}

/** Fraction digits grouped from the left: `5678` as `567_8`. */
function groupFractionDigits(digits) {
  let result = "";
  let i = 0;
  for (; i < digits.length - 3; i += 3) result += `${digits.slice(i, i + 3)}_`;
  return i === 0 ? digits : `${result}${digits.slice(i)}`;
}

function formatNumber(stylize, number, numericSeparator) {
  if (!numericSeparator) {
    return stylize(Object.is(number, -0) ? "-0" : `${number}`, "number");
  }
  const integer = Math.trunc(number);
  const integerText = String(integer);
  if (integer === number) {
    if (!Number.isFinite(number) || integerText.includes("e")) return stylize(integerText, "number");
    return stylize(groupIntegerDigits(integerText), "number");
  }
  if (Number.isNaN(number)) return stylize(integerText, "number");
  const fraction = String(number).slice(integerText.length + 1);
  return stylize(`${groupIntegerDigits(integerText)}.${groupFractionDigits(fraction)}`, "number");
}

function formatBigInt(stylize, bigint, numericSeparator) {
  const text = String(bigint);
  return stylize(`${numericSeparator ? groupIntegerDigits(text) : text}n`, "bigint");
}

// ---- collections

const moreItems = (remaining) => `... ${remaining} more item${remaining > 1 ? "s" : ""}`;

function formatArray(ctx, array, recurseTimes) {
  const length = Math.min(Math.max(0, ctx.maxArrayLength), array.length);
  const remaining = array.length - length;
  const output = [];
  for (let i = 0; i < length; i++) {
    if (!hasOwn(array, i)) return formatSparseArray(ctx, array, recurseTimes, length, output, i);
    output.push(formatProperty(ctx, array, recurseTimes, i, kArrayType));
  }
  if (remaining > 0) output.push(moreItems(remaining));
  return output;
}

// Holes print as `<n empty items>`; `maxLength` counts them as one entry.
function formatSparseArray(ctx, array, recurseTimes, maxLength, output, start) {
  const keys = Object.keys(array);
  let index = start;
  for (let i = start; i < keys.length && output.length < maxLength; i++) {
    const key = keys[i];
    const number = +key;
    if (number > 2 ** 32 - 2) break;
    if (`${index}` !== key) {
      if (!arrayIndexKey.test(key)) break;
      const empty = number - index;
      output.push(ctx.stylize(`<${empty} empty item${empty > 1 ? "s" : ""}>`, "undefined"));
      index = number;
      if (output.length === maxLength) break;
    }
    output.push(formatProperty(ctx, array, recurseTimes, key, kArrayType));
    index++;
  }
  const remaining = array.length - index;
  if (output.length !== maxLength) {
    if (remaining > 0) {
      output.push(ctx.stylize(`<${remaining} empty item${remaining > 1 ? "s" : ""}>`, "undefined"));
    }
  } else if (remaining > 0) {
    output.push(moreItems(remaining));
  }
  return output;
}

function formatTypedArray(ctx, array, length, recurseTimes) {
  const maxLength = Math.min(Math.max(0, ctx.maxArrayLength), length);
  const remaining = array.length - maxLength;
  const output = [];
  const formatElement = array.length > 0 && typeof array[0] === "number" ? formatNumber : formatBigInt;
  for (let i = 0; i < maxLength; i++) {
    output.push(formatElement(ctx.stylize, array[i], ctx.numericSeparator));
  }
  if (remaining > 0) output.push(moreItems(remaining));
  if (ctx.showHidden) {
    ctx.indentationLvl += 2;
    for (const key of ["BYTES_PER_ELEMENT", "length", "byteLength", "byteOffset", "buffer"]) {
      output.push(`[${key}]: ${formatValue(ctx, array[key], recurseTimes, true)}`);
    }
    ctx.indentationLvl -= 2;
  }
  return output;
}

function formatArrayBuffer(ctx, buffer) {
  let bytes;
  try {
    bytes = new Uint8Array(buffer);
  } catch {
    return [ctx.stylize("(detached)", "special")];
  }
  const shown = Math.min(ctx.maxArrayLength, bytes.length);
  let hex = "";
  for (let i = 0; i < shown; i++) hex += `${i === 0 ? "" : " "}${bytes[i].toString(16).padStart(2, "0")}`;
  const remaining = bytes.length - ctx.maxArrayLength;
  if (remaining > 0) hex += ` ... ${remaining} more byte${remaining > 1 ? "s" : ""}`;
  return [`${ctx.stylize("[Uint8Contents]", "special")}: <${hex}>`];
}

function formatSet(ctx, entries, size, recurseTimes) {
  const maxLength = Math.min(Math.max(0, ctx.maxArrayLength), size);
  const output = [];
  ctx.indentationLvl += 2;
  for (const entry of entries) {
    if (output.length >= maxLength) break;
    output.push(formatValue(ctx, entry, recurseTimes));
  }
  if (size > maxLength) output.push(moreItems(size - maxLength));
  ctx.indentationLvl -= 2;
  return output;
}

function formatMap(ctx, entries, size, recurseTimes) {
  const maxLength = Math.min(Math.max(0, ctx.maxArrayLength), size);
  const output = [];
  ctx.indentationLvl += 2;
  for (const { 0: key, 1: entry } of entries) {
    if (output.length >= maxLength) break;
    output.push(`${formatValue(ctx, key, recurseTimes)} => ${formatValue(ctx, entry, recurseTimes)}`);
  }
  if (size > maxLength) output.push(moreItems(size - maxLength));
  ctx.indentationLvl -= 2;
  return output;
}

function formatNamespace(ctx, namespace, recurseTimes, keys) {
  const output = keys.map((key) => {
    try {
      return formatProperty(ctx, namespace, recurseTimes, key, kObjectType);
    } catch (error) {
      if (!(error instanceof ReferenceError)) throw error;
      // A binding not yet initialized: print its key as usual, then the marker.
      const text = formatProperty(ctx, { [key]: "" }, recurseTimes, key, kObjectType);
      return `${text.slice(0, text.lastIndexOf(" ") + 1)}${ctx.stylize("<uninitialized>", "special")}`;
    }
  });
  // The properties are printed; keep formatRaw from printing them again.
  keys.length = 0;
  return output;
}

// ---- properties and layout

function formatProperty(ctx, object, recurseTimes, key, type, descriptor, receiver = object) {
  let text;
  let separator = " ";
  descriptor ??= Object.getOwnPropertyDescriptor(object, key) ?? { value: object[key], enumerable: true };
  if (descriptor.value !== undefined) {
    const indentation = ctx.compact !== true || type !== kObjectType ? 2 : 3;
    ctx.indentationLvl += indentation;
    text = formatValue(ctx, descriptor.value, recurseTimes);
    if (indentation === 3 && ctx.breakLength < stringWidth(text, ctx.colors)) {
      separator = `\n${" ".repeat(ctx.indentationLvl)}`;
    }
    ctx.indentationLvl -= indentation;
  } else if (descriptor.get !== undefined) {
    text = formatAccessor(ctx, descriptor, receiver, recurseTimes);
  } else if (descriptor.set !== undefined) {
    text = ctx.stylize("[Setter]", "special");
  } else {
    text = ctx.stylize("undefined", "undefined");
  }
  if (type === kArrayType) return text;

  let name;
  if (typeof key === "symbol") {
    const description = Symbol.prototype.toString.call(key).replace(escapeWithSingleQuote, escapeCharacter);
    name = ctx.stylize(description, "symbol");
  } else if (plainKey.test(key)) {
    name = key === "__proto__" ? "['__proto__']" : ctx.stylize(key, "name");
  } else {
    name = ctx.stylize(quoteString(key), "string");
  }
  if (descriptor.enumerable === false) name = `[${name}]`;
  return `${name}:${separator}${text}`;
}

function formatAccessor(ctx, descriptor, receiver, recurseTimes) {
  const label = descriptor.set !== undefined ? "Getter/Setter" : "Getter";
  const stylize = ctx.stylize;
  const evaluate = ctx.getters && (ctx.getters === true ||
    (ctx.getters === "get" && descriptor.set === undefined) ||
    (ctx.getters === "set" && descriptor.set !== undefined));
  if (!evaluate) return stylize(`[${label}]`, "special");
  try {
    const value = descriptor.get.call(receiver);
    ctx.indentationLvl += 2;
    let text;
    if (value === null) {
      text = `${stylize(`[${label}:`, "special")} ${stylize("null", "null")}${stylize("]", "special")}`;
    } else if (typeof value === "object") {
      text = `${stylize(`[${label}]`, "special")} ${formatValue(ctx, value, recurseTimes)}`;
    } else {
      text = `${stylize(`[${label}:`, "special")} ${formatPrimitive(stylize, value, ctx)}${stylize("]", "special")}`;
    }
    ctx.indentationLvl -= 2;
    return text;
  } catch (error) {
    const message = `<Inspection threw (${isErrorLike(error) ? error.message : String(error)})>`;
    return `${stylize(`[${label}:`, "special")} ${message}${stylize("]", "special")}`;
  }
}

// Lines up many short array entries in columns: numbers right-aligned,
// anything else left-aligned, about as many rows as columns (a character
// being some 2.5 times as tall as wide).
function groupArrayElements(ctx, output, value) {
  let totalLength = 0;
  let maxLength = 0;
  let outputLength = output.length;
  // The "... more items" entry stays on its own line.
  if (ctx.maxArrayLength < output.length) outputLength--;
  const separatorSpace = 2;
  const dataLength = new Array(outputLength);
  for (let i = 0; i < outputLength; i++) {
    const length = stringWidth(output[i], ctx.colors);
    dataLength[i] = length;
    totalLength += length + separatorSpace;
    if (maxLength < length) maxLength = length;
  }
  const actualMax = maxLength + separatorSpace;
  // Group only if three entries fit on a line and no entry dwarfs the rest.
  if (actualMax * 3 + ctx.indentationLvl < ctx.breakLength &&
      (totalLength / actualMax > 5 || maxLength <= 6)) {
    const averageBias = Math.sqrt(actualMax - totalLength / output.length);
    const biasedMax = Math.max(actualMax - 3 - averageBias, 1);
    const columns = Math.min(
      Math.round(Math.sqrt(2.5 * biasedMax * outputLength) / biasedMax),
      Math.floor((ctx.breakLength - ctx.indentationLvl) / actualMax),
      (ctx.compact === false ? 0 : ctx.compact === true ? inspectDefaultOptions.compact : ctx.compact) * 4,
      15,
    );
    if (columns <= 1) return output;
    const columnWidths = [];
    for (let i = 0; i < columns; i++) {
      let width = 0;
      for (let j = i; j < output.length; j += columns) {
        if (dataLength[j] > width) width = dataLength[j];
      }
      columnWidths.push(width + separatorSpace);
    }
    let pad = String.prototype.padStart;
    if (value !== undefined) {
      for (let i = 0; i < output.length; i++) {
        if (typeof value[i] !== "number" && typeof value[i] !== "bigint") {
          pad = String.prototype.padEnd;
          break;
        }
      }
    }
    const grouped = [];
    for (let i = 0; i < outputLength; i += columns) {
      const end = Math.min(i + columns, outputLength);
      let line = "";
      let j = i;
      for (; j < end - 1; j++) {
        // Escape codes take no room on screen.
        const width = columnWidths[j - i] + output[j].length - dataLength[j];
        line += pad.call(`${output[j]}, `, width, " ");
      }
      if (pad === String.prototype.padStart) {
        const width = columnWidths[j - i] + output[j].length - dataLength[j] - separatorSpace;
        line += output[j].padStart(width, " ");
      } else {
        line += output[j];
      }
      grouped.push(line);
    }
    if (ctx.maxArrayLength < output.length) grouped.push(output[outputLength]);
    output = grouped;
  }
  return output;
}

function isBelowBreakLength(ctx, output, start, base) {
  // Entries are separated by at least a comma: count one per entry.
  let totalLength = output.length + start;
  if (totalLength + output.length > ctx.breakLength) return false;
  for (const entry of output) {
    totalLength += ctx.colors ? stripColors(entry).length : entry.length;
    if (totalLength > ctx.breakLength) return false;
  }
  // A multi-line base (an error's stack) never shares a line with entries.
  return base === "" || !base.includes("\n");
}

function reduceToSingleString(ctx, output, base, braces, extrasType, recurseTimes, value) {
  if (ctx.compact !== true) {
    if (typeof ctx.compact === "number" && ctx.compact >= 1) {
      const entries = output.length;
      if (extrasType === kArrayExtrasType && entries > 6) {
        output = groupArrayElements(ctx, output, value);
      }
      // The innermost `compact` levels of an object share a line when they
      // fit (and were not grouped into columns above).
      if (ctx.currentDepth - recurseTimes < ctx.compact && entries === output.length) {
        const start = output.length + ctx.indentationLvl + braces[0].length + base.length + 10;
        if (isBelowBreakLength(ctx, output, start, base)) {
          const joined = output.join(", ");
          if (!joined.includes("\n")) {
            return `${base ? `${base} ` : ""}${braces[0]} ${joined} ${braces[1]}`;
          }
        }
      }
    }
    const indentation = `\n${" ".repeat(ctx.indentationLvl)}`;
    return `${base ? `${base} ` : ""}${braces[0]}${indentation}  ${output.join(`,${indentation}  `)}${indentation}${braces[1]}`;
  }
  // compact: true keeps entries on the opening line when they fit.
  if (isBelowBreakLength(ctx, output, 0, base)) {
    return `${braces[0]}${base ? ` ${base}` : ""} ${output.join(", ")} ${braces[1]}`;
  }
  const indentation = " ".repeat(ctx.indentationLvl);
  // After a long opening ("Set {") the first entry goes on the next line.
  const lead = base === "" && braces[0].length === 1 ? " " : `${base ? ` ${base}` : ""}\n${indentation}  `;
  return `${braces[0]}${lead}${output.join(`,\n${indentation}  `)} ${braces[1]}`;
}

// ---- string width

const colorCodes = /\u001b\[\d\d?m/g;

function stripColors(text) {
  return text.replace(colorCodes, "");
}

// East Asian wide and fullwidth code points take two columns.
const wideRanges = [
  [0x1100, 0x115f], [0x2329, 0x232a], [0x2e80, 0x303e], [0x3040, 0x3247], [0x3250, 0x4dbf],
  [0x4e00, 0xa4c6], [0xa960, 0xa97c], [0xac00, 0xd7a3], [0xf900, 0xfaff], [0xfe10, 0xfe19],
  [0xfe30, 0xfe6b], [0xff01, 0xff60], [0xffe0, 0xffe6], [0x1b000, 0x1b001], [0x1f200, 0x1f251],
  [0x1f300, 0x1f64f], [0x20000, 0x3fffd],
];
// Control characters, combining marks and variation selectors take none.
const zeroWidthRanges = [
  [0x00, 0x1f], [0x7f, 0x9f], [0x300, 0x36f], [0x200b, 0x200f], [0x20d0, 0x20ff],
  [0xfe00, 0xfe0f], [0xfe20, 0xfe2f], [0xe0100, 0xe01ef],
];
const inRanges = (ranges, code) => ranges.some(([low, high]) => code >= low && code <= high);

/** Columns `text` takes on a terminal. */
function stringWidth(text, removeControlChars = true) {
  if (removeControlChars) text = stripVTControlCharacters(text);
  let width = 0;
  for (const character of text.normalize("NFC")) {
    const code = character.codePointAt(0);
    if (inRanges(wideRanges, code)) width += 2;
    else if (!inRanges(zeroWidthRanges, code)) width++;
  }
  return width;
}

// ANSI/VT escape sequences: CSI sequences and OSC strings (e.g. hyperlinks).
const ansiPattern = new RegExp(
  "[\\u001B\\u009B][[\\]()#;?]*" +
  "(?:(?:(?:(?:;[-a-zA-Z\\d\\/\\#&.:=?%@~_]+)*" +
  "|[a-zA-Z\\d]+(?:;[-a-zA-Z\\d\\/\\#&.:=?%@~_]*)*)?" +
  "(?:\\u0007|\\u001B\\u005C|\\u009C))" +
  "|(?:(?:\\d{1,4}(?:;\\d{0,4})*)?[\\dA-PR-TZcf-nq-uy=><~]))",
  "g");

export function stripVTControlCharacters(str) {
  validateString(str, "str");
  return str.replace(ansiPattern, "");
}

// ---------------------------------------------------------------------------
// format

export function format(...args) {
  return formatWithOptionsInternal(undefined, args);
}

export function formatWithOptions(inspectOptions, ...args) {
  validateObject(inspectOptions, "inspectOptions", { allowArray: true });
  return formatWithOptionsInternal(inspectOptions, args);
}

/** %s prints objects with a toString of their own through toString. */
function hasBuiltInToString(value) {
  if (typeof value.toString !== "function") return true;
  if (hasOwn(value, "toString")) return false;
  let holder = value;
  do {
    holder = Object.getPrototypeOf(holder);
  } while (!hasOwn(holder, "toString"));
  const descriptor = Object.getOwnPropertyDescriptor(holder, "constructor");
  return descriptor !== undefined && typeof descriptor.value === "function" &&
    builtInObjects.has(descriptor.value.name);
}

let circularJsonMessage;

function stringifyJson(value) {
  try {
    return JSON.stringify(value);
  } catch (error) {
    if (circularJsonMessage === undefined) {
      const circular = {};
      circular.circular = circular;
      try {
        JSON.stringify(circular);
      } catch (circularError) {
        circularJsonMessage = circularError.message.split("\n", 1)[0];
      }
    }
    if (error?.name === "TypeError" && String(error.message).split("\n", 1)[0] === circularJsonMessage) {
      return "[Circular]";
    }
    throw error;
  }
}

function formatWithOptionsInternal(inspectOptions, args) {
  const first = args[0];
  const numericSeparator = inspectOptions?.numericSeparator ?? inspectDefaultOptions.numericSeparator;
  const number = (value) => formatNumber(stylizeNoColor, value, numericSeparator);
  const bigint = (value) => formatBigInt(stylizeNoColor, value, numericSeparator);
  let used = 0;
  let text = "";
  let join = "";

  if (typeof first === "string") {
    if (args.length === 1) return first;
    let replacement;
    let last = 0;
    for (let i = 0; i < first.length - 1; i++) {
      if (first.charCodeAt(i) !== 37) continue; // '%'
      const letter = first[++i];
      if (used + 1 !== args.length) {
        switch (letter) {
          case "s": {
            const arg = args[++used];
            if (typeof arg === "number") replacement = number(arg);
            else if (typeof arg === "bigint") replacement = bigint(arg);
            else if (typeof arg !== "object" || arg === null || !hasBuiltInToString(arg)) replacement = String(arg);
            else replacement = inspect(arg, { ...inspectOptions, depth: 0, colors: false, compact: 3 });
            break;
          }
          case "j":
            replacement = stringifyJson(args[++used]);
            break;
          case "d": {
            const arg = args[++used];
            if (typeof arg === "bigint") replacement = bigint(arg);
            else if (typeof arg === "symbol") replacement = "NaN";
            else replacement = number(Number(arg));
            break;
          }
          case "O":
            replacement = inspect(args[++used], inspectOptions);
            break;
          case "o":
            replacement = inspect(args[++used], { ...inspectOptions, showHidden: true, showProxy: true, depth: 4 });
            break;
          case "i": {
            const arg = args[++used];
            if (typeof arg === "bigint") replacement = bigint(arg);
            else if (typeof arg === "symbol") replacement = "NaN";
            else replacement = number(Number.parseInt(arg));
            break;
          }
          case "f": {
            const arg = args[++used];
            replacement = typeof arg === "symbol" ? "NaN" : number(Number.parseFloat(arg));
            break;
          }
          case "c":
            // CSS has no meaning outside a browser console: the argument is dropped.
            used++;
            replacement = "";
            break;
          case "%":
            text += first.slice(last, i);
            last = i + 1;
            continue;
          default:
            continue;
        }
        if (last !== i - 1) text += first.slice(last, i - 1);
        text += replacement;
        last = i + 1;
      } else if (letter === "%") {
        text += first.slice(last, i);
        last = i + 1;
      }
    }
    if (last !== 0) {
      used++;
      join = " ";
      if (last < first.length) text += first.slice(last);
    }
  }

  // Arguments no placeholder used are appended, inspected unless strings.
  for (; used < args.length; used++) {
    const value = args[used];
    text += join;
    text += typeof value !== "string" ? inspect(value, inspectOptions) : value;
    join = " ";
  }
  return text;
}

// ---------------------------------------------------------------------------
// Callbacks and promises

const kCustomPromisified = Symbol.for("nodejs.util.promisify.custom");
const kCustomPromisifyArgs = Symbol.for("nodejs.util.promisify.custom.args");

/**
 * Defines `descriptors` (another function's own properties) on `target`.
 * Null prototypes keep a polluted Object.prototype from adding get/set.
 */
function copyProperties(target, descriptors) {
  for (const descriptor of Object.values(descriptors)) Object.setPrototypeOf(descriptor, null);
  return Object.defineProperties(target, descriptors);
}

export function promisify(original) {
  validateFunction(original, "original");
  if (original[kCustomPromisified]) {
    const fn = original[kCustomPromisified];
    validateFunction(fn, "util.promisify.custom");
    return Object.defineProperty(fn, kCustomPromisified, {
      value: fn, enumerable: false, writable: false, configurable: true,
    });
  }
  // Names for the values of a callback called with several (fs.read's
  // bytesRead and buffer): the promise then resolves to an object.
  const argumentNames = original[kCustomPromisifyArgs];
  function fn(...args) {
    return new Promise((resolve, reject) => {
      args.push((error, ...values) => {
        if (error) return reject(error);
        if (argumentNames !== undefined && values.length > 1) {
          const result = {};
          argumentNames.forEach((name, i) => {
            result[name] = values[i];
          });
          resolve(result);
        } else {
          resolve(values[0]);
        }
      });
      Reflect.apply(original, this, args);
    });
  }
  Object.setPrototypeOf(fn, Object.getPrototypeOf(original));
  Object.defineProperty(fn, kCustomPromisified, {
    value: fn, enumerable: false, writable: false, configurable: true,
  });
  return copyProperties(fn, Object.getOwnPropertyDescriptors(original));
}

promisify.custom = kCustomPromisified;

export function callbackify(original) {
  validateFunction(original, "original");
  function callbackified(...args) {
    const last = args.pop();
    validateFunction(last, "last argument");
    const callback = last.bind(this);
    // The callback runs in a later microtask, so an exception it throws
    // does not turn into a rejection of this promise.
    Reflect.apply(original, this, args).then(
      (result) => queueMicrotask(() => callback(null, result)),
      (reason) => queueMicrotask(() => {
        // A falsy reason would read as "no error": wrap it.
        if (!reason) {
          const error = nodeError(Error, "ERR_FALSY_VALUE_REJECTION", "Promise was rejected with falsy value");
          error.reason = reason;
          reason = error;
        }
        callback(reason);
      }),
    );
  }
  const descriptors = Object.getOwnPropertyDescriptors(original);
  if (typeof descriptors.length?.value === "number") descriptors.length.value++;
  if (typeof descriptors.name?.value === "string") descriptors.name.value += "Callbackified";
  return copyProperties(callbackified, descriptors);
}

export function inherits(ctor, superCtor) {
  if (ctor === undefined || ctor === null) throw invalidArgType("ctor", "Function", ctor);
  if (superCtor === undefined || superCtor === null) throw invalidArgType("superCtor", "Function", superCtor);
  if (superCtor.prototype === undefined) {
    throw invalidArgType("superCtor.prototype", "Object", superCtor.prototype);
  }
  Object.defineProperty(ctor, "super_", { value: superCtor, writable: true, configurable: true });
  Object.setPrototypeOf(ctor.prototype, superCtor.prototype);
}

/** Workers print no deprecation warnings: the function is returned as is. */
export function deprecate(fn) {
  return fn;
}

/**
 * A logger for `section`. On workerd every section is enabled and writes
 * `SECTION: message` with console.log (there is no NODE_DEBUG to read).
 */
export function debuglog(section, callback) {
  let write;
  const logger = (...args) => {
    if (write === undefined) {
      const name = `${section}`.toUpperCase();
      write = (...values) => console.log(format("%s: %s\n", name, formatWithOptions({}, ...values)));
      if (typeof callback === "function") callback(write);
    }
    return write(...args);
  };
  Object.defineProperty(logger, "enabled", { get: () => true, configurable: true, enumerable: true });
  return logger;
}

export { debuglog as debug };

export function _extend(target, source) {
  if (source === null || typeof source !== "object") return target;
  const keys = Object.keys(source);
  for (let i = keys.length - 1; i >= 0; i--) target[keys[i]] = source[keys[i]];
  return target;
}

const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** console.log with a `26 Feb 16:19:34 - ` timestamp. */
export function log(...args) {
  const now = new Date();
  const time = [now.getHours(), now.getMinutes(), now.getSeconds()]
    .map((part) => `${part}`.padStart(2, "0"))
    .join(":");
  console.log("%s - %s", `${now.getDate()} ${months[now.getMonth()]} ${time}`, format(...args));
}

export const TextEncoder = globalThis.TextEncoder;
export const TextDecoder = globalThis.TextDecoder;

export function toUSVString(input) {
  return `${input}`.toWellFormed();
}

export async function aborted(signal, resource) {
  if (signal === undefined) throw invalidArgType("signal", "AbortSignal", signal);
  validateAbortSignal(signal, "signal");
  validateObject(resource, "resource", { allowArray: true });
  // Node holds `resource` weakly and gives up when it is collected; a
  // worker cannot observe collection, so it is only checked. As on
  // workerd, the promise resolves to the abort event.
  if (signal.aborted) return undefined;
  return new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
}

// A worker's AbortSignals already work across its own requests: the
// "transferable" ones are the ordinary ones.
export function transferableAbortSignal(signal) {
  if (signal === undefined) throw invalidArgType("signal", "AbortSignal", signal);
  validateAbortSignal(signal, "signal");
  return signal;
}

export function transferableAbortController() {
  return new AbortController();
}

// ---------------------------------------------------------------------------
// styleText

function isNodeStream(stream) {
  return stream !== null && typeof stream === "object" &&
    (stream._readableState !== undefined || stream._writableState !== undefined ||
     (typeof stream.on === "function" && (typeof stream.write === "function" || typeof stream.pipe === "function")));
}

// A worker has no terminal: by default (no stream given) text is not colored.
const noTerminal = Object.create(null);

export function styleText(styles, text, { validateStream = true, stream = noTerminal } = {}) {
  validateString(text, "text");
  validateBoolean(validateStream, "options.validateStream");
  let skipColors = false;
  if (validateStream) {
    if (stream !== noTerminal && !(stream instanceof ReadableStream) &&
        !(stream instanceof WritableStream) && !isNodeStream(stream)) {
      throw invalidArgType("stream", ["ReadableStream", "WritableStream", "Stream"], stream);
    }
    // workerd colors only a TTY stream that reports a depth of two or less.
    skipColors = stream?.isTTY && typeof stream.getColorDepth === "function"
      ? stream.getColorDepth() > 2
      : true;
  }
  let left = "";
  let right = "";
  for (const key of Array.isArray(styles) ? styles : [styles]) {
    if (key === "none") continue;
    const codes = typeof key === "string" ? inspect.colors[key] : undefined;
    if (codes == null) validateOneOf(key, "format", Object.keys(inspect.colors));
    if (skipColors) continue;
    left += `\u001b[${codes[0]}m`;
    right = `\u001b[${codes[1]}m${right}`;
  }
  return skipColors ? text : `${left}${text}${right}`;
}

// ---------------------------------------------------------------------------
// System errors (libuv's numbers on Linux)

const systemErrors = [
  [-7, "E2BIG", "argument list too long"],
  [-13, "EACCES", "permission denied"],
  [-98, "EADDRINUSE", "address already in use"],
  [-99, "EADDRNOTAVAIL", "address not available"],
  [-97, "EAFNOSUPPORT", "address family not supported"],
  [-11, "EAGAIN", "resource temporarily unavailable"],
  [-3000, "EAI_ADDRFAMILY", "address family not supported"],
  [-3001, "EAI_AGAIN", "temporary failure"],
  [-3002, "EAI_BADFLAGS", "bad ai_flags value"],
  [-3013, "EAI_BADHINTS", "invalid value for hints"],
  [-3003, "EAI_CANCELED", "request canceled"],
  [-3004, "EAI_FAIL", "permanent failure"],
  [-3005, "EAI_FAMILY", "ai_family not supported"],
  [-3006, "EAI_MEMORY", "out of memory"],
  [-3007, "EAI_NODATA", "no address"],
  [-3008, "EAI_NONAME", "unknown node or service"],
  [-3009, "EAI_OVERFLOW", "argument buffer overflow"],
  [-3014, "EAI_PROTOCOL", "resolved protocol is unknown"],
  [-3010, "EAI_SERVICE", "service not available for socket type"],
  [-3011, "EAI_SOCKTYPE", "socket type not supported"],
  [-114, "EALREADY", "connection already in progress"],
  [-9, "EBADF", "bad file descriptor"],
  [-16, "EBUSY", "resource busy or locked"],
  [-125, "ECANCELED", "operation canceled"],
  [-4080, "ECHARSET", "invalid Unicode character"],
  [-103, "ECONNABORTED", "software caused connection abort"],
  [-111, "ECONNREFUSED", "connection refused"],
  [-104, "ECONNRESET", "connection reset by peer"],
  [-89, "EDESTADDRREQ", "destination address required"],
  [-17, "EEXIST", "file already exists"],
  [-14, "EFAULT", "bad address in system call argument"],
  [-27, "EFBIG", "file too large"],
  [-113, "EHOSTUNREACH", "host is unreachable"],
  [-4, "EINTR", "interrupted system call"],
  [-22, "EINVAL", "invalid argument"],
  [-5, "EIO", "i/o error"],
  [-106, "EISCONN", "socket is already connected"],
  [-21, "EISDIR", "illegal operation on a directory"],
  [-40, "ELOOP", "too many symbolic links encountered"],
  [-24, "EMFILE", "too many open files"],
  [-90, "EMSGSIZE", "message too long"],
  [-36, "ENAMETOOLONG", "name too long"],
  [-100, "ENETDOWN", "network is down"],
  [-101, "ENETUNREACH", "network is unreachable"],
  [-23, "ENFILE", "file table overflow"],
  [-105, "ENOBUFS", "no buffer space available"],
  [-19, "ENODEV", "no such device"],
  [-2, "ENOENT", "no such file or directory"],
  [-12, "ENOMEM", "not enough memory"],
  [-64, "ENONET", "machine is not on the network"],
  [-92, "ENOPROTOOPT", "protocol not available"],
  [-28, "ENOSPC", "no space left on device"],
  [-38, "ENOSYS", "function not implemented"],
  [-107, "ENOTCONN", "socket is not connected"],
  [-20, "ENOTDIR", "not a directory"],
  [-39, "ENOTEMPTY", "directory not empty"],
  [-88, "ENOTSOCK", "socket operation on non-socket"],
  [-95, "ENOTSUP", "operation not supported on socket"],
  [-75, "EOVERFLOW", "value too large for defined data type"],
  [-1, "EPERM", "operation not permitted"],
  [-32, "EPIPE", "broken pipe"],
  [-71, "EPROTO", "protocol error"],
  [-93, "EPROTONOSUPPORT", "protocol not supported"],
  [-91, "EPROTOTYPE", "protocol wrong type for socket"],
  [-34, "ERANGE", "result too large"],
  [-30, "EROFS", "read-only file system"],
  [-108, "ESHUTDOWN", "cannot send after transport endpoint shutdown"],
  [-29, "ESPIPE", "invalid seek"],
  [-3, "ESRCH", "no such process"],
  [-110, "ETIMEDOUT", "connection timed out"],
  [-26, "ETXTBSY", "text file is busy"],
  [-18, "EXDEV", "cross-device link not permitted"],
  [-4094, "UNKNOWN", "unknown error"],
  [-4095, "EOF", "end of file"],
  [-6, "ENXIO", "no such device or address"],
  [-31, "EMLINK", "too many links"],
  [-112, "EHOSTDOWN", "host is down"],
  [-121, "EREMOTEIO", "remote I/O error"],
  [-25, "ENOTTY", "inappropriate ioctl for device"],
  [-4028, "EFTYPE", "inappropriate file type or format"],
  [-84, "EILSEQ", "illegal byte sequence"],
  [-94, "ESOCKTNOSUPPORT", "socket type not supported"],
  [-61, "ENODATA", "no data available"],
  [-49, "EUNATCH", "protocol driver not attached"],
  [-8, "ENOEXEC", "exec format error"],
];
const systemErrorsByNumber = new Map(systemErrors.map(([number, name, message]) => [number, [name, message]]));

function validateErrorNumber(err) {
  validateNumber(err, "err");
  if (err >= 0 || !Number.isSafeInteger(err)) throw outOfRange("err", "a negative integer", err);
}

export function getSystemErrorName(err) {
  validateErrorNumber(err);
  return systemErrorsByNumber.get(err)?.[0] ?? `Unknown system error ${err}`;
}

export function getSystemErrorMessage(err) {
  validateErrorNumber(err);
  return systemErrorsByNumber.get(err)?.[1] ?? `Unknown system error ${err}`;
}

/** A new Map of error number to [name, message] on each call. */
export function getSystemErrorMap() {
  return new Map(systemErrors.map(([number, name, message]) => [number, [name, message]]));
}

// Linux signal numbers, in the order Node lists them.
const signals = [
  ["SIGHUP", 1], ["SIGINT", 2], ["SIGQUIT", 3], ["SIGILL", 4], ["SIGTRAP", 5], ["SIGABRT", 6],
  ["SIGIOT", 6], ["SIGBUS", 7], ["SIGFPE", 8], ["SIGKILL", 9], ["SIGUSR1", 10], ["SIGSEGV", 11],
  ["SIGUSR2", 12], ["SIGPIPE", 13], ["SIGALRM", 14], ["SIGTERM", 15], ["SIGCHLD", 17],
  ["SIGSTKFLT", 16], ["SIGCONT", 18], ["SIGSTOP", 19], ["SIGTSTP", 20], ["SIGTTIN", 21],
  ["SIGTTOU", 22], ["SIGURG", 23], ["SIGXCPU", 24], ["SIGXFSZ", 25], ["SIGVTALRM", 26],
  ["SIGPROF", 27], ["SIGWINCH", 28], ["SIGIO", 29], ["SIGPOLL", 29], ["SIGPWR", 30], ["SIGSYS", 31],
];
const signalNumbers = new Map(signals);

/** The exit code of a process killed by `signalCode`: 128 + its number. */
export function convertProcessSignalToExitCode(signalCode) {
  validateOneOf(signalCode, "signalCode", [...signalNumbers.keys()]);
  return 128 + signalNumbers.get(signalCode);
}

/** Node's SIGINT tracing flag; a worker has no signals, so nothing to do. */
export function setTraceSigInt() {}

function methodNotImplemented(name) {
  return nodeError(Error, "ERR_METHOD_NOT_IMPLEMENTED", `The ${name} method is not implemented`);
}

export function _errnoException() {
  throw methodNotImplemented("_errnoException");
}

export function _exceptionWithHostPort() {
  throw methodNotImplemented("_exceptionWithHostPort");
}

// ---------------------------------------------------------------------------
// getCallSites

const stackFrame = /^\s*at (?:(?:async )?(.*?) \()?(.*?):(\d+):(\d+)\)?$/;

/**
 * The caller's stack frames as { functionName, scriptName, lineNumber,
 * columnNumber, column } (workerd's shape), read from a stack trace.
 */
export function getCallSites(frameCount = 10) {
  validateNumber(frameCount, "frameCount", 1, 200);
  const holder = {};
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = frameCount;
  Error.captureStackTrace(holder, getCallSites);
  Error.stackTraceLimit = limit;
  const sites = [];
  for (const line of holder.stack.split("\n").slice(1)) {
    const match = stackFrame.exec(line);
    if (match === null) continue;
    const [, functionName = "", scriptName, lineNumber, column] = match;
    sites.push({
      functionName,
      scriptName,
      lineNumber: Number(lineNumber),
      columnNumber: Number(column),
      column: Number(column),
    });
  }
  return sites;
}

export { getCallSites as getCallSite };

// ---------------------------------------------------------------------------
// parseEnv: the .env format of Node's --env-file

export function parseEnv(content) {
  validateString(content, "content");
  const result = {};
  const lines = content.split("\n");
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i];
    const trimmed = line.trimStart();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    if (trimmed.startsWith("export ")) line = line.slice(line.indexOf("export ") + 7);
    const equals = line.indexOf("=");
    if (equals === -1) continue;
    const key = line.slice(0, equals).trim();
    if (key === "") continue;
    let value = line.slice(equals + 1).trimStart();
    const quote = value[0];
    if (quote === '"' || quote === "'" || quote === "`") {
      const quoted = quotedEnvValue(value, quote, lines, i);
      value = quoted.text;
      i = quoted.endLine ?? i;
    } else if (value !== "") {
      const hash = value.indexOf("#");
      if (hash !== -1) value = value.slice(0, hash);
      value = value.trimEnd();
    }
    result[key] = value;
  }
  return result;
}

/**
 * A quoted .env value starting at `lines[index]`, which may go on until a
 * later line holding the closing quote: { text, endLine }. Only closed
 * double-quoted values know the \\n escape.
 */
function quotedEnvValue(value, quote, lines, index) {
  const unescape = (text) => (quote === '"' ? text.replaceAll("\\n", "\n") : text);
  const close = value.indexOf(quote, 1);
  if (close !== -1) return { text: unescape(value.slice(1, close)) };
  let joined = value.slice(1);
  for (let next = index + 1; next < lines.length; next++) {
    const end = lines[next].indexOf(quote);
    if (end !== -1) return { text: unescape(`${joined}\n${lines[next].slice(0, end)}`), endLine: next };
    joined += `\n${lines[next]}`;
  }
  return { text: value.length === 1 ? quote : value.slice(1) };
}

// ---------------------------------------------------------------------------
// MIMEType / MIMEParams (the WHATWG MIME type syntax, as workerd parses it)

// HTTP token characters (workerd also counts the backslash as one).
const isTokenCharacter = (code) => code < 128 && /[!#$%&'*+\\\-.^_`|~0-9A-Za-z]/.test(String.fromCharCode(code));
// What a quoted string may hold: tab, visible ASCII, and anything past ASCII.
const isQuotedStringCharacter = (code) => code === 9 || (code >= 0x20 && code <= 0x7e) || code >= 0x80;
const allCharacters = (text, test) => {
  for (let i = 0; i < text.length; i++) {
    if (!test(text.charCodeAt(i))) return false;
  }
  return true;
};
const isToken = (text) => text.length > 0 && allCharacters(text, isTokenCharacter);
const asciiLower = (text) => text.replace(/[A-Z]/g, (letter) => letter.toLowerCase());
const trimEndWhitespace = (text) => text.replace(/[\t\n\r ]+$/, "");

// The [name, value] pairs of a MIMEParams (a private field; see the class).
let paramEntries;

/** The parameters of a MIMEType, in order; names are lowercase. */
export class MIMEParams {
  // Removing a pair moves the last one into its place, as workerd's table does.
  #entries = [];

  static {
    paramEntries = (params) => params.#entries;
  }

  #index(name) {
    return this.#entries.findIndex((entry) => entry[0] === name);
  }

  delete(name) {
    const index = this.#index(asciiLower(`${name}`));
    if (index === -1) return;
    const last = this.#entries.pop();
    if (index < this.#entries.length) this.#entries[index] = last;
  }

  get(name) {
    const index = this.#index(`${name}`);
    return index === -1 ? null : this.#entries[index][1];
  }

  has(name) {
    return this.#index(`${name}`) !== -1;
  }

  set(name, value) {
    if (!addMimeParam(this, `${name}`, `${value}`)) throw new TypeError("Not a valid MIME parameter");
  }

  *entries() {
    for (const [name, value] of this.#entries) yield [name, value];
  }

  *keys() {
    for (const [name] of this.#entries) yield name;
  }

  *values() {
    for (const [, value] of this.#entries) yield value;
  }

  toString() {
    return this.#entries.map(([name, value]) => {
      let shown = value;
      if (value === "") shown = '""';
      else if (!isToken(value)) shown = `"${value.replace(/["\\]/g, "\\$&")}"`;
      // A space before `boundary` only, as browsers serialize form data.
      return `${name === "boundary" ? " " : ""}${name}=${shown}`;
    }).join(";");
  }

  toJSON() {
    return this.toString();
  }

  [Symbol.iterator]() {
    return this.entries();
  }

  get [Symbol.toStringTag]() {
    return "MIMEParams";
  }

  [customInspectSymbol](depth, options, insp) {
    if (depth < 0) return options.stylize("[MIMEParams]", "special");
    const map = insp(new Map(this.#entries), { ...options, depth: options.depth == null ? null : depth });
    return `MIMEParams${map.slice("Map".length)}`;
  }
}

/** Adds a parameter unless it is invalid; an existing name keeps its value. */
function addMimeParam(params, name, value) {
  if (!isToken(name) || !allCharacters(value, isQuotedStringCharacter)) return false;
  const lower = asciiLower(name);
  if (!params.has(lower)) paramEntries(params).push([lower, value]);
  return true;
}

export class MIMEType {
  #type;
  #subtype;
  #params;

  constructor(input) {
    const text = `${input}`;
    const parsed = parseMimeType(text);
    if (parsed === null) throw new TypeError(`Not a valid MIME type: ${text}`);
    ({ type: this.#type, subtype: this.#subtype, params: this.#params } = parsed);
  }

  get type() {
    return this.#type;
  }

  set type(value) {
    const type = `${value}`;
    if (!isToken(type)) throw new TypeError("Not a valid MIME type");
    this.#type = asciiLower(type);
  }

  get subtype() {
    return this.#subtype;
  }

  set subtype(value) {
    const subtype = `${value}`;
    if (!isToken(subtype)) throw new TypeError("Not a valid MIME subtype");
    this.#subtype = asciiLower(subtype);
  }

  get essence() {
    return `${this.#type}/${this.#subtype}`;
  }

  get params() {
    return this.#params;
  }

  toString() {
    const params = this.#params.toString();
    return params === "" ? this.essence : `${this.essence};${params}`;
  }

  toJSON() {
    return this.toString();
  }

  get [Symbol.toStringTag]() {
    return "MIMEType";
  }

  [customInspectSymbol](depth, options, insp) {
    if (depth < 0) return options.stylize("[MIMEType]", "special");
    const fields = { type: this.type, subtype: this.subtype, essence: this.essence, params: this.params };
    return `MIMEType ${insp(fields, { ...options, depth: options.depth == null ? null : depth })}`;
  }
}

/** { type, subtype, params } of a MIME type string, or null if invalid. */
function parseMimeType(input) {
  let rest = input.replace(/^[\t\n\r ]+/, "");
  const slash = rest.indexOf("/");
  if (slash === -1) return null;
  const type = rest.slice(0, slash);
  if (!isToken(type)) return null;
  rest = rest.slice(slash + 1);
  const semicolon = rest.indexOf(";");
  const subtype = trimEndWhitespace(semicolon === -1 ? rest : rest.slice(0, semicolon));
  if (!isToken(subtype)) return null;
  const params = new MIMEParams();
  rest = semicolon === -1 ? "" : rest.slice(semicolon + 1);

  while (rest !== "") {
    rest = rest.replace(/^[\t\n\r ]+/, "");
    const delimiter = rest.search(/[;=]/);
    if (delimiter === -1) break;
    if (rest[delimiter] === ";") {
      rest = rest.slice(delimiter + 1);
      continue;
    }
    const name = rest.slice(0, delimiter);
    rest = rest.slice(delimiter + 1);
    if (!isToken(name)) {
      const next = rest.indexOf(";");
      if (next === -1) break;
      rest = rest.slice(next + 1);
      continue;
    }
    if (rest === "") break;
    if (rest[0] === '"') {
      // A quoted string, backslash escaping the next character; anything
      // between its closing quote and the next `;` is dropped.
      let value = "";
      let i = 1;
      for (; i < rest.length && rest[i] !== '"'; i++) {
        if (rest[i] === "\\") {
          i++;
          value += i < rest.length ? rest[i] : "\\";
        } else {
          value += rest[i];
        }
      }
      rest = rest.slice(i + 1);
      addMimeParam(params, name, value);
    } else {
      const next = rest.indexOf(";");
      const value = trimEndWhitespace(next === -1 ? rest : rest.slice(0, next));
      if (value !== "") addMimeParam(params, name, value);
    }
    const next = rest.indexOf(";");
    if (next === -1) break;
    rest = rest.slice(next + 1);
  }
  return { type: asciiLower(type), subtype: asciiLower(subtype), params };
}

// ---------------------------------------------------------------------------
// parseArgs (Node's; workerd does not implement it)

function parseArgsError(code, message) {
  return nodeError(TypeError, code, message);
}

const ownValue = (object, key) => (hasOwn(object, key) ? object[key] : undefined);
const optionSetting = (options, name, key) => (hasOwn(options, name) ? ownValue(options[name], key) : undefined);

function longOptionForShort(short, options) {
  for (const [name, config] of Object.entries(options)) {
    if (ownValue(config, "short") === short) return name;
  }
  return short;
}

const isLoneShortOption = (arg) => arg.length === 2 && arg[0] === "-" && arg[1] !== "-";
const isLoneLongOption = (arg) => arg.length > 2 && arg.startsWith("--") && !arg.includes("=", 3);
const isLongOptionAndValue = (arg) => arg.length > 2 && arg.startsWith("--") && arg.includes("=", 3);
const isOptionLikeValue = (value) => value != null && value.length > 1 && value[0] === "-";

/** `-abc` where -a is not a string option: a group of short options. */
function isShortOptionGroup(arg, options) {
  if (arg.length <= 2 || arg[0] !== "-" || arg[1] === "-") return false;
  return optionSetting(options, longOptionForShort(arg[1], options), "type") !== "string";
}

/** `-fVALUE` where -f is a string option. */
function isShortOptionAndValue(arg, options) {
  if (arg.length <= 2 || arg[0] !== "-" || arg[1] === "-") return false;
  return optionSetting(options, longOptionForShort(arg[1], options), "type") === "string";
}

function argsToTokens(args, options) {
  const tokens = [];
  const remaining = [...args];
  let index = -1;
  let groupCount = 0;
  while (remaining.length > 0) {
    const arg = remaining.shift();
    const next = remaining[0];
    // Options expanded from a group share the group's index.
    if (groupCount > 0) groupCount--;
    else index++;

    if (arg === "--") {
      tokens.push({ kind: "option-terminator", index });
      for (const value of remaining) tokens.push({ kind: "positional", index: ++index, value });
      break;
    }
    if (isLoneShortOption(arg)) {
      const name = longOptionForShort(arg[1], options);
      let value;
      let inlineValue;
      if (optionSetting(options, name, "type") === "string" && next != null) {
        value = remaining.shift();
        inlineValue = false;
      }
      tokens.push({ kind: "option", name, rawName: arg, index, value, inlineValue });
      if (value != null) index++;
      continue;
    }
    if (isShortOptionGroup(arg, options)) {
      const expanded = [];
      for (let i = 1; i < arg.length; i++) {
        const short = arg[i];
        const name = longOptionForShort(short, options);
        if (optionSetting(options, name, "type") !== "string" || i === arg.length - 1) {
          expanded.push(`-${short}`);
        } else {
          // A string option inside the group takes the rest as its value.
          expanded.push(`-${arg.slice(i)}`);
          break;
        }
      }
      remaining.unshift(...expanded);
      groupCount = expanded.length;
      continue;
    }
    if (isShortOptionAndValue(arg, options)) {
      const name = longOptionForShort(arg[1], options);
      tokens.push({ kind: "option", name, rawName: `-${arg[1]}`, index, value: arg.slice(2), inlineValue: true });
      continue;
    }
    if (isLoneLongOption(arg)) {
      const name = arg.slice(2);
      let value;
      let inlineValue;
      if (optionSetting(options, name, "type") === "string" && next != null) {
        value = remaining.shift();
        inlineValue = false;
      }
      tokens.push({ kind: "option", name, rawName: arg, index, value, inlineValue });
      if (value != null) index++;
      continue;
    }
    if (isLongOptionAndValue(arg)) {
      const equals = arg.indexOf("=");
      const name = arg.slice(2, equals);
      tokens.push({ kind: "option", name, rawName: `--${name}`, index, value: arg.slice(equals + 1), inlineValue: true });
      continue;
    }
    tokens.push({ kind: "positional", index, value: arg });
  }
  return tokens;
}

function checkOptionUsage(config, token) {
  let name = token.name;
  if (!hasOwn(config.options, name)) {
    const negated = config.allowNegative && name.startsWith("no-");
    if (negated) name = name.slice(3);
    if (!negated || !hasOwn(config.options, name) || optionSetting(config.options, name, "type") !== "boolean") {
      const hint = config.allowPositionals
        ? `. To specify a positional argument starting with a '-', place it at the end of the command after '--', as in '-- ${JSON.stringify(token.rawName)}`
        : "";
      throw parseArgsError("ERR_PARSE_ARGS_UNKNOWN_OPTION", `Unknown option '${token.rawName}'${hint}`);
    }
  }
  const short = optionSetting(config.options, name, "short");
  const shortAndLong = `${short ? `-${short}, ` : ""}--${name}`;
  const type = optionSetting(config.options, name, "type");
  if (type === "string" && typeof token.value !== "string") {
    throw parseArgsError("ERR_PARSE_ARGS_INVALID_OPTION_VALUE", `Option '${shortAndLong} <value>' argument missing`);
  }
  if (type === "boolean" && token.value != null) {
    throw parseArgsError("ERR_PARSE_ARGS_INVALID_OPTION_VALUE", `Option '${shortAndLong}' does not take an argument`);
  }
}

// `--foo --bar` in strict mode: --bar was probably not meant as foo's value.
function checkOptionLikeValue(token) {
  if (!token.inlineValue && isOptionLikeValue(token.value)) {
    const example = token.rawName.startsWith("--")
      ? `'${token.rawName}=-XYZ'`
      : `'--${token.name}=-XYZ' or '${token.rawName}-XYZ'`;
    throw parseArgsError("ERR_PARSE_ARGS_INVALID_OPTION_VALUE",
      `Option '${token.rawName}' argument is ambiguous.\nDid you forget to specify the option argument for '${token.rawName}'?\nTo specify an option argument starting with a dash use ${example}.`);
  }
}

function storeOption(token, options, values, allowNegative) {
  let name = token.name;
  let value = token.value;
  if (name === "__proto__") return;
  if (allowNegative && name.startsWith("no-") && value === undefined) {
    name = name.slice(3);
    token.name = name;
    value = false;
  }
  const stored = value ?? true;
  if (optionSetting(options, name, "multiple")) {
    if (values[name]) values[name].push(stored);
    else values[name] = [stored];
  } else {
    values[name] = stored;
  }
}

function validateUnion(value, name, union) {
  if (!union.includes(value)) {
    throw nodeError(TypeError, "ERR_INVALID_ARG_TYPE",
      `The "${name}" property must be ('${union.join("|")}').${describeReceived(value)}`);
  }
}

function validateArrayOf(value, name, validate) {
  validateArray(value, name);
  value.forEach((item, i) => validate(item, `${name}[${i}]`));
}

function validateOptionConfig(name, config) {
  validateObject(config, `options.${name}`);
  const type = ownValue(config, "type");
  validateUnion(type, `options.${name}.type`, ["string", "boolean"]);
  if (hasOwn(config, "short")) {
    const short = config.short;
    validateString(short, `options.${name}.short`);
    if (short.length !== 1) throw invalidArgValue(`options.${name}.short`, short, "must be a single character");
  }
  const multiple = ownValue(config, "multiple");
  if (hasOwn(config, "multiple")) validateBoolean(multiple, `options.${name}.multiple`);
  const defaultValue = ownValue(config, "default");
  if (defaultValue !== undefined) {
    const validate = type === "string" ? validateString : validateBoolean;
    if (multiple) validateArrayOf(defaultValue, `options.${name}.default`, validate);
    else validate(defaultValue, `options.${name}.default`);
  }
}

/** Node's util.parseArgs. A worker has no command line: `args` defaults to []. */
export function parseArgs(config = {}) {
  const args = ownValue(config, "args") ?? [];
  const strict = ownValue(config, "strict") ?? true;
  const allowPositionals = ownValue(config, "allowPositionals") ?? !strict;
  const returnTokens = ownValue(config, "tokens") ?? false;
  const allowNegative = ownValue(config, "allowNegative") ?? false;
  const options = ownValue(config, "options") ?? { __proto__: null };
  validateArray(args, "args");
  validateBoolean(strict, "strict");
  validateBoolean(allowPositionals, "allowPositionals");
  validateBoolean(returnTokens, "tokens");
  validateBoolean(allowNegative, "allowNegative");
  validateObject(options, "options");
  for (const [name, optionConfig] of Object.entries(options)) validateOptionConfig(name, optionConfig);

  const tokens = argsToTokens(args, options);
  const result = { values: { __proto__: null }, positionals: [] };
  if (returnTokens) result.tokens = tokens;
  const parseConfig = { options, allowPositionals, allowNegative };
  for (const token of tokens) {
    if (token.kind === "option") {
      if (strict) {
        checkOptionUsage(parseConfig, token);
        checkOptionLikeValue(token);
      }
      storeOption(token, options, result.values, allowNegative);
    } else if (token.kind === "positional") {
      if (!allowPositionals) {
        throw parseArgsError("ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL",
          `Unexpected argument '${token.value}'. This command does not take positional arguments`);
      }
      result.positionals.push(token.value);
    }
  }
  for (const [name, optionConfig] of Object.entries(options)) {
    const defaultValue = ownValue(optionConfig, "default");
    if (defaultValue !== undefined && result.values[name] === undefined && name !== "__proto__") {
      result.values[name] = defaultValue;
    }
  }
  return result;
}

// ---------------------------------------------------------------------------
// diff

function validateDiffInput(value, name) {
  if (Array.isArray(value)) {
    value.forEach((item, i) => validateString(item, `${name}[${i}]`));
  } else {
    validateString(value, name);
  }
}

/**
 * The edits from `actual` to `expected` (strings, by character, or arrays
 * of strings) by Myers' algorithm, as [operation, value] pairs: 0 for a
 * common value, 1 for one only in actual, -1 for one only in expected.
 */
export function diff(actual, expected) {
  validateDiffInput(actual, "actual");
  validateDiffInput(expected, "expected");
  if (actual === expected) return [];
  return myersDiff(actual, expected).reverse();
}

// Finds the shortest edit script, keeping each round's furthest-reaching x
// per diagonal (k = x - y) to walk back through; returns the operations
// last first. Ties go the way Node's assert diff breaks them.
function myersDiff(actual, expected) {
  const n = actual.length;
  const m = expected.length;
  const max = n + m;
  const furthest = new Int32Array(2 * max + 2);
  const rounds = [];
  let found = false;
  for (let d = 0; d <= max && !found; d++) {
    rounds.push(furthest.slice());
    for (let k = -d; k <= d; k += 2) {
      const down = k === -d || (k !== d && furthest[max + k - 1] < furthest[max + k + 1]);
      let x = down ? furthest[max + k + 1] : furthest[max + k - 1] + 1;
      let y = x - k;
      while (x < n && y < m && actual[x] === expected[y]) {
        x++;
        y++;
      }
      furthest[max + k] = x;
      if (x >= n && y >= m) {
        found = true;
        break;
      }
    }
  }
  const result = [];
  let x = n;
  let y = m;
  for (let d = rounds.length - 1; d >= 0; d--) {
    const previous = rounds[d];
    const k = x - y;
    const down = k === -d || (k !== d && previous[max + k - 1] < previous[max + k + 1]);
    const previousK = down ? k + 1 : k - 1;
    const previousX = previous[max + previousK];
    const previousY = previousX - previousK;
    while (x > previousX && y > previousY) {
      result.push([0, actual[--x]]);
      y--;
    }
    if (d > 0) {
      if (x > previousX) result.push([1, actual[--x]]);
      else result.push([-1, expected[--y]]);
    }
  }
  return result;
}

// ---------------------------------------------------------------------------
// Legacy type checks (deprecated in Node, still exported by workerd)

export const isArray = (value) => Array.isArray(value);
export const isBoolean = (value) => typeof value === "boolean";
export const isNull = (value) => value === null;
export const isNullOrUndefined = (value) => value == null;
export const isNumber = (value) => typeof value === "number";
export const isString = (value) => typeof value === "string";
export const isSymbol = (value) => typeof value === "symbol";
export const isUndefined = (value) => value === undefined;
export const isObject = (value) => value !== null && typeof value === "object";
export const isFunction = (value) => typeof value === "function";
export const isPrimitive = (value) => value === null || (typeof value !== "object" && typeof value !== "function");
export const isDate = (value) => value instanceof Date;
export const isRegExp = (value) => value instanceof RegExp;
export const isError = (value) => isNativeError(value);

/** A Buffer from node:buffer (found by its class, to keep util free of buffer). */
export function isBuffer(value) {
  if (!isUint8Array(value)) return false;
  for (let proto = Object.getPrototypeOf(value); proto !== null; proto = Object.getPrototypeOf(proto)) {
    if (Object.getOwnPropertyDescriptor(proto, "constructor")?.value?.name === "Buffer") return true;
  }
  return false;
}

export default {
  types,
  callbackify,
  promisify,
  inspect,
  format,
  formatWithOptions,
  stripVTControlCharacters,
  inherits,
  _extend,
  MIMEParams,
  MIMEType,
  toUSVString,
  log,
  aborted,
  debuglog,
  debug: debuglog,
  deprecate,
  getSystemErrorMap,
  getSystemErrorMessage,
  getSystemErrorName,
  TextEncoder,
  TextDecoder,
  parseArgs,
  parseEnv,
  styleText,
  transferableAbortController,
  transferableAbortSignal,
  getCallSite: getCallSites,
  getCallSites,
  isDeepStrictEqual,
  _errnoException,
  _exceptionWithHostPort,
  diff,
  setTraceSigInt,
  convertProcessSignalToExitCode,
  isArray,
  isBoolean,
  isBuffer,
  isDate,
  isError,
  isFunction,
  isNull,
  isNullOrUndefined,
  isNumber,
  isObject,
  isPrimitive,
  isRegExp,
  isString,
  isSymbol,
  isUndefined,
};
